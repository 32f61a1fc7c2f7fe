// Shared by the outbound transport tests: a logger whose lines a test reads,
// and a small message.
import { pino } from 'pino';
import type { Logger } from '../../src/log.js';
import type { OutboundMessage } from '../../src/outbound/transport.js';

export function captureLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log: Logger = pino({ level: 'debug', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

export function message(id: string, recipients: string[], sender = 'alice@example.test'): OutboundMessage {
  const raw = Buffer.from(
    `From: <alice@example.test>\r\nTo: ${recipients.map((r) => `<${r}>`).join(', ')}\r\n` +
      `Subject: ${id}\r\nMessage-ID: <${id}@example.test>\r\n\r\nBody of ${id}.\r\n`,
  );
  return { queueId: id, sender, recipients, raw };
}
