// Queue entries for addresses in our own domains (bounces and delay warnings
// to a local sender: every submitted message has one) are delivered here,
// through the delivery agent, instead of through the smarthost or our own MX:
// a notice about a broken route must not depend on that route.
import type { DeliveryAgent } from '../delivery/agent.js';
import type { OutboundMessage, OutboundTransport, RecipientOutcome } from '../outbound/transport.js';

export class LocalFirstTransport implements OutboundTransport {
  constructor(
    private readonly next: OutboundTransport,
    private readonly agent: DeliveryAgent,
    private readonly isLocalDomain: (domain: string) => Promise<boolean>,
  ) {}

  async send(message: OutboundMessage): Promise<RecipientOutcome[]> {
    const local: string[] = [];
    const remote: string[] = [];
    for (const r of message.recipients) ((await this.isLocalDomain(r.slice(r.lastIndexOf('@') + 1).toLowerCase())) ? local : remote).push(r);
    if (local.length === 0) return this.next.send(message);
    const [localOutcomes, remoteOutcomes] = await Promise.all([
      this.deliverLocally(message, local),
      remote.length > 0 ? this.next.send({ ...message, recipients: remote }) : Promise.resolve([]),
    ]);
    const byAddress = new Map<string, RecipientOutcome>();
    for (const o of [...localOutcomes, ...remoteOutcomes]) byAddress.set(o.address, o);
    return message.recipients.map((a) => byAddress.get(a) ?? { address: a, status: 'deferred', reply: 'local error: no outcome', deferral: 'local' });
  }

  private async deliverLocally(message: OutboundMessage, recipients: string[]): Promise<RecipientOutcome[]> {
    try {
      const outcomes = await this.agent.deliver(
        { id: message.queueId, raw: message.raw, from: message.sender, recipients, traceHeaders: [], rejectAtSmtp: false },
        { answer: 'recipient' },
      );
      return outcomes.map((o, i): RecipientOutcome => {
        const address = recipients[i]!;
        if (o.kind === 'delivered') return { address, status: 'sent', reply: '250 2.0.0 delivered locally', destination: 'local' };
        const w = this.agent.words(o);
        const reply = `${w.code} ${w.enhanced} ${w.text}`;
        return o.kind === 'reject'
          ? { address, status: 'failed', reply, destination: 'local' }
          : { address, status: 'deferred', reply, deferral: 'local', destination: 'local' };
      });
    } catch (err) {
      return recipients.map((address) => ({ address, status: 'deferred', reply: `local error: ${(err as Error).message}`, deferral: 'local' }));
    }
  }

  close(): Promise<void> {
    return this.next.close();
  }
}
