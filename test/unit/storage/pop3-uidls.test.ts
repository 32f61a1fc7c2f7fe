// The POP3 UIDLs a message keeps (SQLite + Maildir): written beside the
// Maildir before the rows commit, so that `postino reindex` (a rebuild from
// the files) gives every message its UIDL back, as it gives back UIDs and
// flags: imported ones, one moved out of INBOX and back, a copy. A line torn
// by a crash is skipped; messages without one stay without.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openStorage } from '../../../storage/index.js';
import type { Storage } from '../../../storage/ports.js';
import { POP3_UIDLS_FILE } from '../../../storage/maildir/pop3-uidls.js';
import { scratchDir } from '../../support/tmp.js';

const s = scratchDir('pop3-uidls-');
after(() => s.cleanup());
const raw = (subject: string) => Buffer.from(`Subject: ${subject}\r\n\r\n${subject}\r\n`);

async function bySubject(storage: Storage, accountId: number): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const mb of await storage.mail.listMailboxes(accountId)) {
    for (const m of await storage.mail.listMessages(mb.id)) {
      const subject = /Subject: (\S+)/.exec((await storage.mail.readMessage(mb.id, m.uid)).toString())![1]!;
      out[`${mb.name}/${subject}`] = m.pop3Uidl ?? null;
    }
  }
  return out;
}

test('a rebuilt index gives imported, moved and copied messages their POP3 UIDLs back', async () => {
  let storage = openStorage(s.dir);
  await storage.directory.addDomain('example.test');
  const account = await storage.directory.addAccount({ address: 'ann@example.test', passwordHash: 'x', scramSha256: null, quota: null });
  await storage.mail.provisionAccount(account.id);
  await storage.mail.importFolder(account.id, {
    name: 'INBOX',
    uidValidity: 1796579272,
    uidNext: 5,
    add: [
      { uid: 1, raw: raw('one'), flags: ['\\Seen'], internalDate: 1_700_000_000_000, pop3Uidl: '000000016b159fc8' },
      { uid: 2, raw: raw('two'), flags: [], internalDate: 1_700_000_000_000 },
      { uid: 4, raw: raw('four'), flags: [], internalDate: 1_700_000_000_000, pop3Uidl: 'saved"by"dovecot' },
    ],
    flags: [],
    expunge: [],
  });
  const inbox = (await storage.mail.findMailbox(account.id, 'INBOX'))!;
  const archive = await storage.mail.createMailbox(account.id, 'Kept');
  // Out of INBOX and back; a copy into Archive; a new message of Postino's own.
  const [[, out]] = (await storage.mail.move(inbox.id, [1], archive.id)) as [[number, number]];
  await storage.mail.move(archive.id, [out], inbox.id);
  await storage.mail.copy(inbox.id, [4], archive.id);
  await storage.mail.append(account.id, 'INBOX', raw('new'));
  await storage.mail.setFlags(inbox.id, [4], 'add', ['\\Flagged']);
  const before = await bySubject(storage, account.id);
  assert.deepEqual(before, {
    'INBOX/one': '000000016b159fc8',
    'INBOX/two': null,
    'INBOX/four': 'saved"by"dovecot',
    'INBOX/new': null,
    'Kept/four': 'saved"by"dovecot',
  });
  storage.close();

  // A line a crash cut short, after the whole ones.
  const file = path.join(s.dir, 'mail', 'example.test', 'ann', POP3_UIDLS_FILE);
  assert.equal(readFileSync(file, 'utf8').split('\n').length - 1, 3, 'two imported, one copy');
  appendFileSync(file, '1796579999.Mtorn');

  storage = openStorage(s.dir);
  try {
    await storage.mail.recoverAccount(account.id, { rebuild: true });
    assert.deepEqual(await bySubject(storage, account.id), before);
    // A copy made after the torn line is written whole on a line of its own, and found by the next rebuild.
    const inbox = (await storage.mail.findMailbox(account.id, 'INBOX'))!;
    const kept = (await storage.mail.findMailbox(account.id, 'Kept'))!;
    const one = (await storage.mail.listMessages(inbox.id)).find((m) => m.pop3Uidl === '000000016b159fc8')!;
    await storage.mail.copy(inbox.id, [one.uid], kept.id);
    await storage.mail.recoverAccount(account.id, { rebuild: true });
    assert.deepEqual(await bySubject(storage, account.id), { ...before, 'Kept/one': '000000016b159fc8' });
  } finally {
    storage.close();
  }
});
