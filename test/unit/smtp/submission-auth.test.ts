// AUTH on a submission endpoint, driven over real TLS sockets in-process:
// hostile input (a megabyte of base64, bad base64, garbage that decodes,
// oversized SCRAM fields, unknown mechanisms) gets a clean reply and changes
// nothing; failures go through the shared authenticator (logged, counted
// per address) and the third one ends the session; PLAIN, LOGIN and
// SCRAM-SHA-256 succeed with the right password.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import type { Storage } from '../../../storage/ports.js';
import { Authenticator } from '../../../src/auth/authenticator.js';
import { AuthPenalty } from '../../../src/auth/penalty.js';
import { passwordRecords } from '../../../src/auth/password.js';
import { resolveConfig } from '../../../src/config.js';
import { DeliveryAgent } from '../../../src/delivery/agent.js';
import { MailReceiver } from '../../../src/mx/receiver.js';
import { createEndpoint, SUBMISSION_LIMITS, type SmtpEndpoint } from '../../../src/smtp/endpoint.js';
import { decodeSaslResponse, MAX_SASL_LINE } from '../../../src/smtp/submission-auth.js';
import { loadTls } from '../../../src/server/tls.js';
import { scratchDir } from '../../support/tmp.js';
import { authScramSha256, openSubmission, plainResponse, type SubmissionClient } from '../../support/submission-client.js';

const USER = 'alice@example.test';
const PASSWORD = 'tangerine-otter-42';

describe('decodeSaslResponse', () => {
  test('"*" aborts, "=" is an empty initial response, strict base64 decodes', () => {
    assert.deepEqual(decodeSaslResponse('*', false), { kind: 'abort' });
    assert.deepEqual(decodeSaslResponse('=', true), { kind: 'data', data: Buffer.alloc(0) });
    assert.equal(decodeSaslResponse('=', false).kind, 'bad', '"=" only means empty as an initial response');
    assert.deepEqual(decodeSaslResponse('aGk=', false), { kind: 'data', data: Buffer.from('hi') });
    assert.deepEqual(decodeSaslResponse('', false), { kind: 'data', data: Buffer.alloc(0) });
  });

  test('bad encodings are refused, not guessed at', () => {
    for (const bad of ['aGk', 'a===', '!!!!', 'aGk=aGk=', 'aG k=', '====', 'aGk=\u00e9', 'YQ==YQ==']) {
      const r = decodeSaslResponse(bad, false);
      assert.equal(r.kind, 'bad', bad);
      assert.equal(r.kind === 'bad' && r.reply.code, 501, bad);
    }
  });

  test('a megabyte of base64 is refused at once (linear check, no decoding)', () => {
    const huge = 'QUFB'.repeat(256 * 1024);
    const started = process.hrtime.bigint();
    const r = decodeSaslResponse(huge, false);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(r.kind === 'bad' && `${r.reply.code} ${r.reply.enhanced}`, '500 5.5.6');
    assert.ok(ms < 1000, `took ${ms} ms`);
    assert.equal(decodeSaslResponse('QUFB'.repeat(MAX_SASL_LINE / 4), false).kind, 'data', 'the limit itself is accepted');
    // Nearly-base64 of the same size: still linear.
    assert.equal(decodeSaslResponse('A'.repeat(MAX_SASL_LINE - 1) + '!', false).kind, 'bad');
  });
});

describe('AUTH on a submission endpoint', () => {
  const scratch = scratchDir();
  let storage: Storage;
  let auth: Authenticator;
  let endpoint: SmtpEndpoint;
  let port: number;
  const failures: Array<Record<string, unknown>> = [];

  before(async () => {
    storage = openMemoryStorage();
    await storage.directory.addDomain('example.test');
    await storage.directory.addAccount({ address: USER, ...(await passwordRecords(PASSWORD)), quota: null });
    // No delays here: penalty.test.ts covers them; the counts are what is checked.
    auth = new Authenticator(storage.directory, { penalty: new AuthPenalty({ firstDelayMs: 0, maxDelayMs: 0 }), log: { warn: (e) => failures.push(e) } });
    const log = pino({ level: 'silent' });
    const config = resolveConfig({ hostname: 'mx.example.test' }, {});
    const agent = new DeliveryAgent(storage, { hostname: config.hostname, overQuota: 'reject' }, log);
    const receiver = new MailReceiver({ kind: 'submission', config, directory: storage.directory, agent, log, hooks: [] });
    const material = loadTls(scratch.dir, 'mx.example.test', undefined);
    endpoint = createEndpoint({
      lmtp: false,
      hostname: config.hostname,
      tls: material,
      messageSize: config.limits.messageSize,
      maxRecipients: 100,
      maxConnections: 100,
      limits: SUBMISSION_LIMITS,
      receiver,
      onError: () => {},
      submission: { implicitTls: true, authenticator: auth, log, service: 'submissions' },
    });
    const server = await endpoint.listening(0, '127.0.0.1');
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await endpoint.shutdown(0);
    await new Promise<void>((resolve) => endpoint.server.close(() => resolve()));
    storage.close();
    scratch.cleanup();
  });

  const session = async (): Promise<SubmissionClient> => {
    const c = await openSubmission(port, { implicitTls: true });
    assert.match(c.greeting, /^220 /);
    const ehlo = await c.send('EHLO client.test');
    assert.match(ehlo, /AUTH PLAIN LOGIN SCRAM-SHA-256/, 'over TLS, AUTH is offered');
    return c;
  };

  test('hostile AUTH lines get clean replies; the session goes on until the third failure', async () => {
    const c = await session();
    try {
      const before = auth.penalty.failures('127.0.0.1');
      assert.match(await c.send('AUTH'), /^501 5\.5\.4 /, 'no mechanism');
      assert.match(await c.send('AUTH PLAIN a b'), /^501 5\.5\.4 /, 'too many arguments');
      assert.match(await c.send('AUTH CRAM-MD5'), /^504 5\.5\.4 /, 'not a mechanism we have');
      assert.match(await c.send(`AUTH ${'X'.repeat(4000)}`), /^504 5\.5\.4 /);
      assert.match(await c.send('AUTH PLAIN *'), /^501 5\.7\.0 Authentication aborted/);
      assert.equal(auth.penalty.failures('127.0.0.1'), before, 'syntax and aborts are not login failures');
      // Too long for a SASL response, though the line is within smtp-server's 16 KiB.
      assert.match(await c.send(`AUTH PLAIN ${'QUFB'.repeat(3000)}`), /^500 5\.5\.6 /);
      assert.match(await c.send('AUTH PLAIN %%%%'), /^501 5\.5\.2 /);
      assert.equal(auth.penalty.failures('127.0.0.1'), before + 2, 'responses that are not base64 count as failures');
      const third = await c.send(`AUTH PLAIN ${Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]).toString('base64')}`);
      assert.match(third, /^535 5\.7\.8 /, 'garbage that decodes: a failed login');
      // The 421 follows the 535 unasked (RFC 5321 3.8), and the server closes.
      assert.match(await c.send('NOOP'), /^421 4\.7\.0 Too many authentication failures/, 'the third failure ends the session');
      assert.equal(await c.send('NOOP'), '(connection closed)');
      assert.ok(failures.some((e) => e.event === 'auth-failed' && e.service === 'submissions' && e.ip === '127.0.0.1'));
    } finally {
      c.close();
    }
  });

  test('a continuation line that is hostile ends that exchange cleanly', async () => {
    const c = await session();
    try {
      assert.equal(await c.send('AUTH LOGIN'), '334 VXNlcm5hbWU6');
      assert.match(await c.send('QUFB'.repeat(3000)), /^500 5\.5\.6 /);
      assert.equal(await c.send('AUTH LOGIN'), '334 VXNlcm5hbWU6');
      assert.match(await c.send('*'), /^501 5\.7\.0 /);
      // SCRAM: an oversized user name, and a client-first that is not one.
      assert.match(await c.send(`AUTH SCRAM-SHA-256 ${Buffer.from(`n,,n=${'a'.repeat(5000)},r=x`).toString('base64')}`), /^535 5\.7\.8 /);
      assert.match(await c.send(`AUTH SCRAM-SHA-256 ${Buffer.from('p=tls-unique,,n=a,r=b').toString('base64')}`), /^535 5\.7\.8 /);
    } finally {
      c.close();
    }
  });

  test('a megabyte line (past smtp-server\'s 16 KiB command limit), as AUTH or as a continuation, ends the session with 421', async () => {
    for (const first of [undefined, 'AUTH LOGIN']) {
      const c = await session();
      try {
        if (first) assert.equal(await c.send(first), '334 VXNlcm5hbWU6');
        const prefix = first ? '' : 'AUTH PLAIN ';
        assert.equal(await c.send(`${prefix}${'QUFB'.repeat(256 * 1024)}`), '421 4.4.2 Error: Command line too long');
        assert.equal(await c.send('NOOP'), '(connection closed)');
      } finally {
        c.close();
      }
    }
  });

  test('PLAIN, LOGIN and SCRAM-SHA-256 succeed; a second AUTH is refused; a wrong password is 535 5.7.8', async () => {
    let c = await session();
    assert.match(await c.send(`AUTH PLAIN ${plainResponse(USER, 'wrong-password')}`), /^535 5\.7\.8 /);
    assert.equal(await c.send(`AUTH PLAIN ${plainResponse(USER, PASSWORD)}`), '235 2.7.0 Authentication successful');
    assert.match(await c.send(`AUTH PLAIN ${plainResponse(USER, PASSWORD)}`), /^503 5\.5\.1 /);
    c.close();

    c = await session();
    assert.equal(await c.send('AUTH LOGIN'), '334 VXNlcm5hbWU6');
    assert.equal(await c.send(Buffer.from(USER).toString('base64')), '334 UGFzc3dvcmQ6');
    assert.equal(await c.send(Buffer.from(PASSWORD).toString('base64')), '235 2.7.0 Authentication successful');
    c.close();

    c = await session();
    assert.equal(await authScramSha256(c, USER, PASSWORD), '235 2.7.0 Authentication successful');
    assert.match(await c.send('MAIL FROM:<alice@example.test>'), /^250 /);
    c.close();

    c = await session();
    assert.match(await authScramSha256(c, USER, 'not-the-password'), /^535 5\.7\.8 /);
    c.close();
  });
});
