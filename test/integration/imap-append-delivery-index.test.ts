// One message model for both ways in: the same bytes delivered over SMTP
// (parsed at the end of DATA) and appended over IMAP (parsed by APPEND and
// indexed from that parse) give the same BODYSTRUCTURE, ENVELOPE and search
// answers. The delivered copy carries our trace fields on top, which none of
// those look at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';
import { RawImap } from './imap-raw-client.js';

const PASSWORD = 'tangerine-otter-42';

/** Multipart with QP latin-1 text, HTML, an encoded-word subject, a base64 attachment and an attached message. */
const MESSAGE = [
  'From: =?UTF-8?Q?J=C3=BCrgen?= <jurgen@remote.test>',
  'To: Dave <dave@example.test>, other@example.test',
  'Cc: "List" <list@remote.test>',
  'Subject: =?ISO-8859-1?Q?R=E9sum=E9?= of the week',
  'Date: Tue, 3 Dec 2024 10:20:30 +0100',
  'Message-ID: <same-bytes-1@remote.test>',
  'In-Reply-To: <earlier@remote.test>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'preamble',
  '--outer',
  'Content-Type: multipart/alternative; boundary="alt"',
  '',
  '--alt',
  'Content-Type: text/plain; charset=iso-8859-1',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Caf=E9 au lait, needle-plain, a soft=',
  ' break',
  '--alt',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>needle&nbsp;html <b>bold</b></p>',
  '--alt--',
  '--outer',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  'AAECAwQFBgcICQ==',
  '--outer',
  'Content-Type: message/rfc822',
  '',
  'From: inner@remote.test',
  'Subject: inner subject',
  '',
  'inner body needle-inner',
  '--outer--',
  '',
].join('\r\n');

/** Search keys, each with its string (sent as a literal: some are not ASCII). */
const SEARCHES: Array<[string, string]> = [
  ['SUBJECT', 'résumé'],
  ['SUBJECT', 'week'],
  ['FROM', 'jürgen'],
  ['TO', 'dave@example.test'],
  ['CC', 'list'],
  ['BODY', 'needle-plain'],
  ['BODY', 'café au lait'],
  // HTML is searched as it is, tags and entities too (as Dovecot without full-text search).
  ['BODY', 'needle&nbsp;html <b>bold'],
  ['BODY', 'needle-inner'],
  ['TEXT', 'inner subject'],
  ['BODY', 'AAECAwQF'],
  ['HEADER Message-ID', 'same-bytes-1'],
  ['SUBJECT', 'nowhere'],
];

test('the same bytes delivered over SMTP and appended over IMAP are indexed alike', { timeout: 120_000 }, async () => {
  const s = scratchDir();
  const env = Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0']));
  writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', smtp: { greetDelayMs: 0 }, dns: { servers: ['127.0.0.1:9'] } }));
  assert.equal(postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'dave@example.test', '--password-stdin'], `${PASSWORD}\n`).code, 0);
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], env);
  let imap: RawImap | undefined;
  try {
    const smtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
    const imapsPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: 'jurgen@remote.test', to: ['dave@example.test'] }, raw: MESSAGE });
    transport.close();

    imap = await RawImap.connect(imapsPort, true);
    assert.match(await imap.cmd(`LOGIN dave@example.test ${PASSWORD}`, 30_000), / OK /);
    assert.match(await imap.cmd('CREATE Appended'), / OK /);
    const tag = imap.nextTag();
    imap.write(`${tag} APPEND Appended {${Buffer.byteLength(MESSAGE)}+}\r\n`);
    imap.write(Buffer.from(MESSAGE));
    imap.write('\r\n');
    assert.match(await imap.waitFor(new RegExp(`${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`), 10_000), new RegExp(`${tag} OK`));

    const look = async (mailbox: string) => {
      assert.match(await imap!.cmd(`EXAMINE ${mailbox}`), / OK /);
      const fetched = await imap!.cmd('FETCH 1 (BODYSTRUCTURE ENVELOPE BODY.PEEK[TEXT])');
      const searched: string[] = [];
      for (const [key, value] of SEARCHES) {
        const answer = await imap!.cmd(`SEARCH CHARSET UTF-8 ${key} {${Buffer.byteLength(value)}+}\r\n${value}`);
        searched.push(`${key} ${value} ->${/^\* SEARCH([^\r]*)/m.exec(answer)?.[1]}`);
      }
      for (const key of ['SENTON 3-Dec-2024', 'LARGER 100', 'SMALLER 100']) {
        searched.push(`${key} ->${/^\* SEARCH([^\r]*)/m.exec(await imap!.cmd(`SEARCH ${key}`))?.[1]}`);
      }
      return { fetched: fetched.replace(/\r\n\S+ OK[^\r]*\r\n$/, ''), searched };
    };
    const delivered = await look('INBOX');
    const appended = await look('Appended');
    assert.match(delivered.fetched, /BODYSTRUCTURE \(\(\(/, 'the delivery arrived with its structure');
    assert.equal(appended.fetched, delivered.fetched);
    assert.deepEqual(appended.searched, delivered.searched);
    // And the searches did look at something.
    assert.ok(delivered.searched.filter((l) => l.endsWith('-> 1')).length >= 13, delivered.searched.join('\n'));
  } finally {
    imap?.close();
    assert.equal(await served.stop(), 0);
    s.cleanup();
  }
});
