// Recovery and rebuild: makes the index agree with the Maildir for one
// account. Runs at startup (serve) and from `postino reindex`, before any
// session is served, so its file I/O is synchronous.
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ensureMaildir, fsyncPath, listMessageFiles, cleanTmp } from '../maildir/files.js';
import { baseOfPath, folderNameFromDir, messageFileName, parseFileName } from '../maildir/names.js';
import { readFolderMeta } from '../maildir/meta.js';
import { readPop3Uidls } from '../maildir/pop3-uidls.js';
import { normalizeFlags } from '../flags.js';
import { DEFAULT_FOLDERS, type MailboxRow } from '../index/mail-rows.js';
import type { MailCore } from './core.js';
import type { Subscriptions } from './subscriptions.js';
import { DELETED_FOLDER_PREFIX } from './mailboxes.js';

const TMP_MAX_AGE_MS = 36 * 3600 * 1000;

export class Recovery {
  constructor(
    private readonly core: MailCore,
    private readonly subscriptions: Subscriptions,
  ) {}

  /**
   * Adopts message files the index does not know (a crash between rename
   * and commit), drops rows whose file is gone, and finds folders on disk.
   * With `rebuild`, forgets every row first and rebuilds from the files,
   * keeping the UIDs and flags they carry.
   */
  recoverAccount(accountId: number, options: { rebuild?: boolean } = {}): { adopted: number; dropped: number } {
    const { core } = this;
    const root = core.accountDir(accountId);
    ensureMaildir(root);
    let adopted = 0;
    let dropped = 0;
    const entries = readdirSync(root);
    // Folders deleted just before a crash (see Mailboxes.delete).
    for (const d of entries) if (d.startsWith(DELETED_FOLDER_PREFIX)) rmSync(path.join(root, d), { recursive: true, force: true });
    const dirs = ['', ...entries.filter((d) => d.startsWith('.') && d !== '.' && d !== '..' && !d.startsWith('..'))];
    // The POP3 UIDLs kept beside the Maildir, for the messages adopted below (read once, when first needed).
    let kept: Map<string, string> | undefined;
    const uidls = (base: string): string | null => (kept ??= readPop3Uidls(root)).get(base) ?? null;
    const legacySubscribed: string[] = [];
    core.tx(() => {
      legacySubscribed.length = 0;
      if (options.rebuild) {
        core.sql('DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)').run(accountId);
        core.sql('DELETE FROM expunged WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)').run(accountId);
        core.sql('DELETE FROM mailboxes WHERE account_id = ?').run(accountId);
      }
      for (const dir of dirs) {
        const name = folderNameFromDir(dir);
        if (name === undefined) continue;
        const folder = path.join(root, dir);
        try {
          if (!statSync(folder).isDirectory()) continue;
        } catch {
          continue;
        }
        ensureMaildir(folder);
        cleanTmp(folder, TMP_MAX_AGE_MS);
        if (readFolderMeta(folder)?.legacySubscribed === true) legacySubscribed.push(name);
        let mb = core.mailboxRow(accountId, name);
        if (!mb) mb = this.adoptFolder(accountId, name, dir);
        const r = this.reconcileFolder(mb, uidls);
        adopted += r.adopted;
        dropped += r.dropped;
      }
      this.subscriptions.recover(accountId, legacySubscribed);
      core.metadata.recoverAccount(accountId);
      this.recountUsage(accountId);
    });
    core.publish({ kind: 'mailboxes', accountId });
    return { adopted, dropped };
  }

  private adoptFolder(accountId: number, name: string, dir: string): MailboxRow {
    const { core } = this;
    const folder = path.join(core.accountDir(accountId), dir);
    const meta = readFolderMeta(folder);
    const defaults = DEFAULT_FOLDERS.find((f) => f.name === name);
    const uidValidity = meta?.uidValidity ?? core.newUidValidity(accountId);
    core.noteUidValidity(accountId, uidValidity);
    const info = core.sql(
        `INSERT INTO mailboxes (account_id, name, dir, uidvalidity, uidnext, special_use, keywords)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        accountId,
        name,
        dir,
        uidValidity,
        meta?.uidNext ?? 1,
        meta?.specialUse ?? defaults?.specialUse ?? null,
        JSON.stringify(meta?.keywords ?? []),
      );
    const row = core.mailboxById(Number(info.lastInsertRowid));
    if (!meta) core.saveMeta(row);
    return row;
  }

  private reconcileFolder(mb: MailboxRow, uidls: (base: string) => string | null): { adopted: number; dropped: number } {
    const { core } = this;
    const folder = core.folderPath(mb);
    const files = listMessageFiles(folder);
    const rows = core.sql('SELECT uid, path FROM messages WHERE mailbox_id = ?').all(mb.id) as Array<{ uid: number; path: string }>;
    const byBase = new Map(rows.map((r) => [baseOfPath(r.path), r]));
    const usedUids = new Set(rows.map((r) => r.uid));
    const keywords = JSON.parse(mb.keywords) as string[];
    let uidnext = mb.uidnext;
    let modseq = mb.highestmodseq;
    let dropped = 0;
    const seenBases = new Set<string>();
    const orphans: Array<{ rel: string; parsed: ReturnType<typeof parseFileName> }> = [];
    for (const rel of files) {
      const base = baseOfPath(rel);
      if (seenBases.has(base)) continue; // a twin left by a crash mid-rename: keep the first
      seenBases.add(base);
      const known = byBase.get(base);
      if (known) {
        if (known.path !== rel) core.sql('UPDATE messages SET path = ? WHERE mailbox_id = ? AND uid = ?').run(rel, mb.id, known.uid);
        continue;
      }
      orphans.push({ rel, parsed: parseFileName(rel.slice(4)) });
    }
    for (const r of rows) {
      if (!seenBases.has(baseOfPath(r.path))) {
        modseq += 1;
        core.sql('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?').run(mb.id, r.uid);
        core.sql('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)').run(mb.id, r.uid, modseq);
        dropped++;
      }
    }
    // Files that carry a free UID keep it; the rest get new ones above every known UID.
    orphans.sort((a, b) => (a.parsed.uid ?? Infinity) - (b.parsed.uid ?? Infinity) || a.rel.localeCompare(b.rel));
    const keepUid = orphans.filter((o) => o.parsed.uid !== undefined && !usedUids.has(o.parsed.uid));
    for (const o of keepUid) usedUids.add(o.parsed.uid!);
    const maxUid = Math.max(0, ...usedUids);
    uidnext = Math.max(uidnext, maxUid + 1);
    for (const o of orphans) {
      const keep = keepUid.includes(o);
      const uid = keep ? o.parsed.uid! : uidnext++;
      const abs = path.join(folder, o.rel);
      let raw: Buffer;
      let st;
      try {
        raw = readFileSync(abs);
        st = statSync(abs);
      } catch {
        continue;
      }
      const flags = normalizeFlags([
        ...o.parsed.flags,
        ...o.parsed.keywordLetters.map((l) => keywords[l.charCodeAt(0) - 97]).filter((k): k is string => k !== undefined),
      ]);
      let rel = o.rel;
      if (!keep) {
        // Write the new UID into the name so the next rebuild finds it.
        const name = messageFileName(o.parsed.base, raw.length, uid, flags, keywords);
        rel = `${o.rel.slice(0, 3)}/${name}`;
        core.fileChanges().rename(abs, path.join(folder, rel));
      }
      let mime: string | null = null;
      try {
        mime = core.indexer(raw);
      } catch {
        mime = null;
      }
      modseq += 1;
      core.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime, pop3_uidl) VALUES (?,?,?,?,?,?,?,?,?)')
        .run(mb.id, uid, modseq, flags.join(' '), Math.round(st.mtimeMs), raw.length, rel, mime, uidls(o.parsed.base));
    }
    core.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(uidnext, modseq, mb.id);
    if (orphans.length > 0) {
      fsyncPath(path.join(folder, 'cur'));
      fsyncPath(path.join(folder, 'new'));
    }
    return { adopted: orphans.length, dropped };
  }

  private recountUsage(accountId: number): void {
    this.core.sql(
        `UPDATE accounts SET
           used_bytes = (SELECT coalesce(sum(size), 0) FROM messages JOIN mailboxes ON mailboxes.id = messages.mailbox_id WHERE mailboxes.account_id = accounts.id),
           used_messages = (SELECT count(*) FROM messages JOIN mailboxes ON mailboxes.id = messages.mailbox_id WHERE mailboxes.account_id = accounts.id)
         WHERE id = ?`,
      )
      .run(accountId);
  }
}
