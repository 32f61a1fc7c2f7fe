// The mailboxes of the mail index: an account's folders (a row each, and a
// Maildir++ folder with its meta file), their counters, the snapshots SELECT
// and the per-command catch-up read, and create, delete and rename.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { MailboxChange, MailboxDelta, MailboxInfo, MailboxSummary, SelectSummary, SpecialUse } from '../ports.js';
import { MailError } from '../errors.js';
import { ensureMaildir, fsyncPath } from '../maildir/files.js';
import { baseOfPath, folderDir, messageFileName } from '../maildir/names.js';
import { readFolderMeta, type FolderMeta } from '../maildir/meta.js';
import {
  DEFAULT_FOLDERS,
  MAX_SUBSCRIPTIONS,
  parseKeywords,
  splitFlags,
  summary,
  validateMailboxName,
  type MailboxRow,
  type MessageRow,
} from '../index/mail-rows.js';
import { renamedMailboxName, validateRenameTarget } from '../names.js';
import type { MailCore } from './core.js';
import { IS_UNSEEN } from '../schema/sqlite.js';
import type { Subscriptions } from './subscriptions.js';
import { changeWithFile } from '../maildir/staged-file.js';
import { UidLists, type UidSource } from './uid-lists.js';

/** A deleted folder's directory is renamed to this (plus a unique part) before it is removed. */
export const DELETED_FOLDER_PREFIX = '..deleted.';

export class Mailboxes {
  constructor(
    private readonly core: MailCore,
    private readonly subscriptions: Subscriptions,
  ) {}

  /** Creates the Maildir and the default folders; safe to call again. */
  provisionAccount(accountId: number): void {
    ensureMaildir(this.core.accountDir(accountId));
    for (const f of DEFAULT_FOLDERS) {
      if (!this.core.mailboxRow(accountId, f.name)) this.createNow(accountId, f.name, f.specialUse);
    }
  }

  /**
   * Forgets the account's mailboxes and messages in the index. The files
   * stay: once the removal has committed, the caller sets them aside or
   * deletes them (AccountFiles), so a failure between the two leaves mail
   * on disk, never rows without their files.
   */
  deleteAccountMail(accountId: number): void {
    const { core } = this;
    core.tx(() => {
      const ofAccount = 'SELECT id FROM mailboxes WHERE account_id = ?';
      core.sql(`DELETE FROM messages WHERE mailbox_id IN (${ofAccount})`).run(accountId);
      core.sql(`DELETE FROM expunged WHERE mailbox_id IN (${ofAccount})`).run(accountId);
      core.sql(`DELETE FROM mailbox_recent WHERE mailbox_id IN (${ofAccount})`).run(accountId);
      core.sql('DELETE FROM mailboxes WHERE account_id = ?').run(accountId);
      core.sql('DELETE FROM subscriptions WHERE account_id = ?').run(accountId);
      core.sql('DELETE FROM uidvalidity_high WHERE account_id = ?').run(accountId);
      core.metadata.forgetAccount(accountId);
      core.sql('UPDATE accounts SET used_bytes = 0, used_messages = 0 WHERE id = ?').run(accountId);
    });
    this.uidLists.clear();
  }

  list(accountId: number): MailboxInfo[] {
    const rows = this.core.sql('SELECT * FROM mailboxes WHERE account_id = ? ORDER BY name').all(accountId) as MailboxRow[];
    return rows.map((r) => this.core.info(r));
  }

  get(accountId: number, name: string): MailboxInfo | undefined {
    const row = this.core.mailboxRow(accountId, name);
    return row && this.core.info(row);
  }

  getById(id: number): MailboxInfo {
    return this.core.info(this.core.mailboxById(id));
  }

  has(accountId: number, name: string): boolean {
    return this.core.mailboxRef(accountId, name) !== undefined;
  }

  find(accountId: number, name: string): MailboxSummary | undefined {
    const row = this.core.mailboxRow(accountId, name);
    return row && summary(row);
  }

  owner(mailboxId: number): number | undefined {
    return (this.core.sql('SELECT account_id FROM mailboxes WHERE id = ?').get(mailboxId) as { account_id: number } | undefined)?.account_id;
  }

  selectSummary(mailboxId: number): SelectSummary {
    const { core } = this;
    return core.readSnapshot(() => {
      const mb = core.sql('SELECT account_id, uidvalidity, keywords, highestmodseq FROM mailboxes WHERE id = ?').get(mailboxId) as
        | { account_id: number; uidvalidity: number; keywords: string; highestmodseq: number }
        | undefined;
      const uids =
        mb === undefined
          ? []
          : this.uidLists.uids({ id: mailboxId, accountId: mb.account_id, uidValidity: mb.uidvalidity, highestModseq: mb.highestmodseq }, this.uidSource);
      const firstUnseenUid = core.sql(`SELECT uid FROM messages INDEXED BY messages_unseen WHERE mailbox_id = ? AND ${IS_UNSEEN} ORDER BY uid LIMIT 1`)
        .pluck()
        .get(mailboxId) as number | undefined;
      return { uids, firstUnseenUid, keywords: mb ? parseKeywords(mb.keywords) : [], highestModseq: mb?.highestmodseq ?? 0 };
    });
  }

  private readonly uidLists = new UidLists();

  private readonly uidSource: UidSource = {
    // Plucked from the covering index: SELECT must not load rows with their MIME JSON.
    all: (id) => this.core.sql('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').pluck().all(id) as number[],
    addedSince: (id, modseq, afterUid) =>
      this.core.sql('SELECT uid FROM messages INDEXED BY messages_modseq WHERE mailbox_id = ? AND modseq > ? AND uid > ? ORDER BY uid').pluck().all(id, modseq, afterUid) as number[],
    expungedSince: (id, modseq) => this.expungedSince(id, modseq),
    // Two subqueries: SQLite answers a lone min() or max() from the index, both together by a scan.
    bounds: (id) =>
      this.core.sql('SELECT (SELECT min(uid) FROM messages WHERE mailbox_id = ?) AS min, (SELECT max(uid) FROM messages WHERE mailbox_id = ?) AS max').get(id, id) as {
        min: number | null;
        max: number | null;
      },
  };

  changesSince(mailboxId: number, modseq: number, accountId?: number): MailboxDelta | undefined {
    const { core } = this;
    // Asked after every IMAP command: the common answer (nothing new, a mailbox of
    // this account) comes from one row, without a read transaction.
    const head = core.sql('SELECT highestmodseq, account_id FROM mailboxes WHERE id = ?').get(mailboxId) as
      | { highestmodseq: number; account_id: number }
      | undefined;
    if (head === undefined || (accountId !== undefined && head.account_id !== accountId)) return undefined;
    if (head.highestmodseq <= modseq) return { highestModseq: head.highestmodseq, changed: [], expunged: [] };
    return core.readSnapshot(() => {
      const mb = core.sql('SELECT highestmodseq, keywords FROM mailboxes WHERE id = ?').get(mailboxId) as
        | { highestmodseq: number; keywords: string }
        | undefined;
      if (mb === undefined) return undefined;
      const highest = mb.highestmodseq;
      if (highest <= modseq) return { highestModseq: highest, changed: [], expunged: [] };
      // By MODSEQ: the covering index by UID would walk the whole mailbox for a few changes.
      const rows = core.sql('SELECT uid, modseq, flags FROM messages INDEXED BY messages_modseq WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').all(mailboxId, modseq) as Array<{
        uid: number;
        modseq: number;
        flags: string;
      }>;
      const expunged = core.sql('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck().all(mailboxId, modseq) as number[];
      return {
        highestModseq: highest,
        changed: rows.map((r) => ({ uid: r.uid, modseq: r.modseq, flags: splitFlags(r.flags) })),
        expunged,
        keywords: parseKeywords(mb.keywords),
      };
    });
  }

  expungedSince(mailboxId: number, modseq: number): number[] {
    return this.core.sql('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck().all(mailboxId, modseq) as number[];
  }

  /**
   * CREATE: the subscription list's file (the new mailbox is subscribed) is
   * written off the event loop, before the transaction that renames it into
   * place (changeWithFile).
   */
  async create(accountId: number, name: string, specialUse: SpecialUse | null = null): Promise<MailboxInfo> {
    const { core } = this;
    const canonical = validateMailboxName(name);
    const created = await changeWithFile({
      gate: core.gate,
      dryRun: (fn) => core.tx(fn),
      transaction: (fn) => core.tx(() => fn(core.fileChanges())),
      // The account Maildir's tmp/: recovery cleans what a crash leaves there.
      stageDir: (file) => path.join(path.dirname(file), 'tmp'),
      change: () => {
        const row = this.insert(accountId, canonical, specialUse);
        const file = this.subscribeNew(accountId, canonical);
        return file ? { result: row, file } : { result: row };
      },
    });
    core.publish({ kind: 'mailboxes', accountId });
    return core.info(created);
  }

  /** As create, with every file written in the transaction: for provisioning an account (the CLI and the admin service), not for IMAP. */
  private createNow(accountId: number, name: string, specialUse: SpecialUse | null): MailboxInfo {
    const { core } = this;
    const canonical = validateMailboxName(name);
    const created = core.tx(() => {
      const row = this.insert(accountId, canonical, specialUse);
      const file = this.subscribeNew(accountId, canonical);
      if (file) core.fileChanges().replace(file.path, file.content, true);
      return row;
    });
    core.publish({ kind: 'mailboxes', accountId });
    return core.info(created);
  }

  /** A new mailbox is subscribed, as before; past the cap it is created unsubscribed. Returns the list's file when it changed. */
  private subscribeNew(accountId: number, canonical: string): { path: string; content: string } | undefined {
    if (this.subscriptions.count(accountId) >= MAX_SUBSCRIPTIONS) return undefined;
    return this.subscriptions.changeRow(accountId, canonical, true) ? this.subscriptions.file(accountId) : undefined;
  }

  /** Inside a transaction: the folder (with its meta file) and its row. */
  private insert(accountId: number, canonical: string, specialUse: SpecialUse | null): MailboxRow {
    const { core } = this;
    const dir = folderDir(canonical);
    const root = core.accountDir(accountId);
    if (core.mailboxRow(accountId, canonical)) throw new MailError('ALREADYEXISTS', `mailbox ${canonical} exists already`);
    const folder = path.join(root, dir);
    const existing = readFolderMeta(folder);
    const meta: FolderMeta = existing ?? {
      uidValidity: core.newUidValidity(accountId),
      uidNext: 1,
      keywords: [],
      specialUse,
    };
    if (existing) core.noteUidValidity(accountId, existing.uidValidity);
    meta.specialUse = specialUse ?? meta.specialUse;
    core.fileChanges().makeMaildir(folder);
    core.saveFolderMeta(folder, meta);
    const info = core.sql(
        `INSERT INTO mailboxes (account_id, name, dir, uidvalidity, uidnext, special_use, keywords)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(accountId, canonical, dir, meta.uidValidity, meta.uidNext, meta.specialUse, JSON.stringify(meta.keywords));
    return core.mailboxById(Number(info.lastInsertRowid));
  }

  delete(accountId: number, name: string): void {
    const { core } = this;
    const row = core.mailboxRow(accountId, name);
    if (!row) throw new MailError('NONEXISTENT', `no such mailbox: ${name}`);
    if (row.name === 'INBOX') throw new MailError('REFUSED', 'INBOX cannot be deleted');
    const folder = core.folderPath(row);
    core.tx(() => {
      const sums = core.sql('SELECT count(*) AS n, coalesce(sum(size),0) AS s FROM messages WHERE mailbox_id = ?').get(row.id) as {
        n: number;
        s: number;
      };
      core.sql('DELETE FROM messages WHERE mailbox_id = ?').run(row.id);
      core.sql('DELETE FROM expunged WHERE mailbox_id = ?').run(row.id);
      core.sql('DELETE FROM mailbox_recent WHERE mailbox_id = ?').run(row.id);
      core.metadata.forgetMailbox(accountId, row.id);
      core.sql('DELETE FROM mailboxes WHERE id = ?').run(row.id);
      core.sql('UPDATE accounts SET used_bytes = used_bytes - ?, used_messages = used_messages - ? WHERE id = ?').run(sums.s, sums.n, accountId);
      // Out of sight now (atomic), removed once the rows are gone for good: a
      // crash leaves a hidden dir (recover() removes it), not a half folder.
      const trash = path.join(path.dirname(folder), `${DELETED_FOLDER_PREFIX}${process.pid}.${Date.now()}`);
      if (existsSync(folder)) core.fileChanges().removeTree(folder, trash);
    });
    core.publish({ kind: 'mailboxes', accountId });
  }

  rename(accountId: number, from: string, to: string): void {
    const { core } = this;
    const src = core.mailboxRow(accountId, from);
    if (!src) throw new MailError('NONEXISTENT', `no such mailbox: ${from}`);
    const target = validateRenameTarget(src.name, to);
    if (core.mailboxRow(accountId, target)) throw new MailError('ALREADYEXISTS', `mailbox ${target} exists already`);
    const root = core.accountDir(accountId);
    let gone: MailboxChange[] = [];
    core.tx(() => {
      if (src.name === 'INBOX') {
        // RFC 3501: renaming INBOX moves its messages to the new name and leaves INBOX empty.
        const dst = this.createRowOnly(accountId, target);
        gone = this.moveAllMessages(src, dst);
        return;
      }
      const children = core.sql("SELECT * FROM mailboxes WHERE account_id = ? AND (name = ? OR name LIKE ? ESCAPE '\\')")
        .all(accountId, src.name, src.name.replace(/[\\%_]/g, '\\$&') + '/%') as MailboxRow[];
      // Deepest first is not needed: Maildir++ folders are siblings on disk.
      for (const child of children) {
        const newName = renamedMailboxName(child.name, src.name, target);
        const newDir = folderDir(newName);
        if (existsSync(path.join(root, newDir))) throw new MailError('ALREADYEXISTS', `mailbox ${newName} exists on disk`);
        core.fileChanges().rename(path.join(root, child.dir), path.join(root, newDir));
        core.sql('UPDATE mailboxes SET name = ?, dir = ? WHERE id = ?').run(newName, newDir, child.id);
      }
    });
    for (const change of gone) core.publish(change);
    core.publish({ kind: 'mailboxes', accountId });
  }

  private createRowOnly(accountId: number, name: string): MailboxRow {
    const { core } = this;
    const dir = folderDir(name);
    const root = core.accountDir(accountId);
    const meta: FolderMeta = { uidValidity: core.newUidValidity(accountId), uidNext: 1, keywords: [], specialUse: null };
    core.fileChanges().makeMaildir(path.join(root, dir));
    core.saveFolderMeta(path.join(root, dir), meta);
    const info = core.sql('INSERT INTO mailboxes (account_id, name, dir, uidvalidity) VALUES (?, ?, ?, ?)')
      .run(accountId, name, dir, meta.uidValidity);
    return core.mailboxById(Number(info.lastInsertRowid));
  }

  /**
   * Moves every message of src (INBOX) to dst. For src they are expunges,
   * logged like any other (RFC 7162 3.2.5.2: QRESYNC and the sessions with
   * INBOX selected must hear that they left); returns those changes.
   */
  private moveAllMessages(src: MailboxRow, dst: MailboxRow): MailboxChange[] {
    const { core } = this;
    const rows = core.sql('SELECT * FROM messages WHERE mailbox_id = ? ORDER BY uid').all(src.id) as MessageRow[];
    const gone: MailboxChange[] = [];
    let srcModseq = src.highestmodseq;
    let uid = dst.uidnext;
    let modseq = dst.highestmodseq;
    const dstKeywords = JSON.parse(dst.keywords) as string[];
    for (const r of rows) {
      const name = messageFileName(baseOfPath(r.path), r.size, uid, splitFlags(r.flags), dstKeywords);
      core.blobs.move(core.fileChanges(), core.folderPath(src), r.path, path.join(core.folderPath(dst), 'cur', name));
      core.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime, pop3_uidl) VALUES (?,?,?,?,?,?,?,?,?)')
        .run(dst.id, uid, ++modseq, r.flags, r.internal_date, r.size, `cur/${name}`, r.mime, r.pop3_uidl);
      uid++;
      core.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(src.id, r.uid, ++srcModseq);
      gone.push({ kind: 'expunge', accountId: src.account_id, mailboxId: src.id, uid: r.uid, modseq: srcModseq });
    }
    core.sql('DELETE FROM messages WHERE mailbox_id = ?').run(src.id);
    core.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(uid, modseq, dst.id);
    core.sql('UPDATE mailboxes SET highestmodseq = ? WHERE id = ?').run(Math.max(srcModseq, src.highestmodseq + 1), src.id);
    fsyncPath(path.join(core.folderPath(dst), 'cur'));
    return gone;
  }
}
