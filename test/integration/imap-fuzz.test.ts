// 10,000 random and mutated command lines (with literals) through IMAP
// sessions over the real store backend: the server never crashes, never
// hits an unexpected error, answers every command, and other sessions
// (over TCP) keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapSession, type ImapTransport } from '../../src/protocol/imap/session.js';
import { StoreImapBackend } from '../../src/services/imap-backend.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { startImapHarness, USER, PASSWORD } from './imap-harness.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { prng } from '../support/prng.js';


const SEEDS = [
  'NOOP',
  'CAPABILITY',
  'LIST "" "*"',
  'LIST (SPECIAL-USE) "" "%" RETURN (STATUS (MESSAGES UNSEEN))',
  'LSUB "" "*"',
  'SELECT INBOX',
  'EXAMINE INBOX',
  'SELECT INBOX (CONDSTORE)',
  'FETCH 1:* (FLAGS UID BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])',
  'UID FETCH 1:* (BODYSTRUCTURE ENVELOPE RFC822.SIZE INTERNALDATE)',
  'FETCH 1 (BODY[1.MIME] BODY[TEXT]<0.10> BODY[2])',
  'FETCH 1:3 (FLAGS) (CHANGEDSINCE 1)',
  'SEARCH OR SEEN UNSEEN',
  'UID SEARCH RETURN (MIN MAX COUNT) BODY hello',
  'SEARCH CHARSET UTF-8 SUBJECT "x" SINCE 1-Jan-2020 NOT DELETED',
  'STORE 1 +FLAGS (\\Seen $Fuzz)',
  'UID STORE 1:* (UNCHANGEDSINCE 5) -FLAGS.SILENT (\\Flagged)',
  'COPY 1 Archive',
  'UID MOVE 2 Trash',
  'STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ)',
  'CREATE fuzz/a',
  'RENAME fuzz/a fuzz/b',
  'DELETE fuzz/b',
  'SUBSCRIBE Archive',
  'EXPUNGE',
  'UID EXPUNGE 1:5',
  'CHECK',
  'CLOSE',
  'UNSELECT',
  'NAMESPACE',
  'ID ("name" "fuzzer")',
  'ENABLE CONDSTORE UTF8=ACCEPT',
  'GETQUOTAROOT INBOX',
  'NOTIFY SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge)) (subtree (Archive "fuzz") (MessageNew MessageExpunge FlagChange)) (personal (MailboxName SubscriptionChange))',
  'NOTIFY NONE',
  'IDLE',
  'AUTHENTICATE PLAIN',
  'LOGIN a b',
];

const SPECIALS = ['(', ')', '{', '}', '"', '\\', '*', '%', '[', ']', '<', '>', ' ', '\0', '\r', '~', '+', '.', ':', ',', '5', '0', '9999999999999999999'];

function mutate(line: string, r: () => number): string {
  let s = line;
  const ops = 1 + Math.floor(r() * 3);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0:
        s = s.slice(0, at) + SPECIALS[Math.floor(r() * SPECIALS.length)] + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 5));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(at + 1);
        break;
      case 3:
        s = s.slice(0, at) + s.slice(Math.max(0, at - 8), at) + s.slice(at);
        break;
      case 4:
        s = s.slice(0, at);
        break;
      default:
        s = s.slice(0, at) + ' (((' + s.slice(at);
    }
  }
  return s;
}

function garbage(r: () => number): string {
  const n = Math.floor(r() * 80);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * 128));
  return s.replace(/\n/g, ' ');
}

class FakeTransport implements ImapTransport {
  out: Buffer[] = [];
  closed = false;
  secure = true;
  remoteAddress = '198.51.100.7';
  onWrite: (() => void) | undefined;
  async write(data: Buffer[]): Promise<void> {
    this.out.push(...data);
    this.onWrite?.();
  }
  async startTls(): Promise<void> {
    throw new Error('no TLS in the fuzz transport');
  }
  close(): void {
    this.closed = true;
    this.onWrite?.();
  }
  setIdleTimeout(): void {}
  text(): string {
    return Buffer.concat(this.out).toString('latin1');
  }
}

test('fuzz: 10,000 random and mutated commands never crash the server or leak errors', { timeout: 300_000 }, async (t) => {
  const h = await startImapHarness({ messageSize: 64 * 1024 });
  const unexpected: unknown[] = [];
  const onUnhandled = (err: unknown) => unexpected.push(err);
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
  try {
    for (let i = 0; i < 5; i++) {
      await h.storage.mail.append(h.accountId, 'INBOX', Buffer.from(`From: x@y.test\r\nSubject: seed ${i}\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhello ${i}\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--b--\r\n`));
    }
    const backend = new StoreImapBackend({ mail: h.storage.ports.mail }, new Authenticator(h.storage.ports.directory), 64 * 1024);
    const account = h.storage.directory.getAccount(USER)!;
    const seed = Number(process.env['POSTINO_FUZZ_SEED'] ?? 12345);
    const r = prng(seed);
    const internalErrors: unknown[] = [];
    let transport!: FakeTransport;
    let session!: ImapSession;
    let sessions = 0;
    const open = () => {
      transport = new FakeTransport();
      session = new ImapSession(transport, backend, {
        hostname: 'localhost',
        allowPlaintextAuth: false,
        startTlsAvailable: false,
        log: (e) => {
          if (e.event === 'imap-error' || e.event === 'imap-session-error') internalErrors.push(e);
        },
      });
      session.start();
      // Most sessions start logged in (no scrypt per reconnect); some stay out.
      if (r() < 0.85) session.setUser({ accountId: account.id, address: account.address });
      sessions++;
    };
    open();
    let answered = 0;
    const tally = { OK: 0, NO: 0, BAD: 0 };
    for (let i = 0; i < 10_000; i++) {
      if (transport.closed) {
        session.onClose();
        open();
      }
      const tag = `f${i}`;
      const kind = r();
      let line: string;
      if (kind < 0.15) line = garbage(r);
      else {
        const base = `${tag} ${SEEDS[Math.floor(r() * SEEDS.length)]}`;
        line = kind < 0.35 ? base : mutate(base, r);
      }
      let payload = Buffer.from(line + '\r\n', 'latin1');
      // A line that ends in a literal marker gets its literal (random bytes) right away.
      const lit = /\{(\d{1,5})\+?\}$/.exec(line);
      if (lit && Number(lit[1]) <= 70_000) {
        const body = Buffer.alloc(Number(lit[1]));
        for (let k = 0; k < body.length; k++) body[k] = Math.floor(r() * 256);
        payload = Buffer.concat([payload, body, Buffer.from(r() < 0.5 ? ' x\r\n' : '\r\n')]);
      }
      const before = transport.out.length;
      const wrote = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        transport.onWrite = () => {
          clearTimeout(t);
          resolve();
        };
      });
      session.onData(payload);
      await wrote;
      // Let the rest of the reply (and any async store work) finish.
      for (let k = 0; k < 3; k++) await new Promise((res) => setImmediate(res));
      if (transport.out.length > before) answered++;
      const text = transport.text();
      const fresh = Buffer.concat(transport.out.slice(before)).toString('latin1');
      for (const m of fresh.matchAll(/^(?:\S+) (OK|NO|BAD)\b/gm)) tally[m[1] as 'OK']++;
      if (/\bat [\w.<>]+ \(|node_modules|Error: |SQLITE/.test(text)) assert.fail(`internal detail leaked after ${JSON.stringify(line)}: ${text.slice(-500)}`);
      // Keep memory flat: forget old output.
      if (transport.out.length > 200) transport.out.splice(0, transport.out.length - 50);
    }
    t.diagnostic(`answered ${answered}, sessions ${sessions}, replies ${JSON.stringify(tally)}`);
    assert.deepEqual(internalErrors, [], 'no unexpected (non-MailError) errors');
    assert.deepEqual(unexpected, []);
    assert.ok(answered > 9000, `answered ${answered} of 10000`);
    assert.ok(sessions > 1, 'bad-command floods ended sessions');

    // Real sessions over TCP still work.
    const c = await RawImap.connect(h.tlsPort, true);
    assert.match(tagged(await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`)), /OK/);
    assert.match(await c.cmd('SELECT INBOX'), /EXISTS/);
    assert.match(tagged(await c.cmd('FETCH 1:* (UID FLAGS BODYSTRUCTURE)')), /OK/);
    c.close();
  } finally {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await h.close();
  }
});
