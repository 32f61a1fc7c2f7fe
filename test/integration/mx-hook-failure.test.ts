// A policy hook that throws, or never answers, injected into the real MX and
// LMTP endpoints of a real server (in this process, over TCP): the client
// hears 451 and nothing is stored; the listener lives on and delivers the
// next message once the hook behaves.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { openDialog } from '../support/smtp-dialog.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { resolveConfig } from '../../src/config.js';
import { PostinoServer, type ServiceDefinition } from '../../src/server/postino-server.js';
import { smtpServices } from '../../src/smtp/services.js';
import { endpointHooks } from '../../src/mx/hooks/index.js';
import type { Hook, Stage } from '../../src/mx/chain.js';
import { ACCEPT, type Verdict } from '../../src/mx/verdict.js';

const PASSWORD = 'tangerine-otter-42\n';
/** How long the injected hook may take; the one that never answers is given up after it. */
const HOOK_TIMEOUT_MS = 300;

type Mode = 'pass' | 'throw' | 'hang';

describe('a failing policy hook', { timeout: 120_000 }, () => {
  const s = scratchDir();
  const lines: Array<Record<string, unknown>> = [];
  let dns: DnsFixture;
  let server: PostinoServer;
  const ports: Record<string, number> = {};
  /** What the injected hook does now, per stage. */
  const modes: Record<Stage, Mode> = { connect: 'pass', mail: 'pass', rcpt: 'pass', data: 'pass' };

  const injected = (stage: Stage): Hook =>
    ({
      name: `injected-${stage}`,
      stage,
      timeoutMs: HOOK_TIMEOUT_MS,
      run: (): Promise<Verdict> => {
        if (modes[stage] === 'throw') throw new Error(`injected ${stage} failure`);
        if (modes[stage] === 'hang') return new Promise<Verdict>(() => {});
        return Promise.resolve(ACCEPT);
      },
    }) as Hook;

  /** Every file of bob's Maildir (new, cur, tmp), and the local-retry queue: where a stored copy would be. */
  const stored = () =>
    ['new', 'cur', 'tmp']
      .map((d) => path.join(s.dir, 'mail', 'example.test', 'bob', d))
      .concat(path.join(s.dir, 'queue', 'local'))
      .flatMap((dir) => (existsSync(dir) ? readdirSync(dir) : []));

  before(async () => {
    const cli = (args: string[], stdin?: string) => assert.equal(postino(s.dir, args, stdin).code, 0);
    cli(['domain', 'add', 'example.test', '--postmaster', 'alice@example.test', '--password-stdin'], PASSWORD);
    cli(['user', 'add', 'bob@example.test', '--password-stdin'], PASSWORD);
    dns = await startDnsFixture({});
    const config = resolveConfig(
      { hostname: 'mx.example.test', demo: false, smtp: { greetDelayMs: 0 }, dns: { servers: dns.servers } },
      { POSTINO_SMTP_PORT: '0', POSTINO_LMTP_PORT: '0' },
    );
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    // The real MX and LMTP policy, with a hook at every stage after it.
    const stages: Stage[] = ['connect', 'mail', 'rcpt', 'data'];
    const services: ServiceDefinition[] = smtpServices({
      hooks: (kind, ctx) => [...endpointHooks(kind, ctx.config, ctx.storage), ...stages.map(injected)],
    }).map((service) => ({
      ...service,
      async start(ctx, port, address) {
        const listening = await service.start(ctx, port, address);
        ports[service.name] = (listening.address() as AddressInfo).port;
        return listening;
      },
    }));
    server = new PostinoServer(s.dir, config, pino({ level: 'info' }, sink), services);
    await server.start();
  });

  after(async () => {
    await server?.stop(0);
    await dns?.close();
    s.cleanup();
  });

  /** One message to bob over SMTP (or LMTP): every reply of the dialogue. */
  async function send(service: 'smtp' | 'lmtp'): Promise<{ greeting: string; mail: string; rcpt: string; data: string; end: string[] }> {
    const d = await openDialog(ports[service]!);
    try {
      const greeting = d.greeting;
      await d.send(service === 'lmtp' ? 'LHLO client.test' : 'EHLO client.test');
      const mail = await d.send('MAIL FROM:<sender@remote.test>');
      const rcpt = await d.send('RCPT TO:<bob@example.test>');
      const data = await d.send('DATA');
      const end = data.startsWith('354') ? await d.data('From: <sender@remote.test>\r\nSubject: hook test\r\n\r\nbody\r\n') : [];
      return { greeting, mail, rcpt, data, end };
    } finally {
      d.close();
    }
  }

  const failuresOf = (hook: string) => lines.filter((l) => l.event === 'hook-failed' && l.hook === hook);

  for (const mode of ['throw', 'hang'] as const) {
    test(`a data hook that ${mode === 'throw' ? 'throws' : 'never answers'}: 451 at the end of DATA, nothing stored`, async () => {
      modes.data = mode;
      try {
        const smtp = await send('smtp');
        assert.match(smtp.rcpt, /^250 /);
        assert.deepEqual(smtp.end, ['451 4.3.0 Temporary local problem, try again later']);
        const lmtp = await send('lmtp');
        assert.deepEqual(lmtp.end, ['451 4.3.0 Temporary local problem, try again later']);
        assert.deepEqual(stored(), []);
        const logged = failuresOf('injected-data');
        assert.ok(logged.length >= 2, 'the failure is logged with the hook name');
        assert.equal(logged.at(-1)!.err, mode === 'throw' ? 'injected data failure' : `no verdict within ${HOOK_TIMEOUT_MS} ms`);
      } finally {
        modes.data = 'pass';
      }
    });

    test(`a rcpt hook that ${mode === 'throw' ? 'throws' : 'never answers'}: 451 at RCPT, no message taken, nothing stored`, async () => {
      modes.rcpt = mode;
      try {
        for (const service of ['smtp', 'lmtp'] as const) {
          const r = await send(service);
          assert.equal(r.rcpt, '451 4.3.0 Temporary local problem, try again later');
          assert.doesNotMatch(r.data, /^354/, 'no DATA without a recipient');
        }
        assert.deepEqual(stored(), []);
        assert.ok(failuresOf('injected-rcpt').length >= 2);
      } finally {
        modes.rcpt = 'pass';
      }
    });

    test(`a mail or connect hook that ${mode === 'throw' ? 'throws' : 'never answers'}: 451, nothing stored`, async () => {
      modes.mail = mode;
      try {
        const r = await send('smtp');
        assert.equal(r.mail, '451 4.3.0 Temporary local problem, try again later');
      } finally {
        modes.mail = 'pass';
      }
      modes.connect = mode;
      try {
        const d = await openDialog(ports.smtp!);
        assert.equal(d.greeting, '451 4.3.0 Temporary local problem, try again later');
        d.close();
      } finally {
        modes.connect = 'pass';
      }
      assert.deepEqual(stored(), []);
    });
  }

  test('with the hooks behaving again, the same listeners deliver: one copy per message', async () => {
    assert.deepEqual((await send('smtp')).end.map((r) => r.slice(0, 9)), ['250 2.0.0']);
    assert.deepEqual((await send('lmtp')).end.map((r) => r.slice(0, 9)), ['250 2.0.0']);
    assert.equal(stored().length, 2);
  });
});
