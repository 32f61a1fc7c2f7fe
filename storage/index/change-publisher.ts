// The mail index's side of the change feed: what this process commits is
// published after the commit, and what other processes (the LDA, the CLI, a
// second server) commit is found by watching the index and published too.
import type { ChangeFeed, MailboxChange } from '../ports.js';
import { prepared, type IndexDb } from './database.js';
import { splitFlags } from './mail-rows.js';

export class ChangePublisher {
  /** Per mailbox, the highest MODSEQ and UIDNEXT this process has published. */
  private readonly published = new Map<number, { modseq: number; uidNext: number }>();

  constructor(
    private readonly db: IndexDb,
    readonly feed: ChangeFeed,
  ) {}

  publish(change: MailboxChange): void {
    if (change.kind !== 'mailboxes') {
      const p = this.published.get(change.mailboxId);
      if (p) {
        p.modseq = Math.max(p.modseq, change.modseq);
        if (change.kind === 'append') p.uidNext = Math.max(p.uidNext, change.uid + 1);
      }
    }
    this.feed.publish(change);
  }

  /**
   * Publishes changes committed by other processes to this process's feed.
   * SQLite's data_version tells cheaply when another connection committed;
   * only then are the mailboxes compared. Returns a function that stops
   * watching.
   */
  watchExternalChanges(intervalMs = 250): () => void {
    const sql = (text: string) => prepared(this.db, text);
    let version = this.db.pragma('data_version', { simple: true }) as number;
    const snapshot = () => sql('SELECT id, account_id, highestmodseq, uidnext FROM mailboxes').all() as Array<{
      id: number;
      account_id: number;
      highestmodseq: number;
      uidnext: number;
    }>;
    for (const m of snapshot()) this.published.set(m.id, { modseq: m.highestmodseq, uidNext: m.uidnext });
    const timer = setInterval(() => {
      let now: number;
      try {
        now = this.db.pragma('data_version', { simple: true }) as number;
      } catch {
        return; // closed
      }
      if (now === version) return;
      version = now;
      const accounts = new Set<number>();
      for (const m of snapshot()) {
        const known = this.published.get(m.id);
        if (!known) {
          this.published.set(m.id, { modseq: m.highestmodseq, uidNext: m.uidnext });
          accounts.add(m.account_id);
          continue;
        }
        if (m.highestmodseq <= known.modseq) continue;
        const changes: MailboxChange[] = [];
        const rows = sql('SELECT uid, modseq, flags FROM messages WHERE mailbox_id = ? AND modseq > ?').all(m.id, known.modseq) as Array<{
          uid: number;
          modseq: number;
          flags: string;
        }>;
        for (const r of rows) {
          const kind = r.uid >= known.uidNext ? 'append' : 'flags';
          changes.push({ kind, accountId: m.account_id, mailboxId: m.id, uid: r.uid, modseq: r.modseq, flags: splitFlags(r.flags) });
        }
        const gone = sql('SELECT uid, modseq FROM expunged WHERE mailbox_id = ? AND modseq > ?').all(m.id, known.modseq) as Array<{
          uid: number;
          modseq: number;
        }>;
        // A message that came and went between two looks was never announced: nothing to expunge.
        for (const g of gone) {
          if (g.uid < known.uidNext) changes.push({ kind: 'expunge', accountId: m.account_id, mailboxId: m.id, uid: g.uid, modseq: g.modseq });
        }
        changes.sort((a, b) => (a.kind === 'mailboxes' || b.kind === 'mailboxes' ? 0 : a.modseq - b.modseq));
        for (const c of changes) this.publish(c);
        known.modseq = Math.max(known.modseq, m.highestmodseq);
        known.uidNext = Math.max(known.uidNext, m.uidnext);
      }
      for (const a of accounts) this.publish({ kind: 'mailboxes', accountId: a });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
