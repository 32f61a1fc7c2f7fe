// The change feed across nodes, with PostgreSQL's LISTEN/NOTIFY (no other
// service). Each change is announced by the transaction that makes it
// (pg_notify inside it: PostgreSQL delivers it only if that commits, and
// in commit order); every node listening on the channel hands the changes
// of the other nodes to its own subscribers. Its own changes reach them
// directly (after the commit, storage/unit-of-work.ts afterCommit), so
// each change is heard once.
//
// A payload is at most 8000 bytes: a flags change too long for it is
// announced without its flags, and the listener reads them. A listener
// whose connection drops connects again (a second later); what it missed
// meanwhile is not in the feed: once it listens again, every subscriber is
// told it may have missed changes (subscribe's `missed`) and reads them
// back from its MODSEQ (changesSince). Nothing committed in the gap is
// lost: a change committed before the new LISTEN is in what they read, one
// committed after it is heard. This node's own changes never depend on the
// connection (they reach the subscribers after their commit).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ChangeFeed, MailboxChange } from '../ports.js';
import { InProcessChangeFeed } from '../change-feed.js';

export const CHANGE_CHANNEL = 'postino_changes';
/** PostgreSQL refuses payloads of 8000 bytes or more. */
const MAX_PAYLOAD = 7900;
const RECONNECT_MS = 1000;

interface Announcement {
  /** The node that made the change (a node ignores its own). */
  o: string;
  c: MailboxChange;
  /** The flags were left out (too long): read them. */
  f?: false;
}

function isChange(c: unknown): c is MailboxChange {
  if (typeof c !== 'object' || c === null) return false;
  const x = c as Record<string, unknown>;
  if (typeof x.accountId !== 'number') return false;
  if (x.kind === 'mailboxes') return true;
  if (typeof x.mailboxId !== 'number' || typeof x.uid !== 'number' || typeof x.modseq !== 'number') return false;
  if (x.kind === 'expunge') return true;
  return (x.kind === 'append' || x.kind === 'flags') && Array.isArray(x.flags) && x.flags.every((f) => typeof f === 'string');
}

export class PgChangeFeed implements ChangeFeed {
  /** This node's name on the channel: random per opened storage. */
  readonly origin = randomBytes(8).toString('hex');
  private client: pg.Client | undefined;
  private watching = false;
  private listening: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A connection was lost (or failed) since the last LISTEN: the next one tells the subscribers. */
  private gap = false;
  private readonly missed = new Set<() => void>();

  constructor(
    private readonly url: string,
    /** Reads a message's flags (for an announcement that left them out). */
    private readonly flagsOf: (mailboxId: number, uid: number) => Promise<string[] | undefined>,
    private readonly local: ChangeFeed = new InProcessChangeFeed(),
  ) {}

  subscribe(accountId: number, listener: (change: MailboxChange) => void, missed?: () => void): () => void {
    const stop = this.local.subscribe(accountId, listener);
    if (!missed) return stop;
    // A function of its own: one callback subscribed twice is still told twice, as the listener is.
    const tell = () => missed();
    this.missed.add(tell);
    return () => {
      this.missed.delete(tell);
      stop();
    };
  }

  /** The session name of this node's listening connection in pg_stat_activity. */
  get applicationName(): string {
    return `postino-feed-${this.origin}`;
  }

  publish(change: MailboxChange): void {
    this.local.publish(change);
  }

  /** The payloads that announce `changes` to the other nodes (sent by the transaction that makes them). */
  payloads(changes: readonly MailboxChange[]): string[] {
    return changes.map((c) => {
      const text = JSON.stringify({ o: this.origin, c } satisfies Announcement);
      if (Buffer.byteLength(text) <= MAX_PAYLOAD || c.kind === 'mailboxes' || c.kind === 'expunge') return text;
      return JSON.stringify({ o: this.origin, c: { ...c, flags: [] }, f: false } satisfies Announcement);
    });
  }

  /** Starts listening for the other nodes' changes; resolves once it listens. */
  watch(): Promise<void> {
    this.watching = true;
    return (this.listening ??= this.connect());
  }

  /** Stops listening. */
  async unwatch(): Promise<void> {
    this.watching = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listening = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: this.applicationName });
    client.on('notification', (msg) => {
      if (msg.channel === CHANGE_CHANNEL && msg.payload !== undefined) this.heard(msg.payload);
    });
    const lost = () => {
      if (this.client !== client) return;
      this.gap = true;
      this.client = undefined;
      this.listening = undefined;
      client.end().catch(() => {});
      if (this.watching && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          if (this.watching) this.watch().catch(() => {});
        }, RECONNECT_MS);
        this.timer.unref();
      }
    };
    client.on('error', lost);
    client.on('end', lost);
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      lost();
      throw err;
    }
    if (!this.watching) return await this.unwatch();
    if (this.gap && this.client === client) {
      this.gap = false;
      this.tellMissed();
    }
  }

  /** Every subscriber reads back what it may have missed. */
  private tellMissed(): void {
    for (const tell of [...this.missed]) {
      try {
        tell();
      } catch {
        // a subscriber's bug must not stop the others
      }
    }
  }

  private heard(payload: string): void {
    let a: Announcement;
    try {
      a = JSON.parse(payload) as Announcement;
    } catch {
      return;
    }
    if (typeof a !== 'object' || a === null || a.o === this.origin || !isChange(a.c)) return;
    const change = a.c;
    if (a.f === false && (change.kind === 'append' || change.kind === 'flags')) {
      this.flagsOf(change.mailboxId, change.uid).then(
        (flags) => this.local.publish({ ...change, flags: flags ?? [] }),
        () => {},
      );
      return;
    }
    this.local.publish(change);
  }
}
