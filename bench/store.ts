// Stores 10,000 4 KB messages through the MailStore (fsync on, as in
// production) and prints messages per second.
// usage: npm run bench:store [-- COUNT [IN_FLIGHT]]  (UV_THREADPOOL_SIZE as serve sets it: 32)
import { performance } from 'node:perf_hooks';
import { openStorage } from '../storage/index.js';
import { makeMessage } from '../test/support/messages.js';
import { makeScratchDir, removeScratch, waitForQuietDisk } from './scratch.js';

const count = Number(process.argv[2] ?? 10_000);
const inFlight = Number(process.argv[3] ?? 64);
await waitForQuietDisk();
const dir = makeScratchDir('postino-bench-store-');
const storage = openStorage(dir);
await storage.directory.addDomain('example.test');
const account = await storage.directory.addAccount({ address: 'bench@example.test', passwordHash: 'x', scramSha256: null, quota: null });
await storage.mail.provisionAccount(account.id);

const messages = Array.from({ length: 64 }, (_, i) => makeMessage(`bench-${i}`, 4096));
const latencies: number[] = [];
let next = 0;
const started = process.hrtime.bigint();
const elu0 = performance.eventLoopUtilization();
async function lane(): Promise<void> {
  while (next < count) {
    const i = next++;
    const t0 = process.hrtime.bigint();
    await storage.mail.append(account.id, 'INBOX', messages[i % messages.length]!);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
await Promise.all(Array.from({ length: inFlight }, lane));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const elu = performance.eventLoopUtilization(elu0).utilization;
latencies.sort((a, b) => a - b);
const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
const inbox = (await storage.mail.getMailbox(account.id, 'INBOX'))!;
console.log(`store: ${count} messages of 4 KB, ${inFlight} in flight, fsync on`);
console.log(`store: ${(count / seconds).toFixed(0)} messages/s (${seconds.toFixed(2)} s), latency p50 ${p(0.5)} ms p99 ${p(0.99)} ms`);
console.log(`store: index holds ${inbox.messages} messages, UIDNEXT ${inbox.uidNext}; event loop busy ${(elu * 100).toFixed(0)}% of the time`);
storage.close();
removeScratch();
