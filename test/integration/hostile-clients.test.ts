// A stranger must not be able to stall or exhaust `postino serve`: a message
// with a 1 MB header line full of bare CRs leaves IMAP responsive, a 1 GB DATA
// is refused with 552 without being held in memory, a client that hangs up in
// the middle of DATA is a normal event, not an error, each service has a cap
// on its connections, and an IMAP client that sends without reading is not
// read from either.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { cliPath } from '../support/paths.js';
import { RawImap, tagged } from './imap-raw-client.js';
import { SERVICES } from '../../src/config.js';

const PASSWORD = 'tangerine-otter-42';
const MESSAGE_SIZE = 26_214_400;

/** Resident memory of a process (kB), current or peak. */
function memoryKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU time (user + system, ms) of a process's main thread, the one that runs its event loop. */
function mainThreadCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux architecture this runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Resets the peak (VmHWM) to the current RSS; false where the kernel does not allow it. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** One SMTP connection driven by hand, for bodies too big for the dialog helper. */
class RawSmtp {
  greeting = '';
  private text = '';
  private waiters: Array<() => void> = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.text += d.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawSmtp> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const c = new RawSmtp(socket);
    c.greeting = await c.reply();
    return c;
  }

  /** The next complete reply (multi-line replies joined). */
  async reply(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.text);
      if (m) {
        this.text = this.text.slice(m[0].length);
        return m[0].trimEnd();
      }
      if (this.closed) return '(connection closed)';
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SMTP reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async send(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** Writes respecting backpressure. */
  async write(data: Buffer): Promise<void> {
    if (this.closed) throw new Error('connection closed while writing');
    if (!this.socket.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('hostile clients against postino serve', { timeout: 600_000 }, () => {
  const s = scratchDir();
  let served: Served;
  let dns: DnsFixture;
  let smtpPort = 0;
  let imapPort = 0;
  let imapsPort = 0;

  before(async () => {
    // The senders' domains have no DNS records: the checks answer "none" at once.
    dns = await startDnsFixture({});
    writeFileSync(
      path.join(s.dir, 'postino.json'),
      JSON.stringify({
        hostname: 'mx.example.test',
        smtp: { greetDelayMs: 0 },
        limits: { messageSize: MESSAGE_SIZE, maxConnections: { smtp: 3, lmtp: 3, imap: 3 } },
        dns: { servers: dns.servers },
      }),
    );
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', 'bob@example.test', '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const env = { ...Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0' };
    served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], env);
    smtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
    imapPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imap')).port);
    imapsPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
    await served.waitFor((e) => e.event === 'ready');
  });

  after(async () => {
    // A server stuck in a loop never handles SIGTERM: do not hang the suite on it.
    const killer = setTimeout(() => served.child.kill('SIGKILL'), 20_000);
    await served.stop();
    clearTimeout(killer);
    await dns.close();
    s.cleanup();
  });

  test('a 1 MB header line of bare CRs, then the worst header under the limit: IMAP NOOP answers within 100 ms throughout', async (t) => {
    const imap = await RawImap.connect(imapsPort, true);
    assert.match(tagged(await imap.cmd(`LOGIN bob@example.test "${PASSWORD}"`)), /OK/);
    assert.match(tagged(await imap.cmd('SELECT INBOX')), /OK/);

    const message = (subject: string, header: string) =>
      Buffer.from(`From: <eve@nowhere.test>\r\nTo: <bob@example.test>\r\nSubject: ${subject}\r\n${header}\r\nbody\r\n.\r\n`, 'latin1');
    // Long runs ended by a bare CR: the worst case of a backtracking line
    // splitter (each start position scans to the CR), in a forged
    // Authentication-Results field and in an ordinary one; then a run of
    // bare CRs alone. Over the header limit: refused, or stored.
    const run = 'x'.repeat(100_000) + '\r';
    const huge = message('huge', `Authentication-Results: mx.example.test; ${run.repeat(5)}\r\nX-Hostile: ${run.repeat(4)}${'\r'.repeat(100_000)}x\r\n`);
    assert.ok(huge.length > 1_000_000);
    // The same shapes just under the header limit (256 KiB): stored.
    const worst = message(
      'worst',
      `Authentication-Results: mx.example.test; ${'x'.repeat(50_000)}\r\r\n` +
        `X-Runs: ${('x'.repeat(25_000) + '\r').repeat(4)}\r\n` +
        `X-Crs: a${'\r'.repeat(100_000)}x\r\n`,
    );
    assert.ok(worst.length > 250_000 && worst.length < 256 * 1024);

    const smtp = await RawSmtp.connect(smtpPort);
    await smtp.send('EHLO client.nowhere.test');

    // NOOP round trips, one after another, for as long as the deliveries run;
    // for each, the CPU time the server's main thread (its event loop) used
    // meanwhile. On a quiet machine the two are the same thing; on a loaded
    // one the wall time also counts the time the server was not scheduled.
    const pid = served.child.pid!;
    let delivering = true;
    const probes: Array<{ wall: number; cpu: number }> = [];
    const probe = (async () => {
      while (delivering) {
        const t = performance.now();
        const c = mainThreadCpuMs(pid);
        const r = await imap.cmd('NOOP', 30_000);
        probes.push({ wall: performance.now() - t, cpu: mainThreadCpuMs(pid) - c });
        assert.match(tagged(r), /OK/);
      }
    })();
    const replies: string[] = [];
    for (const m of [huge, worst]) {
      assert.match(await smtp.send('MAIL FROM:<eve@nowhere.test>'), /^250/);
      assert.match(await smtp.send('RCPT TO:<bob@example.test>'), /^250/);
      assert.match(await smtp.send('DATA'), /^354/);
      await smtp.write(m);
      replies.push(await smtp.reply(120_000));
    }
    delivering = false;
    await probe;
    await smtp.send('QUIT');
    smtp.close();

    assert.ok(probes.length >= 1, 'NOOP ran during the deliveries');
    t.diagnostic(`${probes.length} NOOPs, slowest ${Math.max(...probes.map((p) => p.wall)).toFixed(1)} ms; most server CPU in one ${Math.max(...probes.map((p) => p.cpu))} ms`);
    // Each NOOP answered within 100 ms, or (machine overloaded) the server's
    // event loop used less than 100 ms of CPU while the client waited.
    const stalls = probes.filter((p) => p.wall >= 100 && p.cpu >= 100);
    const slowest = probes.reduce((a, b) => (b.wall > a.wall ? b : a));
    assert.deepEqual(stalls, [], `NOOPs held up by the server (slowest ${slowest.wall.toFixed(1)} ms, ${slowest.cpu} ms CPU, of ${probes.length}); replies ${replies.join(' | ')}`);

    // Each message is stored (250) or refused for good (5xx), never left in between.
    assert.match(replies[0]!, /^(250|5\d\d) /);
    assert.match(replies[1]!, /^250 /);
    const stored = replies.filter((r) => r.startsWith('250')).length;
    const search = await imap.cmd('SEARCH ALL');
    assert.equal(/\* SEARCH([ \d]*)/.exec(search)?.[1]?.trim().split(' ').filter(Boolean).length ?? 0, stored);
    const head = await imap.cmd(`FETCH ${stored} BODY.PEEK[HEADER]`, 30_000);
    assert.match(head, /Subject: worst/);
    assert.ok(head.includes(`X-Crs: a${'\r'.repeat(100_000)}x`), 'the bare CRs are kept as they came');
    // Our own name in a sender's Authentication-Results is a forgery: that field is gone.
    assert.equal(head.match(/Authentication-Results: mx\.example\.test/g)?.length, 1, 'only our own field');
    assert.match(head, /dkim=none/);
    await imap.cmd('LOGOUT');
    imap.close();
  });

  test('a 1 GB DATA is read to its end without being held: 552 5.3.4, peak memory growth under 50 MB', async (t) => {
    const pid = served.child.pid!;
    const smtp = await RawSmtp.connect(smtpPort);
    await smtp.send('EHLO client.nowhere.test');
    assert.match(await smtp.send('MAIL FROM:<eve@nowhere.test>'), /^250/);
    assert.match(await smtp.send('RCPT TO:<bob@example.test>'), /^250/);
    assert.match(await smtp.send('DATA'), /^354/);

    // The server settles, then its peak is measured from here.
    await new Promise((r) => setTimeout(r, 500));
    const baseline = memoryKb(pid, 'VmRSS');
    const peakReset = resetPeak(pid);
    let sampledPeak = baseline;
    const sampler = setInterval(() => {
      sampledPeak = Math.max(sampledPeak, memoryKb(pid, 'VmRSS'));
    }, 20);

    // 64 KiB of 998-character lines, sent again and again: 1 GiB generated on the fly.
    const line = Buffer.from('y'.repeat(998) + '\r\n', 'latin1');
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => line));
    const total = 1024 * 1024 * 1024;
    await smtp.write(Buffer.from('Subject: huge\r\n\r\n'));
    for (let sent = 0; sent < total; sent += chunk.length) await smtp.write(chunk);
    await smtp.write(Buffer.from('.\r\n'));
    const reply = await smtp.reply(120_000);
    clearInterval(sampler);
    sampledPeak = Math.max(sampledPeak, memoryKb(pid, 'VmRSS'));
    const peak = peakReset ? Math.max(memoryKb(pid, 'VmHWM'), sampledPeak) : sampledPeak;

    assert.match(reply, /^552 5\.3\.4 /);
    // The connection goes on: the next transaction works.
    assert.match(await smtp.send('RSET'), /^250/);
    await smtp.send('QUIT');
    smtp.close();
    const growthMb = (peak - baseline) / 1024;
    t.diagnostic(`peak memory growth ${growthMb.toFixed(1)} MB over ${(baseline / 1024).toFixed(1)} MB (${peakReset ? 'VmHWM' : 'sampled VmRSS'})`);
    assert.ok(growthMb < 50, `peak memory grew by ${growthMb.toFixed(1)} MB (baseline ${(baseline / 1024).toFixed(1)} MB)`);
  });

  test('a client that hangs up in the middle of DATA is logged at info with its address, never as an error', async () => {
    const before = served.events.length;
    const smtp = await RawSmtp.connect(smtpPort);
    await smtp.send('EHLO client.nowhere.test');
    assert.match(await smtp.send('MAIL FROM:<eve@nowhere.test>'), /^250/);
    assert.match(await smtp.send('RCPT TO:<bob@example.test>'), /^250/);
    assert.match(await smtp.send('DATA'), /^354/);
    await smtp.write(Buffer.from('Subject: half a message\r\n\r\nthe first lines, and then'));
    await new Promise((r) => setTimeout(r, 200));
    smtp.close();
    const gone = await served.waitFor((e) => e.event === 'smtp-client-gone', 10_000);
    assert.equal(gone.level, 30);
    assert.equal(gone.ip, '127.0.0.1');
    // Give any late error line a moment to show up.
    await new Promise((r) => setTimeout(r, 300));
    const errors = served.events.slice(before).filter((e) => Number(e.level) >= 50);
    assert.deepEqual(errors, []);
  });

  test('limits.maxConnections: SMTP refuses the connection over the cap with 421, IMAP and IMAPS share theirs', async () => {
    const held = await Promise.all([0, 1, 2].map(() => RawSmtp.connect(smtpPort)));
    const refused = await RawSmtp.connect(smtpPort);
    assert.match(refused.greeting, /^421 4\.7\.0 mx\.example\.test Too many connections, try again later$/);
    assert.equal(await refused.reply(5000), '(connection closed)');
    held[0]!.close();
    await new Promise((r) => setTimeout(r, 200));
    const again = await RawSmtp.connect(smtpPort);
    assert.match(await again.send('EHLO client.nowhere.test'), /^250/);
    for (const c of [...held, again]) c.close();

    const imap = [await RawImap.connect(imapPort, false), await RawImap.connect(imapsPort, true), await RawImap.connect(imapPort, false)];
    await assert.rejects(RawImap.connect(imapPort, false), /BYE \[UNAVAILABLE\] Too many connections, try again later|closed/);
    await assert.rejects(RawImap.connect(imapsPort, true), /closed|socket|ECONNRESET|disconnected/i);
    imap[1]!.close();
    await new Promise((r) => setTimeout(r, 200));
    const back = await RawImap.connect(imapsPort, true);
    assert.match(tagged(await back.cmd('NOOP')), /OK/);
    for (const c of [imap[0]!, imap[2]!, back]) c.close();
  });

  test('an IMAP client that keeps sending and never reads is not read from either: memory stays flat', async (t) => {
    const pid = served.child.pid!;
    const socket = net.connect(imapPort, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.pause(); // never read: the answers pile up on the server's side
    await new Promise((r) => setTimeout(r, 200));
    const baseline = memoryKb(pid, 'VmRSS');
    const peakReset = resetPeak(pid);
    // CAPABILITY is allowed before login and answers ten times what it costs to send.
    const chunk = Buffer.from('a CAPABILITY\r\n'.repeat(4096));
    let sent = 0;
    while (sent < 256 * 1024 * 1024) {
      if (!socket.write(chunk)) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => socket.once('drain', () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
        ]);
        if (!drained) break; // the server stopped reading
      }
      sent += chunk.length;
    }
    const peak = peakReset ? memoryKb(pid, 'VmHWM') : memoryKb(pid, 'VmRSS');
    socket.destroy();
    const growthMb = (peak - baseline) / 1024;
    t.diagnostic(`sent ${(sent / 1024 / 1024).toFixed(1)} MB before the server stopped reading; peak memory growth ${growthMb.toFixed(1)} MB`);
    assert.ok(sent < 256 * 1024 * 1024, 'the server stops reading from a client that does not read');
    assert.ok(growthMb < 50, `peak memory grew by ${growthMb.toFixed(1)} MB`);
    // The server is still there for others.
    const other = await RawImap.connect(imapsPort, true);
    assert.match(tagged(await other.cmd('NOOP')), /OK/);
    other.close();
  });
});
