// 10,000 random and mutated POP3 command lines through sessions over the
// real store backend (in-process, as imap-fuzz does, so every reply is
// checked), then hostile bytes over TCP to a real listener: the server never
// crashes, never hits an unexpected error, answers every line, keeps its
// memory bounded, and stays usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo, Server } from 'node:net';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { openSqliteParts } from '../../storage/index.js';
import { indexMessageJson } from '../../mime/index.js';
import { AdminService } from '../../src/services/admin.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthPenalty } from '../../src/auth/penalty.js';
import { resolveConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { loadTls } from '../../src/server/tls.js';
import { startPop3Listener } from '../../src/server/pop3-service.js';
import type { ServiceContext } from '../../src/server/postino-server.js';
import { Pop3Session, type Pop3Transport } from '../../src/protocol/pop3/session.js';
import { StorePop3Backend } from '../../src/services/pop3-backend.js';
import { scratchDir } from '../support/tmp.js';
import { prng } from '../support/prng.js';
import { makeMessage } from '../support/messages.js';
import { Pop3Client } from './pop3-client.js';

const USER = 'fuzz@example.test';
const PASSWORD = 'correct horse battery staple 42';

const SEEDS = [
  'CAPA', 'NOOP', 'STAT', 'LIST', 'LIST 1', 'LIST 3', 'UIDL', 'UIDL 2', 'RETR 1', 'RETR 2', 'TOP 1 0', 'TOP 2 5',
  'TOP 3 999999', 'DELE 1', 'DELE 2', 'RSET', 'QUIT', 'STLS', `USER ${USER}`, `PASS ${PASSWORD}`, 'PASS wrong',
  'AUTH', 'AUTH PLAIN', `AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`, 'AUTH LOGIN',
  'AUTH SCRAM-SHA-256', 'AUTH PLAIN =', '*', 'APOP a b', 'LAST', 'XTND XMIT',
];
const SPECIALS = [' ', '\0', '\r', '.', '-', '+', '*', '=', '0', '9999999999999999999', '\xff', '\t', 'A'];

function mutate(line: string, r: () => number): string {
  let s = line;
  const ops = 1 + Math.floor(r() * 3);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0:
        s = s.slice(0, at) + SPECIALS[Math.floor(r() * SPECIALS.length)] + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 5));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(at + 1);
        break;
      case 3:
        s = s.slice(0, at) + s.slice(Math.max(0, at - 8), at) + s.slice(at);
        break;
      case 4:
        s = s.slice(0, at);
        break;
      default:
        s = s.slice(0, at) + 'x'.repeat(Math.floor(r() * 400)) + s.slice(at);
    }
  }
  return s;
}

function garbage(r: () => number): string {
  const n = Math.floor(r() * 300);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * 256));
  return s.replace(/\n/g, ' ');
}

class FakeTransport implements Pop3Transport {
  out: Buffer[] = [];
  closed = false;
  secure = true;
  remoteAddress = '198.51.100.7';
  onWrite: (() => void) | undefined;
  async write(data: Buffer[]): Promise<void> {
    this.out.push(...data);
    this.onWrite?.();
  }
  async startTls(): Promise<void> {
    throw new Error('no TLS in the fuzz transport');
  }
  close(): void {
    this.closed = true;
    this.onWrite?.();
  }
  setIdleTimeout(): void {}
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};

test('fuzz: 10,000 random and mutated POP3 lines, then hostile TCP input', { timeout: 300_000 }, async (t) => {
  const s = scratchDir('postino-pop3-fuzz-');
  const storage = openSqliteParts(s.dir, { indexer: indexMessageJson });
  const unexpected: unknown[] = [];
  const onUnhandled = (err: unknown) => unexpected.push(err);
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  let server: Server | undefined;
  try {
    await new AdminService(storage.ports).addDomain('example.test', USER, { password: PASSWORD, allowWeak: false });
    const account = (await storage.ports.directory.getAccount(USER))!;
    const refill = async () => {
      for (let i = 0; i < 8; i++) {
        await storage.ports.mail.append(account.id, 'INBOX', i % 3 === 0 ? Buffer.from(`Subject: dots ${i}\r\n\r\n.a\r\n..b\nc\r\n.\r\n`) : makeMessage(`fuzz-${i}`, 2048));
      }
    };
    await refill();
    // No penalty here: the fuzz fails logins on purpose, thousands of times.
    const auth = new Authenticator(storage.ports.directory, { penalty: new AuthPenalty({ firstDelayMs: 0, maxDelayMs: 0 }) });
    const backend = new StorePop3Backend(storage.ports.mail, auth);
    const seed = Number(process.env['POSTINO_FUZZ_SEED'] ?? 4242);
    const r = prng(seed);
    const internalErrors: unknown[] = [];
    let transport!: FakeTransport;
    let session!: Pop3Session;
    let sessions = 0;
    const feed = async (line: string): Promise<string> => {
      const before = transport.out.length;
      const wrote = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        transport.onWrite = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      session.onData(Buffer.from(line + '\r\n', 'latin1'));
      await wrote;
      for (let k = 0; k < 3; k++) await new Promise((res) => setImmediate(res));
      return Buffer.concat(transport.out.slice(before)).toString('latin1');
    };
    const open = async () => {
      if (session) session.onClose();
      transport = new FakeTransport();
      session = new Pop3Session(transport, backend, {
        hostname: 'localhost',
        allowPlaintextAuth: false,
        startTlsAvailable: false,
        log: (e) => {
          if (e.event === 'pop3-error') internalErrors.push(e);
        },
      });
      session.start();
      sessions++;
      // Most sessions log in first, so the TRANSACTION commands get fuzzed too.
      if (r() < 0.8) assert.match(await feed(`USER ${USER}`) + (await feed(`PASS ${PASSWORD}`)), /\+OK Logged in/);
      if ((await storage.ports.mail.getMailbox(account.id, 'INBOX'))!.messages < 4) await refill();
    };
    await open();
    const heapBefore = heapMb();
    let answered = 0;
    const tally = { ok: 0, err: 0 };
    for (let i = 0; i < 10_000; i++) {
      if (transport.closed) await open();
      const kind = r();
      const base = SEEDS[Math.floor(r() * SEEDS.length)]!;
      const line = kind < 0.15 ? garbage(r) : kind < 0.35 ? base : mutate(base, r);
      const fresh = await feed(line);
      if (fresh.length > 0) answered++;
      tally.ok += (fresh.match(/^\+OK/gm) ?? []).length;
      tally.err += (fresh.match(/^-ERR/gm) ?? []).length;
      if (/\bat [\w.<>]+ \(|node_modules|Error: |SQLITE/.test(fresh)) assert.fail(`internal detail leaked after ${JSON.stringify(line)}: ${fresh.slice(-500)}`);
      if (transport.out.length > 200) transport.out.splice(0, transport.out.length - 50);
    }
    session.onClose();
    const heapAfter = heapMb();
    t.diagnostic(`answered ${answered}, sessions ${sessions}, replies ${JSON.stringify(tally)}, heap ${heapBefore.toFixed(1)} -> ${heapAfter.toFixed(1)} MB`);
    assert.deepEqual(internalErrors, [], 'no unexpected (non-MailError) errors');
    assert.deepEqual(unexpected, []);
    assert.ok(answered >= 9900, `answered ${answered} of 10000`);
    assert.ok(sessions > 10, 'QUIT, failures and floods ended sessions');
    assert.ok(tally.ok > 1000 && tally.err > 1000, JSON.stringify(tally));
    assert.ok(heapAfter - heapBefore < 50, `heap grew by ${(heapAfter - heapBefore).toFixed(1)} MB`);

    // ---- hostile bytes over TCP to a real listener ----
    const config = resolveConfig({ pop3: { allowPlaintextAuth: true } }, {});
    const ctx: ServiceContext = { config, storage: storage.ports, tls: loadTls(s.dir, 'localhost', undefined), log: createLogger('silent'), dataDir: s.dir };
    server = await startPop3Listener(ctx, 0, false);
    const port = (server.address() as AddressInfo).port;
    const tcpBefore = heapMb();
    const blast = async (chunks: Buffer[]) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.on('error', () => {});
      sock.on('data', () => {});
      await new Promise((res) => sock.once('connect', res));
      for (const c of chunks) if (!sock.write(c)) await new Promise((res) => sock.once('drain', res).once('close', res));
      await new Promise((res) => setTimeout(res, 200));
      sock.destroy();
    };
    // A 16 MB line with no end, NULs and bare CRs, a flood of pipelined commands never read.
    await blast(Array.from({ length: 256 }, () => Buffer.alloc(64 * 1024, 0x41)));
    await blast([Buffer.alloc(1 << 20, 0), Buffer.alloc(1 << 20, 0x0d), Buffer.from('\r\nNOOP\r\n')]);
    await blast([Buffer.from(`USER ${USER}\r\nPASS ${PASSWORD}\r\n${'RETR 1\r\nLIST\r\nUIDL\r\n'.repeat(5000)}`)]);
    await blast([Buffer.from(`CAPA\r\n${'BOGUS\r\n'.repeat(20_000)}`)]);
    const tcpAfter = heapMb();
    t.diagnostic(`heap over TCP ${tcpBefore.toFixed(1)} -> ${tcpAfter.toFixed(1)} MB`);
    assert.ok(tcpAfter - tcpBefore < 50, `heap grew by ${(tcpAfter - tcpBefore).toFixed(1)} MB`);

    // Still usable: a new session logs in and downloads.
    let c: Pop3Client | undefined;
    for (let i = 0; i < 50 && !c; i++) {
      const attempt = await Pop3Client.connect(port);
      const reply = await attempt.login(USER, PASSWORD);
      if (reply.startsWith('+OK')) c = attempt;
      else {
        assert.match(reply, /IN-USE/, 'only the lock of a session still closing may get in the way');
        attempt.destroy();
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    assert.ok(c);
    assert.match(await c.cmd('STAT'), /^\+OK [1-9]\d* \d+$/);
    const retr = await c.multi('RETR 1');
    assert.match(retr.status, /^\+OK/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    assert.deepEqual(unexpected, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    if (server) await new Promise<void>((res) => server!.close(() => res()));
    await storage.mail.drain();
    storage.close();
    s.cleanup();
  }
});
