// CPU cost of the MX sender checks (SPF, DKIM, ARC, DMARC through mailauth)
// for one 4 KB unsigned message, DNS answered by the in-process fixture and
// then from the resolver's cache, as on a busy MX.
//
// usage: node dist/bench/sender-checks.js [COUNT]
import { makeMessage } from '../test/support/messages.js';
import { startDnsFixture } from '../test/support/dns-fixture.js';
import { createDnsResolver } from '../src/net/dns.js';
import { checkSender, removeOwnAuthResults, VerdictCache } from '../src/mx/sender-auth.js';
import { parseMessage } from '../mime/index.js';

const count = Number(process.argv[2] ?? 5000);
const dns = await startDnsFixture({
  'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] },
  'bench.remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] },
  '_dmarc.remote.test': { TXT: ['v=DMARC1; p=none'] },
});
const resolver = createDnsResolver(dns.servers);
const cache = new VerdictCache();
const messages = Array.from({ length: 200 }, (_, i) => makeMessage(`sc-${i}`, 4096));
const input = (i: number) => ({ message: parseMessage(messages[i % messages.length]!), ip: '127.0.0.1', helo: 'bench.remote.test', mailFrom: 'sender@remote.test', hostname: 'mx.example.test', resolver, cache });
for (let i = 0; i < 500; i++) await checkSender(input(i));
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
let last = '';
for (let i = 0; i < count; i++) {
  const r = await checkSender(input(i));
  removeOwnAuthResults(input(i).message, 'mx.example.test');
  last = r.header;
}
const wall = Number(process.hrtime.bigint() - t0) / 1e6;
const cpu = process.cpuUsage(cpu0);
console.log(last.trim());
console.log(`sender checks: ${count} messages, ${((wall * 1000) / count).toFixed(0)} µs wall and ${(((cpu.user + cpu.system) / count)).toFixed(0)} µs CPU per message`);
await dns.close();
