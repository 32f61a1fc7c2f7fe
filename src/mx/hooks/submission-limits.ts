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

/** What each user has sent in the last day, oldest first. */
export class SendingCounter {
  private readonly byUser = new Map<string, Sent[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Messages in the last hour and recipients in the last day. */
  usage(user: string): { messagesLastHour: number; recipientsLastDay: number } {
    const sent = this.recent(user);
    const hourAgo = this.now() - HOUR_MS;
    let messagesLastHour = 0;
    let recipientsLastDay = 0;
    for (const s of sent) {
      if (s.at > hourAgo) messagesLastHour++;
      recipientsLastDay += s.recipients;
    }
    return { messagesLastHour, recipientsLastDay };
  }

  record(user: string, recipients: number): void {
    const sent = this.recent(user);
    sent.push({ at: this.now(), recipients });
    this.byUser.set(user.toLowerCase(), sent);
  }

  /** The user's entries of the last day (older ones are dropped here, so memory stays bounded by the limits). */
  private recent(user: string): Sent[] {
    const key = user.toLowerCase();
    const sent = this.byUser.get(key) ?? [];
    const dayAgo = this.now() - DAY_MS;
    let old = 0;
    while (old < sent.length && sent[old]!.at <= dayAgo) old++;
    if (old > 0) sent.splice(0, old);
    if (sent.length === 0) this.byUser.delete(key);
    return sent;
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
