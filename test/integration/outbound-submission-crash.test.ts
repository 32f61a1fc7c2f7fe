// SIGKILL of a real `postino serve` in the middle of a run of authenticated
// submissions (8 connections, STARTTLS + AUTH) relayed to a sink smarthost:
// after the restart every message that got its 250 reaches the smarthost,
// and a message reaches it twice only if its 250 from the smarthost had not
// been recorded when serve died (the SMTP window no queue can close); the
// sink counts. This is the path the group commit and the runner's in-memory
// view of the queue changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { startSink } from '../support/sink-smtp.js';
import { cliPath } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';

const USER = 'sender@example.test';
const PASSWORD = 'violet-harbor-93-quartz';
const RELAY_AUTH = { username: 'relay-user', password: 'relay-secret-42' };
const COUNT = 300;

function serve(dir: string): Served {
  const env = { ...Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0' };
  return startServe(process.execPath, [cliPath, 'serve', '--data', dir], env);
}

async function submissionPortOf(served: Served): Promise<number> {
  const port = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'submission', 60_000)).port);
  await served.waitFor((e) => e.event === 'ready', 60_000);
  return port;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const subjectOf = (raw: Buffer) => /\r\nSubject: ([^\r\n]*)/.exec(`\r\n${raw.toString('latin1')}`)?.[1];
/** The SMTP id of the submission (the Received field serve added: "with ESMTPSA id ..."). */
const smtpIdOf = (raw: Buffer) => /with E?SMTPS?A? id (\S+?);?\r\n/.exec(raw.toString('latin1'))?.[1];

test('SIGKILL of serve mid-run (submissions arriving, the queue relaying): no accepted message lost, none whose send was recorded sent twice', { timeout: 300_000 }, async (t) => {
  const s = scratchDir();
  const sink = await startSink({ tls: 'starttls', requireTls: true, auth: RELAY_AUTH });
  let served: Served | undefined;
  try {
    const ca = path.join(s.dir, 'sink-ca.pem');
    writeFileSync(ca, sink.cert);
    writeFileSync(
      path.join(s.dir, 'postino.json'),
      JSON.stringify({
        hostname: 'mx.example.test',
        dns: { servers: ['127.0.0.1:9'] },
        submission: { limits: { messagesPerHour: 1_000_000, recipientsPerDay: 1_000_000 } },
        relay: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'starttls', ...RELAY_AUTH, ca }, schedule: { retrySeconds: [1] } },
      }),
    );
    const added = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(added.code, 0, added.stderr);

    served = serve(s.dir);
    const killed = served;
    const port = await submissionPortOf(killed);
    const client = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASSWORD },
      pool: true,
      maxConnections: 8,
      maxMessages: Infinity,
    });
    const accepted = new Set<string>();
    let next = 0;
    let dead = false;
    const worker = async () => {
      while (!dead && next < COUNT) {
        const subject = `crash ${String(next++).padStart(3, '0')}`;
        const raw = `From: <${USER}>\r\nTo: <rcpt@remote.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\n${'body line\r\n'.repeat(400)}`;
        try {
          await client.sendMail({ envelope: { from: USER, to: ['rcpt@remote.test'] }, raw });
          accepted.add(subject);
        } catch {
          // serve died under this one: no 250, so the client owns it (it may or may not have been queued)
        }
      }
    };
    const workers = Promise.all(Array.from({ length: 8 }, worker));
    // The kill lands while submissions still arrive and the queue is relaying.
    await until(() => sink.messages.length >= 40 || next >= COUNT, 120_000, 'some messages relayed');
    killed.child.kill('SIGKILL');
    await new Promise((resolve) => killed.child.once('exit', resolve));
    dead = true;
    await workers;
    client.close();
    served = undefined;
    const recorded = new Set(killed.events.filter((e) => e.event === 'outbound-attempt' && e.status === 'sent').map((e) => String(e.smtpId)));
    const atKill = sink.messages.length;

    served = serve(s.dir);
    await submissionPortOf(served);
    const receivedSubjects = () => new Set(sink.messages.map((m) => subjectOf(m.raw)));
    await until(() => [...accepted].every((x) => receivedSubjects().has(x)), 120_000, 'every accepted message at the smarthost');
    await until(() => (JSON.parse(postino(s.dir, ['queue', 'list', '--json']).stdout) as unknown[]).length === 0, 120_000, 'an empty queue');

    const count = new Map<string, number>();
    for (const m of sink.messages) count.set(subjectOf(m.raw)!, (count.get(subjectOf(m.raw)!) ?? 0) + 1);
    const lost = [...accepted].filter((x) => !count.has(x));
    assert.deepEqual(lost, [], 'no accepted message lost');
    const twice = sink.messages.filter((m) => count.get(subjectOf(m.raw)!)! > 1);
    for (const m of twice) {
      const id = smtpIdOf(m.raw);
      assert.ok(id, 'the Received field names the SMTP id');
      assert.ok(!recorded.has(id), `${subjectOf(m.raw)} came twice although its relay was recorded before the kill`);
    }
    const repeated = new Set(twice.map((m) => subjectOf(m.raw))).size;
    t.diagnostic(`accepted before the kill: ${accepted.size} of ${next} tried; at the smarthost at the kill: ${atKill}, recorded as sent: ${recorded.size}; at the end: ${count.size} distinct, repeated: ${repeated}`);
    // At most the entries in flight at the kill (16 at once) can repeat.
    assert.ok(repeated <= 16, `${repeated} repeated`);
    assert.ok(accepted.size > 0 && atKill > 0, 'the kill landed mid-run');
  } finally {
    await served?.stop();
    await sink.stop();
    s.cleanup();
  }
});
