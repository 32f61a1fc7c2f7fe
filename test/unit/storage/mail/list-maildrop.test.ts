// The narrow listing a POP3 login uses (listMaildrop) says the same as the
// full records do (what POP3 used before, and still uses on backends
// without it): \Seen, body name, own UIDL, and whether the MIME index saw
// no bare LF and no line starting with "." (a message stored without an
// index counts as not known).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSqliteParts } from '../../../../storage/index.js';
import { indexMessageJson } from '../../../../mime/index.js';
import { maildropEntry } from '../../../../src/services/pop3-backend.js';
import { scratchDir } from '../../../support/tmp.js';
import { makeMessage } from '../../../support/messages.js';

test('listMaildrop agrees with listMessages: seen, bodyId, own UIDL, CRLF-only, dot-free', async () => {
  const scratch = scratchDir();
  const storage = openSqliteParts(scratch.dir, { indexer: indexMessageJson });
  try {
    storage.directory.addDomain('example.test');
    const accountId = storage.directory.addAccount({ address: 'drop@example.test', passwordHash: 'x', scramSha256: null, quota: null }).id;
    storage.mail.provisionAccount(accountId);
    await storage.mail.append(accountId, 'INBOX', makeMessage('crlf'));
    await storage.mail.append(accountId, 'INBOX', Buffer.from('Subject: bare\n\nline one\nline two\n'), { flags: ['\\Seen'] });
    await storage.mail.append(accountId, 'INBOX', makeMessage('own'), { pop3Uidl: 'imported-uidl-1', flags: ['\\Flagged'] });
    await storage.mail.append(accountId, 'INBOX', Buffer.from('Subject: "bareLf":false in a header\r\n\r\nbody\n'));
    await storage.mail.append(accountId, 'INBOX', Buffer.from('Subject: "dotLines":false in a header\r\n\r\n.a line with a dot\r\n'));
    const inbox = storage.mail.findMailbox(accountId, 'INBOX')!.id;
    const entries = await storage.mail.listMaildrop(inbox);
    assert.deepEqual(entries, storage.mail.listMessages(inbox).map(maildropEntry));
    assert.deepEqual(entries.map((e) => [e.seen, e.crlfOnly, e.dotFree, e.pop3Uidl]), [
      [false, true, true, undefined],
      [true, false, true, undefined],
      [false, true, true, 'imported-uidl-1'],
      [false, false, true, undefined],
      [false, true, false, undefined],
    ]);
    assert.ok(entries.every((e) => e.bodyId && !e.bodyId.includes('/') && !e.bodyId.includes(':')));
  } finally {
    storage.close();
    scratch.cleanup();
  }
});
