// The in-process change feed: committed changes go to the subscribers of the
// account. A listener that throws is dropped from this delivery, never the feed.
import type { ChangeFeed, MailboxChange } from './ports.js';

export class InProcessChangeFeed implements ChangeFeed {
  private readonly listeners = new Map<number, Set<(change: MailboxChange) => void>>();

  subscribe(accountId: number, listener: (change: MailboxChange) => void): () => void {
    let set = this.listeners.get(accountId);
    if (!set) {
      set = new Set();
      this.listeners.set(accountId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(accountId);
    };
  }

  publish(change: MailboxChange): void {
    const set = this.listeners.get(change.accountId);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(change);
      } catch {
        // a subscriber's bug must not stop delivery to the others
      }
    }
  }
}
