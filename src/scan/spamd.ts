// SpamAssassin's spamd over the spamc protocol (SPAMC/1.5): one connection
// per message, `REPORT` with a Content-length, the reply's `Spam: True ;
// SCORE / REQUIRED` line and the report's table of rule hits (points, name,
// description), so every rule comes with its score. Bounded: the
// reply is read up to MAX_REPLY bytes, the whole exchange by the budget's
// deadline; anything else (refused, reset, timeout, a reply we cannot read)
// is an `unscanned` verdict with the reason, never a throw.
import net from 'node:net';
import type { ScanBudget, ScanInput, ScanResult, Scanner, ScanVerdict, SpamTest } from './scanner.js';

/** A REPORT reply is a status line, two headers and a report of a few KB. */
const MAX_REPLY = 64 * 1024;
const MAX_TESTS = 200;
/** Longer lines of the report are cut before any pattern sees them. */
const MAX_LINE = 300;
/** The separator line above the table: `---- ------...`. */
const TABLE_RULE = /^-{3,5} -{5,}/;
/**
 * A row of the table: points (right-aligned in 4 columns, so at most a few
 * leading spaces), the rule name, then the description. Description lines
 * that wrap start with many spaces and so never match.
 */
const TABLE_ROW = /^ {0,4}(-?\d{1,7}(?:\.\d{1,6})?) +([A-Za-z0-9_.-]{1,64})(?: |$)/;

/** The rule hits of a spamd REPORT body, in its order: linear in the body, at most MAX_TESTS. */
export function parseSpamdReport(body: string): SpamTest[] {
  const tests: SpamTest[] = [];
  let inTable = false;
  for (const full of body.split('\n')) {
    const line = full.slice(0, MAX_LINE).replace(/\r$/, '');
    if (!inTable) {
      inTable = TABLE_RULE.test(line);
      continue;
    }
    const m = TABLE_ROW.exec(line);
    if (m) {
      tests.push({ name: m[2]!, score: Number(m[1]) });
      if (tests.length >= MAX_TESTS) break;
    } else if (line.trim() === '') break;
  }
  return tests;
}

export interface SpamdAddress {
  host: string;
  port: number;
}

/** The parsed spamd reply: status, score line and rule names; or what was wrong with it. */
export function parseSpamdReply(reply: Buffer): ScanVerdict {
  const text = reply.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const head = headEnd < 0 ? text : text.slice(0, headEnd);
  const lines = head.split('\r\n');
  const status = /^SPAMD\/\d+\.\d+ (\d+) (\S+)/.exec(lines[0] ?? '');
  if (!status) return { kind: 'unscanned', reason: 'spamd: unreadable reply' };
  if (status[1] !== '0') return { kind: 'unscanned', reason: `spamd: ${status[2]!.slice(0, 40)}` };
  let score: number | undefined;
  let required: number | undefined;
  for (const line of lines.slice(1)) {
    // Spam: True ; 1000.0 / 5.0
    const m = /^Spam:\s*(True|False|Yes|No)\s*;\s*(-?\d{1,7}(?:\.\d{1,6})?)\s*\/\s*(-?\d{1,7}(?:\.\d{1,6})?)\s*$/i.exec(line.slice(0, 200));
    if (m) {
      score = Number(m[2]);
      required = Number(m[3]);
    }
  }
  if (score === undefined || required === undefined) return { kind: 'unscanned', reason: 'spamd: no Spam line in the reply' };
  const body = headEnd < 0 ? '' : text.slice(headEnd + 4);
  const tests = parseSpamdReport(body);
  return { kind: 'score', score, required, tests };
}

export class SpamdScanner implements Scanner {
  readonly name = 'spamd';
  readonly kind = 'spam' as const;

  constructor(readonly address: SpamdAddress) {}

  scan(input: ScanInput, budget: ScanBudget): Promise<ScanResult> {
    const started = Date.now();
    const done = (verdict: ScanVerdict): ScanResult => ({ scanner: this.name, engine: 'SpamAssassin', verdict, ms: Date.now() - started });
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let finished = false;
      const finish = (verdict: ScanVerdict) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(done(verdict));
      };
      const timer = setTimeout(() => finish({ kind: 'unscanned', reason: 'spamd timeout' }), Math.max(0, budget.deadline - Date.now()));
      const socket = net.connect({ host: this.address.host, port: this.address.port });
      socket.on('connect', () => {
        socket.write(`REPORT SPAMC/1.5\r\nContent-length: ${input.raw.length}\r\nUser: postino\r\n\r\n`);
        socket.end(input.raw);
      });
      socket.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REPLY) return finish({ kind: 'unscanned', reason: 'spamd reply too long' });
        chunks.push(chunk);
      });
      socket.on('end', () => finish(parseSpamdReply(Buffer.concat(chunks))));
      socket.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'unscanned', reason: `spamd ${err.code ?? 'error'}` }));
    });
  }
}
