// The shipped alert rules pass `promtool check rules` and their own
// `promtool test rules` cases; a real Prometheus (the Debian package, a
// scratch config and TSDB) scrapes a real `postino serve` over HTTPS on the
// admin port with the metrics.token bearer token, loads the shipped rules,
// and its query API returns the values the server's traffic should give.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { scratchDir } from '../support/tmp.js';
import { startServe, type Served } from '../support/serve.js';
import { cliPath, repoRoot } from '../support/paths.js';
import { postino } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { sendTo } from '../support/clamd.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { SERVICES } from '../../src/config.js';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const RULES_DIR = path.join(repoRoot, 'contrib', 'prometheus');
const RULES = path.join(RULES_DIR, 'postino-rules.yml');
const TOKEN = 'prometheus-scrape-token-0123456789';

test('the shipped rules pass promtool check rules, and their unit tests pass', { skip: !existsSync(PROMTOOL) && 'promtool is not installed' }, () => {
  const check = spawnSync(PROMTOOL, ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /SUCCESS: 7 rules found/);
  const unit = spawnSync(PROMTOOL, ['test', 'rules', 'postino-rules.test.yml'], { cwd: RULES_DIR, encoding: 'utf8' });
  assert.equal(unit.status, 0, unit.stdout + unit.stderr);
  assert.match(unit.stdout, /SUCCESS/);
});

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text() };
}

/** Polls until check returns a value (not undefined), or fails after timeoutMs. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function scrapeWithout(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/metrics', rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a real Prometheus scraping serve', { timeout: 240_000, skip: !existsSync(PROMETHEUS) && 'prometheus is not installed' }, () => {
  const scratch = scratchDir('postino-prometheus-');
  let dns: DnsFixture;
  let served: Served;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let api: string;
  let admin: number;
  let smtp: number;

  /** The value of an instant query with one result, as a number; undefined while Prometheus has no such series. */
  const query = async (promql: string): Promise<number | undefined> => {
    const r = await getJson(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const result = r.body.data.result as Array<{ value: [number, string] }>;
    return result.length === 1 ? Number(result[0]!.value[1]) : undefined;
  };

  before(async () => {
    const dir = path.join(scratch.dir, 'data');
    const cli = (args: string[], stdin?: string) => {
      const r = postino(dir, args, stdin);
      if (r.code !== 0) throw new Error(`postino ${args.join(' ')}: ${r.stderr}`);
    };
    cli(['domain', 'add', 'example.test', '--postmaster', 'bob@example.test', '--password-stdin'], 'tangerine-otter-42\n');
    dns = await startDnsFixture({});
    writeFileSync(
      path.join(dir, 'postino.json'),
      JSON.stringify({ hostname: 'mx.example.test', demo: false, smtp: { greetDelayMs: 0 }, dns: { servers: dns.servers }, metrics: { token: TOKEN } }),
    );
    const ports = Object.fromEntries(SERVICES.map((s) => [`POSTINO_${s.toUpperCase()}_PORT`, '0']));
    served = startServe(process.execPath, [cliPath, 'serve', '--data', dir], ports);
    const portOf = async (service: string) => Number((await served.waitFor((e) => e.event === 'listening' && e.service === service)).port);
    admin = await portOf('admin');
    smtp = await portOf('smtp');
    await served.waitFor((e) => e.event === 'ready');

    const promPort = await freePort();
    api = `http://127.0.0.1:${promPort}`;
    const config = path.join(scratch.dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(RULES)}`,
        'scrape_configs:',
        '  - job_name: postino',
        '    scheme: https',
        '    tls_config:',
        '      insecure_skip_verify: true',
        '    authorization:',
        `      credentials: ${JSON.stringify(TOKEN)}`,
        '    static_configs:',
        `      - targets: ["127.0.0.1:${admin}"]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      PROMETHEUS,
      [`--config.file=${config}`, `--storage.tsdb.path=${path.join(scratch.dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (d: Buffer) => (prometheusLog += d.toString()));
    prometheus.stderr!.on('data', (d: Buffer) => (prometheusLog += d.toString()));
    await eventually('Prometheus to be ready', async () => {
      if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${prometheusLog}`);
      return (await fetch(`${api}/-/ready`)).status === 200 ? true : undefined;
    });
  });

  after(async () => {
    const p = prometheus;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (served) assert.equal(await served.stop(), 0);
    await dns?.close();
    scratch.cleanup();
  });

  test('Prometheus scrapes /metrics with the bearer token; without it /metrics answers 401', async () => {
    assert.equal(await scrapeWithout(admin), 401);
    const up = await eventually('the target to be up', async () => ((await query('up{job="postino"}')) === 1 ? 1 : undefined));
    assert.equal(up, 1);
    assert.ok((await eventually('free bytes', () => query('postino_data_free_bytes')))! > 0);
    assert.ok((await eventually('event-loop lag', () => query('nodejs_eventloop_lag_seconds')))! >= 0);
    assert.equal(await eventually('queue size', () => query('postino_queue_messages{state="active"}')), 0);
  });

  test('a delivered message shows in Prometheus as received and delivered', async () => {
    const r = await sendTo(smtp, 'From: <sender@remote.test>\r\nTo: <bob@example.test>\r\nSubject: to prometheus\r\nMessage-ID: <p1@remote.test>\r\n\r\nHello.\r\n');
    assert.match(r.end[0] ?? '', /^250 /);
    const delivered = await eventually('the delivery to reach Prometheus', async () => {
      const v = await query('postino_deliveries_total{outcome="delivered"}');
      return v === 1 ? v : undefined;
    });
    assert.equal(delivered, 1);
    assert.equal(await query('postino_messages_received_total{protocol="smtp"}'), 1);
    assert.equal(await query('postino_delivery_duration_seconds_count{result="delivered"}'), 1);
    assert.equal(await query('postino_messages_refused_total'), undefined, 'nothing refused');
  });

  test('Prometheus loaded the shipped rules, all healthy, and no alert fires on a healthy server', async () => {
    const rules = await eventually('the rules to be evaluated', async () => {
      const r = await getJson(`${api}/api/v1/rules`);
      const group = (r.body.data.groups as Array<{ name: string; rules: Array<{ name: string; health: string }> }>).find((g) => g.name === 'postino');
      return group && group.rules.every((rule) => rule.health === 'ok') ? group : undefined;
    });
    assert.deepEqual(
      rules.rules.map((r) => r.name).sort(),
      ['PostinoAuthFailureSpike', 'PostinoDiskNearlyFull', 'PostinoDown', 'PostinoNoDelivery', 'PostinoQueueOldEntry', 'PostinoQueueStuck', 'PostinoScannerDown'],
    );
    // Between the scrape that sees a message received and the one that sees it delivered, PostinoNoDelivery
    // may be pending for a moment (its `for: 5m` keeps that from firing): wait for a quiet evaluation.
    // The disk alert depends on this machine's disk, not on the server.
    const active = async () => {
      const alerts = await getJson(`${api}/api/v1/alerts`);
      return (alerts.body.data.alerts as Array<{ labels: { alertname: string }; state: string }>).filter((a) => a.labels.alertname !== 'PostinoDiskNearlyFull');
    };
    await eventually('no alert pending or firing', async () => ((await active()).length === 0 ? true : undefined), 30_000);
  });
});
