// Ten sessions on one INBOX over IMAPS against a real `postino serve`, each
// looping SELECT, FETCH (flags, envelope, structure, bodies), STORE of flags
// and keywords, STORE \Deleted + EXPUNGE and APPEND, while the stress client
// checks every response against its own view: sequence numbers move only
// after EXPUNGE, a UID always stands for the same message, no item twice in
// a FETCH. The 30-second form, beside Dovecot, is bench/imap-stress.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';
import { runImapStress } from '../support/imap-stress.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'a long enough passphrase 77';
const SECONDS = Number(process.env.POSTINO_STRESS_SECONDS ?? 12);

test('10 concurrent sessions on one INBOX never see a sequence number or a UID change meaning', { timeout: 180_000 }, async () => {
  const s = scratchDir();
  try {
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
    try {
      const imaps = await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps');
      const r = await runImapStress({
        port: Number(imaps.port),
        secure: true,
        user: 'alice@example.test',
        password: PASSWORD,
        clients: 10,
        seconds: SECONDS,
        seed: 7,
      });
      assert.deepEqual(r.errors, [], `${r.errors.length} inconsistencies`);
      assert.equal(r.logins, 10, 'every client kept its one session');
      assert.ok(r.appended > 20 && r.expunged > 5, `the load ran (${JSON.stringify({ ...r, errors: r.errors.length })})`);
      const serverErrors = served.events.filter((e) => e.level === 'error' || e.event === 'imap-error' || e.event === 'imap-session-error');
      assert.deepEqual(serverErrors, []);
    } finally {
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});
