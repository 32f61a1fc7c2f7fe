// The IMAP read path, two builds side by side: each BUILD:DIR pair is a
// `postino serve` of that build (its bin/postino.cjs, or dist/src/cli/main.js of a copied dist) over a data directory
// made by bench/imap-read-fill.ts. The commands run in turn against each
// server, round after round, so load from elsewhere on the machine falls on
// all of them alike; medians per server at the end (and the ratio to the
// first one). The figures are bench/imap.ts's: FETCH of 1,000 full headers
// from Big, SEARCH BODY over the 10,000 messages of Ten.
// usage: node dist/bench/imap-read.js ROUNDS LABEL=CLI_JS:DIR [LABEL=CLI_JS:DIR ...]
// With IMAP_READ_PROF=DIR the servers run with --cpu-prof into DIR. With
// IMAP_READ_MIXED=SECONDS, rounds of bench/imap-load.ts's mixed load (10
// clients: SELECT, APPEND, FETCH, STORE, EXPUNGE on INBOX) follow, taking
// turns too (IMAP_READ_MIXED_ROUNDS of them, 4 by default).
import { readFileSync } from 'node:fs';
import { SERVICES } from '../src/config.js';
import { startServe, type Served } from '../test/support/serve.js';
import { RawImap } from '../test/integration/imap-raw-client.js';
import { mixedLoad } from './imap-load.js';

const USER = 'bench@example.test';
const PASSWORD = 'correct horse staple 1234';
const rounds = Number(process.argv[2]);
const specs = process.argv.slice(3).map((s) => {
  const m = /^([^=]+)=([^:]+):(.+)$/.exec(s);
  if (!m) throw new Error(`not LABEL=CLI_JS:DIR: ${s}`);
  return { label: m[1]!, cli: m[2]!, dir: m[3]! };
});
if (!(rounds > 0) || specs.length === 0) throw new Error('usage: imap-read ROUNDS LABEL=CLI_JS:DIR ...');
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
/** CPU time (user + system, all threads) of a process so far, in ms: steadier than wall time on a loaded machine. */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const prof = process.env.IMAP_READ_PROF;
interface Target {
  label: string;
  server: Served;
  port: number;
  fetch: RawImap;
  search: RawImap;
  fetchMs: number[];
  searchMs: number[];
  fetchCpu: number[];
  searchCpu: number[];
  /** The first EXAMINE of Big and of Ten, and round 0's FETCH and SEARCH: each server's first, as bench/imap.ts measures them. */
  cold: { examineBig: number; examineTen: number; fetch: number; search: number };
}
const targets: Target[] = [];
try {
  for (const s of specs) {
    const args = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${s.label}.cpuprofile`] : []), s.cli, 'serve', '--data', s.dir];
    const server = startServe(process.execPath, args, { ...ports, POSTINO_DEMO: '0', UV_THREADPOOL_SIZE: '32' /* as bin/postino.cjs sets */ });
    const port = Number((await server.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
    await server.waitFor((e) => e.event === 'ready');
    const cold = { examineBig: 0, examineTen: 0, fetch: 0, search: 0 };
    const login = async (box: string) => {
      const c = await RawImap.connect(port, true);
      if (!/ OK /.test(await c.cmd(`LOGIN "${USER}" "${PASSWORD}"`, 30_000))) throw new Error('login failed');
      const t0 = process.hrtime.bigint();
      if (!/ OK /.test(await c.cmd(`EXAMINE ${box}`, 60_000))) throw new Error(`EXAMINE ${box} failed`);
      if (box === 'Big') cold.examineBig = ms(t0);
      else cold.examineTen = ms(t0);
      return c;
    };
    targets.push({ label: s.label, server, port, fetch: await login('Big'), search: await login('Ten'), fetchMs: [], searchMs: [], fetchCpu: [], searchCpu: [], cold });
  }
  for (let round = 0; round <= rounds; round++) {
    // Round 0 warms each server up (page cache, JIT) and is not counted.
    for (const t of round % 2 ? targets : [...targets].reverse()) {
      const pid = t.server.child.pid!;
      let c0 = cpuMs(pid);
      let t0 = process.hrtime.bigint();
      let r = await t.fetch.cmd('FETCH 1:1000 (UID BODY.PEEK[HEADER])', 60_000);
      const f = ms(t0);
      const fc = cpuMs(pid) - c0;
      if ((r.match(/^\* \d+ FETCH/gm) ?? []).length !== 1000) throw new Error(`${t.label}: FETCH gave ${r.slice(-200)}`);
      c0 = cpuMs(pid);
      t0 = process.hrtime.bigint();
      r = await t.search.cmd('SEARCH BODY "END ten-7777-needle"', 120_000);
      const s = ms(t0);
      const sc = cpuMs(pid) - c0;
      if (!/^\* SEARCH \d+\r$/m.test(r)) throw new Error(`${t.label}: SEARCH gave ${r.slice(-200)}`);
      if (round === 0) {
        t.cold.fetch = f;
        t.cold.search = s;
      } else {
        t.fetchMs.push(f);
        t.searchMs.push(s);
        t.fetchCpu.push(fc);
        t.searchCpu.push(sc);
      }
    }
  }
  const base = targets[0]!;
  for (const t of targets) {
    const c = t.cold;
    console.log(`${t.label}: first EXAMINE Big ${c.examineBig.toFixed(1)} ms, Ten ${c.examineTen.toFixed(1)} ms; first FETCH ${c.fetch.toFixed(1)} ms, first SEARCH ${c.search.toFixed(1)} ms`);
  }
  for (const t of targets) {
    const f = median(t.fetchMs);
    const s = median(t.searchMs);
    console.log(
      `${t.label}: FETCH 1000 headers median ${f.toFixed(1)} ms (x${(f / median(base.fetchMs)).toFixed(2)}), ` +
        `SEARCH BODY 10k median ${s.toFixed(1)} ms (x${(s / median(base.searchMs)).toFixed(2)}) over ${rounds} rounds; ` +
        `server CPU: FETCH ${median(t.fetchCpu).toFixed(0)} ms, SEARCH ${median(t.searchCpu).toFixed(0)} ms`,
    );
  }
  const mixedSeconds = Number(process.env.IMAP_READ_MIXED ?? 0);
  if (mixedSeconds > 0) {
    const mixedRounds = Number(process.env.IMAP_READ_MIXED_ROUNDS ?? 4);
    const rates = new Map<Target, number[]>(targets.map((t) => [t, []]));
    for (let round = 0; round < mixedRounds; round++) {
      for (const t of round % 2 ? [...targets].reverse() : targets) rates.get(t)!.push(await mixedLoad(t.port, true, USER, PASSWORD, mixedSeconds));
    }
    for (const t of targets) {
      const r = rates.get(t)!;
      const ratio = median(r.map((x, i) => x / rates.get(base)![i]!));
      console.log(`${t.label}: mixed load median ${median(r).toFixed(0)} commands/s (per-round ratio to ${base.label} ${ratio.toFixed(2)}) over ${mixedRounds} rounds of ${mixedSeconds} s`);
    }
  }
  // Per-round ratios to the first server: robust against a round slowed by other load.
  for (const t of targets.slice(1)) {
    const fr = t.fetchMs.map((x, i) => x / base.fetchMs[i]!);
    const sr = t.searchMs.map((x, i) => x / base.searchMs[i]!);
    console.log(`${t.label}/${base.label}: median per-round ratio FETCH ${median(fr).toFixed(2)}, SEARCH ${median(sr).toFixed(2)}`);
  }
} finally {
  for (const t of targets) {
    t.fetch.close();
    t.search.close();
    await t.server.stop();
  }
}
