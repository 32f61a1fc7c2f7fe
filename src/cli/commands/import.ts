// postino import dovecot: moves a Dovecot user (SRC --to ADDR) or every user
// of a Dovecot passwd-file (--all FILE) into Postino, keeping UIDVALIDITY,
// UIDs, flags, keywords, subscriptions, Sieve scripts and password hashes
// (see src/cli/dovecot/). Everything is read and checked before anything is
// written; a second run brings only what changed.
import path from 'node:path';
import type { CliCommand, CliContext, OptionValues } from '../command.js';
import { stringOption } from '../command.js';
import { withStorage } from '../storage-context.js';
import { MailError } from '../../../storage/errors.js';
import type { AccountRecord, Storage } from '../../../storage/ports.js';
import { parseAddress, formatAddress } from '../../addresses.js';
import { loadConfig } from '../../config.js';
import { SieveScriptService } from '../../services/sieve-scripts.js';
import { importableHash } from '../../auth/legacy-password.js';
import { readControlFile, readDovecotMaildir, type DovecotMaildir, type MaildirLayout } from '../dovecot/maildir-source.js';
import { readSieveScripts, type SourceScripts } from '../dovecot/sieve-source.js';
import { parsePasswdFile } from '../dovecot/passwd-file.js';
import { importDovecotMaildir } from '../dovecot/import-maildir.js';
import { DEFAULT_POP3_UIDL_FORMAT, parsePop3UidlFormat, type Pop3UidlFormat } from '../dovecot/pop3-uidl-format.js';

/** Stored for a hash Postino cannot check: no password verifies against it until one is set. */
const NO_PASSWORD = '!imported-without-password';

interface UserSource {
  address: string;
  maildir: DovecotMaildir;
  scripts: SourceScripts;
  /** From a passwd-file: the hash to create the account with. */
  passwordHash?: string;
}

function layoutOption(options: OptionValues): MaildirLayout | 'auto' {
  const v = stringOption(options, 'layout') ?? 'auto';
  if (v !== 'auto' && v !== 'maildir++' && v !== 'fs') throw new MailError('BADINPUT', '--layout must be maildir++, fs or auto');
  return v;
}

/** --pop3-uidl-format: Dovecot's pop3_uidl_format, for messages it kept no POP3 UIDL of. */
function uidlFormatOption(options: OptionValues): Pop3UidlFormat {
  return parsePop3UidlFormat(stringOption(options, 'pop3-uidl-format') ?? DEFAULT_POP3_UIDL_FORMAT);
}

function normalizedAddress(input: string): string {
  const a = parseAddress(input);
  return formatAddress({ local: a.local.toLowerCase(), domain: a.domain.toLowerCase() });
}

/** The Sieve directory: --sieve DIR, else SRC/../sieve or SRC/sieve; the active script's link beside it or in the home. */
function readScripts(src: string, sieveDir: string | undefined): SourceScripts {
  const home = path.dirname(path.resolve(src));
  const dirs = sieveDir ? [path.resolve(sieveDir)] : [path.join(home, 'sieve'), path.join(path.resolve(src), 'sieve')];
  const links = [...(sieveDir ? [path.join(path.dirname(path.resolve(sieveDir)), '.dovecot.sieve')] : []), path.join(home, '.dovecot.sieve')];
  return readSieveScripts(dirs, links);
}

async function importUser(ctx: CliContext, storage: Storage, account: AccountRecord, user: UserSource): Promise<void> {
  const outcome = await importDovecotMaildir(storage, account, user.maildir);
  const { maxScripts, maxScriptSize } = loadConfig(ctx.configPath).sieve;
  const service = new SieveScriptService(storage, { maxScripts, maxScriptSize });
  const warnings = [...outcome.warnings, ...user.scripts.warnings];
  let scripts = 0;
  for (const s of user.scripts.scripts) {
    try {
      await service.put(account, s.name, s.text, s.name === user.scripts.active);
      scripts++;
    } catch (err) {
      warnings.push(`sieve script ${s.name}: not imported: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (ctx.json) {
    ctx.out(JSON.stringify({ address: account.address, layout: user.maildir.layout, ...outcome, scripts, activeScript: user.scripts.active ?? null }));
    return;
  }
  for (const f of outcome.folders) {
    if (!f.created && !f.replaced && f.added + f.flagsChanged + f.expunged === 0) continue;
    const what = [f.created ? 'created' : '', f.replaced ? 'replaced (new UIDVALIDITY)' : '', `${f.added} new`, f.flagsChanged ? `${f.flagsChanged} flag changes` : '', f.expunged ? `${f.expunged} expunged` : '']
      .filter((x) => x !== '')
      .join(', ');
    ctx.out(`${account.address} ${f.name}: ${what}`);
  }
  ctx.out(`${account.address}: ${outcome.subscribed} subscribed, ${outcome.unsubscribed} unsubscribed, ${scripts} sieve script(s)${user.scripts.active ? ` (active: ${user.scripts.active})` : ''}`);
  for (const w of warnings) ctx.err(`warning: ${account.address}: ${w}`);
}

/** Every user of a passwd-file, each Maildir read and checked before anything is written. */
function readPasswdUsers(file: string, options: OptionValues, ctx: CliContext): UserSource[] {
  const text = readControlFile(file);
  if (text === undefined) throw new MailError('BADINPUT', `${file}: no such file`);
  const domain = stringOption(options, 'domain');
  const users: UserSource[] = [];
  for (const u of parsePasswdFile(text, file)) {
    const address = normalizedAddress(u.user.includes('@') ? u.user : `${u.user}@${domain ?? ''}`);
    if (!u.user.includes('@') && !domain) throw new MailError('BADINPUT', `${file}:${u.line}: user ${u.user} has no domain (give --domain D)`);
    if (!u.maildir) throw new MailError('BADINPUT', `${file}:${u.line}: no home and no mail=maildir:PATH for ${u.user}`);
    const maildir = readDovecotMaildir(u.maildir, u.layout ?? layoutOption(options), uidlFormatOption(options));
    const hash = importableHash(u.password);
    let passwordHash = u.password;
    if (!hash.ok) {
      const why = hash.reason ? ` (${hash.reason})` : '';
      ctx.err(`warning: ${address}: password scheme ${hash.scheme}${why} cannot be checked by Postino; the account is imported without a password (set one with user passwd)`);
      passwordHash = NO_PASSWORD;
    }
    users.push({ address, maildir, scripts: readScripts(u.maildir, undefined), passwordHash });
  }
  return users;
}

export const importCommands: CliCommand[] = [
  {
    words: ['import', 'dovecot'],
    usage: 'SRC --to ADDR [--sieve DIR] [--layout maildir++|fs] [--pop3-uidl-format FMT] | --all PASSWD-FILE [--domain D] [--pop3-uidl-format FMT]',
    summary:
      "Imports Dovecot Maildirs keeping UIDVALIDITY, UIDs, flags, keywords, subscriptions, POP3 UIDLs and Sieve scripts; run again, it brings only what changed.",
    options: {
      to: { type: 'string', placeholder: 'ADDR', description: 'the account (made first with user add) that receives the Maildir SRC' },
      all: { type: 'string', placeholder: 'PASSWD-FILE', description: "every user of a Dovecot passwd-file, accounts made with their password hashes" },
      sieve: { type: 'string', placeholder: 'DIR', description: "where the user's Sieve scripts are (default: sieve/ beside or inside SRC)" },
      layout: { type: 'string', placeholder: 'maildir++|fs', description: 'the Maildir layout (default: detected)' },
      domain: { type: 'string', placeholder: 'D', description: 'with --all: the domain of users listed without @domain' },
      'pop3-uidl-format': {
        type: 'string',
        placeholder: 'FMT',
        description: `Dovecot's pop3_uidl_format (default ${DEFAULT_POP3_UIDL_FORMAT}), for messages without a UIDL Dovecot saved (pop3_save_uidl); %u %v %g %f with L, U, X, widths and offsets; %m is refused`,
      },
    },
    minArgs: 0,
    maxArgs: 1,
    async run([src], options, ctx) {
      const all = stringOption(options, 'all');
      const to = stringOption(options, 'to');
      if ((all === undefined) === (src === undefined) || (src !== undefined && to === undefined) || (all !== undefined && to !== undefined)) {
        throw new MailError('BADINPUT', 'usage: import dovecot SRC --to ADDR, or import dovecot --all PASSWD-FILE');
      }
      // Read and check everything first: a bad file stops the import before it writes anything.
      const users: UserSource[] =
        all !== undefined
          ? readPasswdUsers(all, options, ctx)
          : [{ address: normalizedAddress(to!), maildir: readDovecotMaildir(src!, layoutOption(options), uidlFormatOption(options)), scripts: readScripts(src!, stringOption(options, 'sieve')) }];
      await withStorage(ctx, async (storage) => {
        // Every account there or makeable before the first one is touched.
        for (const user of users) {
          if (await storage.directory.getAccount(user.address)) continue;
          if (user.passwordHash === undefined) throw new MailError('NONEXISTENT', `no such account: ${user.address} (make it first with user add)`);
          if (!(await storage.directory.hasDomain(parseAddress(user.address).domain))) {
            throw new MailError('NONEXISTENT', `no such domain: ${parseAddress(user.address).domain} (add it first with domain add)`);
          }
        }
        for (const user of users) {
          let account = await storage.directory.getAccount(user.address);
          if (!account) {
            account = await storage.transaction(async (tx) => {
              const made = await tx.directory.addAccount({ address: user.address, passwordHash: user.passwordHash!, scramSha256: null, quota: null });
              await tx.mail.provisionAccount(made.id);
              return made;
            });
            if (!ctx.json) ctx.out(`${user.address}: account created`);
          }
          await importUser(ctx, storage, account, user);
        }
      });
    },
  },
];
