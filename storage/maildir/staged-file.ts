// Small files written off the event loop, in the order that makes them
// durable: the content goes to a staged name beside the file and is fsynced
// (stageFile); a transaction then renames it into place (FileChanges
// putInPlace), and the directory is fsynced after the rename (syncDir).
// For what a serving process writes (scripts, subscriptions, METADATA);
// changeWithFile ties such a file to the index change it follows from.
import { mkdir, open, rm } from 'node:fs/promises';
import { syncPath } from '../sync-path.js';
import path from 'node:path';
import { MailError, storageFailure } from '../errors.js';
import type { UnitGate } from '../unit-of-work.js';
import type { FileChanges } from './file-changes.js';

let staged = 0;

/**
 * Writes `content` to a new file for `file` and fsyncs it; returns its path
 * (not yet in place). It is made in `dir`, beside the file unless told
 * otherwise (a Maildir's tmp/, where what a crash leaves is cleaned up);
 * `dir` must be on the same filesystem.
 */
export async function stageFile(file: string, content: string | Buffer, dir = path.dirname(file)): Promise<string> {
  const tmp = path.join(dir, `${path.basename(file)}.${process.pid}.${++staged}.new`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  } catch (err) {
    await dropStaged(tmp); // a full disk leaves a partial file behind
    throw err;
  }
}

/** Removes a staged file that will not be put in place; one already gone is no error. */
export async function dropStaged(tmp: string): Promise<void> {
  await rm(tmp, { force: true }).catch(() => {});
}

/** fsync of a directory, after renames in it. */
export const syncDir = syncPath;

/** The file an index change leaves behind it, and what it returns. */
export interface ChangeWithFile<R> {
  result: R;
  /** The file to rewrite and its new content; absent when the change leaves the file as it is. */
  file?: { path: string; content: string };
}

/** Tries before a writer that keeps losing the race for the same file to others (each round one of them wins) is told to try again later. */
const STAGE_ATTEMPTS = 20;

class DryRun extends Error {}

/**
 * An index change that rewrites a small file kept beside the index (the
 * subscription list, METADATA entries), made without file I/O in the
 * transaction and in the order that keeps the file durable:
 *   1. `change` runs in a transaction that is rolled back (`dryRun`), to learn
 *      the file's new content;
 *   2. that content is written under a staged name and fsynced, off the event loop;
 *   3. `change` runs for real (`transaction`, in its turn at the gate), and when
 *      the content is still the same the staged file is renamed into place
 *      in that transaction (undone with it); when another writer changed
 *      things meanwhile, from 1 again;
 *   4. the directory is fsynced.
 * Errors of `change` (a limit, no such mailbox) come out of the dry run,
 * having changed nothing.
 */
export async function changeWithFile<R>(options: {
  gate: UnitGate;
  /** Runs fn in a transaction that is rolled back when fn throws (nested: a savepoint). */
  dryRun: (fn: () => void) => void;
  /** Runs fn in a write transaction with its file changes: undone when it throws, finished when it commits. */
  transaction: <T>(fn: (files: FileChanges) => T) => T;
  change: () => ChangeWithFile<R>;
  /** Where the staged file is written (default: beside the file). */
  stageDir?: (file: string) => string;
}): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    let planned: ChangeWithFile<unknown> | undefined;
    try {
      options.dryRun(() => {
        planned = options.change();
        throw new DryRun(); // roll the change back
      });
    } catch (err) {
      // Whatever the transaction made of the DryRun: `planned` says the change itself went through.
      if (planned === undefined) throw err;
    }
    const file = planned?.file;
    let staged: string | undefined;
    if (file) {
      const dir = options.stageDir?.(file.path) ?? path.dirname(file.path);
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        staged = await stageFile(file.path, file.content, dir);
      } catch (err) {
        // Outside the transaction, so mapped here: a full disk is NOSPACE, not a bug.
        throw storageFailure(err);
      }
    }
    let moved = false;
    let stale = false;
    try {
      const result = await options.gate.inTurn(() =>
        options.transaction((files) => {
          const now = options.change();
          if (now.file?.path !== file?.path || now.file?.content !== file?.content) {
            stale = true; // another writer changed things since the dry run
            throw new Error('changed meanwhile');
          }
          if (file && staged) {
            files.putInPlace(staged, file.path);
            moved = true;
          }
          return now.result;
        }),
      );
      if (file && moved) await syncDir(path.dirname(file.path)).catch((err: unknown) => Promise.reject(storageFailure(err)));
      return result;
    } catch (err) {
      if (!stale) throw err;
      if (attempt >= STAGE_ATTEMPTS) throw new MailError('TEMPFAIL', 'the file kept changing; try again', { cause: err });
    } finally {
      if (staged && !moved) await dropStaged(staged);
    }
  }
}
