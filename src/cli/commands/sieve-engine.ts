// `postino sieve check FILE` and `postino sieve test SCRIPT MESSAGE`: the
// Sieve engine on its own, without a mailbox store.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { stringOption } from '../command.js';
import { MailError } from '../../../storage/errors.js';
import { compile, evaluate, formatSieveError, sieveMessage, type SieveAction, type SieveHost } from '../../../sieve/index.js';
import { addrSpecs, parseMessage, type ParsedMessage } from '../../../mime/index.js';

function readText(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new MailError('NONEXISTENT', `cannot read ${what} '${file}': ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
}

/** What a vacation reply uses when the script does not say (RFC 5230 4.2, 4.5). */
export interface VacationDefaults {
  subject: string;
  from: string;
}

/** The JSON form INTERFACE.md fixes for `sieve test --json`. */
export function actionToJson(a: SieveAction, vacationDefaults: VacationDefaults = { subject: 'Auto: ', from: '' }): Record<string, unknown> {
  switch (a.type) {
    case 'keep': {
      const o: Record<string, unknown> = { type: 'keep' };
      if (a.implicit) o['implicit'] = true;
      if (a.flags && a.flags.length) o['flags'] = a.flags;
      return o;
    }
    case 'fileinto': {
      const o: Record<string, unknown> = { type: 'fileinto', mailbox: a.mailbox };
      if (a.flags && a.flags.length) o['flags'] = a.flags;
      o['copy'] = a.copy;
      o['create'] = a.create;
      return o;
    }
    case 'redirect':
      return { type: 'redirect', address: a.address, copy: a.copy };
    case 'reject':
    case 'ereject':
      return { type: a.type, reason: a.reason };
    case 'discard':
      return { type: 'discard' };
    case 'vacation':
      return {
        type: 'vacation',
        seconds: a.seconds,
        subject: a.subject ?? vacationDefaults.subject,
        from: a.from ?? vacationDefaults.from,
        reason: a.reason,
      };
    case 'notify': {
      const o: Record<string, unknown> = { type: 'notify', method: a.method };
      if (a.from !== undefined) o['from'] = a.from;
      if (a.importance !== undefined) o['importance'] = a.importance;
      if (a.options !== undefined) o['options'] = a.options;
      if (a.message !== undefined) o['message'] = a.message;
      return o;
    }
    case 'addheader':
      return { type: 'addheader', name: a.name, value: a.value, last: a.last };
    case 'deleteheader':
      return { type: 'deleteheader', name: a.name, occurrence: a.occurrence };
  }
}

function describe(a: SieveAction): string {
  const flags = 'flags' in a && a.flags && a.flags.length ? ` (flags: ${a.flags.join(' ')})` : '';
  switch (a.type) {
    case 'keep':
      return `${a.implicit ? 'implicit keep' : 'keep'}: store in INBOX${flags}`;
    case 'fileinto':
      return `fileinto: store in ${a.mailbox}${flags}${a.copy ? ' [copy]' : ''}${a.create ? ' [create]' : ''}`;
    case 'redirect':
      return `redirect to <${a.address}>${a.copy ? ' [copy]' : ''}`;
    case 'reject':
    case 'ereject':
      return `${a.type} with reason: ${JSON.stringify(a.reason)}`;
    case 'discard':
      return 'discard';
    case 'vacation':
      return `vacation (every ${a.seconds}s)${a.subject !== undefined ? ` subject ${JSON.stringify(a.subject)}` : ''}: ${JSON.stringify(a.reason)}`;
    case 'notify':
      return `notify ${a.method}`;
    case 'addheader':
      return `addheader ${a.name}: ${a.value}${a.last ? ' [last]' : ''}`;
    case 'deleteheader':
      return `deleteheader ${a.name} #${a.occurrence}`;
  }
}

/** The first address in the first field of that name; '' for the null path "<>". */
function firstAddress(parsed: ParsedMessage, name: string): string | undefined {
  const value = parsed.header.first(name);
  if (value === undefined) return undefined;
  if (value.replace(/\s+/g, '') === '<>') return '';
  return addrSpecs(value)[0];
}

const check: CliCommand = {
  words: ['sieve', 'check'],
  usage: 'FILE',
  summary: 'Validates a Sieve script; prints line:col: message for each error and exits 1 on error.',
  minArgs: 1,
  maxArgs: 1,
  async run([file], _options, ctx) {
    const text = readText(file!, 'script').toString('utf8');
    const r = compile(text);
    if (!r.ok) {
      for (const e of r.errors) ctx.err(formatSieveError(e));
      return 1;
    }
    return 0;
  },
};

const test: CliCommand = {
  words: ['sieve', 'test'],
  usage: 'SCRIPT MESSAGE [--from ADDR] [--to ADDR] [--personal DIR] [--global DIR] [--json]',
  summary: 'Runs a Sieve script against a message file without delivering, and prints the actions in order.',
  options: {
    from: { type: 'string', placeholder: 'ADDR', description: 'the envelope sender (default: from the Return-Path, else From)' },
    to: { type: 'string', placeholder: 'ADDR', description: 'the envelope recipient (default: from Delivered-To, else To)' },
    personal: { type: 'string', placeholder: 'DIR', description: 'where include :personal finds scripts (default: the directory of SCRIPT)' },
    global: { type: 'string', placeholder: 'DIR', description: 'where include :global finds scripts' },
  },
  minArgs: 2,
  maxArgs: 2,
  async run([scriptFile, messageFile], options, ctx) {
    const text = readText(scriptFile!, 'script').toString('utf8');
    const r = compile(text);
    if (!r.ok) {
      for (const e of r.errors) ctx.err(formatSieveError(e));
      return 1;
    }
    const raw = readText(messageFile!, 'message');
    const parsed = parseMessage(raw);
    const message = sieveMessage(parsed);
    const from = stringOption(options, 'from') ?? firstAddress(parsed, 'return-path') ?? firstAddress(parsed, 'from') ?? '';
    const to = stringOption(options, 'to') ?? firstAddress(parsed, 'delivered-to') ?? firstAddress(parsed, 'to') ?? 'recipient@localhost';
    // include: personal scripts beside the script (or --personal DIR), global ones in --global DIR.
    const dirs = { personal: stringOption(options, 'personal') ?? path.dirname(scriptFile!), global: stringOption(options, 'global') };
    const host: SieveHost = {
      now: () => new Date(),
      // A test run happens after delivery, as with Pigeonhole's sieve-test: phase "post", location "MS".
      environment: { domain: to.split('@')[1] ?? 'localhost', host: 'localhost', location: 'MS', phase: 'post' },
      // No store here; every account has INBOX (sieve-test with an empty mailbox says the same).
      mailboxExists: (name) => name.toUpperCase() === 'INBOX',
      includeScript(name, location) {
        const dir = dirs[location];
        if (dir === undefined || !/^[^/\\]+$/.test(name)) return undefined;
        try {
          return readFileSync(path.join(dir, `${name}.sieve`), 'utf8');
        } catch {
          return undefined;
        }
      },
    };
    const result = evaluate(r.program, message, { from, to }, host);
    for (const e of result.errors ?? []) ctx.err(`runtime error: ${formatSieveError(e)} (falling back to implicit keep)`);
    const defaults: VacationDefaults = { subject: `Auto: ${parsed.header.decoded('subject')[0] ?? ''}`, from: to };
    if (ctx.json) ctx.out(JSON.stringify({ actions: result.actions.map((a) => actionToJson(a, defaults)) }));
    else {
      const lines = result.actions.map((a, i) => `${i + 1}. ${describe(a)}`);
      ctx.out(['Actions:', ...(lines.length ? lines : ['(none)'])].join('\n'));
    }
    return 0;
  },
};

export const sieveEngineCommands: CliCommand[] = [check, test];
