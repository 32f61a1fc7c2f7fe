// The mail index and message bodies in PostgreSQL, behaving as the SQLite +
// Maildir store does (the memory backend is the reference the contract
// suite holds both to).
//
// UIDs and MODSEQs: every change to a mailbox first locks its row (SELECT
// ... FOR UPDATE) and takes its UIDs and MODSEQs from the counters there,
// writing them back in the same transaction: writers of one mailbox, on any
// node, go one after another, so UIDs have no gap and no duplicate and a
// refused change (quota) takes none. Two mailboxes are locked in id order.
// Quota: an account with a limit has its row locked by each append, so
// concurrent appends are checked one after another, exactly.
// Bodies: one per content (SHA-256), in the blobs table or in a shared
// directory (blobs.ts, chosen at open): a message to many recipients, a
// copy and a move share it; a body no message uses any more is removed
// after the change that left it alone commits.
import { createHash, randomBytes } from 'node:crypto';
import type {
  AppendOptions,
  AppendResult,
  ChangeFeed,
  FlagMode,
  FolderImport,
  FolderImportResult,
  ImportedFolderState,
  MailboxChange,
  MailboxDelta,
  MailboxInfo,
  MailboxSummary,
  MailStore,
  MailboxCounters,
  MessageRecord,
  Quota,
  SelectSummary,
  SpecialUse,
} from '../ports.js';
import { MailError } from '../errors.js';
import { normalizeFlags, storableFlags, withKeywords } from '../flags.js';
import { InProcessChangeFeed } from '../change-feed.js';
import { afterCommit } from '../unit-of-work.js';
import {
  DEFAULT_FOLDERS,
  MAX_SUBSCRIPTIONS,
  canonicalMailboxName,
  renamedMailboxName,
  validateMailboxName,
  validateRenameTarget,
} from '../names.js';
import type { PgDatabase, Row } from './db.js';
import { PgMetadata } from './metadata.js';
import { PublishOrder, type Place } from './publish-order.js';
import { checkBatch } from '../import-batch.js';
import type { BlobStore, NewBody } from './blobs.js';
import { TableBlobStore } from './blobs-table.js';
import { pop3UidlColumn } from '../pop3-uidl.js';

/** Keywords a mailbox lists (as the Maildir's a-z letters allow the SQLite backend). */

/** Turns a raw message into the structure cached with it (JSON); `parsed` is the message as parsed on arrival, when given. */
export type MessageIndexer = (raw: Buffer, parsed?: AppendOptions['message']) => string | null;

interface MailboxRow extends Row {
  id: number;
  account_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  special_use: SpecialUse | null;
  keywords: string[];
}

interface MessageRow extends Row {
  mailbox_id: number;
  uid: number;
  modseq: number;
  flags: string[];
  internal_date: number;
  size: number;
  mime: string | null;
  body_id: string;
  pop3_uidl: string | null;
}

const MAILBOX_COLUMNS = 'id, account_id, name, uid_validity, uid_next, highest_modseq, special_use, keywords';
const MESSAGE_COLUMNS = 'mailbox_id, uid, modseq, flags, internal_date, size, mime, body_id, pop3_uidl';
/** The counters of mailbox b, for a query over mailboxes b (one aggregate per mailbox, no query per row). */
const COUNTERS = `LEFT JOIN LATERAL (
    SELECT count(*)::bigint AS messages,
           count(*) FILTER (WHERE NOT ('\\Seen' = ANY (flags)))::bigint AS unseen,
           coalesce(sum(size), 0)::bigint AS size
    FROM messages WHERE mailbox_id = b.id) c ON true`;

function summary(r: MailboxRow): MailboxSummary {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    specialUse: r.special_use,
  };
}

function info(r: MailboxRow & { messages: number; unseen: number; size: number }): MailboxInfo {
  return { ...summary(r), messages: r.messages, unseen: r.unseen, size: r.size };
}

function record(r: MessageRow): MessageRecord {
  return {
    mailboxId: r.mailbox_id,
    uid: r.uid,
    modseq: r.modseq,
    flags: r.flags,
    internalDate: r.internal_date,
    size: r.size,
    mime: r.mime,
    bodyId: r.body_id,
    ...(r.pop3_uidl !== null ? { pop3Uidl: r.pop3_uidl } : {}),
  };
}

/** A name of one stored copy of a body, kept across flag changes and MOVE (POP3's UIDL). */
function newBodyId(): string {
  return `${Date.now().toString(36)}.${randomBytes(8).toString('hex')}`;
}

function sha256(raw: Buffer): Buffer {
  return createHash('sha256').update(raw).digest();
}

/** The bodies of new messages (copies name a stored body and bring none). */
function bodiesOf(items: readonly NewMessage[]): NewBody[] {
  return items.flatMap((i) => (i.raw ? [{ hash: i.hash, raw: i.raw }] : []));
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f) => b.includes(f));
}

/** One message to insert: its body (by hash, stored beside it when new) and its row. */
interface NewMessage {
  hash: Buffer;
  raw?: Buffer;
  flags: string[];
  internalDate: number;
  size: number;
  mime: string | null;
  bodyId: string;
  /** The message's own POP3 UIDL, or null. */
  pop3Uidl: string | null;
  ignoreQuota: boolean;
}

export interface PgMailStoreOptions {
  indexer?: MessageIndexer;
  feed?: ChangeFeed;
  /** Announces changes to the other nodes (change-feed.ts): the channel, and the payloads for some changes. */
  announcer?: { channel: string; payloads(changes: readonly MailboxChange[]): string[] };
  /** Where bodies are kept (default: the blobs table). */
  blobs?: BlobStore;
}

export class PgMailStore implements MailStore, MailboxCounters {
  readonly feed: ChangeFeed;
  readonly metadata: PgMetadata;
  private readonly indexer: MessageIndexer;
  private readonly announcer: PgMailStoreOptions['announcer'];
  /** This node's changes told in commit order per mailbox. */
  private readonly order: PublishOrder;
  private readonly blobs: BlobStore;

  constructor(
    private readonly db: PgDatabase,
    options: PgMailStoreOptions = {},
  ) {
    this.feed = options.feed ?? new InProcessChangeFeed();
    this.indexer = options.indexer ?? (() => null);
    this.metadata = new PgMetadata(db);
    this.announcer = options.announcer;
    this.order = new PublishOrder((c) => this.feed.publish(c));
    this.blobs = options.blobs ?? new TableBlobStore(db);
  }

  /**
   * One change as one atomic step (a savepoint inside a unit of work, else
   * a transaction): the changes it makes are announced to the other nodes
   * by it (NOTIFY, delivered when it commits), and told to this node's
   * subscribers after the commit (inside a unit, once the unit commits).
   */
  private async step<T>(fn: () => Promise<T>, changesOf: (result: T) => MailboxChange[]): Promise<T> {
    let changes: MailboxChange[] = [];
    // Inside a unit of work no other step of this process runs meanwhile (the gate), and its changes wait for the unit's commit.
    const inUnit = this.db.inUnit;
    let place: Place | undefined;
    try {
      const result = await this.db.atomic(async () => {
        const r = await fn();
        changes = changesOf(r);
        if (this.announcer && changes.length > 0) {
          await this.db.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [this.announcer.channel, this.announcer.payloads(changes)]);
        }
        // Still holding the row locks: the place in line is the commit order.
        if (!inUnit && changes.length > 0) place = this.order.enter(changes);
        return r;
      });
      if (place) this.order.committed(place);
      else for (const c of changes) afterCommit(() => this.feed.publish(c));
      return result;
    } catch (err) {
      if (place) this.order.dropped(place);
      throw err;
    }
  }

  // ---- accounts and mailboxes -----------------------------------------------

  private async lockAccount(accountId: number): Promise<{ quota: number | null; uid_validity_high: number }> {
    const row = await this.db.one<{ quota: number | null; uid_validity_high: number }>(
      'SELECT quota, uid_validity_high FROM accounts WHERE id = $1 FOR NO KEY UPDATE',
      [accountId],
    );
    if (!row) throw new MailError('NONEXISTENT', 'no such account');
    return row;
  }

  private async byName(accountId: number, name: string, lock = false): Promise<MailboxRow | undefined> {
    return this.db.one<MailboxRow>(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = $1 AND name = $2${lock ? ' FOR UPDATE' : ''}`, [
      accountId,
      canonicalMailboxName(name),
    ]);
  }

  private async lockById(id: number): Promise<MailboxRow> {
    const row = await this.db.one<MailboxRow>(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes WHERE id = $1 FOR UPDATE`, [id]);
    if (!row) throw new MailError('NONEXISTENT', 'no such mailbox');
    return row;
  }

  /** Above every UIDVALIDITY the account ever had, and recorded (the account row is locked). */
  private async newUidValidity(accountId: number, high: number): Promise<number> {
    const { max } = (await this.db.one<{ max: number }>('SELECT coalesce(max(uid_validity), 0)::bigint AS max FROM mailboxes WHERE account_id = $1', [accountId]))!;
    const value = Math.max(Math.floor(Date.now() / 1000), high + 1, max + 1);
    await this.db.query('UPDATE accounts SET uid_validity_high = $2 WHERE id = $1', [accountId, value]);
    return value;
  }

  /** Adds a mailbox (the account row locked by the caller); returns it. */
  private async addMailbox(accountId: number, name: string, specialUse: SpecialUse | null): Promise<MailboxRow> {
    const { uid_validity_high } = (await this.db.one<{ uid_validity_high: number }>('SELECT uid_validity_high FROM accounts WHERE id = $1', [accountId]))!;
    const uidValidity = await this.newUidValidity(accountId, uid_validity_high);
    return (await this.db.one<MailboxRow>(
      `INSERT INTO mailboxes (account_id, name, uid_validity, special_use) VALUES ($1, $2, $3, $4) RETURNING ${MAILBOX_COLUMNS}`,
      [accountId, name, uidValidity, specialUse],
    ))!;
  }

  /** Subscribes a new mailbox unless the account is at the cap. */
  private async subscribeNew(accountId: number, name: string): Promise<void> {
    await this.db.query(
      `INSERT INTO subscriptions (account_id, name)
       SELECT $1, $2 WHERE (SELECT count(*) FROM subscriptions WHERE account_id = $1) < $3
       ON CONFLICT DO NOTHING`,
      [accountId, name, MAX_SUBSCRIPTIONS],
    );
  }

  async provisionAccount(accountId: number): Promise<void> {
    await this.step(async () => {
      await this.lockAccount(accountId);
      let made = false;
      for (const f of DEFAULT_FOLDERS) {
        if (await this.byName(accountId, f.name)) continue;
        await this.addMailbox(accountId, f.name, f.specialUse);
        await this.subscribeNew(accountId, f.name);
        made = true;
      }
      return made;
    }, (made) => (made ? [{ kind: 'mailboxes', accountId }] : []));
  }

  async deleteAccountMail(accountId: number): Promise<void> {
    const gone = await this.db.atomic(async () => {
      await this.db.query('SELECT id FROM mailboxes WHERE account_id = $1 FOR UPDATE', [accountId]);
      const hashes = await this.db.query<{ blob_hash: Buffer }>('SELECT DISTINCT blob_hash FROM messages WHERE account_id = $1', [accountId]);
      await this.db.query('DELETE FROM mailboxes WHERE account_id = $1', [accountId]);
      await this.db.query('DELETE FROM metadata WHERE account_id = $1', [accountId]);
      await this.db.query('DELETE FROM subscriptions WHERE account_id = $1', [accountId]);
      return hashes.map((h) => h.blob_hash);
    });
    this.collectUnused(gone);
  }

  async listMailboxes(accountId: number): Promise<MailboxInfo[]> {
    const rows = await this.db.query<MailboxRow & { messages: number; unseen: number; size: number }>(
      `SELECT b.id, b.account_id, b.name, b.uid_validity, b.uid_next, b.highest_modseq, b.special_use, b.keywords, c.messages, c.unseen, c.size
       FROM mailboxes b ${COUNTERS} WHERE b.account_id = $1 ORDER BY b.name`,
      [accountId],
    );
    return rows.map(info);
  }

  async getMailbox(accountId: number, name: string): Promise<MailboxInfo | undefined> {
    const row = await this.db.one<MailboxRow & { messages: number; unseen: number; size: number }>(
      `SELECT b.id, b.account_id, b.name, b.uid_validity, b.uid_next, b.highest_modseq, b.special_use, b.keywords, c.messages, c.unseen, c.size
       FROM mailboxes b ${COUNTERS} WHERE b.account_id = $1 AND b.name = $2`,
      [accountId, canonicalMailboxName(name)],
    );
    return row && info(row);
  }

  async getMailboxById(id: number): Promise<MailboxInfo> {
    const row = await this.db.one<MailboxRow & { messages: number; unseen: number; size: number }>(
      `SELECT b.id, b.account_id, b.name, b.uid_validity, b.uid_next, b.highest_modseq, b.special_use, b.keywords, c.messages, c.unseen, c.size
       FROM mailboxes b ${COUNTERS} WHERE b.id = $1`,
      [id],
    );
    if (!row) throw new MailError('NONEXISTENT', 'no such mailbox');
    return info(row);
  }

  async hasMailbox(accountId: number, name: string): Promise<boolean> {
    return (await this.byName(accountId, name)) !== undefined;
  }

  async findMailbox(accountId: number, name: string): Promise<MailboxSummary | undefined> {
    const row = await this.byName(accountId, name);
    return row && summary(row);
  }

  async mailboxOwner(mailboxId: number): Promise<number | undefined> {
    return (await this.db.one<{ account_id: number }>('SELECT account_id FROM mailboxes WHERE id = $1', [mailboxId]))?.account_id;
  }

  async selectSummary(mailboxId: number): Promise<SelectSummary> {
    // One statement: one snapshot.
    const row = await this.db.one<{ uids: number[]; first_unseen: number | null; keywords: string[]; highest_modseq: number }>(
      `SELECT coalesce((SELECT array_agg(uid ORDER BY uid) FROM messages WHERE mailbox_id = b.id), '{}') AS uids,
              (SELECT min(uid) FROM messages WHERE mailbox_id = b.id AND NOT ('\\Seen' = ANY (flags))) AS first_unseen,
              b.keywords, b.highest_modseq
       FROM mailboxes b WHERE b.id = $1`,
      [mailboxId],
    );
    if (!row) return { uids: [], firstUnseenUid: undefined, keywords: [], highestModseq: 0 };
    return { uids: row.uids, firstUnseenUid: row.first_unseen ?? undefined, keywords: row.keywords, highestModseq: row.highest_modseq };
  }

  async expungedSince(mailboxId: number, modseq: number): Promise<number[]> {
    return (await this.db.query<{ uid: number }>('SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [mailboxId, modseq])).map((r) => r.uid);
  }

  async changesSince(mailboxId: number, modseq: number, accountId?: number): Promise<MailboxDelta | undefined> {
    // One statement: one snapshot.
    const row = await this.db.one<{ account_id: number; highest_modseq: number; keywords: string[]; changed: Array<[number, number, string[]]>; expunged: number[] }>(
      `SELECT b.account_id, b.highest_modseq, b.keywords,
              coalesce((SELECT json_agg(json_build_array(uid, modseq, flags) ORDER BY uid) FROM messages WHERE mailbox_id = b.id AND modseq > $2), '[]') AS changed,
              coalesce((SELECT array_agg(uid ORDER BY uid) FROM expunged WHERE mailbox_id = b.id AND modseq > $2), '{}') AS expunged
       FROM mailboxes b WHERE b.id = $1`,
      [mailboxId, modseq],
    );
    if (!row || (accountId !== undefined && row.account_id !== accountId)) return undefined;
    if (row.highest_modseq <= modseq) return { highestModseq: row.highest_modseq, changed: [], expunged: [] };
    return {
      highestModseq: row.highest_modseq,
      changed: row.changed.map(([uid, m, flags]) => ({ uid, modseq: m, flags })),
      expunged: row.expunged,
      keywords: row.keywords,
    };
  }

  // ---- \Recent and counters ---------------------------------------------------

  async firstRecentUid(mailboxId: number): Promise<number> {
    return (await this.db.one<{ first_recent_uid: number }>('SELECT first_recent_uid FROM mailboxes WHERE id = $1', [mailboxId]))?.first_recent_uid ?? 1;
  }

  async claimRecent(mailboxId: number, uidNext: number): Promise<number> {
    // Under the row lock: of two claimers, one gets what the other does not.
    const first = await this.db.atomic(async () => {
      const row = await this.db.one<{ first_recent_uid: number }>('SELECT first_recent_uid FROM mailboxes WHERE id = $1 FOR UPDATE', [mailboxId]);
      if (!row) return 1;
      if (row.first_recent_uid < uidNext) await this.db.query('UPDATE mailboxes SET first_recent_uid = $2 WHERE id = $1', [mailboxId, uidNext]);
      return row.first_recent_uid;
    });
    return first >= uidNext ? uidNext : first;
  }

  async countFromUid(mailboxId: number, uid: number): Promise<number> {
    return (await this.db.one<{ n: number }>('SELECT count(*)::bigint AS n FROM messages WHERE mailbox_id = $1 AND uid >= $2', [mailboxId, uid]))!.n;
  }

  async deletedCount(mailboxId: number): Promise<number> {
    return (await this.db.one<{ n: number }>(`SELECT count(*)::bigint AS n FROM messages WHERE mailbox_id = $1 AND '\\Deleted' = ANY (flags)`, [mailboxId]))!.n;
  }

  // ---- create, delete, rename -------------------------------------------------

  async createMailbox(accountId: number, name: string, specialUse: SpecialUse | null = null): Promise<MailboxInfo> {
    const canonical = validateMailboxName(name);
    const row = await this.step(async () => {
      await this.lockAccount(accountId);
      if (await this.byName(accountId, canonical)) throw new MailError('ALREADYEXISTS', `mailbox ${canonical} exists already`);
      const mb = await this.addMailbox(accountId, canonical, specialUse);
      // A new mailbox is subscribed; past the cap it is created unsubscribed.
      await this.subscribeNew(accountId, canonical);
      return mb;
    }, () => [{ kind: 'mailboxes', accountId }]);
    return { ...summary(row), messages: 0, unseen: 0, size: 0 };
  }

  async deleteMailbox(accountId: number, name: string): Promise<void> {
    const gone = await this.step(async () => {
      const mb = await this.byName(accountId, name, true);
      if (!mb) throw new MailError('NONEXISTENT', `no such mailbox: ${name}`);
      if (mb.name === 'INBOX') throw new MailError('REFUSED', 'INBOX cannot be deleted');
      const hashes = await this.db.query<{ blob_hash: Buffer }>('SELECT DISTINCT blob_hash FROM messages WHERE mailbox_id = $1', [mb.id]);
      await this.db.query('DELETE FROM metadata WHERE account_id = $1 AND mailbox_id = $2', [accountId, mb.id]);
      await this.db.query('DELETE FROM mailboxes WHERE id = $1', [mb.id]);
      return hashes.map((h) => h.blob_hash);
    }, () => [{ kind: 'mailboxes', accountId }]);
    this.collectUnused(gone);
  }

  async renameMailbox(accountId: number, from: string, to: string): Promise<void> {
    await this.step(async (): Promise<MailboxChange[]> => {
      await this.lockAccount(accountId);
      const src = await this.byName(accountId, from, true);
      if (!src) throw new MailError('NONEXISTENT', `no such mailbox: ${from}`);
      const target = validateRenameTarget(src.name, to);
      if (await this.byName(accountId, target)) throw new MailError('ALREADYEXISTS', `mailbox ${target} exists already`);
      if (src.name === 'INBOX') return this.renameInbox(accountId, src, target);
      // The mailbox and its children, in one statement (the name's uniqueness is checked at its end).
      const prefix = src.name + '/';
      const children = await this.db.query<{ name: string }>(
        'SELECT name FROM mailboxes WHERE account_id = $1 AND left(name, length($2)) = $2',
        [accountId, prefix],
      );
      // Each new name within the limits a new mailbox has (too long or too deep: BADINPUT, nothing renamed).
      for (const child of children) renamedMailboxName(child.name, src.name, target);
      const clash = await this.db.one<{ name: string }>(
        `SELECT t.name FROM mailboxes c JOIN mailboxes t ON t.account_id = c.account_id AND t.name = $3 || substr(c.name, length($2) + 1)
         WHERE c.account_id = $1 AND left(c.name, length($4)) = $4 AND t.id <> c.id LIMIT 1`,
        [accountId, src.name, target, prefix],
      );
      if (clash) throw new MailError('ALREADYEXISTS', `mailbox ${clash.name} exists already`);
      await this.db.query(
        `UPDATE mailboxes SET name = $3 || substr(name, length($2) + 1)
         WHERE account_id = $1 AND (name = $2 OR left(name, length($4)) = $4)`,
        [accountId, src.name, target, prefix],
      );
      return [];
    }, (changes) => [...changes, { kind: 'mailboxes', accountId }]);
  }

  /**
   * RFC 3501: INBOX's messages move to a new mailbox (new UIDVALIDITY,
   * unsubscribed) and INBOX stays, empty, with its children; each message
   * that left is an expunge of INBOX (RFC 7162 VANISHED).
   */
  private async renameInbox(accountId: number, src: MailboxRow, target: string): Promise<MailboxChange[]> {
    const dst = await this.addMailbox(accountId, target, null);
    const moved = await this.db.query<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid', [src.id]);
    const n = moved.length;
    const changes: MailboxChange[] = [];
    if (n > 0) {
      // New UIDs 1..n and MODSEQs 2..n+1 in the new mailbox, in the old UID order; INBOX logs each as an expunge.
      await this.db.query(
        `UPDATE messages m SET mailbox_id = $2, uid = o.rank, modseq = $3 + o.rank
         FROM (SELECT uid, row_number() OVER (ORDER BY uid) AS rank FROM messages WHERE mailbox_id = $1) o
         WHERE m.mailbox_id = $1 AND m.uid = o.uid`,
        [src.id, dst.id, dst.highest_modseq],
      );
      await this.db.query('UPDATE mailboxes SET uid_next = $2, highest_modseq = $3, keywords = $4 WHERE id = $1', [
        dst.id,
        n + 1,
        dst.highest_modseq + n,
        src.keywords,
      ]);
      await this.db.query(
        `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $2 + ordinality FROM unnest($3::bigint[]) WITH ORDINALITY AS t (u, ordinality)
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
        [src.id, src.highest_modseq, moved.map((m) => m.uid)],
      );
      moved.forEach((m, i) => changes.push({ kind: 'expunge', accountId, mailboxId: src.id, uid: m.uid, modseq: src.highest_modseq + i + 1 }));
    }
    await this.db.query('UPDATE mailboxes SET highest_modseq = highest_modseq + $2 WHERE id = $1', [src.id, n + 1]);
    return changes;
  }

  // ---- subscriptions ------------------------------------------------------------

  async addSubscription(accountId: number, name: string): Promise<void> {
    const canonical = validateMailboxName(name);
    await this.step(async () => {
      await this.lockAccount(accountId);
      if (await this.db.one('SELECT 1 FROM subscriptions WHERE account_id = $1 AND name = $2', [accountId, canonical])) return;
      const { n } = (await this.db.one<{ n: number }>('SELECT count(*)::bigint AS n FROM subscriptions WHERE account_id = $1', [accountId]))!;
      if (n >= MAX_SUBSCRIPTIONS) throw new MailError('LIMIT', `too many subscriptions (at most ${MAX_SUBSCRIPTIONS})`);
      await this.db.query('INSERT INTO subscriptions (account_id, name) VALUES ($1, $2)', [accountId, canonical]);
    }, () => [{ kind: 'mailboxes', accountId }]);
  }

  async removeSubscription(accountId: number, name: string): Promise<void> {
    const canonical = validateMailboxName(name);
    await this.step(() => this.db.query('DELETE FROM subscriptions WHERE account_id = $1 AND name = $2', [accountId, canonical]), () => [{ kind: 'mailboxes', accountId }]);
  }

  async listSubscriptions(accountId: number): Promise<string[]> {
    return (await this.db.query<{ name: string }>('SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name', [accountId])).map((r) => r.name);
  }

  // ---- append -------------------------------------------------------------------

  async append(accountId: number, mailbox: string, raw: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    const [result] = await this.appendMany(accountId, mailbox, [{ raw, options }]);
    return result!;
  }

  async appendMany(accountId: number, mailbox: string, messages: Array<{ raw: Buffer; options?: AppendOptions }>): Promise<AppendResult[]> {
    const prepared: NewMessage[] = messages.map(({ raw, options = {} }) => {
      let mime: string | null = null;
      try {
        mime = this.indexer(raw, options.message);
      } catch {
        mime = null;
      }
      return {
        hash: sha256(raw),
        raw: Buffer.from(raw),
        flags: normalizeFlags(options.flags ?? []),
        internalDate: options.internalDate ?? Date.now(),
        size: raw.length,
        mime,
        bodyId: newBodyId(),
        pop3Uidl: pop3UidlColumn(options.pop3Uidl),
        ignoreQuota: options.ignoreQuota === true,
      };
    });
    const { results } = await this.withBodies(prepared, async () => {
      // A turn for callers made at the same moment (a DELETE of the mailbox asked right after) to go first.
      await new Promise((resolve) => setImmediate(resolve));
      return this.step(async () => {
        if (prepared.length > 0) await this.storeBodies(prepared);
        const limit = await this.quotaLock(accountId, prepared);
        const mb = await this.byName(accountId, mailbox, true);
        if (!mb) throw new MailError('NONEXISTENT', `no such mailbox: ${mailbox}`);
        return this.insertMessages(mb, prepared, limit);
      }, (r) => r.changes);
    });
    return results;
  }

  /**
   * Stores the bodies ahead (prepare), then runs the change that names
   * them; when that fails (refused over quota, say), they are discarded
   * again unless a message names them (appends and imports are never part
   * of a unit of work, so a failure here is final).
   */
  private async withBodies<T>(items: NewMessage[], change: () => Promise<T>): Promise<T> {
    try {
      // Bodies that can be stored ahead (files) are, before any lock is taken.
      await this.blobs.prepare(bodiesOf(items));
      return await change();
    } catch (err) {
      const hashes = bodiesOf(items).map((b) => b.hash);
      if (hashes.length > 0) {
        this.pending = this.pending.then(() =>
          this.blobs.discard(hashes).then(
            () => {},
            () => {},
          ),
        );
      }
      throw err;
    }
  }

  /** The new messages' bodies, stored and kept from removal until the step commits (a body already there is shared). */
  private async storeBodies(items: NewMessage[]): Promise<void> {
    await this.blobs.attach(bodiesOf(items));
  }

  /**
   * The account's limit when the group counts against it, with the account
   * row locked: appends of an account with a limit go one after another
   * from here to their commit, so each sees the usage the one before left.
   * Taken before any mailbox lock (the order every writer keeps).
   */
  private async quotaLock(accountId: number, items: ReadonlyArray<{ ignoreQuota: boolean }>): Promise<number | null> {
    if (items.every((i) => i.ignoreQuota)) return null;
    const row = await this.db.one<{ quota: number | null }>('SELECT quota FROM accounts WHERE id = $1', [accountId]);
    if (!row) throw new MailError('NONEXISTENT', 'no such account');
    if (row.quota === null) return null;
    return (await this.lockAccount(accountId)).quota;
  }

  /** Refuses a group that would take the account past its quota (messages with ignoreQuota do not count). */
  private async checkQuota(accountId: number, limit: number | null, items: ReadonlyArray<{ size: number; ignoreQuota: boolean }>): Promise<void> {
    const counted = items.filter((i) => !i.ignoreQuota).reduce((n, i) => n + i.size, 0);
    if (counted === 0 || limit === null) return;
    if ((await this.usedBytes(accountId)) + counted > limit) throw new MailError('OVERQUOTA', 'mailbox is full');
  }

  private async usedBytes(accountId: number): Promise<number> {
    return (await this.db.one<{ used: number }>('SELECT coalesce(sum(size), 0)::bigint AS used FROM messages WHERE account_id = $1', [accountId]))!.used;
  }

  /** Inserts messages into a locked mailbox: consecutive UIDs and MODSEQs from its counters. */
  private async insertMessages(mb: MailboxRow, items: NewMessage[], limit: number | null): Promise<{ results: AppendResult[]; changes: MailboxChange[] }> {
    if (items.length === 0) return { results: [], changes: [] };
    await this.checkQuota(mb.account_id, limit, items);
    const n = items.length;
    let keywords: string[] = mb.keywords;
    for (const i of items) keywords = withKeywords(keywords, i.flags);
    for (const i of items) i.flags = storableFlags(i.flags, keywords);
    await this.db.query('UPDATE mailboxes SET uid_next = uid_next + $2, highest_modseq = highest_modseq + $2, keywords = $3 WHERE id = $1', [mb.id, n, keywords]);
    const uids = items.map((_, k) => mb.uid_next + k);
    const modseqs = items.map((_, k) => mb.highest_modseq + k + 1);
    await this.db.query(
      `INSERT INTO messages (mailbox_id, uid, account_id, modseq, flags, internal_date, size, mime, body_id, blob_hash, pop3_uidl)
       SELECT $1, u, $2, m, ARRAY(SELECT e FROM json_array_elements_text(f) WITH ORDINALITY AS x (e, i) ORDER BY i), d, s, x, b, h, p
       FROM unnest($3::bigint[], $4::bigint[], $5::json[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bytea[], $11::text[]) AS t (u, m, f, d, s, x, b, h, p)`,
      [
        mb.id,
        mb.account_id,
        uids,
        modseqs,
        items.map((i) => JSON.stringify(i.flags)),
        items.map((i) => i.internalDate),
        items.map((i) => i.size),
        items.map((i) => i.mime),
        items.map((i) => i.bodyId),
        items.map((i) => i.hash),
        items.map((i) => i.pop3Uidl),
      ],
    );
    return {
      results: items.map((_, k) => ({ mailboxId: mb.id, uidValidity: mb.uid_validity, uid: uids[k]!, modseq: modseqs[k]! })),
      changes: items.map((i, k) => ({ kind: 'append', accountId: mb.account_id, mailboxId: mb.id, uid: uids[k]!, modseq: modseqs[k]!, flags: [...i.flags] })),
    };
  }

  // ---- import (the MailImport port) ------------------------------------------------
  // A folder brought from another server with its UIDVALIDITY and UIDs, as
  // storage/mail/import.ts does it: one batch is one transaction (bodies,
  // rows, counters), made or emptied first, then expunges, flags, new messages.

  async importedFolder(accountId: number, name: string): Promise<ImportedFolderState | undefined> {
    const mb = await this.byName(accountId, name);
    if (!mb) return undefined;
    const rows = await this.db.query<{ uid: number; flags: string[] }>('SELECT uid, flags FROM messages WHERE mailbox_id = $1 ORDER BY uid', [mb.id]);
    return { uidValidity: mb.uid_validity, uidNext: mb.uid_next, messages: rows.map((r) => ({ uid: r.uid, flags: r.flags })) };
  }

  async importFolder(accountId: number, batch: FolderImport): Promise<FolderImportResult> {
    const canonical = validateMailboxName(batch.name);
    checkBatch(batch);
    const adds = batch.add.map((m) => {
      let mime: string | null = null;
      try {
        mime = this.indexer(m.raw);
      } catch {
        mime = null; // stored all the same, as an append is
      }
      const item: NewMessage = {
        hash: sha256(m.raw),
        raw: Buffer.from(m.raw),
        flags: normalizeFlags(m.flags),
        internalDate: m.internalDate,
        size: m.raw.length,
        mime,
        bodyId: m.bodyId ?? newBodyId(),
        pop3Uidl: m.pop3Uidl ?? null,
        ignoreQuota: true,
      };
      return { uid: m.uid, modseq: m.modseq, item };
    });
    const items = adds.map((a) => a.item);
    const { result, gone } = await this.withBodies(items, () =>
      this.step(
        async () => {
          if (items.length > 0) await this.storeBodies(items);
          await this.lockAccount(accountId);
          return this.applyImport(accountId, canonical, batch, adds);
        },
        (r) => r.changes,
      ),
    );
    this.collectUnused(gone);
    return result;
  }

  /** Inside the batch's step, the account row locked. */
  private async applyImport(
    accountId: number,
    canonical: string,
    batch: FolderImport,
    adds: Array<{ uid: number; modseq?: number | undefined; item: NewMessage }>,
  ): Promise<{ result: FolderImportResult; changes: MailboxChange[]; gone: Buffer[] }> {
    const result: FolderImportResult = { created: false, replaced: false, added: 0, flagsChanged: 0, expunged: 0 };
    const changes: MailboxChange[] = [];
    let gone: Buffer[] = [];
    let mb = await this.byName(accountId, canonical, true);
    if (!mb) {
      mb = (await this.db.one<MailboxRow>(`INSERT INTO mailboxes (account_id, name, uid_validity) VALUES ($1, $2, $3) RETURNING ${MAILBOX_COLUMNS}`, [
        accountId,
        canonical,
        batch.uidValidity,
      ]))!;
      result.created = true;
    } else if (mb.uid_validity !== batch.uidValidity) {
      // The old UIDs mean nothing any more: every message goes, and the expunge log with them.
      gone = (await this.db.query<{ blob_hash: Buffer }>('DELETE FROM messages WHERE mailbox_id = $1 RETURNING blob_hash', [mb.id])).map((r) => r.blob_hash);
      await this.db.query('DELETE FROM expunged WHERE mailbox_id = $1', [mb.id]);
      mb = { ...mb, uid_validity: batch.uidValidity, uid_next: 1, keywords: [] };
      await this.db.query("UPDATE mailboxes SET uid_validity = $2, uid_next = 1, keywords = '{}', first_recent_uid = 1 WHERE id = $1", [mb.id, batch.uidValidity]);
      result.replaced = true;
    }
    // No mailbox made later may take this UIDVALIDITY or one below it.
    await this.db.query('UPDATE accounts SET uid_validity_high = greatest(uid_validity_high, $2) WHERE id = $1', [accountId, batch.uidValidity]);

    // Expunges: each a MODSEQ of its own, logged.
    const present = new Set(
      (await this.db.query<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[])', [mb.id, batch.expunge])).map((r) => r.uid),
    );
    const removed = await this.removeMessages(mb, [...new Set(batch.expunge)].filter((u) => present.has(u)));
    mb = { ...mb, highest_modseq: mb.highest_modseq + removed.expunged.length };
    changes.push(...removed.changes);
    gone = gone.concat(removed.gone);
    result.expunged = removed.expunged.length;

    // New flags of messages there already (the last change of a UID wins).
    const current = new Map(
      (await this.db.query<{ uid: number; flags: string[] }>('SELECT uid, flags FROM messages WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[])', [mb.id, batch.flags.map((f) => f.uid)])).map(
        (r) => [r.uid, r.flags],
      ),
    );
    let keywords = mb.keywords;
    let modseq = mb.highest_modseq;
    const flagged: Array<{ uid: number; modseq: number; flags: string[] }> = [];
    for (const change of batch.flags) {
      const old = current.get(change.uid);
      if (!old) continue;
      const flags = normalizeFlags(change.flags);
      if (sameFlags(flags, old)) continue;
      current.set(change.uid, flags);
      keywords = withKeywords(keywords, flags);
      const q = change.modseq ?? modseq + 1;
      modseq = Math.max(modseq, q);
      flagged.push({ uid: change.uid, modseq: q, flags });
      changes.push({ kind: 'flags', accountId, mailboxId: mb.id, uid: change.uid, modseq: q, flags: [...flags] });
    }
    if (flagged.length > 0) {
      await this.db.query(
        `UPDATE messages m SET modseq = t.q, flags = ARRAY(SELECT e FROM json_array_elements_text(t.f) WITH ORDINALITY AS x (e, i) ORDER BY i)
         FROM (SELECT DISTINCT ON (u) u, q, f FROM unnest($2::bigint[], $3::bigint[], $4::json[]) AS s (u, q, f) ORDER BY u, q DESC) AS t
         WHERE m.mailbox_id = $1 AND m.uid = t.u`,
        [mb.id, flagged.map((f) => f.uid), flagged.map((f) => f.modseq), flagged.map((f) => JSON.stringify(f.flags))],
      );
    }
    result.flagsChanged = flagged.length;

    // New messages, under the source's UIDs: never one given out here already.
    const low = adds.find((a) => a.uid < mb.uid_next);
    if (low) throw new MailError('REFUSED', `UID ${low.uid} of ${canonical} is below its UIDNEXT ${mb.uid_next}: it was given out already`);
    // A MODSEQ kept from the source (a move between backends), else a new one.
    const modseqs = adds.map((a) => {
      const q = a.modseq ?? modseq + 1;
      modseq = Math.max(modseq, q);
      return q;
    });
    for (const a of adds) keywords = withKeywords(keywords, a.item.flags);
    if (adds.length > 0) {
      await this.db.query(
        `INSERT INTO messages (mailbox_id, uid, account_id, modseq, flags, internal_date, size, mime, body_id, blob_hash, pop3_uidl)
         SELECT $1, u, $2, m, ARRAY(SELECT e FROM json_array_elements_text(f) WITH ORDINALITY AS x (e, i) ORDER BY i), d, s, x, b, h, p
         FROM unnest($3::bigint[], $4::bigint[], $5::json[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bytea[], $11::text[]) AS t (u, m, f, d, s, x, b, h, p)`,
        [
          mb.id,
          accountId,
          adds.map((a) => a.uid),
          modseqs,
          adds.map((a) => JSON.stringify(a.item.flags)),
          adds.map((a) => a.item.internalDate),
          adds.map((a) => a.item.size),
          adds.map((a) => a.item.mime),
          adds.map((a) => a.item.bodyId),
          adds.map((a) => a.item.hash),
          adds.map((a) => a.item.pop3Uidl),
        ],
      );
    }
    adds.forEach((a, k) => changes.push({ kind: 'append', accountId, mailboxId: mb.id, uid: a.uid, modseq: modseqs[k]!, flags: [...a.item.flags] }));
    result.added = adds.length;

    const uidNext = Math.max(adds.length > 0 ? adds[adds.length - 1]!.uid + 1 : mb.uid_next, mb.uid_next, batch.uidNext);
    modseq = Math.max(modseq, batch.highestModseq ?? 0);
    const vanished = batch.vanished ?? [];
    if (vanished.length > 0) {
      await this.db.query(
        `INSERT INTO expunged (mailbox_id, uid, modseq)
         SELECT $1, u, q FROM unnest($2::bigint[], $3::bigint[]) AS t (u, q)
         WHERE NOT EXISTS (SELECT 1 FROM messages WHERE mailbox_id = $1 AND uid = t.u)
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`,
        [mb.id, vanished.map((v) => v.uid), vanished.map((v) => v.modseq)],
      );
      modseq = Math.max(modseq, ...vanished.map((v) => v.modseq));
    }
    await this.db.query('UPDATE mailboxes SET uid_next = $2, highest_modseq = $3, keywords = $4 WHERE id = $1', [mb.id, uidNext, modseq, keywords]);
    if (result.created || result.replaced) changes.push({ kind: 'mailboxes', accountId });
    return { result, changes, gone };
  }

  // ---- reading ------------------------------------------------------------------

  async listMessages(mailboxId: number, fromUid = 1, toUid = Number.MAX_SAFE_INTEGER): Promise<MessageRecord[]> {
    return (
      await this.db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid BETWEEN $2 AND $3 ORDER BY uid`, [
        mailboxId,
        fromUid,
        toUid,
      ])
    ).map(record);
  }

  async getMessage(mailboxId: number, uid: number): Promise<MessageRecord | undefined> {
    const row = await this.db.one<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = $2`, [mailboxId, uid]);
    return row && record(row);
  }

  async readMessage(mailboxId: number, uid: number, maxBytes?: number): Promise<Buffer> {
    return this.blobs.read(mailboxId, uid, maxBytes);
  }

  // ---- flags, expunge, copy, move ----------------------------------------------

  async setFlags(mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): Promise<MessageRecord[]> {
    const wanted = normalizeFlags(flags);
    const { changed } = await this.step(async () => {
      const mb = await this.lockById(mailboxId);
      const rows = await this.db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[])`, [mailboxId, uids]);
      const byUid = new Map(rows.map((r) => [r.uid, r]));
      let modseq = mb.highest_modseq;
      const changed: MessageRecord[] = [];
      const changes: MailboxChange[] = [];
      const keywords = withKeywords(mb.keywords, wanted);
      const kept = mode === 'remove' ? wanted : storableFlags(wanted, keywords);
      // In the order asked (as the other backends; a UID asked twice changes once).
      for (const uid of uids) {
        const m = byUid.get(uid);
        if (!m) continue;
        if (unchangedSince !== undefined && m.modseq > unchangedSince) continue;
        const current = m.flags;
        let next: string[];
        if (mode === 'replace') next = kept;
        else if (mode === 'add') next = normalizeFlags([...current, ...kept]);
        else next = current.filter((f) => !wanted.includes(f));
        if (sameFlags(next, current)) continue;
        m.flags = [...next];
        m.modseq = ++modseq;
        changed.push(record(m));
        changes.push({ kind: 'flags', accountId: mb.account_id, mailboxId, uid, modseq: m.modseq, flags: [...next] });
      }
      if (changed.length > 0) {
        await this.db.query(
          `UPDATE messages m SET flags = ARRAY(SELECT e FROM json_array_elements_text(t.f) WITH ORDINALITY AS x (e, i) ORDER BY i), modseq = t.q
           FROM unnest($2::bigint[], $3::json[], $4::bigint[]) AS t (u, f, q) WHERE m.mailbox_id = $1 AND m.uid = t.u`,
          [mailboxId, changed.map((c) => c.uid), changed.map((c) => JSON.stringify(c.flags)), changed.map((c) => c.modseq)],
        );
      }
      if (changed.length > 0 || keywords.length !== mb.keywords.length) {
        await this.db.query('UPDATE mailboxes SET highest_modseq = $2, keywords = $3 WHERE id = $1', [mailboxId, modseq, keywords]);
      }
      return { changed, changes };
    }, (r) => r.changes);
    return changed;
  }

  async expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    const { expunged, gone } = await this.step(async () => {
      const mb = await this.lockById(mailboxId);
      let victims: number[];
      if (uids === undefined) {
        victims = (await this.db.query<{ uid: number }>(`SELECT uid FROM messages WHERE mailbox_id = $1 AND '\\Deleted' = ANY (flags) ORDER BY uid`, [mailboxId])).map((r) => r.uid);
      } else {
        const present = new Set((await this.db.query<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[])', [mailboxId, uids])).map((r) => r.uid));
        victims = [...new Set(uids)].filter((u) => present.has(u));
      }
      return this.removeMessages(mb, victims);
    }, (r) => r.changes);
    this.collectUnused(gone);
    return expunged;
  }

  /** Removes messages of a locked mailbox in the order given, each expunge a MODSEQ of its own, logged. */
  private async removeMessages(mb: MailboxRow, victims: number[]): Promise<{ expunged: number[]; changes: MailboxChange[]; gone: Buffer[] }> {
    if (victims.length === 0) return { expunged: [], changes: [], gone: [] };
    const modseqs = victims.map((_, k) => mb.highest_modseq + k + 1);
    const hashes = await this.db.query<{ blob_hash: Buffer }>('DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[]) RETURNING blob_hash', [mb.id, victims]);
    await this.db.query(
      `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, q FROM unnest($2::bigint[], $3::bigint[]) AS t (u, q)
       ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
      [mb.id, victims, modseqs],
    );
    await this.db.query('UPDATE mailboxes SET highest_modseq = $2 WHERE id = $1', [mb.id, mb.highest_modseq + victims.length]);
    return {
      expunged: victims,
      changes: victims.map((uid, k) => ({ kind: 'expunge', accountId: mb.account_id, mailboxId: mb.id, uid, modseq: modseqs[k]! })),
      gone: hashes.map((h) => h.blob_hash),
    };
  }

  /** Locks two mailboxes of one account in id order (two movers in opposite directions cannot deadlock). */
  private async lockPair(sourceId: number, targetId: number, what: 'copy' | 'move'): Promise<[MailboxRow, MailboxRow]> {
    const [first, second] = sourceId < targetId ? [sourceId, targetId] : [targetId, sourceId];
    const a = await this.lockById(first);
    const b = first === second ? a : await this.lockById(second);
    const source = a.id === sourceId ? a : b;
    const target = a.id === targetId ? a : b;
    if (source.account_id !== target.account_id) throw new MailError('REFUSED', `${what} across accounts`);
    return [source, target];
  }

  async copy(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    const { pairs } = await this.step(async () => {
      const owner = await this.mailboxOwner(mailboxId);
      const limit = owner === undefined ? null : await this.quotaLock(owner, [{ ignoreQuota: false }]);
      const [, target] = await this.lockPair(mailboxId, targetMailboxId, 'copy');
      const rows = await this.db.query<MessageRow & { blob_hash: Buffer }>(
        `SELECT ${MESSAGE_COLUMNS}, blob_hash FROM messages WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[]) ORDER BY uid`,
        [mailboxId, uids],
      );
      // Each copy has a body id of its own; the body itself is shared.
      const items: NewMessage[] = rows.map((r) => ({
        hash: r.blob_hash,
        flags: r.flags,
        internalDate: r.internal_date,
        size: r.size,
        mime: r.mime,
        bodyId: newBodyId(),
        pop3Uidl: r.pop3_uidl,
        ignoreQuota: false,
      }));
      const { results, changes } = await this.insertMessages(target, items, limit);
      return { pairs: results.map((r, i): [number, number] => [rows[i]!.uid, r.uid]), changes };
    }, (r) => r.changes);
    return pairs;
  }

  async move(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    const { pairs } = await this.step(async (): Promise<{ pairs: Array<[number, number]>; changes: MailboxChange[] }> => {
      const [source, target] = await this.lockPair(mailboxId, targetMailboxId, 'move');
      if (source.id === target.id) throw new MailError('BADINPUT', 'move into the same mailbox');
      const rows = await this.db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[]) ORDER BY uid`, [
        mailboxId,
        uids,
      ]);
      if (rows.length === 0) return { pairs: [], changes: [] };
      const n = rows.length;
      let keywords = target.keywords;
      for (const r of rows) keywords = withKeywords(keywords, r.flags);
      // The rows change mailbox, UID and MODSEQ in place: body, body id and flags stay.
      const newUids = rows.map((_, k) => target.uid_next + k);
      const newModseqs = rows.map((_, k) => target.highest_modseq + k + 1);
      await this.db.query(
        `UPDATE messages m SET mailbox_id = $2, uid = t.nu, modseq = t.nq
         FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS t (ou, nu, nq) WHERE m.mailbox_id = $1 AND m.uid = t.ou`,
        [source.id, target.id, rows.map((r) => r.uid), newUids, newModseqs],
      );
      // A keyword the target's full list has no place for stays behind (as on the other backends).
      const kept = rows.map((r) => storableFlags(r.flags, keywords));
      const trimmed = kept.flatMap((f, k) => (f.length === rows[k]!.flags.length ? [] : [k]));
      if (trimmed.length > 0) {
        await this.db.query(
          `UPDATE messages m SET flags = ARRAY(SELECT e FROM json_array_elements_text(t.f) WITH ORDINALITY AS x (e, i) ORDER BY i)
           FROM unnest($2::bigint[], $3::json[]) AS t (u, f) WHERE m.mailbox_id = $1 AND m.uid = t.u`,
          [target.id, trimmed.map((k) => newUids[k]!), trimmed.map((k) => JSON.stringify(kept[k]))],
        );
      }
      await this.db.query('UPDATE mailboxes SET uid_next = uid_next + $2, highest_modseq = highest_modseq + $2, keywords = $3 WHERE id = $1', [target.id, n, keywords]);
      const gone = rows.map((_, k) => source.highest_modseq + k + 1);
      await this.db.query(
        `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, q FROM unnest($2::bigint[], $3::bigint[]) AS t (u, q)
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
        [source.id, rows.map((r) => r.uid), gone],
      );
      await this.db.query('UPDATE mailboxes SET highest_modseq = highest_modseq + $2 WHERE id = $1', [source.id, n]);
      const changes: MailboxChange[] = [];
      rows.forEach((r, k) => {
        changes.push({ kind: 'expunge', accountId: source.account_id, mailboxId: source.id, uid: r.uid, modseq: gone[k]! });
        changes.push({ kind: 'append', accountId: target.account_id, mailboxId: target.id, uid: newUids[k]!, modseq: newModseqs[k]!, flags: [...kept[k]!] });
      });
      return { pairs: rows.map((r, k): [number, number] => [r.uid, newUids[k]!]), changes };
    }, (r) => r.changes);
    return pairs;
  }

  async quota(accountId: number): Promise<Quota> {
    const row = await this.db.one<{ quota: number | null; used: number; n: number }>(
      `SELECT a.quota, coalesce(sum(m.size), 0)::bigint AS used, count(m.uid)::bigint AS n
       FROM accounts a LEFT JOIN messages m ON m.account_id = a.id WHERE a.id = $1 GROUP BY a.id`,
      [accountId],
    );
    if (!row) throw new MailError('NONEXISTENT', 'no such account');
    return { limit: row.quota, usedBytes: row.used, usedMessages: row.n };
  }

  // ---- bodies no message uses -------------------------------------------------

  /**
   * Removes the bodies no message uses any more, once the change that
   * dropped their last message has committed (called after its atomic step:
   * inside a unit of work, afterCommit waits for the unit). Best effort: a
   * body that a message took again meanwhile stays (blobs.ts: under its
   * row's lock), and one left behind costs room, not mail.
   */
  private collectUnused(hashes: Buffer[]): void {
    if (hashes.length === 0) return;
    afterCommit(() => {
      this.pending = this.pending.then(() =>
        this.blobs.collect(hashes).then(
          () => {},
          () => {},
        ),
      );
    });
  }

  /** The body collections in flight (drain waits for them). */
  private pending: Promise<void> = Promise.resolve();

  async drain(): Promise<void> {
    await this.pending;
  }
}
