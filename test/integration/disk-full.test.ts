// A real `postino serve` with its data dir on a small tmpfs that fills up
// while mail arrives over SMTP and LMTP and a client stores flags, appends,
// copies, creates and expunges over IMAP. What must hold (issue 10, item 7):
// a delivery gets 250 only when the message is stored and 452/451 otherwise;
// no IMAP command answers SERVERBUG; every message stays readable (FETCH
// BODY[] of all); serve restarts on the full disk and serves IMAP; deliveries
// resume by themselves once the disk has room; nothing acknowledged is lost
// or stored twice, and nothing refused is stored (its sender's retry would
// store it twice). Every acknowledged message is tracked by its Message-ID.
//
// Mounting a tmpfs needs root (CI runs as root); otherwise the test skips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { open, stat, truncate } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startDnsFixture } from '../support/dns-fixture.js';
import { cliPath } from '../support/paths.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { SERVICES } from '../../src/config.js';

const PASSWORD = 'a long enough passphrase 77';
const USER = 'bob@example.test';
/** Small enough to fill in a moment, large enough for the index, its WAL and a few hundred messages. */
const TMPFS_SIZE = '8m';
const IMAP_TIMEOUT_MS = 120_000;
const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));

function tryMount(dir: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return (e.stderr?.toString().trim() || e.message).split('\n')[0];
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

/** A message of about 12 KB whose Message-ID names it. */
function message(id: string): string {
  const body = randomBytes(9000).toString('base64').replace(/.{76}/g, '$&\r\n');
  return `From: <sender@remote.test>\r\nTo: <${USER}>\r\nSubject: disk full ${id}\r\nMessage-ID: <${id}@remote.test>\r\n\r\n${body}\r\n`;
}

/** Message-IDs of every message in a FETCH response, with how often each appears. */
function messageIds(fetched: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of fetched.matchAll(/^Message-ID: <([^>@]+)@remote\.test>\r$/gim)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  return counts;
}

/** Writes the filler file until the disk refuses more (ENOSPC), a chunk at a time so that the server keeps working meanwhile. */
async function fill(file: string, pauseMs = 0): Promise<void> {
  const handle = await open(file, 'a');
  try {
    for (const size of [64 * 1024, 4096, 512]) {
      const chunk = Buffer.alloc(size, 0x55);
      for (;;) {
        try {
          await handle.write(chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    }
  } finally {
    await handle.close();
  }
}

test('a full disk: 452/451 and never 250 for mail not stored, no SERVERBUG, every message readable, serve restarts on it, deliveries resume, nothing lost or doubled', { timeout: 900_000 }, async (t) => {
  const s = scratchDir('postino-disk-full-');
  const mnt = path.join(s.dir, 'mnt');
  mkdirSync(mnt);
  const why = tryMount(mnt);
  if (why !== undefined) {
    s.cleanup();
    t.skip(`cannot mount a tmpfs (needs root): ${why}`);
    return;
  }
  const data = path.join(mnt, 'data');
  const filler = path.join(mnt, 'filler');
  const dns = await startDnsFixture({});
  let served: Served | undefined;
  let imap: RawImap | undefined;
  try {
    mkdirSync(data);
    writeFileSync(path.join(data, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', demo: false, smtp: { greetDelayMs: 0 }, dns: { servers: dns.servers } }));
    const add = postino(data, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);

    // ---- what was acknowledged, refused and answered, over the whole test
    const acked = new Set<string>();
    const refused = new Set<string>();
    const badReplies: string[] = [];
    const imapAppended = new Set<string>();
    const imapRefused = new Set<string>();
    const serverBugs: string[] = [];
    const imapRefusals = new Map<string, number>();
    let sent = 0;

    const start = async () => {
      served = startServe(process.execPath, [cliPath, 'serve', '--data', data], freePorts);
      await served.waitFor((e) => e.event === 'ready', 120_000);
      const port = (service: string) => Number(served!.events.find((e) => e.event === 'listening' && e.service === service)!.port);
      return { smtp: port('smtp'), lmtp: port('lmtp'), imaps: port('imaps') };
    };
    const stop = async () => {
      imap?.close();
      imap = undefined;
      assert.equal(await served!.stop(), 0, served!.stderr());
    };
    let ports = await start();

    /** One message over SMTP or LMTP; records what the server answered. */
    const deliver = async (via: 'smtp' | 'lmtp'): Promise<string> => {
      const id = `${via}-${++sent}`;
      const d = await openDialog(via === 'smtp' ? ports.smtp : ports.lmtp);
      try {
        await d.send(via === 'smtp' ? 'EHLO client.remote.test' : 'LHLO client.remote.test');
        await d.send('MAIL FROM:<sender@remote.test>');
        const rcpt = await d.send(`RCPT TO:<${USER}>`);
        let reply = rcpt;
        if (rcpt.startsWith('250')) {
          const go = await d.send('DATA');
          reply = go.startsWith('354') ? (await d.data(message(id)))[0]! : go;
        }
        if (reply.startsWith('250')) acked.add(id);
        else {
          refused.add(id);
          if (!/^45[12] /.test(reply)) badReplies.push(`${id}: ${reply}`);
        }
        return reply;
      } finally {
        d.close();
      }
    };

    /** An IMAP command; any SERVERBUG (or a dropped session) is recorded. */
    const cmd = async (command: string): Promise<string> => {
      const reply = await imap!.cmd(command, IMAP_TIMEOUT_MS);
      if (/\[SERVERBUG\]|^\* BYE/m.test(reply)) serverBugs.push(`${command.split('\r\n')[0]} -> ${tagged(reply)}`);
      const refusal = / NO (\[\w+\])/.exec(tagged(reply));
      if (refusal) {
        const key = `${command.replace(/^UID /, '').split(' ')[0]} ${refusal[1]}`;
        imapRefusals.set(key, (imapRefusals.get(key) ?? 0) + 1);
      }
      return reply;
    };
    const login = async () => {
      imap = await RawImap.connect(ports.imaps, true);
      assert.match(tagged(await cmd(`LOGIN ${USER} "${PASSWORD}"`)), / OK /);
      assert.match(tagged(await cmd('SELECT INBOX')), / OK /);
    };

    /** Every message of the selected mailbox in full (FETCH BODY[], as a client reads mail): must answer OK, one response each. */
    const readAll = async (): Promise<Map<string, number>> => {
      const selected = await cmd('SELECT INBOX');
      assert.match(tagged(selected), / OK /);
      const exists = Number(/^\* (\d+) EXISTS/m.exec(selected)![1]);
      const reply = await cmd('FETCH 1:* (UID BODY[])');
      assert.match(tagged(reply), / OK /, `FETCH BODY[] of all: ${tagged(reply)}`);
      const responses = reply.match(/^\* \d+ FETCH /gm)?.length ?? 0;
      assert.equal(responses, exists, 'one FETCH response per message');
      return messageIds(reply);
    };

    /** Acknowledged mail is there exactly once; refused mail is not there at all. */
    const checkStored = (ids: Map<string, number>, when: string) => {
      for (const id of [...acked, ...imapAppended]) assert.equal(ids.get(id), 1, `${when}: ${id} was acknowledged and must be stored once`);
      for (const id of [...refused, ...imapRefused]) assert.equal(ids.get(id), undefined, `${when}: ${id} was refused and must not be stored`);
      for (const [id, n] of ids) assert.equal(n, 1, `${when}: ${id} stored ${n} times`);
    };

    // ---- before: the disk has room
    for (let i = 0; i < 10; i++) assert.match(await deliver(i % 2 ? 'lmtp' : 'smtp'), /^250 /);
    await login();

    // ---- the disk fills while mail arrives and the client works
    let filled = false;
    const filling = (async () => {
      await fill(filler, 2);
      // Near full is where writes fail half-way (the message file fits, the index's WAL cannot grow): free a little, fill again.
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 300));
        await truncate(filler, (await stat(filler)).size - 256 * 1024);
        await new Promise((r) => setTimeout(r, 300));
        await fill(filler, 2);
      }
      filled = true;
    })();
    const until = async (work: () => Promise<void>, roundsAfterFull: number) => {
      let after = 0;
      for (let i = 0; i < 2000 && after < roundsAfterFull; i++) {
        await work();
        if (filled) after++;
      }
    };
    const senders = (['smtp', 'lmtp'] as const).map((via) => until(async () => void (await deliver(via)), 15));
    let round = 0;
    const client = until(async () => {
      round++;
      const uids = [...(await cmd('UID SEARCH ALL')).matchAll(/^\* SEARCH((?: \d+)*)/gm)].flatMap((m) => m[1]!.trim().split(' ')).filter(Boolean);
      const some = uids[round % Math.max(1, uids.length)] ?? '1';
      await cmd(`STORE 1:* ${round % 2 ? '+' : '-'}FLAGS (\\Flagged kw${round % 40})`);
      await cmd(`UID STORE ${some} +FLAGS (\\Seen $Label${round % 7})`);
      const id = `imap-${round}`;
      const raw = message(id);
      const appended = await cmd(`APPEND INBOX (\\Seen) {${Buffer.byteLength(raw)}+}\r\n${raw}`);
      const uid = /\[APPENDUID \d+ (\d+)\]/.exec(appended)?.[1];
      if (uid !== undefined) imapAppended.add(id);
      else imapRefused.add(id);
      await cmd(`UID COPY ${some} Trash`);
      await cmd(`CREATE Folder${round}`);
      // Expunge every other appended message again (a client deleting its own draft).
      if (uid !== undefined && round % 2 === 0) {
        const flagged = await cmd(`UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
        if (/ OK /.test(tagged(flagged)) && / OK /.test(tagged(await cmd(`UID EXPUNGE ${uid}`)))) imapAppended.delete(id);
      }
      await cmd('FETCH 1:* (UID FLAGS)');
    }, 5);
    await Promise.all([...senders, client, filling]);

    t.diagnostic(`while filling: ${acked.size} deliveries stored, ${refused.size} deferred; ${imapAppended.size + imapRefused.size} APPENDs, ${imapRefused.size} refused; ${round} client rounds; IMAP refusals: ${[...imapRefusals].map(([k, n]) => `${k} x${n}`).join(', ')}`);
    assert.deepEqual(badReplies, [], 'deliveries answered 250, 452 or 451 only');
    assert.ok(refused.size > 0, 'some deliveries met the full disk');
    // What the server logged of any SERVERBUG, so a failure says where it came from.
    for (const e of served!.events.filter((x) => x.event === 'imap-error')) t.diagnostic(`imap-error ${String(e.command)}: ${String(e.err)}`);
    assert.deepEqual(serverBugs, [], 'no IMAP command answered SERVERBUG');

    // ---- on the full disk: everything stays readable, deliveries are deferred
    await fill(filler); // whatever the server freed since (failed writes clean up after themselves)
    checkStored(await readAll(), 'on the full disk');
    assert.match(tagged(await cmd('SELECT Trash')), / OK /);
    assert.match(tagged(await cmd('FETCH 1:* BODY[]')), / OK /);
    assert.match(tagged(await cmd('SELECT INBOX')), / OK /);
    assert.match(await deliver('smtp'), /^452 4\.3\.1 /);
    assert.match(await deliver('lmtp'), /^452 4\.3\.1 /);
    assert.ok(served!.events.some((e) => e.event === 'disk-full'), 'the condition is logged');

    // ---- serve restarts on the full disk and serves what is stored
    await stop();
    await fill(filler); // closing the index freed its WAL
    ports = await start();
    t.diagnostic(`restart on the full disk: ${served!.events.filter((e) => e.event === 'disk-full').map((e) => e.step ?? 'store').join(', ')}`);
    await login();
    checkStored(await readAll(), 'after a restart on the full disk');
    assert.match(tagged(await cmd('SEARCH SUBJECT "disk full"')), / OK /);
    assert.match(await deliver('smtp'), /^452 4\.3\.1 /);

    // ---- room again: deliveries resume by themselves, no restart
    rmSync(filler);
    let resumed = '';
    for (let i = 0; i < 20 && !resumed.startsWith('250'); i++) {
      resumed = await deliver(i % 2 ? 'lmtp' : 'smtp');
      if (!resumed.startsWith('250')) await new Promise((r) => setTimeout(r, 500));
    }
    assert.match(resumed, /^250 /, 'a delivery is stored once there is room');
    assert.match(await deliver('lmtp'), /^250 /);
    assert.ok(served!.events.some((e) => e.event === 'disk-space-back'), 'the recovery is logged');
    const id = 'imap-after';
    const raw = message(id);
    assert.match(tagged(await cmd(`APPEND INBOX {${Buffer.byteLength(raw)}+}\r\n${raw}`)), / OK /);
    imapAppended.add(id);
    assert.match(tagged(await cmd('STORE 1:* +FLAGS (\\Answered)')), / OK /);
    checkStored(await readAll(), 'once there is room');

    // ---- a restart with room: recover() finds nothing half-done (no orphan to adopt, no row without its file)
    await stop();
    ports = await start();
    const recovered = served!.events.filter((e) => e.event === 'recovered');
    assert.deepEqual(recovered, [], 'nothing for recover() to adopt or drop');
    await login();
    checkStored(await readAll(), 'after a restart with room');
    assert.deepEqual(serverBugs, [], 'no IMAP command answered SERVERBUG');
    await stop();
  } finally {
    imap?.close();
    if (served && served.child.exitCode === null) await served.stop();
    await dns.close();
    unmount(mnt);
    s.cleanup();
  }
});

test('serve starts on a disk that was full before it started: index for itself alone, certificate in memory, IMAP served, deliveries deferred then stored', { timeout: 300_000 }, async (t) => {
  const s = scratchDir('postino-disk-full-');
  const mnt = path.join(s.dir, 'mnt');
  mkdirSync(mnt);
  const why = tryMount(mnt);
  if (why !== undefined) {
    s.cleanup();
    t.skip(`cannot mount a tmpfs (needs root): ${why}`);
    return;
  }
  const data = path.join(mnt, 'data');
  const filler = path.join(mnt, 'filler');
  const dns = await startDnsFixture({});
  let served: Served | undefined;
  try {
    mkdirSync(data);
    writeFileSync(path.join(data, 'postino.json'), JSON.stringify({ hostname: 'mx.example.test', smtp: { greetDelayMs: 0 }, dns: { servers: dns.servers } }));
    // The CLI made the account; serve never ran (no certificate yet), and the index was closed cleanly (no -shm).
    assert.equal(postino(data, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`).code, 0);
    await fill(filler);
    served = startServe(process.execPath, [cliPath, 'serve', '--data', data], freePorts);
    await served.waitFor((e) => e.event === 'ready', 120_000);
    const steps = served.events.filter((e) => e.event === 'disk-full').map((e) => String(e.step ?? 'store'));
    t.diagnostic(`logged: ${steps.join(', ')}`);
    assert.ok(steps.includes('open-index'), 'the index is opened in exclusive mode, and the log says so');
    assert.ok(steps.includes('tls'), 'the certificate serves from memory, and the log says so');
    const port = (service: string) => Number(served!.events.find((e) => e.event === 'listening' && e.service === service)!.port);

    const deliver = async (id: string) => {
      const d = await openDialog(port('smtp'));
      try {
        await d.send('EHLO client.remote.test');
        await d.send('MAIL FROM:<sender@remote.test>');
        assert.match(await d.send(`RCPT TO:<${USER}>`), /^250 /);
        assert.match(await d.send('DATA'), /^354 /);
        return (await d.data(message(id)))[0]!;
      } finally {
        d.close();
      }
    };
    const imap = await RawImap.connect(port('imaps'), true);
    try {
      assert.match(tagged(await imap.cmd(`LOGIN ${USER} "${PASSWORD}"`, IMAP_TIMEOUT_MS)), / OK /);
      assert.match(tagged(await imap.cmd('SELECT INBOX', IMAP_TIMEOUT_MS)), / OK /);
      assert.match(await deliver('early'), /^452 4\.3\.1 /);
      rmSync(filler);
      assert.match(await deliver('later'), /^250 /);
      assert.match(tagged(await imap.cmd('NOOP', IMAP_TIMEOUT_MS)), / OK /); // the session learns of it
      const fetched = await imap.cmd('FETCH 1:* BODY[]', IMAP_TIMEOUT_MS);
      assert.match(tagged(fetched), / OK /);
      assert.deepEqual([...messageIds(fetched)], [['later', 1]]);
    } finally {
      imap.close();
    }
    assert.equal(await served.stop(), 0);
    // With room, the next start saves a certificate and shares the index again.
    served = startServe(process.execPath, [cliPath, 'serve', '--data', data], freePorts);
    await served.waitFor((e) => e.event === 'ready', 120_000);
    assert.deepEqual(served.events.filter((e) => e.event === 'disk-full'), []);
    assert.equal(postino(data, ['user', 'list', '--json']).code, 0, 'the CLI works beside serve again');
    assert.equal(await served.stop(), 0);
  } finally {
    if (served && served.child.exitCode === null) await served.stop();
    await dns.close();
    unmount(mnt);
    s.cleanup();
  }
});

test('a first start on a full disk makes no half demo: it is skipped and logged, and made whole at the next start with room', { timeout: 300_000 }, async (t) => {
  const s = scratchDir('postino-disk-full-');
  const mnt = path.join(s.dir, 'mnt');
  mkdirSync(mnt);
  const why = tryMount(mnt);
  if (why !== undefined) {
    s.cleanup();
    t.skip(`cannot mount a tmpfs (needs root): ${why}`);
    return;
  }
  const data = path.join(mnt, 'data');
  const filler = path.join(mnt, 'filler');
  let served: Served | undefined;
  try {
    // An index with no domain yet (any CLI command makes it), then the disk fills.
    assert.equal(postino(data, ['domain', 'list']).code, 0);
    await fill(filler);
    served = startServe(process.execPath, [cliPath, 'serve', '--data', data], freePorts);
    await served.waitFor((e) => e.event === 'ready', 120_000);
    assert.ok(served.events.some((e) => e.event === 'disk-full' && e.step === 'demo'));
    assert.ok(!served.events.some((e) => e.event === 'demo'));
    assert.equal(await served.stop(), 0);
    rmSync(filler);
    assert.equal(postino(data, ['domain', 'list', '--json']).stdout.trim(), '[]', 'no domain half made');
    served = startServe(process.execPath, [cliPath, 'serve', '--data', data], freePorts);
    const demo = await served.waitFor((e) => e.event === 'demo', 120_000);
    await served.waitFor((e) => e.event === 'ready', 120_000);
    assert.equal(await served.stop(), 0);
    assert.equal(postino(data, ['user', 'list', '--json']).code, 0);
    assert.match(String(demo.login), /^demo@/);
  } finally {
    if (served && served.child.exitCode === null) await served.stop();
    unmount(mnt);
    s.cleanup();
  }
});
