// The messages of the mail index: rows in UID order, bodies read from the
// blob store (asynchronously), and the changes that rename or remove bodies
// with their rows in one transaction: flags, expunge, copy and move.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AppendOptions, FlagMode, LentBytes, MailboxChange, MaildropEntry, MessageRecord } from '../ports.js';
import { ownedBytes } from '../maildir/blob-reader.js';
import { MailError } from '../errors.js';
import { findMessageFile } from '../maildir/files.js';
import { baseOfPath, flagSuffix, messageFileName } from '../maildir/names.js';
import { normalizeFlags, storableFlags } from '../flags.js';
import { splitFlags, toRecord, type MessageRow } from '../index/mail-rows.js';
import type { MailCore } from './core.js';
import type { AppendBatcher } from './append-batcher.js';
import { IS_DELETED } from '../schema/sqlite.js';
import { ListedRows, type ListedRow } from './listed-rows.js';

function listedRow(row: MessageRow): ListedRow {
  return { modseq: row.modseq, record: toRecord(row), ref: row.path };
}

/** The \Deleted messages of a mailbox, ascending. */
const DELETED_UIDS = `SELECT uid FROM messages INDEXED BY messages_deleted WHERE mailbox_id = ? AND ${IS_DELETED} ORDER BY uid`;

/** Looks at the row again this many times when the file moved away before it was read. */
const READ_ATTEMPTS = 5;

/** Messages read into memory at once by COPY. */
const COPY_SLICE = 64;

/** Rows whose records and refs list() keeps for the lists and reads that follow, in all (see ListedRows), and their characters. */
const LISTED_MAX_ROWS = 4000;
const LISTED_MAX_CHARS = 4_000_000;
/** Mailboxes whose listed rows are kept. */
const LISTED_MAILBOXES = 16;

/**
 * A POP3 login lists the whole INBOX, then reads it all: the body names of
 * a maildrop listing of at most this many rows are kept (names only, about
 * 100 bytes each), so a read needs no index lookup.
 */
const MAILDROP_REFS_MAX_ROWS = 100_000;
/** Maildrop names kept over all mailboxes (the oldest listings go first), and of how many mailboxes. */
const MAILDROP_REFS_TOTAL = 200_000;
const MAILDROP_REFS_MAILBOXES = 16;

/** What list() asks first when it has rows kept: UID and MODSEQ from the covering index, not whole rows. */
const LIST_HEADS = 'SELECT uid, modseq FROM messages INDEXED BY messages_summary WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid';
const LIST_ROWS = 'SELECT * FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid';

export class Messages {
  /**
   * The rows list() gave lately, as records with their refs: a later list()
   * reuses the records of rows whose MODSEQ did not change, and a read tries
   * the listed ref before asking the index for it again.
   */
  private readonly listed = new ListedRows(LISTED_MAX_ROWS, LISTED_MAX_CHARS, LISTED_MAILBOXES);
  /**
   * The body names the last maildrop listings gave, per mailbox. As a
   * listed ref, a name can only be out of date, never another message's;
   * \Seen renames made here update it (a download renames what it reads next).
   */
  private readonly maildropRefs = new Map<number, Map<number, string>>();

  constructor(
    private readonly core: MailCore,
    private readonly batcher: AppendBatcher,
  ) {}

  /** The rows of [fromUid, toUid], ascending. Records may be shared with other callers: read-only. */
  list(mailboxId: number, fromUid = 1, toUid = Number.MAX_SAFE_INTEGER): MessageRecord[] {
    const { core } = this;
    return core.readSnapshot(() => {
      const uidValidity = core.sql('SELECT uidvalidity FROM mailboxes WHERE id = ?').pluck().get(mailboxId) as number | undefined;
      if (uidValidity === undefined) return [];
      const kept = this.listed.rows(mailboxId, uidValidity);
      let rows: ListedRow[] | undefined;
      if (kept !== undefined) {
        const heads = core.sql(LIST_HEADS).raw().all(mailboxId, fromUid, toUid) as Array<[number, number]>;
        let misses = 0;
        for (const [uid, modseq] of heads) if (kept.get(uid)?.modseq !== modseq) misses++;
        // A few changed rows are read one by one; many, all at once.
        if (misses * 4 <= heads.length) {
          rows = [];
          for (const [uid, modseq] of heads) {
            const hit = kept.get(uid);
            if (hit?.modseq === modseq) rows.push(hit);
            else {
              const row = core.messageRow(mailboxId, uid);
              if (row) rows.push(listedRow(row));
            }
          }
        }
      }
      rows ??= (core.sql(LIST_ROWS).all(mailboxId, fromUid, toUid) as MessageRow[]).map(listedRow);
      this.listed.keep(mailboxId, uidValidity, fromUid, toUid, rows);
      return rows.map((r) => r.record);
    });
  }

  /**
   * What a POP3 login needs, without the MIME index's JSON (most of a row):
   * only whether it says the body has no bare LF and no line starting with
   * ".", asked of SQLite.
   */
  listMaildrop(mailboxId: number): MaildropEntry[] {
    const rows = this.core.sql(
      `SELECT uid, size, flags, path, pop3_uidl, coalesce(instr(mime, '"bareLf":false') > 0, 0) AS crlf,
         coalesce(instr(mime, '"dotLines":false') > 0, 0) AS dot_free FROM messages WHERE mailbox_id = ? ORDER BY uid`,
    ).all(mailboxId) as Array<Pick<MessageRow, 'uid' | 'size' | 'flags' | 'path' | 'pop3_uidl'> & { crlf: number; dot_free: number }>;
    if (rows.length > 0 && rows.length <= MAILDROP_REFS_MAX_ROWS) this.keepMaildropRefs(mailboxId, rows);
    return rows.map((r) => ({
      uid: r.uid,
      size: r.size,
      seen: splitFlags(r.flags).includes('\\Seen'),
      bodyId: baseOfPath(r.path),
      ...(r.pop3_uidl ? { pop3Uidl: r.pop3_uidl } : {}),
      crlfOnly: r.crlf === 1,
      dotFree: r.dot_free === 1,
    }));
  }

  private keepMaildropRefs(mailboxId: number, rows: Array<Pick<MessageRow, 'uid' | 'path'>>): void {
    const refs = new Map<number, string>();
    for (const r of rows) refs.set(r.uid, r.path);
    this.maildropRefs.delete(mailboxId);
    this.maildropRefs.set(mailboxId, refs);
    let total = 0;
    for (const kept of this.maildropRefs.values()) total += kept.size;
    while (this.maildropRefs.size > MAILDROP_REFS_MAILBOXES || total > MAILDROP_REFS_TOTAL) {
      const [oldest, kept] = this.maildropRefs.entries().next().value!;
      this.maildropRefs.delete(oldest);
      total -= kept.size;
    }
  }

  /** The message's file was renamed (to `renamed`) or removed here. */
  private forgetRef(mailboxId: number, uid: number, renamed?: string): void {
    if (renamed !== undefined) this.listed.renamed(mailboxId, uid, renamed);
    else this.listed.forget(mailboxId, uid);
    const refs = this.maildropRefs.get(mailboxId);
    if (refs?.has(uid)) {
      if (renamed !== undefined) refs.set(uid, renamed);
      else refs.delete(uid);
    }
  }

  get(mailboxId: number, uid: number): MessageRecord | undefined {
    const row = this.core.messageRow(mailboxId, uid);
    return row && toRecord(row);
  }

  /** The body's ref as the index has it now (not the whole row: its MIME JSON is large). */
  private ref(mailboxId: number, uid: number): string | undefined {
    return this.core.sql('SELECT path FROM messages WHERE mailbox_id = ? AND uid = ?').pluck().get(mailboxId, uid) as string | undefined;
  }

  /**
   * The body; with maxBytes, its first maxBytes bytes (or all of it, when
   * shorter). A listed ref is tried first, with no index lookup and no async
   * function's own promise (a download reads thousands in a row).
   */
  read(mailboxId: number, uid: number, maxBytes?: number): Promise<Buffer> {
    let location: string;
    let listed: string | undefined;
    try {
      location = this.core.locationById(mailboxId);
      listed = this.listedRef(mailboxId, uid);
    } catch (err) {
      return Promise.reject(err);
    }
    if (listed === undefined) return this.readByIndex(mailboxId, uid, location, maxBytes);
    return this.core.blobs.read(location, listed, maxBytes).then(
      (raw) => {
        if (raw !== undefined) return raw;
        // Renamed or removed since it was listed: asked of the index.
        this.forgetRef(mailboxId, uid);
        return this.readByIndex(mailboxId, uid, location, maxBytes);
      },
      (err: unknown) => {
        throw new MailError('TEMPFAIL', 'cannot read the message', { cause: err });
      },
    );
  }

  /** The message's ref as a listing gave it (a FETCH's or a POP3 login's), if one did: no index lookup. */
  private listedRef(mailboxId: number, uid: number): string | undefined {
    return this.listed.ref(mailboxId, uid) ?? this.maildropRefs.get(mailboxId)?.get(uid);
  }

  /**
   * The whole bodies of `uids`, in memory lent by the blob store, read in
   * one hand-off (see MailPort.readMessagesLent): for each, in order, its
   * bytes or its error (NONEXISTENT: expunged). Listed refs are read
   * together; a message without one, or whose file has moved since, is
   * asked of the index on its own.
   */
  async readManyLent(mailboxId: number, uids: readonly number[]): Promise<Array<LentBytes | Error>> {
    const location = this.core.locationById(mailboxId);
    const results = new Array<LentBytes | Error>(uids.length);
    const refs: string[] = [];
    /** Where each listed read goes in results. */
    const at: number[] = [];
    const unlisted: number[] = [];
    uids.forEach((uid, index) => {
      const listed = this.listedRef(mailboxId, uid);
      if (listed === undefined) unlisted.push(index);
      else {
        refs.push(listed);
        at.push(index);
      }
    });
    const read = await this.core.blobs.readManyLent(location, refs);
    for (let i = 0; i < read.length; i++) {
      const r = read[i];
      if (r === undefined) {
        // Renamed or removed since it was listed: asked of the index.
        this.forgetRef(mailboxId, uids[at[i]!]!);
        unlisted.push(at[i]!);
      } else results[at[i]!] = r instanceof Error ? new MailError('TEMPFAIL', 'cannot read the message', { cause: r }) : r;
    }
    for (const index of unlisted) {
      results[index] = await this.readByIndex(mailboxId, uids[index]!, location, undefined).then(ownedBytes, (err: Error) => err);
    }
    return results;
  }

  /** The body, its file named by the index now. */
  private async readByIndex(mailboxId: number, uid: number, location: string, maxBytes: number | undefined): Promise<Buffer> {
    const { core } = this;
    // A flag change (here or in another process) renames the file, and may
    // do so between our look at the row and the read: then the file is
    // looked for by its base name (which also finds one a rename whose index
    // change failed left under another name), and if it moved again
    // meanwhile, the row is asked again. Gone from the row: expunged.
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const ref = this.ref(mailboxId, uid);
      if (ref === undefined) throw new MailError('NONEXISTENT', 'no such message');
      try {
        const raw = await core.blobs.read(location, ref, maxBytes);
        if (raw !== undefined) return raw;
      } catch (err) {
        throw new MailError('TEMPFAIL', 'cannot read the message', { cause: err });
      }
      // Usually a flag change renamed it just now and the row has the new
      // name: asked again before the folder is listed (a readdir of a large folder).
      const now = this.ref(mailboxId, uid);
      if (now === undefined) throw new MailError('NONEXISTENT', 'no such message');
      try {
        if (now !== ref) {
          const raw = await core.blobs.read(location, now, maxBytes);
          if (raw !== undefined) return raw;
          continue;
        }
        const at = await core.blobs.find(location, ref);
        const found = at === undefined ? undefined : await core.blobs.read(location, at, maxBytes);
        if (found !== undefined) return found;
      } catch (err) {
        throw new MailError('TEMPFAIL', 'cannot read the message', { cause: err });
      }
    }
    throw new MailError('TEMPFAIL', 'cannot read the message: it keeps moving');
  }

  /** The message file's absolute path (tests look at the file's name). */
  path(mailboxId: number, uid: number): string {
    const { core } = this;
    const row = core.messageRow(mailboxId, uid);
    if (!row) throw new MailError('NONEXISTENT', 'no such message');
    const folder = core.folderPath(core.mailboxById(mailboxId));
    if (existsSync(path.join(folder, row.path))) return path.join(folder, row.path);
    const found = findMessageFile(folder, row.path);
    return path.join(folder, found ?? row.path);
  }

  /**
   * Flags are in the file names (Maildir is the source of truth): the
   * renames are made durable by an fsync of their directories, in the writer
   * threads after the commit (not on the event loop inside it), and the
   * promise resolves only then, so the reply to STORE follows a durable
   * rename. A crash before that fsync leaves the file under either name;
   * recovery finds it by its base name either way.
   */
  async setFlags(mailboxId: number, uids: number[], mode: FlagMode, flags: string[], unchangedSince?: number): Promise<MessageRecord[]> {
    const { core } = this;
    const wanted = normalizeFlags(flags);
    const changed: MessageRecord[] = [];
    const changes: MailboxChange[] = [];
    const touched = new Set<string>();
    core.tx(() => {
      const mb = core.mailboxById(mailboxId);
      const keywords = core.ensureKeywords(mb, wanted);
      const kept = mode === 'remove' ? wanted : storableFlags(wanted, keywords);
      const folder = core.folderPath(mb);
      let modseq = mb.highestmodseq;
      for (const uid of uids) {
        const row = core.messageRow(mailboxId, uid);
        if (!row) continue;
        if (unchangedSince !== undefined && row.modseq > unchangedSince) continue;
        const current = splitFlags(row.flags);
        let next: string[];
        if (mode === 'replace') next = kept;
        else if (mode === 'add') next = normalizeFlags([...current, ...kept]);
        else next = current.filter((f) => !wanted.includes(f));
        if (next.length === current.length && next.every((f) => current.includes(f))) continue;
        modseq += 1;
        let newPath = row.path;
        const oldName = row.path.slice(row.path.indexOf('/') + 1);
        const oldSuffix = oldName.includes(':2,') ? oldName.slice(oldName.indexOf(':2,') + 3) : '';
        const suffix = flagSuffix(next, keywords);
        if (suffix !== oldSuffix || row.path.startsWith('new/')) {
          const mainPart = oldName.includes(':2,') ? oldName.slice(0, oldName.indexOf(':2,')) : oldName;
          newPath = `cur/${mainPart}:2,${suffix}`;
          // Undone if the transaction fails (a full disk at COMMIT): the row keeps naming the file.
          core.blobs.move(core.fileChanges(), folder, row.path, path.join(folder, newPath));
          touched.add(path.join(folder, 'cur'));
          // Should the transaction fail, the ref names a file that is not there: the read asks the row.
          this.forgetRef(mailboxId, uid, newPath);
        }
        core.sql('UPDATE messages SET flags = ?, modseq = ?, path = ? WHERE mailbox_id = ? AND uid = ?')
          .run(next.join(' '), modseq, newPath, mailboxId, uid);
        changed.push(toRecord({ ...row, flags: next.join(' '), modseq, path: newPath }));
        changes.push({ kind: 'flags', accountId: mb.account_id, mailboxId, uid, modseq, flags: next });
      }
      core.sql('UPDATE mailboxes SET highestmodseq = ? WHERE id = ?').run(modseq, mailboxId);
    });
    await this.madeDurable(touched, changes);
    return changed;
  }

  /**
   * After a commit that renamed or removed message files: their directories
   * fsynced in the writer threads, then the changes told. Inside a unit of
   * work this runs before the unit's COMMIT.
   */
  private async madeDurable(dirs: Set<string>, changes: MailboxChange[]): Promise<void> {
    const { core } = this;
    // Told in commit order whatever the fsyncs' order (see MailCore.holdPlace).
    const tell = changes.length > 0 ? core.holdPlace() : undefined;
    try {
      if (dirs.size > 0) await core.blobs.sync(dirs);
    } finally {
      // Told even when the fsync failed: the index has the change already.
      tell?.(changes);
    }
  }

  /**
   * The files go to tmp/ inside the transaction and are deleted after it;
   * the removal from new/ and cur/ is made durable by fsyncs of those
   * directories in the writer threads after the commit, before the promise
   * resolves (so before the reply to EXPUNGE). A crash before those fsyncs
   * may bring a file back, which recovery adopts again: never lost.
   */
  async expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    const { core } = this;
    const expunged: number[] = [];
    const changes: MailboxChange[] = [];
    const touched = new Set<string>();
    core.tx(() => {
      const mb = core.mailboxById(mailboxId);
      const folder = core.folderPath(mb);
      // Without UIDs, the \Deleted ones from their partial index (a scan of
      // the rows would read every message's MIME index).
      const wanted = uids ?? (core.sql(DELETED_UIDS).pluck().all(mailboxId) as number[]);
      const rows = wanted.map((u) => core.messageRow(mailboxId, u)).filter((r) => r !== undefined);
      let modseq = mb.highestmodseq;
      let bytes = 0;
      for (const row of rows) {
        // Into tmp/ now, deleted after the commit (or kept a while for the sessions that still number it): a failed commit puts it back.
        const keep = core.expunged.wanted(mailboxId, row.uid)
          ? (hidden: string) => core.expunged.keep(mailboxId, () => toRecord(row), row.uid, hidden)
          : undefined;
        const removed = core.blobs.take(core.fileChanges(), folder, row.path, keep);
        this.forgetRef(mailboxId, row.uid);
        touched.add(path.join(folder, (removed ?? row.path).slice(0, 3)));
        modseq += 1;
        core.sql('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?').run(mailboxId, row.uid);
        core.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(mailboxId, row.uid, modseq);
        bytes += row.size;
        expunged.push(row.uid);
        changes.push({ kind: 'expunge', accountId: mb.account_id, mailboxId, uid: row.uid, modseq });
      }
      if (expunged.length === 0) return;
      core.sql('UPDATE mailboxes SET highestmodseq = ? WHERE id = ?').run(modseq, mailboxId);
      core.sql('UPDATE accounts SET used_bytes = used_bytes - ?, used_messages = used_messages - ? WHERE id = ?')
        .run(bytes, expunged.length, mb.account_id);
      // Record the UID floor beside the files, so a rebuilt index never reuses an expunged UID.
      core.saveMeta(core.mailboxById(mailboxId));
    });
    if (expunged.length === 0) return expunged;
    await this.madeDurable(touched, changes);
    return expunged;
  }

  /**
   * Copies in ascending source UID order, so the copies get ascending UIDs
   * in the same order (RFC 4315 COPYUID); in slices of COPY_SLICE messages,
   * each stored as a unit, so a big COPY never holds every message at once.
   */
  async copy(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    const target = this.core.mailboxById(targetMailboxId);
    const source = this.core.mailboxById(mailboxId);
    if (source.account_id !== target.account_id) throw new MailError('REFUSED', 'copy across accounts');
    const pairs: Array<[number, number]> = [];
    const sorted = [...new Set(uids)].sort((x, y) => x - y);
    for (let at = 0; at < sorted.length; at += COPY_SLICE) {
      const records = sorted.slice(at, at + COPY_SLICE).map((uid) => this.get(mailboxId, uid)).filter((r) => r !== undefined);
      // Read together: the blob store reads them in batches.
      const raws = await Promise.all(records.map((rec) => this.read(mailboxId, rec.uid)));
      const slice: Array<{ uid: number; raw: Buffer; options: AppendOptions }> = records.map((rec, i) => ({
        uid: rec.uid,
        raw: raws[i]!,
        options: { flags: rec.flags, internalDate: rec.internalDate, ...(rec.pop3Uidl ? { pop3Uidl: rec.pop3Uidl } : {}) },
      }));
      const stored = await this.batcher.appendGroup(target, slice);
      stored.forEach((r, i) => pairs.push([slice[i]!.uid, r.uid]));
    }
    return pairs;
  }

  /**
   * MOVE as one transaction: each file is renamed into the target folder
   * under its new UID, and the rows move with it, or (the transaction
   * failing) every rename is undone. A crash before the commit leaves each
   * file either still in the source, or in the target under a name that
   * carries its new UID, which recovery adopts there while dropping the
   * source row whose file is gone: in exactly one of the two either way.
   */
  async move(mailboxId: number, uids: number[], targetMailboxId: number): Promise<Array<[number, number]>> {
    const { core } = this;
    const pairs: Array<[number, number]> = [];
    const changes: MailboxChange[] = [];
    const touched = new Set<string>();
    /** Source rows a session still numbers: their records stay readable to it (the body went with the move). */
    const movedAway: MessageRow[] = [];
    core.tx(() => {
      const source = core.mailboxById(mailboxId);
      const target = core.mailboxById(targetMailboxId);
      if (source.account_id !== target.account_id) throw new MailError('REFUSED', 'move across accounts');
      if (source.id === target.id) throw new MailError('BADINPUT', 'move into the same mailbox');
      const from = core.folderPath(source);
      const to = core.folderPath(target);
      let uid = target.uidnext;
      let targetModseq = target.highestmodseq;
      let sourceModseq = source.highestmodseq;
      for (const oldUid of [...new Set(uids)].sort((x, y) => x - y)) {
        const row = core.messageRow(mailboxId, oldUid);
        if (!row) continue;
        if (core.expunged.wanted(mailboxId, oldUid)) movedAway.push(row);
        const keywords = core.ensureKeywords(target, splitFlags(row.flags));
        const flags = storableFlags(splitFlags(row.flags), keywords);
        const rel = `cur/${messageFileName(baseOfPath(row.path), row.size, uid, flags, keywords)}`;
        // Undone with the transaction (FileChanges); a file under another name is found by its base.
        core.blobs.move(core.fileChanges(), from, row.path, path.join(to, rel));
        this.forgetRef(mailboxId, oldUid);
        touched.add(path.join(from, row.path.slice(0, 3)));
        touched.add(path.join(to, 'cur'));
        core.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime, pop3_uidl) VALUES (?,?,?,?,?,?,?,?,?)')
          .run(target.id, uid, ++targetModseq, flags.join(' '), row.internal_date, row.size, rel, row.mime, row.pop3_uidl);
        core.sql('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?').run(source.id, oldUid);
        core.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(source.id, oldUid, ++sourceModseq);
        changes.push({ kind: 'expunge', accountId: source.account_id, mailboxId: source.id, uid: oldUid, modseq: sourceModseq });
        changes.push({ kind: 'append', accountId: target.account_id, mailboxId: target.id, uid, modseq: targetModseq, flags });
        pairs.push([oldUid, uid]);
        uid++;
      }
      if (pairs.length === 0) return;
      core.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(uid, targetModseq, target.id);
      core.sql('UPDATE mailboxes SET highestmodseq = ? WHERE id = ?').run(sourceModseq, source.id);
      // The UID floors beside the files, so a rebuilt index reuses neither folder's UIDs.
      core.saveMeta(core.mailboxById(target.id));
      core.saveMeta(core.mailboxById(source.id));
    });
    for (const row of movedAway) core.expunged.keep(mailboxId, () => toRecord(row), row.uid);
    for (const c of changes) core.publish(c);
    if (pairs.length > 0) await core.blobs.sync(touched, [core.walPath]);
    return pairs;
  }
}
