// Brings a Dovecot Maildir (read and checked by maildir-source.ts) into an
// account through the MailImport port: per folder, what the account lacks
// (messages by UID), what changed (flags, keywords, expunges), and the
// folder replaced when Dovecot's UIDVALIDITY is another (deleted and made
// again). Then the subscriptions, made equal to Dovecot's. Run again, it
// brings only what changed since.
import type { AccountRecord, FolderImport, Storage } from '../../../storage/ports.js';
import { normalizeFlags } from '../../../storage/flags.js';
import { readMessageFile, type DovecotMaildir, type SourceFolder, type SourceMessage } from './maildir-source.js';

/** A batch (one transaction) holds at most this many messages or bytes, whichever comes first. */
const BATCH_MESSAGES = 256;
const BATCH_BYTES = 32 * 1024 * 1024;

export interface FolderOutcome {
  name: string;
  created: boolean;
  replaced: boolean;
  added: number;
  flagsChanged: number;
  expunged: number;
}

export interface MaildirImportOutcome {
  folders: FolderOutcome[];
  subscribed: number;
  unsubscribed: number;
  warnings: string[];
}

function sameFlags(a: string[], b: string[]): boolean {
  const x = normalizeFlags(a);
  const y = normalizeFlags(b);
  return x.length === y.length && x.every((f) => y.includes(f));
}

async function importOne(storage: Storage, account: AccountRecord, folder: SourceFolder, warnings: string[]): Promise<FolderOutcome> {
  const outcome: FolderOutcome = { name: folder.name, created: false, replaced: false, added: 0, flagsChanged: 0, expunged: 0 };
  if (folder.unlisted > 0) {
    warnings.push(
      `${folder.name}: ${folder.unlisted} message file(s) have no UID in ${folder.dir}/dovecot-uidlist yet and were skipped; ` +
        `let Dovecot list them (doveadm force-resync -u USER '${folder.name}') and import again`,
    );
  }
  if (folder.uidValidity === undefined) {
    // Never opened in Dovecot: no UIDs a client could have cached.
    if (!(await storage.mail.hasMailbox(account.id, folder.name))) {
      await storage.mail.createMailbox(account.id, folder.name);
      outcome.created = true;
    }
    return outcome;
  }
  const state = await storage.mail.importedFolder(account.id, folder.name);
  const same = state !== undefined && state.uidValidity === folder.uidValidity;
  const have = new Map(same ? state.messages.map((m) => [m.uid, m.flags]) : []);
  const sourceUids = new Set(folder.messages.map((m) => m.uid));
  const add = folder.messages.filter((m) => !have.has(m.uid));
  const flags = folder.messages.filter((m) => have.has(m.uid) && !sameFlags(have.get(m.uid)!, m.flags)).map((m) => ({ uid: m.uid, flags: m.flags }));
  const expunge = [...have.keys()].filter((uid) => !sourceUids.has(uid));
  const upToDate = same && add.length === 0 && flags.length === 0 && expunge.length === 0 && state.uidNext >= folder.uidNext;
  if (upToDate) return outcome;

  let first = true;
  let i = 0;
  do {
    const chunk: SourceMessage[] = [];
    const bodies: FolderImport['add'] = [];
    let bytes = 0;
    while (i < add.length && chunk.length < BATCH_MESSAGES && bytes < BATCH_BYTES) {
      const m = add[i++]!;
      const { raw, mtimeMs } = readMessageFile(m.file);
      chunk.push(m);
      // Only INBOX's matter to POP3, but every folder's are kept: a message moved into INBOX later keeps its UIDL.
      bodies.push({ uid: m.uid, raw, flags: m.flags, internalDate: Math.floor(mtimeMs), pop3Uidl: m.pop3Uidl });
      bytes += raw.length;
    }
    const batch: FolderImport = {
      name: folder.name,
      uidValidity: folder.uidValidity,
      // Only the last batch sets UIDNEXT: set earlier, it would put the next batch's UIDs below it (refused).
      uidNext: i >= add.length ? folder.uidNext : 1,
      add: bodies,
      flags: first ? flags : [],
      expunge: first ? expunge : [],
    };
    const r = await storage.mail.importFolder(account.id, batch);
    outcome.created ||= r.created;
    outcome.replaced ||= r.replaced;
    outcome.added += r.added;
    outcome.flagsChanged += r.flagsChanged;
    outcome.expunged += r.expunged;
    first = false;
  } while (i < add.length);
  return outcome;
}

export async function importDovecotMaildir(storage: Storage, account: AccountRecord, source: DovecotMaildir): Promise<MaildirImportOutcome> {
  const warnings: string[] = [];
  const folders: FolderOutcome[] = [];
  for (const folder of source.folders) folders.push(await importOne(storage, account, folder, warnings));
  let subscribed = 0;
  let unsubscribed = 0;
  if (source.subscriptions !== undefined) {
    const wanted = new Set(source.subscriptions);
    const current = new Set(await storage.mail.listSubscriptions(account.id));
    for (const name of wanted) {
      if (current.has(name)) continue;
      await storage.mail.addSubscription(account.id, name);
      subscribed++;
    }
    for (const name of current) {
      if (wanted.has(name)) continue;
      await storage.mail.removeSubscription(account.id, name);
      unsubscribed++;
    }
  }
  return { folders, subscribed, unsubscribed, warnings };
}
