// The file changes one index transaction makes, so that the Maildir and the
// index change as a whole: when the transaction fails (a full disk at COMMIT
// is the usual case) every change is undone, newest first; when it commits,
// what had to wait for the commit (deletions) is finished. Before the commit
// only changes that can be undone without free space are made: renames,
// links, new directories, and removals, which until then are renames into
// tmp/ (where recover() deletes what a crash leaves).
import { existsSync, linkSync, renameSync, rmSync, unlink } from 'node:fs';
import path from 'node:path';
import { ensureMaildir, removeQuietly, REMOVED_SUFFIX, writeFileAtomic, writeFileDurable } from './files.js';

interface Change {
  undo(): void;
  /** After the commit. */
  done?(): void;
}

let kept = 0;

/**
 * Deletes a file set aside until the commit, off the event loop: nothing
 * waits for it, and a crash before it runs leaves a name recover() removes.
 */
function removeLater(file: string): void {
  unlink(file, () => {});
}

export class FileChanges {
  private readonly changes: Change[] = [];

  rename(from: string, to: string): void {
    renameSync(from, to);
    this.changes.push({ undo: () => renameSync(to, from) });
  }

  /**
   * Takes a message file (`rel` in `maildir`) out of sight now; deleted
   * after the commit (unless `kept`, told its name then, takes it over),
   * put back on undo.
   */
  removeMessage(maildir: string, rel: string, kept?: (hidden: string) => boolean): void {
    const file = path.join(maildir, rel);
    const hidden = path.join(maildir, 'tmp', path.basename(rel) + REMOVED_SUFFIX);
    renameSync(file, hidden);
    this.changes.push({ undo: () => renameSync(hidden, file), done: () => kept?.(hidden) || removeLater(hidden) });
  }

  /** Takes a directory out of sight now (renamed to `hidden`, a name readers skip); deleted after the commit. */
  removeTree(dir: string, hidden: string): void {
    renameSync(dir, hidden);
    this.changes.push({ undo: () => renameSync(hidden, dir), done: () => rmSync(hidden, { recursive: true, force: true }) });
  }

  /** Makes a Maildir (cur, new, tmp); undo removes it when it was not there before. */
  makeMaildir(dir: string): void {
    const existed = existsSync(dir);
    ensureMaildir(dir);
    if (!existed) this.changes.push({ undo: () => rmSync(dir, { recursive: true, force: true }) });
  }

  /**
   * Replaces a small file (tmp + rename; fsynced with the directory when
   * `durable`). The old file keeps a second name until the commit, so undo
   * puts it back without writing anything; with `oldGoesLater` that name is
   * deleted off the event loop after the commit (a leftover is harmless).
   */
  replace(file: string, content: string, durable: boolean, oldGoesLater = false): void {
    this.keepingOld(file, () => (durable ? writeFileDurable(file, content) : writeFileAtomic(file, content)), oldGoesLater);
  }

  /**
   * Puts `staged` (a file in the same directory, written and fsynced by
   * the caller) in place of `file` by one rename, so readers see the old
   * file or the new one. The old file keeps a second name until the commit,
   * so undo puts it back without writing anything. The caller fsyncs the
   * directory afterwards.
   */
  putInPlace(staged: string, file: string): void {
    this.keepingOld(file, () => renameSync(staged, file));
  }

  /**
   * Runs `put` (which puts a new `file` in place) with the old file kept
   * under a second name until the commit; deleted then, or (`later`) just
   * after, off the event loop.
   */
  private keepingOld(file: string, put: () => void, later = false): void {
    const old = `${file}.${process.pid}.${++kept}.old`;
    let hadOld = true;
    try {
      linkSync(file, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      hadOld = false;
    }
    try {
      put();
    } catch (err) {
      if (hadOld) removeQuietly(old);
      throw err;
    }
    const drop = later ? () => removeLater(old) : () => removeQuietly(old);
    this.changes.push(hadOld ? { undo: () => renameSync(old, file), done: drop } : { undo: () => removeQuietly(file) });
  }

  /** Takes a file out of sight now (renamed to `hidden`); deleted after the commit, put back on undo. */
  removeFile(file: string, hidden: string): void {
    renameSync(file, hidden);
    this.changes.push({ undo: () => renameSync(hidden, file), done: () => removeQuietly(hidden) });
  }

  /** A point to undo back to (a savepoint's changes). */
  mark(): number {
    return this.changes.length;
  }

  /**
   * Undoes the changes made since `mark`, newest first. An undo that fails
   * is skipped (a message file left under another name is found by its base
   * name; recover() reconciles the rest); returns how many failed.
   */
  rollback(mark = 0): number {
    let failed = 0;
    while (this.changes.length > mark) {
      try {
        this.changes.pop()!.undo();
      } catch {
        failed++;
      }
    }
    return failed;
  }

  /** The transaction committed: finishes the deletions that waited for it. */
  commit(): void {
    for (const c of this.changes.splice(0)) {
      try {
        c.done?.();
      } catch {
        // a leftover in tmp/ or a hidden directory: recover() removes it
      }
    }
  }
}
