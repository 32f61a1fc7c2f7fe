// Removing an account or a domain with the CLI keeps the mail (issue 10,
// item 2): the Maildir and the Sieve scripts move under DIR/removed/, the
// CLI says where, `--purge` deletes instead, and an address added again
// starts with an empty mailbox.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';

const GOOD = 'tangerine-otter-42\n';

describe('postino user remove / domain remove [--purge]', () => {
  const s = scratchDir();
  const run = (args: string[], stdin?: string) => {
    const r = postino(s.dir, args, stdin);
    assert.equal(r.code, 0, `postino ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const deliver = (to: string, text: string) =>
    run(['deliver', '--from', 'someone@remote.test', '--to', to], `From: someone@remote.test\r\nSubject: ${text}\r\n\r\n${text}\r\n`);
  /** The messages in an account's INBOX on disk, as their Subject lines. */
  const inboxFiles = (maildir: string) =>
    ['new', 'cur'].flatMap((d) => {
      const dir = path.join(maildir, d);
      return existsSync(dir) ? readdirSync(dir).map((f) => /Subject: (\S+)/.exec(readFileSync(path.join(dir, f), 'utf8'))?.[1]) : [];
    });
  const maildir = (domain: string, local: string) => path.join(s.dir, 'mail', domain, local);
  const keptIn = (stdout: string): string => {
    const m = /kept in (\S+) /.exec(stdout);
    assert.ok(m, `no "kept in" in: ${stdout}`);
    return m[1]!;
  };

  before(() => {
    run(['domain', 'add', 'd.test', '--postmaster', 'admin@d.test', '--password-stdin'], GOOD);
    run(['user', 'add', 'kim@d.test', '--password-stdin'], GOOD);
    const script = path.join(s.dir, 'rules.sieve');
    writeFileSync(script, 'keep;\n');
    run(['sieve', 'put', 'kim@d.test', 'rules', script, '--activate']);
    deliver('kim@d.test', 'first');
  });
  after(() => s.cleanup());

  test('user remove moves the Maildir and scripts to DIR/removed/DOMAIN/LOCAL-STAMP and says so', () => {
    const out = run(['user', 'remove', 'kim@d.test']);
    const dir = keptIn(out);
    assert.equal(path.dirname(dir), path.join(s.dir, 'removed', 'd.test'));
    assert.match(path.basename(dir), /^kim-\d{8}T\d{6}Z$/);
    assert.deepEqual(inboxFiles(path.join(dir, 'mail')), ['first']);
    assert.equal(readFileSync(path.join(dir, 'sieve', 'rules.sieve'), 'utf8'), 'keep;\n');
    assert.ok(!existsSync(maildir('d.test', 'kim')));
    assert.ok(!existsSync(path.join(s.dir, 'sieve', 'd.test', 'kim')));
    assert.deepEqual(JSON.parse(run(['user', 'list', '--json'])).map((u: { address: string }) => u.address), ['admin@d.test']);
  });

  test('the address added again starts empty: no old mail, no old scripts', () => {
    assert.equal(run(['user', 'add', 'kim@d.test', '--password-stdin'], GOOD), '');
    assert.deepEqual(inboxFiles(maildir('d.test', 'kim')), []);
    assert.deepEqual(JSON.parse(run(['sieve', 'list', 'kim@d.test', '--json'])), []);
    deliver('kim@d.test', 'second');
    assert.deepEqual(inboxFiles(maildir('d.test', 'kim')), ['second']);
    assert.deepEqual(JSON.parse(run(['reindex', 'kim@d.test', '--json']))[0].messages, 1, 'the index holds only the new message');
    // Removed again: a second directory beside the first.
    const again = keptIn(run(['user', 'remove', 'kim@d.test']));
    assert.deepEqual(inboxFiles(path.join(again, 'mail')), ['second']);
    assert.equal(readdirSync(path.join(s.dir, 'removed', 'd.test')).filter((d) => d.startsWith('kim-')).length, 2);
  });

  test('--purge deletes at once and keeps nothing', () => {
    run(['user', 'add', 'lee@d.test', '--password-stdin'], GOOD);
    deliver('lee@d.test', 'doomed');
    assert.match(run(['user', 'remove', 'lee@d.test', '--purge']), /removed lee@d.test; its mail and Sieve scripts are deleted/);
    assert.ok(!existsSync(maildir('d.test', 'lee')));
    assert.deepEqual(readdirSync(path.join(s.dir, 'removed', 'd.test')).filter((d) => d.startsWith('lee-')), []);
  });

  test('files found where a new account goes (a removal cut short) are moved aside, not adopted', () => {
    mkdirSync(path.join(maildir('d.test', 'max'), 'new'), { recursive: true });
    writeFileSync(path.join(maildir('d.test', 'max'), 'new', '1.stale'), 'Subject: stale\r\n\r\nold\r\n');
    const out = run(['user', 'add', 'max@d.test', '--password-stdin'], GOOD);
    const m = /files an earlier max@d.test left behind were moved to (\S+);/.exec(out);
    assert.ok(m, out);
    assert.deepEqual(inboxFiles(path.join(m[1]!, 'mail')), ['stale']);
    assert.deepEqual(inboxFiles(maildir('d.test', 'max')), []);
    assert.deepEqual(JSON.parse(run(['reindex', 'max@d.test', '--check', '--json']))[0].messages, 0);
  });

  test('domain remove removes its accounts and aliases, keeping every Maildir aside', () => {
    run(['domain', 'add', 'e.test', '--postmaster', 'pat@e.test', '--password-stdin'], GOOD);
    run(['user', 'add', 'quinn@e.test', '--password-stdin'], GOOD);
    run(['alias', 'add', 'team@e.test', 'pat@e.test', 'quinn@e.test']);
    deliver('pat@e.test', 'to-pat');
    deliver('team@e.test', 'to-team');
    const out = run(['domain', 'remove', 'e.test']);
    assert.match(out, /removed domain e.test/);
    const kept = out.split('\n').filter((l) => l.includes('kept in')).map(keptIn).sort();
    assert.equal(kept.length, 2, out);
    assert.deepEqual(inboxFiles(path.join(kept[0]!, 'mail')).sort(), ['to-pat', 'to-team']);
    assert.match(kept[0]!, /removed\/e.test\/pat-/);
    assert.deepEqual(inboxFiles(path.join(kept[1]!, 'mail')), ['to-team']);
    assert.ok(!existsSync(path.join(s.dir, 'mail', 'e.test', 'pat')));
    assert.deepEqual(JSON.parse(run(['domain', 'list', '--json'])), [{ domain: 'd.test' }]);
    const left = JSON.parse(run(['alias', 'list', '--json'])) as Array<{ address: string }>;
    assert.deepEqual(left.filter((a) => a.address.endsWith('@e.test')), []);
  });

  test('domain remove --purge deletes every Maildir', () => {
    run(['domain', 'add', 'f.test', '--postmaster', 'ray@f.test', '--password-stdin'], GOOD);
    deliver('ray@f.test', 'gone');
    assert.match(run(['domain', 'remove', 'f.test', '--purge']), /removed ray@f.test; its mail and Sieve scripts are deleted/);
    assert.ok(!existsSync(path.join(s.dir, 'mail', 'f.test', 'ray')));
    assert.ok(!existsSync(path.join(s.dir, 'removed', 'f.test')));
  });

  test('domain remove is refused while an alias elsewhere points into it, and changes nothing', () => {
    run(['domain', 'add', 'g.test', '--postmaster', 'sam@g.test', '--password-stdin'], GOOD);
    run(['alias', 'add', 'help@d.test', 'sam@g.test']);
    const r = postino(s.dir, ['domain', 'remove', 'g.test']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /help@d.test points to sam@g.test; change or remove it first/);
    assert.ok(existsSync(path.join(s.dir, 'mail', 'g.test', 'sam')));
    assert.deepEqual(JSON.parse(run(['user', 'list', '--json'])).some((u: { address: string }) => u.address === 'sam@g.test'), true);
  });
});
