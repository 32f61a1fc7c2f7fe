// `postino serve` starts the imap and imaps listeners (free ports via
// POSTINO_*_PORT=0, read from the "listening" events); an account made with
// the CLI logs in with imapflow over IMAPS and over STARTTLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'a long enough passphrase 77';

test('postino serve: imap and imaps listen; a CLI-made account logs in and sees its folders', { timeout: 90_000 }, async () => {
  const s = scratchDir();
  try {
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'bob@example.test', '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
    try {
      const imap = await served.waitFor((e) => e.event === 'listening' && e.service === 'imap');
      const imaps = await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps');
      assert.ok(Number(imap.port) > 0 && Number(imaps.port) > 0);
      for (const [port, secure] of [
        [Number(imaps.port), true],
        [Number(imap.port), false],
      ] as const) {
        const c = new ImapFlow({ host: '127.0.0.1', port, secure, auth: { user: 'bob@example.test', pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
        await c.connect();
        const names = (await c.list()).map((b) => b.path).sort();
        assert.deepEqual(names, ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        await c.append('Drafts', 'Subject: draft\r\n\r\nx\r\n', ['\\Draft']);
        await c.logout();
      }
      const bad = new ImapFlow({ host: '127.0.0.1', port: Number(imaps.port), secure: true, auth: { user: 'bob@example.test', pass: 'wrong password here' }, tls: { rejectUnauthorized: false }, logger: false });
      await assert.rejects(bad.connect());
    } finally {
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});
