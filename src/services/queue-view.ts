// One queue entry as `postino queue list --json` and the admin API's GET /queue show it.
import { recipientStates } from '../../storage/queue.js';
import type { QueueEntry } from '../../storage/ports.js';

/** One entry as `queue list --json` shows it. */
export function queueRow(e: QueueEntry, queue: 'outbound' | 'local', now: number) {
  const states = recipientStates(e);
  const deferred = states.filter((r) => r.status === 'deferred');
  return {
    id: e.id,
    sender: e.sender,
    recipients: e.recipients,
    age: Math.max(0, Math.floor((now - e.created) / 1000)),
    lastError: e.lastError,
    reason: e.reason,
    queue,
    held: e.held === true,
    smtpId: e.smtpId ?? null,
    attempts: e.attempts,
    nextAttempt: new Date(e.nextAttempt).toISOString(),
    /** The class of the latest deferral of a recipient still waiting (null when none is). */
    deferral: deferred.length > 0 ? (deferred[deferred.length - 1]!.deferral ?? null) : null,
    states: states.map((r) => ({
      address: r.address,
      status: r.status,
      attempts: r.attempts,
      lastReply: r.reply,
      deferral: r.deferral,
      nextAttempt: r.status === 'pending' || r.status === 'deferred' ? new Date(r.nextAttempt).toISOString() : null,
    })),
  };
}

export type QueueRow = ReturnType<typeof queueRow>;
