// \Recent (RFC 3501 2.3.2) and the counts STATUS asks for beyond a mailbox's
// counters. The claim is a row per mailbox (and UIDVALIDITY): the first UID
// no read-write SELECT has claimed yet.
import { isMailError } from '../errors.js';
import type { MailCore } from './core.js';
import { IS_DELETED } from '../schema/sqlite.js';

export class RecentCounts {
  constructor(private readonly core: MailCore) {}

  /** UIDs at or above this have not been claimed by a read-write SELECT (1 when never claimed). */
  firstRecentUid(mailboxId: number): number {
    const row = this.core.sql(
      `SELECT r.first_recent_uid AS f FROM mailboxes m
       LEFT JOIN mailbox_recent r ON r.mailbox_id = m.id AND r.uidvalidity = m.uidvalidity WHERE m.id = ?`,
    ).get(mailboxId) as { f: number | null } | undefined;
    return row?.f ?? 1;
  }

  /**
   * Claims the messages below uidNext that no session has claimed yet; returns
   * the first UID claimed (uidNext when none). Atomic across sessions and
   * processes, so exactly one session sees each message as \Recent.
   */
  claimRecent(mailboxId: number, uidNext: number): number {
    // Most SELECTs find nothing new: answer those without taking the write lock.
    if (this.firstRecentUid(mailboxId) >= uidNext) return uidNext;
    try {
      return this.core.tx(() => {
        const first = this.firstRecentUid(mailboxId);
        if (first >= uidNext) return uidNext;
        this.core.sql(
          `INSERT OR REPLACE INTO mailbox_recent (mailbox_id, uidvalidity, first_recent_uid)
           SELECT id, uidvalidity, ? FROM mailboxes WHERE id = ?`,
        ).run(uidNext, mailboxId);
        return first;
      });
    } catch (err) {
      // \Recent is advisory: when the claim cannot be recorded (a full disk),
      // SELECT still works, and this session sees them without claiming them.
      if (isMailError(err, 'NOSPACE') || isMailError(err, 'TEMPFAIL')) return Math.min(this.firstRecentUid(mailboxId), uidNext);
      throw err;
    }
  }

  /** Messages with a UID at or above `uid` (the unclaimed recent ones, for STATUS RECENT). */
  countFromUid(mailboxId: number, uid: number): number {
    return this.core.sql('SELECT count(*) FROM messages WHERE mailbox_id = ? AND uid >= ?').pluck().get(mailboxId, uid) as number;
  }

  /** Messages flagged \Deleted (STATUS DELETED, RFC 9051). */
  deletedCount(mailboxId: number): number {
    return this.core.sql(`SELECT count(*) FROM messages INDEXED BY messages_deleted WHERE mailbox_id = ? AND ${IS_DELETED}`).pluck().get(mailboxId) as number;
  }
}
