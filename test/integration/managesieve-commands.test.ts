// ManageSieve (RFC 5804) against a real `postino serve`, through the small
// client of test/support/managesieve-client.ts: every command, every error
// reply (quotas, bad names, NONEXISTENT, ALREADYEXISTS, ACTIVE, ENCRYPT-NEEDED),
// literals of both kinds, and the CLI sharing the scripts and the quotas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';
import { capabilities as engineCapabilities } from '../../sieve/index.js';
import { SieveClient, capabilityMap, literal, quoted } from '../support/managesieve-client.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'a long enough passphrase 77';
const USER = 'bob@example.test';
const MAX_SIZE = 2048;

const VALID = 'require "fileinto";\r\nif header :contains "subject" "x" {\r\n  fileinto "Junk";\r\n}\r\n';
const INVALID = 'require "fileinto";\r\nif header :contains "subject" { fileinto "Junk"; }\r\n';

test('ManageSieve: every command and every error reply over real TCP', { timeout: 120_000 }, async (t) => {
  const s = scratchDir();
  try {
    writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ sieve: { maxScripts: 3, maxScriptSize: MAX_SIZE } }));
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
    try {
      const listening = await served.waitFor((e) => e.event === 'listening' && e.service === 'managesieve');
      const port = Number(listening.port);
      assert.ok(port > 0);

      await t.test('greeting and capabilities before and after STARTTLS', async () => {
        const c = await SieveClient.connect(port);
        assert.equal(c.greeting.status, 'OK');
        const caps = capabilityMap(c.greeting);
        assert.equal(caps.get('IMPLEMENTATION'), 'Postino');
        assert.equal(caps.get('SASL'), '', 'no mechanisms offered before TLS');
        assert.deepEqual(caps.get('SIEVE')!.split(' ').sort(), [...engineCapabilities].sort());
        assert.equal(caps.get('NOTIFY'), 'mailto');
        assert.equal(caps.get('MAXREDIRECTS'), '4');
        assert.equal(caps.get('VERSION'), '1.0');
        assert.ok(caps.has('STARTTLS'));
        assert.deepEqual(capabilityMap(await c.cmd('CAPABILITY')), caps);

        const early = await c.login(USER, PASSWORD);
        assert.equal(early.status, 'NO');
        assert.equal(early.code, 'ENCRYPT-NEEDED');
        assert.equal((await c.cmd('LISTSCRIPTS')).status, 'NO', 'not before AUTHENTICATE');

        const after = capabilityMap(await c.startTls());
        assert.equal(after.get('SASL'), 'PLAIN LOGIN SCRAM-SHA-256');
        assert.ok(!after.has('STARTTLS'));
        assert.equal((await c.cmd('STARTTLS')).status, 'NO', 'TLS is already active');
        assert.equal((await c.cmd('AUTHENTICATE "X-UNKNOWN"')).status, 'NO');
        c.close();
      });

      await t.test('AUTHENTICATE: a wrong password is refused and logged; challenges; cancel', async () => {
        const c = await SieveClient.connect(port);
        await c.startTls();
        const bad = await c.login(USER, 'not the password at all');
        assert.equal(bad.status, 'NO');
        const logged = await served.waitFor((e) => e.event === 'auth-failed' && e.service === 'managesieve', 10_000);
        assert.equal(logged.user, USER);
        c.close();

        // Without an initial response: an empty challenge, then the response as a literal.
        const d = await SieveClient.connect(port);
        await d.startTls();
        d.send('AUTHENTICATE "PLAIN"\r\n');
        d.send(`${literal(Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64'))}\r\n`);
        const r = await d.read();
        assert.deepEqual(r.lines, ['""'], 'one empty challenge');
        assert.equal(r.status, 'OK', r.raw);
        const caps = capabilityMap(await d.cmd('CAPABILITY'));
        assert.equal(caps.get('OWNER'), USER);
        assert.equal((await d.cmd('AUTHENTICATE "PLAIN"')).status, 'NO', 'already authenticated');
        assert.equal((await d.cmd('UNAUTHENTICATE')).status, 'OK');
        assert.equal((await d.cmd('LISTSCRIPTS')).status, 'NO', 'logged out again');
        d.send('AUTHENTICATE "LOGIN"\r\n');
        d.send('"*"\r\n');
        const cancelled = await d.read();
        assert.equal(cancelled.status, 'NO');
        assert.match(cancelled.text ?? '', /cancel/i);
        assert.equal((await d.cmd('LOGOUT')).status, 'OK');
        await d.waitClosed();
      });

      const c = await SieveClient.loggedIn(port, USER, PASSWORD);
      try {
        await t.test('PUTSCRIPT with a {n+} literal, a {n} literal and a quoted string; the count quota', async () => {
          assert.equal((await c.cmd(`HAVESPACE "one" ${VALID.length}`)).status, 'OK');
          assert.equal((await c.cmd(`PUTSCRIPT "one" ${literal(VALID)}`)).status, 'OK');
          assert.equal((await c.cmd(`PUTSCRIPT "two" ${literal(VALID, true)}`)).status, 'OK');
          assert.equal((await c.cmd(`PUTSCRIPT "three" ${quoted('keep;')}`)).status, 'OK');
          const four = await c.cmd(`PUTSCRIPT "four" ${literal(VALID)}`);
          assert.equal(four.status, 'NO');
          assert.equal(four.code, 'QUOTA/MAXSCRIPTS');
          const space = await c.cmd('HAVESPACE "four" 10');
          assert.equal(space.code, 'QUOTA/MAXSCRIPTS');
          assert.equal((await c.cmd('HAVESPACE "one" 10')).status, 'OK', 'replacing a script adds none');
          assert.equal((await c.cmd(`PUTSCRIPT "one" ${literal(VALID)}`)).status, 'OK', 'replacing is allowed at the limit');
        });

        await t.test('the size quota: HAVESPACE, PUTSCRIPT, and a literal beyond any script', async () => {
          const big = await c.cmd(`HAVESPACE "one" ${MAX_SIZE + 1}`);
          assert.equal(big.status, 'NO');
          assert.equal(big.code, 'QUOTA/MAXSIZE');
          const tooBig = `# ${'x'.repeat(MAX_SIZE)}\r\nkeep;\r\n`;
          const put = await c.cmd(`PUTSCRIPT "one" ${literal(tooBig)}`);
          assert.equal(put.code, 'QUOTA/MAXSIZE');
          // Beyond the literal bound (script size plus slack): skipped, refused, the session goes on.
          const huge = await c.cmd(`PUTSCRIPT "one" ${literal('#'.repeat(64 * 1024))}`);
          assert.equal(huge.status, 'NO');
          assert.equal(huge.code, 'QUOTA/MAXSIZE');
          assert.equal((await c.cmd('NOOP')).status, 'OK');
          assert.equal((await c.cmd('GETSCRIPT "one"')).lines[0], VALID, 'the stored script is untouched');
        });

        await t.test('invalid scripts get the validator\'s line:col error', async () => {
          const put = await c.cmd(`PUTSCRIPT "bad" ${literal(INVALID)}`);
          assert.equal(put.status, 'NO');
          assert.match(put.text ?? '', /^2:\d+: /);
          const file = path.join(s.dir, 'invalid.sieve');
          writeFileSync(file, INVALID);
          const cli = postino(s.dir, ['sieve', 'check', file]);
          assert.equal(cli.code, 1);
          assert.equal(put.text, cli.stderr.trim(), 'the same message as `postino sieve check`');
          const check = await c.cmd(`CHECKSCRIPT ${literal(INVALID)}`);
          assert.equal(check.status, 'NO');
          assert.equal(check.text, put.text);
          assert.equal((await c.cmd(`CHECKSCRIPT ${literal(VALID)}`)).status, 'OK');
        });

        await t.test('bad script names are refused and change nothing', async () => {
          const before = (await c.cmd('LISTSCRIPTS')).lines;
          const names: Array<[string, string]> = [
            ['slash', quoted('a/b')],
            ['dot-dot', quoted('../x')],
            ['leading dot', quoted('.hidden')],
            ['backslash', quoted('a\\b')],
            ['empty', '""'],
            ['too long', quoted('n'.repeat(200))],
            ['NUL', literal(Buffer.from('a\0b'))],
            ['control', literal(Buffer.from('a\x01b'))],
            ['C1 control', literal(Buffer.from('a\u0085b', 'utf8'))],
            ['line separator', literal(Buffer.from('a\u2028b', 'utf8'))],
            ['invalid UTF-8', literal(Buffer.from([0x61, 0xff, 0x62]))],
          ];
          for (const [what, name] of names) {
            const r = await c.cmd(`HAVESPACE ${name} 10`);
            assert.equal(r.status, 'NO', `HAVESPACE ${what}`);
            assert.equal(r.code, undefined, `HAVESPACE ${what}: the name is refused before any quota`);
            const p = await c.cmd(`PUTSCRIPT ${name} ${literal('keep;')}`);
            assert.equal(p.status, 'NO', `PUTSCRIPT ${what}: ${p.raw}`);
            assert.equal(p.code, undefined, `PUTSCRIPT ${what}: ${p.raw}`);
          }
          assert.deepEqual((await c.cmd('LISTSCRIPTS')).lines, before);
          const utf8 = await c.cmd(`HAVESPACE ${literal(Buffer.from('Räume ✓', 'utf8'))} 10`);
          assert.equal(utf8.code, 'QUOTA/MAXSCRIPTS', 'a UTF-8 name is fine (only the count stops it)');
        });

        await t.test('LISTSCRIPTS, SETACTIVE, GETSCRIPT, DELETESCRIPT, RENAMESCRIPT and their errors', async () => {
          assert.deepEqual((await c.cmd('LISTSCRIPTS')).lines, ['"one"', '"three"', '"two"']);
          assert.equal((await c.cmd('SETACTIVE "one"')).status, 'OK');
          assert.deepEqual((await c.cmd('LISTSCRIPTS')).lines, ['"one" ACTIVE', '"three"', '"two"']);
          assert.equal((await c.cmd('SETACTIVE "nope"')).code, 'NONEXISTENT');
          const got = await c.cmd('GETSCRIPT "one"');
          assert.equal(got.status, 'OK');
          assert.deepEqual(got.lines, [VALID]);
          assert.match(got.raw, /^\{\d+\}\r\n/, 'the script comes as a literal');
          assert.equal((await c.cmd('GETSCRIPT "nope"')).code, 'NONEXISTENT');
          assert.equal((await c.cmd('DELETESCRIPT "one"')).code, 'ACTIVE');
          assert.equal((await c.cmd('DELETESCRIPT "nope"')).code, 'NONEXISTENT');
          assert.equal((await c.cmd('DELETESCRIPT "three"')).status, 'OK');
          assert.equal((await c.cmd('RENAMESCRIPT "two" "one"')).code, 'ALREADYEXISTS');
          assert.equal((await c.cmd('RENAMESCRIPT "nope" "x"')).code, 'NONEXISTENT');
          assert.equal((await c.cmd('RENAMESCRIPT "two" "../evil"')).status, 'NO');
          assert.equal((await c.cmd(`RENAMESCRIPT ${literal('two')} "zwei"`)).status, 'OK', 'a literal then a quoted string');
          assert.equal((await c.cmd('RENAMESCRIPT "one" "eins"')).status, 'OK', 'the active script may be renamed');
          assert.deepEqual((await c.cmd('LISTSCRIPTS')).lines, ['"eins" ACTIVE', '"zwei"']);

          // The CLI sees the same scripts.
          const cli = postino(s.dir, ['sieve', 'list', USER, '--json']);
          assert.equal(cli.code, 0, cli.stderr);
          assert.deepEqual(JSON.parse(cli.stdout), [
            { name: 'eins', active: true },
            { name: 'zwei', active: false },
          ]);

          assert.equal((await c.cmd('SETACTIVE ""')).status, 'OK');
          assert.deepEqual((await c.cmd('LISTSCRIPTS')).lines, ['"eins"', '"zwei"']);
          assert.equal((await c.cmd('DELETESCRIPT "eins"')).status, 'OK');
        });

        await t.test('the CLI keeps to the same quotas', async () => {
          const file = path.join(s.dir, 'big.sieve');
          writeFileSync(file, `# ${'x'.repeat(MAX_SIZE)}\nkeep;\n`);
          const big = postino(s.dir, ['sieve', 'put', USER, 'big', file]);
          assert.notEqual(big.code, 0);
          assert.match(big.stderr, /larger than 2048/);
          writeFileSync(file, 'keep;\n');
          assert.equal(postino(s.dir, ['sieve', 'put', USER, 'a', file]).code, 0);
          assert.equal(postino(s.dir, ['sieve', 'put', USER, 'b', file]).code, 0);
          const third = postino(s.dir, ['sieve', 'put', USER, 'c', file]);
          assert.notEqual(third.code, 0);
          assert.match(third.stderr, /too many scripts/);
          assert.equal((await c.cmd(`HAVESPACE "c" 5`)).code, 'QUOTA/MAXSCRIPTS');
          assert.equal((await c.cmd('DELETESCRIPT "a"')).status, 'OK');
          assert.equal((await c.cmd('DELETESCRIPT "b"')).status, 'OK');
        });

        await t.test('bad commands get NO and the session goes on', async () => {
          const noop = await c.cmd('NOOP "sync-1"');
          assert.equal(noop.status, 'OK');
          assert.equal(noop.code, 'TAG "sync-1"');
          for (const line of ['FROB', 'PUTSCRIPT "x"', 'PUTSCRIPT "x" "unterminated', 'GETSCRIPT "a\\qb"', 'HAVESPACE "x" notanumber', 'HAVESPACE "x" 1 2', '"quoted" first', 'LISTSCRIPTS {5+} x', 'GETSCRIPT {99999999999999999999+}']) {
            const r = await c.cmd(line);
            assert.equal(r.status, 'NO', `${line}: ${r.raw}`);
          }
          assert.equal((await c.cmd('noop')).status, 'OK', 'command names are case-insensitive');
          assert.deepEqual((await c.cmd('LISTSCRIPTS')).lines, ['"zwei"']);
        });

        await t.test('a literal announced far beyond any script ends the session with BYE', async () => {
          const other = await SieveClient.connect(port);
          const r = await other.cmd('PUTSCRIPT "x" {4000000000+}');
          assert.equal(r.status, 'BYE');
          await other.waitClosed();
          const early = await SieveClient.connect(port);
          early.send('AUTHENTICATE "PLAIN" {100000+}\r\n');
          early.send(Buffer.alloc(100_000, 0x41));
          early.send('\r\nNOOP\r\n');
          const refused = await early.read();
          assert.equal(refused.status, 'NO', 'before login, literals are small (SASL responses only)');
          assert.equal((await early.read()).status, 'OK', 'and the session goes on');
          early.close();
        });

        await t.test('a STARTTLS answered with garbage, or abandoned, ends only that session', async () => {
          const garbage = await SieveClient.connect(port);
          assert.equal((await garbage.cmd('STARTTLS')).status, 'OK');
          garbage.send('this is not a TLS ClientHello\r\n'.repeat(20));
          await garbage.waitClosed();
          const abandoned = await SieveClient.connect(port);
          assert.equal((await abandoned.cmd('STARTTLS')).status, 'OK');
          abandoned.close();
          assert.equal((await c.cmd('NOOP')).status, 'OK');
        });

        await t.test('LOGOUT', async () => {
          assert.equal((await c.cmd('LOGOUT')).status, 'OK');
        });
      } finally {
        c.close();
      }
      const internal = served.events.filter((e) => e.event === 'managesieve-error' || e.event === 'managesieve-session-error');
      assert.deepEqual(internal, [], 'nothing above was an internal error');
    } finally {
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});
