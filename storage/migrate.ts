// `postino migrate --to postgres URL`: moves a data dir that runs on SQLite +
// Maildir to the PostgreSQL backend, through the storage ports of both.
//
// Messages go through the target's MailImport port (as `postino import
// dovecot` brings Dovecot's), so the bodies land in whatever blob store the
// target keeps, and every folder keeps its UIDVALIDITY, UIDNEXT and
// HIGHESTMODSEQ and every message its UID, flags, keywords, internal date,
// MODSEQ and body id (POP3's UIDL), and the expunge log QRESYNC reads goes
// along. Each import batch is one transaction of
// the target, and the target's own folder state (importedFolder: its UIDs
// and flags) is the progress marker: a run after an interruption (SIGKILL
// anywhere) compares the source with what the target holds and brings only
// what is missing or different, so nothing is lost or stored twice. The
// other steps (directory, scripts, subscriptions, metadata, delivery memory,
// admin accounts and tokens, the queues under their own ids) are made
// idempotent the same way: each looks at the target before it writes, and
// the audit log, which cannot be compared entry by entry, is copied in one
// unit of work when the target has none.
//
// The source is held with the data-dir lock (no serve can start on it
// meanwhile) and is left as it is: it stays the way back. The target
// records the migration (postgres/migrate-target.ts) and is refused unless
// empty or holding this same migration unfinished. At the end the two are
// compared mailbox by mailbox (messages and bytes); only when they agree is
// the migration recorded as finished, and only then does the CLI tell (or
// write) the config change.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { MailError } from './errors.js';
import { lockDataDir } from './data-dir-lock.js';
import { openConfiguredStorage, openStorage, sqliteParts } from './index.js';
import { MigrationTarget, checkPostgresUrl } from './postgres/migrate-target.js';
import type { AuditRecord, FolderImport, MailboxInfo, MessageRecord, MetadataEntry, QueueStore, Storage } from './ports.js';
import type { MetadataLimits } from './metadata.js';
import type { QueueEntry } from './queue.js';

/** A batch (one target transaction) holds at most this many messages or bytes, whichever comes first. */
const BATCH_MESSAGES = 256;
const BATCH_BYTES = 16 * 1024 * 1024;
/** Source messages listed (index rows, without bodies) per look. */
const PAGE = 1000;
/** Bodies read from the Maildir at once. */
const PARALLEL_READS = 16;
/** Metadata was within the source's limits already: the target takes it as it is. */
const NO_LIMITS: MetadataLimits = {
  maxValueSize: Number.MAX_SAFE_INTEGER,
  maxEntriesPerMailbox: Number.MAX_SAFE_INTEGER,
  maxBytesPerMailbox: Number.MAX_SAFE_INTEGER,
  maxEntriesPerAccount: Number.MAX_SAFE_INTEGER,
  maxBytesPerAccount: Number.MAX_SAFE_INTEGER,
};

export interface MigrationCounts {
  domains: number;
  accounts: number;
  aliases: number;
  mailboxes: number;
  messages: number;
  bytes: number;
  subscriptions: number;
  scripts: number;
  queued: number;
  admins: number;
  credentials: number;
}

/** One mailbox as each side has it, compared at the end. */
export interface MailboxComparison {
  account: string;
  mailbox: string;
  source: { messages: number; bytes: number; uidValidity: number; uidNext: number };
  target: { messages: number; bytes: number; uidValidity: number; uidNext: number } | null;
}

export interface MigrationReport {
  /** The target had this migration finished already: nothing was copied. */
  alreadyFinished: boolean;
  /** This run copied (messages added to the target in this run; a resumed run counts only its own). */
  copiedMessages: number;
  counts: MigrationCounts;
  mailboxes: MailboxComparison[];
  /** One line per disagreement between the two sides; empty when verified. */
  mismatches: string[];
}

export interface MigrateOptions {
  /** A line for the administrator as each step is done. */
  progress?: (line: string) => void;
  /** Messages per import batch (tests make it small to have many batches). */
  batchMessages?: number;
  /** Bodies as files in this shared directory (storage.blobs) instead of in PostgreSQL. */
  blobs?: string;
}

/** What the target remembers the migration by: this machine and the data dir. */
function sourceName(dataDir: string): string {
  return `${hostname()}:${path.resolve(dataDir)}`;
}

/** Moves the data dir to the PostgreSQL database at url; see the top of this file. */
export async function migrateToPostgres(dataDir: string, url: string, options: MigrateOptions = {}): Promise<MigrationReport> {
  if (!existsSync(path.join(dataDir, 'postino.sqlite'))) throw new MailError('BADINPUT', `${dataDir} is not a Postino data directory (no postino.sqlite)`);
  checkPostgresUrl(url);
  const lock = lockDataDir(dataDir);
  try {
    const record = await MigrationTarget.open(url);
    try {
      const name = sourceName(dataDir);
      const state = await record.inspect(name);
      if (state.kind === 'refused') throw new MailError('REFUSED', state.why);
      if (state.kind === 'ours' && state.record.finished !== null) {
        return { alreadyFinished: true, copiedMessages: 0, counts: emptyCounts(), mailboxes: [], mismatches: [] };
      }
      await record.begin(name);
      const source = openStorage(dataDir);
      let target: Storage | undefined;
      try {
        target = await openConfiguredStorage(dataDir, { backend: 'postgres', url, ...(options.blobs !== undefined ? { blobs: options.blobs } : {}) });
        const report = await new Migration(source, target, options).run();
        if (report.mismatches.length === 0) await record.finish();
        return report;
      } finally {
        if (target) {
          await target.mail.drain().catch(() => {});
          const end = (target as Storage & { end?: () => Promise<void> }).end;
          if (end) await end().catch(() => {});
          else target.close();
        }
        source.close();
      }
    } finally {
      await record.close();
    }
  } finally {
    lock.release();
  }
}

function emptyCounts(): MigrationCounts {
  return { domains: 0, accounts: 0, aliases: 0, mailboxes: 0, messages: 0, bytes: 0, subscriptions: 0, scripts: 0, queued: 0, admins: 0, credentials: 0 };
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f) => b.includes(f));
}

class Migration {
  private readonly counts = emptyCounts();
  private copied = 0;
  /** Source account id -> target account id. */
  private readonly accountIds = new Map<number, number>();
  private readonly say: (line: string) => void;
  private readonly batchMessages: number;

  constructor(
    private readonly source: Storage,
    private readonly target: Storage,
    options: MigrateOptions,
  ) {
    this.say = options.progress ?? (() => {});
    this.batchMessages = Math.max(1, options.batchMessages ?? BATCH_MESSAGES);
  }

  async run(): Promise<MigrationReport> {
    const accounts = await this.source.directory.listAccounts();
    // What serve does at start: the index agrees with the Maildirs (after a crash) before it is read.
    for (const a of accounts) await this.source.mail.recoverAccount(a.id);
    await this.directory();
    await this.admin();
    for (const a of accounts) await this.account(a.id, a.address);
    await this.queues();
    const mailboxes = await this.compare();
    const mismatches = this.mismatches(mailboxes);
    return { alreadyFinished: false, copiedMessages: this.copied, counts: this.counts, mailboxes, mismatches };
  }

  // ---- the directory ------------------------------------------------------------

  private async directory(): Promise<void> {
    const { source, target } = this;
    for (const d of await source.directory.listDomains()) {
      if (!(await target.directory.hasDomain(d.name))) await target.directory.addDomain(d.name);
      this.counts.domains++;
    }
    for (const a of await source.directory.listAccounts()) {
      let t = await target.directory.getAccount(a.address);
      if (!t) t = await target.directory.addAccount({ address: a.address, passwordHash: a.passwordHash, scramSha256: a.scramSha256, quota: a.quota });
      // Again on a later run: the source may have changed in between.
      if (t.passwordHash !== a.passwordHash || t.scramSha256 !== a.scramSha256) await target.directory.setPassword(a.address, a.passwordHash, a.scramSha256);
      if (t.quota !== a.quota) await target.directory.setQuota(a.address, a.quota);
      if (t.disabled !== a.disabled) await target.directory.setDisabled(a.address, a.disabled);
      this.accountIds.set(a.id, t.id);
      this.counts.accounts++;
    }
    const aliases = await source.directory.listAliases();
    const wanted = new Set(aliases.map((a) => a.address));
    for (const alias of aliases) {
      const have = (await target.directory.getAlias(alias.address))?.targets ?? [];
      const missing = alias.targets.filter((t) => !have.includes(t));
      const extra = have.filter((t) => !alias.targets.includes(t));
      if (missing.length > 0) await target.directory.addAliasTargets(alias.address, missing);
      if (extra.length > 0) await target.directory.removeAliasTargets(alias.address, extra);
      this.counts.aliases++;
    }
    for (const alias of await target.directory.listAliases()) {
      if (!wanted.has(alias.address)) await target.directory.removeAliasTargets(alias.address);
    }
    this.say(`directory: ${this.counts.domains} domains, ${this.counts.accounts} accounts, ${this.counts.aliases} aliases`);
  }

  // ---- administrators, their tokens and sessions, the audit log ---------------------

  private async admin(): Promise<void> {
    const { source, target } = this;
    const admins = await source.admin.listAdmins();
    for (const a of admins) {
      const t = await target.admin.getAdmin(a.username);
      if (!t) await target.admin.addAdmin(a);
      else if (t.passwordHash !== a.passwordHash) await target.admin.setAdminPassword(a.username, a.passwordHash);
      this.counts.admins++;
    }
    const principals = [
      ...admins.map((a) => ({ kind: 'admin' as const, name: a.username })),
      ...(await source.directory.listAccounts()).map((a) => ({ kind: 'user' as const, name: a.address })),
    ];
    for (const principal of principals) {
      for (const kind of ['token', 'session'] as const) {
        for (const c of await source.admin.listCredentials(principal, kind)) {
          if (!(await target.admin.findCredential(c.hash))) await target.admin.addCredential(c);
          this.counts.credentials++;
        }
      }
    }
    // The log cannot be compared entry by entry (ids are the target's): all of it in one unit, when the target has none.
    if ((await target.admin.listAudit(1)).length === 0) {
      const all: AuditRecord[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await source.admin.listAudit(1000, before);
        all.push(...page);
        if (page.length < 1000) break;
        before = page[page.length - 1]!.id;
      }
      if (all.length > 0) {
        await target.transaction(async (tx) => {
          for (const { id: _id, ...entry } of all.reverse()) await tx.admin.appendAudit(entry);
        });
      }
    }
    if (admins.length > 0 || this.counts.credentials > 0) this.say(`admin: ${admins.length} administrators, ${this.counts.credentials} tokens and sessions`);
  }

  // ---- one account: folders and messages, subscriptions, scripts, metadata, delivery memory

  private async account(sourceId: number, address: string): Promise<void> {
    const targetId = this.accountIds.get(sourceId)!;
    const { source, target } = this;
    // Parents before children (a name sorts after its parent's).
    const folders = (await source.mail.listMailboxes(sourceId)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const folder of folders) await this.folder(sourceId, targetId, address, folder);
    // Folders deleted in the source since an interrupted run: the target had none but ours.
    const names = new Set(folders.map((f) => f.name));
    const stale = (await target.mail.listMailboxes(targetId)).filter((m) => !names.has(m.name) && m.name !== 'INBOX').sort((a, b) => (a.name < b.name ? 1 : -1));
    for (const m of stale) await target.mail.deleteMailbox(targetId, m.name);

    const subscribed = await source.mail.listSubscriptions(sourceId);
    const have = await target.mail.listSubscriptions(targetId);
    for (const n of subscribed) if (!have.includes(n)) await target.mail.addSubscription(targetId, n);
    for (const n of have) if (!subscribed.includes(n)) await target.mail.removeSubscription(targetId, n);
    this.counts.subscriptions += subscribed.length;

    const scripts = await source.scripts.list(sourceId);
    for (const s of scripts) {
      const text = await source.scripts.get(sourceId, s.name);
      if (!(await target.scripts.exists(targetId, s.name)) || (await target.scripts.get(targetId, s.name)) !== text) await target.scripts.put(targetId, s.name, text);
    }
    for (const s of await target.scripts.list(targetId)) if (!scripts.some((x) => x.name === s.name)) await target.scripts.remove(targetId, s.name);
    const active = scripts.find((s) => s.active)?.name;
    if ((await target.scripts.active(targetId))?.name !== active) await target.scripts.activate(targetId, active);
    this.counts.scripts += scripts.length;

    await this.metadata(sourceId, targetId, null, null);
    const targetFolders = new Map((await target.mail.listMailboxes(targetId)).map((m) => [m.name, m.id]));
    for (const folder of folders) await this.metadata(sourceId, targetId, folder.id, targetFolders.get(folder.name)!);
    await this.deliveryMemory(sourceId, targetId);
  }

  /**
   * One folder: made with its special use, then import batches for what the
   * target lacks or has otherwise, read page by page (a folder of any size
   * takes bounded memory), and a last batch that sets UIDNEXT, HIGHESTMODSEQ
   * and the expunge log (earlier ones leave room for the UIDs still to come).
   */
  private async folder(sourceId: number, targetId: number, address: string, folder: MailboxInfo): Promise<void> {
    const { source, target } = this;
    let state = await target.mail.importedFolder(targetId, folder.name);
    if (!state && folder.specialUse !== null) {
      // The import makes a folder without a special use: made first with it, the import then takes it over (its UIDVALIDITY becomes the source's).
      await target.mail.createMailbox(targetId, folder.name, folder.specialUse);
      state = await target.mail.importedFolder(targetId, folder.name);
    }
    const same = state !== undefined && state.uidValidity === folder.uidValidity;
    const have = new Map(same ? state!.messages.map((m) => [m.uid, m.flags]) : []);
    const uids = (await source.mail.selectSummary(folder.id)).uids;
    const sourceUids = new Set(uids);
    this.counts.mailboxes++;
    this.counts.messages += folder.messages;
    this.counts.bytes += folder.size;

    let expunge = [...have.keys()].filter((uid) => !sourceUids.has(uid));
    let add: MessageRecord[] = [];
    let addBytes = 0;
    let flags: FolderImport['flags'] = [];
    let batches = 0;
    let copied = 0;
    const send = async (last: boolean) => {
      const bodies = await this.readBodies(address, folder, add);
      const r = await target.mail.importFolder(targetId, {
        name: folder.name,
        uidValidity: folder.uidValidity,
        uidNext: last ? folder.uidNext : 1,
        ...(last ? { highestModseq: folder.highestModseq, vanished: this.expungeLog(folder.id) } : {}),
        add: add.map((m, k) => ({ uid: m.uid, raw: bodies[k]!, flags: m.flags, internalDate: m.internalDate, modseq: m.modseq, ...(m.bodyId === undefined ? {} : { bodyId: m.bodyId }), ...(m.pop3Uidl === undefined ? {} : { pop3Uidl: m.pop3Uidl }) })),
        flags,
        expunge,
      });
      copied += r.added;
      batches++;
      add = [];
      addBytes = 0;
      flags = [];
      expunge = [];
    };
    for (let k = 0; k < uids.length; k += PAGE) {
      const page = await source.mail.listMessages(folder.id, uids[k]!, uids[Math.min(k + PAGE, uids.length) - 1]!);
      for (const m of page) {
        const old = have.get(m.uid);
        if (old === undefined) {
          add.push(m);
          addBytes += m.size;
        } else if (!sameFlags(old, m.flags)) flags.push({ uid: m.uid, flags: m.flags, modseq: m.modseq });
        if (add.length >= this.batchMessages || addBytes >= BATCH_BYTES) await send(false);
      }
    }
    const targetBox = same ? await target.mail.findMailbox(targetId, folder.name) : undefined;
    const upToDate =
      same && batches === 0 && add.length === 0 && flags.length === 0 && expunge.length === 0 && state!.uidNext >= folder.uidNext && (targetBox?.highestModseq ?? 0) >= folder.highestModseq;
    if (upToDate) return;
    await send(true);
    this.copied += copied;
    this.say(`${address} ${folder.name}: ${folder.messages} messages (${copied} copied now)`);
  }

  /** The bodies of one batch, read a few at a time. */
  private async readBodies(address: string, folder: MailboxInfo, messages: MessageRecord[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (let k = 0; k < messages.length; k += PARALLEL_READS) {
      const chunk = messages.slice(k, k + PARALLEL_READS);
      out.push(
        ...(await Promise.all(
          chunk.map((m) =>
            this.source.mail.readMessage(folder.id, m.uid).catch((err: unknown) => {
              throw new MailError('TEMPFAIL', `cannot read ${address} ${folder.name} UID ${m.uid}: ${(err as Error).message}`, { cause: err });
            }),
          ),
        )),
      );
    }
    return out;
  }

  /** The folder's expunge log (QRESYNC's VANISHED), read from the SQLite index: the port gives UIDs without their MODSEQs. */
  private expungeLog(mailboxId: number): Array<{ uid: number; modseq: number }> {
    return sqliteParts(this.source).db.prepare('SELECT uid, modseq FROM expunged WHERE mailbox_id = ? ORDER BY uid').all(mailboxId) as Array<{ uid: number; modseq: number }>;
  }

  private async metadata(sourceId: number, targetId: number, sourceMailbox: number | null, targetMailbox: number | null): Promise<void> {
    const read = async (s: Storage, account: number, mailbox: number | null): Promise<MetadataEntry[]> => [
      ...(await s.mail.metadata.read(account, mailbox, '/private', true)),
      ...(await s.mail.metadata.read(account, mailbox, '/shared', true)),
    ];
    const wanted = await read(this.source, sourceId, sourceMailbox);
    const have = await read(this.target, targetId, targetMailbox);
    const changes = [
      ...wanted.filter((w) => !have.some((h) => h.entry === w.entry && h.value.equals(w.value))).map((w) => ({ entry: w.entry, value: w.value })),
      ...have.filter((h) => !wanted.some((w) => w.entry === h.entry)).map((h) => ({ entry: h.entry, value: null })),
    ];
    if (changes.length === 0) return;
    const r = await this.target.mail.metadata.set(targetId, targetMailbox, changes, NO_LIMITS);
    if (!r.ok) throw new MailError('TEMPFAIL', `the target refused the METADATA of a mailbox (${r.reason})`);
  }

  /** Vacation replies sent and duplicate ids seen: read from the SQLite index (the port has no listing), written through the target's port. */
  private async deliveryMemory(sourceId: number, targetId: number): Promise<void> {
    const db = sqliteParts(this.source).db;
    const now = Date.now();
    const vacations = db.prepare('SELECT sender, handle, expires FROM vacation_log WHERE account_id = ? AND expires > ?').all(sourceId, now) as Array<{
      sender: string;
      handle: string;
      expires: number;
    }>;
    for (const v of vacations) await this.target.memory.recordVacation(targetId, v.sender, v.handle, v.expires - now, now);
    const duplicates = db.prepare('SELECT handle, id, expires FROM duplicate_log WHERE account_id = ? AND expires > ?').all(sourceId, now) as Array<{
      handle: string;
      id: string;
      expires: number;
    }>;
    for (const d of duplicates) await this.target.memory.checkDuplicate(targetId, d.handle, d.id, d.expires - now, true, now);
  }

  // ---- the queues --------------------------------------------------------------

  private async queues(): Promise<void> {
    await this.queue(this.source.queue, this.target.queue);
    await this.queue(this.source.localRetry, this.target.localRetry);
    if (this.counts.queued > 0) this.say(`queue: ${this.counts.queued} entries`);
  }

  /** Each entry under its own id, with its state and hold; entries sent from the source since an interrupted run go. */
  private async queue(from: QueueStore, to: QueueStore): Promise<void> {
    const entries = await from.list();
    const ids = new Set<string>();
    for (const e of entries) {
      let raw: Buffer;
      try {
        raw = await from.message(e.id);
      } catch (err) {
        if ((err as MailError).code === 'NONEXISTENT') continue;
        throw err;
      }
      ids.add(e.id);
      const { held, ...state } = e;
      const existing = await to.get(e.id);
      if (!existing) {
        await to.enqueue(e.sender, e.recipients, raw, e.reason, {
          id: e.id,
          created: e.created,
          nextAttempt: e.nextAttempt,
          ...(e.data === undefined ? {} : { data: e.data }),
          ...(e.smtpId === undefined ? {} : { smtpId: e.smtpId }),
        });
      }
      await to.update(state as QueueEntry);
      if (held && !existing?.held) await to.hold(e.id);
      if (!held && existing?.held) await to.release(e.id);
      this.counts.queued++;
    }
    for (const e of await to.list()) if (!ids.has(e.id)) await to.remove(e.id);
  }

  // ---- verification ---------------------------------------------------------------

  /** Every source mailbox beside the target's, from each side's own counters. */
  private async compare(): Promise<MailboxComparison[]> {
    const out: MailboxComparison[] = [];
    for (const a of await this.source.directory.listAccounts()) {
      const t = await this.target.directory.getAccount(a.address);
      const theirs = new Map(t ? (await this.target.mail.listMailboxes(t.id)).map((m) => [m.name, m]) : []);
      for (const m of await this.source.mail.listMailboxes(a.id)) {
        const x = theirs.get(m.name);
        out.push({
          account: a.address,
          mailbox: m.name,
          source: { messages: m.messages, bytes: m.size, uidValidity: m.uidValidity, uidNext: m.uidNext },
          target: x ? { messages: x.messages, bytes: x.size, uidValidity: x.uidValidity, uidNext: x.uidNext } : null,
        });
      }
    }
    return out;
  }

  private mismatches(mailboxes: MailboxComparison[]): string[] {
    const out: string[] = [];
    for (const m of mailboxes) {
      const where = `${m.account} ${m.mailbox}`;
      if (!m.target) {
        out.push(`${where}: missing in the target`);
        continue;
      }
      const s = m.source;
      const t = m.target;
      if (s.messages !== t.messages || s.bytes !== t.bytes) out.push(`${where}: ${s.messages} messages, ${s.bytes} bytes in the source; ${t.messages}, ${t.bytes} in the target`);
      if (s.uidValidity !== t.uidValidity) out.push(`${where}: UIDVALIDITY ${s.uidValidity} in the source, ${t.uidValidity} in the target`);
      if (t.uidNext < s.uidNext) out.push(`${where}: UIDNEXT ${s.uidNext} in the source, ${t.uidNext} in the target`);
    }
    return out;
  }
}
