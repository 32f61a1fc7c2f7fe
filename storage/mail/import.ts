// Folders brought from another server with their UIDVALIDITY and UIDs (the
// MailImport port; postino import dovecot): the one place a message is stored
// under a UID the caller chose. A batch is one transaction, as an append
// batch is: bodies staged and fsynced first, then renamed into the folder
// with their rows, the directories and the WAL fsynced before it resolves.
import path from 'node:path';
import type { FolderImport, FolderImportResult, ImportedFolderState, MailboxChange, StagedBlob } from '../ports.js';
import { MailError } from '../errors.js';
import { normalizeFlags } from '../flags.js';
import { baseOfPath, folderDir, messageFileName } from '../maildir/names.js';
import { splitFlags, validateMailboxName, type MailboxRow, type MessageRow } from '../index/mail-rows.js';
import type { MailCore } from './core.js';
import { checkBatch } from '../import-batch.js';
import { recordPop3Uidls } from '../maildir/pop3-uidls.js';

/** What a batch's transaction did, for the fsyncs and the change feed after it. */
interface Applied {
  result: FolderImportResult;
  changes: MailboxChange[];
  touched: Set<string>;
}

export class FolderImporter {
  constructor(private readonly core: MailCore) {}

  importedFolder(accountId: number, name: string): ImportedFolderState | undefined {
    const { core } = this;
    return core.readSnapshot(() => {
      const row = core.mailboxRow(accountId, name);
      if (!row) return undefined;
      const rows = core.sql('SELECT uid, flags FROM messages WHERE mailbox_id = ? ORDER BY uid').all(row.id) as Array<{ uid: number; flags: string }>;
      return { uidValidity: row.uidvalidity, uidNext: row.uidnext, messages: rows.map((r) => ({ uid: r.uid, flags: splitFlags(r.flags) })) };
    });
  }

  async importFolder(accountId: number, batch: FolderImport): Promise<FolderImportResult> {
    const { core } = this;
    const canonical = validateMailboxName(batch.name);
    checkBatch(batch);
    const messages = batch.add.map((m) => {
      let mime: string | null = null;
      try {
        mime = core.indexer(m.raw);
      } catch {
        mime = null; // stored all the same, as an append is
      }
      return { uid: m.uid, raw: m.raw, flags: normalizeFlags(m.flags), internalDate: m.internalDate, mime, modseq: m.modseq, pop3Uidl: m.pop3Uidl ?? null };
    });
    // Staged in the account's own tmp/ (the folder may not exist yet): same file system, so the rename into it is atomic.
    const staging = core.location({ id: 0, account_id: accountId, dir: '' });
    const written = await Promise.allSettled(messages.map((m) => core.blobs.stage(staging, m.raw, { internalDate: m.internalDate })));
    const staged = written.flatMap((w) => (w.status === 'fulfilled' ? [w.value] : []));
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) {
      for (const s of staged) core.blobs.discard(s);
      const err = core.failure(failed.reason);
      throw err instanceof MailError ? err : new MailError('TEMPFAIL', 'cannot write the message', { cause: failed.reason });
    }
    let applied: Applied;
    try {
      // The UIDLs beside the Maildir before the rows commit (a rebuilt index finds them there).
      const uidls = messages.flatMap((m, i) => (m.pop3Uidl === null ? [] : [{ base: staged[i]!.base, uidl: m.pop3Uidl }]));
      if (uidls.length > 0) {
        try {
          recordPop3Uidls(core.accountDir(accountId), uidls);
        } catch (err) {
          const e = core.failure(err); // a full disk is NOSPACE, as for the bodies
          throw e instanceof MailError ? e : new MailError('TEMPFAIL', 'cannot keep the POP3 UIDLs', { cause: err });
        }
      }
      applied = await core.gate.inTurn(() => core.tx(() => this.apply(accountId, canonical, batch, messages.map((m, i) => ({ ...m, staged: staged[i]! })))));
    } catch (err) {
      // Undone as a whole: the renamed bodies are back in tmp/.
      for (const s of staged) core.blobs.discard(s);
      throw err;
    }
    const tell = core.holdPlace();
    try {
      await core.blobs.sync(applied.touched, [core.walPath]);
    } catch (err) {
      tell(applied.changes);
      throw new MailError('TEMPFAIL', 'cannot sync the imported folder', { cause: err });
    }
    tell(applied.changes);
    return applied.result;
  }

  /** Inside the transaction: the folder (made, or emptied when its UIDVALIDITY differs), then expunges, flags, new messages. */
  private apply(
    accountId: number,
    canonical: string,
    batch: FolderImport,
    add: Array<{ uid: number; flags: string[]; internalDate: number; mime: string | null; pop3Uidl: string | null; raw: Buffer; staged: StagedBlob; modseq?: number | undefined }>,
  ): Applied {
    const { core } = this;
    const changes: MailboxChange[] = [];
    const touched = new Set<string>();
    const result: FolderImportResult = { created: false, replaced: false, added: 0, flagsChanged: 0, expunged: 0 };
    let row = core.mailboxRow(accountId, canonical);
    if (!row) {
      row = this.createRow(accountId, canonical, batch.uidValidity);
      touched.add(core.accountDir(accountId));
      result.created = true;
    } else if (row.uidvalidity !== batch.uidValidity) {
      this.empty(row);
      row.uidvalidity = batch.uidValidity;
      row.uidnext = 1;
      core.noteUidValidity(accountId, batch.uidValidity);
      result.replaced = true;
    }
    const folder = core.folderPath(row);
    let bytes = 0;
    let count = 0;

    for (const uid of batch.expunge) {
      const r = core.messageRow(row.id, uid);
      if (!r) continue;
      core.blobs.take(core.fileChanges(), folder, r.path);
      core.sql('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?').run(row.id, uid);
      const modseq = ++row.highestmodseq;
      core.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(row.id, uid, modseq);
      changes.push({ kind: 'expunge', accountId, mailboxId: row.id, uid, modseq });
      bytes -= r.size;
      count--;
      result.expunged++;
    }

    for (const change of batch.flags) {
      const r = core.messageRow(row.id, change.uid);
      if (!r) continue;
      const flags = normalizeFlags(change.flags);
      const current = splitFlags(r.flags);
      if (flags.length === current.length && flags.every((f) => current.includes(f))) continue;
      const keywords = core.ensureKeywords(row, flags);
      const newPath = `cur/${messageFileName(baseOfPath(r.path), r.size, r.uid, flags, keywords)}`;
      if (newPath !== r.path) {
        core.blobs.move(core.fileChanges(), folder, r.path, path.join(folder, newPath));
        touched.add(path.join(folder, 'cur'));
        touched.add(path.join(folder, path.dirname(r.path)));
      }
      const modseq = change.modseq ?? row.highestmodseq + 1;
      row.highestmodseq = Math.max(row.highestmodseq, modseq);
      core.sql('UPDATE messages SET flags = ?, modseq = ?, path = ? WHERE mailbox_id = ? AND uid = ?').run(flags.join(' '), modseq, newPath, row.id, r.uid);
      changes.push({ kind: 'flags', accountId, mailboxId: row.id, uid: r.uid, modseq, flags });
      result.flagsChanged++;
    }

    const location = core.location(row);
    for (const m of add) {
      if (m.uid < row.uidnext) {
        throw new MailError('REFUSED', `UID ${m.uid} of ${canonical} is below its UIDNEXT ${row.uidnext}: it was given out already`);
      }
      const keywords = core.ensureKeywords(row, m.flags);
      const named = core.blobs.name(core.fileChanges(), m.staged, location, { size: m.raw.length, uid: m.uid, flags: m.flags, keywords });
      touched.add(named.dir);
      // A MODSEQ kept from the source (a move between backends), else a new one.
      const modseq = m.modseq ?? row.highestmodseq + 1;
      row.highestmodseq = Math.max(row.highestmodseq, modseq);
      core.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime, pop3_uidl) VALUES (?,?,?,?,?,?,?,?,?)')
        .run(row.id, m.uid, modseq, m.flags.join(' '), m.internalDate, m.raw.length, named.ref, m.mime, m.pop3Uidl);
      changes.push({ kind: 'append', accountId, mailboxId: row.id, uid: m.uid, modseq, flags: m.flags });
      row.uidnext = m.uid + 1;
      bytes += m.raw.length;
      count++;
      result.added++;
    }

    row.uidnext = Math.max(row.uidnext, batch.uidNext);
    row.highestmodseq = Math.max(row.highestmodseq, batch.highestModseq ?? 0);
    for (const v of batch.vanished ?? []) {
      if (core.messageRow(row.id, v.uid)) continue;
      core.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(row.id, v.uid, v.modseq);
      row.highestmodseq = Math.max(row.highestmodseq, v.modseq);
    }
    core.sql('UPDATE mailboxes SET uidvalidity = ?, uidnext = ?, highestmodseq = ? WHERE id = ?').run(row.uidvalidity, row.uidnext, row.highestmodseq, row.id);
    core.sql('UPDATE accounts SET used_bytes = used_bytes + ?, used_messages = used_messages + ? WHERE id = ?').run(bytes, count, accountId);
    core.saveMeta(row);
    if (result.created || result.replaced) changes.push({ kind: 'mailboxes', accountId });
    return { result, changes, touched };
  }

  /** A new folder with the given UIDVALIDITY (not subscribed: the import brings the subscriptions). */
  private createRow(accountId: number, canonical: string, uidValidity: number): MailboxRow {
    const { core } = this;
    const dir = folderDir(canonical);
    const folder = path.join(core.accountDir(accountId), dir);
    core.noteUidValidity(accountId, uidValidity);
    core.fileChanges().makeMaildir(folder);
    core.saveFolderMeta(folder, { uidValidity, uidNext: 1, keywords: [], specialUse: null });
    const info = core.sql('INSERT INTO mailboxes (account_id, name, dir, uidvalidity, uidnext, keywords) VALUES (?, ?, ?, ?, 1, ?)')
      .run(accountId, canonical, dir, uidValidity, '[]');
    return core.mailboxById(Number(info.lastInsertRowid));
  }

  /** Removes every message of a folder whose UIDVALIDITY changes: the old UIDs mean nothing any more. */
  private empty(row: MailboxRow): void {
    const { core } = this;
    const folder = core.folderPath(row);
    const rows = core.sql('SELECT uid, size, path FROM messages WHERE mailbox_id = ?').all(row.id) as Array<Pick<MessageRow, 'uid' | 'size' | 'path'>>;
    for (const r of rows) core.blobs.take(core.fileChanges(), folder, r.path);
    const size = rows.reduce((n, r) => n + r.size, 0);
    core.sql('DELETE FROM messages WHERE mailbox_id = ?').run(row.id);
    core.sql('DELETE FROM expunged WHERE mailbox_id = ?').run(row.id);
    core.sql('DELETE FROM mailbox_recent WHERE mailbox_id = ?').run(row.id);
    core.sql('UPDATE accounts SET used_bytes = used_bytes - ?, used_messages = used_messages - ? WHERE id = ?').run(size, rows.length, row.account_id);
    row.keywords = '[]';
    core.sql("UPDATE mailboxes SET keywords = '[]' WHERE id = ?").run(row.id);
  }
}
