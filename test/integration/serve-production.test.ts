// serve as a production service: every configured address bound (the
// "listen" list and POSTINO_LISTEN='a,b'), a privileged port bound as root
// and then the configured user (seen in /proc), and the one-line refusals of
// a start that cannot bind or cannot become that user.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { openDialog, type Dialog } from '../support/smtp-dialog.js';
import { SERVICES } from '../../src/config.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const isRoot = process.getuid?.() === 0;
const SERVICE_USER = 'postino-test';

const children: Served[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
});

function serve(dataDir: string, env: NodeJS.ProcessEnv = {}, config?: string): Served {
  const args = [cliPath, 'serve', '--data', dataDir, ...(config ? ['--config', config] : [])];
  const served = startServe(process.execPath, args, { ...freePorts, ...env });
  children.push(served);
  return served;
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, ipv6Only: host.includes(':') }, () => s.close(() => resolve(true)));
  });
}

/** A second loopback address: ::1 where IPv6 is on, else 127.0.0.2 (Linux answers all of 127/8). */
async function secondLoopback(): Promise<string> {
  return (await canBind('::1', 0)) ? '::1' : '127.0.0.2';
}

/** A port below 1024 free on 127.0.0.1 (25 where nothing has it). */
async function freePrivilegedPort(): Promise<number> {
  for (const p of [25, 587, 465, 143, 993, 110, 995, 24, 26, 27, 29, 31, 33, 35, 37, 39, 41, 43, 45, 47]) if (await canBind('127.0.0.1', p)) return p;
  for (let p = 600; p < 1024; p++) if (await canBind('127.0.0.1', p)) return p;
  throw new Error('no free port below 1024 on 127.0.0.1');
}

/** A system account for the service, made once on this machine (as an administrator would). */
function ensureServiceUser(): { uid: number; gid: number } {
  if (spawnSync('id', ['-u', SERVICE_USER]).status !== 0) {
    execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', SERVICE_USER]);
  }
  const uid = Number(execFileSync('id', ['-u', SERVICE_USER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', SERVICE_USER], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function procIds(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = (name: string) => (status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: line('Uid'), gid: line('Gid'), groups: line('Groups') };
}

async function greeting(port: number, host: string): Promise<string> {
  const d = await openDialog(port, host);
  d.close();
  return d.greeting;
}

/** An SMTP connection that got its 220, kept open. */
async function heldOpen(port: number, host: string): Promise<Dialog> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const d = await openDialog(port, host);
    if (d.greeting.startsWith('220 ')) return d;
    d.close();
    if (Date.now() > deadline) throw new Error(`no 220 from ${host}:${port}: ${d.greeting}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('every service binds every address: "listen" as a list, and POSTINO_LISTEN comma-separated; the admin port keeps admin.listen', { timeout: 90_000 }, async () => {
  const second = await secondLoopback();
  const s = scratchDir();
  try {
    const config = path.join(s.dir, 'postino.json');
    writeFileSync(config, JSON.stringify({ hostname: 'multi.test', listen: ['127.0.0.1', second], limits: { maxConnections: { smtp: 2 } } }));
    for (const [label, env, file] of [
      ['config list', {}, config],
      ['POSTINO_LISTEN', { POSTINO_LISTEN: `127.0.0.1,${second}` }, undefined],
    ] as const) {
      const served = serve(path.join(s.dir, label.replace(/\W/g, '-')), env, file);
      await served.waitFor((e) => e.event === 'ready');
      const listening = served.events.filter((e) => e.event === 'listening');
      for (const service of SERVICES.filter((x) => x !== 'admin')) {
        const of = listening.filter((e) => e.service === service);
        assert.deepEqual(of.map((e) => e.address), ['127.0.0.1', second], `${label}: ${service} on both addresses`);
        assert.equal(of[0]!.port, of[1]!.port, `${label}: ${service} on one port`);
      }
      assert.deepEqual(listening.filter((e) => e.service === 'admin').map((e) => e.address), ['127.0.0.1'], `${label}: admin on admin.listen only`);
      const smtp = Number(listening.find((e) => e.service === 'smtp')!.port);
      assert.match(await greeting(smtp, '127.0.0.1'), /^220 /, `${label}: SMTP answers on 127.0.0.1`);
      assert.match(await greeting(smtp, second), /^220 /, `${label}: SMTP answers on ${second}`);
      if (file) {
        // The service's cap counts connections to every address together.
        // (Retried while the connections of the greetings above are still being counted out.)
        const held = [await heldOpen(smtp, '127.0.0.1'), await heldOpen(smtp, second)];
        assert.match(await greeting(smtp, second), /^421 4\.7\.0 .*Too many connections/, 'the cap of 2 is reached through both addresses');
        for (const d of held) d.close();
      }
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});

test('"listen" with an address that is not one: one clear line, non-zero exit', { timeout: 60_000 }, () => {
  const s = scratchDir();
  try {
    const r = spawnSync(process.execPath, [cliPath, 'serve', '--data', s.dir], {
      env: { ...process.env, ...freePorts, POSTINO_LISTEN: '127.0.0.1;::1' },
      encoding: 'utf8',
      timeout: 50_000,
    });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), "postino serve: POSTINO_LISTEN: expected IP addresses separated by commas, got '127.0.0.1;::1'");
  } finally {
    s.cleanup();
  }
});

test('serve binds a privileged port as root and then runs as the configured user (checked in /proc)', { timeout: 90_000, skip: isRoot ? false : 'needs root' }, async () => {
  const { uid, gid } = ensureServiceUser();
  const port = await freePrivilegedPort();
  const s = scratchDir();
  try {
    chmodSync(s.dir, 0o755);
    const dataDir = path.join(s.dir, 'data');
    // Something a root CLI made before: it is handed to the service user too.
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(path.join(dataDir, 'made-by-root.txt'), 'x');
    const config = path.join(s.dir, 'postino.json');
    writeFileSync(config, JSON.stringify({ hostname: 'mx.test', user: SERVICE_USER }));
    const served = serve(dataDir, { POSTINO_SMTP_PORT: String(port) }, config);
    const dropped = await served.waitFor((e) => e.event === 'privileges-dropped');
    await served.waitFor((e) => e.event === 'ready');
    assert.deepEqual({ user: dropped.user, uid: dropped.uid, gid: dropped.gid }, { user: SERVICE_USER, uid, gid });
    assert.ok(served.events.some((e) => e.event === 'listening' && e.service === 'smtp' && e.port === port), `bound ${port}`);
    assert.ok(!served.events.some((e) => e.event === 'running-as-root'), 'no root warning when a user is configured');

    const ids = procIds(served.child.pid!);
    assert.deepEqual(ids.uid, [uid, uid, uid, uid], 'real, effective, saved and filesystem UID are the service user');
    assert.deepEqual(ids.gid, [gid, gid, gid, gid], 'and the GIDs its group');
    assert.ok(!ids.groups.includes(0), `no root group left: ${ids.groups.join(' ')}`);

    // The data dir is the user's: a message over the privileged port is stored, by that user.
    const d = await openDialog(port);
    assert.match(await d.send('EHLO client.test'), /^250/);
    assert.match(await d.send('MAIL FROM:<someone@remote.test>'), /^250/);
    assert.match(await d.send('RCPT TO:<demo@example.test>'), /^250/);
    assert.match(await d.send('DATA'), /^354/);
    const [reply] = await d.data('Subject: after the drop\r\nMessage-ID: <dropped@remote.test>\r\n\r\nhello\r\n');
    assert.match(reply!, /^250 /);
    d.close();
    const inbox = path.join(dataDir, 'mail', 'example.test', 'demo', 'new');
    const stored = readdirSync(inbox).map((f) => path.join(inbox, f)).filter((f) => readFileSync(f, 'latin1').includes('dropped@remote.test'));
    assert.equal(stored.length, 1);
    assert.equal(statSync(stored[0]!).uid, uid, 'stored by the service user');
    for (const f of ['.', 'postino.sqlite', 'serve.lock', 'made-by-root.txt', 'demo-login.txt', 'mail']) {
      assert.equal(statSync(path.join(dataDir, f)).uid, uid, `${f} belongs to the service user`);
    }
    assert.equal(await served.stop(), 0, 'stops cleanly as the service user');
  } finally {
    s.cleanup();
  }
});

test('the service user starting serve itself on a port below 1024: one line naming CAP_NET_BIND_SERVICE', { timeout: 60_000, skip: isRoot ? false : 'needs root to run serve as the service user' }, async () => {
  const { uid, gid } = ensureServiceUser();
  const port = await freePrivilegedPort();
  const s = scratchDir();
  try {
    chmodSync(s.dir, 0o755);
    const dataDir = path.join(s.dir, 'data');
    mkdirSync(dataDir);
    chownSync(dataDir, uid, gid);
    const r = spawnSync('runuser', ['-u', SERVICE_USER, '--', process.execPath, cliPath, 'serve', '--data', dataDir], {
      env: { ...process.env, ...freePorts, POSTINO_SMTP_PORT: String(port) },
      encoding: 'utf8',
      timeout: 50_000,
    });
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^postino serve: cannot listen on 127\\.0\\.0\\.1:${port} \\(smtp\\): permission denied; .*CAP_NET_BIND_SERVICE`));
    assert.match(lines[0]!, /AmbientCapabilities=CAP_NET_BIND_SERVICE/);
  } finally {
    s.cleanup();
  }
});

test('"user" names an account serve cannot become, or none at all: refused before anything is made', { timeout: 60_000, skip: isRoot ? false : 'needs root to run serve as another user' }, () => {
  ensureServiceUser();
  const s = scratchDir();
  try {
    chmodSync(s.dir, 0o755);
    const config = path.join(s.dir, 'postino.json');
    writeFileSync(config, JSON.stringify({ user: SERVICE_USER }));
    chmodSync(config, 0o644);
    const dataDir = path.join(s.dir, 'data');
    mkdirSync(dataDir);
    chownSync(dataDir, 65534, 65534);
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, cliPath, 'serve', '--data', dataDir, '--config', config], {
      env: { ...process.env, ...freePorts },
      encoding: 'utf8',
      timeout: 50_000,
    });
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      `postino serve: "user": "${SERVICE_USER}" is configured, but serve runs as UID 65534, which cannot become ${SERVICE_USER}: ` +
        `start it as root (it binds its ports, then runs as ${SERVICE_USER}) or as ${SERVICE_USER} itself`,
    );
    assert.deepEqual(readdirSync(dataDir), [], 'nothing made in the data dir');

    writeFileSync(config, JSON.stringify({ user: 'no-such-user-here' }));
    const r2 = spawnSync(process.execPath, [cliPath, 'serve', '--data', dataDir, '--config', config], { env: { ...process.env, ...freePorts }, encoding: 'utf8', timeout: 50_000 });
    assert.equal(r2.status, 1);
    assert.match(r2.stderr.trim(), /^postino serve: "user": "no-such-user-here" in postino\.json: no such user on this machine \(make one: useradd --system /);
  } finally {
    s.cleanup();
  }
});

test('root without "user": it runs, with a warning saying how to give root up', { timeout: 60_000, skip: isRoot ? false : 'needs root' }, async () => {
  const s = scratchDir();
  try {
    const served = serve(s.dir);
    await served.waitFor((e) => e.event === 'ready');
    const warning = served.events.find((e) => e.event === 'running-as-root');
    assert.ok(warning, 'warned');
    assert.equal(warning.level, 40);
    assert.match(String(warning.msg), /set "user" in postino\.json/);
    assert.equal(await served.stop(), 0);
  } finally {
    s.cleanup();
  }
});
