// Runs the same IMAP conversation against two servers (Postino and a scratch
// Dovecot) and returns what each answered, normalised, so a test can assert
// they agree: the peer is the oracle for corner cases the RFC text leaves to
// reading. A scenario is a list of steps, each a command in one of several
// sessions; a step compares the untagged lines its `pick` patterns select
// and the tagged status with its response code (not the human text).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawImap } from '../integration/imap-raw-client.js';
import { startImapHarness, USER, PASSWORD, type ImapHarness } from '../integration/imap-harness.js';
import { startDovecotLmtp, type RunningDovecot } from './dovecot-lmtp.js';

export interface Step {
  /** Which session sends it (default 0). */
  s?: number;
  cmd: string;
  /** Message text for APPEND: sent as a literal after `cmd` (with {n+} or, when `literal8`, ~{n}). */
  literal?: string;
  literal8?: boolean;
  /** Send the literal non-synchronising ({n+} / ~{n+}, LITERAL+). */
  plus?: boolean;
  /** Untagged lines to compare (all untagged lines when absent; none with []). */
  pick?: RegExp[];
  /** Not compared (setup). */
  quiet?: boolean;
  /** Wait this long before sending (a peer that notifies other sessions asynchronously, NOTIFY). */
  delayMs?: number;
}

export interface Scenario {
  name: string;
  sessions?: number;
  steps: Step[];
}

export interface Endpoint {
  port: number;
  secure: boolean;
  user: string;
  password: string;
}

/**
 * What may differ between two correct servers: numbers chosen by each
 * (UIDVALIDITY, MODSEQ), the human text of status responses, quoting of
 * mailbox names that could be atoms, the order of STATUS items, and response
 * codes Dovecot 2.3 does not send (NONEXISTENT on a missing mailbox,
 * CLIENTBUG on STATUS of the selected one), and $Forwarded in FLAGS and
 * PERMANENTFLAGS before any message has it.
 */
export function normalise(line: string): string {
  // Postino lists $Forwarded in every mailbox's FLAGS (it has its own Maildir letter); Dovecot once a message has it.
  const noForwarded = line.replace(/^(\* FLAGS \(|\* OK \[PERMANENTFLAGS \()([^)]*)\)/, (_, head: string, list: string) =>
    `${head}${list.split(' ').filter((f) => f !== '$Forwarded').join(' ')})`,
  );
  const statusSorted = noForwarded.replace(/^\* STATUS (\S+|"[^"]*") \(([^)]*)\)/, (_, name: string, items: string) => {
    const words = items.split(' ');
    const pairs: string[] = [];
    for (let i = 0; i + 1 < words.length; i += 2) pairs.push(`${words[i]} ${words[i + 1]}`);
    return `* STATUS ${name} (${pairs.sort().join(' ')})`;
  });
  return statusSorted
    .replace(/^(\* (?:LIST|LSUB) \([^)]*\) (?:"."|NIL) |\* STATUS )"([A-Za-z0-9/._-]+)"/, '$1$2')
    .replace(/ \[(NONEXISTENT|CLIENTBUG)\]/, '')
    .replace(/ MODSEQ \d+/g, ' MODSEQ n')
    .replace(/\[(UIDVALIDITY|HIGHESTMODSEQ|UIDNEXT) \d+\]/g, '[$1 n]')
    .replace(/\bMODSEQ \((\d+)\)/g, 'MODSEQ (n)')
    .replace(/\b(HIGHESTMODSEQ|UIDVALIDITY) \d+/g, '$1 n')
    .replace(/\[COPYUID \d+ /g, '[COPYUID n ')
    .replace(/\[APPENDUID \d+ /g, '[APPENDUID n ')
    .replace(/^(\S+ (?:OK|NO|BAD))(?: (\[[^\]]*\]))?.*$/s, (_, head: string, code: string | undefined) => (code ? `${head} ${code}` : head))
    .replace(/^(\* (?:OK|NO|BAD))(?: (\[[^\]]*\]))?.*$/s, (_, head: string, code: string | undefined) => (code ? `${head} ${code}` : head));
}

/** Splits a reply (text up to and including the tagged line) into lines, literals kept with their line. */
function lines(reply: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < reply.length) {
    let end = reply.indexOf('\r\n', at);
    if (end < 0) end = reply.length;
    let line = reply.slice(at, end);
    let next = end + 2;
    // A line ending in {n} continues after n bytes of literal.
    for (let m = /\{(\d+)\+?\}$/.exec(line); m; m = /\{(\d+)\+?\}$/.exec(line)) {
      const n = Number(m[1]);
      const lit = reply.slice(next, next + n);
      let e2 = reply.indexOf('\r\n', next + n);
      if (e2 < 0) e2 = reply.length;
      line += '\r\n' + lit + reply.slice(next + n, e2);
      next = e2 + 2;
    }
    out.push(line);
    at = next;
  }
  return out;
}

/** Runs a scenario; one entry per compared step: "cmd => picked untagged lines | tagged". */
export async function runScenario(ep: Endpoint, sc: Scenario): Promise<string[]> {
  const sessions: RawImap[] = [];
  try {
    for (let i = 0; i < (sc.sessions ?? 1); i++) {
      const c = await RawImap.connect(ep.port, ep.secure);
      const r = await c.cmd(`LOGIN "${ep.user}" "${ep.password}"`, 20_000);
      if (!/ OK/.test(r.split('\r\n').slice(-2)[0] ?? '')) throw new Error(`login failed: ${r}`);
      sessions.push(c);
    }
    const out: string[] = [];
    for (const step of sc.steps) {
      const c = sessions[step.s ?? 0]!;
      if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
      let reply: string;
      if (step.literal !== undefined) {
        const tag = c.nextTag();
        const n = Buffer.byteLength(step.literal, 'latin1');
        c.write(`${tag} ${step.cmd} ${step.literal8 ? '~' : ''}{${n}${step.plus ? '+' : ''}}\r\n`);
        if (!step.plus) await c.waitFor(/^\+[^\r\n]*\r\n/m);
        c.write(Buffer.concat([Buffer.from(step.literal, 'latin1'), Buffer.from('\r\n')]));
        reply = await c.waitFor(new RegExp(`(?:^|\\r\\n)${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`), 10_000);
      } else {
        reply = await c.cmd(step.cmd, 10_000);
      }
      if (step.quiet) continue;
      const ls = lines(reply).filter((l) => l !== '');
      const tagged = ls.pop() ?? '';
      const untagged = ls.filter((l) => l.startsWith('* ') && (step.pick === undefined || step.pick.some((p) => p.test(l)))).map(normalise);
      // LIST, LSUB and STATUS lines come in no defined order.
      const free = /^\* (LIST|LSUB|STATUS) /;
      const sorted = untagged.filter((l) => free.test(l)).sort();
      for (let k = 0, j = 0; k < untagged.length; k++) if (free.test(untagged[k]!)) untagged[k] = sorted[j++]!;
      out.push(`s${step.s ?? 0} ${step.cmd}${step.literal !== undefined ? ' {literal}' : ''} => ${untagged.join(' | ')} || ${normalise(tagged.replace(/^\S+/, 'T'))}`);
    }
    return out;
  } finally {
    for (const c of sessions) {
      try {
        await c.cmd('LOGOUT', 2000);
      } catch {
        // already gone
      }
      c.close();
    }
  }
}

/** Dovecot's Maildir++ separator is "."; Postino's is "/": the differential runs Dovecot with "/". */
export const SLASH_NAMESPACE = 'namespace inbox {\n  inbox = yes\n  separator = /\n}\n';

/**
 * Postino (the in-process IMAP harness) and a scratch Dovecot, started before
 * the calling test file's tests and stopped after them; `compare` runs a
 * scenario on both and asserts the answers agree (Dovecot is the expected).
 */
export function differentialPeers(extraConf = ''): { compare(sc: Scenario): Promise<string[]>; endpoints(): Endpoint[] } {
  let postino: ImapHarness | undefined;
  let dovecot: RunningDovecot | undefined;
  before(async () => {
    postino = await startImapHarness();
    dovecot = await startDovecotLmtp({ users: [USER], password: PASSWORD, extraConf: SLASH_NAMESPACE + extraConf });
  });
  after(async () => {
    await postino?.close();
    await dovecot?.stop();
  });
  return {
    /** Postino's, then Dovecot's. */
    endpoints: () => [
      { port: postino!.tlsPort, secure: true, user: USER, password: PASSWORD },
      { port: dovecot!.imapPort, secure: false, user: USER, password: PASSWORD },
    ],
    async compare(sc: Scenario): Promise<string[]> {
      const ours = await runScenario({ port: postino!.tlsPort, secure: true, user: USER, password: PASSWORD }, sc);
      const theirs = await runScenario({ port: dovecot!.imapPort, secure: false, user: USER, password: PASSWORD }, sc);
      assert.deepEqual(ours, theirs, `${sc.name}: Postino (actual) and Dovecot (expected) differ`);
      return ours;
    },
  };
}
