// The life of a real `postino serve` process: SIGHUP reloads the config and
// the certificate (new connections use them, open sessions go on, a broken
// config is refused and the running one kept), one serve per data dir, SIGTERM
// ends idle SMTP/LMTP/IMAP sessions with 421/BYE and exits 0 soon, and start-up
// failures (a port below 1024, a port in use, an unusable index) say what is
// wrong in one line.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { openDialog } from '../support/smtp-dialog.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { SERVICES } from '../../src/config.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));

const children: Served[] = [];

function serve(dataDir: string, env: NodeJS.ProcessEnv = {}): Served {
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', dataDir], { ...freePorts, ...env });
  children.push(served);
  return served;
}

// A failed test must not leave a serve behind (it would keep this file running).
afterEach(() => {
  for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
});

async function portOf(served: Served, service: string): Promise<number> {
  const e = await served.waitFor((x) => x.event === 'listening' && x.service === service);
  return Number(e.port);
}

/** A fresh self-signed certificate written over dir/server.crt and dir/server.key (as certbot renews); its SHA-256 fingerprint. */
function renewCertificate(dir: string, name: string): string {
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  const tmpCert = path.join(dir, 'new.crt');
  const tmpKey = path.join(dir, 'new.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', tmpKey, '-out', tmpCert],
    { stdio: 'ignore' },
  );
  writeFileSync(key, readFileSync(tmpKey));
  writeFileSync(cert, readFileSync(tmpCert));
  return new X509Certificate(readFileSync(cert)).fingerprint256;
}

/** Reads a socket's text until a pattern shows up (bounded wait). */
function reader(socket: net.Socket): (re: RegExp) => Promise<string> {
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  return async (re) => {
    const deadline = Date.now() + 20_000;
    while (!re.test(text)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(text)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const out = text;
    text = '';
    return out;
  };
}

async function connected(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    socket.once(event, () => resolve());
    socket.once('error', reject);
  });
}

/** The certificate a new implicit-TLS connection is shown. */
async function implicitTlsFingerprint(port: number): Promise<string> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await connected(socket, 'secureConnect');
  const fp = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fp;
}

/** The certificate a new STARTTLS upgrade is shown (IMAP or SMTP). */
async function startTlsFingerprint(port: number, protocol: 'imap' | 'smtp'): Promise<string> {
  const plain = net.connect(port, '127.0.0.1');
  await connected(plain, 'connect');
  const read = reader(plain);
  if (protocol === 'imap') {
    await read(/^\* OK .*\r\n/m);
    plain.write('s STARTTLS\r\n');
    await read(/^s OK .*\r\n/m);
  } else {
    await read(/^220 .*\r\n/m);
    plain.write('EHLO client.test\r\n');
    await read(/^250 .*\r\n/m);
    plain.write('STARTTLS\r\n');
    await read(/^220 .*\r\n/m);
  }
  plain.removeAllListeners('data');
  const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
  await connected(secure, 'secureConnect');
  const fp = secure.getPeerCertificate().fingerprint256;
  secure.destroy();
  return fp;
}

async function smtpGreeting(port: number): Promise<string> {
  const d = await openDialog(port);
  d.close();
  return d.greeting;
}

test('SIGHUP reloads the certificate and the config for new connections; open sessions go on; a broken config is refused', { timeout: 120_000 }, async () => {
  const s = scratchDir();
  try {
    const certA = renewCertificate(s.dir, 'cert-a.test');
    const configFile = path.join(s.dir, 'postino.json');
    const tlsFiles = { cert: path.join(s.dir, 'server.crt'), key: path.join(s.dir, 'server.key') };
    writeFileSync(configFile, JSON.stringify({ hostname: 'before.test', tls: tlsFiles }));
    const served = serve(s.dir);
    const demo = await served.waitFor((e) => e.event === 'demo');
    await served.waitFor((e) => e.event === 'ready');
    const [imap, imaps, smtp] = [await portOf(served, 'imap'), await portOf(served, 'imaps'), await portOf(served, 'smtp')];
    assert.equal(await implicitTlsFingerprint(imaps), certA);
    assert.match(await smtpGreeting(smtp), /^220 before\.test /);

    // An IMAP session and an SMTP session opened before the reload.
    const session = await RawImap.connect(imaps, true);
    assert.match(tagged(await session.cmd(`LOGIN ${String(demo.login)} ${String(demo.password)}`)), /OK/);
    assert.match(tagged(await session.cmd('SELECT INBOX')), /OK/);
    const smtpSession = await openDialog(smtp);
    assert.match(await smtpSession.send('EHLO early.test'), /^250-before\.test/);

    // certbot renews: new files, then SIGHUP. The config changes too.
    const certB = renewCertificate(s.dir, 'cert-b.test');
    assert.notEqual(certB, certA);
    writeFileSync(configFile, JSON.stringify({ hostname: 'after.test', tls: tlsFiles }));
    served.child.kill('SIGHUP');
    const reloaded = await served.waitFor((e) => e.event === 'reloaded');
    assert.equal(reloaded.certificate, certB, 'the log names the certificate now in use');
    assert.deepEqual(reloaded.needsRestart, []);

    assert.equal(await implicitTlsFingerprint(imaps), certB, 'a new IMAPS connection gets the new certificate');
    assert.equal(await startTlsFingerprint(imap, 'imap'), certB, 'IMAP STARTTLS too');
    assert.equal(await startTlsFingerprint(smtp, 'smtp'), certB, 'SMTP STARTTLS too');
    assert.match(await smtpGreeting(smtp), /^220 after\.test /, 'new SMTP sessions use the new hostname');
    assert.match(tagged(await session.cmd('NOOP')), /OK/, 'the open session goes on');
    assert.match(tagged(await session.cmd('STATUS INBOX (MESSAGES)')), /OK/);
    assert.match(await smtpSession.send('EHLO early.test'), /^250-before\.test/, 'the open SMTP session goes on, as it began');

    // A config that does not parse, one that does not validate, a key that does not
    // match its certificate: each refused with a logged error, the running one kept.
    const refusals = () => served.events.filter((e) => e.event === 'reload-refused').length;
    const broken: Array<() => void> = [
      () => writeFileSync(configFile, '{ "hostname": "broken.test", '),
      () => writeFileSync(configFile, JSON.stringify({ hostname: 'broken.test', limits: { messageSize: -1 } })),
      () => {
        writeFileSync(configFile, JSON.stringify({ hostname: 'broken.test', tls: tlsFiles }));
        const other = scratchDir();
        renewCertificate(other.dir, 'cert-c.test');
        writeFileSync(tlsFiles.key, readFileSync(path.join(other.dir, 'server.key')));
        other.cleanup();
      },
    ];
    for (const [i, breakIt] of broken.entries()) {
      breakIt();
      served.child.kill('SIGHUP');
      const refused = await served.waitFor((e) => e.event === 'reload-refused' && refusals() === i + 1);
      assert.equal(refused.level, 50, 'logged at error level');
      assert.match(String(refused.msg), /reload refused, the running configuration stays: /);
      assert.equal(await implicitTlsFingerprint(imaps), certB, 'still serving the last good certificate');
      assert.match(await smtpGreeting(smtp), /^220 after\.test /, 'and the last good config');
      assert.match(tagged(await session.cmd('NOOP')), /OK/);
    }
    assert.match(String(served.events.filter((e) => e.event === 'reload-refused')[0]!.err), /not valid JSON/);
    assert.match(String(served.events.filter((e) => e.event === 'reload-refused')[1]!.err), /limits\.messageSize/);
    assert.match(String(served.events.filter((e) => e.event === 'reload-refused')[2]!.err), /unusable TLS certificate or key/);

    // Settings bound to a socket: logged as needing a restart, old value kept, the rest applied.
    renewCertificate(s.dir, 'cert-d.test');
    writeFileSync(configFile, JSON.stringify({ hostname: 'later.test', listen: '127.0.0.2', tls: tlsFiles }));
    served.child.kill('SIGHUP');
    const later = await served.waitFor((e) => e.event === 'reloaded' && e.certificate !== certB);
    assert.deepEqual(later.needsRestart, ['listen']);
    const warn = served.events.find((e) => e.event === 'reload-needs-restart');
    assert.deepEqual(warn?.settings, ['listen']);
    assert.match(await smtpGreeting(smtp), /^220 later\.test /, 'still listening on 127.0.0.1, with the new hostname');

    session.close();
    assert.equal(await served.stop(), 0, 'SIGTERM after all that still exits 0');
    // The 421 came unasked; the dialog hands it out as the next reply.
    assert.match(await smtpSession.send('NOOP'), /^421 4\.3\.2 /, 'a session from before the reloads is ended too');
    smtpSession.close();
  } finally {
    s.cleanup();
  }
});

test('a second serve on the same data dir exits non-zero naming the PID that holds it; the CLI keeps working', { timeout: 90_000 }, async () => {
  const s = scratchDir();
  try {
    const first = serve(s.dir);
    await first.waitFor((e) => e.event === 'ready');
    const second = serve(s.dir);
    // 'close': stderr is read to its end.
    const code = await new Promise<number | null>((resolve) => second.child.on('close', (c) => resolve(c)));
    assert.notEqual(code, 0);
    assert.equal(
      second.stderr().trim(),
      `postino serve: ${s.dir} is in use by another postino serve (PID ${first.child.pid}); stop it first, or give this one another --data`,
    );
    assert.ok(!second.events.some((e) => e.event === 'listening'), 'the second one never listened');

    // Commands other than serve share the index with it by design.
    const add = postino(s.dir, ['user', 'add', 'second@example.test', '--password-stdin'], 'a-long-enough-secret\n');
    assert.equal(add.code, 0, add.stderr);
    assert.match(postino(s.dir, ['user', 'list']).stdout, /second@example\.test/);

    // A holder killed outright leaves no stale lock behind.
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const third = serve(s.dir);
    await third.waitFor((e) => e.event === 'ready');
    assert.equal(readFileSync(path.join(s.dir, 'serve.pid'), 'utf8').trim(), String(third.child.pid));
    assert.equal(await third.stop(), 0);
  } finally {
    s.cleanup();
  }
});

test('SIGTERM with idle SMTP, LMTP and IMAP clients: each hears 421 4.3.2 or BYE, a message in flight finishes, exit 0 soon', { timeout: 90_000 }, async () => {
  const s = scratchDir();
  try {
    const served = serve(s.dir);
    await served.waitFor((e) => e.event === 'ready');
    const [smtp, lmtp, imap] = [await portOf(served, 'smtp'), await portOf(served, 'lmtp'), await portOf(served, 'imap')];
    const idleSmtp = await openDialog(smtp);
    assert.match(await idleSmtp.send('EHLO idle.test'), /^250/);
    const idleLmtp = await openDialog(lmtp);
    assert.match(await idleLmtp.send('LHLO idle.test'), /^250/);
    const idleImap = await RawImap.connect(imap, false);

    // A client half-way through DATA when the signal comes.
    const busy = await openDialog(smtp);
    await busy.send('EHLO busy.test');
    assert.match(await busy.send('MAIL FROM:<sender@remote.test>'), /^250/);
    assert.match(await busy.send('RCPT TO:<demo@example.test>'), /^250/);
    assert.match(await busy.send('DATA'), /^354/);
    const busyReplies: string[] = [];

    const started = Date.now();
    served.child.kill('SIGTERM');
    await served.waitFor((e) => e.event === 'signal' && e.signal === 'SIGTERM');
    // The rest of the message, after the server began to stop: it may still finish.
    busyReplies.push(...(await busy.data('Subject: in flight\r\nMessage-ID: <in-flight@remote.test>\r\n\r\nhello\r\n')));

    const [smtpBye, lmtpBye] = await Promise.all([idleSmtp.send('NOOP'), idleLmtp.send('NOOP')]);
    assert.match(smtpBye, /^421 4\.3\.2 /, `idle SMTP client: ${smtpBye}`);
    assert.match(lmtpBye, /^421 4\.3\.2 /, `idle LMTP client: ${lmtpBye}`);
    await idleImap.waitFor(/^\* BYE .*\r\n/m);
    const code = await served.stop();
    const took = Date.now() - started;
    assert.equal(code, 0);
    // The drain bound is 5 s (idle sessions do not wait for it); 35 s before the fix.
    assert.ok(took < 20_000, `exit took ${took} ms`);
    assert.match(busyReplies[0]!, /^250 /, `the message in flight was accepted: ${busyReplies[0]}`);
    assert.match(await busy.send('NOOP'), /^421 4\.3\.2 |connection closed/);
    for (const d of [idleSmtp, idleLmtp, busy]) d.close();
    idleImap.close();

    // Accepted means stored, once.
    const stored = execFileSync('grep', ['-rl', 'in-flight@remote.test', path.join(s.dir, 'mail')], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(stored.length, 1);
  } finally {
    s.cleanup();
  }
});

const isRoot = process.getuid?.() === 0;

test('serve as an unprivileged user on a port below 1024 says what is wrong and how to fix it', { timeout: 60_000, skip: isRoot ? false : 'needs root to run serve as the unprivileged user nobody' }, async () => {
  const s = scratchDir();
  try {
    const dataDir = path.join(s.dir, 'data');
    mkdirSync(dataDir);
    chmodSync(s.dir, 0o755);
    chownSync(dataDir, 65534, 65534);
    const started = Date.now();
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, cliPath, 'serve', '--data', dataDir], {
      env: { ...process.env, ...freePorts, POSTINO_SMTP_PORT: '25' },
      encoding: 'utf8',
      timeout: 50_000,
    });
    assert.notEqual(r.status, 0);
    assert.ok(Date.now() - started < 45_000, 'it exits instead of hanging');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^postino serve: cannot listen on 127\.0\.0\.1:25 \(smtp\): permission denied; /);
    assert.match(lines[0]!, /CAP_NET_BIND_SERVICE/);
    assert.match(lines[0]!, /setcap 'cap_net_bind_service=\+ep' \$\(which node\)/);
    assert.match(lines[0]!, /port of 1024 or above/);
    assert.doesNotMatch(r.stderr, /internal error/);
  } finally {
    s.cleanup();
  }
});

test('a port already in use: one clear line, non-zero exit, nothing left running', { timeout: 60_000 }, async () => {
  const s = scratchDir();
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as net.AddressInfo).port;
  try {
    // imap starts after smtp and lmtp: those must be closed again for the process to end.
    const r = spawnSync(process.execPath, [cliPath, 'serve', '--data', s.dir], {
      env: { ...process.env, ...freePorts, POSTINO_IMAP_PORT: String(taken) },
      encoding: 'utf8',
      timeout: 50_000,
    });
    assert.notEqual(r.status, 0, 'exits by itself');
    assert.equal(r.signal, null, 'not killed by the timeout');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^postino serve: cannot listen on 127\\.0\\.0\\.1:${taken} \\(imap\\): the address is already in use`));
  } finally {
    blocker.close();
    s.cleanup();
  }
});

test('the CLI says why it cannot open the index', { timeout: 60_000 }, () => {
  const s = scratchDir();
  try {
    // The index path is a directory.
    const dirIndex = path.join(s.dir, 'a');
    mkdirSync(path.join(dirIndex, 'postino.sqlite'), { recursive: true });
    const r1 = postino(dirIndex, ['user', 'list']);
    assert.equal(r1.code, 1);
    assert.equal(
      r1.stderr.trim(),
      `postino user list: cannot open the index ${dirIndex}/postino.sqlite: SQLITE_CANTOPEN: unable to open database file ` +
        `(EISDIR: illegal operation on a directory, open '${dirIndex}/postino.sqlite')`,
    );

    // A data dir path that cannot exist (under a file).
    const file = path.join(s.dir, 'file');
    writeFileSync(file, '');
    const r2 = postino(path.join(file, 'data'), ['user', 'list']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr.trim(), /^postino user list: cannot create the data directory .*\/file\/data: ENOTDIR: not a directory/);

    // A data dir this user may not write (root may write anywhere: run as nobody).
    if (isRoot) {
      const locked = path.join(s.dir, 'locked');
      mkdirSync(locked, { mode: 0o755 });
      chmodSync(s.dir, 0o755);
      const r3 = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, cliPath, 'user', 'list', '--data', locked], { encoding: 'utf8' });
      assert.equal(r3.status, 1);
      assert.equal(
        r3.stderr.trim(),
        `postino user list: cannot open the index ${locked}/postino.sqlite: SQLITE_CANTOPEN: unable to open database file ` +
          `(EACCES: permission denied, access '${locked}')`,
      );
    }
  } finally {
    s.cleanup();
  }
});
