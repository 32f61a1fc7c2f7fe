// Mail client autoconfiguration from a real `postino serve` over HTTPS on the
// admin port: Thunderbird's config-v1.1.xml read element by element the way
// Thunderbird reads it (with a tiny strict XML reader: matching tags, only the
// predefined entities), Outlook's autodiscover POST with a real request body,
// the Apple profile behind HTTP Basic, and hostile requests answered 400/413.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath } from '../support/paths.js';
import { postino } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { SERVICES } from '../../src/config.js';

const HOST = 'mail.autoconfig.test';
const USER = 'ana@autoconfig.test';
const PASSWORD = 'correct horse battery staple 42';

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/** A strict reader for the documents under test: elements, attributes, text, the five entities; anything else throws. */
function readXml(xml: string): XmlElement {
  let pos = 0;
  const decode = (s: string) =>
    s.replace(/&(amp|lt|gt|quot|apos|[^;]*);|&/g, (m, e: string | undefined) => {
      const map: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
      if (e === undefined || !(e in map)) throw new Error(`bad entity ${m}`);
      return map[e]!;
    });
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/i.exec(xml);
  if (!decl) throw new Error('no XML declaration');
  pos = decl[0].length;
  function element(): XmlElement {
    const open = /^<([A-Za-z][\w.-]*)((?:\s+[A-Za-z][\w:.-]*="[^"<]*")*)\s*(\/?)>/.exec(xml.slice(pos));
    if (!open) throw new Error(`expected a start tag at ${pos}: ${xml.slice(pos, pos + 40)}`);
    pos += open[0].length;
    const attrs: Record<string, string> = {};
    for (const a of open[2]!.matchAll(/([A-Za-z][\w:.-]*)="([^"]*)"/g)) attrs[a[1]!] = decode(a[2]!);
    const el: XmlElement = { name: open[1]!, attrs, children: [], text: '' };
    if (open[3] === '/') return el;
    for (;;) {
      const lt = xml.indexOf('<', pos);
      if (lt < 0) throw new Error(`${el.name} not closed`);
      el.text += decode(xml.slice(pos, lt));
      pos = lt;
      if (xml.startsWith('</', pos)) {
        const close = /^<\/([A-Za-z][\w.-]*)\s*>/.exec(xml.slice(pos));
        if (!close || close[1] !== el.name) throw new Error(`mismatched end tag for ${el.name} at ${pos}`);
        pos += close[0].length;
        el.text = el.text.trim();
        return el;
      }
      el.children.push(element());
    }
  }
  const root = element();
  if (xml.slice(pos).trim() !== '') throw new Error('content after the root element');
  return root;
}

const child = (el: XmlElement, name: string) => {
  const c = el.children.filter((x) => x.name === name);
  assert.equal(c.length, 1, `exactly one <${name}> in <${el.name}>`);
  return c[0]!.text;
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, method: string, pathname: string, options: { body?: string | Buffer; headers?: Record<string, string>; chunks?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, method, headers: options.headers ?? {}, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // A server that answers before reading a huge body may reset the rest: the answer is what counts.
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    if (options.chunks !== undefined) {
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let left = options.chunks;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    } else req.end(options.body);
  });
}

const s = scratchDir('postino-autoconfig-');
let served: Served;
let admin = 0;
const ports: Record<string, number> = {};

before(async () => {
  for (const svc of ['imap', 'imaps', 'pop3', 'pop3s', 'submission', 'submissions']) ports[svc] = await freePort();
  const env = Object.fromEntries(SERVICES.map((svc) => [`POSTINO_${svc.toUpperCase()}_PORT`, String(ports[svc] ?? 0)]));
  writeFileSync(path.join(s.dir, 'postino.json'), JSON.stringify({ hostname: HOST, demo: false }));
  const add = postino(s.dir, ['domain', 'add', 'autoconfig.test', '--postmaster', USER, '--password-stdin'], `${PASSWORD}\n`);
  assert.equal(add.code, 0, add.stderr);
  served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...env, POSTINO_LISTEN: '127.0.0.1' });
  admin = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'admin')).port);
  await served.waitFor((e) => e.event === 'ready');
});

after(async () => {
  if (served) assert.equal(await served.stop(), 0);
  s.cleanup();
});

test('Thunderbird: both paths give the clientConfig 1.1 a client reads: servers, configured ports, socket types, %EMAILADDRESS%', async () => {
  for (const p of ['/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml']) {
    const res = await call(admin, 'GET', `${p}?emailaddress=${encodeURIComponent(USER)}`);
    assert.equal(res.status, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/xml/);
    const root = readXml(res.body);
    assert.equal(root.name, 'clientConfig');
    assert.equal(root.attrs['version'], '1.1');
    assert.equal(root.children.length, 1);
    const provider = root.children[0]!;
    assert.equal(provider.name, 'emailProvider');
    assert.equal(provider.attrs['id'], 'autoconfig.test');
    assert.deepEqual(provider.children.filter((c) => c.name === 'domain').map((c) => c.text), ['autoconfig.test']);
    const servers = provider.children
      .filter((c) => c.name === 'incomingServer' || c.name === 'outgoingServer')
      .map((c) => {
        assert.equal(child(c, 'hostname'), HOST);
        assert.equal(child(c, 'username'), '%EMAILADDRESS%');
        assert.equal(child(c, 'authentication'), 'password-cleartext');
        return `${c.name} ${c.attrs['type']} ${child(c, 'port')} ${child(c, 'socketType')}`;
      });
    assert.deepEqual(servers, [
      `incomingServer imap ${ports['imaps']} SSL`,
      `incomingServer imap ${ports['imap']} STARTTLS`,
      `incomingServer pop3 ${ports['pop3s']} SSL`,
      `incomingServer pop3 ${ports['pop3']} STARTTLS`,
      `outgoingServer smtp ${ports['submissions']} SSL`,
      `outgoingServer smtp ${ports['submission']} STARTTLS`,
    ]);
  }
});

test('Thunderbird: the IMAPS port the document names answers IMAP over TLS', async () => {
  const greeting = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: ports['imaps']!, rejectUnauthorized: false }, () => undefined);
    socket.once('data', (d: Buffer) => {
      resolve(d.toString());
      socket.destroy();
    });
    socket.once('error', reject);
  });
  assert.match(greeting, /^\* OK/);
});

test('Thunderbird: the domain from the autoconfig.DOMAIN host name; unknown domains 404; bad or missing address 400', async () => {
  const byHost = await call(admin, 'GET', '/mail/config-v1.1.xml', { headers: { host: 'autoconfig.autoconfig.test' } });
  assert.equal(byHost.status, 200, byHost.body);
  assert.equal(readXml(byHost.body).children[0]!.attrs['id'], 'autoconfig.test');
  const wellKnown = await call(admin, 'GET', '/.well-known/autoconfig/mail/config-v1.1.xml', { headers: { host: 'autoconfig.test' } });
  assert.equal(wellKnown.status, 200, wellKnown.body);
  assert.equal((await call(admin, 'GET', '/mail/config-v1.1.xml?emailaddress=x%40elsewhere.test')).status, 404);
  assert.equal((await call(admin, 'GET', '/mail/config-v1.1.xml?emailaddress=%3Cscript%3E')).status, 400);
  assert.equal((await call(admin, 'GET', '/mail/config-v1.1.xml')).status, 400);
});

const outlookRequest = (address: string) =>
  `<?xml version="1.0" encoding="utf-8"?>\r\n<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">\r\n  <Request>\r\n    <EMailAddress>${address}</EMailAddress>\r\n    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\r\n  </Request>\r\n</Autodiscover>\r\n`;

test('Outlook: autodiscover POST answers responseschema/2006a with IMAP and SMTP; GET with the address too', async () => {
  for (const p of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
    const res = await call(admin, 'POST', p, { body: outlookRequest(USER), headers: { 'content-type': 'text/xml' } });
    assert.equal(res.status, 200, res.body);
    const root = readXml(res.body.replace(/^<\?xml version="1.0" encoding="utf-8"\?>/, '<?xml version="1.0" encoding="UTF-8"?>'));
    assert.equal(root.name, 'Autodiscover');
    const response = root.children[0]!;
    assert.equal(response.attrs['xmlns'], 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a');
    const account = response.children.find((c) => c.name === 'Account')!;
    assert.equal(child(account, 'AccountType'), 'email');
    assert.equal(child(account, 'Action'), 'settings');
    const protocols = account.children.filter((c) => c.name === 'Protocol').map((c) => `${child(c, 'Type')} ${child(c, 'Server')} ${child(c, 'Port')} ${child(c, 'SSL')} ${child(c, 'LoginName')}`);
    assert.deepEqual(protocols, [`IMAP ${HOST} ${ports['imaps']} on ${USER}`, `SMTP ${HOST} ${ports['submissions']} on ${USER}`]);
  }
  const get = await call(admin, 'GET', `/autodiscover/autodiscover.xml?emailaddress=${encodeURIComponent(USER)}`);
  assert.equal(get.status, 200);
  assert.match(get.body, /<Type>IMAP<\/Type>/);
  const unknown = await call(admin, 'POST', '/autodiscover/autodiscover.xml', { body: outlookRequest('bob@elsewhere.test') });
  assert.equal(unknown.status, 404);
});

test('hostile requests: a huge query, a huge body (declared or streamed) and malformed XML get 400/413 at once', async () => {
  const started = Date.now();
  const longQuery = await call(admin, 'GET', `/mail/config-v1.1.xml?emailaddress=${'a'.repeat(5000)}%40autoconfig.test`);
  assert.equal(longQuery.status, 400);
  const declared = await call(admin, 'POST', '/autodiscover/autodiscover.xml', { body: Buffer.alloc(1024 * 1024, 'a'), headers: { 'content-type': 'text/xml' } });
  assert.equal(declared.status, 413);
  const streamed = await call(admin, 'POST', '/autodiscover/autodiscover.xml', { chunks: 64, headers: { 'content-type': 'text/xml', 'transfer-encoding': 'chunked' } });
  assert.equal(streamed.status, 413);
  for (const body of [
    '<Autodiscover><Request><EMailAddress>ana@autoconfig.test',
    '<!DOCTYPE a [<!ENTITY x "ana@autoconfig.test">]><Autodiscover><Request><EMailAddress>&x;</EMailAddress></Request></Autodiscover>',
    'EMailAddress=ana@autoconfig.test',
    '<Autodiscover>' + '<a'.repeat(1500),
  ]) {
    const res = await call(admin, 'POST', '/autodiscover/autodiscover.xml', { body });
    assert.equal(res.status, 400, body.slice(0, 60));
    assert.match(String(res.headers['content-type']), /problem\+json/);
  }
  // Generous: each of these is answered without reading more than a few KiB.
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
});

test('Apple profile: 401 without or with wrong credentials, the profile with the right ones', async () => {
  const none = await call(admin, 'GET', '/api/v1/me/apple-profile');
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Basic realm="Postino"/);
  const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
  const wrong = await call(admin, 'GET', '/api/v1/me/apple-profile', { headers: basic(USER, 'not the password') });
  assert.equal(wrong.status, 401);
  const ok = await call(admin, 'GET', '/api/v1/me/apple-profile', { headers: basic(USER, PASSWORD) });
  assert.equal(ok.status, 200, ok.body);
  assert.match(String(ok.headers['content-type']), /^application\/x-apple-aspen-config/);
  assert.match(String(ok.headers['content-disposition']), /attachment; filename="autoconfig\.test\.mobileconfig"/);
  assert.match(ok.body, /<string>com\.apple\.mail\.managed<\/string>/);
  assert.match(ok.body, new RegExp(`<key>IncomingMailServerPortNumber</key>\\n\\s*<integer>${ports['imaps']}</integer>`));
  assert.ok(!ok.body.includes(PASSWORD), 'no password in the profile');

  // From the panel: the user's browser session is enough.
  const login = await call(admin, 'POST', '/api/v1/session', {
    body: JSON.stringify({ username: USER, password: PASSWORD }),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(login.status, 200, login.body);
  const cookie = String(login.headers['set-cookie']).split(';')[0]!;
  const bySession = await call(admin, 'GET', '/api/v1/me/apple-profile', { headers: { cookie } });
  assert.equal(bySession.status, 200, bySession.body);
  assert.match(bySession.body, new RegExp(`<string>${USER.replace('.', '\\.')}</string>`));
});
