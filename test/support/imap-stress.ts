// A concurrent IMAP load that checks every response against the client's own
// view of the mailbox, the way an outside stress tester does: sequence
// numbers move only after EXPUNGE (RFC 3501 7.4.1), a UID always stands for
// the same message (its Message-ID, size, envelope and structure never
// change), no FETCH response names an item twice, and no command fails
// except with the codes a shared mailbox explains (EXPUNGEISSUED).
// Used by test/integration/imap-stress.test.ts and bench/imap-stress.ts.
import net from 'node:net';
import tls from 'node:tls';

/** A parsed IMAP value: atom/number as string, quoted or literal as Buffer, list, or null (NIL). */
export type Value = string | Buffer | Value[] | null;

/** One untagged or tagged response, parsed. */
export interface Response {
  tag: string;
  tokens: Value[];
  text: string;
}

/** Reads whole responses (literals included) from a socket. */
class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: Array<() => void> = [];
  closed = false;

  constructor(socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      for (const w of this.waiting.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  /** The next whole response as raw bytes, or undefined when the connection closed. */
  async next(deadline: number): Promise<Buffer | undefined> {
    for (;;) {
      const end = this.completeLength();
      if (end > 0) {
        const out = this.buf.subarray(0, end);
        this.buf = this.buf.subarray(end);
        return out;
      }
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a response');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiting.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Length of the first complete response in the buffer (0: not yet complete). */
  private completeLength(): number {
    let at = 0;
    for (;;) {
      const nl = this.buf.indexOf('\r\n', at);
      if (nl < 0) return 0;
      const m = /\{(\d+)\+?\}$/.exec(this.buf.toString('latin1', Math.max(at, nl - 24), nl));
      if (!m) return nl + 2;
      at = nl + 2 + Number(m[1]);
      if (at > this.buf.length) return 0;
    }
  }
}

/** Tokenises one response (a Buffer from ResponseReader). */
export function parseResponse(raw: Buffer): Response {
  let i = 0;
  const text = raw.toString('latin1');
  const parseList = (close: string): Value[] => {
    const out: Value[] = [];
    for (;;) {
      while (text[i] === ' ') i++;
      if (i >= text.length || text.startsWith('\r\n', i)) {
        if (close === '') return out;
        throw new Error(`unterminated list in ${text.slice(0, 200)}`);
      }
      const c = text[i]!;
      if (c === close) {
        i++;
        return out;
      }
      if (c === '(') {
        i++;
        out.push(parseList(')'));
      } else if (c === '"') {
        let s = '';
        i++;
        while (text[i] !== '"') {
          if (text[i] === '\\') i++;
          s += text[i++];
        }
        i++;
        out.push(Buffer.from(s, 'latin1'));
      } else if (c === '{' || (c === '~' && text[i + 1] === '{')) {
        if (c === '~') i++;
        const end = text.indexOf('}', i);
        const n = Number(text.slice(i + 1, end).replace('+', ''));
        i = end + 3;
        out.push(raw.subarray(i, i + n));
        i += n;
      } else {
        // An atom, which may carry a [section] with spaces (BODY[HEADER.FIELDS (X)]).
        const start = i;
        let depth = 0;
        while (i < text.length) {
          const d = text[i]!;
          if (d === '[') depth++;
          else if (d === ']') depth--;
          else if (depth === 0 && (d === ' ' || d === ')' || d === '(' || d === '\r')) break;
          i++;
        }
        // A section's partial "<n>" stays with the atom.
        const atom = text.slice(start, i);
        out.push(atom.toUpperCase() === 'NIL' ? null : atom);
      }
    }
  };
  const tokens = parseList('');
  const tag = typeof tokens[0] === 'string' ? tokens[0] : '';
  return { tag, tokens: tokens.slice(1), text };
}

const str = (v: Value | undefined): string => (v === null || v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('latin1') : typeof v === 'string' ? v : JSON.stringify(v.map(str)));

/** What one UID stood for when first seen; must never change. */
interface Identity {
  messageId?: string;
  size?: string;
  envelope?: string;
  structure?: string;
}

export interface StressOptions {
  port: number;
  secure: boolean;
  user: string;
  password: string;
  mailbox?: string;
  clients: number;
  seconds: number;
  /** Seed for the operation mix (each client adds its number). */
  seed?: number;
  /** Keep the mailbox about this size. */
  target?: number;
}

export interface StressResult {
  commands: number;
  logins: number;
  appended: number;
  expunged: number;
  errors: string[];
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export function stressMessage(id: string, bodyBytes: number): string {
  const line = 'The quick brown fox jumps over the lazy dog. 0123456789\r\n';
  return (
    `From: Stress <stress@example.test>\r\nTo: alice@example.test\r\nSubject: stress ${id}\r\n` +
    `Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${id}@stress.test>\r\nMIME-Version: 1.0\r\n` +
    `Content-Type: multipart/mixed; boundary="b-${id}"\r\n\r\n--b-${id}\r\nContent-Type: text/plain\r\n\r\n` +
    line.repeat(Math.max(1, Math.ceil(bodyBytes / line.length))) +
    `--b-${id}\r\nContent-Type: text/html\r\n\r\n<p>${id}</p>\r\n--b-${id}--\r\n`
  );
}

/**
 * Runs the load; every inconsistency is reported in `errors` (the first few
 * hundred). Identities are shared across clients: a UID must mean the same
 * message to every session.
 */
export async function runImapStress(o: StressOptions): Promise<StressResult> {
  const identities = new Map<number, Identity>();
  const result: StressResult = { commands: 0, logins: 0, appended: 0, expunged: 0, errors: [] };
  const report = (client: number, msg: string) => {
    if (result.errors.length < 300) result.errors.push(`client ${client}: ${msg}`);
  };
  const deadline = Date.now() + o.seconds * 1000;
  let appendNo = 0;

  const check = (client: number, uid: number, field: keyof Identity, value: string) => {
    let id = identities.get(uid);
    if (!id) identities.set(uid, (id = {}));
    const old = id[field];
    if (old === undefined) id[field] = value;
    else if (old !== value) report(client, `UID ${uid} changed ${field}: ${old.slice(0, 80)} -> ${value.slice(0, 80)}`);
  };

  const runClient = async (n: number) => {
    const rand = prng((o.seed ?? 1) * 1000 + n);
    while (Date.now() < deadline) {
      let socket: net.Socket;
      try {
        socket = o.secure
          ? tls.connect({ host: '127.0.0.1', port: o.port, rejectUnauthorized: false })
          : net.connect({ host: '127.0.0.1', port: o.port });
        await new Promise<void>((resolve, reject) => {
          socket.once(o.secure ? 'secureConnect' : 'connect', () => resolve());
          socket.once('error', reject);
        });
      } catch (err) {
        report(n, `connect failed: ${String(err)}`);
        return;
      }
      const reader = new ResponseReader(socket);
      /** view[seq - 1] = UID (0 when not yet known). */
      let view: number[] = [];
      let tagNo = 0;
      let ok = true;

      const onUntagged = (r: Response, command: string) => {
        const [a, b, c] = r.tokens;
        if (typeof a === 'string' && /^\d+$/.test(a) && typeof b === 'string') {
          const seq = Number(a);
          const kind = b.toUpperCase();
          if (kind === 'EXISTS') {
            if (seq < view.length) report(n, `EXISTS ${seq} below ${view.length} without EXPUNGE (${command})`);
            while (view.length < seq) view.push(0);
          } else if (kind === 'EXPUNGE') {
            if (/^(UID )?FETCH|^(UID )?STORE|^(UID )?SEARCH/i.test(command) && !/^UID/i.test(command)) {
              report(n, `EXPUNGE during ${command}`);
            }
            if (seq < 1 || seq > view.length) report(n, `EXPUNGE ${seq} outside 1..${view.length}`);
            else view.splice(seq - 1, 1);
          } else if (kind === 'FETCH') {
            if (seq < 1 || seq > view.length) {
              report(n, `FETCH for sequence ${seq} outside 1..${view.length}`);
              return;
            }
            const items = Array.isArray(c) ? c : [];
            const names = new Set<string>();
            const values = new Map<string, Value>();
            for (let k = 0; k + 1 < items.length; k += 2) {
              const name = str(items[k]).toUpperCase();
              if (names.has(name)) report(n, `FETCH ${seq} names ${name} twice: ${r.text.slice(0, 200)}`);
              names.add(name);
              values.set(name, items[k + 1]!);
            }
            let uid = view[seq - 1]!;
            if (values.has('UID')) {
              const said = Number(str(values.get('UID')));
              if (uid !== 0 && uid !== said) report(n, `UID changed for sequence ${seq}: ${uid} -> ${said}`);
              uid = said;
              view[seq - 1] = said;
              if ((seq > 1 && view[seq - 2]! >= said) || (seq < view.length && view[seq]! !== 0 && view[seq]! <= said)) {
                report(n, `UIDs out of order around sequence ${seq}`);
              }
            }
            if (uid === 0) return;
            // A message another session expunged may be answered with no data at all (Dovecot
            // sends an empty ENVELOPE and RFC822.SIZE 0): that is no other message's data.
            if (str(values.get('RFC822.SIZE')) === '0') return;
            const env = values.get('ENVELOPE');
            if (env !== undefined) {
              check(n, uid, 'envelope', str(env));
              if (Array.isArray(env)) check(n, uid, 'messageId', str(env[9]));
            }
            if (values.has('RFC822.SIZE')) check(n, uid, 'size', str(values.get('RFC822.SIZE')));
            if (values.has('BODYSTRUCTURE')) check(n, uid, 'structure', str(values.get('BODYSTRUCTURE')));
            const body = values.get('BODY[]');
            if (Buffer.isBuffer(body)) {
              const m = /^Message-ID:\s*(<[^>\r\n]*>)/im.exec(body.toString('latin1'));
              if (m) check(n, uid, 'messageId', m[1]!);
              check(n, uid, 'size', String(body.length));
            }
          }
        }
      };

      const send = async (command: string, literal?: string): Promise<Response | undefined> => {
        const tag = `s${++tagNo}`;
        if (literal !== undefined) socket.write(`${tag} ${command} {${Buffer.byteLength(literal)}+}\r\n${literal}\r\n`);
        else socket.write(`${tag} ${command}\r\n`);
        for (;;) {
          const raw = await reader.next(Date.now() + 30_000);
          if (raw === undefined) {
            if (Date.now() < deadline) report(n, `connection closed during ${command}`);
            return undefined;
          }
          const r = parseResponse(raw);
          if (r.tag === '*') {
            onUntagged(r, command);
            if (/^\* BYE/.test(r.text) && Date.now() < deadline) report(n, `BYE during ${command}: ${r.text.trim()}`);
            continue;
          }
          if (r.tag === '+') continue;
          if (r.tag !== tag) {
            report(n, `unexpected tag in ${r.text.slice(0, 100)}`);
            continue;
          }
          result.commands++;
          const status = str(r.tokens[0]).toUpperCase();
          if (status !== 'OK' && !/\[EXPUNGEISSUED\]/.test(r.text)) report(n, `${command.slice(0, 60)} -> ${r.text.trim().slice(0, 160)}`);
          return r;
        }
      };

      try {
        const greeting = await reader.next(Date.now() + 10_000);
        if (greeting === undefined) throw new Error('no greeting');
        const login = await send(`LOGIN "${o.user}" "${o.password}"`);
        if (!login) return;
        result.logins++;
        const mailbox = o.mailbox ?? 'INBOX';
        view = [];
        if (!(await send(`SELECT ${mailbox}`))) return;
        while (ok && Date.now() < deadline) {
          const r = rand();
          const size = view.length;
          const seq = () => 1 + Math.floor(rand() * Math.max(1, size));
          const range = () => {
            const a = seq();
            const b = Math.min(size, a + Math.floor(rand() * 10));
            return `${a}:${Math.max(a, b)}`;
          };
          let res: Response | undefined;
          if (r < 0.08) {
            view = [];
            res = await send(`SELECT ${mailbox}`);
          } else if (r < 0.25 && size > 0) {
            res = await send(`FETCH ${range()} (UID FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)`);
          } else if (r < 0.35 && size > 0) {
            res = await send(`FETCH ${range()} (FLAGS ENVELOPE RFC822.SIZE)`);
          } else if (r < 0.45 && size > 0) {
            res = await send(`FETCH ${seq()} (UID BODY.PEEK[])`);
          } else if (r < 0.52 && size > 0) {
            res = await send(`FETCH ${seq()} BODY[]`);
          } else if (r < 0.62 && size > 0) {
            const kw = ['$Label1', '$Label2', 'Project', '\\Flagged', '\\Answered'][Math.floor(rand() * 5)]!;
            res = await send(`STORE ${range()} ${rand() < 0.5 ? '+' : '-'}FLAGS (\\Seen ${kw})`);
          } else if (r < 0.68 && size > 0) {
            res = await send(`UID STORE ${view[seq() - 1] || 1}:* +FLAGS.SILENT ($Stress)`);
          } else if (r < 0.8 && size > (o.target ?? 60) / 2) {
            res = await send(`STORE ${seq()} +FLAGS.SILENT (\\Deleted)`);
            if (res && rand() < 0.6) {
              const before = view.length;
              res = await send('EXPUNGE');
              result.expunged += Math.max(0, before - view.length);
            }
          } else if (r < 0.93 && size < (o.target ?? 60) * 1.5) {
            const id = `stress-${process.pid}-${n}-${++appendNo}`;
            res = await send(`APPEND ${mailbox} (\\Seen)`, stressMessage(id, 200 + Math.floor(rand() * 3000)));
            if (res) result.appended++;
          } else {
            res = await send('NOOP');
          }
          if (res === undefined) ok = false;
        }
        if (ok) await send('LOGOUT');
      } catch (err) {
        report(n, `client error: ${String(err)}`);
      } finally {
        socket.destroy();
      }
    }
  };

  await Promise.all(Array.from({ length: o.clients }, (_, i) => runClient(i + 1)));
  return result;
}
