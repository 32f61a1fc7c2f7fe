// The configuration: one JSON file (every key optional), validated with zod,
// then POSTINO_* environment overrides. Errors name the bad key.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';
import { MailError } from '../storage/errors.js';
import { MAX_SCRIPTS_PER_ACCOUNT } from '../storage/names.js';

export const SERVICES = [
  'smtp',
  'submission',
  'submissions',
  'lmtp',
  'imap',
  'imaps',
  'pop3',
  'pop3s',
  'managesieve',
  'admin',
] as const;
export type ServiceName = (typeof SERVICES)[number];

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  smtp: 2525,
  submission: 2587,
  submissions: 2465,
  lmtp: 2424,
  imap: 1143,
  imaps: 1993,
  pop3: 1110,
  pop3s: 1995,
  managesieve: 4190,
  admin: 8080,
};

/**
 * Defaults of the limits that protect the server from its clients. The
 * header section: Exim refuses over 1 MB, Postfix keeps 100 KB; every step
 * of delivery reads the header whole, so it is kept small. Connections:
 * each SMTP/LMTP one may hold a message of up to messageSize in memory;
 * an idle IMAP one costs little (a 1,000-connection bench is normal).
 */
export const DEFAULT_LIMITS = {
  headerSize: 256 * 1024,
  maxConnections: { smtp: 100, lmtp: 100, imap: 1000, submission: 100 },
} as const;

/**
 * Sieve script quotas, one limit for ManageSieve and `postino sieve put`
 * alike (HAVESPACE answers from them). Pigeonhole's defaults are no count
 * limit and 1 MiB per script; here the count is the store's own hard cap and
 * the size 64 KiB: a real filter is a few KiB, and every delivery compiles
 * the active script, which costs the engine some 20-40 ms per KiB.
 */
export const DEFAULT_SIEVE_QUOTAS = { maxScripts: MAX_SCRIPTS_PER_ACCOUNT, maxScriptSize: 64 * 1024 } as const;
/** The largest script size the config may allow: a script is read whole at every delivery. */
export const MAX_SIEVE_SCRIPT_SIZE = 8 * 1024 * 1024;

/** Per-user sending limits of submission (a stolen password sends little). */
export const DEFAULT_SUBMISSION_LIMITS = { messagesPerHour: 200, recipientsPerMessage: 100, recipientsPerDay: 1000 } as const;

const port = z.number().int().min(0).max(65535);
const hostPort = z
  .string()
  .regex(/^(\d{1,3}(\.\d{1,3}){3}|localhost)(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/, 'expected IP, IP:PORT or [IPv6]:PORT');

/** An IP address (v4 or v6) or a host name of this machine (e.g. localhost). */
function isListenAddress(value: string): boolean {
  return isIP(value) !== 0 || /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/.test(value);
}
const listenAddress = z.string().refine(isListenAddress, 'expected an IP address or a host name');
/** One address, or several: every listener binds each of them. */
const listenAddresses = z.union([listenAddress, z.array(listenAddress).min(1).max(64)]);

/** POSTINO_LISTEN and POSTINO_ADMIN_LISTEN: one address or a comma-separated list. */
function envAddresses(env: NodeJS.ProcessEnv, name: string): string[] | undefined {
  const v = env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const list = v.split(',').map((a) => a.trim());
  const bad = list.find((a) => !isListenAddress(a));
  if (bad !== undefined) throw new MailError('BADINPUT', `${name}: expected IP addresses separated by commas, got '${v.slice(0, 200)}'`);
  return dedupe(list);
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}

function addressList(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return dedupe(typeof value === 'string' ? [value] : value);
}

/** A node name: safe in a log field, a Received header comment and a lease row. */
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const NODE_NAME_RULE = 'expected letters, digits, ".", "_" or "-" (at most 63, starting with a letter or digit)';

/** The default node name: the host name, made to fit NODE_NAME. */
export function defaultNodeName(host = osHostname()): string {
  const name = host.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63);
  return name === '' ? 'postino' : name;
}

function resolveNode(raw: RawConfig['node'], env: NodeJS.ProcessEnv): Config['node'] {
  const fromEnv = env.POSTINO_NODE_NAME;
  if (fromEnv !== undefined && fromEnv !== '' && !NODE_NAME.test(fromEnv)) throw new MailError('BADINPUT', `POSTINO_NODE_NAME: ${NODE_NAME_RULE}`);
  return { name: fromEnv || raw?.name || defaultNodeName(), leaseSeconds: raw?.leaseSeconds ?? 60 };
}

export const ConfigSchema = z
  .object({
    hostname: z.string().regex(/^[A-Za-z0-9.-]+$/, 'expected a host name').optional(),
    /** This node among several sharing one PostgreSQL (logs, Received headers, the queue's leases). */
    node: z
      .object({
        name: z.string().regex(NODE_NAME, NODE_NAME_RULE).optional(),
        /** How long an outbound entry a node took stays its own unrenewed: a dead node's entries go to another node after this. */
        leaseSeconds: z.number().int().min(2).max(3600).optional(),
      })
      .strict()
      .optional(),
    listen: listenAddresses.optional(),
    admin: z.object({ listen: listenAddresses.optional() }).strict().optional(),
    /** The account serve runs as once its ports are bound (started as root). */
    user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}\$?$/i, 'expected a user name').optional(),
    /** Its group; default: the user's own group. */
    group: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, 'expected a group name').optional(),
    metrics: z.object({ token: z.string().min(16, 'metrics.token: at least 16 characters').regex(/^[\x21-\x7e]+$/, 'metrics.token: printable ASCII without spaces').optional() }).strict().optional(),
    storage: z
      .object({
        backend: z.enum(['sqlite', 'postgres']).optional(),
        url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL').optional(),
        blobs: z.string().optional(),
      })
      .strict()
      .optional(),
    tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
    ports: z.object(Object.fromEntries(SERVICES.map((s) => [s, port.optional()])) as Record<ServiceName, z.ZodOptional<typeof port>>).strict().optional(),
    limits: z
      .object({
        messageSize: z.number().int().positive().optional(),
        recipients: z.number().int().positive().optional(),
        headerSize: z.number().int().positive().optional(),
        maxConnections: z
          .object({
            smtp: z.number().int().positive().optional(),
            lmtp: z.number().int().positive().optional(),
            imap: z.number().int().positive().optional(),
            submission: z.number().int().positive().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    antivirus: z
      .object({
        host: z.string().optional(),
        port: port.optional(),
        socket: z.string().optional(),
        /** Accept (marked `X-Virus-Scanned: unscanned (REASON)`) when clamd cannot answer, instead of 451. */
        failOpen: z.boolean().optional(),
        /** Scan `postino deliver` too. */
        scanLocal: z.boolean().optional(),
        /** Time budget of one message (waiting for a scanner slot included). */
        timeoutMs: z.number().int().positive().max(600_000).optional(),
        /** Scans at once; more messages wait (bounded), then 451. */
        maxConcurrent: z.number().int().positive().max(1000).optional(),
        /** The EICAR self-test every N minutes; 0 turns it off. */
        selfTestMinutes: z.number().min(0).optional(),
      })
      .strict()
      .optional(),
    spam: z
      .object({
        engine: z.enum(['builtin', 'spamd', 'rspamd']).optional(),
        host: z.string().optional(),
        port: port.optional(),
        junkScore: z.number().optional(),
        rejectScore: z.number().optional(),
        /** Time budget of one message's spam check (waiting for a slot included); past it 451. */
        timeoutMs: z.number().int().positive().max(600_000).optional(),
        /** Checks at once; more messages wait (bounded), then 451. */
        maxConcurrent: z.number().int().positive().max(1000).optional(),
      })
      .strict()
      .optional(),
    relay: z
      .object({
        smarthost: z
          .object({
            host: z.string(),
            port: port.optional(),
            tls: z.enum(['starttls', 'implicit', 'opportunistic']).optional(),
            username: z.string().optional(),
            password: z.string().optional(),
            /** A file holding the password (first line), readable only by its owner. */
            passwordFile: z.string().optional(),
            ca: z.string().optional(),
          })
          .strict()
          .optional(),
        /** Port of recipients' MX hosts: 25; changed only by tests. */
        mxPort: port.optional(),
        /** Connections open at once to one destination (MX host or smarthost). */
        maxConnectionsPerDestination: z.number().int().positive().optional(),
        /** The retry schedule (tests shorten it). */
        schedule: z
          .object({
            /** Delays before each retry, in seconds; the last repeats. */
            retrySeconds: z.array(z.number().positive()).min(1).optional(),
            /** A delay warning to the sender after this long. */
            warnAfterSeconds: z.number().positive().optional(),
            /** Given up on, and bounced, after this long. */
            expireAfterSeconds: z.number().positive().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    submission: z
      .object({
        /** The From header must name an address the user owns (as MAIL FROM must). */
        checkFrom: z.boolean().optional(),
        /** Store a copy of each submitted message in the sender's Sent folder. */
        saveSent: z.boolean().optional(),
        limits: z
          .object({
            messagesPerHour: z.number().int().positive().optional(),
            recipientsPerMessage: z.number().int().positive().optional(),
            recipientsPerDay: z.number().int().positive().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    dns: z.object({ servers: z.array(hostPort).optional() }).strict().optional(),
    smtp: z
      .object({
        /** Mailbox full: 452 4.2.2 (default, the sender retries) or 552 5.2.2. */
        overQuota: z.enum(['tempfail', 'reject']).optional(),
        /** Refuse DMARC p=reject failures with 550 5.7.1 (default: deliver to Junk). */
        dmarcReject: z.boolean().optional(),
        greetDelayMs: z.number().int().min(0).max(30_000).optional(),
        maxConnectionsPerIp: z.number().int().positive().optional(),
        maxMessagesPerConnection: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    sieve: z
      .object({
        /** Global scripts run before and after each user's script (files). */
        before: z.array(z.string()).optional(),
        after: z.array(z.string()).optional(),
        /** Directory of scripts for include :global. */
        globalDir: z.string().optional(),
        // Quotas (ManageSieve and the CLI): scripts per account, bytes per script.
        maxScripts: z.number().int().positive().max(MAX_SCRIPTS_PER_ACCOUNT).optional(),
        maxScriptSize: z.number().int().positive().max(MAX_SIEVE_SCRIPT_SIZE).optional(),
      })
      .strict()
      .optional(),
    pop3: z
      .object({
        /** USER/PASS and AUTH on the plain port before STLS (tests, or a trusted network only). */
        allowPlaintextAuth: z.boolean().optional(),
        /** Open POP3 and POP3S connections, all clients together. */
        maxConnections: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    demo: z.boolean().optional(),
  })
  .strict();

export type RawConfig = z.infer<typeof ConfigSchema>;

export interface Config {
  hostname: string;
  /** This node's name (logs, Received headers, queue leases) and how long its queue leases last unrenewed. */
  node: { name: string; leaseSeconds: number };
  /** Addresses the listeners bind to (each service binds every one). */
  listen: string[];
  /** The admin port (HTTP API, panel, autoconfig, metrics): loopback unless configured otherwise. */
  admin: { listen: string[] };
  /** Who serve runs as after binding its ports as root (undefined: stays as started). */
  user: string | undefined;
  group: string | undefined;
  /** /metrics on the admin port; with a token, scrapes must send it as a bearer token. */
  metrics: { token: string | undefined };
  /** Where accounts, mail and the queue live: SQLite + Maildir under the data dir (default), or PostgreSQL (several nodes). */
  storage: StorageConfig;
  tls: { cert: string; key: string } | undefined;
  ports: Record<ServiceName, number>;
  limits: {
    messageSize: number;
    recipients: number;
    /** Largest header section of a message received over SMTP or LMTP. */
    headerSize: number;
    /** Open connections of each service, all clients together (IMAP counts IMAPS too). */
    maxConnections: { smtp: number; lmtp: number; imap: number; submission: number };
  };
  antivirus: RawConfig['antivirus'];
  spam: RawConfig['spam'];
  relay: RawConfig['relay'];
  submission: {
    checkFrom: boolean;
    saveSent: boolean;
    limits: { messagesPerHour: number; recipientsPerMessage: number; recipientsPerDay: number };
  };
  dns: { servers: string[] };
  smtp: {
    overQuota: 'tempfail' | 'reject';
    dmarcReject: boolean;
    limits: { greetDelayMs?: number; maxConnectionsPerIp?: number; maxMessagesPerConnection?: number };
  };
  sieve: {
    before: string[];
    after: string[];
    globalDir: string | undefined;
    /** Scripts per account (ManageSieve QUOTA/MAXSCRIPTS, `sieve put`). */
    maxScripts: number;
    /** Bytes per script (ManageSieve QUOTA/MAXSIZE, `sieve put`). */
    maxScriptSize: number;
  };
  pop3: { allowPlaintextAuth: boolean; maxConnections: number };
  /** Create a demo domain and account on first start with an empty data dir. */
  demo: boolean;
}

/** `blobs`: message bodies as files in this shared directory (absolute path) instead of in PostgreSQL. */
export type StorageConfig = { backend: 'sqlite' } | { backend: 'postgres'; url: string; blobs?: string };

/**
 * storage.backend, storage.url and POSTINO_STORAGE_URL (which overrides the
 * url): a url alone means PostgreSQL. Bodies are kept in PostgreSQL with
 * it, or with storage.blobs as files in a directory every node mounts.
 */
function resolveStorage(raw: RawConfig['storage'], env: NodeJS.ProcessEnv): StorageConfig {
  const fromEnv = env.POSTINO_STORAGE_URL;
  if (fromEnv !== undefined && fromEnv !== '' && !/^postgres(ql)?:\/\//.test(fromEnv)) {
    throw new MailError('BADINPUT', 'POSTINO_STORAGE_URL: expected a postgres:// URL');
  }
  const url = fromEnv || raw?.url;
  const backend = raw?.backend ?? (url ? 'postgres' : 'sqlite');
  if (backend === 'sqlite') {
    if (url) throw new MailError('BADINPUT', 'storage.url is set but storage.backend is "sqlite": set backend to "postgres", or remove the url');
    if (raw?.blobs !== undefined) throw new MailError('BADINPUT', 'storage.blobs: the SQLite backend keeps bodies in the data dir');
    return { backend: 'sqlite' };
  }
  if (!url) throw new MailError('BADINPUT', 'storage.backend "postgres" needs storage.url (or POSTINO_STORAGE_URL)');
  if (raw?.blobs === undefined) return { backend: 'postgres', url };
  return { backend: 'postgres', url, blobs: blobDirectory(raw.blobs) };
}

/** storage.blobs: an absolute path, plain enough to be a directory name (checked to exist when the storage opens). */
function blobDirectory(dir: string): string {
  if (!path.isAbsolute(dir)) throw new MailError('BADINPUT', `storage.blobs: expected an absolute path, got "${dir}"`);
  if (dir.length > 1024 || /[\x00-\x1f\x7f]/.test(dir)) throw new MailError('BADINPUT', 'storage.blobs: expected a directory path without control characters');
  return path.normalize(dir);
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (issue.path.length > 0 ? `${issue.path.join('.')}.${k}` : k));
    return `unknown key ${keys.join(', ')}`;
  }
  return `${where}: ${issue.message}`;
}

/** Validates parsed JSON; throws BADINPUT naming the first bad key. */
export function validateConfig(raw: unknown, source = 'config'): RawConfig {
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new MailError('BADINPUT', `${source}: ${first ? formatIssue(first) : 'invalid'}`);
  }
  return r.data;
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: RawConfig = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new MailError('BADINPUT', `cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new MailError('BADINPUT', `${file}: not valid JSON (${(err as Error).message})`);
    }
    raw = validateConfig(parsed, file);
  }
  return resolveConfig(raw, env);
}

function envPort(env: NodeJS.ProcessEnv, service: ServiceName): number | undefined {
  const name = `POSTINO_${service.toUpperCase()}_PORT`;
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new MailError('BADINPUT', `${name}: expected a port number, got '${v}'`);
  return n;
}

export function resolveConfig(raw: RawConfig, env: NodeJS.ProcessEnv = process.env): Config {
  const ports = {} as Record<ServiceName, number>;
  for (const s of SERVICES) ports[s] = envPort(env, s) ?? raw.ports?.[s] ?? DEFAULT_PORTS[s];
  return {
    hostname: env.POSTINO_HOSTNAME ?? raw.hostname ?? 'localhost',
    node: resolveNode(raw.node, env),
    listen: envAddresses(env, 'POSTINO_LISTEN') ?? addressList(raw.listen) ?? ['127.0.0.1'],
    admin: { listen: envAddresses(env, 'POSTINO_ADMIN_LISTEN') ?? addressList(raw.admin?.listen) ?? ['127.0.0.1'] },
    user: raw.user,
    group: raw.group,
    metrics: { token: raw.metrics?.token },
    storage: resolveStorage(raw.storage, env),
    tls: raw.tls,
    ports,
    limits: {
      messageSize: raw.limits?.messageSize ?? 26_214_400,
      recipients: raw.limits?.recipients ?? 100,
      headerSize: raw.limits?.headerSize ?? DEFAULT_LIMITS.headerSize,
      maxConnections: { ...DEFAULT_LIMITS.maxConnections, ...raw.limits?.maxConnections },
    },
    antivirus: raw.antivirus,
    spam: raw.spam,
    relay: raw.relay,
    submission: {
      checkFrom: raw.submission?.checkFrom ?? true,
      saveSent: raw.submission?.saveSent ?? false,
      limits: {
        messagesPerHour: raw.submission?.limits?.messagesPerHour ?? DEFAULT_SUBMISSION_LIMITS.messagesPerHour,
        recipientsPerMessage: raw.submission?.limits?.recipientsPerMessage ?? DEFAULT_SUBMISSION_LIMITS.recipientsPerMessage,
        recipientsPerDay: raw.submission?.limits?.recipientsPerDay ?? DEFAULT_SUBMISSION_LIMITS.recipientsPerDay,
      },
    },
    dns: { servers: raw.dns?.servers ?? [] },
    smtp: {
      overQuota: raw.smtp?.overQuota ?? 'tempfail',
      dmarcReject: raw.smtp?.dmarcReject ?? false,
      limits: {
        ...(raw.smtp?.greetDelayMs !== undefined ? { greetDelayMs: raw.smtp.greetDelayMs } : {}),
        ...(raw.smtp?.maxConnectionsPerIp !== undefined ? { maxConnectionsPerIp: raw.smtp.maxConnectionsPerIp } : {}),
        ...(raw.smtp?.maxMessagesPerConnection !== undefined ? { maxMessagesPerConnection: raw.smtp.maxMessagesPerConnection } : {}),
      },
    },
    sieve: {
      before: raw.sieve?.before ?? [],
      after: raw.sieve?.after ?? [],
      globalDir: raw.sieve?.globalDir,
      maxScripts: raw.sieve?.maxScripts ?? DEFAULT_SIEVE_QUOTAS.maxScripts,
      maxScriptSize: raw.sieve?.maxScriptSize ?? DEFAULT_SIEVE_QUOTAS.maxScriptSize,
    },
    pop3: { allowPlaintextAuth: raw.pop3?.allowPlaintextAuth ?? false, maxConnections: raw.pop3?.maxConnections ?? 1000 },
    demo: env.POSTINO_DEMO === '0' ? false : (raw.demo ?? true),
  };
}
