// Differential test: every script x message pair of fixtures/sieve/differential
// runs through Pigeonhole's sieve-test (the oracle) and through `postino sieve
// test`; both outputs are normalised to one action list and must be equal, in
// order; a script refused by one must be refused by the other, at the same
// line. sieve-test must be installed (dovecot-sieve): its absence is a failure.
// Intended differences are listed in sieve/README.md and in `knownDifferences`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixturesDir } from '../support/paths.js';
import { sieveEngineCommands } from '../../src/cli/commands/sieve-engine.js';
import type { CliContext } from '../../src/cli/command.js';

// POSTINO_SIEVE_CORPUS points the comparison at another directory of the same
// layout (e.g. a batch of generated scripts when hunting for differences).
const corpus = process.env['POSTINO_SIEVE_CORPUS'] ?? path.join(fixturesDir, 'sieve', 'differential');
const ENV_FROM = 'sender@example.org';
const RCPT = 'rcpt@example.test';

/** Pairs where we differ from Pigeonhole on purpose (see sieve/README.md). "script/message", "*" allowed for message. */
const knownDifferences = new Set<string>([
  // "?" is one character (RFC 5228 2.7.1); Pigeonhole matches one octet and lets "?????@*" match longer local parts.
  '099-matches-question-count.sieve/*',
]);

function findSieveTest(): string | undefined {
  for (const p of ['/usr/bin/sieve-test', '/usr/local/bin/sieve-test']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v sieve-test'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

function normFlags(s: string): string {
  const flags = s.trim().split(/\s+/).filter(Boolean).map((f) => (f.startsWith('\\') ? f.toLowerCase() : f));
  return flags.length ? ` [${flags.sort().join(' ')}]` : '';
}

function normBox(b: string): string {
  return b.toUpperCase() === 'INBOX' ? 'INBOX' : b;
}

/**
 * A refused script is compared by the line of its first error: Pigeonhole
 * says `NAME: line N: error: ...`, we say `N:C: message` (no column there).
 */
function compileError(line: string | undefined): string[] {
  return [line ? `compile-error line ${line}` : 'compile-error'];
}

/** Pigeonhole's sieve-test stdout (and stderr, for compile errors) -> normalised action list. */
export function normalisePigeonhole(status: number | null, stdout: string, stderr = ''): string[] {
  if (status === 89) return compileError(/: line (\d+): error: /.exec(stderr)?.[1]);
  if (status !== 0) return ['runtime-error'];
  const out: string[] = [];
  const lines = stdout.split('\n');
  let section: 'none' | 'actions' | 'implicit' = 'none';
  let cur: { kind: string; text: string; flags: string; seconds?: string; subject?: string } | undefined;
  const flush = (): void => {
    if (!cur) return;
    if (cur.kind === 'store') out.push(`${section === 'implicit' ? 'implicit ' : ''}store ${cur.text}${cur.flags}`);
    else if (cur.kind === 'vacation') out.push(`vacation ${cur.seconds ?? '?'} ${cur.subject ?? ''}`.trimEnd());
    else out.push(cur.text);
    cur = undefined;
  };
  for (const line of lines) {
    if (line.startsWith('Performed actions:')) {
      section = 'actions';
      continue;
    }
    if (line.startsWith('Implicit keep:')) {
      flush();
      section = 'implicit';
      continue;
    }
    if (section === 'none') continue;
    let m: RegExpExecArray | null;
    if ((m = /^ \* (.*)$/.exec(line))) {
      flush();
      const t = m[1] ?? '';
      let mm: RegExpExecArray | null;
      if ((mm = /^store message in folder: (.*)$/.exec(t))) cur = { kind: 'store', text: normBox(mm[1] ?? ''), flags: '' };
      else if ((mm = /^redirect message to: <?([^>]*)>?$/.exec(t))) cur = { kind: 'x', text: `redirect ${mm[1]}`, flags: '' };
      else if (t === 'discard') cur = { kind: 'x', text: 'discard', flags: '' };
      else if ((mm = /^reject message with reason: (.*)$/.exec(t))) cur = { kind: 'x', text: `reject ${mm[1]}`, flags: '' };
      else if (t.startsWith('send vacation message')) cur = { kind: 'vacation', text: '', flags: '' };
      else if ((mm = /^send notification with method '([^:']*):?'/.exec(t))) cur = { kind: 'x', text: `notify ${mm[1]}`, flags: '' };
      else if (/^track (last )?duplicate/.test(t)) cur = undefined; // duplicate tracking is the host's side effect
      else cur = { kind: 'x', text: `other ${t}`, flags: '' };
      continue;
    }
    if (!cur) continue;
    if ((m = /^\s+\+ add IMAP flags: (.*)$/.exec(line))) cur.flags = normFlags(m[1] ?? '');
    else if ((m = /^\s+=> seconds : (\d+)/.exec(line))) cur.seconds = m[1];
    else if ((m = /^\s+=> subject : (.*)$/.exec(line))) cur.subject = m[1];
  }
  flush();
  return out;
}

/** Our `sieve test --json` output -> the same normalised form. */
export function normalisePostino(code: number, stdout: string, stderr: string): string[] {
  if (code !== 0) return compileError(/^(\d+):\d+: /m.exec(stderr)?.[1]);
  if (/runtime error/.test(stderr)) return ['runtime-error'];
  const { actions } = JSON.parse(stdout) as { actions: Array<Record<string, unknown>> };
  const out: string[] = [];
  for (const a of actions) {
    const flags = Array.isArray(a['flags']) ? normFlags((a['flags'] as string[]).join(' ')) : '';
    switch (a['type']) {
      case 'keep':
        out.push(`${a['implicit'] ? 'implicit ' : ''}store INBOX${flags}`);
        break;
      case 'fileinto':
        out.push(`store ${normBox(String(a['mailbox']))}${flags}`);
        break;
      case 'redirect':
        out.push(`redirect ${String(a['address'])}`);
        break;
      case 'discard':
        out.push('discard');
        break;
      case 'reject':
      case 'ereject':
        out.push(`reject ${String(a['reason']).replace(/[\r\n]/g, '?')}`);
        break;
      case 'vacation':
        out.push(`vacation ${String(a['seconds'])} ${a['subject'] === undefined ? '' : String(a['subject'])}`.trimEnd());
        break;
      case 'notify':
        out.push(`notify ${String(a['method']).split(':')[0]}`);
        break;
      default:
        break; // editheader edits are not listed by sieve-test
    }
  }
  return out;
}

async function runPostino(script: string, message: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = sieveEngineCommands.find((c) => c.words.join(' ') === 'sieve test');
  assert.ok(cmd, 'sieve test command is registered');
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = {
    dataDir: os.tmpdir(),
    configPath: undefined,
    json: true,
    readStdin: async () => Buffer.alloc(0),
    out: (t) => (stdout += t + '\n'),
    err: (t) => (stderr += t + '\n'),
  };
  const code = (await cmd.run([script, message], { from: ENV_FROM, to: RCPT, json: true, personal: path.join(corpus, 'personal'), global: path.join(corpus, 'global') }, ctx)) ?? 0;
  return { code, stdout, stderr };
}

const sieveTest = findSieveTest();
const scripts = readdirSync(path.join(corpus, 'scripts')).filter((f) => f.endsWith('.sieve')).sort();
const messages = readdirSync(path.join(corpus, 'messages')).filter((f) => f.endsWith('.eml')).sort();

test('the differential corpus has at least 150 pairs', () => {
  if (process.env['POSTINO_SIEVE_CORPUS'] === undefined) assert.ok(scripts.length * messages.length >= 150, `${scripts.length} scripts x ${messages.length} messages`);
});

test('Pigeonhole sieve-test is installed (dovecot-sieve)', () => {
  assert.ok(sieveTest, 'sieve-test not found: install dovecot-sieve (scripts/ensure-deps.sh does)');
});

if (sieveTest) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'postino-sieve-diff-'));
  chmodSync(scratch, 0o777);
  for (const sub of ['scripts', 'messages', 'personal', 'global']) {
    mkdirSync(path.join(scratch, sub));
    chmodSync(path.join(scratch, sub), 0o777);
  }
  // Everything sieve-test reads is copied into the scratch dir: as root it runs
  // as nobody (mail_uid), which may not be able to read the checkout.
  for (const sub of ['messages', 'personal', 'global'])
    for (const f of readdirSync(path.join(corpus, sub))) {
      copyFileSync(path.join(corpus, sub, f), path.join(scratch, sub, f));
      chmodSync(path.join(scratch, sub, f), 0o666);
    }
  const root = process.getuid?.() === 0;
  const conf = path.join(scratch, 'dovecot.conf');
  writeFileSync(
    conf,
    [
      ...(root ? ['mail_uid = 65534', 'mail_gid = 65534', 'first_valid_uid = 100', 'first_valid_gid = 100'] : []),
      `mail_location = maildir:${scratch}/mail`,
      'plugin {',
      `  sieve = file:${scratch}/personal`,
      `  sieve_global = ${scratch}/global`,
      '  sieve_spamtest_status_type = score',
      '  sieve_spamtest_status_header = X-Spam-Score',
      '  sieve_spamtest_max_value = 10',
      '  sieve_virustest_status_type = score',
      '  sieve_virustest_status_header = X-Virus-Score',
      '  sieve_virustest_max_value = 5',
      '}',
      '',
    ].join('\n'),
  );
  chmodSync(conf, 0o644);

  test.after(() => rmSync(scratch, { recursive: true, force: true }));

  for (const s of scripts) {
    test(`differential: ${s}`, async () => {
      const scriptCopy = path.join(scratch, 'scripts', s);
      copyFileSync(path.join(corpus, 'scripts', s), scriptCopy);
      chmodSync(scriptCopy, 0o666);
      const mismatches: string[] = [];
      for (const m of messages) {
        const msgPath = path.join(corpus, 'messages', m);
        const r = spawnSync(
          sieveTest,
          ['-c', conf, '-x', '+editheader +vacation-seconds +spamtest +spamtestplus +virustest', '-f', ENV_FROM, '-a', RCPT, '-r', RCPT, scriptCopy, path.join(scratch, 'messages', m)],
          { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } },
        );
        const expected = normalisePigeonhole(r.status, r.stdout, r.stderr);
        const ours = await runPostino(path.join(corpus, 'scripts', s), msgPath);
        const actual = normalisePostino(ours.code, ours.stdout, ours.stderr);
        // sieve-test prints a vacation subject only when the script gives one; ours
        // always carries the effective one ("Auto: ..." by default).
        expected.forEach((e, i) => {
          if (/^vacation \d+$/.test(e) && actual[i]?.startsWith(`${e} Auto:`)) actual[i] = e;
        });
        const key = `${s}/${m}`;
        if (knownDifferences.has(key) || knownDifferences.has(`${s}/*`)) continue;
        if (JSON.stringify(expected) !== JSON.stringify(actual))
          mismatches.push(`${key}\n  pigeonhole: ${JSON.stringify(expected)}${r.status !== 0 ? `\n    ${r.stderr.trim().split('\n').join('\n    ')}` : ''}\n  postino:    ${JSON.stringify(actual)}${ours.stderr ? `\n    ${ours.stderr.trim()}` : ''}`);
      }
      assert.equal(mismatches.length, 0, mismatches.join('\n'));
    });
  }
}
