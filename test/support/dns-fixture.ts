// An in-process DNS server for tests: UDP and TCP on 127.0.0.1, a free port,
// answering from a zone given as data. No network, no mocks: the code under
// test asks it through src/net/dns.ts exactly as it would ask a real server.
//
// Usage in a test:
//
//   import { startDnsFixture, loadZone } from '../../support/dns-fixture.js';
//   const dns = await startDnsFixture(loadZone('sender-auth'));   // fixtures/dns/sender-auth.json
//   // or startDnsFixture({ 'example.org': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } })
//   const resolver = createDnsResolver(dns.servers);             // ['127.0.0.1:PORT']
//   ...
//   await dns.close();
//
// For a listener started as a child process (`postino serve`), write
// `"dns": { "servers": dns.servers }` into its postino.json. Note that the
// server's resolver caches answers for up to 60 s (createDnsResolver's
// cacheTtlMs): change the zone with dns.set() before the server asks, or
// use names unique to each test.
//
// Zone data: { "<name>": { <TYPE>: [...] } }, names case-insensitive, no
// trailing dot needed, "*.example.org" is a wildcard for names that do not
// exist otherwise. Per name:
//   A:     ["192.0.2.1"]               AAAA: ["2001:db8::1"]
//   MX:    [{ "exchange": "mx.example.org", "priority": 10 }]
//   TXT:   ["one string", ["several", "strings"]]   (strings over 255 bytes are split)
//   PTR:   ["host.example.org"]        (name: reverseName('192.0.2.1') from src/net/dns.ts,
//                                        i.e. "1.2.0.192.in-addr.arpa")
//   CNAME: "target.example.org"        (followed inside the zone, as a recursive server would)
//   NS:    ["ns.example.org"]
//   SRV:   [{ "name": "mail.example.org", "port": 993, "priority": 0, "weight": 1 }]
// and three failure modes for every query of that name:
//   SERVFAIL: true (node reports ESERVFAIL), REFUSED: true (EREFUSED),
//   TIMEOUT: true (never answers: ETIMEOUT after the resolver's timeout).
// A name that is not in the zone and has no names under it gives NXDOMAIN
// (ENOTFOUND); a name that exists without the asked type gives NODATA
// (ENODATA).
//
// Run standalone for manual tests (swaks against `postino serve`):
//   node dist/test/support/dns-fixture.js fixtures/dns/sender-auth.json [port]
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ipv6Groups } from '../../src/net/dns.js';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface DnsRecordSet {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  TXT?: Array<string | string[]>;
  PTR?: string[];
  CNAME?: string;
  NS?: string[];
  SRV?: Array<{ name: string; port: number; priority: number; weight: number }>;
  SERVFAIL?: boolean;
  REFUSED?: boolean;
  TIMEOUT?: boolean;
}

export type DnsZone = Record<string, DnsRecordSet>;

export interface DnsQueryLogEntry {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

export interface DnsFixture {
  port: number;
  /** For createDnsResolver() and the config's dns.servers. */
  servers: string[];
  /** Replaces (or, with undefined, removes) one name's records. */
  set(name: string, records: DnsRecordSet | undefined): void;
  /** Adds a zone's names, replacing those already present. */
  load(zone: DnsZone): void;
  /** Every question received, in order (for asserting what was asked). */
  queries: DnsQueryLogEntry[];
  close(): Promise<void>;
}

export interface DnsFixtureOptions {
  /** TTL put on every answer. Default 60. */
  ttl?: number;
  /** Port to bind (UDP and TCP). Default: a free one. */
  port?: number;
}

const fixturesDns = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures/dns');

/** Reads fixtures/dns/NAME.json (or a path ending in .json). */
export function loadZone(nameOrPath: string): DnsZone {
  const file = nameOrPath.endsWith('.json') ? path.resolve(nameOrPath) : path.join(fixturesDns, `${nameOrPath}.json`);
  const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  // Keys starting with '$' are comments in the JSON files.
  return Object.fromEntries(Object.entries(data).filter(([k]) => !k.startsWith('$'))) as DnsZone;
}

// --- wire format (RFC 1035) -------------------------------------------------

const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
const TYPE_NAME = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const CLASS_IN = 1;

interface Question {
  name: string;
  type: number;
  qclass: number;
  /** The question section as received, echoed back byte for byte. */
  raw: Buffer;
}

interface Query {
  id: number;
  flags: number;
  question: Question | null;
  qdcount: number;
  /** EDNS0 UDP payload size the client announced, 0 without EDNS. */
  ednsSize: number;
}

class FormatError extends Error {}

function readName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = offset;
  let end = -1;
  let jumps = 0;
  for (;;) {
    if (pos >= buf.length) throw new FormatError('name past end');
    const len = buf[pos] ?? 0;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length || ++jumps > 16) throw new FormatError('bad pointer');
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | (buf[pos + 1] ?? 0);
      continue;
    }
    if (len > 63 || pos + 1 + len > buf.length) throw new FormatError('bad label');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.join('.'), end };
}

function parseQuery(buf: Buffer): Query {
  if (buf.length < 12) throw new FormatError('short header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);
  let pos = 12;
  let question: Question | null = null;
  if (qdcount >= 1) {
    const { name, end } = readName(buf, pos);
    if (end + 4 > buf.length) throw new FormatError('short question');
    question = { name, type: buf.readUInt16BE(end), qclass: buf.readUInt16BE(end + 2), raw: buf.subarray(pos, end + 4) };
    pos = end + 4;
  }
  let ednsSize = 0;
  if (qdcount === 1) {
    // Skip answer and authority records, look for OPT among the additional ones.
    const total = ancount + nscount + arcount;
    for (let i = 0; i < total && pos < buf.length; i++) {
      const { end } = readName(buf, pos);
      if (end + 10 > buf.length) throw new FormatError('short record');
      const type = buf.readUInt16BE(end);
      const rdlen = buf.readUInt16BE(end + 8);
      if (i >= ancount + nscount && type === TYPE.OPT) ednsSize = buf.readUInt16BE(end + 2);
      pos = end + 10 + rdlen;
    }
  }
  return { id, flags, question, qdcount, ednsSize };
}

function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  const parts: Buffer[] = [];
  if (trimmed.length > 0) {
    for (const label of trimmed.split('.')) {
      const bytes = Buffer.from(label, 'latin1');
      if (bytes.length === 0 || bytes.length > 63) throw new Error(`dns fixture: bad label in ${JSON.stringify(name)}`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function parseIPv6(ip: string): Buffer {
  const groups = ipv6Groups(ip);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function txtRdata(value: string | string[]): Buffer {
  const strings = Array.isArray(value) ? value : [value];
  const chunks: Buffer[] = [];
  for (const s of strings) {
    let bytes = Buffer.from(s, 'utf8');
    if (bytes.length === 0) chunks.push(Buffer.from([0]));
    while (bytes.length > 0) {
      const part = bytes.subarray(0, 255);
      chunks.push(Buffer.from([part.length]), part);
      bytes = bytes.subarray(255);
    }
  }
  return Buffer.concat(chunks);
}

function record(owner: string, type: number, ttl: number, rdata: Buffer): Buffer {
  const name = encodeName(owner);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(CLASS_IN, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, fixed, rdata]);
}

function recordsOf(owner: string, set: DnsRecordSet, type: number, ttl: number): Buffer[] {
  const out: Buffer[] = [];
  const want = (t: number): boolean => type === t || type === TYPE.ANY;
  if (want(TYPE.A)) for (const ip of set.A ?? []) out.push(record(owner, TYPE.A, ttl, Buffer.from(ip.split('.').map(Number))));
  if (want(TYPE.AAAA)) for (const ip of set.AAAA ?? []) out.push(record(owner, TYPE.AAAA, ttl, parseIPv6(ip)));
  if (want(TYPE.MX)) {
    for (const mx of set.MX ?? []) {
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(mx.priority, 0);
      out.push(record(owner, TYPE.MX, ttl, Buffer.concat([pref, encodeName(mx.exchange)])));
    }
  }
  if (want(TYPE.TXT)) for (const txt of set.TXT ?? []) out.push(record(owner, TYPE.TXT, ttl, txtRdata(txt)));
  if (want(TYPE.PTR)) for (const host of set.PTR ?? []) out.push(record(owner, TYPE.PTR, ttl, encodeName(host)));
  if (want(TYPE.SRV)) {
    for (const srv of set.SRV ?? []) {
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(srv.priority, 0);
      fixed.writeUInt16BE(srv.weight, 2);
      fixed.writeUInt16BE(srv.port, 4);
      out.push(record(owner, TYPE.SRV, ttl, Buffer.concat([fixed, encodeName(srv.name)])));
    }
  }
  if (want(TYPE.NS)) for (const host of set.NS ?? []) out.push(record(owner, TYPE.NS, ttl, encodeName(host)));
  if (want(TYPE.CNAME) && set.CNAME) out.push(record(owner, TYPE.CNAME, ttl, encodeName(set.CNAME)));
  return out;
}

function header(id: number, flags: number, qd: number, an: number, ar: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(0, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

// --- the server -------------------------------------------------------------

type Answer = { kind: 'drop' } | { kind: 'reply'; rcode: number; answers: Buffer[] };

class ZoneStore {
  private readonly names = new Map<string, DnsRecordSet>();

  constructor(zone: DnsZone) {
    this.load(zone);
  }

  load(zone: DnsZone): void {
    for (const [name, set] of Object.entries(zone)) this.set(name, set);
  }

  set(name: string, set: DnsRecordSet | undefined): void {
    const key = ZoneStore.key(name);
    if (set === undefined) this.names.delete(key);
    else this.names.set(key, set);
  }

  static key(name: string): string {
    return name.toLowerCase().replace(/\.$/, '');
  }

  /** The record set for a name, the wildcard that covers it, or whether it exists at all. */
  find(name: string): { set: DnsRecordSet | undefined; exists: boolean } {
    const key = ZoneStore.key(name);
    const exact = this.names.get(key);
    if (exact) return { set: exact, exists: true };
    const suffix = `.${key}`;
    for (const k of this.names.keys()) if (k.endsWith(suffix)) return { set: undefined, exists: true };
    // RFC 4592: a wildcard answers only for names that do not exist.
    const labels = key.split('.');
    for (let i = 1; i < labels.length; i++) {
      const wild = this.names.get(`*.${labels.slice(i).join('.')}`);
      if (wild) return { set: wild, exists: true };
    }
    return { set: undefined, exists: false };
  }

  answer(qname: string, qtype: number, ttl: number): Answer {
    const answers: Buffer[] = [];
    let name = qname;
    for (let hops = 0; hops < 8; hops++) {
      const { set, exists } = this.find(name);
      if (set?.TIMEOUT) return { kind: 'drop' };
      if (set?.SERVFAIL) return { kind: 'reply', rcode: RCODE.SERVFAIL, answers: [] };
      if (set?.REFUSED) return { kind: 'reply', rcode: RCODE.REFUSED, answers: [] };
      if (!exists) return { kind: 'reply', rcode: RCODE.NXDOMAIN, answers };
      if (!set) return { kind: 'reply', rcode: RCODE.NOERROR, answers };
      if (set.CNAME && qtype !== TYPE.CNAME && qtype !== TYPE.ANY) {
        answers.push(record(name, TYPE.CNAME, ttl, encodeName(set.CNAME)));
        name = set.CNAME;
        continue;
      }
      answers.push(...recordsOf(name, set, qtype, ttl));
      return { kind: 'reply', rcode: RCODE.NOERROR, answers };
    }
    return { kind: 'reply', rcode: RCODE.SERVFAIL, answers: [] };
  }
}

function respond(zone: ZoneStore, msg: Buffer, transport: 'udp' | 'tcp', ttl: number, log: DnsQueryLogEntry[]): Buffer | null {
  let query: Query;
  try {
    query = parseQuery(msg);
  } catch {
    if (msg.length < 12) return null;
    return header(msg.readUInt16BE(0), 0x8000 | RCODE.FORMERR, 0, 0, 0);
  }
  const opcode = (query.flags >> 11) & 0xf;
  const rd = query.flags & 0x0100;
  // QR, opcode echoed, AA, RD echoed, RA
  const base = 0x8000 | (opcode << 11) | 0x0400 | rd | 0x0080;
  const q = query.question;
  if (query.flags & 0x8000) return null; // a response: ignore
  if (opcode !== 0) return header(query.id, base | RCODE.NOTIMP, 0, 0, 0);
  if (query.qdcount !== 1 || !q) return header(query.id, base | RCODE.FORMERR, 0, 0, 0);

  log.push({ name: q.name, type: TYPE_NAME.get(q.type) ?? String(q.type), transport });

  let result: Answer;
  if (q.qclass !== CLASS_IN && q.qclass !== 255) result = { kind: 'reply', rcode: RCODE.REFUSED, answers: [] };
  else result = zone.answer(q.name, q.type, ttl);
  if (result.kind === 'drop') return null;

  // Echo EDNS0 so the client may use payloads above 512 bytes.
  const opt = query.ednsSize > 0 ? record('', TYPE.OPT, 0, Buffer.alloc(0)) : null;
  if (opt) opt.writeUInt16BE(4096, 3); // the OPT "class" field is our payload size
  const limit = transport === 'tcp' ? 65535 : query.ednsSize > 0 ? Math.min(Math.max(query.ednsSize, 512), 4096) : 512;

  const full = Buffer.concat([
    header(query.id, base | result.rcode, 1, result.answers.length, opt ? 1 : 0),
    q.raw,
    ...result.answers,
    ...(opt ? [opt] : []),
  ]);
  if (full.length <= limit) return full;
  // Too big for UDP: truncated (TC), the client retries over TCP.
  return Buffer.concat([header(query.id, base | 0x0200 | result.rcode, 1, 0, 0), q.raw]);
}

async function bindBoth(port: number): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', () => {
      udp.off('error', reject);
      resolve();
    });
  });
  const bound = udp.address().port;
  const tcp = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(bound, '127.0.0.1', () => {
        tcp.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    udp.close();
    throw err;
  }
  return { udp, tcp };
}

/** Starts the server; resolves once UDP and TCP both listen on the same port. */
export async function startDnsFixture(zone: DnsZone = {}, options: DnsFixtureOptions = {}): Promise<DnsFixture> {
  const ttl = options.ttl ?? 60;
  const store = new ZoneStore(zone);
  const queries: DnsQueryLogEntry[] = [];

  let sockets: { udp: dgram.Socket; tcp: net.Server } | undefined;
  let lastError: unknown;
  // A free UDP port may be taken on TCP: try a few.
  for (let attempt = 0; attempt < 20 && !sockets; attempt++) {
    try {
      sockets = await bindBoth(options.port ?? 0);
    } catch (err) {
      lastError = err;
      if (options.port) break;
    }
  }
  if (!sockets) throw lastError instanceof Error ? lastError : new Error('dns fixture: cannot bind');
  const { udp, tcp } = sockets;

  udp.on('message', (msg, rinfo) => {
    const reply = respond(store, msg, 'udp', ttl, queries);
    if (reply) udp.send(reply, rinfo.port, rinfo.address);
  });
  udp.on('error', () => {
    /* a send to a vanished client: nothing to do */
  });

  const conns = new Set<net.Socket>();
  tcp.on('connection', (sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        const reply = respond(store, msg, 'tcp', ttl, queries);
        if (reply) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length, 0);
          sock.write(Buffer.concat([prefix, reply]));
        }
      }
    });
  });

  const port = udp.address().port;
  let closed = false;
  return {
    port,
    servers: [`127.0.0.1:${port}`],
    queries,
    set: (name, records) => store.set(name, records),
    load: (z) => store.load(z),
    async close() {
      if (closed) return;
      closed = true;
      for (const s of conns) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

// Standalone: node dist/test/support/dns-fixture.js ZONE.json [PORT]
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [file, port] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: dns-fixture.js ZONE.json [PORT]\n');
    process.exit(64);
  }
  const fixture = await startDnsFixture(loadZone(file), port ? { port: Number(port) } : {});
  process.stdout.write(`${JSON.stringify({ event: 'listening', service: 'dns', port: fixture.port })}\n`);
  const stop = (): void => void fixture.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
