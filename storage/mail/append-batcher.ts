// Appends with group commit. A message is written to tmp/ and fdatasynced
// (by the writer threads; small ones in rounds shared with the appends of the
// moment: see write()), then, inside one SQLite write
// transaction, renamed into new/ or cur/ with its UID in the name and its
// index row added; the directories and the WAL are fsynced, and only then
// does append() resolve. Concurrent appends share one transaction and one
// directory fsync, which is what makes fsync-on fast; and batches that
// commit while the previous batch's fsyncs run share the next round of them
// (group-sync.ts), so under load the directory and WAL fsyncs are fewer
// than the messages. A crash before the rename leaves only a tmp/ file
// (never visible); a crash between rename and commit leaves a whole file
// that recovery adopts.
import type { AppendOptions, AppendResult, MailboxChange, StagedBlob } from '../ports.js';
import { MailError } from '../errors.js';
import { normalizeFlags, storableFlags } from '../flags.js';
import type { MailboxRef, MailboxRow } from '../index/mail-rows.js';
import type { MailCore } from './core.js';
import { pop3UidlColumn } from '../pop3-uidl.js';
import { recordPop3Uidls } from '../maildir/pop3-uidls.js';
import { GroupSync, type SyncPaths } from './group-sync.js';
import { MaildirBlobStore } from '../maildir/blob-store.js';
import type { TmpWrite } from '../maildir/tmp-writer.js';

const MAX_BATCH = 512;

interface PendingAppend {
  mailboxId: number;
  staged: StagedBlob;
  size: number;
  flags: string[];
  internalDate: number;
  mime: string | null;
  /** The message's own POP3 UIDL (a COPY of one that has it), or null. */
  pop3Uidl: string | null;
  ignoreQuota: boolean;
  /** Appends that commit together or not at all (MULTIAPPEND); queued next to each other. */
  group?: object;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

type Outcome = { item: PendingAppend; result?: AppendResult; error?: unknown; change?: MailboxChange; finalPath?: string };

/** What one batch's transaction has learned so far. */
interface BatchState {
  mailboxes: Map<number, MailboxRow>;
  usage: Map<number, { quota: number | null; used: number; addBytes: number; addCount: number }>;
  touchedDirs: Set<string>;
}

export class AppendBatcher {
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private settling = 0;

  private readonly groupSync: GroupSync;
  /** Rounds of bodies written to tmp/ and fdatasynced (see write). */
  private readonly dataSync: GroupSync<TmpWrite>;

  /** `syncPaths` fsyncs a round's directories and the WAL: the blob store's writer threads unless a test injects its own. */
  constructor(
    private readonly core: MailCore,
    syncPaths: SyncPaths = (dirs) => core.blobs.sync(dirs, [core.walPath]),
  ) {
    this.groupSync = new GroupSync(syncPaths);
    // As many write rounds at once as there are writer threads: a message finding one idle is written at once, as alone.
    this.dataSync = new GroupSync<TmpWrite>((files) => core.blobs.writeGroup(files), MaildirBlobStore.WRITER_THREADS);
  }

  /**
   * Appends messages to one mailbox as one unit when there are several: all
   * are stored, in order with ascending UIDs, or none is (IMAP MULTIAPPEND,
   * RFC 3502). Durable when it resolves.
   */
  async appendGroup(row: MailboxRef, messages: Array<{ raw: Buffer; options: AppendOptions }>): Promise<AppendResult[]> {
    const { core } = this;
    if (messages.length === 0) return [];
    // Refused before anything is written; the commit checks again, exactly.
    const limit = core.quotaLimit(row.account_id);
    let counted = 0;
    for (const m of messages) if (!m.options.ignoreQuota) counted += m.raw.length;
    if (counted > 0 && limit !== null && core.quota(row.account_id).usedBytes + counted > limit) {
      throw new MailError('OVERQUOTA', 'mailbox is full');
    }
    const prepared = messages.map(({ raw, options }) => {
      // Index before writing: a message that cannot be indexed is still stored (mime = null).
      let mime: string | null = null;
      try {
        mime = core.indexer(raw, options.message);
      } catch {
        mime = null;
      }
      return { raw, options, mime, flags: normalizeFlags(options.flags ?? []), internalDate: options.internalDate ?? Date.now(), pop3Uidl: pop3UidlColumn(options.pop3Uidl) };
    });
    const written = await this.write(core.location(row), prepared);
    // Only COPY of an imported message has a UIDL of its own: deliveries skip this.
    if (messages.some((m) => m.options.pop3Uidl !== undefined)) {
      const uidls = prepared.flatMap((m, i) => (m.pop3Uidl === null ? [] : [{ base: written[i]!.base, uidl: m.pop3Uidl }]));
      // Beside the Maildir before the rows commit (see maildir/pop3-uidls.ts).
      try {
        if (uidls.length > 0) recordPop3Uidls(core.accountDir(row.account_id), uidls);
      } catch (err) {
        for (const w of written) core.blobs.discard(w);
        throw this.writeFailure(err);
      }
    }
    const group = messages.length > 1 ? {} : undefined;
    // Queued in one go (no await in between), so a group is never split by other appends.
    return Promise.all(
      prepared.map((m, i) => {
        const staged = written[i]!;
        return new Promise<AppendResult>((resolve, reject) => {
          this.pending.push({
            mailboxId: row.id,
            staged,
            size: m.raw.length,
            flags: m.flags,
            internalDate: m.internalDate,
            mime: m.mime,
            pop3Uidl: m.pop3Uidl,
            ignoreQuota: m.options.ignoreQuota === true,
            ...(group ? { group } : {}),
            resolve,
            reject,
          });
          this.scheduleFlush();
        });
      }),
    );
  }

  /**
   * Writes the bodies into tmp/; durable (fdatasynced) when it resolves.
   * Small ones are written and fdatasynced in rounds shared with the other
   * appends of the moment (as many rounds at a time as writer threads): when
   * all are busy, one hand-off to a thread serves several messages. A large one is
   * written and synced by a thread on its own.
   */
  private async write(location: string, messages: Array<{ raw: Buffer; options: AppendOptions }>): Promise<StagedBlob[]> {
    const { core } = this;
    const options = (m: { options: AppendOptions }) => (m.options.internalDate === undefined ? {} : { internalDate: m.options.internalDate });
    if (messages.every((m) => m.raw.length <= MaildirBlobStore.GROUPED_WRITE_MAX)) {
      const staged: StagedBlob[] = [];
      try {
        for (const m of messages) staged.push(core.blobs.tmpName(location));
        await this.dataSync.sync(messages.map((m, i) => ({ tmpPath: staged[i]!.staged, data: m.raw, mtime: m.options.internalDate })));
        return staged;
      } catch (err) {
        for (const s of staged) core.blobs.discard(s);
        throw this.writeFailure(err);
      }
    }
    const written = await Promise.allSettled(messages.map((m) => core.blobs.stage(location, m.raw, options(m))));
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) {
      for (const w of written) if (w.status === 'fulfilled') core.blobs.discard(w.value);
      throw this.writeFailure(failed.reason);
    }
    return written.map((w) => (w as PromiseFulfilledResult<StagedBlob>).value);
  }

  private writeFailure(cause: unknown): MailError {
    const err = this.core.failure(cause);
    return err instanceof MailError ? err : new MailError('TEMPFAIL', 'cannot write the message', { cause });
  }

  /** Waits until every append handed to the batcher has committed or failed. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushScheduled || this.settling > 0) await new Promise((r) => setTimeout(r, 1));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushWhenFree());
  }

  /** Flushes, unless a unit of work holds the index: then after it (its transaction must not take the batch in). */
  private flushWhenFree(): void {
    const unitEnd = this.core.gate.unitEnd;
    if (unitEnd) {
      void unitEnd.then(() => this.flushWhenFree());
      return;
    }
    this.flushScheduled = false;
    this.flush();
    if (this.pending.length > 0) this.scheduleFlush();
  }

  /** Commits a batch of written tmp files in one transaction. */
  private flush(): void {
    const { core } = this;
    const batch = this.pending.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    // Never split a group between two transactions.
    const lastGroup = batch[batch.length - 1]!.group;
    while (lastGroup && this.pending[0]?.group === lastGroup) batch.push(this.pending.shift()!);
    const outcomes: Outcome[] = [];
    const touchedDirs = new Set<string>();
    try {
      core.withFileChanges(() => core.txKeepingLookups(() => {
        outcomes.length = 0;
        touchedDirs.clear();
        const state: BatchState = { mailboxes: new Map(), usage: new Map(), touchedDirs };
        for (let i = 0; i < batch.length; ) {
          const group = batch[i]!.group;
          let end = i + 1;
          while (group && end < batch.length && batch[end]!.group === group) end++;
          outcomes.push(...(group ? this.commitGroup(batch.slice(i, end), state) : [this.commitItem(batch[i]!, state)]));
          i = end;
        }
        for (const mb of state.mailboxes.values()) {
          core.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(mb.uidnext, mb.highestmodseq, mb.id);
        }
        for (const [accountId, u] of state.usage) {
          if (u.addCount > 0) {
            core.sql('UPDATE accounts SET used_bytes = used_bytes + ?, used_messages = used_messages + ? WHERE id = ?')
              .run(u.addBytes, u.addCount, accountId);
          }
        }
      }));
    } catch (err) {
      // The transaction failed as a whole (the index unavailable, the disk
      // full at COMMIT): nothing was committed, and the renamed files are back
      // in tmp/. They go, so that recovery never adopts a message whose
      // sender was told to retry; every caller is told so.
      for (const o of outcomes) if (o.finalPath) core.blobs.discardFile(o.finalPath);
      for (const item of batch) {
        core.blobs.discard(item.staged);
        item.reject(err instanceof MailError ? err : new MailError('TEMPFAIL', 'cannot commit to the index', { cause: err }));
      }
      return;
    }
    if (outcomes.some((o) => o.result)) core.noteDiskFull(false);
    // The renames (directory fsync) and the index rows (WAL fsync) reach the
    // disk, in the writer threads, before anyone is told the message is stored:
    // in a round of fsyncs begun after this commit, shared with the batches
    // committed while the previous round ran.
    this.settling++;
    const tell = core.holdPlace();
    this.groupSync.sync(touchedDirs).then(
      () => this.settle(outcomes, tell),
      (err: unknown) => this.settle(outcomes.map((o) => (o.result ? { item: o.item, error: new MailError('TEMPFAIL', 'cannot sync the mailbox', { cause: err }) } : o)), tell),
    );
  }

  /**
   * Renames one written file into new/ or cur/ and adds its index row (inside
   * the batch's transaction). A MailError fails this message alone; any other
   * error (SQLite's: the transaction may be gone) fails the whole batch.
   */
  private commitItem(item: PendingAppend, state: BatchState): Outcome {
    const { core } = this;
    try {
      let mb = state.mailboxes.get(item.mailboxId);
      if (!mb) {
        mb = core.mailboxById(item.mailboxId);
        state.mailboxes.set(mb.id, mb);
      }
      let u = state.usage.get(mb.account_id);
      if (!u) {
        const a = core.sql('SELECT quota, used_bytes FROM accounts WHERE id = ?').get(mb.account_id) as {
          quota: number | null;
          used_bytes: number;
        };
        u = { quota: a.quota, used: a.used_bytes, addBytes: 0, addCount: 0 };
        state.usage.set(mb.account_id, u);
      }
      if (!item.ignoreQuota && u.quota !== null && u.used + u.addBytes + item.size > u.quota) {
        throw new MailError('OVERQUOTA', 'mailbox is full');
      }
      const keywords = core.ensureKeywords(mb, item.flags);
      const flags = storableFlags(item.flags, keywords);
      const uid = mb.uidnext;
      const modseq = mb.highestmodseq + 1;
      let named: { ref: string; dir: string; file: string };
      try {
        named = core.blobs.name(core.fileChanges(), item.staged, core.location(mb), { size: item.size, uid, flags, keywords });
      } catch (err) {
        // Its folder went away meanwhile, or no room for the name: this message fails alone.
        const e = core.failure(err);
        throw e instanceof MailError ? e : new MailError('TEMPFAIL', 'cannot store the message', { cause: err });
      }
      state.touchedDirs.add(named.dir);
      core.sql('INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, path, mime, pop3_uidl) VALUES (?,?,?,?,?,?,?,?,?)')
        .run(mb.id, uid, modseq, flags.join(' '), item.internalDate, item.size, named.ref, item.mime, item.pop3Uidl);
      mb.uidnext = uid + 1;
      mb.highestmodseq = modseq;
      u.addBytes += item.size;
      u.addCount += 1;
      return {
        item,
        finalPath: named.file,
        result: { mailboxId: mb.id, uidValidity: mb.uidvalidity, uid, modseq },
        change: { kind: 'append', accountId: mb.account_id, mailboxId: mb.id, uid, modseq, flags },
      };
    } catch (err) {
      // MailErrors come before the rename: nothing of this message to undo.
      if (!(err instanceof MailError)) throw err;
      return { item, error: err };
    }
  }

  /**
   * Commits a group as one: inside a savepoint, and if any member fails the
   * rows roll back, the renamed files go, and every member fails alike.
   */
  private commitGroup(items: PendingAppend[], state: BatchState): Outcome[] {
    const { core } = this;
    const mb = state.mailboxes.get(items[0]!.mailboxId);
    const before = mb ? { uidnext: mb.uidnext, highestmodseq: mb.highestmodseq, keywords: mb.keywords } : undefined;
    const usageBefore = new Map([...state.usage].map(([k, u]) => [k, { ...u }]));
    const outcomes: Outcome[] = [];
    const mark = core.fileChanges().mark();
    let failure: unknown;
    try {
      core.db.transaction(() => {
        for (const item of items) {
          const o = this.commitItem(item, state);
          outcomes.push(o);
          if (!o.result) throw (failure = o.error);
        }
      })();
      return outcomes;
    } catch (err) {
      // Not a MailError: the whole batch fails (see commitItem).
      if (failure === undefined) throw err;
      core.fileChanges().rollback(mark);
      // The savepoint undid the rows; undo what this batch remembered too.
      const current = state.mailboxes.get(items[0]!.mailboxId);
      if (current && before) Object.assign(current, before);
      else if (current) state.mailboxes.delete(current.id);
      state.usage.clear();
      for (const [k, u] of usageBefore) state.usage.set(k, u);
      const error = failure ?? err;
      return items.map((item) => ({ item, error }));
    }
  }

  private settle(outcomes: Outcome[], tell: (changes: MailboxChange[]) => void): void {
    this.settling--;
    const changes: MailboxChange[] = [];
    for (const o of outcomes) {
      if (o.result) {
        o.item.resolve(o.result);
        if (o.change) changes.push(o.change);
      } else {
        this.core.blobs.discard(o.item.staged);
        o.item.reject(o.error instanceof MailError ? o.error : new MailError('TEMPFAIL', 'cannot store the message', { cause: o.error }));
      }
    }
    tell(changes);
  }
}
