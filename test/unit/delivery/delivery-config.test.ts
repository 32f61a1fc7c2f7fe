// The global Sieve scripts are read when a configuration is taken into use
// (start, SIGHUP), not at each delivery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deliveryConfig } from '../../../src/delivery/delivery-config.js';
import { resolveConfig, validateConfig } from '../../../src/config.js';
import { scratchDir } from '../../support/tmp.js';

test('include :global scripts are read once per configuration: a file changed later counts from the next configuration', () => {
  const scratch = scratchDir();
  try {
    const dir = path.join(scratch.dir, 'global');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'spam.sieve'), 'discard;');
    writeFileSync(path.join(dir, 'notes.txt'), 'not a script');
    mkdirSync(path.join(dir, 'sub.sieve'));
    const before = path.join(scratch.dir, 'before.sieve');
    writeFileSync(before, 'keep;');
    const config = resolveConfig(validateConfig({ hostname: 'mx.example.test', sieve: { globalDir: dir, before: [before] } }), {});
    const first = deliveryConfig(config);
    assert.equal(first.globalScript?.('spam'), 'discard;');
    assert.equal(first.globalScript?.('notes'), undefined);
    assert.equal(first.globalScript?.('sub'), undefined, 'a directory is no script');
    assert.equal(first.globalScript?.('../before'), undefined, 'a name that is not a script name finds nothing');
    assert.deepEqual(first.sieveBefore, ['keep;']);

    writeFileSync(path.join(dir, 'spam.sieve'), 'stop;');
    writeFileSync(path.join(dir, 'late.sieve'), 'keep;');
    assert.equal(first.globalScript?.('spam'), 'discard;', 'no file is read per delivery');
    assert.equal(first.globalScript?.('late'), undefined);

    const reloaded = deliveryConfig(config);
    assert.equal(reloaded.globalScript?.('spam'), 'stop;');
    assert.equal(reloaded.globalScript?.('late'), 'keep;');
  } finally {
    scratch.cleanup();
  }
});

test('a global script directory that is missing has no scripts (and does not stop the start)', () => {
  const config = resolveConfig(validateConfig({ hostname: 'mx.example.test', sieve: { globalDir: '/nonexistent/postino-global' } }), {});
  assert.equal(deliveryConfig(config).globalScript?.('spam'), undefined);
});

test('spamtest and virustest read the score headers only when our own scanners write them', () => {
  const plain = deliveryConfig(resolveConfig(validateConfig({}), {}));
  assert.equal(plain.spamScoreHeader, null, 'no spam engine: a sender-written X-Spam-Score means nothing');
  assert.equal(plain.virusScoreHeader, null);
  const scanned = deliveryConfig(resolveConfig(validateConfig({ spam: { engine: 'builtin', junkScore: 6 }, antivirus: { host: '127.0.0.1', port: 3310 } }), {}));
  assert.deepEqual(scanned.spamScoreHeader, { header: 'X-Spam-Score', max: 6 });
  assert.equal(scanned.virusScoreHeader?.header, 'X-Virus-Score');
});
