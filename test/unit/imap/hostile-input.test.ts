// IMAP code that runs on what a peer controls (message subjects and bodies,
// mailbox names) is linear in it: a megabyte of the worst pattern for each
// former backtracking RegExp finishes at once, with the same answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutTrailingSeparators } from '../../../src/protocol/imap/commands/create.js';
import { fast, MB } from '../../support/hostile.js';

// SORT's base subject has its own hostile-input tests (test/unit/imap/base-subject.test.ts).
test('CREATE/RENAME: trailing separators stripped without backtracking', () => {
  assert.equal(withoutTrailingSeparators('a/b//'), 'a/b');
  assert.equal(withoutTrailingSeparators('a'), 'a');
  assert.equal(withoutTrailingSeparators('///'), '');
  assert.equal(fast('slashes then a letter', () => withoutTrailingSeparators('/'.repeat(MB) + 'x')), '/'.repeat(MB) + 'x');
  assert.equal(fast('slashes at the end', () => withoutTrailingSeparators('x' + '/'.repeat(MB))), 'x');
});
