// The engine's view of a message, made from the one parsed message model
// (mime/): header fields in order with their raw folded values, the size,
// and, only when a body test asks, the body parts decoded.
import type { ParsedMessage } from '../mime/index.js';
import type { SieveHeaderField, SieveMessage, SieveMessageBody } from './message.js';

export function sieveMessage(msg: ParsedMessage): SieveMessage {
  const h = msg.header;
  const headers: SieveHeaderField[] = [];
  for (const f of h.fields) {
    // Folding is kept, with CRLF line ends whatever the message uses.
    let value = h.rawText(f);
    // eslint-disable-next-line no-control-regex
    if (/[\x80-\xff]/.test(value)) value = Buffer.from(value, 'latin1').toString('utf8');
    if (value.includes('\n')) value = value.replace(/\r?\n/g, '\r\n');
    headers.push({ name: f.name, value });
  }
  let body: SieveMessageBody | undefined;
  return {
    headers,
    size: msg.size,
    body() {
      body ??= { raw: msg.body().toString('utf8'), parts: msg.textParts().map((p) => ({ contentType: p.contentType, text: p.text, ...(p.pieces ? { pieces: p.pieces } : {}) })) };
      return body;
    },
  };
}
