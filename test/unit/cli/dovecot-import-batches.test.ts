// A Dovecot folder bigger than one import batch (256 messages) comes over
// whole, on both local backends: only the last batch sets UIDNEXT, so the
// later batches' UIDs are not refused as below it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readDovecotMaildir } from '../../../src/cli/dovecot/maildir-source.js';
import { importDovecotMaildir } from '../../../src/cli/dovecot/import-maildir.js';
import { openStorage } from '../../../storage/index.js';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import type { Storage } from '../../../storage/ports.js';
import { scratchDir } from '../../support/tmp.js';

const COUNT = 600;
const scratch = scratchDir('dovecot-batches-');
after(() => scratch.cleanup());

function bigFolder(): string {
  const src = path.join(scratch.dir, 'Maildir');
  for (const s of ['cur', 'new', 'tmp']) mkdirSync(path.join(src, s), { recursive: true });
  const lines = [`3 V1700000000 N${COUNT + 5}`];
  for (let uid = 1; uid <= COUNT; uid++) {
    const base = `17000${uid}.M1P1.host,S=64`;
    lines.push(`${uid} :${base}`);
    writeFileSync(path.join(src, 'cur', `${base}:2,${uid % 2 ? 'S' : ''}`), `Subject: m${uid}\r\n\r\nbody ${uid}\r\n`);
  }
  writeFileSync(path.join(src, 'dovecot-uidlist'), `${lines.join('\n')}\n`);
  return src;
}

async function check(storage: Storage, src: string): Promise<void> {
  await storage.directory.addDomain('example.test');
  const ann = await storage.directory.addAccount({ address: 'ann@example.test', passwordHash: 'x', scramSha256: null, quota: null });
  await storage.mail.provisionAccount(ann.id);
  const outcome = await importDovecotMaildir(storage, ann, readDovecotMaildir(src));
  assert.equal(outcome.folders.find((f) => f.name === 'INBOX')!.added, COUNT);
  const inbox = (await storage.mail.findMailbox(ann.id, 'INBOX'))!;
  const summary = await storage.mail.selectSummary(inbox.id);
  assert.equal(summary.uids.length, COUNT);
  assert.equal(summary.uids.at(-1), COUNT);
  assert.equal(inbox.uidValidity, 1700000000);
  assert.equal((await storage.mail.findMailbox(ann.id, 'INBOX'))!.uidNext, COUNT + 5);
}

test('a 600-message folder is imported whole, UIDNEXT from the uidlist (SQLite + Maildir)', async () => {
  const storage = openStorage(path.join(scratch.dir, 'data'));
  try {
    await check(storage, bigFolder());
  } finally {
    await storage.mail.drain();
    storage.close();
  }
});

test('the same on the memory backend', async () => {
  const storage = openMemoryStorage();
  try {
    await check(storage, bigFolder());
  } finally {
    storage.close();
  }
});
