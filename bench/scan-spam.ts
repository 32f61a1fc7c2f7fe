// Spam scanning bench (issue 14; the spam rows of bench/scan.ts, kept in a
// file of their own): COUNT messages of 4 KB to one local account over
// CONNECTIONS concurrent SMTP connections against a real `postino serve`,
// with spam scoring off, with the builtin rules, with a real spamd and a
// real rspamd; printing messages/s for each, each daemon's own time per
// message (straight to it, same concurrency), and what the scanning stage
// adds per message beyond the engine's own time (the bound: 5 ms).
// The rows take turns over ROUNDS rounds, each keeping its best.
//
// usage: node dist/bench/scan-spam.js [COUNT [CONNECTIONS]]   (200 and 4 by default)
import { startDnsFixture } from '../test/support/dns-fixture.js';
import { makeMessage } from '../test/support/messages.js';
import { openDialog } from '../test/support/smtp-dialog.js';
import { startSpamd, startSpamMx, type SpamMx } from '../test/support/spamd.js';
import { startRspamd } from '../test/support/rspamd.js';
import { SpamdScanner } from '../src/scan/spamd.js';
import { RspamdScanner } from '../src/scan/rspamd.js';
import type { Scanner } from '../src/scan/scanner.js';

const COUNT = Number(process.argv[2] ?? 200);
const CONNECTIONS = Number(process.argv[3] ?? 4);
const WARMUP = Math.min(20, Math.ceil(COUNT / 10));
const ROUNDS = 2;

async function smtpRate(mx: SpamMx, count: number): Promise<number> {
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const d = await openDialog(mx.smtp);
      try {
        await d.send('EHLO bench.test');
        while (next < count) {
          const id = `spam-bench-${next++}`;
          await d.send('MAIL FROM:<sender@remote.test>');
          await d.send('RCPT TO:<bob@example.test>');
          await d.send('DATA');
          const [reply] = await d.data(makeMessage(id).toString('latin1'));
          if (!reply?.startsWith('250')) throw new Error(`${id}: ${reply}`);
        }
      } finally {
        d.close();
      }
    }),
  );
  return count / ((Date.now() - started) / 1000);
}

/** The engine's own rate for the same message at the same concurrency. */
async function engineRate(scanner: Scanner, count: number): Promise<number> {
  const raw = makeMessage('engine-only');
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next++ < count) {
        const r = await scanner.scan({ raw }, { deadline: Date.now() + 30_000 });
        if (r.verdict.kind !== 'score') throw new Error(JSON.stringify(r.verdict));
      }
    }),
  );
  return count / ((Date.now() - started) / 1000);
}

const dns = await startDnsFixture({});
const spamd = await startSpamd();
const rspamd = await startRspamd();
const servers: Array<[string, SpamMx]> = [];
const engines: Array<[string, Scanner]> = [
  ['spamd alone', new SpamdScanner({ host: '127.0.0.1', port: spamd.port })],
  ['rspamd alone', new RspamdScanner({ host: '127.0.0.1', port: rspamd.port })],
];
const best = new Map<string, number>();
try {
  for (const [name, spam] of [
    ['spam off', undefined],
    ['builtin', { engine: 'builtin' }],
    ['spamd', { engine: 'spamd', host: '127.0.0.1', port: spamd.port, rejectScore: 1000 }],
    ['rspamd', { engine: 'rspamd', host: '127.0.0.1', port: rspamd.port, rejectScore: 1000 }],
  ] as const) {
    const mx = await startSpamMx(spam as Record<string, unknown>, dns.servers);
    servers.push([`smtp, ${name}`, mx]);
    await smtpRate(mx, WARMUP);
  }
  for (const [, s] of engines) await engineRate(s, WARMUP);
  const keep = (name: string, rate: number) => best.set(name, Math.max(best.get(name) ?? 0, rate));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, mx] of servers) keep(name, await smtpRate(mx, COUNT));
    for (const [name, s] of engines) keep(name, await engineRate(s, COUNT));
  }
} finally {
  for (const [, mx] of servers) await mx.stop();
  await spamd.stop();
  await rspamd.stop();
  await dns.close();
}

const perMsg = (name: string) => (1000 * CONNECTIONS) / best.get(name)!;
console.log(`${COUNT} messages of 4 KB, ${CONNECTIONS} connections, best of ${ROUNDS} rounds`);
for (const [name, rate] of best) console.log(`${name.padEnd(24)} ${rate.toFixed(0).padStart(6)} msg/s  ${perMsg(name).toFixed(2).padStart(8)} ms/msg per connection`);
const off = perMsg('smtp, spam off');
console.log(`builtin adds ${(perMsg('smtp, builtin') - off).toFixed(2)} ms per message (bound: 5 ms)`);
for (const engine of ['spamd', 'rspamd']) {
  const added = perMsg(`smtp, ${engine}`) - off;
  const own = perMsg(`${engine} alone`);
  console.log(`${engine} adds ${added.toFixed(2)} ms per message; its own time ${own.toFixed(2)} ms; beyond it: ${(added - own).toFixed(2)} ms (bound: 5 ms)`);
}
