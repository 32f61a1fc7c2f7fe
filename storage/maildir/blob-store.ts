// Message bodies as Maildir++ files, behind the BlobStore port: a location is
// a folder under the mail root ("example.com/alice/.Sent"), a ref a file in
// it ("cur/<base>,S=<size>,U=<uid>:2,<flags>"). Bodies are written to tmp/
// and fsynced by writer threads (stage), then renamed into new/ or cur/:
// inside the index's transaction with the UID in the name (name(), undone
// with it through FileChanges), or at once by put(). Reads are done by
// reader threads, in batches: a FETCH never waits on the disk on the event
// loop.
import { readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore, StagedBlob } from '../ports.js';
import { MailError } from '../errors.js';
import { TmpWriterPool } from './tmp-writer.js';
import { findMessageFile, removeQuietly } from './files.js';
import type { FileChanges } from './file-changes.js';
import { baseOfPath, messageFileName, newFileName } from './names.js';

/** Files per hand-off to a reader thread. */
const READ_BATCH = 16;

/** A ref: one file name (no "/", not "." or "..") in new/ or cur/. */
const REF = /^(?:new|cur)\/(?!\.\.?$)[^/\0]+$/;

export class MaildirBlobStore implements BlobStore {
  /** Four writer threads: measured 20-25% faster than the libuv pool's hand-offs (bench/store.ts). */
  private readonly writers = new TmpWriterPool(4);
  /**
   * Two reader threads, apart from the writers so a read never waits behind
   * an fsync. Reads asked for in one go (a FETCH's read-ahead) travel
   * together, READ_BATCH files per hand-off: a file read through fs/promises
   * is four hand-offs to the libuv pool, several times a sync read's cost.
   */
  private readonly readers = new TmpWriterPool(2);
  private readQueue: Array<{ file: string; resolve(raw: Buffer | undefined): void; reject(err: unknown): void }> = [];
  private readScheduled = false;

  private readonly root: string;

  constructor(mailRoot: string) {
    this.root = path.resolve(mailRoot);
  }

  /** The folder's directory; a location that would leave the mail root is refused. */
  folder(location: string): string {
    const dir = path.resolve(this.root, location);
    const rel = path.relative(this.root, dir);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new MailError('BADINPUT', 'a message location outside the mail root');
    }
    return dir;
  }

  /** The file of a ref; a ref that is not one name in new/ or cur/ is refused. */
  file(location: string, ref: string): string {
    if (!REF.test(ref)) throw new MailError('BADINPUT', 'a message name outside its folder');
    return path.join(this.folder(location), ref);
  }

  async put(location: string, raw: Buffer, options: { internalDate?: number } = {}): Promise<string> {
    const staged = await this.stage(location, raw, options);
    const ref = `new/${staged.base},S=${raw.length}`;
    try {
      await rename(staged.staged, this.file(location, ref));
      await this.writers.sync(path.join(this.folder(location), 'new'));
    } catch (err) {
      this.discard(staged);
      throw err;
    }
    return ref;
  }

  async stage(location: string, raw: Buffer, options: { internalDate?: number } = {}): Promise<StagedBlob> {
    const { base, tmpPath } = await this.writers.write(this.folder(location), raw, options.internalDate);
    return { location, base, staged: tmpPath };
  }

  discard(staged: StagedBlob): void {
    removeQuietly(staged.staged);
  }

  /** Drops a file named by name() in a transaction that failed as a whole (its rename could not be undone). */
  discardFile(file: string): void {
    removeQuietly(file);
  }

  async read(location: string, ref: string): Promise<Buffer | undefined> {
    const file = this.file(location, ref);
    return new Promise((resolve, reject) => {
      this.readQueue.push({ file, resolve, reject });
      if (this.readScheduled) return;
      this.readScheduled = true;
      queueMicrotask(() => this.sendReads());
    });
  }

  private sendReads(): void {
    this.readScheduled = false;
    const queue = this.readQueue;
    this.readQueue = [];
    for (let at = 0; at < queue.length; at += READ_BATCH) {
      const batch = queue.slice(at, at + READ_BATCH);
      this.readers.read(batch.map((r) => r.file)).then(
        (results) =>
          batch.forEach((r, i) => {
            const got = results[i];
            if (got === null) r.resolve(undefined);
            else if (got instanceof Uint8Array) r.resolve(Buffer.from(got.buffer, got.byteOffset, got.byteLength));
            else r.reject(Object.assign(new Error(got?.message ?? 'no answer from the reader thread'), got?.code ? { code: got.code } : {}));
          }),
        (err: unknown) => batch.forEach((r) => r.reject(err)),
      );
    }
  }

  async remove(location: string, ref: string): Promise<void> {
    try {
      await unlink(this.file(location, ref));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /**
   * Where a body is now when it is not at `ref`: its name carries the flags,
   * so a flag change renames it, and a rename whose index change failed (or
   * another process's) leaves it under another name with the same base.
   */
  async find(location: string, ref: string): Promise<string | undefined> {
    const folder = this.folder(location);
    const base = baseOfPath(ref);
    for (const sub of ['new', 'cur']) {
      let names: string[];
      try {
        names = await readdir(path.join(folder, sub));
      } catch {
        continue;
      }
      const found = names.find((n) => !n.startsWith('.') && `${sub}/${n}` !== ref && baseOfPath(n) === base);
      if (found !== undefined) return `${sub}/${found}`;
    }
    return undefined;
  }

  // ---- inside the index's transaction (Maildir only) ---------------------------

  /**
   * Names a staged body with its UID and flags, in new/ (no flags: Maildir
   * puts flags only on cur/ names) or cur/ of the folder at `location` (the
   * mailbox's folder now); undone with the transaction. Returns the ref, and
   * the directory to sync once the transaction commits.
   */
  name(
    files: FileChanges,
    staged: StagedBlob,
    location: string,
    named: { size: number; uid: number; flags: string[]; keywords: string[] },
  ): { ref: string; dir: string; file: string } {
    const { size, uid, flags, keywords } = named;
    const sub = flags.length > 0 ? 'cur' : 'new';
    const ref = `${sub}/${sub === 'new' ? newFileName(staged.base, size, uid) : messageFileName(staged.base, size, uid, flags, keywords)}`;
    const file = this.file(location, ref);
    files.rename(staged.staged, file);
    return { ref, dir: path.dirname(file), file };
  }

  /**
   * Renames a body (a flag change, a move to another folder); undone with
   * the transaction. A file no longer where the index says is found by its
   * base name.
   */
  move(files: FileChanges, folder: string, rel: string, to: string): void {
    try {
      files.rename(path.join(folder, rel), to);
    } catch (err) {
      const found = (err as NodeJS.ErrnoException).code === 'ENOENT' ? findMessageFile(folder, rel) : undefined;
      if (found === undefined) throw err;
      files.rename(path.join(folder, found), to);
    }
  }

  /**
   * Takes a body away: out of sight now, deleted after the commit, back if
   * the transaction fails. Returns the ref it had, or undefined when it was
   * gone already.
   */
  take(files: FileChanges, folder: string, rel: string): string | undefined {
    try {
      files.removeMessage(folder, rel);
      return rel;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Under another name (see move): left there, a rebuild would bring it back.
      const found = findMessageFile(folder, rel);
      if (found !== undefined) files.removeMessage(folder, found);
      return found;
    }
  }

  /** fsyncs paths in the writer threads (directories after renames; the index's WAL, which may be missing). */
  sync(dirs: Iterable<string>, alsoIfThere: string[] = []): Promise<unknown> {
    return Promise.all([...[...dirs].map((d) => this.writers.sync(d)), ...alsoIfThere.map((p) => this.writers.sync(p, true))]);
  }

  /** Stops the writer and reader threads (the store is being closed). */
  close(): void {
    void this.writers.close();
    void this.readers.close();
  }
}
