// The Dovecot Maildir reader: uidlist and keywords parsing (strict, one-line
// errors naming the file and line), folder names in both layouts, and
// names or symlinks that would leave SRC refused.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { parseKeywordsFile, parseUidlist } from '../../../src/cli/dovecot/uidlist.js';
import { decodeModifiedUtf7 } from '../../../src/cli/dovecot/mutf7.js';
import { parseSubscriptions, readDovecotMaildir } from '../../../src/cli/dovecot/maildir-source.js';
import { parsePasswdFile } from '../../../src/cli/dovecot/passwd-file.js';
import { scratchDir } from '../../support/tmp.js';

const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));
function tempDir(prefix: string): string {
  const s = scratchDir(prefix);
  cleanups.push(s.cleanup);
  return s.dir;
}

function maildir(dir: string): string {
  for (const s of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, s), { recursive: true });
  return dir;
}

describe('dovecot-uidlist and dovecot-keywords', () => {
  test('a version 3 list: header, UIDs, extension fields, POP3 UIDLs', () => {
    const u = parseUidlist('3 V1796531597 N9 G3085f01b7f11094c501100008c4a11c1\n1 W1234 :100.M1P2.host,S=1200\n4 G0011 P7f00aa O2 W99 :101.M1P2.host,S=90\n', 'x/dovecot-uidlist');
    assert.equal(u.uidValidity, 1796531597);
    assert.equal(u.uidNext, 9);
    assert.deepEqual(u.entries.map((e) => [e.uid, e.base, e.pop3Uidl]), [
      [1, '100.M1P2.host,S=1200', undefined],
      [4, '101.M1P2.host,S=90', '7f00aa'],
    ]);
  });

  test('bad lines are errors naming the file and the line', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /f:1: empty file/],
      ['2 V1 N2\n', /f:1: unsupported version/],
      ['3 N2\n', /f:1: no valid UIDVALIDITY/],
      ['3 V1 N5\n1 :a\n1 :b\n', /f:3: UID 1 not above/],
      ['3 V1 N5\nx :a\n', /f:2: bad UID/],
      ['3 V1 N5\n2 a\n', /f:2: no " :<file name>"/],
      ['3 V1 N5\n2 :../../etc/passwd\n', /f:2: bad file name/],
      ['3 V1 N5\n1 ' + 'W1 '.repeat(5000) + ':a\n', /f:2: line too long/],
    ];
    for (const [text, want] of cases) assert.throws(() => parseUidlist(text, 'f'), (e: Error) => want.test(e.message) && !e.message.includes('\n'), text.slice(0, 30));
  });

  test('keywords: index to name; bad lines named', () => {
    assert.deepEqual([...parseKeywordsFile('0 $Label1\n1 Work\n', 'k')], [[0, '$Label1'], [1, 'Work']]);
    assert.throws(() => parseKeywordsFile('0 $Label1\nzz\n', 'k'), /^Error: k:2: not "<index> <keyword>"$|k:2:/);
    assert.throws(() => parseKeywordsFile('26 x\n', 'k'), /k:1: index 26/);
    assert.throws(() => parseKeywordsFile('0 a(b\n', 'k'), /k:1: not a valid keyword/);
  });

  test('modified UTF-7 folder names', () => {
    assert.equal(decodeModifiedUtf7('Entw&APw-rfe'), 'Entwürfe');
    assert.equal(decodeModifiedUtf7('A&-B'), 'A&B');
    assert.throws(() => decodeModifiedUtf7('A&AP'), /unterminated/);
  });

  test('subscriptions: version 2 (tab separated levels) and older one-a-line files', () => {
    assert.deepEqual(parseSubscriptions('V\t2\n\nWork\tProjects\nINBOX\n', 's'), ['Work/Projects', 'INBOX']);
    assert.deepEqual(parseSubscriptions('Work\nLists\n', 's'), ['Work', 'Lists']);
    assert.throws(() => parseSubscriptions('V\t2\n\n..\tx\n', 's'), /s:3: bad folder name/);
  });
});

describe('reading a Dovecot Maildir', () => {
  test('Maildir++: folders, nested ones, flags and keywords from file names', () => {
    const src = maildir(path.join(tempDir('dovecot-src-'), 'Maildir'));
    writeFileSync(path.join(src, 'dovecot-uidlist'), '3 V100 N3 G1\n1 :m1\n2 :m2\n');
    writeFileSync(path.join(src, 'dovecot-keywords'), '0 $Label1\n1 Work\n');
    writeFileSync(path.join(src, 'cur', 'm1:2,FSb'), 'Subject: 1\r\n\r\nx\r\n');
    writeFileSync(path.join(src, 'new', 'm2'), 'Subject: 2\r\n\r\nx\r\n');
    writeFileSync(path.join(src, 'cur', 'm3:2,'), 'not listed yet');
    maildir(path.join(src, '.Work.Projects'));
    writeFileSync(path.join(src, '.Work.Projects', 'dovecot-uidlist'), '3 V200 N1 G2\n');
    maildir(path.join(src, '.Entw&APw-rfe'));
    writeFileSync(path.join(src, 'subscriptions'), 'V\t2\n\nWork\tProjects\n');
    const got = readDovecotMaildir(src);
    assert.equal(got.layout, 'maildir++');
    assert.deepEqual(got.folders.map((f) => f.name).sort(), ['Entwürfe', 'INBOX', 'Work/Projects']);
    const inbox = got.folders.find((f) => f.name === 'INBOX')!;
    assert.equal(inbox.uidValidity, 100);
    assert.deepEqual(inbox.messages.map((m) => [m.uid, m.flags]), [[1, ['\\Flagged', '\\Seen', 'Work']], [2, []]]);
    assert.equal(inbox.unlisted, 1);
    assert.deepEqual(got.subscriptions, ['Work/Projects']);
  });

  test('LAYOUT=fs: nested directories', () => {
    const src = maildir(path.join(tempDir('dovecot-fs-'), 'Maildir'));
    maildir(path.join(src, 'Work', 'Projects'));
    writeFileSync(path.join(src, 'Work', 'Projects', 'dovecot-uidlist'), '3 V7 N2 G2\n1 :p1\n');
    writeFileSync(path.join(src, 'Work', 'Projects', 'cur', 'p1:2,S'), 'x');
    const got = readDovecotMaildir(src);
    assert.equal(got.layout, 'fs');
    assert.deepEqual(got.folders.map((f) => f.name).sort(), ['INBOX', 'Work', 'Work/Projects']);
    assert.deepEqual(got.folders.find((f) => f.name === 'Work/Projects')!.messages.map((m) => m.flags), [['\\Seen']]);
  });

  test('a folder symlinked out of SRC, a symlinked message and a ".." level are refused', () => {
    const root = tempDir('dovecot-evil-');
    const outside = maildir(path.join(root, 'outside'));
    const a = maildir(path.join(root, 'a'));
    symlinkSync(outside, path.join(a, '.Evil'));
    assert.throws(() => readDovecotMaildir(a), /\.Evil: a symlink \(refused\)/);
    const b = maildir(path.join(root, 'b'));
    writeFileSync(path.join(b, 'dovecot-uidlist'), '3 V1 N2\n1 :m\n');
    symlinkSync('/etc/passwd', path.join(b, 'cur', 'm:2,S'));
    assert.throws(() => readDovecotMaildir(b), /m:2,S: a symlink \(refused\)/);
    const c = maildir(path.join(root, 'c'));
    maildir(path.join(c, '.x.&AC4ALg-'));
    assert.throws(() => readDovecotMaildir(c), /folder name "\.\." refused/);
    const d = maildir(path.join(root, 'd'));
    maildir(path.join(d, '.A&AC8-B'));
    assert.throws(() => readDovecotMaildir(d), /folder name "A\/B" refused/);
    const e = maildir(path.join(root, 'e'));
    symlinkSync('/etc/passwd', path.join(e, 'dovecot-uidlist'));
    assert.throws(() => readDovecotMaildir(e), /dovecot-uidlist: a symlink \(refused\)/);
  });
});

describe('Dovecot passwd-file', () => {
  test('users, hashes, homes and mail=maildir: locations', () => {
    const users = parsePasswdFile(
      '# comment\nann@example.test:{SHA512-CRYPT}$6$x$y:1000:1000::/home/ann::\nbob@example.test:{PLAIN}pw::::/h/bob::userdb_mail=maildir:~/Mail:LAYOUT=fs\ncid:{PLAIN}x::::::mail=maildir:/srv/mail/%d/%n\n',
      'passwd',
    );
    assert.deepEqual(users.map((u) => [u.user, u.password, u.maildir, u.layout]), [
      ['ann@example.test', '{SHA512-CRYPT}$6$x$y', '/home/ann/Maildir', undefined],
      ['bob@example.test', '{PLAIN}pw', '/h/bob/Mail', 'fs'],
      ['cid', '{PLAIN}x', '/srv/mail//cid', undefined],
    ]);
    assert.throws(() => parsePasswdFile('ok@x:{PLAIN}a::::/h::\nbad user:{PLAIN}b\n', 'pf'), /pf:2: bad user name/);
    assert.throws(() => parsePasswdFile('a@x:{PLAIN}a::::::mail=mbox:~/mail\n', 'pf'), /pf:1: .* not a Maildir/);
  });
});
