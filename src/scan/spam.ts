// The spam stage as the MX, LMTP and `postino scan` use it: the engine that
// spam.engine names (builtin, spamd, rspamd) behind a bounded pool with a
// time budget, its score weighed against spam.junkScore and spam.rejectScore
// (rspamd's own action honoured), and the X-Spam-* fields that carry the
// result to the mailbox, to Sieve's spamtest and to the default Junk script.
// It decides; the callers word the answer (src/mx/smtp-reply.ts, exit codes).
import { BuiltinSpamScanner, type BuiltinInput } from './builtin/index.js';
import { ScanPool } from './pool.js';
import { RspamdScanner } from './rspamd.js';
import type { ScanResult, Scanner, SpamTest } from './scanner.js';
import { SpamdScanner } from './spamd.js';

/** The `spam` block of the config, as given. */
export interface SpamConfig {
  engine?: 'builtin' | 'spamd' | 'rspamd' | undefined;
  host?: string | undefined;
  port?: number | undefined;
  junkScore?: number | undefined;
  rejectScore?: number | undefined;
  timeoutMs?: number | undefined;
  maxConcurrent?: number | undefined;
}

/** spamd takes 0.15-0.25 s a message, rspamd less; 15 s covers a loaded machine and a 25 MB message. */
export const SPAM_DEFAULTS = { junkScore: 5, rejectScore: 15, timeoutMs: 15_000, maxConcurrent: 8, spamdPort: 783, rspamdPort: 11333 } as const;

export type SpamOutcome =
  /** Deliver with these fields; junk: over the junk threshold (X-Spam-Flag: YES). */
  | { action: 'accept'; headers: string[]; junk: boolean; result: ScanResult }
  /** Over the reject threshold, or the engine said reject: 550. */
  | { action: 'reject'; score: number; result: ScanResult }
  /** The engine could not answer, or asked to try later (greylist, soft reject): 451. */
  | { action: 'tempfail'; reason: string; result: ScanResult };

/** The fields a message arrives with that only we may write. */
export function isSpamField(key: string): boolean {
  return key === 'x-spam-score' || key === 'x-spam-status' || key === 'x-spam-flag' || key === 'x-spam-level';
}

/** A rule name from a peer (spamd, rspamd), fit for a header: printable ASCII, bounded. */
function headerSafe(text: string, max: number): string {
  return text.replace(/[^\x21-\x7e]/g, '?').slice(0, max);
}

function fixed1(n: number): string {
  return (Math.round(n * 10) / 10).toFixed(1);
}

/** A rule's points as SpamAssassin prints them: at most 3 decimals, no trailing zeros. */
function points(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : '0';
}

/**
 * X-Spam-Score, X-Spam-Status (SpamAssassin's layout, tests= as its
 * _TESTSSCORES_: NAME=points) and, when junk, X-Spam-Flag: YES.
 */
export function spamHeaders(score: number, required: number, tests: readonly SpamTest[], junk: boolean): string[] {
  // One line (no folding), kept under the 998-octet line limit.
  let names = tests.map((t) => `${headerSafe(t.name, 64)}=${points(t.score)}`).join(',') || 'none';
  if (names.length > 800) names = `${names.slice(0, names.lastIndexOf(',', 800))},...`;
  const fields = [`X-Spam-Score: ${fixed1(score)}`, `X-Spam-Status: ${junk ? 'Yes' : 'No'}, score=${fixed1(score)} required=${fixed1(required)} tests=${names}`];
  if (junk) fields.push('X-Spam-Flag: YES');
  return fields;
}

export class SpamCheck {
  readonly scanner: Scanner;
  readonly pool: ScanPool;
  readonly junkScore: number;
  readonly rejectScore: number;
  readonly timeoutMs: number;

  constructor(
    readonly config: SpamConfig,
    hostname: string,
  ) {
    this.junkScore = config.junkScore ?? SPAM_DEFAULTS.junkScore;
    this.rejectScore = config.rejectScore ?? SPAM_DEFAULTS.rejectScore;
    this.timeoutMs = config.timeoutMs ?? SPAM_DEFAULTS.timeoutMs;
    const host = config.host ?? '127.0.0.1';
    const engine = config.engine ?? 'builtin';
    this.scanner =
      engine === 'spamd'
        ? new SpamdScanner({ host, port: config.port ?? SPAM_DEFAULTS.spamdPort })
        : engine === 'rspamd'
          ? new RspamdScanner({ host, port: config.port ?? SPAM_DEFAULTS.rspamdPort })
          : new BuiltinSpamScanner({ hostname, required: this.junkScore });
    this.pool = new ScanPool(config.maxConcurrent ?? SPAM_DEFAULTS.maxConcurrent);
  }

  /** Where the engine is, for logs. */
  get where(): string {
    return this.config.engine === 'spamd' || this.config.engine === 'rspamd' ? `${this.config.engine} ${this.config.host ?? '127.0.0.1'}:${this.config.port ?? ''}` : 'builtin';
  }

  /** One message through the pool and the engine within the budget (waiting for a slot: half of it at most). */
  async scan(input: BuiltinInput): Promise<ScanResult> {
    const started = Date.now();
    const deadline = started + this.timeoutMs;
    const r = await this.pool.run(started + this.timeoutMs / 2, () => this.scanner.scan(input, { deadline }));
    if (r === 'busy') return { scanner: this.scanner.name, engine: this.scanner.name, verdict: { kind: 'unscanned', reason: 'scanner busy' }, ms: Date.now() - started };
    return { ...r, ms: Date.now() - started };
  }

  async check(input: BuiltinInput): Promise<SpamOutcome> {
    const result = await this.scan(input);
    const v = result.verdict;
    if (v.kind === 'unscanned') return { action: 'tempfail', reason: v.reason, result };
    if (v.kind !== 'score') return { action: 'tempfail', reason: 'not a spam verdict', result };
    // rspamd decides for itself; its reject and its "try later" are honoured.
    if (v.action === 'reject' || v.score >= this.rejectScore) return { action: 'reject', score: v.score, result };
    if (v.action === 'greylist' || v.action === 'soft reject') return { action: 'tempfail', reason: v.action, result };
    const junk = v.score >= this.junkScore || v.action === 'add header' || v.action === 'rewrite subject';
    return { action: 'accept', headers: spamHeaders(v.score, this.junkScore, v.tests, junk), junk, result };
  }
}

/** One SpamCheck per spam block and hostname: the MX and LMTP share its pool. */
const shared = new Map<string, SpamCheck>();

export function sharedSpamCheck(config: SpamConfig, hostname: string): SpamCheck {
  const key = JSON.stringify([config, hostname]);
  let check = shared.get(key);
  if (!check) {
    check = new SpamCheck(config, hostname);
    shared.set(key, check);
  }
  return check;
}
