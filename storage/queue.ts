// The outbound queue on disk: DIR/queue/<id>.eml (the message) and
// <id>.json (envelope and per-recipient state). The .eml is written first
// and the .json last, so a crash leaves either a whole entry or an orphan
// .eml that is ignored and cleaned. An entry is whole only with both files:
// `queue delete` removes the .eml first, so a .json the runner rewrites at
// the same moment is no entry (and the runner removes it again).
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
// Concurrent enqueues commit as a group: each writes its .eml and its .json
// (under a tmp name), both fsynced at once, renames the .json into place,
// and then joins the one directory fsync that has not started yet; every
// waiter is answered only after the fsync that covers its rename.
//
// All I/O goes through fs/promises: `serve` runs this queue on its event loop.
//
// An entry enqueued here is kept in memory (its .json text and message,
// bounded) until its first claim: the runner in this process, told of it at
// once, need not read back what was just written. The claim still looks at
// the disk for what another process may have done meanwhile (a hold marker,
// the .eml deleted).
// The same class keeps the local-retry queue (DIR/queue/local: messages
// stored for some recipients, the rest retried here).
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
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

/** The .json text of an entry (a hold is a marker, never stored). */
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


/**
 * Writes and fsyncs a file. The callback API (flush: fsync before close) on
 * purpose: a FileHandle costs four promise round trips and their objects on
 * the event loop, and enqueue does this twice per message.
 */
function writeSynced(file: string, content: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => writeFileCallback(file, content, { mode: 0o600, flush: true }, (err) => (err ? reject(err) : resolve())));
}

/** Entries kept in memory between their enqueue and their first claim, at most (count, and message bytes). */
const FRESH_MAX_ENTRIES = 1000;
const FRESH_MAX_BYTES = 16 * 1024 * 1024;

/** An entry as enqueue wrote it: the .json text and the message. */
interface FreshEntry {
  json: string;
  raw: Buffer;
  /** claim has just looked at the disk for it: message may answer from memory. */
  claimed?: boolean;
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

  /** Writes the .json through a tmp file and a rename (fsynced first); the directory's fsync is the caller's. */
  private async writeEntry(entry: QueueEntry): Promise<void> {
    const tmp = await this.writeEntryTmp(entry);
    try {
      await rename(tmp, this.file(entry.id, '.json'));
    } catch (err) {
      await unlinkQuietly(tmp);
      throw err;
    }
  }

  /** The .json under a tmp name, fsynced; returns that name. */
  private async writeEntryTmp(entry: QueueEntry, json = entryJson(entry)): Promise<string> {
    const tmp = path.join(this.dir, `.${entry.id}.${process.pid}.${++tmpCounter}${TMP}`);
    try {
      await writeSynced(tmp, json);
    } catch (err) {
      await unlinkQuietly(tmp); // a full disk leaves a partial file behind
      throw err;
    }
    return tmp;
  }

  /**
   * Durable when it resolves. The .eml and the .json's tmp file are written
   * and fsynced together; the rename that makes the entry whole comes after
   * both, and the directory fsync is shared with concurrent enqueues.
   */
  async enqueue(sender: string, recipients: string[], raw: Buffer, reason: string, extra: EnqueueExtra = {}): Promise<QueueEntry> {
    const entry = newEntry(sender, recipients, reason, extra);
    const message = this.file(entry.id, '.eml');
    const text = entryJson(entry);
    try {
      await this.ensureDir();
      const [eml, json] = await Promise.allSettled([writeSynced(message, raw), this.writeEntryTmp(entry, text)]);
      if (eml.status === 'rejected' || json.status === 'rejected') {
        if (json.status === 'fulfilled') await unlinkQuietly(json.value);
        throw eml.status === 'rejected' ? eml.reason : (json as PromiseRejectedResult).reason;
      }
      await rename(json.value, this.file(entry.id, '.json')).catch(async (err: unknown) => {
        await unlinkQuietly(json.value);
        throw err;
      });
      await this.dirSync.sync();
    } catch (err) {
      this.dirReady = false; // removed from under us, say: looked at again next time
      await unlinkQuietly(message);
      await unlinkQuietly(this.file(entry.id, '.json'));
      throw new MailError('TEMPFAIL', 'cannot write to the queue', { cause: err });
    }
    // Only a runner in this process (a watcher) ever claims it from here.
    if (this.listeners.size > 0) this.remember(entry.id, text, raw);
    await this.announce([entry]);
    return entry;
  }

  /**
   * The first half of an enqueue, for a unit of work: the message is written
   * (fsynced) but the entry is not there until publish, so nothing sends it
   * before the unit commits; discard takes it back.
   */
  async stage(sender: string, recipients: string[], raw: Buffer, reason: string, extra: EnqueueExtra = {}): Promise<QueueEntry> {
    const entry = newEntry(sender, recipients, reason, extra);
    try {
      await this.ensureDir();
      await writeSynced(this.file(entry.id, '.eml'), raw);
    } catch (err) {
      this.dirReady = false; // removed from under us, say: looked at again next time
      await unlinkQuietly(this.file(entry.id, '.eml'));
      throw new MailError('TEMPFAIL', 'cannot write to the queue', { cause: err });
    }
    return entry;
  }

  /** Makes staged entries whole, durably (one directory fsync for all). */
  async publish(entries: QueueEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      for (const e of entries) await this.writeEntry(e);
      await this.dirSync.sync();
    } catch (err) {
      throw new MailError('TEMPFAIL', 'cannot write to the queue', { cause: err });
    }
    await this.announce(entries);
  }

  /** Takes back staged entries (their unit of work was undone). */
  async discard(ids: string[]): Promise<void> {
    for (const id of ids) await unlinkQuietly(this.file(id, '.eml'));
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
      if (!n.endsWith('.json')) continue;
      const id = n.slice(0, -5);
      if (!isEntryId(id) || !all.has(`${id}.eml`)) continue;
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

  private async read(id: string, held: boolean): Promise<QueueEntry | undefined> {
    try {
      const entry = JSON.parse(await readFile(this.file(id, '.json'), 'utf8')) as QueueEntry;
      if (typeof entry !== 'object' || entry === null || entry.id !== id) return undefined;
      if (held) entry.held = true;
      return entry;
    } catch {
      return undefined; // gone meanwhile, or not an entry
    }
  }

  async get(id: string): Promise<QueueEntry | undefined> {
    if (!isEntryId(id) || !(await exists(this.file(id, '.eml')))) return undefined;
    return this.read(id, await exists(this.file(id, HOLD)));
  }

  /** The entry's message (its .eml goes first when an entry is removed, so a removed entry has none). */
  async message(id: string): Promise<Buffer> {
    if (!isEntryId(id)) throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    const fresh = this.fresh.get(id);
    if (fresh?.claimed) {
      // Claimed just now (the claim saw the .eml): the copy enqueue wrote.
      this.forget(id, fresh);
      return fresh.raw;
    }
    try {
      return await readFile(this.file(id, '.eml'));
    } catch {
      throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    }
  }

  /**
   * Durable when it resolves: a crash afterwards finds this state, not the
   * one before. An entry deleted meanwhile stays deleted (NONEXISTENT).
   */
  async update(entry: QueueEntry): Promise<void> {
    if (!isEntryId(entry.id)) throw new MailError('NONEXISTENT', `no such queue entry: ${entry.id}`);
    this.forget(entry.id);
    const message = this.file(entry.id, '.eml');
    if (!(await exists(message))) throw new MailError('NONEXISTENT', `no such queue entry: ${entry.id}`);
    await this.writeEntry(entry);
    // `queue delete` may have removed the message between the check and the rename: then this .json goes too.
    if (!(await exists(message))) {
      await unlinkQuietly(this.file(entry.id, '.json'));
      throw new MailError('NONEXISTENT', `no such queue entry: ${entry.id}`);
    }
    await this.dirSync.sync();
  }

  /**
   * The message first: from then on the entry is gone, whoever rewrites its
   * .json. Durable when it resolves, unless `durable: false`: then it answers
   * once the files are unlinked, and the directory fsync runs on (the
   * runner's choice for an entry it is done with: see runner.ts).
   */
  async remove(id: string, options: RemoveOptions = {}): Promise<void> {
    this.forget(id);
    // A .json makes the entry whole (a staged .eml alone is no entry to remove); the .eml's unlink settles a race.
    if (!isEntryId(id) || !(await exists(this.file(id, '.json'))) || !(await unlinkQuietly(this.file(id, '.eml')))) {
      throw new MailError('NONEXISTENT', `no such queue entry: ${id}`);
    }
    await Promise.all([unlinkQuietly(this.file(id, '.json')), unlinkQuietly(this.file(id, HOLD))]);
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
    if (!(await exists(this.file(id, '.eml')))) await unlinkQuietly(this.file(id, HOLD));
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
      const [message, held] = await Promise.all([exists(this.file(id, '.eml')), exists(this.file(id, HOLD))]);
      if (!message || held) {
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
    return isEntryId(id) && exists(this.file(id, '.eml'));
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
   * Removes what crashes leave: an .eml that never got its .json (a crash
   * mid-enqueue, or a unit of work never finished), a .json whose message
   * was deleted, hold and flush markers of gone entries, tmp files; each
   * only when older than an hour (an enqueue may be writing it now).
   */
  async cleanOrphans(now = Date.now()): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    const all = new Set(names);
    for (const n of names) {
      let orphan = false;
      if (n.endsWith('.eml')) orphan = !all.has(`${n.slice(0, -4)}.json`);
      else if (n.endsWith('.json')) orphan = !all.has(`${n.slice(0, -5)}.eml`);
      else if (n.endsWith(HOLD)) orphan = !all.has(`${n.slice(0, -HOLD.length)}.eml`);
      else if (n.startsWith(FLUSH_ONE) && n !== FLUSH_ALL) orphan = !all.has(`${n.slice(FLUSH_ONE.length)}.eml`);
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
