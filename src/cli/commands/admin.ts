// postino domain|user|alias ...: thin wrappers over AdminService.
import type { CliCommand, CliContext, OptionValues } from '../command.js';
import { stringOption } from '../command.js';
import { withStorage } from '../storage-context.js';
import { MailError } from '../../../storage/errors.js';
import type { RemovedAccount } from '../../services/admin.js';

/** Reads a password from stdin: the whole input minus one trailing newline. */
async function passwordFromStdin(ctx: CliContext): Promise<string> {
  const text = (await ctx.readStdin()).toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new MailError('BADINPUT', 'no password on stdin');
  return text;
}

export function parseByteSize(text: string): number {
  const m = /^(\d+)([KMG]?)B?$/i.exec(text.trim());
  if (!m) throw new MailError('BADINPUT', `invalid size '${text}' (bytes, or a number with K, M or G)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n)) throw new MailError('BADINPUT', `size '${text}' is too large`);
  return n;
}

/** Says where a removed account's mail went: administrators must know what to keep or delete. */
function removedLine(r: RemovedAccount): string {
  if (r.purged) return `removed ${r.address}; its mail and Sieve scripts are deleted`;
  if (r.keptIn === undefined) return `removed ${r.address}; it had no mail on disk`;
  return `removed ${r.address}; its mail and Sieve scripts are kept in ${r.keptIn} (delete that directory to free the space)`;
}

function movedLine(address: string, movedTo: string | undefined): string | undefined {
  return movedTo && `files an earlier ${address} left behind were moved to ${movedTo}; ${address} starts empty`;
}

const purgeOption = {
  purge: { type: 'boolean', description: 'delete its mail and Sieve scripts now (default: keep them under DIR/removed/)' },
} as const;

function printList<T>(ctx: CliContext, rows: T[], line: (row: T) => string): void {
  if (ctx.json) ctx.out(JSON.stringify(rows));
  else if (rows.length > 0) ctx.out(rows.map(line).join('\n'));
}

const passwordOptions = {
  'password-stdin': { type: 'boolean', description: 'read the password from the first line of stdin' },
  'allow-weak': { type: 'boolean', description: 'accept a password the strength check refuses' },
} as const;

function requirePasswordStdin(options: OptionValues): void {
  if (options['password-stdin'] !== true) throw new MailError('BADINPUT', '--password-stdin is required (the password is read from stdin)');
}

export const adminCommands: CliCommand[] = [
  {
    words: ['domain', 'add'],
    usage: 'DOMAIN --postmaster ADDR [--password-stdin] [--allow-weak]',
    summary:
      'Adds a local domain, with postmaster@DOMAIN and abuse@DOMAIN as aliases to ADDR (RFC 2142): an existing account, ' +
      'a remote address, or with --password-stdin a new account in DOMAIN made now.',
    options: {
      postmaster: { type: 'string', placeholder: 'ADDR', description: 'where postmaster@ and abuse@ mail goes (required)' },
      ...passwordOptions,
    },
    minArgs: 1,
    maxArgs: 1,
    async run([domain], options, ctx) {
      const postmaster = stringOption(options, 'postmaster');
      if (!postmaster) throw new MailError('BADINPUT', '--postmaster ADDR is required (RFC 2142: postmaster@ must reach someone)');
      const password = options['password-stdin'] === true ? await passwordFromStdin(ctx) : undefined;
      const added = await withStorage(ctx, (_, admin) =>
        admin.addDomain(domain!, postmaster, password === undefined ? undefined : { password, allowWeak: options['allow-weak'] === true }),
      );
      const moved = movedLine(postmaster.toLowerCase(), added.oldFilesMovedTo);
      if (moved) ctx.out(moved);
    },
  },
  {
    words: ['domain', 'list'],
    usage: '[--json]',
    summary: 'Lists the local domains.',
    minArgs: 0,
    maxArgs: 0,
    run: (_, __, ctx) => withStorage(ctx, async (_s, admin) => printList(ctx, await admin.listDomains(), (d) => d.domain)),
  },
  {
    words: ['domain', 'remove'],
    usage: 'DOMAIN [--purge]',
    summary: 'Removes a domain with its accounts and aliases; their mail is kept aside unless --purge.',
    options: purgeOption,
    minArgs: 1,
    maxArgs: 1,
    async run([domain], options, ctx) {
      const removed = await withStorage(ctx, (_s, admin) => admin.removeDomain(domain!, { purge: options.purge === true }));
      for (const r of removed) ctx.out(removedLine(r));
      ctx.out(`removed domain ${domain!.toLowerCase()}`);
    },
  },
  {
    words: ['user', 'add'],
    usage: 'ADDR --password-stdin [--quota BYTES] [--allow-weak]',
    summary: 'Adds an account in a local domain; the password is read from stdin.',
    options: { quota: { type: 'string', placeholder: 'BYTES', description: 'the mailbox quota in bytes (default: none)' }, ...passwordOptions },
    minArgs: 1,
    maxArgs: 1,
    async run([address], options, ctx) {
      requirePasswordStdin(options);
      const quotaText = stringOption(options, 'quota');
      const quota = quotaText === undefined ? null : parseByteSize(quotaText);
      const password = await passwordFromStdin(ctx);
      const added = await withStorage(ctx, (_s, admin) => admin.addUser({ address: address!, password, quota, allowWeak: options['allow-weak'] === true }));
      const moved = movedLine(added.account.address, added.oldFilesMovedTo);
      if (moved) ctx.out(moved);
    },
  },
  {
    words: ['user', 'list'],
    usage: '[--json]',
    summary: 'Lists the accounts with their quota and whether they are disabled.',
    minArgs: 0,
    maxArgs: 0,
    run: (_, __, ctx) =>
      withStorage(ctx, async (_s, admin) =>
        printList(ctx, await admin.listUsers(), (u) => `${u.address}${u.quota === null ? '' : ` quota=${u.quota}`}${u.disabled ? ' disabled' : ''}`),
      ),
  },
  {
    words: ['user', 'passwd'],
    usage: 'ADDR --password-stdin [--allow-weak]',
    summary: 'Sets a new password for an account (read from stdin).',
    options: passwordOptions,
    minArgs: 1,
    maxArgs: 1,
    async run([address], options, ctx) {
      requirePasswordStdin(options);
      const password = await passwordFromStdin(ctx);
      await withStorage(ctx, (_s, admin) => admin.setPassword(address!, password, options['allow-weak'] === true));
    },
  },
  {
    words: ['user', 'quota'],
    usage: 'ADDR BYTES|none',
    summary: 'Sets the quota of an account in bytes, or removes it with none.',
    minArgs: 2,
    maxArgs: 2,
    run: ([address, size], _, ctx) =>
      withStorage(ctx, (_s, admin) => admin.setQuota(address!, size === 'none' ? null : parseByteSize(size!))),
  },
  {
    words: ['user', 'disable'],
    usage: 'ADDR',
    summary: 'Disables an account: it cannot log in anywhere (mail to it is still accepted).',
    minArgs: 1,
    maxArgs: 1,
    run: ([address], _, ctx) => withStorage(ctx, (_s, admin) => admin.setDisabled(address!, true)),
  },
  {
    words: ['user', 'enable'],
    usage: 'ADDR',
    summary: 'Enables a disabled account again.',
    minArgs: 1,
    maxArgs: 1,
    run: ([address], _, ctx) => withStorage(ctx, (_s, admin) => admin.setDisabled(address!, false)),
  },
  {
    words: ['user', 'remove'],
    usage: 'ADDR [--purge]',
    summary: 'Removes an account; its mail and Sieve scripts are kept under DIR/removed/ unless --purge.',
    options: purgeOption,
    minArgs: 1,
    maxArgs: 1,
    async run([address], options, ctx) {
      const { removed, aliases } = await withStorage(ctx, async (_s, admin) => {
        const aliases = await admin.aliasesTargeting(address!);
        return { removed: await admin.removeUser(address!, { purge: options.purge === true }), aliases };
      });
      ctx.out(removedLine(removed));
      // Removed all the same; the administrator decides what the aliases should say now.
      for (const { alias, otherTargets } of aliases) {
        const effect = otherTargets > 0 ? 'its other targets still get its mail; senders get a DSN for this one' : 'it has no other target: its mail is refused';
        ctx.err(`warning: alias ${alias} points to ${address!} (${effect}); change it with postino alias remove ${alias} ${address!}`);
      }
    },
  },
  {
    words: ['alias', 'add'],
    usage: 'ADDR TARGET...',
    summary: 'Adds an alias (or targets to one): mail to ADDR goes to each TARGET, local or remote.',
    minArgs: 2,
    maxArgs: 1000,
    run: ([address, ...targets], _, ctx) => withStorage(ctx, (_s, admin) => admin.addAlias(address!, targets)),
  },
  {
    words: ['alias', 'list'],
    usage: '[--json]',
    summary: 'Lists the aliases and their targets.',
    minArgs: 0,
    maxArgs: 0,
    run: (_, __, ctx) => withStorage(ctx, async (_s, admin) => printList(ctx, await admin.listAliases(), (a) => `${a.address} -> ${a.targets.join(', ')}`)),
  },
  {
    words: ['alias', 'remove'],
    usage: 'ADDR [TARGET...]',
    summary: 'Removes an alias, or only the TARGETs named.',
    minArgs: 1,
    maxArgs: 1000,
    run: ([address, ...targets], _, ctx) => withStorage(ctx, (_s, admin) => admin.removeAlias(address!, targets)),
  },
];
