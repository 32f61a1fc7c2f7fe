// Bodies as files in a directory every node mounts (`storage.blobs`, NFS
// or another shared filesystem), one file per content: DIR/ab/cd/<sha256
// hex>. Rows and locks as blobs.ts says; here, what the files need:
// - a body is written under a temporary name unique to this node, process
//   and write, in the same directory as its final name, fsynced, renamed
//   within that directory and the directory fsynced: nothing relies on a
//   rename across directories being seen by other nodes at once, and no
//   hard links are made;
// - a file is only ever replaced whole by the same content (the name is
//   its hash), so a reader sees the old file or the new one, both right;
// - whether a file is there is asked with an open, not a stat: on NFS an
//   open revalidates with the server (close-to-open), a stat may answer
//   from this node's attribute cache;
// - a reader on another node may find a message's row before its file is
//   visible there: it tries again for a short while, then fails with a
//   temporary error; it checks the size and never answers with a wrong body.
// Reads use the thread pool (fs/promises), never more bytes than the
// message's size and the caller's limit.
import { constants as bufferConstants } from 'node:buffer';
import { constants } from 'node:fs';
import { access, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { syncPath } from '../sync-path.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { MailError } from '../errors.js';
import type { PgDatabase } from './db.js';
import { collectUnnamed, distinctBodies, lockBodyRows, type BlobStore, type NewBody } from './blobs.js';

const HEX64 = /^[0-9a-f]{64}$/;

/** The largest body read into one buffer (a size from the database is checked against it before any allocation). */
const MAX_BODY = bufferConstants.MAX_LENGTH;

/**
 * Where a body lives: DIR/ab/cd/<hex>. The hash comes from the database,
 * so it is checked: 64 lower-case hex digits, nothing that could name
 * another place.
 */
export function blobPath(root: string, hex: string): string {
  if (!HEX64.test(hex)) throw new MailError('INTERNAL', 'a message body hash in the database is not 64 hex digits: refused');
  return path.join(root, hex.slice(0, 2), hex.slice(2, 4), hex);
}

/** Waits between looks for a body file not there (yet) on this node: about 2.5 s in all. */
const READ_RETRY_MS = [20, 40, 80, 160, 320, 640, 1000];

/** The node's name (node.name, else the host name) as a file name part. */
function nodeTag(name: string): string {
  return name.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 64) || 'node';
}

/** Writes by this process (every store in it: a test or a tool may open two). */
let writes = 0;

/** A temporary name unique to this node, process and write (the random part covers a pid reused after a crash). */
function temporaryName(node: string): string {
  return `.${nodeTag(node)}.${process.pid}.${++writes}.${randomBytes(4).toString('hex')}.tmp`;
}

function errno(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

/** A failure to write a body, as the error the caller reports (4xx: nothing was stored). */
function writeError(err: unknown): MailError {
  const code = errno(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new MailError('NOSPACE', 'the blob directory is full', { cause: err });
  return new MailError('TEMPFAIL', `cannot store the message body in the blob directory (${code ?? 'error'})`, { cause: err });
}


/** Refuses a blob directory that is not there or not ours to write (an unmounted share must not fill a local disk). */
export async function checkBlobDirectory(root: string): Promise<void> {
  if (!path.isAbsolute(root)) throw new MailError('BADINPUT', `storage.blobs: expected an absolute path, got ${root}`);
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new MailError('TEMPFAIL', `storage.blobs: ${root} is not a directory (is the shared filesystem mounted?)`);
  try {
    await access(root, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new MailError('TEMPFAIL', `storage.blobs: ${root} is not readable and writable by this process`, { cause: err });
  }
}

export interface DirectoryBlobStoreOptions {
  /** Waits between looks for a body file not yet visible (tests shorten them). */
  readRetryMs?: readonly number[];
  /** This node's name (node.name), in temporary file names; default the host name. */
  nodeName?: string;
}

export class DirectoryBlobStore implements BlobStore {
  private readonly retries: readonly number[];
  private readonly node: string;

  constructor(
    private readonly db: PgDatabase,
    readonly root: string,
    options: DirectoryBlobStoreOptions = {},
  ) {
    this.retries = options.readRetryMs ?? READ_RETRY_MS;
    this.node = options.nodeName ?? hostname();
  }

  async prepare(bodies: readonly NewBody[]): Promise<void> {
    for (const b of distinctBodies(bodies)) await this.ensure(b);
  }

  async attach(bodies: readonly NewBody[]): Promise<void> {
    // The rows carry no body here (an empty one): the file is the body.
    await lockBodyRows(this.db, bodies, async (missing) => {
      await this.db.query("INSERT INTO blobs (hash, body) SELECT h, '\\x'::bytea FROM unnest($1::bytea[]) AS t (h) ON CONFLICT (hash) DO NOTHING", [missing.map((b) => b.hash)]);
    });
    // Under the locks: a removal that went before attach (prepare's file gone) is made good here.
    for (const b of distinctBodies(bodies)) await this.ensure(b);
  }

  async read(mailboxId: number, uid: number, maxBytes?: number): Promise<Buffer> {
    const row = await this.db.one<{ hash: Buffer; size: number; inline: number }>(
      `SELECT m.blob_hash AS hash, m.size, octet_length(b.body)::bigint AS inline
       FROM messages m JOIN blobs b ON b.hash = m.blob_hash WHERE m.mailbox_id = $1 AND m.uid = $2`,
      [mailboxId, uid],
    );
    if (!row) throw new MailError('NONEXISTENT', 'no such message');
    if (!Number.isSafeInteger(row.size) || row.size < 0 || row.size > MAX_BODY) throw new MailError('INTERNAL', 'a message size in the database is out of range: refused');
    const want = maxBytes === undefined ? row.size : Math.min(row.size, Math.max(0, Math.floor(maxBytes)));
    if (row.size === 0 || want === 0) return Buffer.alloc(0);
    const file = blobPath(this.root, row.hash.toString('hex'));
    // A body stored in the table before the directory was configured is read from there.
    if (row.inline === row.size) return this.readInline(row.hash, want);
    for (let attempt = 0; ; attempt++) {
      const body = await this.readFile(file, row.size, want);
      if (body) return body;
      const wait = this.retries[attempt];
      if (wait === undefined) break;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    throw new MailError('TEMPFAIL', 'the message body is not available in the blob directory yet; try again later');
  }

  private async readInline(hash: Buffer, want: number): Promise<Buffer> {
    const row = await this.db.one<{ body: Buffer }>('SELECT substring(body FROM 1 FOR $2::int) AS body FROM blobs WHERE hash = $1', [hash, want]);
    if (!row) throw new MailError('TEMPFAIL', 'the message body is being moved; try again later');
    return row.body;
  }

  /** The first `want` bytes of a file of exactly `size` bytes; undefined when it is not there or not whole (yet). */
  private async readFile(file: string, size: number, want: number): Promise<Buffer | undefined> {
    let fh;
    try {
      fh = await open(file, 'r');
    } catch {
      return undefined;
    }
    try {
      // A whole read asks one byte more than the size: getting exactly `size` bytes proves the size without a stat.
      const whole = want === size;
      if (!whole && (await fh.stat()).size !== size) return undefined;
      const buf = Buffer.allocUnsafe(whole ? size + 1 : want);
      let off = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
        if (off === buf.length) break;
      }
      if (whole ? off !== size : off !== want) return undefined;
      return whole ? buf.subarray(0, size) : buf;
    } catch {
      return undefined;
    } finally {
      // Not waited for: the bytes are read.
      fh.close().catch(() => {});
    }
  }

  /** Whether the file is there, whole (opened: see the top of the file). */
  private async present(file: string, size: number): Promise<boolean> {
    let fh;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw writeError(err);
    }
    try {
      return (await fh.stat()).size === size;
    } finally {
      await fh.close().catch(() => {});
    }
  }

  /** The body's file, written when it is not there whole. */
  private async ensure(body: NewBody): Promise<void> {
    const file = blobPath(this.root, body.hash.toString('hex'));
    if (await this.present(file, body.raw.length)) return;
    const dir = path.dirname(file);
    const tmp = path.join(dir, temporaryName(this.node));
    try {
      const made = await mkdir(dir, { recursive: true, mode: 0o700 });
      if (made !== undefined) {
        // New directories are entries of their parents: make those lasting too.
        await syncPath(this.root);
        await syncPath(path.dirname(dir));
      }
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(body.raw);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
      await syncPath(dir);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw writeError(err);
    }
  }

  async collect(hashes: readonly Buffer[]): Promise<void> {
    await collectUnnamed(this.db.pool, hashes, (unnamed) => this.remove(unnamed));
  }

  async discard(hashes: readonly Buffer[]): Promise<void> {
    if (hashes.length === 0) return;
    // A file prepare wrote has no row yet: make one to lock (a delivery of that content meanwhile takes it too), then remove as usual.
    await this.db.pool.query("INSERT INTO blobs (hash, body) SELECT h, '\\x'::bytea FROM unnest($1::bytea[]) AS t (h) ON CONFLICT (hash) DO NOTHING", [hashes]);
    await this.collect(hashes);
  }

  /** Unlinks the files (called holding their rows FOR UPDATE); returns the hashes whose file is gone. */
  private async remove(hashes: readonly Buffer[]): Promise<Buffer[]> {
    const gone: Buffer[] = [];
    const dirs = new Set<string>();
    for (const hash of hashes) {
      let file: string;
      try {
        file = blobPath(this.root, hash.toString('hex'));
      } catch {
        continue; // a malformed hash names no file: its row stays for someone to look at
      }
      try {
        await unlink(file);
        dirs.add(path.dirname(file));
        gone.push(hash);
      } catch (err) {
        if (errno(err) === 'ENOENT') gone.push(hash);
      }
    }
    for (const dir of dirs) await syncPath(dir).catch(() => {});
    return gone;
  }
}
