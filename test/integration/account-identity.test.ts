// Who owns what while the CLI changes accounts under a running server
// (issue 10, item 1): accounts, domains and aliases are removed, added and
// "renamed" (removed, then another address added at once) with the real
// CLI while a real `postino serve` runs; mail goes in over SMTP and IMAP is
// asked who sees what. Mail must never reach another account: account and
// mailbox ids are never handed out twice, and nothing the server caches
// outlives a change another process made. After a restart every user still
// reads exactly their own mail, and a re-added address starts empty (item 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { openDialog } from '../support/smtp-dialog.js';
import { cliPath } from '../support/paths.js';
import { prng } from '../support/prng.js';
import { SERVICES } from '../../src/config.js';

const PASSWORD = 'tangerine-otter-42';

interface Server {
  served: Served;
  smtp: number;
  imaps: number;
}

async function startServer(dir: string): Promise<Server> {
  const env = { ...Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0'])), POSTINO_DEMO: '0' };
  const served = startServe(process.execPath, [cliPath, 'serve', '--data', dir], env);
  const smtp = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp')).port);
  const imaps = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'imaps')).port);
  await served.waitFor((e) => e.event === 'ready');
  return { served, smtp, imaps };
}

function configure(dir: string): void {
  // No DNS on this machine: sender checks end in temperror quickly and mail is accepted.
  writeFileSync(
    path.join(dir, 'postino.json'),
    JSON.stringify({ hostname: 'mx.example.test', smtp: { greetDelayMs: 0, maxConnectionsPerIp: 50 }, dns: { servers: ['127.0.0.1:9'] } }),
  );
}

function cli(dir: string, args: string[], stdin?: string): string {
  const r = postino(dir, args, stdin);
  assert.equal(r.code, 0, `postino ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Sends one message whose Subject is `token`; resolves with the reply that decided its fate. */
async function send(port: number, to: string, token: string): Promise<string> {
  const d = await openDialog(port);
  try {
    await d.send('EHLO client.remote.test');
    const mail = await d.send('MAIL FROM:<sweep@remote.test>');
    if (!mail.startsWith('250')) return mail;
    const rcpt = await d.send(`RCPT TO:<${to}>`);
    if (!rcpt.startsWith('250')) return rcpt;
    const data = await d.send('DATA');
    if (!data.startsWith('354')) return data;
    const [reply] = await d.data(`From: <sweep@remote.test>\r\nTo: <${to}>\r\nSubject: ${token}\r\nMessage-ID: <${token}@remote.test>\r\n\r\n${token}\r\n`);
    return reply!;
  } finally {
    d.close();
  }
}

function imapClient(port: number, user: string): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: true, auth: { user, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
}

/** The subjects in the account's INBOX, sorted, as IMAP shows them. */
async function inbox(port: number, user: string): Promise<string[]> {
  const c = imapClient(port, user);
  await c.connect();
  try {
    const mb = await c.mailboxOpen('INBOX', { readOnly: true });
    return mb.exists === 0 ? [] : await subjects(c);
  } finally {
    await c.logout();
  }
}

async function subjects(c: ImapFlow): Promise<string[]> {
  const out: string[] = [];
  for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
  return out.sort();
}

/** Every message file under `root`, as [path relative to root, Subject]. */
function messageFiles(root: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /^(new|cur)$/.test(path.basename(dir))) {
        const subject = /^Subject: (\S+)/m.exec(readFileSync(p, 'latin1'))?.[1] ?? '?';
        out.push([path.relative(root, p), subject]);
      }
    }
  };
  walk(root);
  return out;
}

test('the reported case: remove olduser, add newuser, add olduser again, restart', { timeout: 180_000 }, async () => {
  const s = scratchDir();
  configure(s.dir);
  cli(s.dir, ['domain', 'add', 'd.test', '--postmaster', 'keeper@d.test', '--password-stdin'], `${PASSWORD}\n`);
  cli(s.dir, ['user', 'add', 'olduser@d.test', '--password-stdin'], `${PASSWORD}\n`);
  let server = await startServer(s.dir);
  let oldSession: ImapFlow | undefined;
  try {
    // The server learns olduser's account (and its directory) by delivering to it.
    assert.match(await send(server.smtp, 'olduser@d.test', 'old-1'), /^250/);
    oldSession = imapClient(server.imaps, 'olduser@d.test');
    await oldSession.connect();
    await oldSession.mailboxOpen('INBOX');
    assert.deepEqual(await subjects(oldSession), ['old-1']);

    cli(s.dir, ['user', 'remove', 'olduser@d.test']);
    cli(s.dir, ['user', 'add', 'newuser@d.test', '--password-stdin'], `${PASSWORD}\n`);
    assert.match(await send(server.smtp, 'newuser@d.test', 'new-1'), /^250/, 'mail to the new account is stored');
    cli(s.dir, ['user', 'add', 'olduser@d.test', '--password-stdin'], `${PASSWORD}\n`);
    assert.match(await send(server.smtp, 'newuser@d.test', 'new-2'), /^250/);
    assert.match(await send(server.smtp, 'olduser@d.test', 'old-2'), /^250/);

    assert.deepEqual(await inbox(server.imaps, 'newuser@d.test'), ['new-1', 'new-2']);
    assert.deepEqual(await inbox(server.imaps, 'olduser@d.test'), ['old-2'], 'the re-added account starts empty');
    // The session opened before the removal never sees the new accounts' mail.
    let seen: string[] = [];
    try {
      await oldSession.noop();
      seen = await subjects(oldSession);
    } catch {
      seen = [];
    }
    assert.deepEqual(seen.filter((x) => x !== 'old-1'), [], 'a session of the removed account sees no one else\'s mail');

    const files = messageFiles(path.join(s.dir, 'mail', 'd.test'));
    assert.deepEqual(files.filter(([p]) => p.startsWith('olduser/')).map(([, t]) => t), ['old-2']);
    assert.deepEqual(files.filter(([p]) => p.startsWith('newuser/')).map(([, t]) => t).sort(), ['new-1', 'new-2']);
    assert.deepEqual(messageFiles(path.join(s.dir, 'removed', 'd.test')).map(([, t]) => t), ['old-1'], 'the removed mail is kept aside');

    oldSession.close();
    oldSession = undefined;
    assert.equal(await server.served.stop(), 0);
    server = await startServer(s.dir);
    assert.deepEqual(await inbox(server.imaps, 'newuser@d.test'), ['new-1', 'new-2']);
    assert.deepEqual(await inbox(server.imaps, 'olduser@d.test'), ['old-2']);
  } finally {
    oldSession?.close();
    assert.equal(await server.served.stop(), 0);
    s.cleanup();
  }
});

/** One life of an address as an account: from `user add` to its removal. */
interface Incarnation {
  address: string;
  tokens: string[];
  live: boolean;
}

test('a sweep of domain, account and alias changes while serving: mail reaches exactly its owner', { timeout: 600_000 }, async () => {
  const s = scratchDir();
  configure(s.dir);
  const random = prng(10);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const DOMAINS = ['a.test', 'b.test'];
  const USERS = ['ann', 'ben', 'cat'];
  const ALIASES = ['team', 'list'];

  // The model: what should exist, and which incarnation should hold which message.
  const liveDomains = new Set<string>();
  const accounts = new Map<string, Incarnation>();
  const history: Incarnation[] = [];
  const aliases = new Map<string, string[]>();
  const run = (args: string[], stdin?: string) => cli(s.dir, args, stdin);

  const addUser = (address: string) => {
    run(['user', 'add', address, '--password-stdin'], `${PASSWORD}\n`);
    const inc = { address, tokens: [], live: true };
    accounts.set(address, inc);
    history.push(inc);
  };
  const removeAlias = (address: string) => {
    run(['alias', 'remove', address]);
    aliases.delete(address);
  };
  /** Aliases pointing to an account go first (an alias with a dead target is another matter). */
  const removeUser = (address: string) => {
    for (const [alias, targets] of aliases) if (targets.includes(address)) removeAlias(alias);
    run(['user', 'remove', address]);
    accounts.get(address)!.live = false;
    accounts.delete(address);
  };
  const addDomain = (domain: string) => {
    run(['domain', 'add', domain, '--postmaster', 'keeper@home.test']);
    liveDomains.add(domain);
  };
  const removeDomain = (domain: string) => {
    for (const [alias, targets] of aliases) if (!alias.endsWith(`@${domain}`) && targets.some((t) => t.endsWith(`@${domain}`))) removeAlias(alias);
    run(['domain', 'remove', domain]);
    liveDomains.delete(domain);
    for (const [address, inc] of accounts) {
      if (address.endsWith(`@${domain}`)) {
        inc.live = false;
        accounts.delete(address);
      }
    }
    for (const alias of [...aliases.keys()]) if (alias.endsWith(`@${domain}`)) aliases.delete(alias);
  };
  const freeAddresses = (locals: string[]) =>
    [...liveDomains].flatMap((d) => locals.map((l) => `${l}@${d}`)).filter((a) => !accounts.has(a) && !aliases.has(a));

  run(['domain', 'add', 'home.test', '--postmaster', 'keeper@home.test', '--password-stdin'], `${PASSWORD}\n`);
  history.push({ address: 'keeper@home.test', tokens: [], live: true });
  accounts.set('keeper@home.test', history[0]!);
  for (const d of DOMAINS) addDomain(d);
  addUser('ann@a.test');
  addUser('ann@b.test');
  addUser('ben@a.test');

  let server = await startServer(s.dir);
  let sent = 0;
  /** Mail to every address the model knows of, live or not, and checks each reply. */
  const deliverAll = async (step: string) => {
    const targets = new Set([...accounts.keys(), ...aliases.keys(), ...[...liveDomains].map((d) => `postmaster@${d}`)]);
    const dead = [...liveDomains].flatMap((d) => [...USERS, ...ALIASES].map((l) => `${l}@${d}`)).filter((a) => !targets.has(a));
    for (const to of targets) {
      const token = `m${++sent}`;
      const reply = await send(server.smtp, to, token);
      assert.match(reply, /^250/, `${step}: mail to ${to} -> ${reply}`);
      const owners = new Set(to.startsWith('postmaster@') ? ['keeper@home.test'] : aliases.get(to) ?? [to]);
      for (const o of owners) accounts.get(o)!.tokens.push(token);
    }
    for (const to of dead.slice(0, 2)) {
      const reply = await send(server.smtp, to, `dead${++sent}`);
      assert.match(reply, /^550 5\.1\.1/, `${step}: mail to ${to}, which does not exist -> ${reply}`);
    }
  };
  // One IMAP session per account, kept open across the changes as a mail client would.
  const sessions = new Map<Incarnation, ImapFlow>();
  const closeSession = (inc: Incarnation) => {
    sessions.get(inc)?.close();
    sessions.delete(inc);
  };
  const checkImap = async (step: string) => {
    for (const inc of [...sessions.keys()]) if (!inc.live) closeSession(inc);
    for (const inc of accounts.values()) {
      let c = sessions.get(inc);
      if (!c) {
        c = imapClient(server.imaps, inc.address);
        await c.connect();
        await c.mailboxOpen('INBOX', { readOnly: true });
        sessions.set(inc, c);
      } else {
        await c.noop();
      }
      const exists = c.mailbox === false ? 0 : c.mailbox.exists;
      assert.deepEqual(exists === 0 ? [] : await subjects(c), [...inc.tokens].sort(), `${step}: what ${inc.address} sees over IMAP`);
    }
  };

  const schedule = ['rename', 'addAlias', 'retarget', 'removeUser', 'readd', 'addUser', 'addAlias', 'removeAlias', 'removeDomain', 'addDomain'] as const;
  const done: string[] = [];
  try {
    await deliverAll('start');
    for (let round = 0; round < 2; round++) {
      for (const op of schedule) {
        let step = '';
        if (op === 'rename' && accounts.size > 1 && freeAddresses(USERS).length > 0) {
          // The newest account removed and another address added at once: SQLite
          // without AUTOINCREMENT gave the new account the removed one's id.
          const from = history.filter((h) => h.live && h.address !== 'keeper@home.test').pop()!.address;
          const to = pick(freeAddresses(USERS).filter((a) => a !== from));
          removeUser(from);
          addUser(to);
          step = `rename ${from} -> ${to}`;
        } else if (op === 'readd' && accounts.size > 1) {
          const address = pick([...accounts.keys()].filter((a) => a !== 'keeper@home.test'));
          removeUser(address);
          addUser(address);
          step = `remove and add again ${address}`;
        } else if ((op === 'addUser' || op === 'rename' || op === 'readd') && freeAddresses(USERS).length > 0) {
          const address = pick(freeAddresses(USERS));
          addUser(address);
          step = `add ${address}`;
        } else if (op === 'removeUser' && accounts.size > 1) {
          const address = pick([...accounts.keys()].filter((a) => a !== 'keeper@home.test'));
          removeUser(address);
          step = `remove ${address}`;
        } else if (op === 'addAlias' && freeAddresses(ALIASES).length > 0 && accounts.size > 1) {
          const address = pick(freeAddresses(ALIASES));
          const targets = [...new Set([pick([...accounts.keys()]), pick([...accounts.keys()])])];
          run(['alias', 'add', address, ...targets]);
          aliases.set(address, targets);
          step = `alias ${address} -> ${targets.join(', ')}`;
        } else if (op === 'retarget' && aliases.size > 0) {
          // An alias "renamed": the same name pointing elsewhere.
          const address = pick([...aliases.keys()]);
          const target = pick([...accounts.keys()]);
          removeAlias(address);
          run(['alias', 'add', address, target]);
          aliases.set(address, [target]);
          step = `alias ${address} now -> ${target}`;
        } else if (op === 'removeAlias' && aliases.size > 0) {
          const address = pick([...aliases.keys()]);
          removeAlias(address);
          step = `remove alias ${address}`;
        } else if (op === 'removeDomain' && liveDomains.size > 0) {
          const domain = pick([...liveDomains]);
          removeDomain(domain);
          step = `remove domain ${domain}`;
        } else if (op === 'addDomain' && liveDomains.size < DOMAINS.length) {
          const domain = pick(DOMAINS.filter((d) => !liveDomains.has(d)));
          addDomain(domain);
          // The domain comes back with the names it had: they start empty.
          for (const u of USERS.slice(0, 2)) addUser(`${u}@${domain}`);
          step = `add domain ${domain} with ${USERS.slice(0, 2).join(', ')}`;
        } else {
          continue;
        }
        done.push(step);
        await deliverAll(step);
        await checkImap(step);
      }
    }
    const kinds = ['rename', 'remove and add again', 'alias', 'remove alias', 'remove domain', 'add domain'];
    for (const k of kinds) assert.ok(done.some((d) => d.startsWith(`${k} `)), `no "${k}" step in: ${done.join('; ')}`);

    // On disk: every message once, in its owner's Maildir, or (removed owner) set aside under removed/.
    const where = (rel: string) => rel.split(path.sep).slice(0, 2).join('/');
    const live = new Map<string, string[]>();
    for (const [rel, token] of messageFiles(path.join(s.dir, 'mail'))) {
      const [domain, local] = where(rel).split('/');
      const key = `${local}@${domain}`;
      live.set(key, [...(live.get(key) ?? []), token]);
    }
    for (const inc of accounts.values()) assert.deepEqual((live.get(inc.address) ?? []).sort(), [...inc.tokens].sort(), `files of ${inc.address}`);
    for (const key of live.keys()) assert.ok(accounts.has(key), `mail on disk for ${key}, which is no account`);
    const removed = new Map<string, string[]>();
    for (const [rel, token] of messageFiles(path.join(s.dir, 'removed'))) {
      const [domain, dir] = where(rel).split('/');
      const key = `${dir!.replace(/-\d{8}T\d{6}Z(-\d+)?$/, '')}@${domain}`;
      removed.set(key, [...(removed.get(key) ?? []), token]);
    }
    const expectRemoved = new Map<string, string[]>();
    for (const inc of history.filter((h) => !h.live)) expectRemoved.set(inc.address, [...(expectRemoved.get(inc.address) ?? []), ...inc.tokens]);
    for (const [address, tokens] of expectRemoved) assert.deepEqual((removed.get(address) ?? []).sort(), tokens.sort(), `mail set aside for ${address}`);
    for (const key of removed.keys()) assert.ok(expectRemoved.has(key), `mail set aside for ${key}, which was never removed`);

    for (const inc of [...sessions.keys()]) closeSession(inc);
    assert.equal(await server.served.stop(), 0);
    server = await startServer(s.dir);
    await checkImap('after a restart');
  } finally {
    for (const inc of [...sessions.keys()]) closeSession(inc);
    assert.equal(await server.served.stop(), 0);
    s.cleanup();
  }
});
