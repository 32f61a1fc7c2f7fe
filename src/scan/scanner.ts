// The one interface every content scanner implements: clamd now, spamd,
// rspamd and the builtin spam rules later. A scanner never throws and never
// outlives its budget: whatever goes wrong becomes an `unscanned` verdict
// with a short reason, so the caller decides (451 or fail-open) in one place.
import type { ParsedMessage } from '../../mime/index.js';

/** One rule a spam engine matched (X-Spam-Status tests=). */
export interface SpamTest {
  name: string;
  score: number;
  description?: string;
}

/** What a spam engine asks for (rspamd's actions; the others derive one from the score). */
export type SpamAction = 'no action' | 'add header' | 'rewrite subject' | 'greylist' | 'soft reject' | 'reject';

export type ScanVerdict =
  | { kind: 'clean' }
  | { kind: 'infected'; signature: string }
  /** Larger than the scanner's limit: not scanned, and never to be called clean. */
  | { kind: 'skipped-size' }
  /** The scanner could not answer: unreachable, timeout, error, busy. */
  | { kind: 'unscanned'; reason: string }
  | { kind: 'score'; score: number; required: number; tests: SpamTest[]; action?: SpamAction };

export interface ScanResult {
  /** The scanner's name in config and logs ('clamd', 'spamd', ...). */
  scanner: string;
  /** The engine as it names itself, for headers ('ClamAV 1.4.6/27000'); the scanner's name when unknown. */
  engine: string;
  verdict: ScanVerdict;
  /** Wall time of the scan, waiting for a pool slot included. */
  ms: number;
}

/** What a scanner is given: the bytes as received and, where parsed already, the model. */
export interface ScanInput {
  raw: Buffer;
  message?: ParsedMessage;
  /** Envelope and client, for engines that use them (spamd, rspamd). */
  from?: string;
  recipients?: readonly string[];
  remoteIp?: string;
  helo?: string;
}

/** A deadline (Date.now() milliseconds) the scan must answer by. */
export interface ScanBudget {
  deadline: number;
}

export interface Scanner {
  readonly name: string;
  readonly kind: 'antivirus' | 'spam';
  scan(input: ScanInput, budget: ScanBudget): Promise<ScanResult>;
}
