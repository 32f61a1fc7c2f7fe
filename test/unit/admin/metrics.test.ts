// The metrics registry and the /metrics route without a network: each
// server has its own registry (two in one process keep apart), the Metrics
// calls move the series they name, the queue and disk gauges are read at
// scrape time, and the route answers only GET/HEAD, with a bearer token when
// metrics.token is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryStorage } from '../../../storage/memory/index.js';
import { PrometheusMetrics } from '../../../src/admin/metrics/prometheus.js';
import { bearerMatches, metricsRoutes } from '../../../src/admin/metrics/route.js';
import { buildAdminApp, type AdminDeps } from '../../../src/admin/app.js';
import { resolveConfig, validateConfig, type Config } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { Authenticator } from '../../../src/auth/authenticator.js';
import { scratchDir } from '../../support/tmp.js';
import { OutboundRunner } from '../../../src/outbound/runner.js';
import type { OutboundMessage, OutboundTransport, RecipientOutcome } from '../../../src/outbound/transport.js';

/** The value of one series in the text format, or undefined when absent. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function newMetrics(now = () => Date.now()) {
  const storage = openMemoryStorage();
  const s = scratchDir();
  const metrics = new PrometheusMetrics({ queue: storage.queue, dataDir: s.dir, listeners: () => [], now });
  return { storage, metrics, cleanup: s.cleanup };
}

test('two servers in one process keep separate registries', async () => {
  const a = newMetrics();
  const b = newMetrics();
  try {
    a.metrics.auth('imap', false);
    a.metrics.auth('imap', false);
    b.metrics.auth('imap', true);
    const ta = await a.metrics.registry.metrics();
    const tb = await b.metrics.registry.metrics();
    assert.equal(valueOf(ta, 'postino_auth_failures_total{protocol="imap"}'), 2);
    assert.equal(valueOf(ta, 'postino_auth_successes_total{protocol="imap"}'), 0);
    assert.equal(valueOf(tb, 'postino_auth_failures_total{protocol="imap"}'), 0);
    assert.equal(valueOf(tb, 'postino_auth_successes_total{protocol="imap"}'), 1);
    assert.ok(valueOf(ta, 'nodejs_eventloop_lag_seconds') !== undefined, 'default metrics on the server registry');
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test('each Metrics call moves the series it names', async () => {
  const { metrics, cleanup } = newMetrics();
  try {
    metrics.messageReceived('smtp');
    metrics.messageRefused('smtp', 'data', 'antivirus');
    metrics.messageRefused('lmtp', 'rcpt', 'recipient');
    metrics.delivered('delivered', 'delivered', 0.02);
    metrics.delivered('no-space', 'tempfail', 0.01);
    metrics.outbound('sent', null, 42);
    metrics.outbound('deferred', 'connect', 10);
    metrics.scanned({ scanner: 'clamd', verdict: { kind: 'clean' } });
    metrics.scanned({ scanner: 'clamd', verdict: { kind: 'unscanned', reason: 'connect ECONNREFUSED' } });
    metrics.scanned({ scanner: 'spamd', verdict: { kind: 'score', score: 7, required: 5, tests: [] } });
    metrics.storageError('queue');
    const t = await metrics.registry.metrics();
    assert.equal(valueOf(t, 'postino_messages_received_total{protocol="smtp"}'), 1);
    assert.equal(valueOf(t, 'postino_messages_refused_total{protocol="smtp",stage="data",reason="antivirus"}'), 1);
    assert.equal(valueOf(t, 'postino_messages_refused_total{protocol="lmtp",stage="rcpt",reason="recipient"}'), 1);
    assert.equal(valueOf(t, 'postino_deliveries_total{outcome="delivered",result="delivered"}'), 1);
    assert.equal(valueOf(t, 'postino_deliveries_total{outcome="no-space",result="tempfail"}'), 1);
    assert.equal(valueOf(t, 'postino_delivery_duration_seconds_count{result="delivered"}'), 1);
    assert.equal(valueOf(t, 'postino_storage_errors_total{operation="no-space"}'), 1);
    assert.equal(valueOf(t, 'postino_storage_errors_total{operation="queue"}'), 1);
    assert.equal(valueOf(t, 'postino_outbound_attempts_total{outcome="sent"}'), 1);
    assert.equal(valueOf(t, 'postino_outbound_delivery_seconds_sum'), 42);
    assert.equal(valueOf(t, 'postino_deferrals_total{class="connect"}'), 1);
    assert.equal(valueOf(t, 'postino_scanner_verdicts_total{scanner="clamd",verdict="clean"}'), 1);
    assert.equal(valueOf(t, 'postino_scanner_verdicts_total{scanner="spamd",verdict="spam"}'), 1);
    assert.equal(valueOf(t, 'postino_scanner_failures_total{scanner="clamd"}'), 1);
    assert.equal(valueOf(t, 'postino_scanner_up{scanner="clamd"}'), 0);
    assert.equal(valueOf(t, 'postino_scanner_up{scanner="spamd"}'), 1);
  } finally {
    cleanup();
  }
});

test('queue size, oldest entry age and free disk are read at scrape time', async () => {
  let clock = Date.now();
  const { storage, metrics, cleanup } = newMetrics(() => clock);
  try {
    let t = await metrics.registry.metrics();
    assert.equal(valueOf(t, 'postino_queue_messages{state="active"}'), 0);
    assert.equal(valueOf(t, 'postino_queue_oldest_age_seconds'), 0);
    const first = await storage.queue.enqueue('a@example.test', ['b@remote.test'], Buffer.from('Subject: x\r\n\r\nx\r\n'), 'submission');
    const second = await storage.queue.enqueue('a@example.test', ['c@remote.test'], Buffer.from('Subject: y\r\n\r\ny\r\n'), 'submission');
    await storage.queue.hold(second.id);
    clock = Date.now() + 7_200_000;
    t = await metrics.registry.metrics();
    assert.equal(valueOf(t, 'postino_queue_messages{state="active"}'), 1);
    assert.equal(valueOf(t, 'postino_queue_messages{state="held"}'), 1);
    const age = valueOf(t, 'postino_queue_oldest_age_seconds')!;
    assert.ok(age >= 7190 && age < 7300, String(age));
    // An entry on hold is not the oldest waiting one.
    await storage.queue.hold(first.id);
    t = await metrics.registry.metrics();
    assert.equal(valueOf(t, 'postino_queue_oldest_age_seconds'), 0);
    const free = valueOf(t, 'postino_data_free_bytes')!;
    const size = valueOf(t, 'postino_data_size_bytes')!;
    assert.ok(free > 0 && size >= free, `${free} of ${size}`);
  } finally {
    cleanup();
  }
});

function app(config: Config, metrics: PrometheusMetrics | undefined) {
  const storage = openMemoryStorage();
  const deps: AdminDeps = {
    config: () => config,
    storage,
    log: createLogger('silent'),
    authenticator: new Authenticator(storage.directory),
    dataDir: '/nonexistent',
    ...(metrics ? { metrics } : {}),
  };
  return buildAdminApp(deps, [metricsRoutes]);
}

test('/metrics: GET and HEAD answer the text format; other methods 405 with Allow', async () => {
  const { metrics, cleanup } = newMetrics();
  try {
    const a = app(resolveConfig({}, {}), metrics);
    const get = await a.request('/metrics');
    assert.equal(get.status, 200);
    assert.match(get.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await get.text(), /^# HELP postino_messages_received_total /m);
    const head = await a.request('/metrics', { method: 'HEAD' });
    assert.equal(head.status, 200);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await a.request('/metrics', { method, body: method === 'OPTIONS' ? null : 'x'.repeat(1000) });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.get('allow'), 'GET, HEAD');
    }
    // A query string changes nothing.
    assert.equal((await a.request(`/metrics?${'a=1&'.repeat(2000)}`)).status, 200);
    // A server without metrics (none passed) answers 404.
    assert.equal((await app(resolveConfig({}, {}), undefined).request('/metrics')).status, 404);
  } finally {
    cleanup();
  }
});

test('/metrics with metrics.token: only the right bearer token scrapes', async () => {
  const { metrics, cleanup } = newMetrics();
  try {
    const token = 'scrape-token-0123456789abcdef';
    const a = app(resolveConfig(validateConfig({ metrics: { token } }), {}), metrics);
    const withAuth = (authorization?: string) => a.request('/metrics', authorization === undefined ? {} : { headers: { authorization } });
    const none = await withAuth();
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal((await withAuth('Bearer wrong-token-0123456789abcdef')).status, 401);
    assert.equal((await withAuth(`Basic ${Buffer.from(`x:${token}`).toString('base64')}`)).status, 401);
    assert.equal((await withAuth(`Bearer ${token}x`)).status, 401);
    assert.equal((await withAuth(`Bearer ${'x'.repeat(10_000)}`)).status, 401);
    assert.equal((await withAuth(`Bearer ${token}`)).status, 200);
    assert.equal((await withAuth(`bearer ${token}`)).status, 200);
  } finally {
    cleanup();
  }
});

test('bearerMatches and the metrics.token setting', () => {
  assert.equal(bearerMatches(undefined, 'abcdefghijklmnop'), false);
  assert.equal(bearerMatches('Bearer abcdefghijklmnop', 'abcdefghijklmnop'), true);
  assert.equal(bearerMatches('Bearer  abcdefghijklmnop', 'abcdefghijklmnop'), false);
  assert.throws(() => validateConfig({ metrics: { token: 'short' } }), /metrics\.token/);
  assert.throws(() => validateConfig({ metrics: { token: 'has a space in the token' } }), /metrics\.token/);
  assert.equal(resolveConfig({}, {}).metrics.token, undefined);
});

test('the outbound runner reports each attempt: sent with its age in the queue, deferred with its class', async () => {
  const { storage, metrics, cleanup } = newMetrics();
  // One recipient accepted, one greylisted.
  const transport: OutboundTransport = {
    async send(m: OutboundMessage): Promise<RecipientOutcome[]> {
      return m.recipients.map((address) =>
        address.startsWith('ok')
          ? { address, status: 'sent', reply: '250 2.0.0 ok' }
          : { address, status: 'deferred', reply: '451 4.7.1 greylisted', deferral: 'greylist' },
      );
    },
    async close() {},
  };
  const runner = new OutboundRunner({ queue: storage.queue, transport, log: createLogger('silent'), hostname: 'mx.example.test', metrics });
  try {
    await storage.queue.enqueue('a@example.test', ['ok@remote.test', 'grey@remote.test'], Buffer.from('Subject: x\r\n\r\nx\r\n'), 'submission');
    await runner.kick();
    await runner.idle();
    const t = await metrics.registry.metrics();
    assert.equal(valueOf(t, 'postino_outbound_attempts_total{outcome="sent"}'), 1);
    assert.equal(valueOf(t, 'postino_outbound_attempts_total{outcome="deferred"}'), 1);
    assert.equal(valueOf(t, 'postino_deferrals_total{class="greylist"}'), 1);
    assert.equal(valueOf(t, 'postino_outbound_delivery_seconds_count'), 1);
    assert.equal(valueOf(t, 'postino_queue_messages{state="active"}'), 1, 'the deferred recipient keeps the entry');
  } finally {
    await runner.stop(0);
    cleanup();
  }
});
