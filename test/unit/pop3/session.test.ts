// The session's output path: replies to pipelined commands are gathered
// into few writes but stay byte-exact and in order; nothing held back is
// lost before STLS or the end; RETR's \Seen is stored in batches and by QUIT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Session, type Pop3Transport } from '../../../src/protocol/pop3/session.js';
import type { Pop3Backend, Pop3Maildrop, Pop3User } from '../../../src/protocol/pop3/backend.js';

const RAW = [Buffer.from('A: 1\r\n\r\n.dot\r\nbare\nend\r\n'), Buffer.from('B: 2\r\n\r\nbody\r\n'), Buffer.from('C: 3\r\n\r\nx\r\n')];

class FakeTransport implements Pop3Transport {
  readonly remoteAddress = '127.0.0.1';
  secure = false;
  writes: Buffer[][] = [];
  closed = false;
  tlsStartedAfter = -1;
  async write(data: Buffer[]): Promise<void> {
    this.writes.push(data);
  }
  async startTls(): Promise<void> {
    this.tlsStartedAfter = this.writes.length;
    this.secure = true;
  }
  setIdleTimeout(): void {}
  close(): void {
    this.closed = true;
  }
  text(): string {
    return Buffer.concat(this.writes.flat()).toString('latin1');
  }
}

function backend(seenAtLogin: number[] = []): Pop3Backend & { marked: number[][] } {
  const user: Pop3User = { accountId: 1, address: 'a@example.test' };
  const marked: number[][] = [];
  const pending: Array<() => void> = [];
  return {
    marked,
    saslMechanisms: ['PLAIN'],
    login: async () => user,
    startSasl: () => ({ step: async () => ({ kind: 'failure', error: new Error('no') }) }),
    malformed: async () => {},
    lock: () => () => {},
    open: async (): Promise<Pop3Maildrop> => ({
      mailboxId: 1,
      messages: RAW.map((r, i) => ({ uid: i + 10, size: r.length, uidl: `u${i}`, seen: seenAtLogin.includes(i + 10) })),
    }),
    // Asynchronous like the store's reader: the reads asked for in one turn are answered together, later.
    read: (_u, _d, uid) =>
      new Promise<Buffer>((resolve) => {
        if (pending.length === 0) setImmediate(() => pending.splice(0).forEach((answer) => answer()));
        pending.push(() => resolve(RAW[uid - 10]!));
      }),
    markSeen: async (_u, _d, uids) => {
      marked.push(uids);
    },
    remove: async () => {},
  };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function start(b: Pop3Backend, t = new FakeTransport()) {
  const s = new Pop3Session(t, b, { hostname: 'h', allowPlaintextAuth: true, startTlsAvailable: true });
  s.start();
  return { s, t };
}

test('pipelined RETRs, DELE and STAT: byte-exact replies in order, gathered into fewer writes', async () => {
  const b = backend();
  const { s, t } = start(b);
  s.onData(Buffer.from('USER a\r\nPASS b\r\n'));
  await settle();
  const before = t.writes.length;
  s.onData(Buffer.from('RETR 1\r\nRETR 2\r\nRETR 3\r\nDELE 2\r\nSTAT\r\nRETR 2\r\nQUIT\r\n'));
  await settle();
  const out = t.text();
  const expected =
    `+OK ${RAW[0]!.length} octets\r\nA: 1\r\n\r\n..dot\r\nbare\r\nend\r\n.\r\n` +
    `+OK ${RAW[1]!.length} octets\r\nB: 2\r\n\r\nbody\r\n.\r\n` +
    `+OK ${RAW[2]!.length} octets\r\nC: 3\r\n\r\nx\r\n.\r\n` +
    '+OK Message 2 deleted\r\n' +
    `+OK 2 ${RAW[0]!.length + RAW[2]!.length}\r\n` +
    '-ERR Message is deleted\r\n' +
    '+OK Logging out, 1 messages deleted\r\n';
  assert.ok(out.endsWith(expected), out);
  // Seven replies: those up to STAT in one write (the reads were done together), QUIT's after the flags are stored.
  assert.ok(t.writes.length - before <= 2, `${t.writes.length - before} writes`);
  assert.ok(t.closed);
  assert.deepEqual(b.marked, [[10, 11, 12]], 'the \\Seen flags are stored by QUIT');
});

test('without QUIT, the \\Seen flags of RETR are stored together a moment later (SEEN_DELAY_MS)', async () => {
  const b = backend();
  const { s } = start(b);
  s.onData(Buffer.from('USER a\r\nPASS b\r\nRETR 1\r\nRETR 3\r\n'));
  await settle();
  for (let i = 0; i < 200 && b.marked.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(b.marked, [[10, 12]]);
  s.onClose();
  await settle();
  assert.deepEqual(b.marked, [[10, 12]], 'nothing stored twice');
});

test('mail \\Seen at login gets no flag store', async () => {
  const b = backend([10, 11]);
  const { s } = start(b);
  s.onData(Buffer.from('USER a\r\nPASS b\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nQUIT\r\n'));
  await settle();
  assert.deepEqual(b.marked, [[12]]);
});

test('the STLS go-ahead is sent before TLS starts, and pipelined clear text after it is dropped', async () => {
  const { s, t } = start(backend());
  s.onData(Buffer.from('CAPA\r\nSTLS\r\nUSER injected\r\n'));
  await settle();
  assert.ok(t.tlsStartedAfter > 0);
  const sent = Buffer.concat(t.writes.slice(0, t.tlsStartedAfter).flat()).toString('latin1');
  assert.ok(sent.endsWith('+OK Begin TLS negotiation\r\n'), sent);
  assert.equal(t.writes.length, t.tlsStartedAfter, 'nothing answered for the injected line');
});

test('a connection dropped with replies held back stores the \\Seen flags and ends quietly', async () => {
  const b = backend();
  const { s, t } = start(b);
  s.onData(Buffer.from('USER a\r\nPASS b\r\n'));
  await settle();
  s.onData(Buffer.from('RETR 1\r\nRETR 2\r\n'));
  s.onClose();
  await settle();
  assert.equal(t.closed, false);
  assert.ok(b.marked.flat().length <= 2);
});

test('read-ahead: odd and hostile RETR lines are not read for, and every lent message is given back', async () => {
  const asked: number[] = [];
  let lent = 0;
  let released = 0;
  const b: Pop3Backend = {
    ...backend(),
    readManyLent: async (_u, _d, uids) => {
      asked.push(...uids);
      return uids.map((uid) => {
        lent++;
        let back = false;
        return {
          bytes: RAW[uid - 10]!,
          release() {
            if (!back) released++;
            back = true;
          },
        };
      });
    },
  };
  const { s, t } = start(b);
  s.onData(Buffer.from('USER a\r\nPASS b\r\n'));
  await settle();
  const before = t.text().length;
  // Upper and lower case, a leading zero, 11 digits, a trailing space, and a near-limit line of digits.
  s.onData(Buffer.from(`RETR 3\r\nretr 3\r\nRETR 03\r\nRETR 10000000000\r\nRETR 3 \r\nRETR ${'9'.repeat(240)}\r\nQUIT\r\n`));
  await settle();
  const replies = t
    .text()
    .slice(before)
    .split(/\r\n(?=[+-])/)
    .map((r) => r.slice(0, 3));
  assert.deepEqual(replies, ['+OK', '+OK', '-ER', '-ER', '-ER', '-ER', '+OK']);
  assert.ok(t.text().slice(before).startsWith(`+OK ${RAW[2]!.length} octets\r\nC: 3\r\n\r\nx\r\n.\r\n+OK ${RAW[2]!.length} octets\r\n`));
  // Only message 3 (uid 12) was wanted from the lines; read once, and given back.
  assert.deepEqual(asked, [12]);
  assert.equal(released, lent);
});

test('RETR sends a message the index says has no line starting with "." as stored, and still stuffs one that has', async () => {
  const plain = Buffer.from('D: 1\r\n\r\nplain. text\r\nend.\r\n');
  const dotted = Buffer.from('.E: 2\r\n\r\n.dot\r\n..two\r\n');
  const stored = [plain, dotted];
  const b: Pop3Backend = {
    ...backend(),
    open: async (): Promise<Pop3Maildrop> => ({
      mailboxId: 1,
      messages: [
        { uid: 1, size: plain.length, uidl: 'p', seen: true, crlf: true, dotFree: true },
        { uid: 2, size: dotted.length, uidl: 'd', seen: true, crlf: true, dotFree: false },
      ],
    }),
    read: async (_u, _d, uid) => stored[uid - 1]!,
  };
  const { s, t } = start(b);
  s.onData(Buffer.from('USER a\r\nPASS b\r\n'));
  await settle();
  const before = t.text().length;
  s.onData(Buffer.from('RETR 1\r\nRETR 2\r\nQUIT\r\n'));
  await settle();
  assert.equal(
    t.text().slice(before),
    `+OK ${plain.length} octets\r\nD: 1\r\n\r\nplain. text\r\nend.\r\n.\r\n` +
      `+OK ${dotted.length} octets\r\n..E: 2\r\n\r\n..dot\r\n...two\r\n.\r\n` +
      '+OK Logging out, 0 messages deleted\r\n',
  );
});
