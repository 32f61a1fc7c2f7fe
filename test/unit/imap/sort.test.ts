import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseSubject } from '../../../src/protocol/imap/commands/sort.js';

test('RFC 5256 base subject', () => {
  assert.equal(baseSubject('Re: Hello'), 'hello');
  assert.equal(baseSubject('RE:  re: Fwd: [list] Hello  World (fwd)'), 'hello world');
  assert.equal(baseSubject('[Fwd: Re: Budget]'), 'budget');
  assert.equal(baseSubject('Fw[2]: plan'), 'plan');
  assert.equal(baseSubject('Re:'), 're:');
  assert.equal(baseSubject(''), '');
});
