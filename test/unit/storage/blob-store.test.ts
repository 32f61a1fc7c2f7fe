// The Maildir blob store behind the BlobStore port: bodies stored, read and
// removed by location and ref, on disk when put resolves, and no location or
// ref reaching outside the mail root.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MaildirBlobStore } from '../../../storage/maildir/blob-store.js';
import type { LentRead } from '../../../storage/maildir/blob-reader.js';
import { ensureMaildir } from '../../../storage/maildir/files.js';
import { isMailError } from '../../../storage/errors.js';
import { scratchDir } from '../../support/tmp.js';

// Small files are read on the event loop, the others by reader threads: every case runs both ways.
for (const readOnLoopUpTo of [undefined, 0]) describe(`MaildirBlobStore${readOnLoopUpTo === 0 ? ', every read by a reader thread' : ''}`, () => {
  let s: ReturnType<typeof scratchDir>;
  let root: string;
  let blobs: MaildirBlobStore;
  const location = path.join('example.test', 'alice', '.Sent');

  before(() => {
    s = scratchDir();
    root = path.join(s.dir, 'mail');
    ensureMaildir(path.join(root, location));
    blobs = new MaildirBlobStore(root, readOnLoopUpTo === undefined ? {} : { readOnLoopUpTo });
  });
  after(() => {
    blobs.close();
    s.cleanup();
  });

  test('put stores the body under a new ref, whole and visible when it resolves, with nothing left in tmp/', async () => {
    const raw = Buffer.from('Subject: one\r\n\r\nbody\r\n');
    const when = Date.UTC(2025, 0, 2, 3, 4, 5);
    const ref = await blobs.put(location, raw, { internalDate: when });
    assert.match(ref, new RegExp(`^new/[^/]+,S=${raw.length}$`));
    const file = path.join(root, location, ref);
    assert.deepEqual(readFileSync(file), raw);
    assert.equal(statSync(file).mtimeMs, when);
    assert.deepEqual(readdirSync(path.join(root, location, 'tmp')), []);
    assert.deepEqual(await blobs.read(location, ref), raw);
    const other = await blobs.put(location, Buffer.from('two'));
    assert.notEqual(other, ref);
  });

  test('read trusts the size in the name only when the file has it: a longer or shorter file is read whole', async () => {
    for (const [named, actual] of [[5, 'exactly five'], [40, 'shorter than forty'], [0, 'not empty']] as const) {
      const ref = `cur/1700000000.M1P1.size${named}-${actual.length},S=${named}:2,S`;
      writeFileSync(path.join(root, location, ref), actual);
      assert.equal((await blobs.read(location, ref))?.toString(), actual);
    }
    const plain = 'cur/1700000000.M2P1.noname:2,';
    writeFileSync(path.join(root, location, plain), 'no size in the name');
    assert.equal((await blobs.read(location, plain))?.toString(), 'no size in the name');
  });

  test('reads asked for together (one batch to a reader thread) each get their own bytes: present, missing, mis-sized, a directory', async () => {
    // Mostly small; every 50th too big to be read on the event loop.
    const bodies = Array.from({ length: 300 }, (_, i) => Buffer.from(`Subject: batch ${i}\r\n\r\n${'x'.repeat(i % 50 === 0 ? 100_000 + i : i * 37)}\r\n`));
    const refs = await Promise.all(bodies.map((b) => blobs.put(location, b)));
    const liar = 'cur/1700000000.M3P1.liar,S=3:2,';
    writeFileSync(path.join(root, location, liar), 'longer than three');
    const dirRef = 'cur/1700000000.M4P1.dir,S=10:2,';
    mkdirSync(path.join(root, location, dirRef));
    const asked = [...refs, 'cur/1700000000.M5P1.missing,S=9:2,', liar, dirRef];
    const got = await Promise.allSettled(asked.map((r) => blobs.read(location, r)));
    bodies.forEach((b, i) => assert.deepEqual(got[i], { status: 'fulfilled', value: b }, `body ${i}`));
    assert.deepEqual(got[300], { status: 'fulfilled', value: undefined });
    assert.deepEqual(got[301], { status: 'fulfilled', value: Buffer.from('longer than three') });
    assert.equal(got[302]!.status, 'rejected');
    // The reads after a failure still work.
    assert.deepEqual(await blobs.read(location, refs[7]!), bodies[7]);
  });

  test('readManyLent gives each body its own bytes in lent memory, used again once given back; missing, mis-sized, unnamed sizes and bad refs as read does', async () => {
    const bodies = Array.from({ length: 400 }, (_, i) => Buffer.from(`Subject: lent ${i}\r\n\r\n${String(i).repeat(1 + (i % 40) * 50)}\r\n`));
    const refs = await Promise.all(bodies.map((b) => blobs.put(location, b)));
    const memory = new Set<ArrayBufferLike>();
    const lentOf = (r: LentRead) => {
      assert.ok(r !== undefined && !(r instanceof Error), `lent bytes, not ${String(r)}`);
      return r;
    };
    // Asked for together, as a download's read-ahead does, three times over, in batches and one by one: the lent memory is reused.
    for (let round = 0; round < 3; round++) {
      const lent = round === 1 ? await Promise.all(refs.map((r) => blobs.readManyLent(location, [r]).then((one) => lentOf(one[0])))) : (await blobs.readManyLent(location, refs)).map(lentOf);
      lent.forEach((l, i) => assert.ok(l.bytes.equals(bodies[i]!), `round ${round}, body ${i}`));
      for (const l of lent) memory.add(l.bytes.buffer);
      // Still intact while held, then given back (twice is harmless).
      lent.forEach((l, i) => assert.ok(l.bytes.equals(bodies[i]!), `round ${round}, body ${i} while held`));
      for (const l of lent) {
        l.release();
        l.release();
      }
    }
    assert.ok(memory.size <= 2, `${memory.size} buffers for 1,200 lent reads`);
    const liar = 'cur/1700000000.M6P1.liar,S=3:2,';
    writeFileSync(path.join(root, location, liar), 'longer than three');
    const plain = 'cur/1700000000.M7P1.noname:2,';
    writeFileSync(path.join(root, location, plain), 'no size in the name');
    const [missing, mis, unnamed, bad, last] = await blobs.readManyLent(location, ['cur/1700000000.M8P1.missing,S=9:2,', liar, plain, '../escape,S=3', refs[399]!]);
    assert.equal(missing, undefined);
    assert.equal(lentOf(mis).bytes.toString(), 'longer than three');
    assert.equal(lentOf(unnamed).bytes.toString(), 'no size in the name');
    assert.ok(bad instanceof Error, 'a ref outside the folder is refused, on its own');
    // The reads beside and after the misses still work.
    assert.ok(lentOf(last).bytes.equals(bodies[399]!));
    lentOf(last).release();
    assert.deepEqual(await blobs.readManyLent(location, []), []);
  });

  test('read with maxBytes gives the first maxBytes bytes (a header), or the whole body when it is shorter', async () => {
    const raw = Buffer.from('Subject: head\r\n\r\n' + 'body '.repeat(5000));
    const ref = await blobs.put(location, raw);
    assert.deepEqual(await blobs.read(location, ref, 17), raw.subarray(0, 17));
    assert.deepEqual(await blobs.read(location, ref, raw.length + 10), raw);
    assert.deepEqual(await blobs.read(location, ref, 0), Buffer.alloc(0));
    // A name that says more than the file has: the bytes that are there.
    const short = 'cur/1700000000.M6P1.short,S=999:2,';
    writeFileSync(path.join(root, location, short), 'only this');
    assert.equal((await blobs.read(location, short, 500))?.toString(), 'only this');
    assert.equal((await blobs.read(location, short, 4))?.toString(), 'only');
  });

  test('remove takes the body away; reading it then gives undefined, removing it again is no error', async () => {
    const ref = await blobs.put(location, Buffer.from('gone soon'));
    await blobs.remove(location, ref);
    assert.equal(existsSync(path.join(root, location, ref)), false);
    assert.equal(await blobs.read(location, ref), undefined);
    await blobs.remove(location, ref);
  });

  test('a staged body is in no mailbox until named; discard drops it', async () => {
    const staged = await blobs.stage(location, Buffer.from('staged'));
    assert.equal(path.dirname(staged.staged), path.join(path.resolve(root), location, 'tmp'));
    assert.equal(readFileSync(staged.staged, 'utf8'), 'staged');
    assert.equal(await blobs.find(location, `new/${staged.base}`), undefined);
    blobs.discard(staged);
    assert.equal(existsSync(staged.staged), false);
  });

  test('find follows a body renamed under another name (a flag change)', async () => {
    const ref = await blobs.put(location, Buffer.from('flagged'));
    const moved = `cur/${path.basename(ref)}:2,F`;
    renameSync(path.join(root, location, ref), path.join(root, location, moved));
    assert.equal(await blobs.read(location, ref), undefined);
    assert.equal(await blobs.find(location, ref), moved);
  });

  test('no location or ref reaches outside the mail root or its folder', async () => {
    writeFileSync(path.join(s.dir, 'secret'), 'not mail');
    const refused = (err: unknown) => isMailError(err, 'BADINPUT');
    for (const bad of ['..', '../..', path.join('..', 'x'), '/etc', s.dir, '']) {
      await assert.rejects(blobs.read(bad, 'new/x'), refused, `location ${JSON.stringify(bad)}`);
      await assert.rejects(blobs.put(bad, Buffer.from('x')), refused, `put to ${JSON.stringify(bad)}`);
    }
    for (const bad of ['../../../../secret', 'new/../../../../secret', 'cur/..', 'new/.', 'tmp/x', 'new/a/b', 'x', '/etc/passwd', 'new\\..\\x', 'new/a\0b']) {
      await assert.rejects(blobs.read(location, bad), refused, `ref ${JSON.stringify(bad)}`);
      await assert.rejects(blobs.remove(location, bad), refused, `remove ${JSON.stringify(bad)}`);
    }
    assert.equal(readFileSync(path.join(s.dir, 'secret'), 'utf8'), 'not mail');
  });
});
