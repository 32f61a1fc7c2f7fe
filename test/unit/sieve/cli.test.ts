// `postino sieve check` and `postino sieve test` through the real binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliPath, fixturesDir } from '../../support/paths.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'postino-sieve-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function postino(...args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
}

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('sieve check: exit 0 on a valid script, "line:col: message" and exit 1 on an error', () => {
  assert.equal(postino('sieve', 'check', file('ok.sieve', 'require "fileinto";\nfileinto "x";\n')).status, 0);
  const bad = postino('sieve', 'check', file('bad.sieve', 'require "fileinto";\nif true {\n  keep;\n  if hedaer :is "a" "b" { stop; }\n}\n'));
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim(), "4:6: unknown test 'hedaer'");
  const req = postino('sieve', 'check', file('req.sieve', 'keep;\nfileinto "x";\n'));
  assert.equal(req.status, 1);
  assert.equal(req.stderr.trim(), '2:1: fileinto used without require "fileinto"');
});

test('sieve check: a redirect address that is no mailbox and an invalid ${unicode:...} are "line:col: message"', () => {
  const addr = postino('sieve', 'check', file('addr.sieve', 'if true {\n  redirect "a@example.com, b@example.com";\n}\n'));
  assert.equal(addr.status, 1);
  assert.equal(addr.stderr.trim(), "2:12: specified redirect address 'a@example.com, b@example.com' is invalid: not a single address (found ',')");
  const named = postino('sieve', 'check', file('named.sieve', 'redirect "\\"Stephan Bosch\\" <stephan@example.com>";\n'));
  assert.equal(named.status, 0, named.stderr);
  const enc = postino('sieve', 'check', file('enc.sieve', 'require ["encoded-character", "fileinto"];\nfileinto "x${unicode: 41 DF01 }";\n'));
  assert.equal(enc.status, 1);
  assert.equal(enc.stderr.trim(), '2:10: invalid unicode character 0x0000df01 in encoded character substitution');
});

test('sieve test --json: actions in order, implicit keep marked, flags resolved', () => {
  const script = file(
    't.sieve',
    'require ["fileinto", "imap4flags", "copy", "vacation"];\naddflag "\\\\Seen";\nfileinto :copy "Archive";\nredirect "a@example.net";\nvacation :days 2 :subject "Away" "gone";\n',
  );
  const msg = file('m.eml', 'From: a@example.org\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nbody\r\n');
  const r = postino('sieve', 'test', script, msg, '--from', 'a@example.org', '--to', 'b@example.test', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { actions: unknown[] };
  assert.deepEqual(out.actions, [
    { type: 'fileinto', mailbox: 'Archive', flags: ['\\Seen'], copy: true, create: false },
    { type: 'redirect', address: 'a@example.net', copy: false },
    { type: 'vacation', seconds: 172800, subject: 'Away', from: 'b@example.test', reason: 'gone' },
  ]);
  const keep = postino('sieve', 'test', file('k.sieve', 'require "imap4flags"; addflag "$x";'), msg, '--json');
  assert.deepEqual(JSON.parse(keep.stdout), { actions: [{ type: 'keep', implicit: true, flags: ['$x'] }] });
});

test('sieve test without --json prints a readable list; a compile error exits 1', () => {
  const msg = path.join(fixturesDir, 'sieve', 'differential', 'messages', '01-plain.eml');
  const r = postino('sieve', 'test', file('d.sieve', 'discard;'), msg);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /1\. discard/);
  const bad = postino('sieve', 'test', file('e.sieve', 'frob;'), msg);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^1:1: unknown command 'frob'/);
});
