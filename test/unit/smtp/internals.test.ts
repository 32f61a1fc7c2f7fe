// src/smtp/endpoint.ts reaches into smtp-server's private members (see its
// header). This test fails when an upgrade moves or changes them: it checks
// the pinned version, and that each member exists on a real SMTPServer and
// its connection objects and behaves as the endpoint assumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { repoRoot } from '../../support/paths.js';
import { scratchDir } from '../../support/tmp.js';
import { loadTls } from '../../../src/server/tls.js';

const PINNED = '3.21.6';

test('smtp-server is pinned to the version the endpoint was checked against', () => {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies['smtp-server'], PINNED, 'package.json must pin smtp-server exactly');
  const require = createRequire(path.join(repoRoot, 'package.json'));
  const installed = JSON.parse(readFileSync(require.resolve('smtp-server/package.json'), 'utf8')) as { version: string };
  assert.equal(installed.version, PINNED, 'the installed smtp-server is not the pinned one: re-check src/smtp/endpoint.ts and this test');
});

test('the members SmtpEndpoint adds do not shadow smtp-server ones', () => {
  const server = new SMTPServer({ logger: false });
  for (const name of ['greetDelayMs', 'connectionLimit', 'rawPathRefusal', 'onSession', 'passedPregreet', 'waitingForGreeting', 'shuttingDown', 'hasClients', 'shutdown', 'listening', 'connectNow']) {
    assert.ok(!(name in server), `smtp-server now has its own ${name}`);
  }
  assert.equal(typeof SMTPServer.prototype.connect, 'function');
});

interface Connection {
  send(code: number, data?: string, context?: unknown): void;
  handler_RCPT(command: Buffer | string, callback: () => void): void;
  _socket: net.Socket;
  _dataStream?: unknown;
  _handlerPending?: boolean;
  session: { envelope: { mailFrom?: { address: string } | false } };
}

/** A client that collects reply lines. */
function client(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buffer = '';
  socket.on('data', (d) => {
    buffer += d.toString('latin1');
    let nl;
    while ((nl = buffer.indexOf('\r\n')) >= 0) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 2);
    }
    wake?.();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('close', () => wake?.());
  /** The next final reply line ("NNN text"). */
  const reply = async (): Promise<string> => {
    for (;;) {
      const i = lines.findIndex((l) => /^\d{3}(?: |$)/.test(l));
      if (i >= 0) return lines.splice(0, i + 1).pop()!;
      if (socket.destroyed) return '(closed)';
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  return { socket, reply, closed, write: (line: string) => socket.write(line + '\r\n') };
}

/** Resolves once check() holds, polling briefly (state changes inside the server are asynchronous). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('the connection internals the endpoint uses exist and behave as assumed', async () => {
  let connects = 0;
  let releaseMail: (() => void) | undefined;
  let releaseData: ((err: Error | null, message?: string) => void) | undefined;
  const options: SMTPServerOptions = {
    logger: false,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideENHANCEDSTATUSCODES: false,
    onMailFrom(_address, _session, callback) {
      releaseMail = () => callback();
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => (releaseData = callback));
    },
  };
  // The endpoint overrides connect(socket, options) and calls super.connect.
  class Probe extends SMTPServer {
    override connect(socket: net.Socket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
      connects++;
      super.connect(socket, socketOptions);
    }
  }
  const server = new Probe(options);
  assert.ok(server.connections instanceof Set, 'connections is a Set');
  assert.ok(server.server instanceof net.Server, 'server is the net.Server');
  // Reload replaces this one listener with one that re-emits into another instance's server.
  assert.equal(server.server.listeners('connection').length, 1);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  const c = client(port);
  try {
    assert.match(await c.reply(), /^220 /);
    assert.equal(connects, 1, 'every accepted socket goes through connect()');
    // The newest session is the last one in connections.
    assert.equal(server.connections.size, 1);
    const conn = [...server.connections].pop() as Connection;
    assert.equal(typeof conn.send, 'function');
    assert.equal(typeof conn.handler_RCPT, 'function');
    assert.ok(conn._socket instanceof net.Socket, '_socket is the client socket');
    assert.equal(conn._socket.remotePort, c.socket.localPort);
    assert.equal(conn._handlerPending, false, 'idle: no handler pending');
    assert.ok(!conn._dataStream, 'idle: no data stream');
    assert.ok(!conn.session.envelope.mailFrom, 'idle: no envelope');

    c.write('EHLO probe.test');
    assert.match(await c.reply(), /^250 /);

    // A handler waiting for its callback is seen as _handlerPending.
    c.write('MAIL FROM:<a@probe.test>');
    await until(() => releaseMail !== undefined, 'onMailFrom called');
    assert.equal(conn._handlerPending, true, 'a handler waiting for its callback');
    releaseMail!();
    assert.match(await c.reply(), /^250 /);
    assert.equal(conn._handlerPending, false);
    assert.equal((conn.session.envelope.mailFrom as unknown as { address: string }).address, 'a@probe.test', 'an open envelope');

    // An instance's handler_RCPT replaces the prototype's for that session.
    const rcpt = conn.handler_RCPT.bind(conn);
    let seen = '';
    conn.handler_RCPT = (command, callback) => {
      seen = command.toString();
      rcpt(command, callback);
    };
    c.write('RCPT TO:<b@probe.test>');
    assert.match(await c.reply(), /^250 /);
    assert.equal(seen, 'RCPT TO:<b@probe.test>');

    // send(code, text, false) sends the text as given: no enhanced code added.
    conn.send(250, '2.9.9 own code', false);
    assert.equal(await c.reply(), '250 2.9.9 own code');
    // Without false, the library adds one of its own.
    conn.send(250, 'plain');
    assert.match(await c.reply(), /^250 \d\.\d\.\d plain$/);

    // While a message is being received or decided on, _dataStream is set.
    c.write('DATA');
    assert.match(await c.reply(), /^354 /);
    c.write('Subject: x\r\n\r\nbody\r\n.');
    await until(() => releaseData !== undefined, 'onData saw the end');
    assert.ok(conn._dataStream, 'a message being decided on');
    // The library puts its own enhanced code before ours: why the endpoint wraps send().
    releaseData!(null, '2.0.0 taken');
    assert.equal(await c.reply(), '250 2.6.0 2.0.0 taken');
    assert.ok(!conn._dataStream, 'after the reply: no data stream');
    assert.ok(!conn.session.envelope.mailFrom, 'after the reply: envelope reset');

    // A 421 ends the session and drops it from connections.
    conn.send(421, '4.3.2 bye', false);
    assert.equal(await c.reply(), '421 4.3.2 bye');
    await c.closed;
    await until(() => server.connections.size === 0, 'session dropped');
  } finally {
    c.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** The members src/smtp/submission-auth.ts uses on a connection. */
interface AuthConnection {
  secure: boolean;
  session: { user?: unknown; transmissionType?: string };
  send(code: number, data?: string | string[], context?: unknown): void;
  handler_AUTH(command: Buffer | string, callback: () => void): void;
  _nextHandler: ((command: Buffer | string, callback: () => void) => void) | false;
  _transmissionType(): string;
}

test('the AUTH internals the submission endpoint uses exist and behave as assumed', async () => {
  const scratch = scratchDir();
  const material = loadTls(scratch.dir, 'localhost', undefined);
  const server = new SMTPServer({
    logger: false,
    key: material.key,
    cert: material.cert,
    hideENHANCEDSTATUSCODES: false,
    authMethods: ['PLAIN', 'LOGIN', 'SCRAM-SHA-256'],
    authOptional: false,
    allowInsecureAuth: false,
    authRequiredMessage: '5.7.0 Authentication required',
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback());
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  const c = client(port);
  let secured: tls.TLSSocket | undefined;
  try {
    assert.match(await c.reply(), /^220 /);
    const conn = [...server.connections].pop() as unknown as AuthConnection;
    assert.equal(conn.secure, false, 'secure: false before STARTTLS');
    assert.equal(conn._nextHandler, false, 'no continuation pending');
    assert.equal(typeof conn._transmissionType, 'function');

    // EHLO goes out through the instance's send, as one array: how AUTH is hidden before TLS.
    const send = conn.send.bind(conn);
    let ehlo: string[] | undefined;
    conn.send = (code, data, context) => {
      if (code === 250 && Array.isArray(data)) ehlo = [...data];
      send(code, data, context);
    };
    c.write('EHLO probe.test');
    assert.match(await c.reply(), /^250 /);
    assert.ok(ehlo?.includes('AUTH PLAIN LOGIN SCRAM-SHA-256'), `EHLO lists AUTH as one array entry: ${JSON.stringify(ehlo)}`);
    assert.ok(ehlo?.includes('STARTTLS'));

    // MAIL before AUTH: 530 with the configured text.
    c.write('MAIL FROM:<a@probe.test>');
    assert.match(await c.reply(), /^530 .*5\.7\.0 Authentication required$/);

    // STARTTLS makes secure true.
    c.write('STARTTLS');
    assert.match(await c.reply(), /^220 /);
    secured = tls.connect({ socket: c.socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => secured!.once('secureConnect', () => resolve()).once('error', reject));
    const lines: string[] = [];
    let wake: (() => void) | undefined;
    let buffer = '';
    secured.on('data', (d: Buffer) => {
      buffer += d.toString('latin1');
      let nl;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 2);
      }
      wake?.();
    });
    const reply = async (): Promise<string> => {
      for (;;) {
        const i = lines.findIndex((l) => /^\d{3}(?: |$)/.test(l));
        if (i >= 0) return lines.splice(0, i + 1).pop()!;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    const write = (line: string) => secured!.write(line + '\r\n');
    write('EHLO probe.test');
    assert.match(await reply(), /^250 /);
    assert.equal(conn.secure, true, 'secure: true after STARTTLS');

    // An instance's handler_AUTH replaces the library's; _nextHandler takes the next line.
    let continued = '';
    conn.handler_AUTH = (command, callback) => {
      assert.equal(command.toString(), 'AUTH SCRAM-SHA-256');
      conn._nextHandler = (line, next) => {
        continued = line.toString();
        conn.session.user = 'someone@probe.test';
        conn.session.transmissionType = conn._transmissionType();
        conn.send(235, '2.7.0 ok', false);
        next();
      };
      conn.send(334, '', false);
      callback();
    };
    write('AUTH SCRAM-SHA-256');
    assert.match(await reply(), /^334/);
    write('bixuPXVzZXIscj1ub25jZQ==');
    assert.equal(await reply(), '235 2.7.0 ok');
    assert.equal(continued, 'bixuPXVzZXIscj1ub25jZQ==', 'the continuation line reached _nextHandler as sent');
    assert.equal(conn._nextHandler, false, 'the continuation is used once');
    assert.equal(conn.session.transmissionType, 'ESMTPSA');

    // With session.user set, MAIL is accepted.
    write('MAIL FROM:<someone@probe.test>');
    assert.match(await reply(), /^250 /);
  } finally {
    secured?.destroy();
    c.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    scratch.cleanup();
  }
});
