// IMAP subscriptions: a list of names apart from the mailboxes (RFC 3501
// 6.3.6, RFC 9051 6.3.7): a name may be subscribed with no mailbox behind it,
// DELETE and RENAME leave the list alone (as Dovecot does; moving a
// subscription would remove the old name unilaterally), and only UNSUBSCRIBE
// takes a name off. The table answers reads; the file at the account's
// Maildir root, rewritten in the same transaction, lets reindex rebuild the
// list. SUBSCRIBE, UNSUBSCRIBE and CREATE write it off the event loop (staged
// and fsynced before the transaction that renames it into place:
// changeWithFile); provisioning an account and recovery (admin and start-up
// work) rewrite it inside their own synchronous transactions.
import path from 'node:path';
import { MailError } from '../errors.js';
import { ensureMaildir } from '../maildir/files.js';
import { SUBSCRIPTIONS_FILE, readSubscriptions, subscriptionsText } from '../maildir/subscriptions.js';
import { changeWithFile } from '../maildir/staged-file.js';
import { MAX_SUBSCRIPTIONS, validateMailboxName } from '../index/mail-rows.js';
import type { MailCore } from './core.js';

export class Subscriptions {
  constructor(private readonly core: MailCore) {}

  /** Subscribes a name, whether or not a mailbox has it; the name must be a valid mailbox name. */
  async add(accountId: number, name: string): Promise<void> {
    const canonical = validateMailboxName(name);
    await this.changeWithFile(accountId, () => {
      if (this.isSubscribed(accountId, canonical)) return false;
      if (this.count(accountId) >= MAX_SUBSCRIPTIONS) {
        throw new MailError('LIMIT', `too many subscriptions (at most ${MAX_SUBSCRIPTIONS})`);
      }
      return this.changeRow(accountId, canonical, true);
    });
    // NOTIFY SubscriptionChange (RFC 5465) listens for this.
    this.core.publish({ kind: 'mailboxes', accountId });
  }

  /** Takes a name off the list; a name not on it is no error (as Dovecot). */
  async remove(accountId: number, name: string): Promise<void> {
    const canonical = validateMailboxName(name);
    await this.changeWithFile(accountId, () => this.changeRow(accountId, canonical, false));
    this.core.publish({ kind: 'mailboxes', accountId });
  }

  /** Runs `changeRows` (true: the list changed) with the file rewritten to match, durably and off the event loop. */
  private changeWithFile(accountId: number, changeRows: () => boolean): Promise<boolean> {
    return changeWithFile({
      gate: this.core.gate,
      dryRun: (fn) => this.core.db.transaction(fn).immediate(),
      transaction: (fn) => this.core.tx(() => fn(this.core.fileChanges())),
      // The account Maildir's tmp/: recovery cleans what a crash leaves there.
      stageDir: (file) => path.join(path.dirname(file), 'tmp'),
      change: () => (changeRows() ? { result: true, file: this.file(accountId) } : { result: false }),
    });
  }

  /** Subscribed names, sorted; some may name no mailbox. */
  list(accountId: number): string[] {
    return this.core.sql('SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name').pluck().all(accountId) as string[];
  }

  private isSubscribed(accountId: number, name: string): boolean {
    return this.core.sql('SELECT 1 FROM subscriptions WHERE account_id = ? AND name = ?').get(accountId, name) !== undefined;
  }

  count(accountId: number): number {
    return this.core.sql('SELECT count(*) FROM subscriptions WHERE account_id = ?').pluck().get(accountId) as number;
  }

  /** The list's file as the table is now: where, and what it holds. */
  file(accountId: number): { path: string; content: string } {
    return { path: path.join(this.core.accountDir(accountId), SUBSCRIPTIONS_FILE), content: subscriptionsText(this.list(accountId)) };
  }

  /** Inside a transaction: changes one row; true when it changed (the caller rewrites the file). */
  changeRow(accountId: number, name: string, subscribed: boolean): boolean {
    const changed = subscribed
      ? this.core.sql('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(accountId, name).changes
      : this.core.sql('DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(accountId, name).changes;
    return changed > 0;
  }

  /** A failed write throws and rolls the transaction back (the file too), so table and file agree. */
  private save(accountId: number): void {
    const root = this.core.accountDir(accountId);
    ensureMaildir(root);
    this.core.fileChanges().replace(path.join(root, SUBSCRIPTIONS_FILE), subscriptionsText(this.list(accountId)), true);
  }

  /**
   * Inside recoverAccount's transaction: the file, when there is one, is the
   * list (it is written last, so after a crash it may be newer than the
   * table). Without one (an index from before migration 5, or a lost file)
   * the table's rows and the `subscribed` flags older versions left in
   * folder meta files make the list, and the file is written.
   */
  recover(accountId: number, legacy: readonly string[]): void {
    const root = this.core.accountDir(accountId);
    const fromFile = readSubscriptions(root);
    const insert = this.core.sql('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)');
    if (fromFile !== undefined) {
      this.core.sql('DELETE FROM subscriptions WHERE account_id = ?').run(accountId);
      let kept = 0;
      for (const name of fromFile) {
        let canonical: string;
        try {
          canonical = validateMailboxName(name);
        } catch {
          continue; // an edited file: skip what could never have been subscribed
        }
        if (kept >= MAX_SUBSCRIPTIONS) break;
        kept += insert.run(accountId, canonical).changes;
      }
      return;
    }
    for (const name of legacy) insert.run(accountId, name);
    this.save(accountId);
  }
}
