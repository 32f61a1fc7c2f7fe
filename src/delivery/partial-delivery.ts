// What to do when part of a message is stored and part failed temporarily.
// Asking the sender to try again would store the done part twice; so the
// failed part is kept for a local retry and the sender hears success. PURE:
// it decides, the agent acts.
import type { DeliveryFailure } from './outcome.js';

/** How a delivery task ended (a store in one account, a forward, a notice). */
export type TaskResult = { kind: 'ok' } | DeliveryFailure;

/** Who answers for what: 'message' when one reply covers every recipient (SMTP after DATA, the LDA's exit code), 'recipient' when each gets its own (LMTP). */
export type AnswerScope = 'message' | 'recipient';

/**
 * The tasks (indices into `results`) to retry locally. `tasksOf[r]` lists the
 * tasks recipient r depends on; a task may serve several recipients (one
 * copy per account). Nothing is kept when nothing succeeded: then the
 * temporary failure goes back to the sender, who retries it all.
 * - 'message': once anything succeeded, every failed task is kept (the one
 *   reply will be a success);
 * - 'recipient': a recipient with a success and a failure keeps its failures;
 *   a recipient sharing a kept task must then not be answered "try again"
 *   either (its retry would repeat the kept task), so it keeps all of its own.
 */
export function tasksToRetryLocally(tasksOf: number[][], results: TaskResult[], scope: AnswerScope): Set<number> {
  const kept = new Set<number>();
  const failed = (t: number) => results[t]?.kind === 'tempfail';
  if (scope === 'message') {
    if (results.some((r) => r.kind === 'ok')) results.forEach((r, i) => r.kind === 'tempfail' && kept.add(i));
    return kept;
  }
  for (const tasks of tasksOf) {
    if (tasks.some((t) => results[t]?.kind === 'ok') && tasks.some(failed)) for (const t of tasks) if (failed(t)) kept.add(t);
  }
  // Spread over shared tasks until nothing changes (each pass adds a task or ends).
  for (let changed = kept.size > 0; changed; ) {
    changed = false;
    for (const tasks of tasksOf) {
      if (!tasks.some((t) => kept.has(t))) continue;
      for (const t of tasks) {
        if (failed(t) && !kept.has(t)) {
          kept.add(t);
          changed = true;
        }
      }
    }
  }
  return kept;
}
