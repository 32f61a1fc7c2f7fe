// Deterministic test messages: the content follows from the id, so a test
// can tell a whole message from a damaged one.
import { createHash } from 'node:crypto';

export function makeMessage(id: string, size = 4096): Buffer {
  const head =
    `Return-Path: <sender@remote.test>\r\nFrom: Sender <sender@remote.test>\r\nTo: user@example.test\r\n` +
    `Subject: Test message ${id}\r\nMessage-ID: <${id}@remote.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n` +
    `X-Test-Id: ${id}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
  const lines: string[] = [];
  let len = Buffer.byteLength(head);
  let i = 0;
  while (len < size - 80) {
    const line = createHash('sha256').update(`${id}:${i++}`).digest('hex') + '\r\n';
    lines.push(line);
    len += line.length;
  }
  lines.push(`END ${id}\r\n`);
  return Buffer.from(head + lines.join(''));
}

/** The X-Test-Id of a stored message, if it is one of ours. */
export function messageId(raw: Buffer): string | undefined {
  return /^X-Test-Id: (\S+)\r$/m.exec(raw.subarray(0, 2048).toString('latin1'))?.[1];
}
