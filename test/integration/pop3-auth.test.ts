// POP3 AUTH and STLS details over real TCP and TLS against an in-process
// pop3/pop3s listener on the real store: SCRAM-SHA-256 (with the server
// signature checked), LOGIN, PLAIN with "=" and with a continuation;
// commands pipelined behind STLS are dropped, not run over TLS; an idle
// session ends with -ERR and deletes nothing.
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
import { Pop3Session, type Pop3Transport } from '../../src/protocol/pop3/session.js';
import { StorePop3Backend } from '../../src/services/pop3-backend.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { scratchDir } from '../support/tmp.js';
import { authScramSha256, type SubmissionClient } from '../support/submission-client.js';
import { Pop3Client } from './pop3-client.js';

const USER = 'carol@example.test';
const PASSWORD = 'correct horse battery staple 42';
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('POP3 AUTH mechanisms, STLS injection and the idle timeout', { timeout: 120_000 }, async (t) => {
  const s = scratchDir('postino-pop3-auth-');
  const storage = openSqliteParts(s.dir, { indexer: indexMessageJson });
  const servers: Server[] = [];
  try {
    await new AdminService(storage.ports).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
    const account = (await storage.ports.directory.getAccount(USER))!;
    await storage.ports.mail.append(account.id, 'INBOX', Buffer.from('Subject: one\r\n\r\nbody\r\n'));
    const ctx: ServiceContext = { config: resolveConfig({}, {}), storage: storage.ports, tls: loadTls(s.dir, 'localhost', undefined), log: createLogger('silent'), dataDir: s.dir };
    servers.push(await startPop3Listener(ctx, 0, false), await startPop3Listener(ctx, 0, true));
    const [plain, implicit] = servers.map((srv) => (srv.address() as AddressInfo).port) as [number, number];

    await t.test('SCRAM-SHA-256, the server signature checked by the client', async () => {
      const c = await Pop3Client.connect(implicit, true);
      // The SMTP-style helper speaks "334 "; POP3 says "+ ".
      const adapter = {
        send: async (line: string) => {
          const r = await c.cmd(line);
          return r.startsWith('+ ') ? `334 ${r.slice(2)}` : r;
        },
      } as unknown as SubmissionClient;
      assert.match(await authScramSha256(adapter, USER, PASSWORD), /^\+OK Logged in, 1 messages/);
      assert.match(await c.cmd('STAT'), /^\+OK 1 /);
      assert.match(await c.cmd('QUIT'), /^\+OK/);
    });

    await t.test('LOGIN, PLAIN with a continuation, and PLAIN "=" (empty) refused', async () => {
      const c = await Pop3Client.connect(implicit, true);
      assert.equal(await c.cmd('AUTH LOGIN'), `+ ${b64('Username:')}`);
      assert.equal(await c.cmd(b64(USER)), `+ ${b64('Password:')}`);
      assert.match(await c.cmd(b64(PASSWORD)), /^\+OK Logged in/);
      await c.cmd('QUIT');
      const d = await Pop3Client.connect(implicit, true);
      assert.match(await d.cmd('AUTH PLAIN ='), /^-ERR \[AUTH\]/);
      assert.equal(await d.cmd('AUTH PLAIN'), '+ ');
      assert.match(await d.cmd(b64(`\0${USER}\0${PASSWORD}`)), /^\+OK Logged in/);
      await d.cmd('QUIT');
      // CAPA lists SASL only where logging in is allowed.
      const e = await Pop3Client.connect(plain);
      const before = await e.lines('CAPA');
      assert.ok(before.includes('STLS') && !before.includes('USER') && !before.some((l) => l.startsWith('SASL')), before.join(','));
      await e.stls();
      const after = await e.lines('CAPA');
      assert.ok(!after.includes('STLS') && after.includes('USER') && after.includes('SASL PLAIN LOGIN SCRAM-SHA-256'), after.join(','));
      e.destroy();
    });

    await t.test('commands sent in the clear behind STLS are dropped, not run over TLS', async () => {
      const c = await Pop3Client.connect(plain);
      c.write(`STLS\r\nUSER ${USER}\r\nPASS ${PASSWORD}\r\n`);
      assert.match(await c.line(), /^\+OK Begin TLS/);
      // Upgrade by hand: the client's own stls() would send STLS again.
      const tls = await import('node:tls');
      const sock = (c as unknown as { socket: import('node:net').Socket }).socket;
      sock.removeAllListeners('data');
      const secure = tls.connect({ socket: sock, rejectUnauthorized: false });
      await new Promise((res) => secure.once('secureConnect', res));
      let got = '';
      secure.on('data', (d: Buffer) => (got += d.toString('latin1')));
      secure.write('STAT\r\n');
      await new Promise((res) => setTimeout(res, 300));
      // Not logged in: the injected USER/PASS never ran.
      assert.equal(got, '-ERR Log in first\r\n');
      secure.destroy();
    });

    await t.test('an idle session gets -ERR and is closed; its DELEs are not applied', async () => {
      const out: string[] = [];
      let closed = false;
      const transport: Pop3Transport = {
        remoteAddress: '192.0.2.1',
        secure: true,
        write: async (data) => void out.push(Buffer.concat(data).toString('latin1')),
        startTls: async () => {},
        setIdleTimeout: () => {},
        close: () => void (closed = true),
      };
      const session = new Pop3Session(transport, new StorePop3Backend(storage.ports.mail, new Authenticator(storage.ports.directory)), {
        hostname: 'localhost',
        allowPlaintextAuth: false,
        startTlsAvailable: false,
      });
      session.start();
      const say = async (line: string) => {
        const n = out.length;
        session.onData(Buffer.from(`${line}\r\n`));
        for (let i = 0; i < 500 && out.length === n; i++) await new Promise((res) => setTimeout(res, 10));
        return out.at(-1)!;
      };
      assert.match(await say(`USER ${USER}`), /^\+OK/);
      assert.match(await say(`PASS ${PASSWORD}`), /^\+OK Logged in/);
      assert.match(await say('DELE 1'), /^\+OK/);
      session.onTimeout();
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(out.at(-1), '-ERR [SYS/TEMP] Disconnected for inactivity\r\n');
      assert.ok(closed);
      session.onClose();
      assert.equal((await storage.ports.mail.getMailbox(account.id, 'INBOX'))!.messages, 1);
    });
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((res) => srv.close(() => res()))));
    await storage.mail.drain();
    storage.close();
    s.cleanup();
  }
});
