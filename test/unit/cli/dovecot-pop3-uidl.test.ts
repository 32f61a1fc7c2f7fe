// POP3 UIDLs from a Dovecot Maildir: pop3_uidl_format expanded as Dovecot
// 2.3 does it (goldens taken from a real Dovecot POP3 server's UIDL replies),
// refused forms (%m, long names, unknown modifiers) with one line, the
// uidlist's P and G fields parsed strictly and linearly, hostile lines named
// by file and line, and the reader choosing P over the format.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_POP3_UIDL_FORMAT, parsePop3UidlFormat } from '../../../src/cli/dovecot/pop3-uidl-format.js';
import { parseUidlist } from '../../../src/cli/dovecot/uidlist.js';
import { readDovecotMaildir } from '../../../src/cli/dovecot/maildir-source.js';
import { scratchDir } from '../../support/tmp.js';
import { fast, MB } from '../../support/hostile.js';

const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

describe('pop3_uidl_format', () => {
  test("the default is Dovecot's: UID and UIDVALIDITY, 8 hex digits each, lower case as Dovecot 2.3 prints them", () => {
    const f = parsePop3UidlFormat(DEFAULT_POP3_UIDL_FORMAT);
    // Dovecot 2.3.19: "1 000000016b159fc8" for UIDVALIDITY 1796579272.
    assert.equal(f.expand({ uid: 1, uidValidity: 1796579272, guid: 'g', filename: 'f' }), '000000016b159fc8');
    assert.equal(f.expand({ uid: 0xffffffff, uidValidity: 1, guid: 'g', filename: 'f' }), 'ffffffff00000001');
  });

  test('every key, modifier, offset and width form, as a real Dovecot expanded them', () => {
    const filename = '1796579276.M259823P4302.vm,S=18,W=21';
    const f = parsePop3UidlFormat('%v.%u.%g.%f.%Xu.%08Xv.%Lg.%Ug.%3.4f');
    assert.equal(
      f.expand({ uid: 1, uidValidity: 1796579276, guid: filename, filename }),
      '1796579276.1.1796579276.M259823P4302.vm,S=18,W=21.1796579276.M259823P4302.vm,S=18,W=21.1.6b159fcc.1796579276.m259823p4302.vm,s=18,w=21.1796579276.M259823P4302.VM,S=18,W=21.6579',
    );
    const file2 = '1796580311.M429668P1469.vm,S=18,W=21';
    const g = parsePop3UidlFormat('%-4.f_%.-3f_%-5u_%%_%2.0Xv_%UXu_%05u_%.3g');
    assert.equal(g.expand({ uid: 1, uidValidity: 1796580311, guid: file2, filename: file2 }), 'W=21_1796580311.M429668P1469.vm,S=18,W_1_%_15a3d7_1_00001_179');
    // %g is the uidlist's G when the line has one.
    assert.equal(parsePop3UidlFormat('%g').expand({ uid: 1, uidValidity: 1, guid: 'b5a59c19', filename: 'x' }), 'b5a59c19');
    // X of something that is not a number is 0 (Dovecot's str_to_ullong failing).
    assert.equal(parsePop3UidlFormat('%Xg').expand({ uid: 1, uidValidity: 1, guid: 'abc', filename: 'x' }), '0');
  });

  test('forms it cannot reproduce exactly are refused with one line', () => {
    const cases: Array<[string, RegExp]> = [
      ['%m', /%m \(an MD5 of the headers\) is not supported/],
      ['%08Xu%m', /%m/],
      ['%{uid}', /long variable names/],
      ['%Hu', /modifier %H is not supported/],
      ['%q', /unknown variable %q/],
      ['abc%', /ends inside a variable/],
      ['%u %v', /printable ASCII without spaces/],
      ['', /empty/],
      ['%u'.repeat(200), /longer than 256/],
      ['%99999u', /above 1000/],
    ];
    for (const [template, want] of cases) {
      assert.throws(() => parsePop3UidlFormat(template), (e: Error) => want.test(e.message) && !e.message.includes('\n') && e.message.startsWith('--pop3-uidl-format'), template);
    }
  });
});

describe('dovecot-uidlist P and G fields', () => {
  test('P and G are read; a quote is a printable character like any other and is kept as it is', () => {
    const u = parseUidlist('3 V5 N9 G1\n1 P000000010000000 GAbC :m1\n2 P"quoted" :m2\n3 :m3\n', 'u');
    assert.deepEqual(u.entries.map((e) => [e.uid, e.pop3Uidl, e.guid, e.line]), [
      [1, '000000010000000', 'AbC', 2],
      [2, '"quoted"', undefined, 3],
      [3, undefined, undefined, 4],
    ]);
  });

  test('malformed P or G fields and hostile lines stop with one line naming the file and the line, in bounded time', () => {
    const cases: Array<[string, RegExp]> = [
      ['3 V5 N9\n1 P"two words" :m\n', /^u:2: bad extension field$/],
      ['3 V5 N9\n1 :a\n2 P :m\n', /^u:3: bad POP3 UIDL \(P field\): empty$/],
      ['3 V5 N9\n1 P' + 'x'.repeat(600) + ' :m\n', /^u:2: bad POP3 UIDL \(P field\): longer than 512/],
      ['3 V5 N9\n1 Pcaf\u00e9 :m\n', /^u:2: bad POP3 UIDL \(P field\): not printable ASCII/],
      ['3 V5 N9\n1 Pa\x01b :m\n', /^u:2: bad POP3 UIDL/],
      ['3 V5 N9\n1 G :m\n', /^u:2: bad GUID \(G field\)$/],
      ['3 V5 N9\n1 P' + 'y'.repeat(MB) + ' :m\n', /^u:2: line too long$/],
      ['3 V5 N9\n1 ' + 'P" '.repeat(MB / 3) + ':m\n', /^u:2: line too long$/],
    ];
    for (const [text, want] of cases) {
      assert.throws(
        () => fast(`uidlist ${text.slice(0, 20)}`, () => parseUidlist(text, 'u')),
        (e: Error) => want.test(e.message),
        text.slice(0, 40),
      );
    }
    // Many long-but-legal lines: still linear.
    const many = '3 V5 N9\n' + Array.from({ length: 20000 }, (_, i) => `${i + 1} P${'z'.repeat(400)} G${i} :m${i}`).join('\n') + '\n';
    assert.equal(fast('20000 lines', () => parseUidlist(many, 'u')).entries.length, 20000);
  });

  test("the reader: a saved P wins; messages without one get the format's UIDL (G or the file name as %g)", () => {
    const s = scratchDir('dovecot-uidl-');
    cleanups.push(s.cleanup);
    const src = path.join(s.dir, 'Maildir');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(src, sub), { recursive: true });
    writeFileSync(path.join(src, 'dovecot-uidlist'), '3 V1796579272 N4 Gx\n1 Psaved-one :m1,S=5\n2 Gfeed :m2,S=5\n3 :m3,S=5\n');
    writeFileSync(path.join(src, 'cur', 'm1,S=5:2,S'), 'x\r\n\r\n');
    writeFileSync(path.join(src, 'cur', 'm2,S=5:2,'), 'x\r\n\r\n');
    writeFileSync(path.join(src, 'new', 'm3,S=5'), 'x\r\n\r\n');
    const plain = readDovecotMaildir(src).folders[0]!;
    assert.deepEqual(plain.messages.map((m) => m.pop3Uidl), ['saved-one', '000000026b159fc8', '000000036b159fc8']);
    assert.equal(plain.savedUidls, 1);
    const guid = readDovecotMaildir(src, 'auto', parsePop3UidlFormat('%u-%g')).folders[0]!;
    assert.deepEqual(guid.messages.map((m) => m.pop3Uidl), ['saved-one', '2-feed', '3-m3,S=5']);
  });
});
