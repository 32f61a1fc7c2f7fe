// `postino serve` on an empty data dir, and the README's start command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { cliPath, repoRoot } from '../support/paths.js';
import { openStorage } from '../../storage/index.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { SERVICES } from '../../src/config.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));

test('serve on an empty data dir makes a demo account one can log in with, and exits 0 on SIGTERM', { timeout: 60_000 }, async () => {
  const s = scratchDir();
  try {
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], freePorts);
    const demo = await served.waitFor((e) => e.event === 'demo');
    await served.waitFor((e) => e.event === 'ready');
    assert.equal(demo.login, 'demo@example.test');
    assert.equal(typeof demo.password, 'string');
    assert.match(String(demo.msg), /log in as demo@example.test with password/);
    assert.ok(existsSync(path.join(s.dir, 'tls', 'selfsigned.crt')), 'a self-signed certificate is made');
    assert.equal(await served.stop(), 0);
    assert.ok(served.events.some((e) => e.event === 'stopped'));

    const storage = openStorage(s.dir);
    const account = await new Authenticator(storage.directory).login('demo@example.test', String(demo.password));
    assert.equal(account.address, 'demo@example.test');
    assert.deepEqual((await storage.directory.getAlias('postmaster@example.test'))?.targets, ['demo@example.test']);
    storage.close();
    assert.equal(readFileSync(path.join(s.dir, 'demo-login.txt'), 'utf8').split('\n')[0], 'demo@example.test');

    // A second start finds the domain and makes no new demo.
    const again = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], freePorts);
    await again.waitFor((e) => e.event === 'ready');
    assert.ok(!again.events.some((e) => e.event === 'demo'));
    assert.equal(await again.stop(), 0);
  } finally {
    s.cleanup();
  }
});

test('the README start command (npm start) brings the server up on the embedded default', { timeout: 300_000 }, async () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const startLine = /```(?:sh|bash)?\n([^\n]*npm start[^\n]*)\n/.exec(readme);
  assert.ok(startLine, 'README opens with a start command');
  assert.ok(readme.indexOf('npm start') < readme.indexOf('npm test'), 'start first, then test');
  const s = scratchDir();
  try {
    // The README's exact command, with the data dir and ports moved out of the way.
    const served = startServe('bash', ['-c', startLine[1]!], { ...freePorts, POSTINO_DATA: s.dir }, repoRoot, true);
    await served.waitFor((e) => e.event === 'ready', 280_000);
    await served.stop();
    // SIGTERM reached the server through npm and it drained cleanly.
    await served.waitFor((e) => e.event === 'stopped', 20_000);
  } finally {
    s.cleanup();
  }
});
