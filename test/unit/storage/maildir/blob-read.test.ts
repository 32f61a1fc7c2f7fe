// The event loop's small reads: one read gives a file of the size its name
// says; a file longer or shorter than that is an ESIZE error (read again the
// exact way by the blob store), a missing one undefined; with a limit, the
// first bytes only. Small and large files, and a cut within each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { readKnownSize } from '../../../../storage/maildir/blob-read.js';
import { scratchDir } from '../../../support/tmp.js';

test('exact, longer, shorter, empty and missing files; with and without a limit', () => {
  const scratch = scratchDir();
  try {
    const file = (name: string, bytes: Buffer) => {
      const f = path.join(scratch.dir, name);
      writeFileSync(f, bytes);
      return f;
    };
    for (const size of [0, 1, 4000, 16 * 1024, 40_000]) {
      const body = Buffer.alloc(size, 'x');
      for (let i = 0; i < size; i++) body[i] = 0x41 + (i % 26);
      const f = file(`exact-${size}`, body);
      assert.deepEqual(readKnownSize(f, size, -1), body, `exact ${size}`);
      if (size > 10) assert.deepEqual(readKnownSize(f, size, 10), body.subarray(0, 10), `first 10 of ${size}`);
      assert.deepEqual(readKnownSize(f, size, size + 5), body, `limit past the end, ${size}`);
      const longer = file(`longer-${size}`, Buffer.concat([body, Buffer.from('!')]));
      assert.throws(() => readKnownSize(longer, size, -1), (e: NodeJS.ErrnoException) => e.code === 'ESIZE', `longer ${size}`);
      if (size > 0) {
        const shorter = file(`shorter-${size}`, body.subarray(0, size - 1));
        assert.throws(() => readKnownSize(shorter, size, -1), (e: NodeJS.ErrnoException) => e.code === 'ESIZE', `shorter ${size}`);
      }
    }
    assert.equal(readKnownSize(path.join(scratch.dir, 'missing'), 5, -1), undefined);
  } finally {
    scratch.cleanup();
  }
});
