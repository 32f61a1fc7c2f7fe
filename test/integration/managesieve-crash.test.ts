// Storing a script is atomic: `postino serve` killed (SIGKILL) while a
// client keeps replacing the active script over ManageSieve leaves that
// script whole, the old text or the new, never a mix or a truncated file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';
import { SieveClient, literal } from '../support/managesieve-client.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'a long enough passphrase 77';
const USER = 'bob@example.test';
// Small enough to compile quickly (the engine takes some 30 ms per KiB), so many are stored before the kill.
const version = (c: string) => `# ${c.repeat(4_000)}\nkeep;\n`;
const VERSIONS = [version('a'), version('b'), version('c')];

test('a crash while the active script is replaced leaves it whole', { timeout: 240_000 }, async (t) => {
  const s = scratchDir();
  try {
    assert.equal(postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`).code, 0);
    for (let round = 0; round < 4; round++) {
      const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
      let puts = 0;
      try {
        const port = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'managesieve')).port);
        const c = await SieveClient.loggedIn(port, USER, PASSWORD);
        if (round === 0) {
          assert.equal((await c.cmd(`PUTSCRIPT "main" ${literal(VERSIONS[0]!)}`)).status, 'OK');
          assert.equal((await c.cmd('SETACTIVE "main"')).status, 'OK');
        }
        // Keep replacing; the kill lands somewhere in the middle of one of them.
        const writer = (async () => {
          for (let i = 0; ; i++) {
            c.send(`PUTSCRIPT "main" ${literal(VERSIONS[i % VERSIONS.length]!)}\r\n`);
            const r = await c.read();
            if (r.status !== 'OK') return;
            puts++;
          }
        })();
        await new Promise((r) => setTimeout(r, 500 + round * 337));
        served.child.kill('SIGKILL');
        await writer;
        c.close();
      } finally {
        await served.stop();
      }
      const listed = postino(s.dir, ['sieve', 'list', USER, '--json']);
      assert.deepEqual(JSON.parse(listed.stdout), [{ name: 'main', active: true }], listed.stderr);
      const got = postino(s.dir, ['sieve', 'get', USER, 'main']);
      assert.equal(got.code, 0, got.stderr);
      assert.ok(VERSIONS.includes(got.stdout), `round ${round}: the script is one whole version (${got.stdout.length} bytes, starts ${JSON.stringify(got.stdout.slice(0, 4))})`);
      t.diagnostic(`round ${round}: ${puts} scripts stored before the kill`);
    }
  } finally {
    s.cleanup();
  }
});
