// /metrics on a real `postino serve` with a real clamd: a clean message
// moves the received, delivered and clamd verdict series; once clamd is
// stopped, a message is answered 451 and the scanner failure series moves;
// a burst of failed IMAP logins (from several loopback addresses, so the
// auth penalty of one address does not serialise them) moves the auth
// failure series; an open IMAPS session shows in open connections. Hostile
// requests (a huge query string, other methods) are answered at once.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import { startClamd, startMx, sendTo, type Clamd, type ServedMx } from '../support/clamd.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';

const PASSWORD = 'tangerine-otter-42';
const message = (subject: string) =>
  `From: <sender@remote.test>\r\nTo: <bob@example.test>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${subject}@remote.test>\r\nSubject: ${subject}\r\n\r\nHello.\r\n`;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

function https(port: number, path: string, method = 'GET', body?: string): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, rejectUnauthorized: false, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, ms: Date.now() - started }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${method} ${path.slice(0, 40)}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of one series, or undefined when absent. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** An IMAPS session from a given loopback address; `login` resolves with the tagged reply. */
async function imaps(port: number, localAddress: string) {
  const socket = tlsConnect({ socket: tcpConnect({ host: '127.0.0.1', port, localAddress }), rejectUnauthorized: false });
  let buffer = '';
  const waiters: Array<{ prefix: string; resolve: (line: string) => void }> = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    let nl;
    while ((nl = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      const w = waiters.find((x) => line.startsWith(x.prefix));
      if (w) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const next = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${prefix} line from IMAPS`)), 60_000);
      waiters.push({ prefix, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  socket.on('error', () => {});
  await next('* OK');
  return {
    login(user: string, password: string) {
      socket.write(`a1 LOGIN "${user}" "${password}"\r\n`);
      return next('a1 ');
    },
    close: () => socket.destroy(),
  };
}

describe('metrics of a running server', { timeout: 240_000 }, () => {
  let clamd: Clamd;
  let dns: DnsFixture;
  let mx: ServedMx;
  let admin: number;
  let imapsPort: number;
  const scrape = async () => {
    const r = await https(admin, '/metrics');
    assert.equal(r.status, 200, r.body);
    return r.body;
  };

  before(async () => {
    clamd = await startClamd();
    dns = await startDnsFixture({});
    mx = await startMx({ host: '127.0.0.1', port: clamd.port, timeoutMs: 5_000, selfTestMinutes: 0 }, dns.servers);
    const portOf = async (service: string) => Number((await mx.served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
    admin = await portOf('admin');
    imapsPort = await portOf('imaps');
    await mx.served.waitFor((e) => e.event === 'ready');
  });

  after(async () => {
    await mx?.stop();
    await clamd?.cleanup();
    await dns?.close();
  });

  test('a clean message, then a stopped clamd: received, delivered, verdict and scanner failure series move', async () => {
    const before = await scrape();
    assert.equal(valueOf(before, 'postino_messages_received_total{protocol="smtp"}'), 0);
    assert.equal(valueOf(before, 'postino_scanner_failures_total{scanner="clamd"}'), undefined);

    const ok = await sendTo(mx.smtp, message('clean-one'));
    assert.match(ok.end[0] ?? '', /^250 /);
    let t = await scrape();
    assert.equal(valueOf(t, 'postino_messages_received_total{protocol="smtp"}'), 1);
    assert.equal(valueOf(t, 'postino_deliveries_total{outcome="delivered",result="delivered"}'), 1);
    assert.equal(valueOf(t, 'postino_delivery_duration_seconds_count{result="delivered"}'), 1);
    assert.equal(valueOf(t, 'postino_scanner_verdicts_total{scanner="clamd",verdict="clean"}'), 1);
    assert.equal(valueOf(t, 'postino_scanner_up{scanner="clamd"}'), 1);

    await clamd.stop();
    const refused = await sendTo(mx.smtp, message('clamd-down'));
    assert.match(refused.end[0] ?? '', /^451 4\.7\.1 /);
    t = await scrape();
    assert.equal(valueOf(t, 'postino_scanner_failures_total{scanner="clamd"}'), 1);
    assert.equal(valueOf(t, 'postino_scanner_verdicts_total{scanner="clamd",verdict="unscanned"}'), 1);
    assert.equal(valueOf(t, 'postino_scanner_up{scanner="clamd"}'), 0);
    assert.equal(valueOf(t, 'postino_messages_refused_total{protocol="smtp",stage="data",reason="antivirus"}'), 1);
    assert.equal(valueOf(t, 'postino_messages_received_total{protocol="smtp"}'), 2);
    assert.equal(valueOf(t, 'postino_deliveries_total{outcome="delivered",result="delivered"}'), 1, 'nothing delivered without a scan');

    // An unknown recipient is counted at its stage, by the hook that refused it.
    const unknown = await sendToUnknown(mx.smtp);
    assert.match(unknown, /^550 5\.1\.1/);
    t = await scrape();
    assert.equal(valueOf(t, 'postino_messages_refused_total{protocol="smtp",stage="rcpt",reason="recipient"}'), 1);
  });

  test('a burst of failed IMAP logins moves the auth failure series; a good login the success series', async () => {
    const burst = 6;
    const sessions = await Promise.all(Array.from({ length: burst }, (_, i) => imaps(imapsPort, `127.0.0.${20 + i}`)));
    try {
      const replies = await Promise.all(sessions.map((s, i) => s.login('bob@example.test', `wrong-password-${i}`)));
      for (const r of replies) assert.match(r, /^a1 NO /);
    } finally {
      for (const s of sessions) s.close();
    }
    const good = await imaps(imapsPort, '127.0.0.40');
    try {
      assert.match(await good.login('bob@example.test', PASSWORD), /^a1 OK /);
      const t = await scrape();
      assert.equal(valueOf(t, 'postino_auth_failures_total{protocol="imap"}'), burst);
      assert.equal(valueOf(t, 'postino_auth_successes_total{protocol="imap"}'), 1);
      // The session still open is counted on its listener.
      assert.ok((valueOf(t, 'postino_open_connections{protocol="imaps"}') ?? 0) >= 1, t);
    } finally {
      good.close();
    }
  });

  test('hostile requests to /metrics are answered at once and change nothing', async () => {
    // Refused before the client is done sending: the answer, or a reset if the client was still
    // writing when the server closed (both are a refusal; which one depends on timing).
    const refused = async (req: ReturnType<typeof https>, status: number) => {
      const started = Date.now();
      try {
        const r = await req;
        assert.equal(r.status, status);
        return r;
      } catch (err) {
        if (!['ECONNRESET', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
        return { status, headers: {}, ms: Date.now() - started } as Awaited<ReturnType<typeof https>>;
      }
    };
    const huge = await refused(https(admin, `/metrics?${'a'.repeat(200_000)}`), 431);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await https(admin, '/metrics', method, 'x'.repeat(1000));
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
      await refused(https(admin, '/metrics', method, 'x'.repeat(100_000)), 405);
    }
    const manyParams = await https(admin, `/metrics?${'a=1&'.repeat(2_000)}`);
    assert.equal(manyParams.status, 200);
    // Generous bounds for a loaded 2-core machine: a scrape is milliseconds, never seconds.
    for (const r of [huge, manyParams]) assert.ok(r.ms < 10_000, `${r.ms} ms`);
    const t = await scrape();
    assert.match(t, /^nodejs_eventloop_lag_seconds \d/m);
  });
});

/** One RCPT to an address of the local domain that does not exist; the RCPT reply. */
async function sendToUnknown(port: number): Promise<string> {
  const { openDialog } = await import('../support/smtp-dialog.js');
  const d = await openDialog(port);
  try {
    await d.send('EHLO client.test');
    await d.send('MAIL FROM:<sender@remote.test>');
    return await d.send('RCPT TO:<nobody@example.test>');
  } finally {
    d.close();
  }
}
