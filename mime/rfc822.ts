// RFC 822/2822 and MIME tokenizer over byte strings (latin1, one char per
// byte). The rules follow Dovecot's lib-mail rfc822-parser and rfc2231-parser
// closely, including their leniencies, because IMAP BODYSTRUCTURE and
// ENVELOPE output must be byte-identical to Dovecot's.
//
// Return convention of the parse functions (as in Dovecot): 1 = more input
// follows, 0 = end of input reached, -1 = invalid input.

// 0 = special/control, 1 = atext, 2 = alnum or 8-bit (atext), 4 = atext but MIME tspecial.
const ATEXT = new Uint8Array(256);
(() => {
  const set = (chars: string, v: number): void => {
    for (let i = 0; i < chars.length; i++) ATEXT[chars.charCodeAt(i)] = v;
  };
  set("!#$%&'*+-^_`{|}~", 1);
  set('/=?', 4);
  for (let c = 48; c <= 57; c++) ATEXT[c] = 2;
  for (let c = 65; c <= 90; c++) ATEXT[c] = 2;
  for (let c = 97; c <= 122; c++) ATEXT[c] = 2;
  for (let c = 128; c <= 255; c++) ATEXT[c] = 2;
})();

export function isAtext(c: number): boolean {
  return c < 256 && ATEXT[c] !== 0;
}
function isTokenChar(c: number): boolean {
  return c < 256 && (ATEXT[c]! & 3) !== 0;
}

/** What a NUL inside a quoted string, comment or domain literal becomes: U+FFFD (UTF-8), as in Dovecot. */
export const NUL_REPLACEMENT = '\xef\xbf\xbd';

export class Rfc822Parser {
  pos = 0;
  readonly end: number;
  /** When set, comments' text is collected here (the last comment seen). */
  lastComment: string | null;
  /** Replacement for NUL bytes inside quoted strings/comments/domain literals (address parsing). */
  nulReplacement: string | null = NUL_REPLACEMENT;

  constructor(readonly s: string, collectComments = false) {
    this.end = s.length;
    this.lastComment = collectComments ? '' : null;
  }

  get atEnd(): boolean {
    return this.pos >= this.end;
  }
  /** The current char code, or -1 at the end. */
  cur(): number {
    return this.pos < this.end ? this.s.charCodeAt(this.pos) : -1;
  }

  skipComment(): number {
    const s = this.s;
    let level = 1;
    const collect = this.lastComment !== null;
    if (collect) this.lastComment = '';
    let start = ++this.pos;
    for (; this.pos < this.end; this.pos++) {
      const c = s.charCodeAt(this.pos);
      switch (c) {
        case 0:
          if (collect && this.nulReplacement !== null) {
            this.lastComment += s.slice(start, this.pos) + this.nulReplacement;
            start = this.pos + 1;
          }
          break;
        case 0x28:
          level++;
          break;
        case 0x29:
          if (--level === 0) {
            if (collect) this.lastComment += s.slice(start, this.pos);
            this.pos++;
            return this.pos < this.end ? 1 : 0;
          }
          break;
        case 0x0a: {
          if (!collect) break;
          let len = this.pos - start;
          if (len > 0 && s.charCodeAt(start + len - 1) === 0x0d) len--;
          this.lastComment += s.slice(start, start + len);
          start = this.pos + 1;
          break;
        }
        case 0x5c: {
          this.pos++;
          if (this.pos >= this.end) return -1;
          const n = s.charCodeAt(this.pos);
          if (n === 0x0d || n === 0x0a || n === 0) {
            this.pos--;
            break;
          }
          if (collect) this.lastComment += s.slice(start, this.pos - 1);
          start = this.pos;
          break;
        }
      }
    }
    return -1;
  }

  skipLwsp(): number {
    const s = this.s;
    while (this.pos < this.end) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
        this.pos++;
        continue;
      }
      if (c !== 0x28) break;
      if (this.skipComment() < 0) return -1;
    }
    return this.pos < this.end ? 1 : 0;
  }

  /** Appends an atom to out[0]. */
  parseAtom(out: { v: string }): number {
    if (this.pos >= this.end || !isAtext(this.s.charCodeAt(this.pos))) return -1;
    const start = this.pos++;
    while (this.pos < this.end && isAtext(this.s.charCodeAt(this.pos))) this.pos++;
    out.v += this.s.slice(start, this.pos);
    if (this.pos < this.end) return this.skipLwsp();
    return 0;
  }

  parseDotAtom(out: { v: string }): number {
    const s = this.s;
    if (this.pos >= this.end || !isAtext(s.charCodeAt(this.pos))) return -1;
    let start = this.pos++;
    while (this.pos < this.end) {
      if (isAtext(s.charCodeAt(this.pos))) {
        this.pos++;
        continue;
      }
      if (start === this.pos) return -1;
      out.v += s.slice(start, this.pos);
      const ret = this.skipLwsp();
      if (ret <= 0) return ret;
      if (s.charCodeAt(this.pos) !== 0x2e) return 1;
      this.pos++;
      out.v += '.';
      if (this.skipLwsp() <= 0) return -1;
      start = this.pos;
    }
    out.v += s.slice(start, this.pos);
    return 0;
  }

  parseMimeToken(out: { v: string }): number {
    return this.takeRun(out, (c) => isTokenChar(c) || c === 0x2e);
  }

  /** Appends the run of characters `accept` takes, then skips white space and comments. */
  private takeRun(out: { v: string }, accept: (c: number) => boolean): number {
    const s = this.s;
    const start = this.pos;
    while (this.pos < this.end && accept(s.charCodeAt(this.pos))) this.pos++;
    out.v += s.slice(start, this.pos);
    return this.pos < this.end ? this.skipLwsp() : 0;
  }

  /** At a '"'. */
  parseQuotedString(out: { v: string }): number {
    const s = this.s;
    this.pos++;
    let start = this.pos;
    for (; this.pos < this.end; this.pos++) {
      const c = s.charCodeAt(this.pos);
      switch (c) {
        case 0:
          if (this.nulReplacement !== null) {
            out.v += s.slice(start, this.pos) + this.nulReplacement;
            start = this.pos + 1;
          }
          break;
        case 0x22:
          out.v += s.slice(start, this.pos);
          this.pos++;
          return this.skipLwsp();
        case 0x0a: {
          let len = this.pos - start;
          if (len > 0 && s.charCodeAt(start + len - 1) === 0x0d) len--;
          out.v += s.slice(start, start + len);
          start = this.pos + 1;
          break;
        }
        case 0x5c: {
          this.pos++;
          if (this.pos >= this.end) return -1;
          const n = s.charCodeAt(this.pos);
          if (n === 0x0d || n === 0x0a || n === 0) {
            this.pos--;
            break;
          }
          out.v += s.slice(start, this.pos - 1);
          start = this.pos;
          break;
        }
      }
    }
    return -1;
  }

  private parseAtomOrDot(out: { v: string }): number {
    return this.takeRun(out, (c) => isAtext(c) || c === 0x2e);
  }

  parsePhrase(out: { v: string }): number {
    if (this.pos >= this.end) return 0;
    if (this.s.charCodeAt(this.pos) === 0x2e) return -1;
    for (;;) {
      const ret = this.s.charCodeAt(this.pos) === 0x22 ? this.parseQuotedString(out) : this.parseAtomOrDot(out);
      if (ret <= 0) return ret;
      const c = this.s.charCodeAt(this.pos);
      if (!isAtext(c) && c !== 0x22 && c !== 0x2e) break;
      out.v += ' ';
    }
    return this.skipLwsp();
  }

  private parseDomainLiteral(out: { v: string }): number {
    const s = this.s;
    let start = this.pos++;
    for (; this.pos < this.end; this.pos++) {
      const c = s.charCodeAt(this.pos);
      switch (c) {
        case 0:
          if (this.nulReplacement !== null) {
            out.v += s.slice(start, this.pos) + this.nulReplacement;
            start = this.pos + 1;
          }
          break;
        case 0x5b:
          return -1;
        case 0x5d:
          out.v += s.slice(start, this.pos + 1);
          this.pos++;
          return this.skipLwsp();
        case 0x0a: {
          let len = this.pos - start;
          if (len > 0 && s.charCodeAt(start + len - 1) === 0x0d) len--;
          out.v += s.slice(start, start + len);
          start = this.pos + 1;
          break;
        }
        case 0x5c: {
          this.pos++;
          if (this.pos >= this.end) return -1;
          const n = s.charCodeAt(this.pos);
          if (n === 0x0d || n === 0x0a || n === 0) {
            out.v += s.slice(start, this.pos);
            start = this.pos;
            this.pos--;
          }
          break;
        }
      }
    }
    return -1;
  }

  /** At an '@'. */
  parseDomain(out: { v: string }): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    if (this.s.charCodeAt(this.pos) === 0x5b) return this.parseDomainLiteral(out);
    return this.parseDotAtom(out);
  }

  /** "type/subtype"; on failure out is left as it was. */
  parseContentType(out: { v: string }): number {
    const orig = out.v;
    if (this.skipLwsp() <= 0) return -1;
    // A lone type ("text" at the end) is kept: Dovecot then reports "text" "".
    if (this.parseMimeToken(out) <= 0 || out.v.length === orig.length) return -1;
    if (this.s.charCodeAt(this.pos) !== 0x2f) {
      out.v = orig;
      return -1;
    }
    this.pos++;
    if (this.skipLwsp() <= 0) {
      out.v = orig;
      return -1;
    }
    out.v += '/';
    const mark = out.v.length;
    const ret = this.parseMimeToken(out);
    if (ret < 0 || out.v.length === mark || (this.pos < this.end && this.s.charCodeAt(this.pos) !== 0x3b)) {
      out.v = orig;
      return -1;
    }
    return ret;
  }

  /** One ";" key "=" value; key/value returned through res. */
  parseContentParam(res: { key: string; value: string }): number {
    res.key = '';
    res.value = '';
    if (this.pos >= this.end) return 0;
    if (this.s.charCodeAt(this.pos) !== 0x3b) return -1;
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    const key = { v: '' };
    if (this.parseMimeToken(key) <= 0) return -1;
    if (this.s.charCodeAt(this.pos) !== 0x3d) return -1;
    this.pos++;
    const value = { v: '' };
    let ret = this.skipLwsp();
    if (ret <= 0) {
      // broken / no value
    } else if (this.s.charCodeAt(this.pos) === 0x22) {
      ret = this.parseQuotedString(value);
    } else if (this.s.charCodeAt(this.pos) === 0x3d) {
      // broken input such as name==?utf-8?b?...?=
      const s = this.s;
      const start = this.pos;
      while (this.pos < this.end) {
        const c = s.charCodeAt(this.pos);
        if (c === 0x3b || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) break;
        this.pos++;
      }
      value.v = s.slice(start, this.pos);
    } else {
      ret = this.parseMimeToken(value);
    }
    res.key = key.v;
    res.value = value.v;
    return ret < 0 ? -1 : 1;
  }
}

const MAX_PARAMS = 128;

interface Rfc2231Param {
  key: string;
  value: string;
  idx: number;
  extended: boolean;
}

function rfc2231Escape(v: string): string {
  return v.includes('%') ? v.replace(/%/g, '%25') : v;
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Parses the ";"-separated parameters that follow a Content-Type or
 * Content-Disposition value and merges RFC 2231 continuations the way Dovecot
 * does: "name*0", "name*1"... are joined (in index order) into "name"; when
 * any piece is extended ("*0*") the result keeps the charset'lang' prefix,
 * stays percent-encoded and is named "name*". Broken parameters are skipped.
 * Returns flat [name, value, ...].
 */
export function parseMimeParams(p: Rfc822Parser): string[] {
  const result: string[] = [];
  const ext: Rfc2231Param[] = [];
  const res = { key: '', value: '' };
  // Dovecot keeps the index of the previous parameter for "name*" (no number).
  let idx = 0;
  // Dovecot looks at no more than 128 parameters, broken ones included.
  for (let count = 0; count < MAX_PARAMS; count++) {
    const ret = p.parseContentParam(res);
    if (ret === 0) break;
    if (ret < 0) {
      if (p.pos >= p.end) break;
      p.pos++;
      continue;
    }
    const key = res.key;
    const star = key.indexOf('*');
    let plain = true;
    if (star >= 0) {
      let i = star;
      if (i + 1 < key.length) {
        i++;
        idx = 0;
        while (i < key.length) {
          const c = key.charCodeAt(i);
          if (c < 0x30 || c > 0x39) break;
          idx = (idx * 10 + (c - 0x30)) >>> 0;
          i++;
        }
      }
      let extended = false;
      if (i < key.length && key.charCodeAt(i) === 0x2a) {
        extended = true;
        i++;
      }
      if (i >= key.length) {
        plain = false;
        ext.push({ key: key.slice(0, star), value: res.value, idx, extended });
      }
    }
    if (plain) result.push(key, res.value);
  }
  if (ext.length === 0) return result;

  ext.sort((a, b) => compareBytes(a.key, b.key) || a.idx - b.idx);
  for (let i = 0; i < ext.length; ) {
    let ok = true;
    let haveExtended = false;
    let nextIdx = 0;
    let j = i;
    const lk = ext[i]!.key.toLowerCase();
    for (; j < ext.length; j++) {
      const e = ext[j]!;
      if (e.key.toLowerCase() !== lk) break;
      if (e.idx !== nextIdx) ok = false;
      if (e.extended) haveExtended = true;
      nextIdx++;
    }
    if (!ok) {
      for (let k = i; k < j; k++) {
        const e = ext[k]!;
        result.push(`${e.key}*${e.idx}${e.extended ? '*' : ''}`, e.value);
      }
    } else {
      let v = '';
      if (!ext[i]!.extended && haveExtended) v = "''";
      for (let k = i; k < j; k++) {
        const e = ext[k]!;
        v += !e.extended && haveExtended ? rfc2231Escape(e.value) : e.value;
      }
      result.push(haveExtended ? `${ext[i]!.key}*` : ext[i]!.key, v);
    }
    i = j;
  }
  return result;
}
