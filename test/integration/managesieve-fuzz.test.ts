// 10,000 random and mutated ManageSieve lines (with literals of both kinds)
// over TCP against a real `postino serve`: the server never crashes, logs
// no internal error, leaks no internal detail, its memory stays bounded,
// and afterwards a new client still uploads, lists and reads scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe } from '../support/serve.js';
import { postino } from '../support/cli.js';
import { cliPath } from '../support/paths.js';
import { prng } from '../support/prng.js';
import { SERVICES } from '../../src/config.js';
import { SieveClient, literal } from '../support/managesieve-client.js';

const freePorts = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
const PASSWORD = 'a long enough passphrase 77';
const USER = 'bob@example.test';
const VALID = 'require ["fileinto", "imap4flags"];\r\nif header :contains "subject" "fuzz" { addflag "\\\\Seen"; fileinto "Junk"; stop; }\r\n';

const SEEDS = [
  'CAPABILITY',
  'NOOP',
  'NOOP "sync-like"',
  'LISTSCRIPTS',
  'HAVESPACE "fz" 100',
  'HAVESPACE "fz" 99999999',
  `PUTSCRIPT "fz" {${Buffer.byteLength(VALID)}+}`,
  `PUTSCRIPT "fz2" {${Buffer.byteLength(VALID)}}`,
  'PUTSCRIPT "q" "keep;"',
  `CHECKSCRIPT {${Buffer.byteLength(VALID)}+}`,
  'CHECKSCRIPT "if true { discard; }"',
  'GETSCRIPT "fz"',
  'SETACTIVE "fz"',
  'SETACTIVE ""',
  'DELETESCRIPT "fz2"',
  'DELETESCRIPT "q"',
  'RENAMESCRIPT "fz2" "fz3"',
  'RENAMESCRIPT "fz3" "fz2"',
  'AUTHENTICATE "PLAIN" "AGJvYkBleGFtcGxlLnRlc3QAeA=="',
];

/**
 * Lines that end a session: rare, or every batch would end early. (STARTTLS
 * is left out: the server then waits for a TLS handshake this client never
 * starts, until the idle timeout; the command test covers it.)
 */
const ENDINGS = ['LOGOUT', 'STARTTLS x', 'LOGOUT "x"'];

const SPECIALS = ['{', '}', '+', '"', '\\', ' ', '\0', '\r', '(', ')', '5', '0', '{9+}', '{99999999999}', '\u00ff', '*'];

function mutate(line: string, r: () => number): string {
  let s = line;
  const ops = 1 + Math.floor(r() * 3);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 5)) {
      case 0:
        s = s.slice(0, at) + SPECIALS[Math.floor(r() * SPECIALS.length)] + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 5));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 256)) + s.slice(at + 1);
        break;
      case 3:
        s = s.slice(0, at) + s.slice(Math.max(0, at - 8), at) + s.slice(at);
        break;
      default:
        s = s.slice(0, at);
    }
  }
  return s.replace(/\n/g, ' ');
}

function garbage(r: () => number): string {
  const n = Math.floor(r() * 120);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * 256));
  return s.replace(/\n/g, ' ');
}

/** Literal sizes the fuzzer sends (beyond the 16 KiB + slack bound some are skipped by the server). */
const MAX_SENT_LITERAL = 40_000;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

test('fuzz: 10,000 random and mutated lines never crash ManageSieve, memory stays bounded', { timeout: 600_000 }, async (t) => {
  const s = scratchDir();
  try {
    writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ sieve: { maxScriptSize: 16 * 1024 } }));
    const add = postino(s.dir, ['domain', 'add', 'example.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...freePorts, POSTINO_DEMO: '0' });
    try {
      const port = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'managesieve')).port);
      const pid = served.child.pid!;
      const r = prng(Number(process.env['POSTINO_FUZZ_SEED'] ?? 4190));

      let client: SieveClient | undefined;
      let connections = 0;
      const open = async () => {
        connections++;
        // Most sessions are logged in (STARTTLS + AUTHENTICATE); some stay in the clear, unauthenticated.
        client = r() < 0.8 ? await SieveClient.loggedIn(port, USER, PASSWORD) : await SieveClient.connect(port);
      };

      let batch: Buffer[] = [];
      let batchBytes = 0;
      let syncs = 0;
      let lost = 0;
      let replies = 0;
      const tally = { OK: 0, NO: 0, BYE: 0 };
      const leaks: string[] = [];
      const flush = async () => {
        if (!client || client.closed) await open();
        const marker = `(TAG "sync-${++syncs}")`;
        client!.send(Buffer.concat([...batch, Buffer.from(`NOOP "sync-${syncs}"\r\n`)]));
        batch = [];
        batchBytes = 0;
        const text = await client!.until(marker, 60_000).catch(() => undefined);
        if (text === undefined) {
          lost++;
          client?.close();
          client = undefined;
          return;
        }
        for (const m of text.matchAll(/^(OK|NO|BYE)\b/gm)) {
          replies++;
          tally[m[1] as 'OK']++;
        }
        // A fresh session now and then: some start unauthenticated.
        if (syncs % 25 === 0) {
          client!.close();
          client = undefined;
        }
        if (/SQLITE|node_modules|Error: |\bat [\w.<>]+ \(/.test(text)) leaks.push(text.slice(-300));
      };

      let rssAfterWarmup = 0;
      let rssMax = 0;
      for (let i = 0; i < 10_000; i++) {
        const kind = r();
        let line = kind < 0.15 ? garbage(r) : r() < 0.004 ? ENDINGS[Math.floor(r() * ENDINGS.length)]! : SEEDS[Math.floor(r() * SEEDS.length)]!;
        if (kind >= 0.4) line = mutate(line, r);
        let payload = Buffer.from(`${line}\r\n`, 'latin1');
        // A line ending in a literal marker gets its literal at once: the valid script when the size fits, else random bytes.
        const lit = /\{(\d+)\+?\}$/.exec(line);
        if (lit) {
          const size = Number(lit[1]);
          if (size > MAX_SENT_LITERAL) payload = Buffer.from(`${line.slice(0, lit.index)}\r\n`, 'latin1');
          else {
            let body = Buffer.from(VALID);
            if (body.length !== size) {
              body = Buffer.alloc(size);
              for (let k = 0; k < size; k++) body[k] = Math.floor(r() * 256);
            }
            payload = Buffer.concat([payload, body, Buffer.from(r() < 0.5 ? ' "x"\r\n' : '\r\n')]);
          }
        }
        batch.push(payload);
        batchBytes += payload.length;
        if (batch.length >= 20 || batchBytes > 32 * 1024) await flush();
        if (i === 500) rssAfterWarmup = rssKb(pid);
        if (i % 500 === 0) rssMax = Math.max(rssMax, rssKb(pid));
      }
      await flush();
      const rssEnd = rssKb(pid);
      t.diagnostic(`connections ${connections}, syncs ${syncs} (lost with the connection: ${lost}), replies ${replies} ${JSON.stringify(tally)}, RSS ${rssAfterWarmup} -> max ${rssMax} -> ${rssEnd} kB`);
      client?.close();

      assert.equal(served.child.exitCode, null, 'the server is still running');
      assert.deepEqual(leaks, [], 'no internal detail reaches a client');
      const internal = served.events.filter((e) => e.event === 'managesieve-error' || e.event === 'managesieve-session-error');
      assert.deepEqual(internal, [], 'no unexpected errors');
      assert.ok(replies > 9000, `replies ${replies}`);
      assert.ok(tally.OK > 1000, 'many commands were valid enough to succeed');
      assert.ok(connections > 10, 'sessions came and went');
      assert.ok(rssEnd - rssAfterWarmup < 150 * 1024, `RSS grew from ${rssAfterWarmup} to ${rssEnd} kB`);

      // Still usable.
      const c = await SieveClient.loggedIn(port, USER, PASSWORD);
      assert.equal((await c.cmd(`PUTSCRIPT "after" ${literal(VALID)}`)).status, 'OK');
      assert.match((await c.cmd('LISTSCRIPTS')).lines.join('\n'), /"after"/);
      assert.deepEqual((await c.cmd('GETSCRIPT "after"')).lines, [VALID]);
      assert.equal((await c.cmd('DELETESCRIPT "after"')).status, 'OK');
      assert.equal((await c.cmd('LOGOUT')).status, 'OK');
      c.close();
    } finally {
      assert.equal(await served.stop(), 0);
    }
  } finally {
    s.cleanup();
  }
});
