// The outbound queue on disk: one file per entry, DIR/queue/<id>.entry: its
// first line is the entry as enqueued (JSON: envelope and per-recipient
// state), the message follows. It is written under a tmp name, fsynced and
// renamed into place, so an entry is there whole or not at all. Once the
// runner records an attempt, the entry's state lives in <id>.json beside
// it (tmp file, fsync, rename), which supersedes the first line; the
// message is never rewritten. An entry is its .entry file: `queue delete`
// removes it first, so a .json the runner rewrites at the same moment is no
// entry (and the runner removes it again).
//
// Before this layout an entry was two files, <id>.eml (the message, written
// first) and <id>.json (written last); a queue written that way is still
// read, sent, held and deleted the same way (an .eml without its .json is
// what a crash left: no entry). New entries are only ever written as .entry.
//
// What other processes ask for (the CLI while `serve` runs the queue) never
// rewrites an entry, so it cannot race the runner's own writes: a hold is a
// marker file beside it (<id>.hold), a flush a marker file (flush-requested,
// or flush-<id> for one entry).
//
// A runner in the same process watches the store (watch): it is told of each
// entry once it is durable, so it never has to read the directory to find
// new ones. A process with no watcher (the CLI, `postino deliver`) leaves a
// marker instead (rescan-requested) after it adds an entry or changes a hold,
// and the runner in `serve` looks at the whole directory when it finds one.
//
// Concurrent enqueues commit as a group: each writes its file under a tmp
// name (fsynced), renames it into place, and then joins the one directory
// fsync that has not started yet; every waiter is answered only after the
// fsync that covers its rename.
//
// All I/O goes through fs/promises or the callback API: `serve` runs this
// queue on its event loop.
//
// An entry enqueued here is kept in memory (its JSON text and message,
// bounded) until its first claim: the runner in this process, told of it at
// once, need not read back what was just written. The claim still looks at
// the disk for what another process may have done meanwhile (a hold marker,
// the entry deleted).
// The same class keeps the local-retry queue (DIR/queue/local: messages
// stored for some recipients, the rest retried here).
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { syncPath } from './sync-path.js';
import { writeFile as writeFileCallback } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MailError } from './errors.js';

/** Where one recipient of an entry stands. */
export type RecipientStatus = 'pending' | 'sent' | 'failed' | 'deferred';

export interface RecipientState {
  address: string;
  status: RecipientStatus;
  /** Delivery attempts made for this recipient. */
  attempts: number;
  /** The last remote reply (or description of a local failure); null before the first attempt. */
  reply: string | null;
  /** Why it was last deferred ("connection", "greylist", ...: the transport's DeferralClass); null unless deferred. */
  deferral: string | null;
  /** When this recipient is tried next (ms since the epoch); meaningless once sent or failed. */
  nextAttempt: number;
  /** Where it went or was last tried ("mx.example.net[192.0.2.1]:25"). */
  destination?: string;
  /** Failed, and the sender has been sent a DSN for it (or none is due: the null sender). */
  notified?: boolean;
}

export interface QueueEntry {
  id: string;
  /** Envelope sender; "" for the null sender (bounces, vacation replies). */
  sender: string;
  /** Every recipient the entry was made for (the local-retry queue: those still to do). */
  recipients: string[];
  created: number;
  attempts: number;
  /** The earliest next attempt of any recipient still to do. */
  nextAttempt: number;
  lastError: string | null;
  /** Why it was queued: "submission", "redirect", "alias", "vacation", "bounce", "notify", "local-retry". */
  reason: string;
  /** What the queue's user keeps beside the envelope (the local-retry queue: the tasks left). */
  data?: unknown;
  /** The SMTP id ("queued as ...") of the transaction that made the entry, for logs. */
  smtpId?: string;
  /** Per recipient, in the order of `recipients`; absent until the runner first touches the entry (see recipientStates). */
  states?: RecipientState[];
  /** A delay warning (RFC 3464 Action: delayed) has been sent. */
  warned?: boolean;
  /** On hold (`queue hold`): not tried until released. Read from the marker, never stored in the .json. */
  held?: true;
}

/** What enqueue takes beside the envelope. */
export interface EnqueueExtra {
  data?: unknown;
  nextAttempt?: number;
  /** The SMTP id of the transaction that made the entry (for logs). */
  smtpId?: string;
  /** Keeps an entry's id from another store (postino migrate); the caller makes sure no entry has it. */
  id?: string;
  /** Keeps an entry's creation time from another store (ms since the epoch); default now. */
  created?: number;
}

/**
 * What a watcher of the queue hears: an entry that just became whole and
 * durable (enqueued, or published by a unit of work), or null when holds
 * changed and the queue should be looked at again.
 */
export type QueueListener = (entry: QueueEntry | null) => void;

/** How remove waits: by default until the removal is durable; `durable: false` answers after the unlinks (the directory fsync follows). */
export interface RemoveOptions {
  durable?: boolean;
}

/** An entry's id and whether it is on hold: what a look at the directory tells without reading entries. */
export interface QueueHead {
  id: string;
  held: boolean;
}

/** The recipients' states: the stored ones, or every recipient pending (an entry not yet tried). */
export function recipientStates(entry: QueueEntry): RecipientState[] {
  if (entry.states && entry.states.length === entry.recipients.length) return entry.states;
  return entry.recipients.map((address) => ({ address, status: 'pending', attempts: 0, reply: null, deferral: null, nextAttempt: entry.nextAttempt }));
}

/** A new entry's id: time-ordered, with 40 random bits (unique across processes writing the same queue). */
export function newEntryId(now = Date.now()): string {
  return `${now.toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
}

/** Hands each watcher its own copy of each entry; a watcher's failure is its own (the entries are committed and durable either way). */
export function tellWatchers(listeners: ReadonlySet<QueueListener>, entries: ReadonlyArray<QueueEntry | null>): void {
  for (const e of entries) {
    for (const listener of listeners) {
      try {
        listener(e && structuredClone(e));
      } catch {
        // the watcher's own failure
      }
    }
  }
}

/** The JSON text of an entry (its first line, or its .json; a hold is a marker, never stored). */
function entryJson(entry: QueueEntry): string {
  const { held: _held, ...stored } = entry;
  return JSON.stringify(stored);
}

export function newEntry(sender: string, recipients: string[], reason: string, extra: EnqueueExtra): QueueEntry {
  if (recipients.length === 0) throw new MailError('BADINPUT', 'no recipients');
  if (extra.id !== undefined && !isEntryId(extra.id)) throw new MailError('BADINPUT', 'not a queue entry id');
  const now = Date.now();
  const created = extra.created ?? now;
  const entry: QueueEntry = { id: extra.id ?? newEntryId(now), sender, recipients: [...recipients], created, attempts: 0, nextAttempt: extra.nextAttempt ?? now, lastError: null, reason };
  if (extra.data !== undefined) entry.data = extra.data;
  if (extra.smtpId !== undefined) entry.smtpId = extra.smtpId;
  return entry;
}

/** Ids are ours (newEntryId): anything else (a path, say) names no entry. */
export function isEntryId(id: string): boolean {
  return id.length <= 40 && /^[A-Z0-9]+$/.test(id);
}

const FLUSH_ALL = 'flush-requested';
/** Left by a process with no watcher (the CLI) after it changed the queue: the runner looks at the whole directory. */
const RESCAN = 'rescan-requested';
const FLUSH_ONE = 'flush-';
const HOLD = '.hold';
const TMP = '.tmp';
/** An entry: its first line and its message (see the top of this file). */
const ENTRY = '.entry';
/** The entry's state once recorded after an attempt (or, in the old layout, the whole envelope). */
const STATE = '.json';
/** The old layout's message file (read, never written). */
const LEGACY_MESSAGE = '.eml';
/** The first line of an .entry is read in pieces of this size, up to the limit (a runaway file is no entry). */
const HEAD_CHUNK = 64 * 1024;
const HEAD_MAX = 64 * 1024 * 1024;

/**
 * Writes and fsyncs a file. The callback API (flush: fsync before close) on
 * purpose: a FileHandle costs four promise round trips and their objects on
 * the event loop.
 */
function writeSynced(file: string, content: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => writeFileCallback(file, content, { mode: 0o600, flush: true }, (err) => (err ? reject(err) : resolve())));
}

/** The content of an .entry file: the entry's JSON (JSON.stringify writes no raw line break), a LF, the message. */
function entryFileContent(json: string, raw: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${json}\n`), raw]);
}

/** Entries kept in memory between their enqueue and their first claim, at most (count, and message bytes). */
const FRESH_MAX_ENTRIES = 1000;
const FRESH_MAX_BYTES = 16 * 1024 * 1024;
/** Ids known to have no .json, at most (past it the set starts again: remove then unlinks a .json that may not be there). */
const STATELESS_MAX = 100_000;

/** An entry as enqueue wrote it: the JSON text and the message. */
interface FreshEntry {
  json: string;
  raw: Buffer;
  /** claim has just looked at the disk for it: message may answer from memory. */
  claimed?: boolean;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

async function unlinkQuietly(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch {
    return false;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** The first line of a file (without its LF); undefined when the file has none within HEAD_MAX. ENOENT when it is not there. */
async function readFirstLine(file: string): Promise<string | undefined> {
  const fh = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let length = 0;
    while (length < HEAD_MAX) {
      const chunk = Buffer.allocUnsafe(HEAD_CHUNK);
      const { bytesRead } = await fh.read(chunk, 0, HEAD_CHUNK, length);
      if (bytesRead === 0) return undefined;
      const nl = chunk.subarray(0, bytesRead).indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(chunk.subarray(0, nl));
        return Buffer.concat(chunks).toString('utf8');
      }
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

/** An entry from its JSON text, when it is one and has this id. */
function parseEntry(text: string, id: string): QueueEntry | undefined {
  try {
    const entry = JSON.parse(text) as QueueEntry;
    return typeof entry === 'object' && entry !== null && entry.id === id ? entry : undefined;
  } catch {
    return undefined;
  }
}

let tmpCounter = 0;

/**
 * fsyncs of one directory shared by concurrent callers: a caller joins a
 * sync that has not started yet (it will see the caller's change), else one
 * starts after the sync in flight. Eight clients queueing at once pay for
 * one or two directory fsyncs, not eight, as the mail store's group commit.
 */
export class DirectorySync {
  private waiting: Promise<void> | undefined;
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly syncDir: (dir: string) => Promise<void> = syncPath,
  ) {}

  sync(): Promise<void> {
    if (this.waiting) return this.waiting;
    const next = this.last
      .catch(() => undefined)
      .then(() => {
        this.waiting = undefined;
        return this.syncDir(this.dir);
      });
    this.waiting = next;
    this.last = next;
    return next;
  }
}

/** For tests: what fsyncs the queue directory (to see when waiters are answered). */
export interface QueueStoreOptions {
  syncDir?: (dir: string) => Promise<void>;
}

export class QueueStore {
  private readonly dirSync: DirectorySync;
  /** The directory is known to exist (made or seen once): enqueue skips the mkdir. */
  private dirReady = false;
  private readonly listeners = new Set<QueueListener>();
  /** Entries enqueued here and not claimed yet, oldest first (see the top of this file). */
  private readonly fresh = new Map<string, FreshEntry>();
  private freshBytes = 0;
  /** Staged entries (a unit of work not yet committed): their tmp files, renamed into place by publish. */
  private readonly staged = new Map<string, string>();
  /** Entries made here whose state this process never wrote: removing one unlinks no .json (only this process writes them). */
  private readonly stateless = new Set<string>();

  constructor(
    private readonly dir: string,
    options: QueueStoreOptions = {},
  ) {
    this.dirSync = new DirectorySync(dir, options.syncDir);
  }

  private remember(id: string, json: string, raw: Buffer): void {
    this.fresh.set(id, { json, raw });
    this.freshBytes += raw.length;
    for (const [old, e] of this.fresh) {
      if (this.fresh.size <= FRESH_MAX_ENTRIES && this.freshBytes <= FRESH_MAX_BYTES) break;
      this.forget(old, e);
    }
  }

  private forget(id: string, e = this.fresh.get(id)): void {
    if (!e) return;
    this.fresh.delete(id);
    this.freshBytes -= e.raw.length;
  }

  private markStateless(id: string): void {
    if (this.stateless.size >= STATELESS_MAX) this.stateless.clear();
    this.stateless.add(id);
  }

  /** Tells `listener` of every entry made whole from now on, once durable, and of hold changes (null). */
  watch(listener: QueueListener): void {
    this.listeners.add(listener);
  }

  /** Stops telling `listener`. */
  unwatch(listener: QueueListener): void {
    this.listeners.delete(listener);
  }

  /** Tells the watchers in this process, or, with none, leaves the marker for a runner elsewhere. */
  private async announce(entries: Array<QueueEntry | null>): Promise<void> {
    if (this.listeners.size === 0) {
      // Not fsynced: a crash loses only the hint, and a runner looks at everything when it starts.
      await writeFile(path.join(this.dir, RESCAN), '', { mode: 0o600 }).catch(() => undefined);
      return;
    }
    tellWatchers(this.listeners, entries);
  }

  private file(id: string, suffix: string): string {
    return path.join(this.dir, `${id}${suffix}`);
  }

  private tmpFile(id: string): string {
    return path.join(this.dir, `.${id}.${process.pid}.${++tmpCounter}${TMP}`);
  }

  /** The file that makes the entry whole: its .entry, or in the old layout its .eml (with a .json beside); undefined when gone. */
  private async messageFile(id: string): Promise<string | undefined> {
    if (await exists(this.file(id, ENTRY))) return this.file(id, ENTRY);
    if ((await exists(this.file(id, LEGACY_MESSAGE))) && (await exists(this.file(id, STATE)))) return this.file(id, LEGACY_MESSAGE);
    return undefined;
  }

  /** The queue directory, made (and its parents' entries for it fsynced) when missing. */
  private async ensureDir(): Promise<void> {
    if (this.dirReady) return;
    const made = await mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (made === undefined) {
      this.dirReady = true;
      return;
    }
    // Directories made now must survive a crash too: each parent's entry for them is fsynced.
    for (let d = path.dirname(this.dir); ; d = path.dirname(d)) {
      await syncPath(d);
      if (d === path.dirname(made) || d === path.dirname(d)) break;
    }
    this.dirReady = true;
  }

  /** Writes the entry's state (.json) through a tmp file and a rename (fsynced first); the directory's fsync is the caller's. */
  private async writeState(entry: QueueEntry): Promise<void> {
    const tmp = await this.writeTmp(entry.id, entryJson(entry));
    try {
      await rename(tmp, this.file(entry.id, STATE));
    } catch (err) {
      await unlinkQuietly(tmp);
      throw err;
    }
  }

  /** `content` under a tmp name, fsynced; returns that name. */
  private async writeTmp(id: string, content: Buffer | string): Promise<string> {
    const tmp = this.tmpFile(id);
    try {
      await writeSynced(tmp, content);
    } catch (err) {
      await unlinkQuietly(tmp); // a full disk leaves a partial file behind
      throw err;
    }
    return tmp;
  }

  /**
   * Durable when it resolves. One file, written and fsynced under a tmp
   * name and renamed into place; the directory fsync is shared with
   * concurrent enqueues.
   */
  async enqueue(sender: string, recipients: string[], raw: Buffer, reason: string, extra: EnqueueExtra = {}): Promise<QueueEntry> {
    const entry = newEntry(sender, recipients, reason, extra);
    const text = entryJson(entry);
    const final = this.file(entry.id, ENTRY);
    try {
      await this.ensureDir();
      const tmp = await this.writeTmp(entry.id, entryFileContent(text, raw));
      await rename(tmp, final).catch(async (err: unknown) => {
        await unlinkQuietly(tmp);
        throw err;
      });
      await this.dirSync.sync();
    } catch (err) {
      this.dirReady = false; // removed from under us, say: looked at again next time
      await unlinkQuietly(final);
      throw new MailError('TEMPFAIL', 'cannot write to the queue', { cause: err });
    }
    this.markStateless(entry.id);
    // Only a runner in this process (a watcher) ever claims it from here.
    if (this.listeners.size > 0) this.remember(entry.id, text, raw);
    await this.announce([entry]);
    return entry;
  }

  /**
   * The first half of an enqueue, for a unit of work: the entry's file is
   * written (fsynced) under a tmp name, so nothing sends it before the unit
   * commits and publish renames it into place; discard takes it back.
   */
  async stage(sender: string, recipients: string[], raw: Buffer, reason: string, extra: EnqueueExtra = {}): Promise<QueueEntry> {
    const entry = newEntry(sender, recipients, reason, extra);
    try {
      await this.ensureDir();
      this.staged.set(entry.id, await this.writeTmp(entry.id, entryFileContent(entryJson(entry), raw)));
    } catch (err) {
      this.dirReady = false; // removed from under us, say: looked at again next time
      throw new MailError('TEMPFAIL', 'cannot write to the queue', { cause: err });
    }
    return entry;
  }

  /** Makes staged entries whole, durably (one directory fsync for all). */
  async publish(entries: QueueEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      for (const e of entries) {
        const tmp = this.staged.get(e.id);
        if (tmp === undefined) throw new Error(`queue entry ${e.id} was not staged here`);
        await rename(tmp, this.file(e.id, ENTRY));
        this.staged.delete(e.id);
        this.markStateless(e.id);
      }
      await this.dirSync.sync();
    } catch (err) {
      throw new MailError('TEMPFAIL', 'cannot write to the queue', { cause: err });
    }
    await this.announce(entries);
  }

  /** Takes back staged entries (their unit of work was undone). */
  async discard(ids: string[]): Promise<void> {
    for (const id of ids) {
      const tmp = this.staged.get(id);
      this.staged.delete(id);
      if (tmp !== undefined) await unlinkQuietly(tmp);
    }
  }

  /** The whole entries, on hold or not, oldest first; cheap: one look at the directory. */
  async listIds(): Promise<QueueHead[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const all = new Set(names);
    const heads: QueueHead[] = [];
    for (const n of names) {
      let id: string;
      if (n.endsWith(ENTRY)) id = n.slice(0, -ENTRY.length);
      else if (n.endsWith(STATE)) {
        // The old layout: whole with its message, and not one already listed by its .entry.
        id = n.slice(0, -STATE.length);
        if (!all.has(`${id}${LEGACY_MESSAGE}`) || all.has(`${id}${ENTRY}`)) continue;
      } else continue;
      if (!isEntryId(id)) continue;
      heads.push({ id, held: all.has(`${id}${HOLD}`) });
    }
    // Ids start with the creation time in base 36, fixed width for centuries: they sort by age.
    return heads.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Oldest first. */
  async list(): Promise<QueueEntry[]> {
    const out: QueueEntry[] = [];
    for (const head of await this.listIds()) {
      const entry = await this.read(head.id, head.held);
      if (entry) out.push(entry);
    }
    return out.sort((a, b) => a.created - b.created);
  }

  /**
   * The entry as stored now: its .json when the runner has recorded one (the
   * entry whole while its .entry, or the old layout's .eml, is there), else
   * the first line of its .entry.
   */
  private async read(id: string, held: boolean): Promise<QueueEntry | undefined> {
    let entry: QueueEntry | undefined;
    let state: string | undefined;
    try {
      state = await readFile(this.file(id, STATE), 'utf8');
    } catch (err) {
      if (!isMissing(err)) return undefined;
    }
    if (state !== undefined) {
      if (!(await exists(this.file(id, ENTRY))) && !(await exists(this.file(id, LEGACY_MESSAGE)))) return undefined;
      entry = parseEntry(state, id);
    } else {
      try {
        const line = await readFirstLine(this.file(id, ENTRY));
        entry = line === undefined ? undefined : parseEntry(line, id);
      } catch {
        return undefined; // gone meanwhile, or not an entry
      }
    }
    if (entry && held) entry.held = true;
    return entry;
  }

  async get(id: string): Promise<QueueEntry | undefined> {
    if (!isEntryId(id)) return undefined;
    return this.read(id, await exists(this.file(id, HOLD)));
  }

  /** The entry's message (its file goes first when an entry is removed, so a removed entry has none). */
  async message(id: string): Promise<Buffer> {
    if (!isEntryId(id)) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    const fresh = this.fresh.get(id);
    if (fresh?.claimed) {
      // Claimed just now (the claim saw the entry's file): the copy enqueue wrote.
      this.forget(id, fresh);
      return fresh.raw;
    }
    try {
      const content = await readFile(this.file(id, ENTRY));
      const nl = content.indexOf(0x0a);
      if (nl >= 0) return content.subarray(nl + 1);
    } catch (err) {
      if (!isMissing(err)) throw new MailError('TEMPFAIL', `cannot read queue entry ${id}`, { cause: err });
      try {
        if (await exists(this.file(id, STATE))) return await readFile(this.file(id, LEGACY_MESSAGE));
      } catch {
        // gone meanwhile
      }
    }
    throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
  }

  /**
   * Durable when it resolves: a crash afterwards finds this state, not the
   * one before. An entry deleted meanwhile stays deleted (NONEXISTENT).
   */
  async update(entry: QueueEntry): Promise<void> {
    if (!isEntryId(entry.id)) throw new MailError('NONEXISTENT', `no such queue entry: ${entry.id}`);
    this.forget(entry.id);
    this.stateless.delete(entry.id);
    const message = await this.messageFile(entry.id);
    if (message === undefined) throw new MailError('NONEXISTENT', `no such queue entry: ${entry.id}`);
    await this.writeState(entry);
    // `queue delete` may have removed the message between the check and the rename: then this .json goes too.
    if (!(await exists(message))) {
      await unlinkQuietly(this.file(entry.id, STATE));
      throw new MailError('NONEXISTENT', `no such queue entry: ${entry.id}`);
    }
    await this.dirSync.sync();
  }

  /**
   * The entry's file first: from then on the entry is gone, whoever rewrites
   * its .json. Durable when it resolves, unless `durable: false`: then it
   * answers once the files are unlinked, and the directory fsync runs on
   * (the runner's choice for an entry it is done with: see runner.ts).
   */
  async remove(id: string, options: RemoveOptions = {}): Promise<void> {
    this.forget(id);
    if (!isEntryId(id)) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    const stateless = this.stateless.delete(id);
    if (await unlinkQuietly(this.file(id, ENTRY))) {
      // A .json only when this process recorded a state (or does not know: made elsewhere, or before a restart).
      await Promise.all([stateless ? undefined : unlinkQuietly(this.file(id, STATE)), unlinkQuietly(this.file(id, HOLD))]);
    } else if ((await exists(this.file(id, STATE))) && (await unlinkQuietly(this.file(id, LEGACY_MESSAGE)))) {
      // The old layout: a .json makes it whole (an .eml alone is what a crash left); the .eml's unlink settles a race.
      await Promise.all([unlinkQuietly(this.file(id, STATE)), unlinkQuietly(this.file(id, HOLD))]);
    } else {
      throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    }
    const synced = this.dirSync.sync();
    if (options.durable === false) {
      synced.catch(() => undefined); // a failed fsync here only widens the crash window the runner accepts
      return;
    }
    await synced;
  }

  /** Puts an entry on hold (like postsuper -h): the runner leaves it alone until released. */
  async hold(id: string): Promise<void> {
    this.forget(id);
    if (!(await this.get(id))) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    await writeFile(this.file(id, HOLD), '', { mode: 0o600 });
    await this.dirSync.sync();
    // Deleted meanwhile: no marker for a gone entry.
    if ((await this.messageFile(id)) === undefined) await unlinkQuietly(this.file(id, HOLD));
    await this.announce([null]);
  }

  /** Releases an entry from hold (like postsuper -H); one not on hold is left as it is. */
  async release(id: string): Promise<void> {
    if (!(await this.get(id))) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    if (await unlinkQuietly(this.file(id, HOLD))) await this.dirSync.sync();
    await this.announce([null]);
  }

  /**
   * Asks whoever runs this queue (another process, e.g. `serve` for a CLI
   * flush) to try every entry now, or only `id`. A marker file rather than a
   * rewrite of each entry: the runner may be updating an entry at the same moment.
   */
  async requestFlush(id?: string): Promise<void> {
    if (id !== undefined && !(await this.get(id))) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    await this.ensureDir();
    await writeFile(path.join(this.dir, id === undefined ? FLUSH_ALL : `${FLUSH_ONE}${id}`), '', { mode: 0o600 });
    // A flush of one entry is found by a look at the whole directory.
    if (id !== undefined) await this.announce([null]);
  }

  /** One process (serve, holding the data dir's lock) runs this queue: a claim leases nothing, it reads the entry as stored now. */
  async claim(id: string, _leaseMs: number): Promise<QueueEntry | undefined> {
    const fresh = this.fresh.get(id);
    if (fresh) {
      // Only this process writes entries' state, so the text enqueue wrote is the stored one; another may hold or delete the entry.
      const [whole, held] = await Promise.all([exists(this.file(id, ENTRY)), exists(this.file(id, HOLD))]);
      if (!whole || held) {
        this.forget(id);
        return undefined;
      }
      if (this.fresh.get(id) === fresh) {
        fresh.claimed = true;
        return JSON.parse(fresh.json) as QueueEntry;
      }
    }
    const entry = await this.get(id);
    return entry?.held ? undefined : entry;
  }

  async renewClaim(id: string, _leaseMs: number): Promise<boolean> {
    return isEntryId(id) && (await this.messageFile(id)) !== undefined;
  }

  async releaseClaim(_id: string): Promise<void> {}

  /** Whether another process changed the queue (see RESCAN) since the last call (and forgets it). */
  async takeRescanRequest(): Promise<boolean> {
    return unlinkQuietly(path.join(this.dir, RESCAN));
  }

  /** Whether a flush of every entry was asked for since the last call (and forgets it). */
  async takeFlushRequest(): Promise<boolean> {
    return unlinkQuietly(path.join(this.dir, FLUSH_ALL));
  }

  /** The entries a flush was asked for one by one since the last call (and forgets them). */
  async takeFlushedIds(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const ids: string[] = [];
    for (const n of names) {
      if (!n.startsWith(FLUSH_ONE) || n === FLUSH_ALL) continue;
      const id = n.slice(FLUSH_ONE.length);
      if ((await unlinkQuietly(path.join(this.dir, n))) && isEntryId(id)) ids.push(id);
    }
    return ids;
  }

  /**
   * Removes what crashes leave: an old-layout .eml that never got its .json
   * (a crash mid-enqueue), a .json whose entry was deleted, hold and flush
   * markers of gone entries, tmp files (a crash mid-enqueue, or a unit of
   * work never finished); each only when older than an hour (an enqueue may
   * be writing it now).
   */
  async cleanOrphans(now = Date.now()): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    const all = new Set(names);
    const whole = (id: string): boolean => all.has(`${id}${ENTRY}`) || (all.has(`${id}${LEGACY_MESSAGE}`) && all.has(`${id}${STATE}`));
    for (const n of names) {
      let orphan = false;
      if (n.endsWith(LEGACY_MESSAGE)) orphan = !all.has(`${n.slice(0, -LEGACY_MESSAGE.length)}${STATE}`);
      else if (n.endsWith(STATE)) orphan = !whole(n.slice(0, -STATE.length));
      else if (n.endsWith(HOLD)) orphan = !whole(n.slice(0, -HOLD.length));
      else if (n.startsWith(FLUSH_ONE) && n !== FLUSH_ALL) orphan = !whole(n.slice(FLUSH_ONE.length));
      else if (n.endsWith(TMP)) orphan = true;
      if (!orphan) continue;
      const p = path.join(this.dir, n);
      try {
        if (now - (await stat(p)).mtimeMs > 3600_000) await unlink(p);
      } catch {
        // gone
      }
    }
  }
}
