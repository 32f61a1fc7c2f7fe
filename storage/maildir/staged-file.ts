// Small files written off the event loop, in the order that makes them
// durable: the content goes to a staged name beside the file and is fsynced
// (stageFile); a transaction then renames it into place (FileChanges
// putInPlace), and the directory is fsynced after the rename (syncDir).
// For what a serving process writes (scripts, subscriptions, METADATA).
import { open, rm } from 'node:fs/promises';
import path from 'node:path';

let staged = 0;

/** Writes `content` to a new file beside `file` and fsyncs it; returns its path (not yet in place). */
export async function stageFile(file: string, content: string | Buffer): Promise<string> {
  const tmp = path.join(path.dirname(file), `${path.basename(file)}.${process.pid}.${++staged}.new`);
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
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
