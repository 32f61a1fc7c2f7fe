// Oracle comparison: Dovecot (dovecot-imapd) and our indexer + renderer must
// produce byte-identical ENVELOPE, BODY, BODYSTRUCTURE, RFC822.SIZE and
// BODY[section] data for every fixtures/imap/*.eml message.
//
// A scratch Dovecot runs on 127.0.0.1 with a Maildir holding the fixtures
// (copied in as files, so both sides parse the very same bytes) plus a fixed,
// seeded batch of mutated copies of them (broken MIME of every kind) and
// messages at the parser's limits (nesting depth, number of parts); we talk
// IMAP to it over a plain TCP socket. Fails (does not skip) without dovecot.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fixturesDir } from '../support/paths.js';
import { startDovecotLmtp, type RunningDovecot } from '../support/dovecot-lmtp.js';
import { indexMessage } from '../../mime/index.js';
import type { MessageIndex, MimePart } from '../../mime/types.js';
import { renderBody, renderBodyStructure, renderEnvelope, sectionBytes } from '../../src/protocol/imap/fetch-structure.js';

// POSTINO_IMAP_FIXTURES points the comparison at another directory of .eml
// files (e.g. a batch of fuzzed messages when hunting for differences).
const IMAP_DIR = process.env['POSTINO_IMAP_FIXTURES'] ?? path.join(fixturesDir, 'imap');
const USER = 'tester';
const PASS = 'secret';

/** Without root, every Dovecot service runs as us, and its sockets belong to our group. */
/** A minimal IMAP client: sends tagged commands, collects responses with literals inlined. */
class RawImap {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private tag = 0;
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(port: number): Promise<RawImap> {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const c = new RawImap(sock);
    await c.readResponse(); // greeting
    return c;
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error('IMAP connection closed');
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** One full response (a line plus any literals it announces) as a byte string. */
  async readResponse(): Promise<string> {
    let out = '';
    for (;;) {
      let nl = this.buf.indexOf('\r\n');
      while (nl === -1) {
        await this.more();
        nl = this.buf.indexOf('\r\n');
      }
      const line = this.buf.toString('latin1', 0, nl + 2);
      this.buf = this.buf.subarray(nl + 2);
      out += line;
      const m = /\{(\d+)\}\r\n$/.exec(line);
      if (m === null) return out.slice(0, -2);
      const n = Number(m[1]);
      while (this.buf.length < n) await this.more();
      out += this.buf.toString('latin1', 0, n);
      this.buf = this.buf.subarray(n);
    }
  }

  /** Runs a command; returns the untagged responses. Throws unless tagged OK. */
  async command(cmd: string): Promise<string[]> {
    const tag = `a${++this.tag}`;
    this.sock.write(`${tag} ${cmd}\r\n`, 'latin1');
    const untagged: string[] = [];
    for (;;) {
      const r = await this.readResponse();
      if (r.startsWith(`${tag} `)) {
        if (!r.startsWith(`${tag} OK`)) throw new Error(`${cmd} -> ${r}`);
        return untagged;
      }
      untagged.push(r);
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

/** End index (exclusive) of the IMAP value starting at i: atom, quoted, literal or (list). */
function valueEnd(s: string, i: number): number {
  const c = s[i];
  if (c === '"') {
    let j = i + 1;
    while (s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  if (c === '{') {
    const close = s.indexOf('}', i);
    const n = Number(s.slice(i + 1, close));
    return close + 3 + n;
  }
  if (c === '(') {
    let j = i + 1;
    while (s[j] !== ')') {
      if (s[j] === ' ') j++;
      else j = valueEnd(s, j);
    }
    return j + 1;
  }
  let j = i;
  while (j < s.length && !' ()'.includes(s[j]!)) {
    if (s[j] === '[') j = s.indexOf(']', j);
    j++;
  }
  return j;
}

/** Parses `* N FETCH (NAME value NAME value ...)` into a map of raw value strings. */
function fetchItems(resp: string): Map<string, string> {
  const m = /^\* \d+ FETCH \(/.exec(resp);
  assert.ok(m, `not a FETCH response: ${resp.slice(0, 80)}`);
  const items = new Map<string, string>();
  let i = m[0].length;
  while (resp[i] !== ')') {
    if (resp[i] === ' ') {
      i++;
      continue;
    }
    const nameEnd = valueEnd(resp, i);
    const name = resp.slice(i, nameEnd);
    const vEnd = valueEnd(resp, nameEnd + 1);
    items.set(name.toUpperCase(), resp.slice(nameEnd + 1, vEnd));
    i = vEnd;
  }
  return items;
}

/** The content of a fetched nstring: quoted unescaped, literal body, NIL -> null. */
function nstringValue(v: string): string | null {
  if (v === 'NIL') return null;
  if (v.startsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  const close = v.indexOf('}');
  return v.slice(close + 3);
}

/** Section specs worth comparing for a message: every part, its MIME header, HEADER/TEXT of messages. */
function sectionsFor(index: MessageIndex): string[] {
  const out = ['HEADER', 'TEXT', 'HEADER.FIELDS (FROM SUBJECT)', 'HEADER.FIELDS.NOT (FROM SUBJECT)'];
  const walk = (p: MimePart, prefix: string): void => {
    const kids = p.kind === 'multipart' ? (p.parts ?? []) : [];
    kids.forEach((child, i) => {
      const num = `${prefix}${i + 1}`;
      out.push(num, `${num}.MIME`);
      if (child.kind === 'message') {
        out.push(`${num}.HEADER`, `${num}.TEXT`, `${num}.HEADER.FIELDS (SUBJECT TO)`, `${num}.HEADER.FIELDS.NOT (SUBJECT)`);
        const inner = child.parts?.[0];
        if (inner !== undefined) {
          if (inner.kind === 'multipart') walk(inner, `${num}.`);
          else out.push(`${num}.1`, `${num}.1.MIME`);
        }
      } else if (child.kind === 'multipart') {
        walk(child, `${num}.`);
      }
    });
  };
  if (index.body.kind === 'multipart') walk(index.body, '');
  else out.push('1', '1.MIME');
  if (index.body.kind === 'message') out.push('1.HEADER', '1.TEXT');
  return out;
}

let dovecot: RunningDovecot | null = null;
let client: RawImap | null = null;
interface TestMessage {
  name: string;
  raw: Buffer;
  /** A seeded mutation of a fixture rather than a fixture. */
  mutated: boolean;
}
let messages: TestMessage[] = [];
let fixtureCount = 0;

const MUTATIONS = 200;
/** Sections compared per message (the first and last half of them): one FETCH line stays short. */
const MAX_SECTIONS = 400;
const MUTATION_TOKENS = ['-', '--', '\r\n', '\n', ':', ';', '=', '"', '\\', '(', ')', '<', '>', '@', ',', '.', ' ', '\t', '*', "'", '%', 'a', 'B', '0', '\x80', '\xff', '\x00', 'Content-Type: ', 'multipart/mixed; boundary=', 'message/rfc822', 'text/plain', 'MIME-Version: 1.0\n', '\n\n', '=?utf-8?q?x?=', 'charset=', 'name*0=', 'name*1*='];

/** Deterministic mutations of the fixtures: token inserts, deletions and overwrites. */
function mutateFixtures(seeds: TestMessage[], count: number): TestMessage[] {
  let state = 20261123;
  const rand = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
  const out: TestMessage[] = [];
  for (let i = 0; i < count; i++) {
    const seed = seeds[rand(seeds.length)]!;
    let s = seed.raw.toString('latin1');
    if (rand(4) === 0) s = s.replace(/\r\n/g, '\n');
    const edits = 1 + rand(30);
    for (let e = 0; e < edits; e++) {
      const pos = rand(s.length + 1);
      const tok = MUTATION_TOKENS[rand(MUTATION_TOKENS.length)]!;
      const op = rand(3);
      if (op === 0) s = s.slice(0, pos) + tok + s.slice(pos);
      else if (op === 1) s = s.slice(0, pos) + s.slice(pos + 1 + rand(5));
      else s = s.slice(0, pos) + tok + s.slice(pos + tok.length);
    }
    out.push({ name: `mutation ${i} of ${seed.name}`, raw: Buffer.from(s, 'latin1'), mutated: true });
  }
  return out;
}

/**
 * Messages at Dovecot's parser limits (100 nested parts, 10000 parts in all),
 * built here rather than kept as fixtures: their goldens would be megabytes.
 */
function limitMessages(): TestMessage[] {
  const head = 'From: limits@example.test\nSubject: limits\nMIME-Version: 1.0\n';
  const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');
  /** Multiparts nested `depth` deep under the root (boundaries n0..n<depth>), then `inner`. */
  const chain = (depth: number, innerType: (i: number) => string, inner: string): string =>
    head +
    'Content-Type: multipart/mixed; boundary=n0\n\n' +
    Array.from({ length: depth }, (_, i) => `--n${i}\nContent-Type: ${innerType(i)}; boundary=n${i + 1}\n\n`).join('') +
    `--n${depth}\n${inner}` +
    Array.from({ length: depth + 1 }, (_, i) => `--n${depth - i}--\n`).join('');
  const mixed = (): string => 'multipart/mixed';
  const fillers = (n: number): string => '--m\n\nx\n'.repeat(n);
  const many = (n: number, last: string): string => head + 'Content-Type: multipart/mixed; boundary=m\n\n' + fillers(n) + last;
  const out: Array<[string, string]> = [
    ['98 nested multiparts', chain(98, mixed, 'Content-Type: text/plain\n\ndeep\n')],
    ['a multipart at depth 99 stays a leaf', chain(99, mixed, 'Content-Type: image/png\n\npng\n')],
    ['an upper-case multipart with parameters at depth 99', chain(99, (i) => (i === 98 ? 'MULTIPART/Related; charset=utf-8;' : 'multipart/mixed;'), 'Content-Type: text/plain\n\ndeep\n')],
    ['a digest entry at depth 99', chain(98, (i) => (i === 97 ? 'multipart/digest' : 'multipart/mixed'), '\nSubject: deep\n\nbody\n')],
    ['message/rfc822 at depth 99', chain(98, mixed, 'Content-Type: Message/RFC822; name=x\nContent-Disposition: attachment\n\nSubject: inner\n\nbody\n')],
    ['message/rfc822 nested 99 deep', head + 'Content-Type: message/rfc822\n\n' + 'Content-Type: message/rfc822\n\n'.repeat(98) + 'Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=z\n\n--z\n\nq\n--z--\n'],
    ['10000 parts, the last runs to the end', many(9996, '--m\nContent-Type: multipart/alternative; boundary=in\n\npre\n--in\n\na\n--in--\nepi\n--m\n\nlast\n--m--\nouter epilogue\n')],
    ['10000 parts, a multipart last', many(9998, '--m\nContent-Type: multipart/alternative; boundary=in\n\npre\n--in\n\na\n--in--\nepi\n--m\n\nlast\n--m--\n')],
    ['10000 parts, message/rfc822 last', many(9998, '--m\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n--m\n\nlast\n--m--\n')],
    ['10000 parts, message/rfc822 just below the limit', many(9997, '--m\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n--m\n\nlast\n--m--\n')],
  ];
  return out.map(([name, text]) => ({ name: `limit: ${name}`, raw: crlf(text), mutated: false }));
}

before(async () => {
  const fixtures = fs
    .readdirSync(IMAP_DIR)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => ({ name: f, raw: fs.readFileSync(path.join(IMAP_DIR, f)), mutated: false }));
  fixtureCount = fixtures.length;
  messages = [...fixtures, ...(process.env['POSTINO_IMAP_FIXTURES'] === undefined ? [...limitMessages(), ...mutateFixtures(fixtures, MUTATIONS)] : [])];
  dovecot = await startDovecotLmtp({ users: [USER], password: PASS });
  const maildir = dovecot.maildirOf(USER);
  // Increasing timestamps in the names make Dovecot assign UIDs in this order.
  messages.forEach((m, i) => {
    fs.writeFileSync(path.join(maildir, 'cur', `${1700000000 + i}.M${i}P1.fixture:2,S`), m.raw);
  });
  // As root, Dovecot reads mail as the owner it gave the home.
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', '--reference', path.dirname(maildir), maildir]);
  client = await RawImap.connect(dovecot.imapPort);
  try {
    await client.command(`LOGIN ${USER} ${PASS}`);
    const sel = await client.command('SELECT INBOX');
    assert.ok(sel.some((l) => l === `* ${messages.length} EXISTS`), `expected ${messages.length} messages: ${sel.join(' | ')}`);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${dovecot.logText()}`);
  }
});

after(async () => {
  if (client !== null) {
    try {
      await client.command('LOGOUT');
    } catch {
      // already gone
    }
    client.close();
  }
  await dovecot?.stop();
});

test('dovecot and postino agree on ENVELOPE, BODY, BODYSTRUCTURE, RFC822.SIZE for every fixture and mutation', async () => {
  if (process.env['POSTINO_IMAP_FIXTURES'] === undefined) assert.ok(fixtureCount >= 40, 'at least 40 fixtures');
  const c = client!;
  const lines = await c.command('UID FETCH 1:* (UID RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE)');
  const byUid = new Map<number, Map<string, string>>();
  for (const l of lines) {
    if (!/^\* \d+ FETCH/.test(l)) continue;
    const items = fetchItems(l);
    byUid.set(Number(items.get('UID')), items);
  }
  const failures: string[] = [];
  let compared = 0;
  messages.forEach((msg, i) => {
    const items = byUid.get(i + 1);
    if (items === undefined) {
      failures.push(`${msg.name}: no FETCH response`);
      return;
    }
    const index = indexMessage(msg.raw);
    const ours = new Map([
      ['RFC822.SIZE', String(index.vsize)],
      ['ENVELOPE', renderEnvelope(index.envelope)],
      ['BODY', renderBody(index)],
      ['BODYSTRUCTURE', renderBodyStructure(index)],
    ]);
    for (const [k, v] of ours) {
      const theirs = items.get(k);
      compared++;
      if (theirs !== v) failures.push(`${msg.name} ${k}\n  dovecot: ${JSON.stringify(theirs)}\n  postino: ${JSON.stringify(v)}`);
    }
  });
  assert.equal(failures.length, 0, `${failures.length} differences:\n${failures.join('\n')}`);
  assert.equal(compared, messages.length * 4);
});

test('dovecot and postino return the same BODY[section] bytes', async () => {
  const c = client!;
  const failures: string[] = [];
  for (let i = 0; i < messages.length; i++) {
    const msg = messages[i]!;
    const raw = msg.raw;
    const index = indexMessage(raw);
    // Of a message with thousands of parts, the first and the last ones will do.
    const all = sectionsFor(index);
    const sections = all.length > MAX_SECTIONS ? [...all.slice(0, MAX_SECTIONS / 2), ...all.slice(-MAX_SECTIONS / 2)] : all;
    // Partial fetches only for the fixtures: on some mutations (stray CRs)
    // Dovecot 2.3.19 itself fails them ("got too little data").
    const partials: Array<[string, number, number]> =
      msg.mutated || process.env['POSTINO_IMAP_FIXTURES'] !== undefined
        ? []
        : [
            ['TEXT', 5, 20],
            ['', 0, 50],
            ['1', 2, 7],
            ['HEADER', 10, 100000],
          ];
    const items = [...sections.map((s) => `BODY.PEEK[${s}]`), ...partials.map(([s, o, n]) => `BODY.PEEK[${s}]<${o}.${n}>`)].join(' ');
    let lines: string[];
    try {
      lines = await c.command(`UID FETCH ${i + 1} (${items})`);
    } catch (err) {
      throw new Error(`${msg.name}: ${(err as Error).message}\n${dovecot!.logText().split('\n').slice(-15).join('\n')}`);
    }
    const resp = lines.find((l) => /^\* \d+ FETCH/.test(l));
    assert.ok(resp !== undefined, `${msg.name}: no FETCH response`);
    const got = fetchItems(resp);
    const compare = (label: string, theirs: string | undefined, ours: Buffer | null): void => {
      const theirsValue = theirs === undefined ? undefined : nstringValue(theirs);
      const oursValue = ours === null ? null : ours.toString('latin1');
      if (theirsValue !== oursValue && !(ours === null && theirsValue === '')) {
        failures.push(`${msg.name} ${label}\n  dovecot: ${JSON.stringify(theirsValue)}\n  postino: ${JSON.stringify(oursValue)}`);
      }
    };
    for (const s of sections) compare(`BODY[${s}]`, got.get(`BODY[${s.toUpperCase()}]`), sectionBytes(raw, index, s));
    for (const [s, o, n] of partials) compare(`BODY[${s}]<${o}.${n}>`, got.get(`BODY[${s}]<${o}>`), sectionBytes(raw, index, s, { offset: o, length: n }));
  }
  assert.equal(failures.length, 0, `${failures.length} differences:\n${failures.join('\n')}`);
});
