// The audit log of the admin service: who changed what, when, and the state
// before and after (never a password). Written through the unit of work that
// makes the change, so the entry and the change land together or not at all.
import type { UnitOfWork } from '../../storage/ports.js';

/** Who makes the changes: an admin username, a mail address, or "cli". */
export type Actor = string;

/** The actor of changes made with the command line. */
export const CLI_ACTOR: Actor = 'cli';

export async function audit(tx: Pick<UnitOfWork, 'admin'>, actor: Actor, action: string, target: string, before: unknown, after: unknown): Promise<void> {
  await tx.admin.appendAudit({
    at: Date.now(),
    actor,
    action,
    target,
    before: before === null || before === undefined ? null : JSON.stringify(before),
    after: after === null || after === undefined ? null : JSON.stringify(after),
  });
}
