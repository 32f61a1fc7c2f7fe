// Sieve engine throughput: a 40-rule script (header, address, regex,
// variables; then the same plus body tests) over 10,000 generated messages,
// compiled once. Each evaluation includes building the message view from the
// raw bytes, as a delivery does. Prints evaluations per second on one core.
//   npm run build && node dist/bench/sieve.js
//   node dist/bench/sieve.js compile     (compile time only: ms per KiB by script shape)
//   node dist/bench/sieve.js delivery    (a delivery's Sieve step: compile or cache, then run)
// Figures are the best of 3 passes; "per core" divides by the CPU time the
// process used, wall-clock rate is shown too.
//
// Then the host questions (mailboxexists, duplicate, include), the same
// scripts four ways in one run: evaluate() with a synchronous host (what
// delivery did before evaluateAsync), evaluateAsync() with a host answering
// at once (what delivery does over SQLite), with promises resolved at once
// (a store that answers from a cache), and with answers a turn of the event
// loop later (setImmediate: a networked store, minus the network).
import { compile, evaluate, evaluateAsync, sieveMessage, type AsyncSieveHost, type SieveHost, type SieveProgram } from '../sieve/index.js';
import { parseMessage } from '../mime/index.js';

const sieveMessageFromBuffer = (raw: Buffer) => sieveMessage(parseMessage(raw));
import { prng } from '../test/support/prng.js';
import { scriptOfShape, scriptShapes } from '../test/unit/sieve/script-shapes.js';
import { parseWithGrammar } from '../sieve/compile/parse.js';
import { compileScript } from '../sieve/compile/compiler.js';
import { defaultLimits } from '../sieve/index.js';
import { CompiledScriptCache } from '../src/delivery/compiled-scripts.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../test/support/paths.js';

const N = 10_000;


const words = ['budget', 'meeting', 'invoice', 'report', 'hello', 'offer', 'urgent', 'patch', 'review', 'lunch', 'Sieve', 'release', 'sale', 'travel', 'update'];
const domains = ['example.org', 'example.com', 'corp.example.net', 'lists.example.net', 'shop.example.com'];

function makeMessages(): Buffer[] {
  const r = prng(42);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const out: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    const subj = Array.from({ length: 3 + Math.floor(r() * 5) }, () => pick(words)).join(' ');
    const body = Array.from({ length: 20 + Math.floor(r() * 60) }, () => pick(words)).join(' ').replace(/(.{1,70})( |$)/g, '$1\r\n');
    const lines = [
      `Received: from mx${i % 7}.${pick(domains)} by mx.example.test; Mon, 3 Mar 2025 12:00:00 +0000`,
      `From: User ${i} <user${i}+tag@${pick(domains)}>`,
      `To: rcpt+${pick(words)}@example.test, other@${pick(domains)}`,
      `Subject: ${r() < 0.2 ? '[list] ' : ''}${subj}`,
      `Date: Mon, 3 Mar 2025 ${10 + (i % 10)}:00:00 +0100`,
      `Message-ID: <${i}@bench.example>`,
      `X-Spam-Score: ${(r() * 10).toFixed(1)}`,
      ...(r() < 0.3 ? [`List-Id: <dev.${pick(domains)}>`] : []),
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
    ];
    out.push(Buffer.from(lines.join('\r\n')));
  }
  return out;
}

const headerRules = [
  'require ["fileinto", "variables", "regex", "relational", "comparator-i;ascii-numeric", "subaddress", "envelope", "imap4flags"];',
  'if header :contains "subject" "budget" { fileinto "Budget"; }',
  'if header :contains "subject" ["invoice", "payment"] { addflag "$Finance"; }',
  'if header :is "x-priority" "1" { addflag "\\\\Flagged"; }',
  'if header :matches "subject" "[list] *" { set "topic" "${1}"; }',
  'if address :domain :is "from" "example.org" { fileinto "Org"; }',
  'if address :localpart :contains "from" "user1" { addflag "$One"; }',
  'if address :detail "to" "urgent" { fileinto "Urgent"; }',
  'if address :user :is "to" "rcpt" { set "me" "yes"; }',
  'if header :regex "subject" "^(re|fwd?): " { fileinto "Threads"; }',
  'if header :regex "list-id" "<([a-z]+)\\\\." { fileinto "List-${1}"; }',
  'if exists "list-id" { addflag "$List"; }',
  'if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "8" { fileinto "Junk"; }',
  'if header :contains "from" "shop" { fileinto "Shopping"; }',
  'if header :matches "from" "*<*@*>*" { set "dom" "${3}"; }',
  'if string :is "${dom}" "corp.example.net" { fileinto "Corp"; }',
  'if envelope :domain :is "from" "example.com" { addflag "$Com"; }',
  'if header :contains "subject" "travel" { fileinto "Travel"; }',
  'if header :contains "subject" "lunch" { discard; }',
  'if anyof (header :contains "subject" "sale", header :contains "subject" "offer") { fileinto "Ads"; }',
  'if allof (header :contains "subject" "patch", header :contains "subject" "review") { fileinto "Review"; }',
  'if header :matches "date" "*10:00:00*" { addflag "$Ten"; }',
  'if size :over 100K { fileinto "Big"; }',
  'if header :regex "message-id" "^<[0-9]+7@" { addflag "$Seven"; }',
  'if header :is "subject" "hello hello hello" { keep; }',
  'if address :is ["to", "cc"] "boss@example.com" { fileinto "Boss"; }',
  'if header :contains "received" "mx3" { addflag "$Mx3"; }',
  'if not exists "date" { fileinto "NoDate"; }',
  'if header :matches "subject" "*urgent*urgent*" { addflag "$VeryUrgent"; }',
  'if header :contains "subject" "release" { set :upper "rel" "release"; }',
  'if string :is "${rel}" "RELEASE" { fileinto "Releases"; }',
  'if address :all :regex "from" "user[0-9]*5\\\\+" { addflag "$Five"; }',
  'if header :count "ge" :comparator "i;ascii-numeric" "received" "2" { addflag "$Hops"; }',
  'if header :contains "subject" "Sieve" { fileinto "Sieve"; }',
  'if header :is :comparator "i;octet" "subject" "update" { fileinto "Update"; }',
  'if address :domain :contains "to" "lists" { fileinto "ToLists"; }',
  'if header :contains "subject" "meeting" { addflag "$Meeting"; }',
  'if header :matches "subject" "?*report*" { fileinto "Reports"; }',
  'if header :regex "subject" "(budget|invoice).*(urgent|review)" { addflag "$Act"; }',
  'if string :is "${me}" "yes" { addflag "$Me"; }',
  'if header :is "x-spam-score" ["9.9", "10.0"] { discard; }',
];

const bodyRules = [
  'if body :contains "invoice" { addflag "$BodyInvoice"; }',
  'if body :text :contains ["unsubscribe", "sale"] { fileinto "BodyAds"; }',
  'if body :regex "budget[ \\r\\n]+review" { addflag "$BodyBR"; }',
  'if body :contains "travel lunch" { addflag "$TL"; }',
];

function build(rules: string[]): SieveProgram {
  const text = rules.join('\n') + '\n';
  const r = compile(text);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`).join('\n'));
  return r.program;
}

const ROUNDS = 3;

function measure(label: string, program: SieveProgram, msgs: Buffer[], rules: number): void {
  // warm-up
  for (let i = 0; i < 1000; i++) evaluate(program, sieveMessageFromBuffer(msgs[i % msgs.length]!), { from: 'a@example.com', to: 'rcpt+x@example.test' });
  // Best of ROUNDS passes, so other load on the machine disturbs the figure less.
  let actions = 0;
  let secs = Infinity;
  let cpuSecs = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    actions = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const m of msgs) {
      const r = evaluate(program, sieveMessageFromBuffer(m), { from: 'a@example.com', to: 'rcpt+x@example.test' });
      if (r.errors) throw new Error(r.errors[0]!.message);
      actions += r.actions.length;
    }
    secs = Math.min(secs, Number(process.hrtime.bigint() - t0) / 1e9);
    const cpu = process.cpuUsage(cpu0);
    cpuSecs = Math.min(cpuSecs, (cpu.user + cpu.system) / 1e6);
  }
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(
    `${label}: ${rules} rules, ${msgs.length} messages: ${fmt(msgs.length / cpuSecs)} evaluations/s per core (CPU ${cpuSecs.toFixed(3)} s; wall ${secs.toFixed(3)} s = ${fmt(msgs.length / secs)}/s; ${actions} actions)`,
  );
}

// --- compile time: ms per KiB by script shape and size (node dist/bench/sieve.js compile) ---

/** Best-of-3 milliseconds of f, the first call not counted (warm-up). */
function bestMs(f: (round: number) => void, rounds = 3): number {
  f(-1);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    f(r);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

function compileBench(): void {
  console.log('compile (parse + validate + lower), ms per KiB; each text distinct so the compile cache never answers:');
  let salt = 0;
  for (const shape of scriptShapes) {
    const cells: string[] = [];
    for (const kib of [1, 10, 100]) {
      const size = kib * 1024;
      const ms = bestMs(() => {
        const r = compile(scriptOfShape(shape, size, `salt ${salt++}`));
        if (!r.ok) throw new Error(`${shape} ${kib} KiB: ${r.errors[0]!.message}`);
      });
      cells.push(`${String(kib).padStart(3)} KiB ${(ms / kib).toFixed(3).padStart(7)}`);
    }
    // The grammar alone (the parser before the hand-written one), at 10 KiB.
    const text = scriptOfShape(shape, 10 * 1024, 'grammar');
    const grammarMs = bestMs(() => parseWithGrammar(text), 1);
    console.log(`  ${shape.padEnd(13)} ${cells.join('   ')}   | ohm grammar parse only, 10 KiB: ${(grammarMs / 10).toFixed(2)} ms/KiB`);
  }
}

// --- a delivery's Sieve step: get the program for the account's script (its
// text read afresh, as from storage), then run it. Alternating rounds; the
// median of per-round ratios to the first variant (node dist/bench/sieve.js delivery).
function deliveryBench(): void {
  const textBytes = readFileSync(path.join(fixturesDir, 'sieve', 'bench-20-rules.sieve'));
  const views = makeMessages().slice(0, 2000).map(sieveMessageFromBuffer);
  const env = { from: 'a@example.com', to: 'rcpt+x@example.test' };
  const cache = new CompiledScriptCache();
  const variants: Array<[string, (text: string) => SieveProgram]> = [
    [
      'before: ohm grammar, compiled per message',
      (text) => {
        const compiled = compileScript(parseWithGrammar(text), defaultLimits, text);
        return { requires: compiled.requires, compiled, limits: defaultLimits };
      },
    ],
    ['fast parser, compiled per message', (text) => (compile(text, { cache: false }) as { program: SieveProgram }).program],
    ["engine's cache (by text)", (text) => (compile(text) as { program: SieveProgram }).program],
    ["delivery's cache (by SHA-256)", (text) => (cache.compile(text) as { program: SieveProgram }).program],
  ];
  const ROUNDS_D = 5;
  const times = variants.map(() => [] as number[]);
  const perMessage = (get: (text: string) => SieveProgram, n: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) evaluate(get(textBytes.toString('utf8')), views[i % views.length]!, env);
    return (performance.now() - t0) / n;
  };
  for (const [, get] of variants) perMessage(get, 20); // warm-up
  for (let r = 0; r < ROUNDS_D; r++) {
    const order = variants.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) times[i]!.push(perMessage(variants[i]![1], i === 0 ? 100 : views.length));
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  console.log(`delivery Sieve step, 20-rule script (${textBytes.length} bytes), ${ROUNDS_D} alternating rounds: median ms per message, median ratio to the first`);
  for (const [i, [label]] of variants.entries()) {
    const ratios = times[i]!.map((t, r) => t / times[0]![r]!);
    console.log(`  ${label.padEnd(44)} ${median(times[i]!).toFixed(4).padStart(9)} ms   x${median(ratios).toFixed(4)}`);
  }
}

if (process.argv[2] === 'compile') {
  compileBench();
  process.exit(0);
}
if (process.argv[2] === 'delivery') {
  deliveryBench();
  process.exit(0);
}

const msgs = makeMessages();
const headerOnly = build(headerRules);
const withBody = build([...headerRules.slice(0, headerRules.length - bodyRules.length), ...bodyRules].map((r, i) => (i === 0 ? r.replace('"imap4flags"]', '"imap4flags", "body"]') : r)));
measure('header-only', headerOnly, msgs, headerRules.length - 1);
measure('with body  ', withBody, msgs, headerRules.length - 1);

// --- host questions: sync host vs async host, same scripts, same messages ---

const included: Record<string, string> = {
  lists: 'require ["fileinto", "mailbox", "variables", "regex"]; if header :regex "list-id" "<([a-z]+)\\\\." { if mailboxexists "Lists/${1}" { fileinto "Lists/${1}"; } }',
  junk: 'require ["fileinto", "relational", "comparator-i;ascii-numeric"]; if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "8" { fileinto "Junk"; }',
};
const questionScripts: Array<[string, string]> = [
  ['header-only (no questions)', headerRules.join('\n')],
  [
    'mailboxexists x3',
    'require ["fileinto", "mailbox"]; if mailboxexists "Budget" { if header :contains "subject" "budget" { fileinto "Budget"; } } if mailboxexists "Travel" { if header :contains "subject" "travel" { fileinto "Travel"; } } if mailboxexists "Nope" { discard; }',
  ],
  ['duplicate', 'require ["duplicate", "fileinto"]; if duplicate :seconds 3600 { fileinto "Dups"; }'],
  ['include x2 (nested questions)', 'require ["include"]; include "lists"; include "junk";'],
];

function questionHost(mode: 'sync' | 'resolved' | 'next-turn'): AsyncSieveHost {
  const boxes = new Set(['Budget', 'Travel', 'Lists/dev', 'Junk']);
  const seen = new Set<string>();
  const answer = <T>(v: T): T | Promise<T> =>
    mode === 'sync' ? v : mode === 'resolved' ? Promise.resolve(v) : new Promise<T>((resolve) => setImmediate(() => resolve(v)));
  return {
    now: () => new Date('2026-03-01T12:00:00Z'),
    mailboxExists: (name) => answer(boxes.has(name)),
    duplicate: (id) => {
      const dup = seen.has(id);
      seen.add(id);
      return answer(dup);
    },
    includeScript: (name) => answer(included[name]),
  };
}

/** CPU seconds of one pass over the messages. */
async function pass(once: (m: Buffer) => Promise<number>): Promise<number> {
  const cpu0 = process.cpuUsage();
  for (const m of msgs) await once(m);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1e6;
}

/** Evaluations/s per core of each variant: passes interleaved (so a change in the machine's load hits all alike), best of PASSES. */
async function compareAsync(variants: Array<[string, (m: Buffer) => Promise<number>]>): Promise<number[]> {
  const PASSES = 5;
  for (const [, once] of variants) for (let i = 0; i < 1000; i++) await once(msgs[i % msgs.length]!);
  const best = variants.map(() => Infinity);
  for (let p = 0; p < PASSES; p++) for (const [i, [, once]] of variants.entries()) best[i] = Math.min(best[i]!, await pass(once));
  return best.map((secs) => msgs.length / secs);
}

const ENV = { from: 'a@example.com', to: 'rcpt+x@example.test' };
console.log('\nhost questions (sync host before, async host after; same messages):');
for (const [name, text] of questionScripts) {
  const program = build([text]);
  console.log(`${name}:`);
  const syncHost = questionHost('sync') as SieveHost;
  const check = evaluate(program, sieveMessageFromBuffer(msgs[0]!), ENV, syncHost);
  if (check.errors) throw new Error(`${name}: ${check.errors[0]!.message}`);
  // Both sides are async functions, as the delivery that calls them is.
  const variants: Array<[string, (m: Buffer) => Promise<number>]> = [
    // eslint-disable-next-line @typescript-eslint/require-await
    ['evaluate, sync host', async (m) => evaluate(program, sieveMessageFromBuffer(m), ENV, syncHost).actions.length],
  ];
  for (const mode of ['sync', 'resolved', 'next-turn'] as const) {
    const h = questionHost(mode);
    const label = `evaluateAsync, ${mode === 'sync' ? 'host answers at once' : mode === 'resolved' ? 'resolved promises' : 'answers next turn'}`;
    variants.push([label, async (m) => (await evaluateAsync(program, sieveMessageFromBuffer(m), ENV, h)).actions.length]);
  }
  const rates = await compareAsync(variants);
  for (const [i, [label]] of variants.entries()) {
    const vs = i === 0 ? '' : `  ${((rates[i]! / rates[0]! - 1) * 100).toFixed(1).padStart(6)} % vs evaluate`;
    console.log(`  ${label.padEnd(34)} ${Math.round(rates[i]!).toLocaleString('en-US').padStart(8)} evaluations/s per core${vs}`);
  }
}
