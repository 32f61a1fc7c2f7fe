// CONTEXT=SEARCH (RFC 5267) and the SEARCH PARTIAL return option against a
// scratch Dovecot 2.3: updated searches (ADDTO / REMOVEFROM as messages
// arrive, change flags and are expunged, in the order Dovecot sends them),
// CANCELUPDATE, and PARTIAL pages (with SAVE). Where Dovecot 2.3 predates
// RFC 9394 (it has RFC 5267's PARTIAL only: negative ranges and the UID
// FETCH PARTIAL modifier get BAD) Postino follows RFC 9394; those cases are
// checked in test/integration/imap-partial-context.test.ts instead.
// Dovecot must be installed (dovecot-imapd): its absence is a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differentialPeers, runScenario, type Scenario, type Step } from '../support/imap-differential.js';

const { compare, endpoints } = differentialPeers();

const msg = (subject: string): string => `From: a@example.test\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`;
const append = (box: string, subject: string, s = 0): Step => ({ s, cmd: `APPEND ${box}`, literal: msg(subject), quiet: true });
/** What the updates are seen by: ESEARCH lines, and where they fall among EXPUNGE and EXISTS. */
const UPDATES = [/^\* ESEARCH /, /^\* \d+ (EXPUNGE|EXISTS)$/];

test('CAPABILITY: both announce CONTEXT=SEARCH and ESEARCH', async () => {
  const sc: Scenario = { name: 'capability', steps: [{ cmd: 'CAPABILITY', pick: [/^\* CAPABILITY /] }] };
  for (const ep of endpoints()) {
    const [line] = await runScenario(ep, sc);
    for (const cap of ['CONTEXT=SEARCH', 'ESEARCH']) assert.ok(line!.split(/[ |]/).includes(cap), `${cap} in ${line}`);
  }
});

test('RETURN (UPDATE): ADDTO for new and newly matching messages, REMOVEFROM for expunged and no longer matching ones', async () => {
  const ours = await compare({
    name: 'updates',
    sessions: 2,
    steps: [
      { cmd: 'CREATE Ctx', quiet: true },
      append('Ctx', 'one'),
      append('Ctx', 'two'),
      append('Ctx', 'three'),
      { cmd: 'SELECT Ctx', quiet: true },
      // UPDATE alone returns no result data; with ALL, COUNT or MIN they come as usual.
      { cmd: 'UID SEARCH RETURN (UPDATE) UNSEEN' },
      { cmd: 'SEARCH RETURN (UPDATE COUNT) SEEN' },
      { cmd: 'UID SEARCH RETURN (UPDATE ALL) SUBJECT t' },
      { cmd: 'SEARCH RETURN (MIN UPDATE) ALL' },
      { s: 1, cmd: 'SELECT Ctx', quiet: true },
      { s: 1, cmd: 'STORE 1 +FLAGS (\\Seen)', quiet: true },
      { cmd: 'NOOP', pick: UPDATES },
      { s: 1, cmd: 'STORE 2 +FLAGS (\\Deleted)', quiet: true },
      { s: 1, cmd: 'EXPUNGE', quiet: true },
      { cmd: 'NOOP', pick: UPDATES },
      append('Ctx', 'four', 1),
      append('Ctx', 'five', 1),
      { s: 1, cmd: 'STORE 3 +FLAGS (\\Seen)', quiet: true },
      { s: 1, cmd: 'STORE 1 -FLAGS (\\Seen)', quiet: true },
      { cmd: 'NOOP', pick: UPDATES },
      // The session's own STORE, and a FETCH that sets \Seen, update its searches at once.
      { cmd: 'STORE 2 +FLAGS (\\Seen)', pick: UPDATES },
      { cmd: 'FETCH 1 BODY[]', pick: UPDATES },
      { cmd: 'UID SEARCH RETURN (UPDATE) ALL' },
      // An unknown tag among them: NO, and none ends.
      { cmd: 'CANCELUPDATE "t6" "t9"' },
      { cmd: 'CANCELUPDATE "t9"' },
      { cmd: 'CANCELUPDATE "t9"' },
      { cmd: 'CANCELUPDATE t8' },
      append('Ctx', 'six', 1),
      { cmd: 'NOOP', pick: UPDATES },
      // Selecting another mailbox ends them all.
      { cmd: 'SELECT INBOX', quiet: true },
      { cmd: 'CANCELUPDATE "t8"' },
      { cmd: 'EXAMINE Ctx', quiet: true },
      { cmd: 'SEARCH RETURN (UPDATE) ALL' },
      { cmd: 'UID SEARCH RETURN (UPDATE SAVE) ALL' },
      append('Ctx', 'seven', 1),
      { cmd: 'NOOP', pick: UPDATES },
      { cmd: 'UNSELECT', quiet: true },
      { cmd: 'DELETE Ctx', quiet: true },
    ],
  });
  // Not vacuous: the answers the two agree on hold the updates themselves.
  const all = ours.join('\n');
  assert.match(all, /NOOP => \* ESEARCH \(TAG "t7"\) UID REMOVEFROM \(0 1\) \| \* ESEARCH \(TAG "t8"\) ADDTO \(0 1\) \|\| T OK/);
  assert.match(all, /NOOP => \* ESEARCH \(TAG "t7"\) UID REMOVEFROM \(0 2\) \| \* ESEARCH \(TAG "t9"\) UID REMOVEFROM \(0 2\) \| \* ESEARCH \(TAG "t10"\) REMOVEFROM \(0 2\) \| \* 2 EXPUNGE/);
  assert.match(all, /\* ESEARCH \(TAG "t8"\) REMOVEFROM \(0 1\) ADDTO \(0 3\)/);
});

test('updates during IDLE come at once, after EXISTS', async () => {
  // runScenario has no IDLE step: the comparison is of what a NOOP after a second session's APPEND shows; IDLE itself is in the integration test.
  await compare({
    name: 'idle-free arrival',
    sessions: 2,
    steps: [
      { cmd: 'CREATE Ctx2', quiet: true },
      append('Ctx2', 'alpha'),
      { cmd: 'SELECT Ctx2', quiet: true },
      { cmd: 'SEARCH RETURN (UPDATE ALL) SUBJECT beta' },
      append('Ctx2', 'beta', 1),
      append('Ctx2', 'gamma', 1),
      append('Ctx2', 'beta two', 1),
      { cmd: 'NOOP', pick: UPDATES },
      { cmd: 'UNSELECT', quiet: true },
      { cmd: 'DELETE Ctx2', quiet: true },
    ],
  });
});

test('SEARCH RETURN (PARTIAL m:n): pages, NIL past the end, reversed ends, with MIN and COUNT, BAD with ALL or twice', async () => {
  await compare({
    name: 'partial',
    steps: [
      { cmd: 'CREATE Part', quiet: true },
      ...['a1', 'b2', 'a3', 'b4', 'a5'].map((s) => append('Part', s)),
      { cmd: 'SELECT Part', quiet: true },
      { cmd: 'SEARCH RETURN (PARTIAL 1:2) ALL' },
      { cmd: 'UID SEARCH RETURN (PARTIAL 2:4) ALL' },
      { cmd: 'SEARCH RETURN (PARTIAL 4:1) SUBJECT a' },
      { cmd: 'SEARCH RETURN (PARTIAL 5:9) SUBJECT a' },
      { cmd: 'SEARCH RETURN (PARTIAL 2:3 COUNT MIN) ALL' },
      { cmd: 'SEARCH RETURN (PARTIAL 1:2 ALL) ALL' },
      { cmd: 'SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL' },
      { cmd: 'SEARCH RETURN (PARTIAL 0:2) ALL' },
      { cmd: 'SEARCH RETURN (PARTIAL 1:*) ALL' },
      { cmd: 'SEARCH RETURN (PARTIAL) ALL' },
      { cmd: 'UID SEARCH RETURN (UPDATE PARTIAL 1:1) ALL' },
      // "$" holds the page (and MIN/MAX beside it), as RFC 9394 3.2 says and Dovecot does.
      { cmd: 'UID SEARCH RETURN (SAVE PARTIAL 2:3) ALL' },
      { cmd: 'UID SEARCH UID $' },
      { cmd: 'UID SEARCH RETURN (SAVE MIN PARTIAL 4:4) SUBJECT a' },
      { cmd: 'UID SEARCH UID $' },
      { cmd: 'SEARCH RETURN (PARTIAL 1:4294967296) ALL' },
      { cmd: 'SEARCH RETURN (UPDATE UPDATE) ALL' },
      { cmd: 'UNSELECT', quiet: true },
      { cmd: 'DELETE Part', quiet: true },
    ],
  });
});
