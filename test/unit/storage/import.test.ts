// The MailImport port on every backend (SQLite + Maildir, memory, PostgreSQL): a
// folder made with a given UIDVALIDITY and UIDs, UIDNEXT from the source,
// flag changes and expunges of a later batch, a folder replaced when its
// UIDVALIDITY changes, and a batch refused as a whole.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { openStorage, sqliteParts } from '../../../storage/index.js';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import { openPostgresStorage } from '../../../storage/postgres/index.js';
import type { Storage } from '../../../storage/ports.js';
import { scratchDir } from '../../support/tmp.js';
import { startPostgres, type PostgresCluster } from '../../support/postgres.js';

const raw = (s: string) => Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`);
const cleanups: Array<() => void | Promise<void>> = [];
/** One scratch cluster for the file, started by the first PostgreSQL test; a database per test. */
let cluster: Promise<PostgresCluster> | undefined;
after(async () => {
  for (const c of cleanups) await c();
  await (await cluster)?.stop();
});

const backends: Array<[string, () => Storage | Promise<Storage>]> = [
  ['memory', () => openMemoryStorage()],
  [
    'sqlite',
    () => {
      const s = scratchDir('import-store-');
      const storage = openStorage(s.dir);
      cleanups.push(() => {
        storage.close();
        s.cleanup();
      });
      return storage;
    },
  ],
  [
    'postgres',
    async () => {
      const storage = await openPostgresStorage(await (await (cluster ??= startPostgres())).createDatabase());
      cleanups.push(() => storage.end());
      return storage;
    },
  ],
];

async function account(storage: Storage): Promise<number> {
  await storage.directory.addDomain('example.test');
  const a = await storage.directory.addAccount({ address: 'ann@example.test', passwordHash: 'x', scramSha256: null, quota: null });
  await storage.mail.provisionAccount(a.id);
  return a.id;
}

for (const [name, open] of backends) {
  describe(`MailImport (${name})`, () => {
    test('a folder with its UIDVALIDITY, UIDs and UIDNEXT; then flags, expunges and new messages', async () => {
      const storage = await open();
      const id = await account(storage);
      const r = await storage.mail.importFolder(id, {
        name: 'Work/Projects',
        uidValidity: 1796531597,
        uidNext: 40,
        add: [
          { uid: 3, raw: raw('a'), flags: ['\\Seen', '$Label1'], internalDate: 1_700_000_000_000 },
          { uid: 17, raw: raw('b'), flags: [], internalDate: 1_700_000_000_000 },
        ],
        flags: [],
        expunge: [],
      });
      assert.deepEqual(r, { created: true, replaced: false, added: 2, flagsChanged: 0, expunged: 0 });
      const mb = (await storage.mail.getMailbox(id, 'Work/Projects'))!;
      assert.equal(mb.uidValidity, 1796531597);
      assert.equal(mb.uidNext, 40);
      assert.deepEqual((await storage.mail.listMessages(mb.id)).map((m) => [m.uid, m.flags]), [[3, ['\\Seen', '$Label1']], [17, []]]);
      assert.equal((await storage.mail.readMessage(mb.id, 17)).toString(), raw('b').toString());

      const again = await storage.mail.importFolder(id, {
        name: 'Work/Projects',
        uidValidity: 1796531597,
        uidNext: 42,
        add: [{ uid: 41, raw: raw('c'), flags: ['\\Flagged'], internalDate: 1_700_000_000_000 }],
        flags: [{ uid: 17, flags: ['\\Answered', '$Label2'] }],
        expunge: [3],
      });
      assert.deepEqual(again, { created: false, replaced: false, added: 1, flagsChanged: 1, expunged: 1 });
      assert.deepEqual((await storage.mail.listMessages(mb.id)).map((m) => [m.uid, m.flags]), [[17, ['\\Answered', '$Label2']], [41, ['\\Flagged']]]);
      assert.equal((await storage.mail.getMailbox(id, 'Work/Projects'))!.uidNext, 42);
      assert.deepEqual(await storage.mail.importedFolder(id, 'Work/Projects'), {
        uidValidity: 1796531597,
        uidNext: 42,
        messages: [{ uid: 17, flags: ['\\Answered', '$Label2'] }, { uid: 41, flags: ['\\Flagged'] }],
      });
      if (name === 'sqlite') {
        // The files carry the UID and the flags, so a rebuilt index (reindex) finds the same.
        const dir = path.join(sqliteParts(storage).mail.accountDir(id), '.Work.Projects');
        assert.ok(readdirSync(path.join(dir, 'cur')).some((f) => /,U=17:2,Rb$/.test(f)));
        await storage.mail.recoverAccount(id, { rebuild: true });
        const rebuilt = (await storage.mail.getMailbox(id, 'Work/Projects'))!;
        assert.equal(rebuilt.uidValidity, 1796531597);
        assert.deepEqual((await storage.mail.listMessages(rebuilt.id)).map((m) => [m.uid, m.flags]), [[17, ['\\Answered', '$Label2']], [41, ['\\Flagged']]]);
        assert.ok(existsSync(dir));
      }
    });

    test('another UIDVALIDITY replaces the folder; a UID below UIDNEXT refuses the whole batch', async () => {
      const storage = await open();
      const id = await account(storage);
      const before = (await storage.mail.getMailbox(id, 'INBOX'))!;
      await storage.mail.importFolder(id, { name: 'INBOX', uidValidity: 7, uidNext: 3, add: [{ uid: 2, raw: raw('x'), flags: [], internalDate: 0 }], flags: [], expunge: [] });
      const r = await storage.mail.importFolder(id, { name: 'INBOX', uidValidity: 9, uidNext: 2, add: [{ uid: 1, raw: raw('y'), flags: ['\\Seen'], internalDate: 0 }], flags: [], expunge: [] });
      assert.equal(r.replaced, true);
      const inbox = (await storage.mail.getMailbox(id, 'INBOX'))!;
      assert.equal(inbox.id, before.id);
      assert.equal(inbox.uidValidity, 9);
      assert.deepEqual((await storage.mail.listMessages(inbox.id)).map((m) => [m.uid, m.flags]), [[1, ['\\Seen']]]);
      assert.equal((await storage.mail.quota(id)).usedMessages, 1);

      await assert.rejects(
        storage.mail.importFolder(id, {
          name: 'INBOX',
          uidValidity: 9,
          uidNext: 10,
          add: [
            { uid: 5, raw: raw('ok'), flags: [], internalDate: 0 },
          ],
          flags: [{ uid: 1, flags: [] }],
          expunge: [],
        }).then(() =>
          storage.mail.importFolder(id, { name: 'INBOX', uidValidity: 9, uidNext: 10, add: [{ uid: 4, raw: raw('low'), flags: [], internalDate: 0 }], flags: [{ uid: 1, flags: ['\\Flagged'] }], expunge: [5] }),
        ),
        /UID 4 of INBOX is below its UIDNEXT 10/,
      );
      // The refused batch changed nothing: 1 unflagged (the first batch's change), 5 still there.
      assert.deepEqual((await storage.mail.listMessages(inbox.id)).map((m) => [m.uid, m.flags]), [[1, []], [5, []]]);
      await assert.rejects(storage.mail.importFolder(id, { name: 'INBOX', uidValidity: 9, uidNext: 10, add: [{ uid: 12, raw: raw('a'), flags: [], internalDate: 0 }, { uid: 11, raw: raw('b'), flags: [], internalDate: 0 }], flags: [], expunge: [] }), /not ascending/);
    });

    test('MODSEQs and HIGHESTMODSEQ kept from the source (a move between backends); new changes go above them', async () => {
      const storage = await open();
      const id = await account(storage);
      const base = { name: 'Kept', uidValidity: 77, flags: [], expunge: [] };
      await storage.mail.importFolder(id, { ...base, uidNext: 3, add: [{ uid: 1, raw: raw('a'), flags: [], internalDate: 0, modseq: 40, bodyId: 'kept.body.1' }, { uid: 2, raw: raw('b'), flags: [], internalDate: 0, modseq: 12 }] });
      await storage.mail.importFolder(id, { ...base, uidNext: 9, highestModseq: 95, add: [{ uid: 5, raw: raw('c'), flags: ['\\Seen'], internalDate: 0, modseq: 90 }] });
      const mb = (await storage.mail.getMailbox(id, 'Kept'))!;
      assert.equal(mb.highestModseq, 95);
      assert.equal(mb.uidNext, 9);
      const messages = await storage.mail.listMessages(mb.id);
      assert.deepEqual(messages.map((m) => [m.uid, m.modseq]), [[1, 40], [2, 12], [5, 90]]);
      if (name === 'postgres') assert.equal(messages[0]!.bodyId, 'kept.body.1');
      const [changed] = await storage.mail.setFlags(mb.id, [2], 'add', ['\\Flagged']);
      assert.equal(changed!.modseq, 96);
      await assert.rejects(storage.mail.importFolder(id, { ...base, uidNext: 9, highestModseq: 0, add: [] }), /HIGHESTMODSEQ/);

      // The source's expunge log: QRESYNC's VANISHED (EARLIER) since a MODSEQ; a UID with a message is not expunged.
      await storage.mail.importFolder(id, { ...base, uidNext: 9, add: [], vanished: [{ uid: 3, modseq: 50 }, { uid: 4, modseq: 85 }, { uid: 5, modseq: 91 }] });
      assert.deepEqual(await storage.mail.expungedSince(mb.id, 49), [3, 4]);
      assert.deepEqual(await storage.mail.expungedSince(mb.id, 60), [4]);

      // A flag change brought with the source's MODSEQ.
      await storage.mail.importFolder(id, { ...base, uidNext: 9, add: [], flags: [{ uid: 1, flags: ['\\Seen'], modseq: 120 }] });
      assert.equal((await storage.mail.getMessage(mb.id, 1))!.modseq, 120);
      assert.equal((await storage.mail.getMailbox(id, 'Kept'))!.highestModseq, 120);
    });
  });
}
