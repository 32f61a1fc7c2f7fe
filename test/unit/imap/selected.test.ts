// The session's view of its mailbox and the timing rules of RFC 3501 7.4.1,
// against a small model of the store's MODSEQ log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelectedMailbox, flagsResponses } from '../../../src/protocol/imap/selected.js';
import { compileResponse, type ImapResponse } from '../../../src/protocol/imap/response.js';
import type { MailboxDelta } from '../../../src/protocol/imap/backend.js';

const info = { id: 9, accountId: 1, name: 'INBOX', uidValidity: 77, uidNext: 20, highestModseq: 100, specialUse: null };
/** What a session does after a command: reads the store, then tells. */
async function flushed(s: SelectedMailbox, ...args: Parameters<SelectedMailbox['flush']>): Promise<ImapResponse[]> {
  await s.catchUp();
  return s.flush(...args);
}
const text = (rs: ImapResponse[]) => rs.map((r) => Buffer.concat(compileResponse(r)).toString('latin1')).join('');

/** A mailbox as the store keeps it: messages with their MODSEQ, and the expunge log. */
class Model {
  modseq = 100;
  nextUid: number;
  readonly messages = new Map<number, { modseq: number; flags: string[] }>();
  readonly expunged = new Map<number, number>();
  gone = false;
  constructor(uids: number[]) {
    for (const u of uids) this.messages.set(u, { modseq: 100, flags: [] });
    this.nextUid = Math.max(0, ...uids) + 1;
  }
  append(): number {
    const uid = this.nextUid++;
    this.messages.set(uid, { modseq: ++this.modseq, flags: [] });
    return uid;
  }
  expunge(uid: number): void {
    this.messages.delete(uid);
    this.expunged.set(uid, ++this.modseq);
  }
  flag(uid: number, flags: string[]): number {
    this.messages.set(uid, { modseq: ++this.modseq, flags });
    return this.modseq;
  }
  since = async (m: number): Promise<MailboxDelta | undefined> => {
    if (this.gone) return undefined;
    const changed = [...this.messages].filter(([, r]) => r.modseq > m).map(([uid, r]) => ({ uid, modseq: r.modseq, flags: r.flags }));
    const expunged = [...this.expunged].filter(([, s]) => s > m).map(([uid]) => uid);
    return { highestModseq: this.modseq, changed: changed.sort((a, b) => a.uid - b.uid), expunged: expunged.sort((a, b) => a - b) };
  };
  view(readOnly = false): SelectedMailbox {
    return new SelectedMailbox(info, { uids: [...this.messages.keys()].sort((a, b) => a - b), highestModseq: this.modseq, keywords: [] }, readOnly, this.since);
  }
}

test('seq <-> UID map', async () => {
  const s = new Model([3, 5, 8]).view();
  assert.equal(s.exists, 3);
  assert.equal(s.seqOf(5), 2);
  assert.equal(s.seqOf(4), 0);
  assert.equal(s.uidAt(3), 8);
});

test('expunges wait while numbers must not move; EXISTS and flag changes need not', async () => {
  const m = new Model([3, 5, 8]);
  const s = m.view();
  m.expunge(5);
  const added = m.append();
  m.flag(8, ['\\Seen']);
  assert.equal(text(await flushed(s, false, false)), '* 4 EXISTS\r\n* 3 FETCH (FLAGS (\\Seen))\r\n');
  assert.deepEqual(s.uids, [3, 5, 8, added], 'the expunged message keeps its number for now');
  assert.ok(s.isGone(5));
  assert.equal(text(await flushed(s, true, false)), '* 2 EXPUNGE\r\n');
  assert.deepEqual(s.uids, [3, 8, added]);
  assert.ok(!s.isGone(5));
});

test('several expunges go highest number first; a message that came and went is never shown', async () => {
  const m = new Model([1, 2, 3, 4]);
  const s = m.view();
  const five = m.append();
  m.expunge(2);
  m.expunge(3);
  const six = m.append();
  m.expunge(six);
  assert.equal(text(await flushed(s, true, false)), '* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n* 3 EXISTS\r\n');
  assert.deepEqual(s.uids, [1, 4, five]);
});

test('only the current flags of a message are sent; own STOREs are not echoed', async () => {
  const m = new Model([1, 2]);
  const s = m.view();
  m.flag(1, ['\\Seen']);
  m.flag(1, ['\\Seen', '\\Flagged']);
  const own = m.flag(2, ['\\Deleted']);
  s.markReported(2, own);
  assert.equal(text(await flushed(s, true, true)), '* 1 FETCH (FLAGS (\\Seen \\Flagged) MODSEQ (102))\r\n');
  assert.equal(s.highestModseq, 103);
  assert.equal(text(await flushed(s, true, true)), '', 'nothing twice');
});

test('a flag change to a message waiting to be expunged is not sent', async () => {
  const m = new Model([1, 2]);
  const s = m.view();
  m.flag(1, ['\\Seen']);
  m.expunge(1);
  assert.equal(text(await flushed(s, false, false)), '');
  assert.equal(text(await flushed(s, true, false)), '* 1 EXPUNGE\r\n');
  assert.deepEqual(s.uids, [2]);
});

test('with QRESYNC, expunges are one VANISHED UID set', async () => {
  const m = new Model([1, 2, 3, 4]);
  const s = m.view();
  m.expunge(2);
  m.expunge(3);
  m.append();
  assert.equal(text(await flushed(s, true, true, true)), '* VANISHED 2:3\r\n* 3 EXISTS\r\n');
  assert.deepEqual(s.uids, [1, 4, 5]);
});

test('a gone mailbox changes nothing in the view', async () => {
  const m = new Model([1, 2]);
  const s = m.view();
  m.gone = true;
  assert.equal(text(await flushed(s, true, false)), '');
  assert.deepEqual(s.uids, [1, 2]);
});

test('a random interleaving of changes and flushes keeps the view equal to the store at every expunge-allowed point', async () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const m = new Model([1, 2, 3]);
  const s = m.view();
  /** The client's own picture, updated only from what it is told. */
  const client = [...s.uids];
  const apply = (rs: ImapResponse[]) => {
    for (const line of text(rs).split('\r\n').filter(Boolean)) {
      const e = /^\* (\d+) EXPUNGE$/.exec(line);
      if (e) client.splice(Number(e[1]) - 1, 1);
      const x = /^\* (\d+) EXISTS$/.exec(line);
      if (x) while (client.length < Number(x[1])) client.push(-1);
    }
  };
  for (let i = 0; i < 2000; i++) {
    const r = rand();
    const uids = [...m.messages.keys()];
    if (r < 0.3) m.append();
    else if (r < 0.5 && uids.length > 0) m.expunge(uids[Math.floor(rand() * uids.length)]!);
    else if (r < 0.7 && uids.length > 0) m.flag(uids[Math.floor(rand() * uids.length)]!, ['\\Seen']);
    else {
      const allow = rand() < 0.5;
      apply(await flushed(s, allow, false));
      assert.equal(client.length, s.exists, 'EXISTS and EXPUNGE keep the client count equal to the view');
      for (let k = 0; k < client.length; k++) if (client[k] === -1) client[k] = s.uids[k]!;
      assert.deepEqual(client, s.uids, 'the client numbering is the view');
      if (allow) assert.deepEqual(s.uids, [...m.messages.keys()].sort((a, b) => a - b), 'after an expunge-allowed flush the view is the store');
    }
  }
});

test('search updates (CONTEXT=SEARCH) hear of expunges before EXPUNGE, of new and changed messages after EXISTS and FETCH, never of held-back ones', async () => {
  const m = new Model([3, 5, 8]);
  const s = m.view();
  const heard: string[] = [];
  s.searchUpdates = {
    expunged: (uids) => {
      heard.push(`expunged ${uids.join(',')} while seq ${uids.map((u) => s.seqOf(u)).join(',')}`);
      return [{ type: 'untagged', values: ['ESEARCH', 'REMOVEFROM'] }];
    },
    changed: (uids) => {
      heard.push(`changed ${uids.join(',')}`);
      return [{ type: 'untagged', values: ['ESEARCH', 'ADDTO'] }];
    },
  };
  m.expunge(5);
  const added = m.append();
  m.flag(3, ['\\Seen']);
  // A SEARCH by sequence number: the expunge is held back, so is its update.
  assert.equal(text([...await flushed(s, false, false), ...(await s.searchUpdatesDue())]), `* 4 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\n* ESEARCH ADDTO\r\n`);
  assert.deepEqual(heard, [`changed 3,${added}`]);
  // The held-back message changes: not news to the searches until it is announced as gone.
  m.flag(8, ['\\Flagged']);
  heard.length = 0;
  assert.equal(text([...await flushed(s, true, false), ...(await s.searchUpdatesDue())]), `* ESEARCH REMOVEFROM\r\n* 2 EXPUNGE\r\n* 2 FETCH (FLAGS (\\Flagged))\r\n* ESEARCH ADDTO\r\n`);
  assert.deepEqual(heard, ['expunged 5 while seq 2', 'changed 8']);
  // Nothing changed: nothing to hear.
  heard.length = 0;
  assert.equal(text([...await flushed(s, true, false), ...(await s.searchUpdatesDue())]), '');
  assert.deepEqual(heard, []);
});

test('catch-ups that overlap (an IDLE wake-up and a command end) read one after the other: each change is told once', async () => {
  const m = new Model([1, 2, 3]);
  const slow = async (since: number) => {
    await new Promise((r) => setImmediate(r));
    return m.since(since);
  };
  const s = new SelectedMailbox(info, { uids: [1, 2, 3], highestModseq: m.modseq, keywords: [] }, false, slow);
  const added = m.append();
  m.flag(2, ['\\Seen']);
  const first = s.catchUp();
  const second = s.catchUp();
  m.expunge(1);
  await Promise.all([first, second]);
  assert.equal(text(s.flush(true, false)), '* 1 EXPUNGE\r\n* 3 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\n');
  assert.deepEqual(s.uids, [2, 3, added]);
  await s.catchUp();
  assert.equal(text(s.flush(true, false)), '', 'nothing twice');
});

test('new messages are \\Recent to the session that claims them as it catches up', async () => {
  const m = new Model([1, 2]);
  let claimedBelow = 0;
  const claim = async (uidNext: number) => {
    const first = Math.max(claimedBelow, 3);
    claimedBelow = uidNext;
    return first;
  };
  const s = new SelectedMailbox(info, { uids: [1, 2], highestModseq: m.modseq, keywords: [], firstRecent: 2 }, false, m.since, claim);
  assert.equal(s.recentCount, 1);
  const three = m.append();
  assert.equal(text(await flushed(s, true, false)), '* 3 EXISTS\r\n* 2 RECENT\r\n');
  assert.ok(s.isRecent(three));
});

test('PERMANENTFLAGS offers \\* until the mailbox holds all the keywords it can keep', () => {
  const text = (keywords: string[]) => flagsResponses(keywords, false).map((r) => Buffer.concat(compileResponse(r, { utf8: false })).toString('latin1')).join('');
  assert.match(text(['$a']), /PERMANENTFLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Forwarded \$a \\\*\)/);
  // $Forwarded has its own Maildir letter: listed in every mailbox, also one with no keywords.
  assert.match(text([]), /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Forwarded\)\r\n/);
  const full = Array.from({ length: 26 }, (_, i) => `$k${i}`);
  assert.match(text(full), /PERMANENTFLAGS \([^)]*\$k25\)/);
  assert.doesNotMatch(text(full), /\\\*/);
});
