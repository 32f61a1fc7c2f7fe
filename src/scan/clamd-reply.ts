// clamd's answers to the z-commands (INSTREAM, VERSION, PING): one line
// ended by NUL. Peer data: read at most MAX_REPLY_BYTES, one linear pass,
// anything unexpected is a protocol error (never a "clean").

/** clamd's longest real answer is a signature name plus a prefix; far below this. */
export const MAX_REPLY_BYTES = 1024;

export type InstreamReply =
  | { kind: 'clean' }
  | { kind: 'infected'; signature: string }
  | { kind: 'size-limit' }
  | { kind: 'error'; message: string };

/** Signature names as we repeat them in replies, logs and headers. */
const SIGNATURE = /^[A-Za-z0-9._:\-/+()\[\]]{1,200}$/;

/** The reply text up to its NUL (or the end), without trailing white space. */
function replyText(reply: Buffer | string): string | undefined {
  const text = typeof reply === 'string' ? reply : reply.toString('latin1', 0, Math.min(reply.length, MAX_REPLY_BYTES + 1));
  const nul = text.indexOf('\0');
  const line = nul >= 0 ? text.slice(0, nul) : text;
  if (line.length > MAX_REPLY_BYTES) return undefined;
  return line.replace(/[\r\n\t ]+$/, '');
}

export function parseInstreamReply(reply: Buffer | string): InstreamReply {
  const line = replyText(reply);
  if (line === undefined) return { kind: 'error', message: 'reply too long' };
  if (line === '') return { kind: 'error', message: 'empty reply' };
  // With IDSESSION clamd prefixes "N: "; we never use it, but an answer for a stream starts "stream: ".
  const body = line.startsWith('stream: ') ? line.slice(8) : line;
  if (body === 'OK') return { kind: 'clean' };
  if (body.endsWith(' FOUND')) {
    const signature = body.slice(0, -6);
    if (SIGNATURE.test(signature)) return { kind: 'infected', signature };
    return { kind: 'error', message: 'unreadable signature name' };
  }
  if (/^INSTREAM size limit exceeded\.? ?ERROR$/.test(body)) return { kind: 'size-limit' };
  if (body.endsWith(' ERROR')) return { kind: 'error', message: printable(body.slice(0, -6)) };
  return { kind: 'error', message: `unexpected reply: ${printable(body)}` };
}

/** "ClamAV 1.4.6/27000/Sun Dec  6 09:00:00 2026" -> "ClamAV 1.4.6/27000"; undefined when it is not that. */
export function parseVersionReply(reply: Buffer | string): string | undefined {
  const line = replyText(reply);
  if (line === undefined) return undefined;
  const m = /^(ClamAV [0-9][0-9A-Za-z.\-_~+]{0,40})(\/[0-9]{1,12})?(\/|$)/.exec(line);
  return m ? m[1]! + (m[2] ?? '') : undefined;
}

export function isPong(reply: Buffer | string): boolean {
  return replyText(reply) === 'PONG';
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}
