// A scratch Dovecot (the Debian package) with LMTP and IMAP on loopback
// high ports, passwd-file users and Maildirs under one temp dir: the
// reference LMTP store for benches and comparisons. Nothing under
// /etc/dovecot or /var is read or written.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { findProgram } from './postfix.js';

export interface DovecotOptions {
  /** Full addresses (user@domain); each gets a home with a Maildir. */
  users: string[];
  /** The password of every user (PLAIN in the passwd file). */
  password?: string;
  /** A Sieve script (text) every user gets as the active one; runs on LMTP delivery via Pigeonhole (dovecot-sieve). */
  sieveScript?: string;
  /** Extra top-level config lines. */
  extraConf?: string;
  keep?: boolean;
  /** Where the scratch directory goes (default: the OS temp directory). */
  scratchRoot?: string;
  /** PEM files for an IMAPS listener (imapsPort); without them there is none and no TLS at all. */
  tls?: { certFile: string; keyFile: string };
  /** A POP3 listener too (dovecot-pop3d), on pop3Port. */
  pop3?: boolean;
}

export interface RunningDovecot {
  lmtpPort: number;
  imapPort: number;
  /** 0 unless `tls` was given. */
  imapsPort: number;
  /** 0 unless `pop3` was given. */
  pop3Port: number;
  password: string;
  dir: string;
  /** The master process (its children are the protocol processes). */
  pid: number;
  /** The Maildir of a user (cur/new/tmp inside). */
  maildirOf(user: string): string;
  logText(): string;
  /** SIGTERM to the master (it takes its children down), SIGKILL after 10 s; removes the dir. Idempotent. */
  stop(): Promise<void>;
}

export function dovecotInstalled(): boolean {
  return findProgram('dovecot') !== undefined && existsSync('/usr/lib/dovecot/lmtp');
}

function homeName(user: string): string {
  return user.replace(/[^A-Za-z0-9@._+-]/g, '_');
}

/** Starts Dovecot. Throws (never skips) when it is missing or will not start. */
export async function startDovecotLmtp(opts: DovecotOptions): Promise<RunningDovecot> {
  const bin = findProgram('dovecot');
  if (!bin) throw new Error('dovecot is not installed (apt-get install dovecot-core dovecot-lmtpd dovecot-imapd)');
  const password = opts.password ?? 'dovecot-test-password';
  const dir = mkdtempSync(path.join(opts.scratchRoot ?? tmpdir(), 'postino-dovecot-'));
  // The auth process runs as the dovecot user and reads the passwd file.
  chmodSync(dir, 0o755);
  const [lmtpPort, imapPort] = [await freePort(), await freePort()];
  const imapsPort = opts.tls ? await freePort() : 0;
  const pop3Port = opts.pop3 ? await freePort() : 0;
  mkdirSync(path.join(dir, 'run'));
  mkdirSync(path.join(dir, 'state'));
  const homes = path.join(dir, 'home');
  mkdirSync(homes);

  // Dovecot refuses mail access as root: as root, mail is stored as nobody.
  let uid = process.getuid?.() ?? 0;
  let gid = process.getgid?.() ?? 0;
  const asRoot = uid === 0;
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
  }
  const maildirOf = (user: string) => path.join(homes, homeName(user), 'Maildir');
  const lines: string[] = [];
  for (const user of opts.users) {
    const home = path.join(homes, homeName(user));
    for (const d of ['cur', 'new', 'tmp']) mkdirSync(path.join(home, 'Maildir', d), { recursive: true });
    lines.push(`${user}:{PLAIN}${password}::::${home}::`);
    if (opts.sieveScript !== undefined) writeFileSync(path.join(home, '.dovecot.sieve'), opts.sieveScript);
  }
  if (opts.sieveScript !== undefined && !existsSync('/usr/lib/dovecot/modules/lib90_sieve_plugin.so')) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error('a Sieve script needs Pigeonhole: apt-get install dovecot-sieve');
  }
  writeFileSync(path.join(dir, 'passwd'), lines.join('\n') + '\n');
  if (asRoot) execFileSync('chown', ['-R', `${uid}:${gid}`, homes]);

  const conf = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
info_log_path = ${dir}/dovecot.log
protocols = lmtp imap${opts.pop3 ? ' pop3' : ''}
listen = 127.0.0.1
${opts.tls ? `ssl = yes\nssl_cert = <${opts.tls.certFile}\nssl_key = <${opts.tls.keyFile}` : 'ssl = no'}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_uid = ${uid}
mail_gid = ${gid}
first_valid_uid = ${uid}
first_valid_gid = ${gid}
${asRoot ? '' : `default_internal_user = ${userInfo().username}\ndefault_login_user = ${userInfo().username}\n`}passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u ${dir}/passwd
}
protocol lmtp {
  postmaster_address = postmaster@localhost
${opts.sieveScript !== undefined ? '  mail_plugins = $mail_plugins sieve\n' : ''}}
${opts.sieveScript !== undefined ? 'plugin {\n  sieve = file:~/sieve;active=~/.dovecot.sieve\n}\n' : ''}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
  unix_listener lmtp {
    mode = 0600
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
${opts.tls ? `    address = 127.0.0.1\n    port = ${imapsPort}\n    ssl = yes` : '    port = 0'}
  }
  chroot =
}
service anvil {
  chroot =
}
${opts.pop3 ? `service pop3-login {\n  inet_listener pop3 {\n    address = 127.0.0.1\n    port = ${pop3Port}\n  }\n  inet_listener pop3s {\n    port = 0\n  }\n  chroot =\n}\n` : ''}
${opts.extraConf ?? ''}
`;
  writeFileSync(path.join(dir, 'dovecot.conf'), conf);

  const logPath = path.join(dir, 'dovecot.log');
  let finalLog: string | undefined;
  const logText = () => finalLog ?? (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const child = spawn(bin, ['-c', path.join(dir, 'dovecot.conf'), '-F'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    finalLog = logText();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      Promise.all([waitForPort(lmtpPort, 15_000), waitForPort(imapPort, 15_000), ...(imapsPort ? [waitForPort(imapsPort, 15_000)] : []), ...(pop3Port ? [waitForPort(pop3Port, 15_000)] : [])]),
      exited.then(() => {
        throw new Error('dovecot exited');
      }),
    ]);
  } catch (e) {
    const log = logText();
    await stop();
    throw new Error(`dovecot did not start (${(e as Error).message}): ${output}\n${log}`);
  }
  return { lmtpPort, imapPort, imapsPort, pop3Port, password, dir, pid: child.pid!, maildirOf, logText, stop };
}
