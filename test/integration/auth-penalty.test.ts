// Brute force against a real `postino serve` over IMAPS. The attacker
// connects from 127.0.0.2 (its socket bound there), the owner from 127.0.0.1:
// - the attacker's failure replies come after 2, 4, 8 s and its session ends
//   with BYE after the third failure;
// - meanwhile the owner logs in with the right password at once, every time;
// - the right password from the attacker's address, sent while a delay runs,
//   waits for it (no early "wrong" for a client that hangs up), then succeeds;
//   once the delay is over it succeeds at once;
// - each failure is one JSON line at a level shown by default, with service,
//   address, user and mechanism and no password, and the fail2ban filter in
//   README.md matches exactly those lines (also run through fail2ban-regex
//   when it is installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath, repoRoot } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';
import { RawImap, tagged } from './imap-raw-client.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const USER = 'bob@example.test';
const PASSWORD = 'a long enough passphrase 77';
const ATTACKER = '127.0.0.2';
const GUESSES = ['guess-one-1111', 'guess-two-2222', 'guess-three-3333'];

/** The fail2ban filter's failregex, as README.md documents it. */
function readmeFailregex(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const m = /^failregex = (.+)$/m.exec(readme);
  assert.ok(m, 'README.md documents a failregex');
  return m[1]!;
}

async function timed<T>(p: Promise<T>): Promise<{ ms: number; value: T; doneAt: number }> {
  const t0 = Date.now();
  const value = await p;
  return { ms: Date.now() - t0, value, doneAt: Date.now() };
}

test('brute force over IMAPS: growing delays and BYE for the attacker, the owner logs in at once, failures logged for fail2ban', { timeout: 180_000 }, async (t) => {
  const s = scratchDir();
  try {
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    // The default log level: failures must show without asking for more.
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0', POSTINO_LOG_LEVEL: undefined });
    const lines: string[] = [];
    let partial = '';
    served.child.stdout!.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
    });
    const openSessions: RawImap[] = [];
    try {
      const port = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
      const connect = async (from?: string) => {
        const c = await RawImap.connect(port, true, from);
        openSessions.push(c);
        return c;
      };
      const ownerLogin = async () => {
        const c = await connect();
        const r = await timed(c.cmd(`LOGIN ${USER} "${PASSWORD}"`, 30_000));
        assert.match(tagged(r.value), /^t\d+ OK/);
        await c.cmd('LOGOUT');
        return r.ms;
      };
      const failuresLogged = () => lines.filter((l) => l.includes('"event":"auth-failed"')).length;

      // Starts the scrypt thread (a cold start is no part of what is measured here).
      await ownerLogin();
      const attacker = await connect(ATTACKER);
      const ownerTimes: number[] = [];

      // Failures 1 and 2 (LOGIN); the owner logs in while each delay runs.
      const f1 = timed(attacker.cmd(`LOGIN ${USER} "${GUESSES[0]}"`, 30_000));
      ownerTimes.push(await ownerLogin());
      const r1 = await f1;
      const f2 = timed(attacker.cmd(`LOGIN ${USER} "${GUESSES[1]}"`, 30_000));
      ownerTimes.push(await ownerLogin());
      const r2 = await f2;

      // Failure 3 (AUTHENTICATE PLAIN): the session's last.
      const f3SentAt = Date.now();
      const f3 = timed(attacker.cmd(`AUTHENTICATE PLAIN ${Buffer.from(`\0${USER}\0${GUESSES[2]}`).toString('base64')}`, 30_000));
      // Once the server has counted it, the right password from the attacker's address waits too.
      while (failuresLogged() < 3) await new Promise((r) => setTimeout(r, 20));
      const fromAttacker = await connect(ATTACKER);
      const held = timed(fromAttacker.cmd(`LOGIN ${USER} "${PASSWORD}"`, 30_000));
      ownerTimes.push(await ownerLogin());
      const r3 = await f3;
      const h = await held;

      for (const [r, delay] of [[r1, 2000], [r2, 4000], [r3, 8000]] as const) {
        assert.match(tagged(r.value), /^t\d+ NO \[AUTHENTICATIONFAILED\]/);
        // Timers never fire early; the upper bound is loose for a loaded machine.
        assert.ok(r.ms >= delay - 50 && r.ms < delay + 6000, `reply after ${r.ms} ms, expected about ${delay}`);
      }
      assert.ok(r1.ms < r2.ms && r2.ms < r3.ms, `growing: ${r1.ms}, ${r2.ms}, ${r3.ms}`);
      assert.match(r3.value, /^\* BYE /m, 'the third failure ends the session');
      for (let i = 0; i < 250 && !attacker.closed; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(attacker.closed, true, 'closed after BYE');

      t.diagnostic(`attacker replies ${r1.ms}, ${r2.ms}, ${r3.ms} ms; owner logins ${ownerTimes.join(', ')} ms`);
      // Well under the first penalty step (2 s), so any penalty or lock on the owner would show.
      for (const ms of ownerTimes) assert.ok(ms < 1500, `the owner's LOGIN took ${ms} ms`);

      assert.match(tagged(h.value), /^t\d+ OK/, 'the right password from the attacker address is not refused');
      assert.ok(h.doneAt - f3SentAt >= 8000 - 50, `held until the delay ended: ${h.doneAt - f3SentAt} ms after the third guess`);

      // The delay is over: the right password from the attacker's address works at once.
      const after = await connect(ATTACKER);
      const a = await timed(after.cmd(`LOGIN ${USER} "${PASSWORD}"`, 30_000));
      assert.match(tagged(a.value), /^t\d+ OK/);
      assert.ok(a.ms < 1500, `after the penalty: ${a.ms} ms`);

      // The log: three failures, all fields, warn level, no password anywhere.
      const failed = lines.filter((l) => l.includes('"event":"auth-failed"'));
      assert.equal(failed.length, 3, failed.join('\n'));
      for (const line of failed) {
        const e = JSON.parse(line) as Record<string, unknown>;
        assert.equal(e.level, 40, 'warn');
        assert.deepEqual(
          { service: e.service, ip: e.ip, user: e.user, mechanism: e.mechanism, reason: e.reason },
          { service: 'imap', ip: ATTACKER, user: USER, mechanism: 'PLAIN', reason: 'wrong password' },
        );
      }
      for (const secret of [...GUESSES, PASSWORD]) assert.ok(!lines.some((l) => l.includes(secret)), 'no password is logged');

      // The README's fail2ban filter: <HOST> as fail2ban would capture it.
      const failregex = readmeFailregex();
      const re = new RegExp(failregex.replace('<HOST>', '(?<host>[0-9A-Fa-f:.]+)'));
      const matched = lines.filter((l) => re.test(l));
      assert.deepEqual(matched, failed, 'the filter matches the failures and nothing else');
      for (const l of matched) assert.equal(re.exec(l)!.groups!.host, ATTACKER);

      const f2b = spawnSync('fail2ban-regex', ['--version'], { encoding: 'utf8' });
      if (f2b.status === 0) {
        const logFile = join(s.dir, 'serve.log');
        const filterFile = join(s.dir, 'postino-filter.conf');
        writeFileSync(logFile, lines.join('\n') + '\n');
        writeFileSync(filterFile, `[Definition]\nfailregex = ${failregex}\nignoreregex =\n`);
        const out = spawnSync('fail2ban-regex', [logFile, filterFile], { encoding: 'utf8' });
        assert.match(out.stdout, new RegExp(`Lines: ${lines.length} lines, 0 ignored, 3 matched`), out.stdout + out.stderr);
      }
    } finally {
      for (const c of openSessions) c.close();
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});
