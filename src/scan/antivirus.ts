// The antivirus stage as the MX, LMTP, `postino deliver` and `postino scan`
// use it: clamd behind a bounded pool with a time budget per message, the
// fail-open choice, and the self-test that keeps checking that clamd still
// detects EICAR (plain, zipped, nested). It decides; the callers word the
// answer (src/mx/smtp-reply.ts for SMTP, exit codes for the CLI).
import type { Logger } from '../log.js';
import { ClamdScanner, describeAddress, type ClamdAddress } from './clamd.js';
import { selfTestMessages } from './eicar.js';
import { ScanPool } from './pool.js';
import type { ScanResult } from './scanner.js';

/** The `antivirus` block of the config, as given. */
export interface AntivirusConfig {
  host?: string | undefined;
  port?: number | undefined;
  socket?: string | undefined;
  failOpen?: boolean | undefined;
  scanLocal?: boolean | undefined;
  timeoutMs?: number | undefined;
  maxConcurrent?: number | undefined;
  selfTestMinutes?: number | undefined;
}

/**
 * Where Sieve's virustest (RFC 5235) reads its value: a score from 0 (no
 * virus) to VIRUSTEST_MAX, which virustest maps to its 1..5 as Pigeonhole's
 * `sieve_virustest_status_type = score` does (so 0 reads as "1" = tested, no
 * virus; Dovecot pointed at the same field agrees). Infected mail is refused,
 * so only clean mail gets a score; mail not scanned (skipped-size, unscanned)
 * gets none, and virustest says "0" = not tested.
 */
export const VIRUS_SCORE_HEADER = 'X-Virus-Score';
export const VIRUSTEST_MAX = 5;
const VIRUSTEST_CLEAN = 0;

/** The fields we add for an accepted message. */
export function virusFields(outcome: Extract<AntivirusOutcome, { action: 'accept' }>): string[] {
  const fields = [`X-Virus-Scanned: ${outcome.header}`];
  if (outcome.virusScore !== undefined) fields.push(`${VIRUS_SCORE_HEADER}: ${outcome.virusScore}`);
  return fields;
}

/** Fields (lower-case key) a sender must not set: only ours count. */
export function isVirusField(key: string): boolean {
  return key === 'x-virus-scanned' || key === VIRUS_SCORE_HEADER.toLowerCase();
}

/** Defaults: a 25 MB message takes clamd a few seconds; 30 s is what amavis gives it. */
export const ANTIVIRUS_DEFAULTS = { timeoutMs: 30_000, maxConcurrent: 8, selfTestMinutes: 10 } as const;

export type AntivirusOutcome =
  /** Deliver, adding `X-Virus-Scanned: <header>` (and `X-Virus-Score: <virusScore>` when set). */
  | { action: 'accept'; header: string; virusScore?: number; result?: ScanResult }
  | { action: 'refuse'; signature: string; result: ScanResult }
  /** Not scanned, and not failing open: 451. */
  | { action: 'tempfail'; reason: string; result?: ScanResult };

export interface SelfTestStatus {
  at: string;
  /** passed: all three detected; missed: clamd answered but did not detect one; error: clamd did not answer. */
  state: 'passed' | 'missed' | 'error';
  cases: Array<{ name: string; verdict: string }>;
  ms: number;
}

export class Antivirus {
  readonly scanner: ClamdScanner;
  readonly pool: ScanPool;
  readonly failOpen: boolean;
  readonly timeoutMs: number;
  private lastSelfTest: SelfTestStatus | undefined;
  private selfTestTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly config: AntivirusConfig,
    private readonly log?: Logger,
  ) {
    const address: ClamdAddress = config.socket ? { socket: config.socket } : { host: config.host ?? '127.0.0.1', port: config.port ?? 3310 };
    this.scanner = new ClamdScanner(address);
    this.pool = new ScanPool(config.maxConcurrent ?? ANTIVIRUS_DEFAULTS.maxConcurrent);
    this.failOpen = config.failOpen ?? false;
    this.timeoutMs = config.timeoutMs ?? ANTIVIRUS_DEFAULTS.timeoutMs;
  }

  /** Where clamd is, for logs. */
  get where(): string {
    return describeAddress(this.scanner.address);
  }

  /** The self-test found clamd answering without detecting EICAR. */
  get selfTestFailing(): boolean {
    return this.lastSelfTest?.state === 'missed';
  }

  /** The last self-test's result (for metrics), undefined before the first. */
  selfTestStatus(): SelfTestStatus | undefined {
    return this.lastSelfTest;
  }

  /**
   * One message through the pool and clamd within the budget. Waiting for a
   * slot may take half the budget at most: a message that waited longer would
   * have too little left to be scanned.
   */
  async scan(raw: Buffer): Promise<ScanResult> {
    const started = Date.now();
    const deadline = started + this.timeoutMs;
    const r = await this.pool.run(started + this.timeoutMs / 2, () => this.scanner.scan({ raw }, { deadline }));
    if (r === 'busy') return { scanner: this.scanner.name, engine: 'ClamAV', verdict: { kind: 'unscanned', reason: 'scanner busy' }, ms: Date.now() - started };
    return { ...r, ms: Date.now() - started };
  }

  async check(raw: Buffer): Promise<AntivirusOutcome> {
    if (this.selfTestFailing && !this.failOpen) return { action: 'tempfail', reason: 'self-test failing' };
    const result = await this.scan(raw);
    const v = result.verdict;
    switch (v.kind) {
      case 'infected':
        return { action: 'refuse', signature: v.signature, result };
      case 'clean':
        // A clamd that misses EICAR cannot call anything clean.
        if (this.selfTestFailing) return { action: 'accept', header: 'unscanned (self-test failing)', result };
        return { action: 'accept', header: `clean (${result.engine})`, virusScore: VIRUSTEST_CLEAN, result };
      case 'skipped-size':
        return { action: 'accept', header: `skipped-size (${result.engine})`, result };
      case 'unscanned':
        if (this.failOpen) return { action: 'accept', header: `unscanned (${v.reason})`, result };
        return { action: 'tempfail', reason: v.reason, result };
      case 'score':
        return { action: 'tempfail', reason: 'not an antivirus verdict', result };
    }
  }

  /** EICAR plain, zipped and nested, through the same scan as real mail; each must be found. */
  async runSelfTest(): Promise<SelfTestStatus> {
    const started = Date.now();
    const cases: SelfTestStatus['cases'] = [];
    for (const m of selfTestMessages()) {
      const r = await this.scan(m.raw);
      const v = r.verdict;
      cases.push({ name: m.name, verdict: v.kind === 'infected' ? `infected (${v.signature})` : v.kind === 'unscanned' ? `unscanned (${v.reason})` : v.kind });
    }
    const missed = cases.some((c) => c.verdict === 'clean' || c.verdict === 'skipped-size');
    const passed = cases.every((c) => c.verdict.startsWith('infected'));
    const status: SelfTestStatus = { at: new Date().toISOString(), state: passed ? 'passed' : missed ? 'missed' : 'error', cases, ms: Date.now() - started };
    const before = this.lastSelfTest?.state;
    this.lastSelfTest = status;
    if (status.state === 'passed') {
      if (before !== 'passed') this.log?.info({ event: 'antivirus-self-test', state: status.state, clamd: this.where, ms: status.ms });
    } else {
      const consequence = status.state === 'missed' && !this.failOpen ? 'new mail is answered 451 until it passes' : 'mail is scanned as before';
      this.log?.error(
        { event: 'antivirus-self-test', state: status.state, clamd: this.where, cases },
        status.state === 'missed' ? `clamd no longer detects the EICAR test file: ${consequence}` : `clamd did not answer the self-test: ${consequence}`,
      );
    }
    return status;
  }

  /** Runs the self-test now and every `minutes` after; the timer does not keep the process alive. */
  startSelfTest(minutes: number): void {
    if (this.selfTestTimer || !(minutes > 0)) return;
    const every = Math.max(100, minutes * 60_000);
    const tick = () => {
      this.runSelfTest()
        .catch((err: unknown) => this.log?.error({ event: 'antivirus-self-test', state: 'error', err: (err as Error)?.message }))
        .finally(() => {
          if (this.selfTestTimer) this.selfTestTimer = setTimeout(tick, every).unref();
        });
    };
    this.selfTestTimer = setTimeout(tick, 0).unref();
  }

  stopSelfTest(): void {
    clearTimeout(this.selfTestTimer);
    this.selfTestTimer = undefined;
  }
}

/**
 * One Antivirus per antivirus block: the MX and LMTP endpoints share its pool
 * and self-test, and a reload that keeps the block keeps them.
 */
const shared = new Map<string, Antivirus>();

export function sharedAntivirus(config: AntivirusConfig, log?: Logger): Antivirus {
  const key = JSON.stringify(config);
  let av = shared.get(key);
  if (!av) {
    av = new Antivirus(config, log);
    shared.set(key, av);
    av.startSelfTest(config.selfTestMinutes ?? ANTIVIRUS_DEFAULTS.selfTestMinutes);
  }
  return av;
}
