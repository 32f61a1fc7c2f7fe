// Per-user sending limits of submission (config.submission.limits): messages
// per hour, recipients per message, recipients per day, so a stolen password
// sends little. Counted in memory, per process: a restart forgets the counts
// (a limit, not an accounting), and submission and submissions share one
// counter per storage. A message counts once the policy chain accepts its
// DATA (the last hook of that stage), before delivery: a message that then
// fails temporarily and is sent again counts twice, which errs on the safe side.
import type { HookOf } from '../chain.js';
import { AUTH_REQUIRED, sendingLimitReached } from '../smtp-reply.js';
import { ACCEPT } from '../verdict.js';

export interface SubmissionLimits {
  messagesPerHour: number;
  recipientsPerMessage: number;
  recipientsPerDay: number;
}

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

interface Sent {
  at: number;
  recipients: number;
}

/**
 * One user's sends of the last day, oldest first, with two moving starts
 * (of the day and of the hour) and the day's recipients summed as entries
 * come and go: a check costs the entries that left the window since the
 * last one, not the whole day (a user sending thousands a day would make
 * every MAIL and RCPT scan them all).
 */
class UserWindow {
  entries: Sent[] = [];
  dayStart = 0;
  hourStart = 0;
  recipientsInDay = 0;

  /** Drops what is a day old and moves the hour's start; false when nothing is left. */
  advance(now: number): boolean {
    const { entries } = this;
    while (this.dayStart < entries.length && entries[this.dayStart]!.at <= now - DAY_MS) this.recipientsInDay -= entries[this.dayStart++]!.recipients;
    if (this.hourStart < this.dayStart) this.hourStart = this.dayStart;
    while (this.hourStart < entries.length && entries[this.hourStart]!.at <= now - HOUR_MS) this.hourStart++;
    // Compacted once the dropped part is the larger one: amortised O(1) per entry.
    if (this.dayStart > 64 && this.dayStart * 2 > entries.length) {
      this.entries = entries.slice(this.dayStart);
      this.hourStart -= this.dayStart;
      this.dayStart = 0;
    }
    return this.entries.length > this.dayStart;
  }
}

/** What each user has sent in the last day. */
export class SendingCounter {
  private readonly byUser = new Map<string, UserWindow>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Messages in the last hour and recipients in the last day. */
  usage(user: string): { messagesLastHour: number; recipientsLastDay: number } {
    const key = user.toLowerCase();
    const window = this.byUser.get(key);
    if (!window) return { messagesLastHour: 0, recipientsLastDay: 0 };
    // Users whose day is over are dropped here, so memory stays bounded by the limits.
    if (!window.advance(this.now())) {
      this.byUser.delete(key);
      return { messagesLastHour: 0, recipientsLastDay: 0 };
    }
    return { messagesLastHour: window.entries.length - window.hourStart, recipientsLastDay: window.recipientsInDay };
  }

  record(user: string, recipients: number): void {
    const key = user.toLowerCase();
    const now = this.now();
    let window = this.byUser.get(key);
    if (!window) this.byUser.set(key, (window = new UserWindow()));
    window.advance(now);
    window.entries.push({ at: now, recipients });
    window.recipientsInDay += recipients;
  }
}

/** The three checks, one per stage, over one counter. */
export function submissionLimitHooks(counter: SendingCounter, limits: () => SubmissionLimits): [HookOf<'mail'>, HookOf<'rcpt'>, HookOf<'data'>] {
  const mail: HookOf<'mail'> = {
    name: 'submission-limits',
    stage: 'mail',
    timeoutMs: 1_000,
    async run({ session }) {
      if (session.user === undefined) return AUTH_REQUIRED;
      return counter.usage(session.user).messagesLastHour >= limits().messagesPerHour ? sendingLimitReached('messages per hour') : ACCEPT;
    },
  };
  const rcpt: HookOf<'rcpt'> = {
    name: 'submission-limits',
    stage: 'rcpt',
    timeoutMs: 1_000,
    async run({ session, accepted }) {
      if (session.user === undefined) return AUTH_REQUIRED;
      const inMessage = (accepted?.length ?? 0) + 1;
      const l = limits();
      if (inMessage > l.recipientsPerMessage) return sendingLimitReached('recipients per message');
      if (counter.usage(session.user).recipientsLastDay + inMessage > l.recipientsPerDay) return sendingLimitReached('recipients per day');
      return ACCEPT;
    },
  };
  const data: HookOf<'data'> = {
    name: 'submission-limits',
    stage: 'data',
    timeoutMs: 1_000,
    async run({ session, recipients }) {
      if (session.user === undefined) return AUTH_REQUIRED;
      counter.record(session.user, recipients.length);
      return ACCEPT;
    },
  };
  return [mail, rcpt, data];
}
