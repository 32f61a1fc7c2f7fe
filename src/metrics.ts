// What the server counts, as plain calls: the modules that see an event
// report it here and never import the metrics library. src/admin/metrics/
// turns the calls into Prometheus series; tests and `postino deliver` pass
// nothing (every hook is optional). Every method is cheap and never throws.
import type { ScanResult } from './scan/scanner.js';

export interface Metrics {
  /** A message read in full at the end of DATA, before the content checks: mail offered to the server. */
  messageReceived(protocol: string): void;
  /** A refusal at one stage of the dialogue (at `rcpt`, of one recipient), named by the hook or limit that refused. */
  messageRefused(protocol: string, stage: string, reason: string): void;
  /** One recipient's local delivery outcome ('delivered', or the failure's `why`), and how long the message's delivery took. */
  delivered(outcome: string, kind: 'delivered' | 'tempfail' | 'reject', seconds: number): void;
  /** One outbound attempt for one recipient; a deferral names its class; `ageSeconds` since the message was queued. */
  outbound(status: string, deferral: string | null, ageSeconds: number): void;
  /** A content scanner's answer (an `unscanned` verdict is a scanner failure). */
  scanned(result: Pick<ScanResult, 'scanner' | 'verdict'>): void;
  /** A login attempt's end, by protocol ('imap', 'pop3', 'managesieve', 'submission'...). */
  auth(protocol: string, ok: boolean): void;
  /** The store failed while mail was being kept ('no-space', 'delivery', 'queue', 'disk-full'). */
  storageError(operation: string): void;
}
