// The antivirus decisions over a scripted clamd of our own (loopback): what
// each clamd answer becomes, fail open or closed, and the self-test's states.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Antivirus } from '../../../src/scan/antivirus.js';
import { validateConfig } from '../../../src/config.js';

/** Answers VERSION, and INSTREAM with whatever `answer` says now. */
let answer = 'stream: OK';
const fake = net.createServer((s) => {
  let seen = Buffer.alloc(0);
  s.on('error', () => {});
  s.on('data', (d: Buffer) => {
    seen = Buffer.concat([seen, d]);
    if (seen.toString('latin1').startsWith('zVERSION\0')) s.end('ClamAV 9.9.9/123/Sun Dec  6 00:00:00 2026\0');
    // The zero-length chunk ends the stream.
    else if (seen.length >= 14 && seen.subarray(-4).equals(Buffer.alloc(4))) s.end(`${answer}\0`);
  });
});
await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
const port = (fake.address() as net.AddressInfo).port;
after(() => new Promise<void>((r) => fake.close(() => r())));

const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');

test('clean, infected and over the size limit', async () => {
  const av = new Antivirus({ port });
  answer = 'stream: OK';
  assert.deepEqual(await av.check(raw).then((o) => [o.action, o.action === 'accept' && o.header]), ['accept', 'clean (ClamAV 9.9.9/123)']);
  answer = 'stream: Test.EICAR.UNOFFICIAL FOUND';
  const found = await av.check(raw);
  assert.equal(found.action, 'refuse');
  assert.equal(found.action === 'refuse' && found.signature, 'Test.EICAR.UNOFFICIAL');
  answer = 'INSTREAM size limit exceeded. ERROR';
  assert.deepEqual(await av.check(raw).then((o) => o.action === 'accept' && o.header), 'skipped-size (ClamAV 9.9.9/123)');
});

test('a clamd error: 451 (tempfail) when fail closed; accepted marked unscanned when fail open', async () => {
  answer = 'stream: Can\'t allocate memory ERROR';
  assert.deepEqual(await new Antivirus({ port }).check(raw).then((o) => [o.action, o.action === 'tempfail' && o.reason]), ['tempfail', "clamd error: Can't allocate memory"]);
  const open = await new Antivirus({ port, failOpen: true }).check(raw);
  assert.deepEqual([open.action, open.action === 'accept' && open.header], ['accept', "unscanned (clamd error: Can't allocate memory)"]);
});

test('the self-test: missed when clamd answers clean; then fail closed refuses unscanned, fail open marks mail unscanned', async () => {
  answer = 'stream: OK';
  const closed = new Antivirus({ port });
  const status = await closed.runSelfTest();
  assert.equal(status.state, 'missed');
  assert.deepEqual(status.cases.map((c) => c.verdict), ['clean', 'clean', 'clean']);
  assert.equal(closed.selfTestFailing, true);
  assert.deepEqual(await closed.check(raw), { action: 'tempfail', reason: 'self-test failing' });
  const open = new Antivirus({ port, failOpen: true });
  await open.runSelfTest();
  assert.deepEqual(await open.check(raw).then((o) => o.action === 'accept' && o.header), 'unscanned (self-test failing)');
  answer = 'stream: Test.EICAR.UNOFFICIAL FOUND';
  assert.equal((await closed.runSelfTest()).state, 'passed');
  assert.equal(closed.selfTestFailing, false);
  assert.equal(closed.selfTestStatus()?.state, 'passed');
});

test('the self-test against no clamd at all is an error, not a miss (each message already gets 451)', async () => {
  const gone = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const av = new Antivirus({ port: gone });
  assert.equal((await av.runSelfTest()).state, 'error');
  assert.equal(av.selfTestFailing, false);
  assert.deepEqual(await av.check(raw).then((o) => [o.action, o.action === 'tempfail' && o.reason]), ['tempfail', 'unreachable']);
});

test('config: the antivirus block takes scanLocal, timeoutMs, maxConcurrent, selfTestMinutes, and refuses bad values', () => {
  const ok = validateConfig({ antivirus: { host: '127.0.0.1', port: 3310, failOpen: false, scanLocal: true, timeoutMs: 5000, maxConcurrent: 4, selfTestMinutes: 0 } });
  assert.equal(ok.antivirus?.maxConcurrent, 4);
  for (const bad of [{ timeoutMs: 0 }, { maxConcurrent: 1.5 }, { selfTestMinutes: -1 }, { scanLocal: 'yes' }, { poolSize: 3 }]) {
    assert.throws(() => validateConfig({ antivirus: bad }), /antivirus/);
  }
});
