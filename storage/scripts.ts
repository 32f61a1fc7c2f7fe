// Sieve scripts on disk: DIR/sieve/DOMAIN/LOCALPART/NAME.sieve, with the
// active one recorded in the index. The caller validates script text; this
// store only keeps names safe and writes atomically.
//
// File I/O never blocks the event loop (scripts are read at every delivery):
// a new text is written and fsynced under a staged name first, then renamed
// into place with the index change, and the directory fsynced. Every file
// change (a put's rename, a removal into a hidden name) is made through the
// transaction's FileChanges, so a unit of work that fails puts the files
// back with the rows; a removed file is deleted only after the commit.
import { readFile, stat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { prepared, type IndexDb, type Statement } from './index/database.js';
import { LookupCache, changingIndex } from './index/lookup-cache.js';
import { MailError } from './errors.js';
import { accountSegment } from './maildir/names.js';
import type { FileChanges } from './maildir/file-changes.js';
import type { UnitGate } from './unit-of-work.js';
import { dropStaged, stageFile, syncDir } from './maildir/staged-file.js';

import { MAX_SCRIPTS_PER_ACCOUNT, validateScriptName } from './names.js';

export { MAX_SCRIPT_NAME, MAX_SCRIPTS_PER_ACCOUNT, validateScriptName } from './names.js';
/** Active scripts whose text is kept in memory (one per recently delivered-to account). */
const ACTIVE_CACHE_MAX = 1000;
/** How long a stat of an active script's file is trusted (edits made behind the store's back are seen this late at most). */
const STAT_TRUST_MS = 1000;

export interface ScriptInfo {
  name: string;
  active: boolean;
}


let hiddenCount = 0;

/** A name for a file or directory taken out of sight until its removal commits: a leading dot, which no script or account segment has. */
function hiddenName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${++hiddenCount}.removed`);
}

function encodeFileName(name: string): string {
  return name.replace(/[%:*?"<>|]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()) + '.sieve';
}

export class ScriptStore {
  private sql(text: string): Statement {
    return prepared(this.db, text);
  }

  /** Which script is active per account: read for every delivery, changed rarely. */
  private readonly activeRows: LookupCache;

  constructor(
    private readonly db: IndexDb,
    private readonly root: string,
    /**
     * Runs fn with the file changes of the transaction (or unit of work) it
     * is part of: undone when that fails, finished when it commits.
     */
    private readonly withFiles: <T>(fn: (files: FileChanges) => T) => T,
    /** The gate units of work hold: a change made after awaiting file I/O waits for its turn (see UnitGate.inTurn). */
    private readonly gate: UnitGate,
  ) {
    this.activeRows = new LookupCache(db);
  }

  /**
   * Runs a change; cached lookups on the index start over after it. What it
   * does to files through `files` is put back when it fails (a full disk),
   * so a script's file and its row change together.
   */
  private change<T>(fn: (files: FileChanges) => T): T {
    return changingIndex(this.db, () => this.withFiles(fn));
  }

  private dirOf(accountId: number): string {
    const row = this.sql('SELECT domain, localpart FROM accounts WHERE id = ?').get(accountId) as
      | { domain: string; localpart: string }
      | undefined;
    if (!row) throw new MailError('NONEXISTENT', 'no such account');
    return path.join(this.root, accountSegment(row.domain), accountSegment(row.localpart));
  }

  list(accountId: number): ScriptInfo[] {
    return (this.sql('SELECT name, active FROM sieve_scripts WHERE account_id = ? ORDER BY name').all(accountId) as Array<{
      name: string;
      active: number;
    }>).map((r) => ({ name: r.name, active: r.active !== 0 }));
  }

  async get(accountId: number, name: string): Promise<string> {
    const n = validateScriptName(name);
    if (!this.exists(accountId, n)) throw new MailError('NONEXISTENT', `no such script: ${n}`);
    try {
      return await readFile(path.join(this.dirOf(accountId), encodeFileName(n)), 'utf8');
    } catch (err) {
      throw new MailError('TEMPFAIL', 'cannot read the script', { cause: err });
    }
  }

  exists(accountId: number, name: string): boolean {
    return this.sql('SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?').get(accountId, name) !== undefined;
  }

  /**
   * The active script's name and text, if one is active. Asked once per
   * delivery, so the text is kept and reread only when it changed: put()
   * moves the row's `updated` forward every time (seen at once, here or from
   * another process such as the CLI), and a stat catches a file edited
   * behind the store's back; that stat is trusted for a second, so a stream
   * of deliveries to one account pays one stat a second, not one each.
   */
  async active(accountId: number): Promise<{ name: string; text: string } | undefined> {
    const row = this.activeRows.get(`${accountId}`, () =>
      this.sql(
        'SELECT s.name, s.updated, a.domain, a.localpart FROM sieve_scripts s JOIN accounts a ON a.id = s.account_id WHERE s.account_id = ? AND s.active = 1',
      ).get(accountId),
    ) as { name: string; updated: number; domain: string; localpart: string } | undefined;
    if (!row) return undefined;
    // The row stays the same object until the index changes: its path is worked out once.
    let file = this.activeFiles.get(row);
    if (file === undefined) {
      file = path.join(this.root, accountSegment(row.domain), accountSegment(row.localpart), encodeFileName(row.name));
      this.activeFiles.set(row, file);
    }
    const known = this.activeCache.get(file);
    const now = performance.now();
    if (known && known.updated === row.updated && now - known.checkedAt < STAT_TRUST_MS) return { name: row.name, text: known.text };
    try {
      const st = await stat(file);
      const identity = `${row.updated}:${st.ino}:${st.size}:${st.mtimeMs}`;
      const hit = this.activeCache.get(file);
      if (hit?.identity === identity) {
        hit.checkedAt = now;
        return { name: row.name, text: hit.text };
      }
      const text = await readFile(file, 'utf8');
      if (this.activeCache.size >= ACTIVE_CACHE_MAX) this.activeCache.delete(this.activeCache.keys().next().value as string);
      this.activeCache.set(file, { updated: row.updated, identity, text, checkedAt: now });
      return { name: row.name, text };
    } catch (err) {
      throw new MailError('TEMPFAIL', 'cannot read the script', { cause: err });
    }
  }

  private readonly activeCache = new Map<string, { updated: number; identity: string; text: string; checkedAt: number }>();
  /** The script file of an active-script row (the row objects the lookup cache hands out). */
  private readonly activeFiles = new WeakMap<object, string>();

  /**
   * Stores (creates or replaces) a script, durably: the text is written and
   * fsynced under a staged name, renamed into place with the row change,
   * and the directory fsynced before this resolves.
   */
  async put(accountId: number, name: string, text: string): Promise<void> {
    const n = validateScriptName(name);
    const dir = this.dirOf(accountId);
    const file = path.join(dir, encodeFileName(n));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const staged = await stageFile(file, text);
    try {
      await this.gate.inTurn(() => this.change((files) => {
        const count = (this.sql('SELECT count(*) AS c FROM sieve_scripts WHERE account_id = ?').get(accountId) as { c: number }).c;
        if (!this.exists(accountId, n) && count >= MAX_SCRIPTS_PER_ACCOUNT) {
          throw new MailError('LIMIT', `too many scripts (limit ${MAX_SCRIPTS_PER_ACCOUNT})`);
        }
        files.putInPlace(staged, file);
        this.sql(
          'INSERT INTO sieve_scripts (account_id, name, updated) VALUES (?, ?, ?) ON CONFLICT (account_id, name) DO UPDATE SET updated = max(excluded.updated, sieve_scripts.updated + 1)',
        ).run(accountId, n, Date.now());
      }));
    } catch (err) {
      await dropStaged(staged);
      throw err;
    }
    await syncDir(dir);
  }

  /** Makes `name` the one active script, or deactivates all when name is undefined. */
  activate(accountId: number, name: string | undefined): void {
    this.change(() => {
      const tx = this.db.transaction(() => {
        if (name !== undefined && !this.exists(accountId, validateScriptName(name))) throw new MailError('NONEXISTENT', `no such script: ${name}`);
        this.sql('UPDATE sieve_scripts SET active = 0 WHERE account_id = ?').run(accountId);
        if (name !== undefined) this.sql('UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ?').run(accountId, name);
      });
      tx.immediate();
    });
  }

  remove(accountId: number, name: string): void {
    this.change((files) => {
      const n = validateScriptName(name);
      const row = this.sql('SELECT active FROM sieve_scripts WHERE account_id = ? AND name = ?').get(accountId, n) as
        | { active: number }
        | undefined;
      if (!row) throw new MailError('NONEXISTENT', `no such script: ${n}`);
      if (row.active) throw new MailError('REFUSED', `script ${n} is active; deactivate it first`);
      this.sql('DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?').run(accountId, n);
      // Out of sight now, deleted after the commit, back in place when the unit of work fails.
      const file = path.join(this.dirOf(accountId), encodeFileName(n));
      try {
        files.removeFile(file, hiddenName(file));
      } catch (err) {
        // The index no longer names it; a stray (or already missing) file is harmless.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    });
  }

  rename(accountId: number, from: string, to: string): void {
    this.change((files) => {
      const a = validateScriptName(from);
      const b = validateScriptName(to);
      if (!this.exists(accountId, a)) throw new MailError('NONEXISTENT', `no such script: ${a}`);
      if (this.exists(accountId, b)) throw new MailError('ALREADYEXISTS', `script ${b} exists already`);
      const dir = this.dirOf(accountId);
      files.rename(path.join(dir, encodeFileName(a)), path.join(dir, encodeFileName(b)));
      this.sql('UPDATE sieve_scripts SET name = ? WHERE account_id = ? AND name = ?').run(b, accountId, a);
    });
  }

  /** Removes every script of an account (account deletion). */
  removeAll(accountId: number): void {
    this.change((files) => {
      const dir = this.dirOf(accountId);
      this.sql('DELETE FROM sieve_scripts WHERE account_id = ?').run(accountId);
      try {
        files.removeTree(dir, hiddenName(dir));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // no script was ever stored
      }
    });
  }

  /** Names of files on disk (for diagnostics), sorted. */
  async filesOnDisk(accountId: number): Promise<string[]> {
    try {
      return (await readdir(this.dirOf(accountId))).sort();
    } catch {
      return [];
    }
  }
}
