// When the outbound queue tries again, warns and gives up. Postfix's rhythm
// (minimal_backoff_time 300s doubling to maximal_backoff_time 4000s,
// delay_warning_time 4h, maximal_queue_lifetime 5d), written as a list:
// a few minutes first, growing to hourly, then every 4 hours. Pure.
import type { RecipientState } from '../../storage/ports.js';

export interface RetrySchedule {
  /** The wait after each failed attempt, in ms: the first after the first attempt; the last repeats. */
  retryMs: number[];
  /** A delay warning to the sender once a message has waited this long. */
  warnAfterMs: number;
  /** Given up (and bounced) once a message has waited this long. */
  expireAfterMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const DEFAULT_SCHEDULE: RetrySchedule = {
  retryMs: [5 * MINUTE, 10 * MINUTE, 20 * MINUTE, 40 * MINUTE, HOUR, HOUR, HOUR, 4 * HOUR],
  warnAfterMs: 4 * HOUR,
  expireAfterMs: 5 * 24 * HOUR,
};

/** config.relay.schedule (seconds) over the defaults. */
export function scheduleFromConfig(s: { retrySeconds?: number[] | undefined; warnAfterSeconds?: number | undefined; expireAfterSeconds?: number | undefined } | undefined): RetrySchedule {
  return {
    retryMs: s?.retrySeconds && s.retrySeconds.length > 0 ? s.retrySeconds.map((x) => x * 1000) : DEFAULT_SCHEDULE.retryMs,
    warnAfterMs: s?.warnAfterSeconds !== undefined ? s.warnAfterSeconds * 1000 : DEFAULT_SCHEDULE.warnAfterMs,
    expireAfterMs: s?.expireAfterSeconds !== undefined ? s.expireAfterSeconds * 1000 : DEFAULT_SCHEDULE.expireAfterMs,
  };
}

/** The wait before the next attempt, after `attempts` attempts (1 or more) have failed. */
export function retryDelay(attempts: number, s: RetrySchedule = DEFAULT_SCHEDULE): number {
  const i = Math.min(Math.max(attempts, 1), s.retryMs.length) - 1;
  return s.retryMs[i]!;
}

/** Still to be sent: pending (never tried) or deferred. */
export function isOpen(r: RecipientState): boolean {
  return r.status === 'pending' || r.status === 'deferred';
}

/** The recipients to try now: the open ones that are due (all open ones when flushed). */
export function dueRecipients(states: RecipientState[], now: number, flush: boolean): RecipientState[] {
  return states.filter((r) => isOpen(r) && (flush || r.nextAttempt <= now));
}

/** The earliest next attempt among open recipients (undefined when none is open). */
export function nextAttemptOf(states: RecipientState[]): number | undefined {
  let next: number | undefined;
  for (const r of states) if (isOpen(r) && (next === undefined || r.nextAttempt < next)) next = r.nextAttempt;
  return next;
}

/** Whether a message created at `created` has waited long enough for a delay warning, or to be given up. */
export function isDueForWarning(created: number, now: number, s: RetrySchedule): boolean {
  return now - created >= s.warnAfterMs;
}

export function isExpired(created: number, now: number, s: RetrySchedule): boolean {
  return now - created >= s.expireAfterMs;
}
