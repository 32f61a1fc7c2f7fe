// RETR in message order is read for ahead of what the client has sent: each
// body must still be the message asked for, a DELE after the read ahead wins,
// and a jump out of order goes on correctly. Small messages are read into
// memory the store lends and takes back (storage/maildir/read-arena.ts):
// sessions of two accounts downloading at once, and one dropped with reads
// in flight, must each still get their own bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo, Server } from 'node:net';
import { openSqliteParts } from '../../storage/index.js';
import { indexMessageJson } from '../../mime/index.js';
import { AdminService } from '../../src/services/admin.js';
import { resolveConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { loadTls } from '../../src/server/tls.js';
import { startPop3Listener } from '../../src/server/pop3-service.js';
import type { ServiceContext } from '../../src/server/postino-server.js';
import { scratchDir } from '../support/tmp.js';
import { Pop3Client } from './pop3-client.js';

const USER = 'reader@example.test';
const PASSWORD = 'correct horse battery staple 42';

test('POP3 RETR in order, one at a time and pipelined, gets each its own message; DELE after a read ahead wins', { timeout: 120_000 }, async () => {
  const s = scratchDir('postino-pop3-ahead-');
  const storage = openSqliteParts(s.dir, { indexer: indexMessageJson });
  let server: Server | undefined;
  try {
    await new AdminService(storage.ports).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
    const account = (await storage.ports.directory.getAccount(USER))!;
    const body = (i: number) => `Subject: message ${i}\r\n\r\n${`line of message ${i}\r\n`.repeat(1 + (i % 7) * 40)}`;
    for (let i = 1; i <= 300; i++) await storage.ports.mail.append(account.id, 'INBOX', Buffer.from(body(i)));
    const config = resolveConfig({ pop3: { allowPlaintextAuth: true } }, {});
    const ctx: ServiceContext = { config, storage: storage.ports, tls: loadTls(s.dir, 'localhost', undefined), log: createLogger('silent'), dataDir: s.dir };
    server = await startPop3Listener(ctx, 0, false);
    const c = await Pop3Client.connect((server.address() as AddressInfo).port);
    assert.match(await c.login(USER, PASSWORD), /^\+OK/);
    const subjectOf = (text: string) => /^Subject: (.*)$/m.exec(text)?.[1];
    // One at a time, in order: the server reads ahead.
    for (let i = 1; i <= 100; i++) {
      const r = await c.multi(`RETR ${i}`);
      assert.match(r.status, /^\+OK/);
      assert.equal(r.body, body(i), `RETR ${i}`);
    }
    // Read ahead already; deleted now: the RETR must refuse it.
    assert.match(await c.cmd('DELE 102'), /^\+OK/);
    assert.equal(subjectOf((await c.multi('RETR 101')).body), 'message 101');
    assert.match((await c.multi('RETR 102')).status, /^-ERR/);
    assert.equal(subjectOf((await c.multi('RETR 103')).body), 'message 103');
    // Out of order, then in order again from there.
    assert.equal(subjectOf((await c.multi('RETR 250')).body), 'message 250');
    assert.equal(subjectOf((await c.multi('RETR 7')).body), 'message 7');
    assert.equal(subjectOf((await c.multi('RETR 8')).body), 'message 8');
    // Pipelined to the end.
    const asked = Array.from({ length: 197 }, (_, k) => 104 + k).filter((n) => n !== 250);
    c.write(asked.map((n) => `RETR ${n}\r\n`).join(''));
    for (const n of asked) assert.equal((await c.multiReply()).body, body(n), `pipelined RETR ${n}`);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    const left = await storage.ports.mail.listMessages((await storage.ports.mail.findMailbox(account.id, 'INBOX'))!.id);
    assert.equal(left.length, 299);
    assert.ok(left.every((m) => m.flags.includes('\\Seen') === (m.uid !== 102)));
  } finally {
    server?.close();
    storage.close();
    s.cleanup();
  }
});

test('POP3: two accounts downloading pipelined at once each get their own messages; a session dropped mid-download leaves the next one whole', { timeout: 120_000 }, async () => {
  const s = scratchDir('postino-pop3-lent-');
  const storage = openSqliteParts(s.dir, { indexer: indexMessageJson });
  let server: Server | undefined;
  const users = ['anna@example.test', 'bruno@example.test'];
  try {
    await new AdminService(storage.ports).addDomain('example.test', users[0]!, { password: PASSWORD, allowWeak: false });
    await new AdminService(storage.ports).addUser({ address: users[1]!, password: PASSWORD, allowWeak: false });
    const body = (user: string, i: number) => `Subject: ${user} ${i}\r\n\r\n${`${user} line ${i}\r\n`.repeat(1 + ((i * 13) % 90))}${i % 5 === 0 ? '.dot line\r\n' : ''}`;
    const COUNT = 400;
    for (const user of users) {
      const account = (await storage.ports.directory.getAccount(user))!;
      for (let i = 1; i <= COUNT; i += 50) {
        await storage.ports.mail.appendMany(account.id, 'INBOX', Array.from({ length: 50 }, (_, k) => ({ raw: Buffer.from(body(user, i + k)) })));
      }
    }
    const config = resolveConfig({ pop3: { allowPlaintextAuth: true } }, {});
    const ctx: ServiceContext = { config, storage: storage.ports, tls: loadTls(s.dir, 'localhost', undefined), log: createLogger('silent'), dataDir: s.dir };
    server = await startPop3Listener(ctx, 0, false);
    const port = (server.address() as AddressInfo).port;
    const download = async (user: string, upTo: number) => {
      const c = await Pop3Client.connect(port);
      assert.match(await c.login(user, PASSWORD), /^\+OK/);
      const asked = Array.from({ length: upTo }, (_, k) => k + 1);
      c.write(asked.map((n) => `RETR ${n}\r\n`).join(''));
      return { c, asked };
    };
    // Both at once, to the end: every body is its own account's, byte for byte.
    const both = await Promise.all(users.map((u) => download(u, COUNT)));
    await Promise.all(
      both.map(async ({ c, asked }, k) => {
        for (const n of asked) assert.equal((await c.multiReply()).body, body(users[k]!, n), `${users[k]} RETR ${n}`);
        assert.match(await c.cmd('QUIT'), /^\+OK/);
      }),
    );
    // Dropped with reads in flight, again and again; then a whole download of the same account.
    for (let k = 0; k < 5; k++) {
      const { c } = await download(users[0]!, COUNT);
      await c.multiReply();
      c.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { c, asked } = await download(users[0]!, COUNT);
    for (const n of asked) assert.equal((await c.multiReply()).body, body(users[0]!, n), `after drops, RETR ${n}`);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
  } finally {
    server?.close();
    storage.close();
    s.cleanup();
  }
});
