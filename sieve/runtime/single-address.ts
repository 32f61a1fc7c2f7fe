// One RFC 5322 mailbox, as redirect takes it (RFC 5228 4.2: an address
// "in the RFC 5322 sense", so `Name <local@domain>` with comments and
// whitespace as well as a bare addr-spec). Built to accept and refuse what
// Pigeonhole 0.5's sieve-address parser does, error texts included, and to
// give the addr-spec the way it prints it: the domain in ASCII lower case,
// the local part quoted only when it is not a dot-atom.
//
// One pass over the text, plus at most one restart from the beginning (a
// display name that turns out to be a local part): linear in the input.

export type SingleAddressResult = { ok: true; address: string } | { ok: false; error: string };

/** RFC 5322 specials and the other characters that are not atext; bytes >= 0x80 count as atext (UTF-8). */
const NOT_ATEXT = '()<>[]:;@\\,."';

function isAtext(c: string | undefined): boolean {
  if (c === undefined) return false;
  const code = c.charCodeAt(0);
  if (code >= 0x80) return true;
  return code > 0x20 && code < 0x7f && !NOT_ATEXT.includes(c);
}

const DOT_ATOM_ASCII = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** A parse step's outcome: -1 failed, 0 reached the end of the text, 1 more text follows. */
type Step = -1 | 0 | 1;

class MailboxParser {
  i = 0;
  local = '';
  domain = '';
  error = '';

  constructor(private readonly s: string) {}

  cur(): string | undefined {
    return this.s[this.i];
  }

  fail(message: string): -1 {
    if (this.error === '') this.error = message;
    return -1;
  }

  /** At '(': skips a comment, nested ones and quoted pairs included. */
  skipComment(): Step {
    let depth = 0;
    for (; this.i < this.s.length; this.i++) {
      const c = this.s[this.i];
      if (c === '\\') {
        this.i++;
        if (this.i >= this.s.length) return -1;
      } else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) {
        this.i++;
        return this.i < this.s.length ? 1 : 0;
      }
    }
    return -1;
  }

  /** Skips whitespace and comments (CFWS). */
  skipCfws(): Step {
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.i++;
      else if (c === '(') {
        if (this.skipComment() < 0) return -1;
      } else break;
    }
    return this.i < this.s.length ? 1 : 0;
  }

  /** At '"': a quoted string, unescaped into the result. */
  quoted(): { step: Step; text: string } {
    let text = '';
    for (this.i++; this.i < this.s.length; this.i++) {
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        return { step: this.skipCfws(), text };
      }
      if (c === '\\') {
        this.i++;
        if (this.i >= this.s.length) break;
        text += this.s[this.i];
      } else if (c !== '\r' && c !== '\n') text += c; // folding inside quotes is removed
    }
    return { step: -1, text };
  }

  /** One or more atext characters, then CFWS. */
  atom(): { step: Step; text: string } {
    if (!isAtext(this.cur())) return { step: -1, text: '' };
    const start = this.i;
    while (isAtext(this.cur())) this.i++;
    const text = this.s.slice(start, this.i);
    return { step: this.i < this.s.length ? this.skipCfws() : 0, text };
  }

  /** A display name: words (atoms, dots, quoted strings), possibly empty before '<'. */
  phrase(): Step {
    if (this.i >= this.s.length) return 0;
    if (this.cur() === '.') return -1;
    for (;;) {
      let step: Step;
      if (this.cur() === '"') step = this.quoted().step;
      else {
        while (isAtext(this.cur()) || this.cur() === '.') this.i++;
        step = this.i < this.s.length ? this.skipCfws() : 0;
      }
      if (step <= 0) return step;
      if (!isAtext(this.cur()) && this.cur() !== '"' && this.cur() !== '.') break;
    }
    return this.skipCfws();
  }

  /** local-part: a quoted string, or atoms with dots anywhere (obs-local-part, as Dovecot allows). */
  localPart(): Step {
    if (this.i >= this.s.length) return this.fail('empty local part');
    let step: Step = -1;
    if (this.cur() === '"') {
      const q = this.quoted();
      step = q.step;
      this.local = q.text;
    } else {
      this.local = '';
      do {
        while (this.cur() === '.') {
          this.local += '.';
          this.i++;
          if (this.i >= this.s.length) return 0; // the '@domain' is missing
          step = 1;
        }
        if (this.cur() === '@') break;
        const a = this.atom();
        step = a.step;
        this.local += a.text;
      } while (step > 0 && this.cur() === '.');
    }
    if (step < 0 || /[^\x20-\x7e]/.test(this.local)) return this.fail('invalid local part');
    return step;
  }

  /** At '@': a dot-atom (whitespace allowed around the dots) or a domain literal. */
  domainPart(): Step {
    this.i++;
    if (this.skipCfws() <= 0) return -1;
    if (this.cur() === '[') {
      const start = this.i;
      for (this.i++; this.i < this.s.length; this.i++) {
        const c = this.s[this.i];
        if (c === '\\') {
          this.i++;
          if (this.i >= this.s.length) break;
        } else if (c === '[') {
          return -1; // dtext excludes '[' unless quoted
        } else if (c === ']') {
          this.i++;
          this.domain = this.s.slice(start, this.i);
          return this.skipCfws();
        }
      }
      return -1;
    }
    this.domain = '';
    for (;;) {
      const a = this.atom();
      if (a.step < 0) return -1;
      this.domain += a.text;
      if (a.step === 0 || this.cur() !== '.') return a.step;
      this.i++;
      this.domain += '.';
      if (this.skipCfws() <= 0) return -1; // a domain cannot end with '.'
    }
  }

  addrSpec(): Step {
    const step = this.localPart();
    if (step < 0) return step;
    if (step > 0 && this.cur() === '@') {
      const d = this.domainPart();
      return d < 0 ? this.fail('invalid or missing domain') : d;
    }
    return this.fail(`invalid or lonely local part '${this.local.slice(0, 80)}' (expecting '@')`);
  }

  /** mailbox = addr-spec / [display-name] "<" addr-spec ">" */
  mailbox(): Step {
    const start = this.i;
    if (this.phrase() <= 0 || this.cur() !== '<') {
      this.i = start;
      return this.addrSpec();
    }
    this.i++;
    const ws = this.skipCfws();
    if (ws <= 0) return ws < 0 ? this.fail('invalid characters after <') : ws;
    if (this.addrSpec() < 0) return -1;
    if (this.cur() !== '>') return this.fail("missing '>'");
    this.i++;
    const after = this.skipCfws();
    return after < 0 ? this.fail('address ends with invalid characters') : after;
  }

  parse(): SingleAddressResult {
    this.skipCfws();
    if (this.i >= this.s.length) return { ok: false, error: 'empty address' };
    if (this.mailbox() < 0) return { ok: false, error: this.error || 'invalid address' };
    if (this.i < this.s.length)
      return { ok: false, error: this.cur() === ',' ? "not a single address (found ',')" : 'address ends in invalid characters' };
    if (this.domain === '') return { ok: false, error: 'missing domain' };
    if (this.local === '') return { ok: false, error: 'missing local part' };
    return { ok: true, address: `${encodeLocalPart(this.local)}@${asciiLower(this.domain)}` };
  }
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** The local part as SMTP writes it: as is when a dot-atom, else quoted with '"' and '\' escaped. */
function encodeLocalPart(local: string): string {
  return DOT_ATOM_ASCII.test(local) ? local : `"${local.replace(/["\\]/g, '\\$&')}"`;
}

/** Parses text holding exactly one mailbox; gives its addr-spec or why it is not one. */
export function parseSingleAddress(text: string): SingleAddressResult {
  return new MailboxParser(text).parse();
}
