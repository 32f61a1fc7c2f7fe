// This node's own changes, told to its subscribers in commit order per
// mailbox. Two transactions on two connections can have their commits
// acknowledged in the other order; but a step that changes a mailbox holds
// its row lock until it commits, so the order in which steps reach the end
// of their work (still holding the lock) is the mailbox's commit order.
// Each step takes a place in the line of every mailbox it changed there,
// and its changes are told once it has committed and is first in each line.
import type { MailboxChange } from '../ports.js';

export interface Place {
  changes: MailboxChange[];
  mailboxes: number[];
  state: 'open' | 'committed' | 'dropped';
}

export class PublishOrder {
  private readonly lines = new Map<number, Place[]>();

  constructor(private readonly tell: (change: MailboxChange) => void) {}

  /** Takes a place for these changes; call it while holding the row locks of their mailboxes. */
  enter(changes: MailboxChange[]): Place {
    const mailboxes = [...new Set(changes.flatMap((c) => (c.kind === 'mailboxes' ? [] : [c.mailboxId])))];
    const place: Place = { changes, mailboxes, state: 'open' };
    for (const id of mailboxes) {
      const line = this.lines.get(id) ?? [];
      line.push(place);
      this.lines.set(id, line);
    }
    return place;
  }

  /** The step committed: its changes are told as soon as every step before it in its lines has been. */
  committed(place: Place): void {
    place.state = 'committed';
    this.advance(place.mailboxes);
    // Changes to no mailbox in particular (the list of mailboxes) wait for nothing.
    if (place.mailboxes.length === 0) this.told(place);
  }

  /** The step failed: it leaves its lines, and tells nothing. */
  dropped(place: Place): void {
    place.state = 'dropped';
    for (const m of place.mailboxes) {
      const line = this.lines.get(m)!;
      line.splice(line.indexOf(place), 1);
      if (line.length === 0) this.lines.delete(m);
    }
    this.advance(place.mailboxes);
  }

  private told(place: Place): void {
    for (const c of place.changes) {
      try {
        this.tell(c);
      } catch {
        // a subscriber's failure must not stop the others
      }
    }
  }

  private advance(start: number[]): void {
    const work = [...start];
    while (work.length > 0) {
      const id = work.pop()!;
      const line = this.lines.get(id);
      if (!line) continue;
      while (line.length > 0) {
        const head = line[0]!;
        if (head.state === 'open' || !head.mailboxes.every((m) => this.lines.get(m)?.[0] === head)) break;
        for (const m of head.mailboxes) {
          const other = this.lines.get(m)!;
          other.shift();
          if (other.length === 0) this.lines.delete(m);
          else if (m !== id) work.push(m);
        }
        this.told(head);
      }
    }
  }
}
