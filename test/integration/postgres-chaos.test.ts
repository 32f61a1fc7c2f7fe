// The chaos test of several nodes, its SMTP/LMTP half: deliveries spread
// over two `postino serve` nodes on one PostgreSQL, over SMTP (the MX) and
// LMTP, while node B is killed with SIGKILL several times and started
// again. Afterwards every message that got a 250 is stored exactly once,
// none is stored twice (a message whose 250 never came may be there once,
// or not), and UIDs only increase: 1..n with no gap and no reuse, and a
// message sent after another's 250 has a higher UID.
//
// Every attempt carries a Message-ID of its own; a client whose node died
// goes on with the next message on the other node (never the same one
// again: the first copy may be stored, and a resend would be a second).
//
// POSTINO_CHAOS_COUNT sets the number of deliveries (default 2000, to keep
// CI short; the figure is 10000).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { openDialog, type Dialog } from '../support/smtp-dialog.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { SERVICES } from '../../src/config.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';
import { openPostgresStorage } from '../../storage/postgres/index.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const COUNT = Number(process.env.POSTINO_CHAOS_COUNT ?? 2000);
const CLIENTS = 8;
const KILLS = 3;
const RCPT = 'demo@example.test';

let cluster: PostgresCluster;
let dns: DnsFixture;
before(async () => {
  cluster = await startPostgres();
  dns = await startDnsFixture({ 'chaos.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
});
after(async () => {
  await dns?.close();
  await cluster?.stop();
});

type Proto = 'smtp' | 'lmtp';
type NodeName = 'node-a' | 'node-b';

interface Node {
  served: Served | undefined;
  ports: Record<Proto, number> | undefined;
}

async function portsOf(served: Served): Promise<Record<Proto, number>> {
  const port = async (service: Proto) => Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
  return { smtp: await port('smtp'), lmtp: await port('lmtp') };
}

function message(id: number): string {
  return `From: <c${id}@chaos.test>\r\nTo: <${RCPT}>\r\nSubject: chaos ${id}\r\nMessage-ID: <chaos${id}@chaos.test>\r\n\r\nbody ${id}\r\n`;
}

/** One session's transaction; true on a 250 to the message, false when the node went away (or answered otherwise). */
async function deliver(d: Dialog, proto: Proto, id: number): Promise<boolean> {
  const mail = await d.send(`MAIL FROM:<c${id}@chaos.test>`);
  if (!mail.startsWith('250')) return false;
  const rcpt = await d.send(`RCPT TO:<${RCPT}>`);
  if (!rcpt.startsWith('250')) return false;
  const data = await d.send('DATA');
  if (!data.startsWith('354')) return false;
  const [reply] = await d.data(message(id));
  return reply!.startsWith('250');
}

async function open(port: number, proto: Proto): Promise<Dialog | undefined> {
  try {
    const d = await openDialog(port);
    if (!d.greeting.startsWith('220')) return d.close(), undefined;
    const hello = await d.send(proto === 'lmtp' ? 'LHLO chaos.test' : 'EHLO client.chaos.test');
    if (!hello.startsWith('250')) return d.close(), undefined;
    return d;
  } catch {
    return undefined;
  }
}

test(`chaos: ${COUNT} SMTP and LMTP deliveries over two nodes, one killed with SIGKILL ${KILLS} times and restarted: each 250 stored once, UIDs only increase`, { timeout: 600_000 }, async (t) => {
  const url = await cluster.createDatabase();
  const dirs = { 'node-a': scratchDir(), 'node-b': scratchDir() };
  const nodes: Record<NodeName, Node> = { 'node-a': { served: undefined, ports: undefined }, 'node-b': { served: undefined, ports: undefined } };
  const start = async (name: NodeName) => {
    const dir = dirs[name].dir;
    writeFileSync(
      path.join(dir, 'postino.json'),
      JSON.stringify({
        hostname: 'mx.example.test',
        node: { name },
        storage: { url },
        dns: { servers: dns.servers },
        smtp: { greetDelayMs: 0, maxConnectionsPerIp: 100, maxMessagesPerConnection: 1_000_000 },
      }),
    );
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', dir], freePorts);
    nodes[name].served = served;
    await served.waitFor((e) => e.event === 'ready', 60_000);
    nodes[name].ports = await portsOf(served);
  };
  // Messages by id: the "clock" tick at which it was started and (on a 250) answered.
  let clock = 0;
  const started = new Map<number, number>();
  const answered = new Map<number, number>();
  let next = 0;
  let kills = 0;
  try {
    await start('node-a');
    await start('node-b');

    const worker = async (w: number) => {
      const proto: Proto = w % 2 === 0 ? 'smtp' : 'lmtp';
      let session: { dialog: Dialog; node: NodeName } | undefined;
      while (next < COUNT) {
        const id = next++;
        const wanted: NodeName = id % 2 === 0 ? 'node-a' : 'node-b';
        for (const name of [wanted, wanted === 'node-a' ? 'node-b' : 'node-a'] as NodeName[]) {
          if (session && session.node !== name) {
            session.dialog.close();
            session = undefined;
          }
          const ports = nodes[name].ports;
          if (!session && ports) {
            const dialog = await open(ports[proto], proto);
            if (dialog) session = { dialog, node: name };
          }
          if (session) break;
        }
        if (!session) {
          // Both down for a moment (a restart): the message is never sent.
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        started.set(id, ++clock);
        const ok = await deliver(session.dialog, proto, id).catch(() => false);
        if (ok) answered.set(id, ++clock);
        else {
          session.dialog.close();
          session = undefined;
        }
      }
      session?.dialog.close();
    };

    const killer = async () => {
      for (let k = 1; k <= KILLS; k++) {
        // At 15%, 40%, 65%... of the messages started: a restart takes a few seconds, and must fit before the end.
        while (next < COUNT * (0.15 + (k - 1) * 0.25) && next < COUNT) await new Promise((r) => setTimeout(r, 20));
        if (next >= COUNT) return;
        const b = nodes['node-b'];
        b.ports = undefined;
        b.served!.child.kill('SIGKILL');
        await new Promise<void>((resolve) => (b.served!.child.exitCode !== null || b.served!.child.signalCode !== null ? resolve() : b.served!.child.once('exit', () => resolve())));
        kills++;
        await new Promise((r) => setTimeout(r, 300));
        await start('node-b');
      }
    };

    const began = Date.now();
    await Promise.all([...Array.from({ length: CLIENTS }, (_, w) => worker(w)), killer()]);
    const seconds = (Date.now() - began) / 1000;
    t.diagnostic(`${COUNT} deliveries tried, ${answered.size} answered 250, ${kills} kills, ${seconds.toFixed(1)} s`);
    assert.equal(kills, KILLS, 'the node was killed as often as planned');

    // What is stored, read through the storage port.
    const storage = await openPostgresStorage(url, { nodeName: 'checker' });
    try {
      const account = (await storage.directory.getAccount(RCPT))!;
      const uidOf = new Map<number, number>();
      const copies = new Map<number, number>();
      let inInbox = 0;
      for (const box of await storage.mail.listMailboxes(account.id)) {
        const records = await storage.mail.listMessages(box.id);
        if (box.name === 'INBOX') {
          inInbox = records.length;
          assert.deepEqual(
            records.map((r) => r.uid),
            Array.from({ length: records.length }, (_, i) => i + 1),
            'INBOX UIDs are 1..n: no gap, no reuse',
          );
          assert.equal((await storage.mail.getMailbox(account.id, 'INBOX'))!.uidNext, records.length + 1);
        }
        for (const r of records) {
          const head = (await storage.mail.readMessage(box.id, r.uid, 4096)).toString('latin1');
          const id = Number(/^Message-ID: <chaos(\d+)@chaos\.test>/im.exec(head)?.[1] ?? NaN);
          assert.ok(Number.isInteger(id), `a message of ours in ${box.name} (uid ${r.uid})`);
          assert.equal(box.name, 'INBOX', `chaos ${id} filed in INBOX`);
          copies.set(id, (copies.get(id) ?? 0) + 1);
          uidOf.set(id, r.uid);
        }
      }
      const twice = [...copies].filter(([, n]) => n > 1).map(([id]) => id);
      assert.deepEqual(twice, [], 'no message stored twice');
      const lost = [...answered.keys()].filter((id) => !copies.has(id));
      assert.deepEqual(lost, [], 'every message answered 250 is stored');
      const unanswered = [...copies.keys()].filter((id) => !answered.has(id)).length;
      t.diagnostic(`${inInbox} stored; ${unanswered} of them without a 250 (the node died between its commit and the reply)`);

      // A message started after another's 250 got a higher UID.
      const events: Array<{ at: number; kind: 'start' | 'answer'; id: number }> = [];
      for (const [id, at] of started) events.push({ at, kind: 'start', id });
      for (const [id, at] of answered) events.push({ at, kind: 'answer', id });
      events.sort((x, y) => x.at - y.at);
      let highestAnswered = 0;
      const late: string[] = [];
      for (const e of events) {
        const uid = uidOf.get(e.id);
        if (uid === undefined) continue;
        if (e.kind === 'answer') highestAnswered = Math.max(highestAnswered, uid);
        else if (uid <= highestAnswered && late.length < 5) late.push(`chaos${e.id} uid ${uid} <= ${highestAnswered}`);
      }
      assert.deepEqual(late, [], 'UIDs only increase');
    } finally {
      await storage.end();
    }
  } finally {
    for (const n of Object.values(nodes)) await n.served?.stop().catch(() => null);
    for (const d of Object.values(dirs)) d.cleanup();
  }
});
