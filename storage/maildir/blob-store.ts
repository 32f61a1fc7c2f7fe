// Message bodies as Maildir++ files, behind the BlobStore port: a location is
// a folder under the mail root ("example.com/alice/.Sent"), a ref a file in
// it ("cur/<base>,S=<size>,U=<uid>:2,<flags>"). Bodies are written to tmp/
// and fsynced by writer threads (stage, or several in one hand-off:
// writeGroup), then renamed into new/ or cur/:
// inside the index's transaction with the UID in the name (name(), undone
// with it through FileChanges), or at once by put(). Reads go to reader
// threads in batches, small ones from the page cache are made on the event
// loop within bounds (blob-reader.ts): a FETCH never waits on the disk on
// the event loop.
import { readFile } from 'node:fs';
import { readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore, LentBytes, StagedBlob } from '../ports.js';
import { MailError } from '../errors.js';
import { TmpWriterPool, type TmpWrite } from './tmp-writer.js';
import { BlobReaderPool, ownedIfAny, type LentRead } from './blob-reader.js';
import { findMessageFile, removeQuietly } from './files.js';
import type { FileChanges } from './file-changes.js';
import { baseOfPath, messageFileName, newFileName, uniqueBaseName } from './names.js';

/** The size a Maildir++ name gives (",S=<size>" before the flags), if any. */
function sizeInName(ref: string): number | undefined {
  const m = /,S=(\d{1,12})(?=[,:]|$)/.exec(ref);
  return m ? Number(m[1]) : undefined;
}

/** A ref: one file name (no "/", not "." or "..") in new/ or cur/. */
const REF = /^(?:new|cur)\/(?!\.\.?$)[^/\0]+$/;

export class MaildirBlobStore implements BlobStore {
  /** Four writer threads: measured 20-25% faster than the libuv pool's hand-offs (bench/store.ts). */
  static readonly WRITER_THREADS = 4;
  private readonly writers = new TmpWriterPool(MaildirBlobStore.WRITER_THREADS);
  private readonly readers: BlobReaderPool;
  private readonly root: string;
  /** folder() of the locations seen: a pure function of the location, asked for by every read. */
  private readonly folders = new Map<string, string>();

  /**
   * With startReaders, the reader threads start now (a server), not at the
   * first read; readOnLoopUpTo: see BlobReaderPool (tests set 0 to have
   * every read made by the threads).
   */
  constructor(mailRoot: string, options: { startReaders?: boolean; readOnLoopUpTo?: number } = {}) {
    this.root = path.resolve(mailRoot);
    this.readers = new BlobReaderPool(options.readOnLoopUpTo === undefined ? {} : { loopMaxBytes: options.readOnLoopUpTo });
    if (options.startReaders) this.readers.start();
  }

  /** The folder's directory; a location that would leave the mail root is refused. */
  folder(location: string): string {
    const known = this.folders.get(location);
    if (known !== undefined) return known;
    const dir = path.resolve(this.root, location);
    const rel = path.relative(this.root, dir);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new MailError('BADINPUT', 'a message location outside the mail root');
    }
    if (this.folders.size >= 10_000) this.folders.clear();
    this.folders.set(location, dir);
    return dir;
  }

  /** The file of a ref; a ref that is not one name in new/ or cur/ is refused. */
  file(location: string, ref: string): string {
    if (!REF.test(ref)) throw new MailError('BADINPUT', 'a message name outside its folder');
    // What path.join would give, without its normalizing on every read: REF allows no "/", "." or ".." segment
    // in the name, and folder() is resolved already.
    return `${this.folder(location)}${path.sep}${ref}`;
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

  /** Largest body written in a group (writeGroup): a larger one gets a thread's job of its own (stage), so a group of small ones never waits behind it. */
  static readonly GROUPED_WRITE_MAX = 256 * 1024;

  /** A new tmp/ name in the folder at `location`, for a body writeGroup() is to write. */
  tmpName(location: string): StagedBlob {
    const base = uniqueBaseName();
    return { location, base, staged: path.join(this.folder(location), 'tmp', base) };
  }

  /**
   * Writes bodies to the tmp/ names tmpName() gave and fdatasyncs them, in
   * the writer threads, several per hand-off (see TmpWriterPool.writeMany).
   * When it fails, some may be written: discard them all.
   */
  writeGroup(files: TmpWrite[]): Promise<unknown> {
    return this.writers.writeMany(files);
  }

  discard(staged: StagedBlob): void {
    removeQuietly(staged.staged);
  }

  /** Drops a file named by name() in a transaction that failed as a whole (its rename could not be undone). */
  discardFile(file: string): void {
    removeQuietly(file);
  }

  /**
   * With the other reads asked for in the same turn: by a reader thread, or
   * on the event loop when small and cheap (see blob-reader.ts). A Maildir++ name carries the file's size
   * (",S=<size>"): one read of that size; a file that is not the size its
   * name says (Maildir files never change) is read again the slow, exact way.
   * With maxBytes, only the first maxBytes bytes are read (a header).
   */
  read(location: string, ref: string, maxBytes?: number): Promise<Buffer | undefined> {
    let file: string;
    try {
      file = this.file(location, ref);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.readers.read(file, sizeInName(ref) ?? -1, maxBytes).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ESIZE') throw err;
      return new Promise<Buffer | undefined>((resolve, reject) =>
        readFile(file, (e, raw) => {
          if (!e) resolve(maxBytes === undefined ? raw : raw.subarray(0, maxBytes));
          else if (e.code === 'ENOENT') resolve(undefined);
          else reject(e);
        }),
      );
    });
  }

  /**
   * The whole bodies of `refs` in lent memory, in one hand-off (see
   * BlobReaderPool.readManyLent): for each ref, in order, its bytes,
   * undefined when there is none under it, or the error its read met. A bad
   * ref is its own error, not the others'; a name without its size, or a
   * file that is not the size its name says, is read as read() does.
   */
  async readManyLent(location: string, refs: readonly string[]): Promise<LentRead[]> {
    const results = new Array<LentRead>(refs.length);
    const files: string[] = [];
    const sizes: number[] = [];
    /** Where each file read goes in results. */
    const at: number[] = [];
    refs.forEach((ref, index) => {
      try {
        files.push(this.file(location, ref));
      } catch (err) {
        results[index] = err as Error;
        return;
      }
      sizes.push(sizeInName(ref) ?? -1);
      at.push(index);
    });
    const read = await this.readers.readManyLent(files, sizes);
    for (let i = 0; i < read.length; i++) {
      const r = read[i];
      // A file that is not the size its name says: read again the exact way.
      if (r instanceof Error && (r as NodeJS.ErrnoException).code === 'ESIZE') {
        results[at[i]!] = await this.read(location, refs[at[i]!]!).then(ownedIfAny, (err: Error) => err);
      } else results[at[i]!] = r;
    }
    return results;
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
  take(files: FileChanges, folder: string, rel: string, kept?: (hidden: string) => boolean): string | undefined {
    try {
      files.removeMessage(folder, rel, kept);
      return rel;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Under another name (see move): left there, a rebuild would bring it back.
      const found = findMessageFile(folder, rel);
      if (found !== undefined) files.removeMessage(folder, found, kept);
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
