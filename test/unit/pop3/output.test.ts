// The session's output batch: what goes in comes out in order and byte for
// byte, small pieces copied together, big ones as they are, and a chunk's
// rest reused by the next batch without touching what was taken; a chunk
// filled again only once every batch with slices of it was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputBatch } from '../../../src/protocol/pop3/output.js';

test('pieces come out in order, small ones copied together, big ones as they are', () => {
  const out = new OutputBatch();
  const big = Buffer.alloc(20_000, 'b');
  out.text('+OK 1 octets\r\n');
  out.bytes(Buffer.from('x\r\n'));
  out.bytes(big);
  out.text('+OK é\r\n');
  assert.equal(out.size, 14 + 3 + 20_000 + 8);
  const parts = out.take().parts;
  assert.equal(out.size, 0);
  assert.equal(parts.length, 3);
  assert.equal(parts[1], big, 'a big piece is not copied');
  assert.equal(Buffer.concat(parts).toString('utf8'), `+OK 1 octets\r\nx\r\n${'b'.repeat(20_000)}+OK é\r\n`);
  assert.deepEqual(out.take().parts, []);
});

test('the next batch fills the rest of the chunk and leaves the taken bytes alone', () => {
  const out = new OutputBatch();
  out.bytes(Buffer.from('first'));
  const [first] = out.take().parts;
  out.bytes(Buffer.from('second'));
  const [second] = out.take().parts;
  assert.equal(first!.toString(), 'first');
  assert.equal(second!.toString(), 'second');
  assert.equal(first!.buffer, second!.buffer, 'one chunk');
  // Pieces that do not fit start a new chunk.
  for (let i = 0; i < 200; i++) out.bytes(Buffer.alloc(10_000, i));
  const parts = out.take().parts;
  assert.equal(Buffer.concat(parts).length, 2_000_000);
  assert.ok(Buffer.concat(parts).equals(Buffer.concat(Array.from({ length: 200 }, (_, i) => Buffer.alloc(10_000, i)))));
  assert.equal(first!.toString(), 'first');
  out.release();
  assert.equal(out.size, 0);
  out.text('after');
  assert.equal(Buffer.concat(out.take().parts).toString(), 'after');
});

test('dotStuffed copies a CRLF message with a dot added before each line that starts with one, as messageParts does', async () => {
  const { crlfMessageBody } = await import('../../../src/protocol/pop3/responses.js');
  const cases = [
    '',
    'a\r\n',
    '.\r\n',
    '.a\r\n..b\r\nc.d\r\n.\r\n',
    'Subject: x\r\n\r\n.hidden\r\nend.\r\n.\r\n.\r\n',
    'no dots at all\r\nhere\r\n',
  ];
  for (const text of cases) {
    const raw = Buffer.from(text, 'latin1');
    const out = new OutputBatch();
    out.dotStuffed(raw);
    assert.equal(out.size, Buffer.concat(crlfMessageBody(raw)).length, JSON.stringify(text));
    assert.equal(Buffer.concat(out.take().parts).toString('latin1'), Buffer.concat(crlfMessageBody(raw)).toString('latin1'), JSON.stringify(text));
  }
});

test('dotStuffed across chunks: many messages, each byte in place', () => {
  const out = new OutputBatch();
  const raw = Buffer.from('.first\r\nmiddle\r\n..two\r\n'.repeat(200), 'latin1');
  const want = raw.toString('latin1').replace(/^\./gm, '..');
  for (let i = 0; i < 100; i++) out.dotStuffed(raw);
  assert.equal(Buffer.concat(out.take().parts).toString('latin1'), want.repeat(100));
});

test('a batch of up to OUTPUT_BATCH_BYTES and one more small reply is one piece', async () => {
  const { OUTPUT_BATCH_BYTES } = await import('../../../src/protocol/pop3/limits.js');
  const out = new OutputBatch();
  const message = Buffer.alloc(4000, 'm');
  for (let batch = 0; batch < 20; batch++) {
    while (out.size < OUTPUT_BATCH_BYTES) {
      out.text('+OK 4000 octets\r\n');
      out.dotStuffed(message);
    }
    assert.equal(out.take().parts.length, 1, `batch ${batch}`);
  }
});

test('a chunk is filled again only after every batch with slices of it was written', () => {
  const out = new OutputBatch();
  const batches: Array<{ bytes: Buffer; parts: Buffer[]; written(): void }> = [];
  // Batches of 40 KB: several per chunk, then new chunks; none written yet.
  for (let i = 0; i < 30; i++) {
    const bytes = Buffer.alloc(40_000, i + 1);
    // In pieces small enough to be copied into the chunk.
    for (let at = 0; at < bytes.length; at += 10_000) out.bytes(bytes.subarray(at, at + 10_000));
    const { parts, written } = out.take();
    batches.push({ bytes, parts, written });
  }
  const intact = () => batches.every((b) => Buffer.concat(b.parts).equals(b.bytes));
  // More batches while the first 30 are in flight: they must not land in their chunks.
  for (let i = 0; i < 30; i++) {
    for (let j = 0; j < 4; j++) out.bytes(Buffer.alloc(10_000, 0xee));
    out.take().written();
  }
  assert.ok(intact(), 'slices of batches not yet written keep their bytes');
  // Written one by one: each batch's bytes stay as they are until its own written().
  for (const [i, b] of batches.entries()) {
    assert.ok(Buffer.concat(b.parts).equals(b.bytes), `batch ${i} before written`);
    b.written();
    b.written(); // twice is harmless
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 4; k++) out.bytes(Buffer.alloc(10_000, 0xdd));
      out.take().written();
    }
    assert.ok(batches.slice(i + 1).every((later) => Buffer.concat(later.parts).equals(later.bytes)), `batches after ${i}`);
  }
});

test('written chunks are used again: a long download allocates a few chunks, not one per batch', () => {
  const out = new OutputBatch();
  const chunks = new Set<ArrayBufferLike>();
  const message = Buffer.alloc(4000, 'm');
  for (let batch = 0; batch < 500; batch++) {
    for (let i = 0; i < 16; i++) out.dotStuffed(message);
    const { parts, written } = out.take();
    for (const p of parts) chunks.add(p.buffer);
    written();
  }
  assert.ok(chunks.size <= 3, `${chunks.size} chunks for 500 batches`);
  out.release();
});
