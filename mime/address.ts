// Address-list parsing for ENVELOPE, following Dovecot's message-address.c
// with "fill missing" on (MISSING_MAILBOX, MISSING_DOMAIN, SYNTAX_ERROR,
// INVALID_ROUTE placeholders), so broken headers render as Dovecot renders them.

import type { EnvelopeAddress } from './types.js';
import { NUL_REPLACEMENT, Rfc822Parser } from './rfc822.js';

/** One entry of an address list as parsed, with Dovecot's placeholders for what was missing. */
export interface ParsedAddress {
  name: string | null;
  route: string | null;
  mailbox: string | null;
  domain: string | null;
  invalid: boolean;
}


function emptyAddr(): ParsedAddress {
  return { name: null, route: null, mailbox: null, domain: null, invalid: false };
}

class AddressParser {
  readonly out: ParsedAddress[] = [];
  addr: ParsedAddress = emptyAddr();
  readonly p: Rfc822Parser;
  /** Dovecot's shared scratch string: what the last local-part parse produced. */
  str = { v: '' };

  constructor(value: string) {
    this.p = new Rfc822Parser(value, true);
    this.p.nulReplacement = NUL_REPLACEMENT;
  }

  private add(): void {
    this.out.push(this.addr);
    this.addr = emptyAddr();
  }

  private cur(): number {
    return this.p.cur();
  }

  /**
   * Dovecot parses ENVELOPE local parts with "non-strict dots": ".a", "a."
   * and "a..b" are accepted, but no whitespace may follow a dot.
   */
  private parseNonStrictDotAtom(str: { v: string }): number {
    const p = this.p;
    let ret = -1;
    do {
      while (p.cur() === 0x2e) {
        str.v += '.';
        p.pos++;
        if (p.atEnd) return 0; // @domain is missing, but the local part is fine
        ret = 1;
      }
      if (p.cur() === 0x40) break;
      ret = p.parseAtom(str);
    } while (ret > 0 && p.cur() === 0x2e);
    return ret;
  }

  private parseLocalPart(): number {
    const str = { v: '' };
    this.str = str;
    const ret = this.cur() === 0x22 ? this.p.parseQuotedString(str) : this.parseNonStrictDotAtom(str);
    if (ret < 0) return -1;
    this.addr.mailbox = str.v;
    return ret;
  }

  private parseDomain(): number {
    const str = { v: '' };
    const ret = this.p.parseDomain(str);
    if (ret < 0) return -1;
    this.addr.domain = str.v;
    return ret;
  }

  private parseDomainList(): number {
    const str = { v: '' };
    for (;;) {
      if (this.p.atEnd) return 0;
      if (this.cur() !== 0x40) break;
      if (str.v.length > 0) str.v += ',';
      str.v += '@';
      const ret = this.p.parseDomain(str);
      if (ret <= 0) return ret;
      while (this.p.skipLwsp() > 0 && this.cur() === 0x2c) this.p.pos++;
    }
    this.addr.route = str.v;
    return 1;
  }

  private parseAngleAddr(): number {
    this.p.pos++; // '<'
    if (this.p.skipLwsp() <= 0) return -1;
    if (this.cur() === 0x40) {
      if (this.parseDomainList() > 0 && this.cur() === 0x3a) {
        this.p.pos++;
      } else {
        this.addr.route = 'INVALID_ROUTE';
        if (this.p.atEnd) return -1;
      }
      if (this.p.skipLwsp() <= 0) return -1;
    }
    if (this.cur() !== 0x3e) {
      if (this.parseLocalPart() <= 0) return -1;
      if (this.cur() === 0x40) {
        if (this.parseDomain() <= 0) return -1;
      }
    }
    if (this.cur() !== 0x3e) return -1;
    this.p.pos++;
    return this.p.skipLwsp();
  }

  private parseNameAddr(): number {
    const str = { v: '' };
    if (this.p.parsePhrase(str) <= 0 || this.cur() !== 0x3c) return -1;
    this.addr.name = str.v === '' ? null : str.v;
    if (this.parseAngleAddr() < 0) {
      this.addr.domain = 'SYNTAX_ERROR';
      this.addr.invalid = true;
    }
    return this.p.pos < this.p.end ? 1 : 0;
  }

  private parseAddrSpec(): number {
    this.p.lastComment = '';
    const quoted = this.cur() === 0x22;
    let ret = this.parseLocalPart();
    let ret2 = -2;
    if (ret <= 0) this.addr.invalid = true;
    if (ret !== 0 && this.p.pos < this.p.end && this.cur() === 0x40) {
      ret2 = this.parseDomain();
      if (ret2 <= 0) ret = ret2;
    }
    if (this.p.lastComment !== null && this.p.lastComment.length > 0) {
      this.addr.name = this.p.lastComment;
    } else if (ret2 === -2) {
      // "user" alone is a mailbox, but "user more words" is a display name.
      const str = { v: this.str.v + ' ' };
      const origLen = str.v.length;
      this.p.parsePhrase(str);
      if (str.v.length !== origLen) {
        this.addr.mailbox = null;
        this.addr.name = str.v;
      } else if (!quoted) {
        this.addr.domain = '';
      }
      this.addr.invalid = true;
      ret = -1;
    }
    return ret;
  }

  private addFixed(): void {
    if (this.addr.mailbox === null) {
      this.addr.mailbox = 'MISSING_MAILBOX';
      this.addr.invalid = true;
    }
    if (this.addr.domain === null || this.addr.domain === '') {
      this.addr.domain = 'MISSING_DOMAIN';
      this.addr.invalid = true;
    }
    this.add();
  }

  private parseMailbox(): number {
    const start = this.p.pos;
    let ret = this.parseNameAddr();
    if (ret < 0) {
      this.p.pos = start;
      this.addr = emptyAddr();
      ret = this.parseAddrSpec();
      if (this.addr.invalid && this.addr.name === null && this.addr.mailbox !== null && this.addr.domain === null) {
        this.addr.name = this.addr.mailbox;
        this.addr.mailbox = null;
      }
    }
    if (ret < 0) this.addr.invalid = true;
    this.addFixed();
    return ret;
  }

  private parseGroup(): number {
    const str = { v: '' };
    if (this.p.parsePhrase(str) <= 0 || this.cur() !== 0x3a) return -1;
    this.p.pos++;
    let ret = this.p.skipLwsp();
    if (ret <= 0) this.addr.invalid = true;
    this.addr.mailbox = str.v;
    this.add();
    if (ret > 0 && this.cur() !== 0x3b) {
      for (;;) {
        this.parseMailbox();
        if (this.p.atEnd || this.cur() !== 0x2c) break;
        this.p.pos++;
        if (this.p.skipLwsp() <= 0) {
          ret = -1;
          break;
        }
      }
    }
    if (ret >= 0) {
      if (this.p.atEnd || this.cur() !== 0x3b) ret = -1;
      else {
        this.p.pos++;
        ret = this.p.skipLwsp();
      }
    }
    if (ret < 0) this.addr.invalid = true;
    this.add();
    return ret === 0 ? 0 : 1;
  }

  private parseAddress(): number {
    const start = this.p.pos;
    const saved = this.addr;
    let ret = this.parseGroup();
    if (ret < 0) {
      this.p.pos = start;
      this.addr = saved;
      ret = this.parseMailbox();
    }
    return ret;
  }

  parseList(): void {
    if (this.p.skipLwsp() <= 0) return;
    for (;;) {
      if (this.parseAddress() === 0) break;
      if (this.p.atEnd || this.cur() !== 0x2c) break;
      this.p.pos++;
      const ret = this.p.skipLwsp();
      if (ret <= 0) {
        if (ret < 0) this.addFixed();
        break;
      }
    }
  }
}

/**
 * Parses an address header value (byte string) into its entries, groups as
 * a start entry (domain null, mailbox the group name) and an end entry (all
 * null); `invalid` marks an entry that was broken or had parts missing.
 */
export function parseAddresses(value: string): ParsedAddress[] {
  const parser = new AddressParser(value);
  parser.parseList();
  return parser.out;
}

/** Parses an address header value (byte string) into ENVELOPE addresses; [] when none. */
export function parseAddressList(value: string): EnvelopeAddress[] {
  return parseAddresses(value).map((a) => [a.name, a.route, a.mailbox, a.domain]);
}

const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\x80-\uffff-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\x80-\uffff-]+)*$/;

/** A local part as written in an address: as is when a dot-atom, else quoted. */
function quoteLocal(local: string): string {
  return DOT_ATOM.test(local) ? local : `"${local.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The addr-specs of an address-list value given as Unicode text, as
 * "local@domain" strings in order. Entries that are broken or have their
 * local part or domain missing give nothing, and the list ends where
 * something follows an address or a group without a comma (Pigeonhole's
 * address test reads headers the same way).
 */
export function addrSpecs(value: string): string[] {
  return simpleAddrSpecs(value) ?? parsedAddrSpecs(value);
}

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const ADDR_SPEC = `${ATOM}(?:\\.${ATOM})*@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*`;
/**
 * One mailbox in the shape most mail has: a plain ASCII addr-spec, or a
 * phrase of atoms then one in angle brackets. No character class overlaps
 * the one next to it, so the pattern cannot backtrack.
 */
const SIMPLE_MAILBOX = new RegExp(`^[ \\t]*(?:(${ADDR_SPEC})|(?:${ATOM}(?:[ \\t]+${ATOM})*[ \\t]*)?<(${ADDR_SPEC})>)[ \\t]*$`);

/**
 * The common case without the parser: a list of simple mailboxes, which the
 * parser would read the same way (the unit tests compare the two). Undefined
 * for anything else (quotes, comments, groups, routes, 8-bit text, empty
 * entries), which the parser reads.
 */
export function simpleAddrSpecs(value: string): string[] | undefined {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const m = SIMPLE_MAILBOX.exec(part);
    if (m === null) return undefined;
    out.push(m[1] ?? m[2]!);
  }
  return out;
}

/** addrSpecs through the parser (Dovecot's rules). */
export function parsedAddrSpecs(value: string): string[] {
  // The parser works on bytes (one char each): UTF-8 in, UTF-8 out.
  // eslint-disable-next-line no-control-regex
  const ascii = !/[^\x00-\x7f]/.test(value);
  const bytes = ascii ? value : Buffer.from(value, 'utf8').toString('latin1');
  const out: string[] = [];
  for (const a of parseAddresses(bytes)) {
    if (a.invalid || a.domain === null || a.mailbox === null || a.mailbox === '') continue;
    const local = ascii ? a.mailbox : Buffer.from(a.mailbox, 'latin1').toString('utf8');
    const domain = ascii ? a.domain : Buffer.from(a.domain, 'latin1').toString('utf8');
    out.push(`${quoteLocal(local)}@${domain}`);
  }
  return out;
}
