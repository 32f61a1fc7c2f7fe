// The server's metrics as Prometheus series: one Registry per server (never
// prom-client's global one, so several servers in one process keep apart),
// fed by the Metrics calls the modules make (src/metrics.ts), plus gauges
// read at scrape time: the queue, the data directory's free space, open
// connections per listener, and Node's own (event-loop lag, memory, GC).
import { statfs } from 'node:fs/promises';
import type { Server } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueStore } from '../../../storage/ports.js';
import type { Metrics } from '../../metrics.js';

export interface MetricsSources {
  /** The outbound queue: its size and the age of its oldest entry are read at each scrape. */
  queue: QueueStore;
  /** The data directory: its filesystem's free and total bytes are read at each scrape. */
  dataDir: string;
  /** The listening servers by service name, for open connections (read at each scrape). */
  listeners(): ReadonlyArray<{ name: string; server: Server }>;
  now?: () => number;
}

/** Delivery times from a few milliseconds (a local store) to days (an outbound retry schedule). */
const LOCAL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const OUTBOUND_BUCKETS = [0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600];

/** Label values are ours, never a peer's text; still, keep them short. */
const label = (s: string) => (s.length > 64 ? s.slice(0, 64) : s);

/**
 * The labelled children of one metric, made once per set of label values:
 * prom-client's labels() builds and checks the set on every call, and the
 * per-message series (received, deliveries, delivery time) are counted for
 * every message. A child writes through to its metric, so a reset of the
 * metric is no problem. Bounded: past MAX_CHILDREN sets, children are made
 * per call as before.
 */
const MAX_CHILDREN = 1000;
class Children<T> {
  private readonly made = new Map<string, T>();
  constructor(private readonly make: (values: string[]) => T) {}

  of(...values: string[]): T {
    const key = values.join('\0');
    let child = this.made.get(key);
    if (child === undefined) {
      child = this.make(values);
      if (this.made.size < MAX_CHILDREN) this.made.set(key, child);
    }
    return child;
  }
}

export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly received: Counter<'protocol'>;
  private readonly refused: Counter<'protocol' | 'stage' | 'reason'>;
  private readonly deliveries: Counter<'outcome' | 'result'>;
  private readonly deliverySeconds: Histogram<'result'>;
  private readonly outboundTotal: Counter<'outcome'>;
  private readonly outboundSeconds: Histogram;
  private readonly deferrals: Counter<'class'>;
  private readonly scans: Counter<'scanner' | 'verdict'>;
  private readonly scanFailures: Counter<'scanner'>;
  private readonly scannerUp: Gauge<'scanner'>;
  private readonly auths: Counter<'protocol'>;
  private readonly authFailures: Counter<'protocol'>;
  private readonly storageErrors: Counter<'operation'>;
  private readonly receivedBy: Children<{ inc(): void }>;
  private readonly deliveriesBy: Children<{ inc(): void }>;
  private readonly deliverySecondsBy: Children<{ observe(value: number): void }>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const now = sources.now ?? (() => Date.now());
    collectDefaultMetrics({ register: this.registry });
    this.received = new Counter({ name: 'postino_messages_received_total', help: 'Messages read in full at the end of DATA, before the content checks, by protocol', labelNames: ['protocol'], registers });
    this.refused = new Counter({
      name: 'postino_messages_refused_total',
      help: 'Refusals by protocol, SMTP stage (connect, mail, rcpt: per recipient, data) and reason (the hook or limit that refused)',
      labelNames: ['protocol', 'stage', 'reason'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'postino_deliveries_total',
      help: 'Local deliveries per recipient, by outcome (delivered, or why not) and result (delivered, tempfail, reject)',
      labelNames: ['outcome', 'result'],
      registers,
    });
    this.deliverySeconds = new Histogram({ name: 'postino_delivery_duration_seconds', help: 'Time to deliver a message locally (aliases, Sieve, durable store), by result', labelNames: ['result'], buckets: LOCAL_BUCKETS, registers });
    this.outboundTotal = new Counter({ name: 'postino_outbound_attempts_total', help: 'Outbound attempts per recipient, by outcome (sent, failed, deferred)', labelNames: ['outcome'], registers });
    this.outboundSeconds = new Histogram({ name: 'postino_outbound_delivery_seconds', help: 'Time from queueing to a successful outbound send', buckets: OUTBOUND_BUCKETS, registers });
    this.deferrals = new Counter({ name: 'postino_deferrals_total', help: 'Outbound recipients deferred, by class (connection, timeout, tls, dns, greylist, mailbox-full, remote-4xx, auth, local)', labelNames: ['class'], registers });
    this.scans = new Counter({ name: 'postino_scanner_verdicts_total', help: 'Content scanner answers by scanner (clamd, spamd, rspamd, builtin) and verdict', labelNames: ['scanner', 'verdict'], registers });
    this.scanFailures = new Counter({ name: 'postino_scanner_failures_total', help: 'Scans a scanner could not answer (unreachable, timeout, busy, error, self-test failing)', labelNames: ['scanner'], registers });
    this.scannerUp = new Gauge({ name: 'postino_scanner_up', help: '1 when the scanner answered its last scan, 0 when it failed', labelNames: ['scanner'], registers });
    this.auths = new Counter({ name: 'postino_auth_successes_total', help: 'Successful logins by protocol', labelNames: ['protocol'], registers });
    this.authFailures = new Counter({ name: 'postino_auth_failures_total', help: 'Failed logins by protocol (wrong password, unknown user, malformed)', labelNames: ['protocol'], registers });
    this.storageErrors = new Counter({ name: 'postino_storage_errors_total', help: 'Store failures while keeping mail, by operation (no-space, delivery, queue, disk-full)', labelNames: ['operation'], registers });

    this.receivedBy = new Children((v) => this.received.labels(...v));
    this.deliveriesBy = new Children((v) => this.deliveries.labels(...v));
    this.deliverySecondsBy = new Children((v) => this.deliverySeconds.labels(...v));

    // Series that alerts compare against exist from the start (an absent series is not 0 to PromQL).
    this.deliveries.labels('delivered', 'delivered').inc(0);
    for (const outcome of ['sent', 'failed', 'deferred']) this.outboundTotal.labels(outcome).inc(0);
    for (const protocol of ['smtp', 'lmtp', 'submission']) this.received.labels(protocol).inc(0);
    for (const protocol of ['imap', 'pop3', 'managesieve', 'submission']) {
      this.auths.labels(protocol).inc(0);
      this.authFailures.labels(protocol).inc(0);
    }

    new Gauge({
      name: 'postino_queue_messages',
      help: 'Entries in the outbound queue (held ones included)',
      registers,
      labelNames: ['state'],
      async collect() {
        const heads = await sources.queue.listIds();
        const held = heads.filter((h) => h.held).length;
        this.labels('active').set(heads.length - held);
        this.labels('held').set(held);
      },
    });
    new Gauge({
      name: 'postino_queue_oldest_age_seconds',
      help: 'Age of the oldest entry in the outbound queue that is not on hold (0 when none)',
      registers,
      async collect() {
        // listIds is oldest first; an entry sent meanwhile is skipped, and one put on hold is the administrator's to watch.
        for (const head of await sources.queue.listIds()) {
          if (head.held) continue;
          const entry = await sources.queue.get(head.id);
          if (entry) return this.set(Math.max(0, (now() - entry.created) / 1000));
        }
        this.set(0);
      },
    });
    new Gauge({
      name: 'postino_data_free_bytes',
      help: 'Bytes available to postino on the data directory filesystem',
      registers,
      async collect() {
        const s = await statfs(sources.dataDir);
        this.set(s.bavail * s.bsize);
      },
    });
    new Gauge({
      name: 'postino_data_size_bytes',
      help: 'Size of the data directory filesystem in bytes',
      registers,
      async collect() {
        const s = await statfs(sources.dataDir);
        this.set(s.blocks * s.bsize);
      },
    });
    new Gauge({
      name: 'postino_open_connections',
      help: 'Open client connections by listener (smtp, lmtp, submission, submissions, imap, imaps, pop3, pop3s, managesieve, admin)',
      labelNames: ['protocol'],
      registers,
      async collect() {
        this.reset();
        const counts = await Promise.all(
          sources.listeners().map(
            ({ name, server }) => new Promise<[string, number]>((resolve) => server.getConnections((err, n) => resolve([name, err ? 0 : n]))),
          ),
        );
        for (const [name, n] of counts) this.labels(name).set(n);
      },
    });
  }

  messageReceived(protocol: string): void {
    this.receivedBy.of(label(protocol)).inc();
  }

  messageRefused(protocol: string, stage: string, reason: string): void {
    this.refused.labels(label(protocol), label(stage), label(reason)).inc();
  }

  delivered(outcome: string, kind: 'delivered' | 'tempfail' | 'reject', seconds: number): void {
    this.deliveriesBy.of(label(outcome), kind).inc();
    this.deliverySecondsBy.of(kind).observe(seconds);
    // A full disk, or a store or lookup that failed: the recipient is deferred.
    if (outcome === 'no-space') this.storageError('no-space');
    else if (outcome === 'local-problem') this.storageError('delivery');
  }

  outbound(status: string, deferral: string | null, ageSeconds: number): void {
    this.outboundTotal.labels(label(status)).inc();
    if (status === 'sent') this.outboundSeconds.observe(ageSeconds);
    if (status === 'deferred') this.deferrals.labels(label(deferral ?? 'unknown')).inc();
  }

  scanned(result: Parameters<Metrics['scanned']>[0]): void {
    const scanner = label(result.scanner);
    const v = result.verdict;
    const verdict = v.kind === 'score' ? (v.score >= v.required ? 'spam' : 'ham') : v.kind;
    this.scans.labels(scanner, verdict).inc();
    if (v.kind === 'unscanned') this.scanFailures.labels(scanner).inc();
    this.scannerUp.labels(scanner).set(v.kind === 'unscanned' ? 0 : 1);
  }

  auth(protocol: string, ok: boolean): void {
    (ok ? this.auths : this.authFailures).labels(label(protocol)).inc();
  }

  storageError(operation: string): void {
    this.storageErrors.labels(label(operation)).inc();
  }
}
