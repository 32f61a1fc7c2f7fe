// METADATA entries are durable: set through a real `postino serve` over
// IMAPS, they are the same after a restart, and after `postino reindex`
// rebuilt the index from the Maildir (the table emptied first: only the
// files beside the folders remain), RENAME included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';
import { RawImap, tagged } from './imap-raw-client.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const USER = 'bob@example.test';
const PASSWORD = 'a long enough passphrase 77';

async function login(served: Served): Promise<RawImap> {
  const imaps = await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps');
  const c = await RawImap.connect(Number(imaps.port), true);
  assert.match(tagged(await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 20_000)), /OK/);
  return c;
}

const ok = async (c: RawImap, command: string) => assert.match(tagged(await c.cmd(command)), /^t\d+ OK/, command);

/** Every entry of the server and of the named mailboxes, as the wire shows them. */
async function snapshot(c: RawImap, mailboxes: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const m of ['""', ...mailboxes]) {
    const r = await c.cmd(`GETMETADATA (DEPTH infinity) ${m} (/private /shared)`);
    assert.match(tagged(r), /OK/, r);
    out.push(r.slice(0, r.length - tagged(r).length - 2));
  }
  return out;
}

test('METADATA survives a restart and a `postino reindex` of the Maildir', { timeout: 120_000 }, async () => {
  const s = scratchDir();
  const serve = () => startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
  try {
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    let served = serve();
    let expected: string[];
    try {
      const c = await login(served);
      await ok(c, 'CREATE Projects/Q1');
      await ok(c, 'SETMETADATA "" (/private/vendor/vendor.roundcube/prefs "{\\"skin\\":\\"elastic\\"}")');
      await ok(c, 'SETMETADATA INBOX (/private/comment "mine" /shared/comment "ours")');
      await ok(c, 'SETMETADATA Projects (/private/specialuse "\\\\Archive")');
      // A value with CRLF and 8-bit octets, as a literal8.
      const tag = c.nextTag();
      const value = Buffer.from([0x6c, 0x69, 0x6e, 0x65, 0x0d, 0x0a, 0xc3, 0xa9, 0xff]);
      c.write(`${tag} SETMETADATA Projects/Q1 (/shared/vendor/vendor.example/blob ~{${value.length}}\r\n`);
      await c.waitFor(/^\+[^\r\n]*\r\n/m);
      c.write(Buffer.concat([value, Buffer.from(')\r\n')]));
      assert.match(await c.waitFor(new RegExp(`${tag} [^\\r\\n]*\\r\\n`)), new RegExp(`${tag} OK`));
      // RENAME moves the folder and its entries file with it.
      await ok(c, 'RENAME Projects Work');
      expected = await snapshot(c, ['INBOX', 'Work', 'Work/Q1']);
      assert.ok(expected.join('\n').includes('/shared/vendor/vendor.example/blob {9}\r\nline\r\n\xc3\xa9\xff'), JSON.stringify(expected));
      assert.equal(expected.filter((l) => l.startsWith('* METADATA')).length, 4);
      await c.cmd('LOGOUT');
      c.close();
    } finally {
      assert.equal(await served.stop(), 0);
    }

    served = serve();
    try {
      const c = await login(served);
      assert.deepEqual(await snapshot(c, ['INBOX', 'Work', 'Work/Q1']), expected, 'after a restart');
      c.close();
    } finally {
      assert.equal(await served.stop(), 0);
    }

    // The index forgets every entry; reindex rebuilds mailboxes (new ids) and entries from the files.
    const db = new Database(path.join(s.dir, 'postino.sqlite'));
    db.exec('DELETE FROM mailbox_metadata');
    db.close();
    const r = postino(s.dir, ['reindex', USER]);
    assert.equal(r.code, 0, r.stderr);
    served = serve();
    try {
      const c = await login(served);
      assert.deepEqual(await snapshot(c, ['INBOX', 'Work', 'Work/Q1']), expected, 'after reindex');
      // DELETE after all that still takes the entries away.
      await ok(c, 'DELETE Work/Q1');
      await ok(c, 'CREATE Work/Q1');
      const fresh = await c.cmd('GETMETADATA (DEPTH infinity) Work/Q1 /shared');
      assert.doesNotMatch(fresh, /^\* METADATA/m);
      c.close();
    } finally {
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});
