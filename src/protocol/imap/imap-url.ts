// IMAP URLs (RFC 5092) naming a message or a part of one, as CATENATE
// (RFC 4469) takes them: "imap://user@host/INBOX;UIDVALIDITY=3/;UID=20/;SECTION=1.2/;PARTIAL=0.1024"
// or the same from the first "/" on (relative to this server). Only what
// names one message of the logged-in user is accepted; the caller checks
// the user, the mailbox, UIDVALIDITY and the section. Linear and bounded.

export interface MessageUrl {
  /** The user named in an absolute URL (without ";AUTH=..."), if any. */
  user: string | undefined;
  /** Mailbox name as the URL spells it, percent-decoded (modified UTF-7 or UTF-8). */
  mailbox: string;
  uidValidity: number | undefined;
  uid: number;
  /** RFC 3501 section-spec text ("" for the whole message). */
  section: string;
  partial: { offset: number; length?: number } | undefined;
}

/** Longest URL taken (RFC 4469 leaves it to the server; Dovecot's limit is similar). */
export const MAX_URL_LENGTH = 8192;

function decode(s: string): string | undefined {
  try {
    // Percent-escapes are UTF-8 octets (RFC 3986); "+" is a plain character here.
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

const NUMBER = /^[1-9][0-9]{0,9}$/;

/** Parses a CATENATE URL; undefined when it does not name one message. */
export function parseMessageUrl(url: string): MessageUrl | undefined {
  if (url.length === 0 || url.length > MAX_URL_LENGTH) return undefined;
  let user: string | undefined;
  let path: string;
  const abs = /^imap:\/\/([^/]*)(\/.*)$/is.exec(url);
  if (abs) {
    const authority = abs[1]!;
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      const semi = userinfo.indexOf(';');
      const decoded = decode(semi >= 0 ? userinfo.slice(0, semi) : userinfo);
      if (decoded === undefined || decoded === '') return undefined;
      user = decoded;
    }
    path = abs[2]!;
  } else if (url.startsWith('/')) path = url;
  else return undefined;
  // "/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]"
  const uidAt = path.search(/\/;UID=/i);
  if (uidAt <= 1) return undefined;
  const boxPart = path.slice(1, uidAt);
  const validityAt = boxPart.search(/;UIDVALIDITY=/i);
  const mailbox = decode(validityAt >= 0 ? boxPart.slice(0, validityAt) : boxPart);
  if (mailbox === undefined || mailbox === '') return undefined;
  let uidValidity: number | undefined;
  if (validityAt >= 0) {
    const v = boxPart.slice(validityAt + ';UIDVALIDITY='.length);
    if (!NUMBER.test(v)) return undefined;
    uidValidity = Number(v);
  }
  const rest = path.slice(uidAt + 1).split('/');
  const uidText = rest[0]!.slice(';UID='.length);
  if (!NUMBER.test(uidText)) return undefined;
  let section = '';
  let partial: MessageUrl['partial'];
  for (const piece of rest.slice(1)) {
    const upper = piece.toUpperCase();
    if (upper.startsWith(';SECTION=') && section === '' && partial === undefined) {
      const s = decode(piece.slice(';SECTION='.length));
      if (s === undefined || s === '') return undefined;
      section = s;
    } else if (upper.startsWith(';PARTIAL=') && partial === undefined) {
      const m = /^(\d{1,10})(?:\.([1-9]\d{0,9}))?$/.exec(piece.slice(';PARTIAL='.length));
      if (m === null) return undefined;
      partial = { offset: Number(m[1]), ...(m[2] !== undefined ? { length: Number(m[2]) } : {}) };
    } else return undefined;
  }
  return { user, mailbox, uidValidity, uid: Number(uidText), section, partial };
}
