// A scratch Postfix (the Debian package) on loopback, for tests and benches
// that need a real MTA in front of an LMTP server. Everything it owns lives
// under one temp dir given to `postfix -c`: main.cf, master.cf, queue,
// data and log. /etc/postfix and the system queue are never written (the
// package's postfix-files under meta_directory is only read by `check`).
// It accepts mail for one domain on 127.0.0.1:<free port> and hands all of
// it to lmtp:inet:127.0.0.1:<lmtpPort>; anything else bounces through the
// error transport, so nothing ever leaves the machine.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './free-port.js';

export interface PostfixOptions {
  /** The one domain Postfix accepts mail for (virtual_mailbox_domains). */
  domain: string;
  /** Where it delivers: lmtp:inet:127.0.0.1:lmtpPort. */
  lmtpPort: number;
  /** Extra main.cf lines (`name = value`), after the defaults. */
  extraMain?: Record<string, string>;
  /** Keep the scratch dir after stop() (for debugging). */
  keep?: boolean;
}

export interface RunningPostfix {
  /** Postfix's smtpd, on 127.0.0.1. */
  smtpPort: number;
  /** The scratch dir: etc/ (main.cf, master.cf, given to -c), queue/, data/, maillog. */
  dir: string;
  /** `postfix stop`, then SIGKILL to any process of this instance still alive; removes the dir. Idempotent. */
  stop(): Promise<void>;
  /** The instance's maillog so far (kept after stop()). */
  logText(): string;
  /** Runs `postfix -c DIR/etc <args>` (e.g. ['flush']) and returns its output. */
  control(args: string[]): { code: number; output: string };
}

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** The path of a program in PATH or an sbin directory, or undefined. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SBIN];
  for (const d of dirs) {
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function postfixInstalled(): boolean {
  return findProgram('postfix') !== undefined;
}

function mainCf(dir: string, smtpPort: number, opts: PostfixOptions): string {
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: path.join(dir, 'queue'),
    data_directory: path.join(dir, 'data'),
    maillog_file: path.join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    // No syslog here; postlogd writes maillog_file.
    postlog_service_name: 'postlog',
    myhostname: 'postfix.scratch.test',
    mydomain: 'scratch.test',
    myorigin: '$myhostname',
    inet_interfaces: 'loopback-only',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    mydestination: '',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    relay_domains: '',
    relayhost: '',
    virtual_mailbox_domains: opts.domain,
    virtual_mailbox_maps: '',
    virtual_alias_maps: '',
    virtual_transport: `lmtp:inet:127.0.0.1:${opts.lmtpPort}`,
    // Nothing leaves: every non-local destination fails at once.
    default_transport: 'error:outbound mail is disabled in this scratch Postfix',
    relay_transport: 'error:outbound mail is disabled in this scratch Postfix',
    smtpd_reject_unlisted_recipient: 'no',
    // Not even loopback clients may relay: only the one domain is accepted.
    smtpd_relay_restrictions: 'reject_unauth_destination',
    smtpd_recipient_restrictions: '',
    smtpd_peername_lookup: 'no',
    smtp_host_lookup: 'native',
    lmtp_host_lookup: 'native',
    disable_dns_lookups: 'yes',
    biff: 'no',
    // Fail fast in tests instead of retrying for days.
    maximal_queue_lifetime: '1h',
    bounce_queue_lifetime: '1h',
    queue_run_delay: '5s',
    minimal_backoff_time: '5s',
    maximal_backoff_time: '10s',
    lmtp_tls_security_level: 'none',
    smtpd_tls_security_level: 'none',
    message_size_limit: '52428800',
    ...opts.extraMain,
  };
  return Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
}

// Only the services this instance needs; chroot off (column 5 = n), since
// the scratch queue has no chroot jail of libraries and /etc files.
function masterCf(smtpPort: number): string {
  const rows = [
    `127.0.0.1:${smtpPort} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'smtp unix - - n - - smtp',
    'relay unix - - n - - smtp',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'lmtp unix - - n - - lmtp',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
  ];
  return rows.join('\n') + '\n';
}

function run(postfix: string, dir: string, args: string[]): { code: number; output: string } {
  const r = spawnSync(postfix, ['-c', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, MAIL_CONFIG: dir },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** PIDs of processes started for this instance: postfix exports MAIL_CONFIG=dir to the master and its children. */
function instancePids(dir: string): number[] {
  const marker = `MAIL_CONFIG=${dir}\0`;
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1') + '\0';
      if (env.includes(marker)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids.filter((p) => p !== process.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a scratch Postfix. Throws (never skips) when Postfix is missing or
 * will not start; the error carries `postfix check` output and the maillog.
 */
export async function startPostfix(opts: PostfixOptions): Promise<RunningPostfix> {
  const postfix = findProgram('postfix');
  if (!postfix) throw new Error('postfix is not installed (apt-get install postfix); this test needs the real MTA');
  if (process.getuid?.() !== 0) throw new Error('a scratch Postfix must be started as root');

  const dir = mkdtempSync(path.join(tmpdir(), 'postino-postfix-'));
  // The daemons run as the postfix user and must reach the queue inside.
  chmodSync(dir, 0o755);
  const smtpPort = await freePort();
  // The config dir apart from the queue, else `postfix check` walks into the queue and warns about it.
  const etc = path.join(dir, 'etc');
  mkdirSync(etc, { mode: 0o755 });
  writeFileSync(path.join(etc, 'main.cf'), mainCf(dir, smtpPort, opts));
  writeFileSync(path.join(etc, 'master.cf'), masterCf(smtpPort));
  mkdirSync(path.join(dir, 'queue'), { mode: 0o755 });
  writeFileSync(path.join(dir, 'maillog'), '');

  const logPath = path.join(dir, 'maillog');
  let finalLog: string | undefined;
  const logText = () => finalLog ?? (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    run(postfix, etc, ['stop']);
    const deadline = Date.now() + 10_000;
    let pids = instancePids(etc);
    while (pids.some(alive) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      pids = instancePids(etc);
    }
    for (const pid of instancePids(etc)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    finalLog = logText();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };

  const check = run(postfix, etc, ['check']);
  if (check.code !== 0) {
    const log = logText();
    await stop();
    throw new Error(`postfix -c ${etc} check failed (${check.code}):\n${check.output}\n${log}`);
  }
  const start = run(postfix, etc, ['start']);
  if (start.code !== 0) {
    const log = logText();
    await stop();
    throw new Error(`postfix -c ${etc} start failed (${start.code}):\n${start.output}\n${log}`);
  }
  try {
    await waitForPort(smtpPort, 20_000, logText);
  } catch (e) {
    await stop();
    throw e;
  }
  return { smtpPort, dir, stop, logText, control: (args) => run(postfix, etc, args) };
}
