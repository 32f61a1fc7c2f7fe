// Reading DATA: whole messages, and past a limit nothing held, the rest
// counted and dropped; a client gone in the middle is its own outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readMessage, HeaderEndFinder, COLLECT_EVERY } from '../../../src/mx/message-reader.js';

const limits = { messageBytes: 1000, headerBytes: 200 };

function feed(chunks: Array<string | Buffer>, end = true): PassThrough {
  const s = new PassThrough();
  setImmediate(() => {
    for (const c of chunks) s.write(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
    if (end) s.end();
  });
  return s;
}

test('the header end is found across chunk boundaries, as headerBlockEnd finds it', () => {
  const text = 'A: 1\r\nB: 2\r\n\r\nbody\r\n';
  for (let size = 1; size <= text.length; size++) {
    const f = new HeaderEndFinder();
    for (let i = 0; i < text.length; i += size) f.push(Buffer.from(text.slice(i, i + size)));
    assert.equal(f.end, 12, `chunks of ${size}`);
  }
  const lf = new HeaderEndFinder();
  lf.push(Buffer.from('A: 1\n'));
  lf.push(Buffer.from('\nbody'));
  assert.equal(lf.end, 5);
  const none = new HeaderEndFinder();
  none.push(Buffer.from('A: 1\r\nB: 2\r\n'));
  assert.equal(none.end, undefined);
});

test('a message within the limits comes back whole', async () => {
  const r = await readMessage(feed(['Subject: x\r\n', '\r\n', 'body\r\n']), limits);
  assert.deepEqual(r, { kind: 'message', raw: Buffer.from('Subject: x\r\n\r\nbody\r\n') });
});

test('over the size limit: too-big, every byte counted, nothing kept', async () => {
  const chunk = Buffer.alloc(100, 'y');
  const r = await readMessage(feed(['S: x\r\n\r\n', ...Array.from({ length: 50 }, () => chunk)]), limits);
  assert.deepEqual(r, { kind: 'too-big', bytes: 8 + 5000 });
});

test('over the header limit: header-too-big, with or without an end of the header', async () => {
  const long = `X: ${'a'.repeat(300)}\r\n`;
  assert.deepEqual(await readMessage(feed([long, '\r\nbody']), limits), { kind: 'header-too-big', bytes: long.length + 6 });
  assert.deepEqual(await readMessage(feed([long]), limits), { kind: 'header-too-big', bytes: long.length });
  // A big body under a small header is fine.
  const r = await readMessage(feed(['X: y\r\n\r\n', 'b'.repeat(900)]), limits);
  assert.equal(r.kind, 'message');
});

test('the client goes away mid-message: gone; another stream error: failed', async () => {
  const s = feed(['Subject: x\r\n\r\npart of'], false);
  setTimeout(() => s.destroy(Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' })), 20);
  assert.deepEqual(await readMessage(s, limits), { kind: 'gone', bytes: 21 });
  const broken = feed(['x'], false);
  const boom = new Error('boom');
  setTimeout(() => broken.destroy(boom), 20);
  assert.deepEqual(await readMessage(broken, limits), { kind: 'failed', err: boom });
  // Closed with no error and no end (smtp-server destroys without an error when nobody listens).
  const quiet = feed(['x'], false);
  setTimeout(() => quiet.destroy(), 20);
  assert.equal((await readMessage(quiet, limits)).kind, 'gone');
});

test('a large stream asks for collections as it goes, and a major one when it lets the data go', async () => {
  const calls: string[] = [];
  const chunk = Buffer.alloc(1 << 20, 'y');
  const r = await readMessage(
    feed(['S: x\r\n\r\n', ...Array.from({ length: 40 }, () => chunk)]),
    { messageBytes: 20 << 20, headerBytes: 1000 },
    { collectGarbage: (type) => calls.push(type) },
  );
  assert.equal(r.kind, 'too-big');
  assert.equal(calls.filter((c) => c === 'major').length, 1);
  assert.equal(calls.filter((c) => c === 'minor').length, Math.floor((40 << 20) / COLLECT_EVERY));
  // Small messages never ask.
  calls.length = 0;
  await readMessage(feed(['S: x\r\n\r\nbody']), limits, { collectGarbage: (type) => calls.push(type) });
  assert.deepEqual(calls, []);
});
