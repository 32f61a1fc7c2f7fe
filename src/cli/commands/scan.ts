// postino scan FILE [--json]: a message through the configured scanners
// (ClamAV now; the spam engines join here), printing each verdict: an admin's
// "why was this refused or marked?". Exit 0 when nothing was found, 2 when a
// scanner found something (a virus), 75 when a scanner could not answer.
import { readFileSync } from 'node:fs';
import type { CliCommand } from '../command.js';
import { loadConfig } from '../../config.js';
import { Antivirus } from '../../scan/antivirus.js';
import { SpamCheck } from '../../scan/spam.js';
import { parseMessage } from '../../../mime/index.js';
import type { ScanResult } from '../../scan/scanner.js';
import { MailError } from '../../../storage/errors.js';

const EX_FOUND = 2;
const EX_TEMPFAIL = 75;

function describe(r: ScanResult): string {
  const v = r.verdict;
  const what =
    v.kind === 'infected'
      ? `infected (${v.signature})`
      : v.kind === 'unscanned'
        ? `unscanned (${v.reason})`
        : v.kind === 'score'
          ? `score ${v.score} / ${v.required}${v.tests.length ? ` tests=${v.tests.map((t) => `${t.name}=${t.score}`).join(',')}` : ''}`
          : v.kind;
  return `${r.scanner}: ${what} [${r.engine}, ${r.ms} ms]`;
}

export const scanCommands: CliCommand[] = [
  {
    words: ['scan'],
    usage: 'FILE [--json]',
    summary: 'Runs a message file through the configured scanners and prints the verdicts, the score and the rules hit.',
    minArgs: 1,
    maxArgs: 1,
    async run([file], _options, ctx) {
      const config = loadConfig(ctx.configPath);
      let raw: Buffer;
      try {
        raw = readFileSync(file!);
      } catch (err) {
        throw new MailError('BADINPUT', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const results: ScanResult[] = [];
      if (config.antivirus) results.push(await new Antivirus(config.antivirus).scan(raw));
      if (config.spam) {
        // The Authentication-Results this server wrote when it received the message count as the MX's sender checks.
        const message = parseMessage(raw);
        const own = message.header.values('authentication-results').filter((v) => v.trim().toLowerCase().startsWith(config.hostname.toLowerCase()));
        results.push(await new SpamCheck(config.spam, config.hostname).scan({ raw, message, authResults: own }));
      }
      if (ctx.json) ctx.out(JSON.stringify({ results }));
      else ctx.out(results.length ? results.map(describe).join('\n') : 'no scanner configured (see antivirus and spam in the config)');
      if (results.some((r) => r.verdict.kind === 'infected')) return EX_FOUND;
      if (results.some((r) => r.verdict.kind === 'unscanned')) return EX_TEMPFAIL;
      return 0;
    },
  },
];
