// The session over a fake transport and a stub backend: state rules,
// timeouts, STARTTLS hygiene, error hiding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapSession, type ImapTransport } from '../../../src/protocol/imap/session.js';
import type { ImapBackend, MailboxChange, MailboxDelta } from '../../../src/protocol/imap/backend.js';
import { IMAP_LIMITS } from '../../../src/protocol/imap/limits.js';
import { MailError } from '../../../storage/errors.js';

class FakeTransport implements ImapTransport {
  out: Buffer[] = [];
  closed = false;
  secure = false;
  remoteAddress = '192.0.2.1';
  timeouts: number[] = [];
  async write(data: Buffer[]): Promise<void> {
    this.out.push(...data);
  }
  async startTls(): Promise<void> {
    this.secure = true;
  }
  close(): void {
    this.closed = true;
  }
  setIdleTimeout(ms: number): void {
    this.timeouts.push(ms);
  }
  text(): string {
    return Buffer.concat(this.out).toString('latin1');
  }
}

function stubBackend(overrides: Partial<ImapBackend> = {}): ImapBackend {
  return {
    saslMechanisms: ['PLAIN'],
    appendLimit: 1000,
    login: async (user: string, pass: string) => {
      if (pass !== 'secret') throw new MailError('AUTHFAILED', 'authentication failed');
      return { accountId: 1, address: user };
    },
    subscribe: () => () => {},
    listMailboxes: () => {
      throw new Error('database is locked at /srv/secret/path.sqlite');
    },
    ...overrides,
  } as unknown as ImapBackend;
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function open(options: { secure?: boolean; plaintext?: boolean; backend?: ImapBackend; log?: (e: Record<string, unknown>) => void } = {}) {
  const t = new FakeTransport();
  t.secure = options.secure ?? false;
  const s = new ImapSession(t, options.backend ?? stubBackend(), {
    hostname: 'localhost',
    allowPlaintextAuth: options.plaintext ?? false,
    startTlsAvailable: true,
    ...(options.log ? { log: options.log } : {}),
  });
  s.start();
  return { t, s };
}

test('greeting with capabilities; 60 s timeout before login, 30 min after', async () => {
  const { t, s } = open({ secure: true });
  await settle();
  assert.match(t.text(), /^\* OK \[CAPABILITY IMAP4rev1 [^\]]*AUTH=PLAIN[^\]]*\] /);
  assert.deepEqual(t.timeouts, [IMAP_LIMITS.preAuthTimeoutMs]);
  s.onData(Buffer.from('a1 LOGIN u@x.test secret\r\n'));
  await settle();
  assert.match(t.text(), /a1 OK \[CAPABILITY [^\]]*UIDPLUS/);
  assert.equal(t.timeouts.at(-1), IMAP_LIMITS.authTimeoutMs);
  s.onTimeout();
  await settle();
  assert.match(t.text(), /\* BYE Autologout/);
  assert.ok(t.closed);
});

test('STARTTLS: commands pipelined in the clear after it are dropped', async () => {
  const { t, s } = open();
  s.onData(Buffer.from('a1 STARTTLS\r\na2 LOGIN u@x.test secret\r\n'));
  await settle();
  assert.ok(t.secure);
  assert.match(t.text(), /a1 OK/);
  assert.doesNotMatch(t.text(), /a2 /);
  s.onData(Buffer.from('a3 CAPABILITY\r\n'));
  await settle();
  assert.match(t.text(), /\* CAPABILITY [^\r]*AUTH=PLAIN/);
  assert.doesNotMatch(t.text().split('a3')[0]!.split('a1 OK')[1] ?? '', /LOGINDISABLED/);
});

test('state rules: selected-state commands before SELECT are BAD; LOGOUT says BYE and closes', async () => {
  const { t, s } = open({ plaintext: true });
  s.onData(Buffer.from('a1 FETCH 1 FLAGS\r\na2 LIST "" *\r\na3 LOGIN u@x.test wrong\r\na4 LOGOUT\r\n'));
  await settle();
  await new Promise((r) => setTimeout(r, 20));
  const text = t.text();
  assert.match(text, /a1 BAD/);
  assert.match(text, /a2 BAD/);
  assert.match(text, /a3 NO \[AUTHENTICATIONFAILED\]/);
  assert.match(text, /\* BYE [^\r]*\r\na4 OK/);
  assert.ok(t.closed);
});

test('an unexpected error is NO [SERVERBUG] without its text, and is logged', async () => {
  const logged: Array<Record<string, unknown>> = [];
  const { t, s } = open({ secure: true, log: (e) => logged.push(e) });
  s.onData(Buffer.from('a1 LOGIN u@x.test secret\r\na2 LIST "" "*"\r\na3 NOOP\r\n'));
  await settle();
  const text = t.text();
  assert.match(text, /a2 NO \[SERVERBUG\] Internal error/);
  assert.doesNotMatch(text, /locked|secret\/path/);
  assert.match(text, /a3 OK/);
  assert.ok(logged.some((e) => e.event === 'imap-error'));
});

test('before login, literals are small; after login they may reach APPENDLIMIT', async () => {
  const { t, s } = open({ secure: true });
  s.onData(Buffer.from(`a1 LOGIN {${IMAP_LIMITS.maxPreAuthLiteral + 1}}\r\n`));
  await settle();
  assert.match(t.text(), /a1 NO \[TOOBIG\]/);
  s.onData(Buffer.from('a2 LOGIN u@x.test secret\r\na3 ID {500}\r\n'));
  await settle();
  assert.match(t.text(), /a2 OK/);
  assert.match(t.text(), /\+ Ready for literal data\r\n$/);
});

/**
 * A one-mailbox backend whose change reads wait on a gate the test opens:
 * the asynchronous storage a networked backend would be.
 */
function slowMailbox() {
  const uids = [1, 2];
  let modseq = 10;
  let listener: ((c: MailboxChange) => void) | undefined;
  let missed: (() => void) | undefined;
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  let reads = 0;
  const info = { id: 9, accountId: 1, name: 'INBOX', uidValidity: 5, uidNext: 3, highestModseq: 10, specialUse: null, messages: 2, unseen: 0, size: 0 };
  const backend = stubBackend({
    subscribe: (_user, l, m) => {
      listener = l;
      missed = m;
      return () => {};
    },
    findMailbox: async () => info,
    getMailboxById: async () => info,
    selectState: async () => ({ uids: [...uids], firstUnseenUid: undefined, keywords: [], highestModseq: modseq }),
    recentFrom: async (_u, _m, uidNext) => uidNext,
    changesSince: async (_u, _m, since): Promise<MailboxDelta> => {
      reads++;
      const upTo = modseq;
      await gate;
      const changed = uids.filter((u) => 10 + u - 2 > since && 10 + u - 2 <= upTo).map((uid) => ({ uid, modseq: 10 + uid - 2, flags: [] }));
      return { highestModseq: upTo, changed, expunged: [] };
    },
  });
  return {
    backend,
    get reads() {
      return reads;
    },
    /** A new message arrives (modseq 10 + uid - 2) and the feed says so, unless `unheard` (another node's, while the feed's connection was down). */
    arrive(unheard = false): void {
      const uid = uids[uids.length - 1]! + 1;
      uids.push(uid);
      modseq = 10 + uid - 2;
      if (!unheard) listener?.({ kind: 'append', accountId: 1, mailboxId: 9, uid, modseq, flags: [] });
    },
    /** The feed tells its subscribers they may have missed changes (it listens again). */
    tellMissed(): void {
      missed?.();
    },
    hold(): void {
      gate = new Promise((r) => (open = r));
    },
    release(): void {
      open();
    },
  };
}

test('IDLE: DONE while a wake-up still reads the store: the new message is told once, before the tagged OK', async () => {
  const box = slowMailbox();
  const { t, s } = open({ secure: true, backend: box.backend });
  s.onData(Buffer.from('a1 LOGIN u@x.test secret\r\na2 SELECT INBOX\r\na3 IDLE\r\n'));
  await settle();
  assert.match(t.text(), /a2 OK \[READ-WRITE\][^\r]*\r\n\+ idling\r\n$/);
  box.hold();
  box.arrive();
  await settle();
  s.onData(Buffer.from('DONE\r\n'));
  await settle();
  assert.doesNotMatch(t.text(), /a3 OK/, 'the command waits for the wake-up');
  box.release();
  await settle();
  const after = t.text().split('+ idling\r\n')[1]!;
  assert.equal(after, '* 3 EXISTS\r\na3 OK IDLE terminated\r\n');
});

test('pipelined commands answer in order while each one waits for the store', async () => {
  const box = slowMailbox();
  const { t, s } = open({ secure: true, backend: box.backend });
  s.onData(Buffer.from('a1 LOGIN u@x.test secret\r\na2 SELECT INBOX\r\n'));
  await settle();
  box.hold();
  s.onData(Buffer.from('a3 NOOP\r\na4 NOOP\r\n'));
  await settle();
  box.arrive();
  box.release();
  await settle();
  const after = t.text().split('a2 OK')[1]!.replace(/^[^\n]*\n/, '');
  assert.match(after, /^(\* 3 EXISTS\r\n)?a3 OK NOOP completed\r\n(\* 3 EXISTS\r\n)?a4 OK NOOP completed\r\n$/);
  assert.equal((after.match(/EXISTS/g) ?? []).length, 1);
});

test('a session closed while a command waits for the store writes nothing more and does not crash', async () => {
  const box = slowMailbox();
  const { t, s } = open({ secure: true, backend: box.backend });
  s.onData(Buffer.from('a1 LOGIN u@x.test secret\r\na2 SELECT INBOX\r\n'));
  await settle();
  box.hold();
  s.onData(Buffer.from('a3 NOOP\r\n'));
  await settle();
  const before = t.text();
  s.onClose();
  box.arrive();
  box.release();
  await settle();
  assert.equal(t.text(), before);
});

test('IDLE: a change the feed never told shows once the feed says changes may have been missed, with no client command', async () => {
  const box = slowMailbox();
  const { t, s } = open({ secure: true, backend: box.backend });
  s.onData(Buffer.from('a1 LOGIN u@x.test secret\r\na2 SELECT INBOX\r\na3 IDLE\r\n'));
  await settle();
  box.arrive(true);
  await settle();
  assert.match(t.text(), /\+ idling\r\n$/, 'not told: nothing to show');
  box.tellMissed();
  await settle();
  assert.equal(t.text().split('+ idling\r\n')[1], '* 3 EXISTS\r\n');
  s.onData(Buffer.from('DONE\r\n'));
  await settle();
  assert.equal(t.text().split('+ idling\r\n')[1], '* 3 EXISTS\r\na3 OK IDLE terminated\r\n', 'told once');
});

test('outside IDLE, missed changes wait for the next command (no untagged response between commands)', async () => {
  const box = slowMailbox();
  const { t, s } = open({ secure: true, backend: box.backend });
  s.onData(Buffer.from('a1 LOGIN u@x.test secret\r\na2 SELECT INBOX\r\n'));
  await settle();
  const before = t.text();
  box.arrive(true);
  box.tellMissed();
  await settle();
  assert.equal(t.text(), before);
  s.onData(Buffer.from('a3 NOOP\r\n'));
  await settle();
  assert.equal(t.text().slice(before.length), '* 3 EXISTS\r\na3 OK NOOP completed\r\n');
});
