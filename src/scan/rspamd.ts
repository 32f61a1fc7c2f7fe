// rspamd's HTTP API: POST /checkv2 with the message as the body and the
// envelope in request headers; the JSON reply's score, required_score,
// action and symbols become a `score` verdict (rspamd's action included,
// so the caller can honour reject / greylist / soft reject). Bounded: the
// reply is read up to MAX_REPLY bytes, the exchange by the budget's deadline;
// any failure is an `unscanned` verdict, never a throw.
import http from 'node:http';
import type { ScanBudget, ScanInput, ScanResult, Scanner, ScanVerdict, SpamAction, SpamTest } from './scanner.js';

const MAX_REPLY = 1024 * 1024;
const MAX_TESTS = 200;
const ACTIONS: readonly SpamAction[] = ['no action', 'add header', 'rewrite subject', 'greylist', 'soft reject', 'reject'];

export interface RspamdAddress {
  host: string;
  port: number;
}

/** The /checkv2 JSON as a verdict; anything not shaped like one is `unscanned`. */
export function parseRspamdReply(body: string): ScanVerdict {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: 'unscanned', reason: 'rspamd: unreadable reply' };
  }
  if (typeof json !== 'object' || json === null) return { kind: 'unscanned', reason: 'rspamd: unreadable reply' };
  const r = json as Record<string, unknown>;
  if (typeof r['error'] === 'string') return { kind: 'unscanned', reason: `rspamd: ${String(r['error']).slice(0, 60)}` };
  const score = r['score'];
  const required = r['required_score'];
  if (typeof score !== 'number' || !Number.isFinite(score)) return { kind: 'unscanned', reason: 'rspamd: no score in the reply' };
  const action = ACTIONS.find((a) => a === r['action']);
  const tests: SpamTest[] = [];
  const symbols = r['symbols'];
  if (typeof symbols === 'object' && symbols !== null) {
    for (const [name, s] of Object.entries(symbols as Record<string, unknown>).slice(0, MAX_TESTS)) {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) continue;
      const sym = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
      const test: SpamTest = { name, score: typeof sym['score'] === 'number' ? sym['score'] : 0 };
      if (typeof sym['description'] === 'string') test.description = sym['description'].slice(0, 200);
      tests.push(test);
    }
  }
  tests.sort((a, b) => b.score - a.score || a.name.localeCompare(b.name));
  return { kind: 'score', score, required: typeof required === 'number' ? required : 15, tests, ...(action ? { action } : {}) };
}

export class RspamdScanner implements Scanner {
  readonly name = 'rspamd';
  readonly kind = 'spam' as const;

  constructor(readonly address: RspamdAddress) {}

  scan(input: ScanInput, budget: ScanBudget): Promise<ScanResult> {
    const started = Date.now();
    const done = (verdict: ScanVerdict): ScanResult => ({ scanner: this.name, engine: 'rspamd', verdict, ms: Date.now() - started });
    const headers: Record<string, string | number> = { 'Content-Length': input.raw.length };
    // Envelope facts for rspamd's own checks (peer data: kept header-safe).
    const safe = (s: string) => s.replace(/[^\x21-\x7e]/g, '').slice(0, 320);
    if (input.remoteIp) headers['IP'] = safe(input.remoteIp);
    if (input.helo) headers['Helo'] = safe(input.helo);
    if (input.from !== undefined) headers['From'] = safe(input.from) || '<>';
    return new Promise((resolve) => {
      let finished = false;
      const finish = (verdict: ScanVerdict) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        req.destroy();
        resolve(done(verdict));
      };
      const timer = setTimeout(() => finish({ kind: 'unscanned', reason: 'rspamd timeout' }), Math.max(0, budget.deadline - Date.now()));
      const req = http.request({ host: this.address.host, port: this.address.port, method: 'POST', path: '/checkv2', headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_REPLY) return finish({ kind: 'unscanned', reason: 'rspamd reply too long' });
          chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return finish({ kind: 'unscanned', reason: `rspamd HTTP ${res.statusCode}` });
          finish(parseRspamdReply(Buffer.concat(chunks).toString('utf8')));
        });
        res.on('error', () => finish({ kind: 'unscanned', reason: 'rspamd reply cut' }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'unscanned', reason: `rspamd ${err.code ?? 'error'}` }));
      req.end(input.raw);
    });
  }
}
