// Message-IDs for THREAD=REFERENCES (RFC 5256 section 3), read the way
// Dovecot 2.3 reads them, so both servers link the same messages: a msg-id is
// "<" id-left "@" id-right ">"; the brackets are dropped, whitespace inside
// is removed, and a quoted id-left or comments (CFWS) are normalised away
// ("<\"a b\"@x>" is "a b@x"). Anything without "@" is not a Message-ID and
// is skipped. Message-IDs are then compared exactly (case-sensitively).
//
// Dovecot's scan can look at the same bytes again after a failed attempt
// (quadratic on hostile input such as "<(<(<(..."); here every look-up has a
// work budget proportional to the value's length, far above what any real
// header needs, and reading stops when it runs out.

const ATEXT = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\uffff]/;

function isAtext(ch: string | undefined): boolean {
  return ch !== undefined && ATEXT.test(ch);
}

/** A cursor over the value for the slow (tokenizing) path. */
/** Characters examined so far against the allowance for one header value. */
interface Budget {
  left: number;
}

class Cursor {
  constructor(
    readonly s: string,
    public pos: number,
    private readonly budget: Budget,
  ) {}

  /** Counts the characters the last step moved over; false once the budget is spent. */
  private spend(n: number): boolean {
    this.budget.left -= n;
    return this.budget.left >= 0;
  }

  get atEnd(): boolean {
    return this.pos >= this.s.length;
  }

  /** The character at the cursor (a method, so checks on it are not narrowed across moves). */
  ch(): string | undefined {
    return this.s[this.pos];
  }

  /** Skips a comment at pos; false when it never closes. */
  private skipComment(): boolean {
    let level = 1;
    for (this.pos++; this.pos < this.s.length; this.pos++) {
      if (!this.spend(1)) return false;
      const c = this.s[this.pos];
      if (c === '(') level++;
      else if (c === ')') {
        if (--level === 0) {
          this.pos++;
          return true;
        }
      } else if (c === '\\') {
        this.pos++;
        if (this.pos >= this.s.length) return false;
      }
    }
    return false;
  }

  /** Skips whitespace and comments: 1 when something follows, 0 at the end, -1 on an open comment. */
  skipCfws(): number {
    while (this.pos < this.s.length) {
      if (!this.spend(1)) return -1;
      const c = this.s[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        this.pos++;
        continue;
      }
      if (c !== '(') break;
      if (!this.skipComment()) return -1;
    }
    return this.pos < this.s.length ? 1 : 0;
  }

  /** dot-atom, with CFWS allowed around the dots; appends to out.v. */
  dotAtom(out: { v: string }): number {
    if (!isAtext(this.ch())) return -1;
    let start = this.pos++;
    while (this.pos < this.s.length) {
      if (!this.spend(1)) return -1;
      if (isAtext(this.ch())) {
        this.pos++;
        continue;
      }
      out.v += this.s.slice(start, this.pos);
      const r = this.skipCfws();
      if (r <= 0) return r;
      if (this.ch() !== '.') return 1;
      this.pos++;
      out.v += '.';
      const r2 = this.skipCfws();
      if (r2 <= 0) return r2;
      start = this.pos;
    }
    out.v += this.s.slice(start, this.pos);
    return 0;
  }

  /** quoted-string: the content without quotes, escapes and folding; appends to out.v. */
  quoted(out: { v: string }): number {
    let start = ++this.pos;
    for (; this.pos < this.s.length; this.pos++) {
      if (!this.spend(1)) return -1;
      const c = this.s[this.pos];
      if (c === '"') {
        out.v += this.s.slice(start, this.pos);
        this.pos++;
        return this.skipCfws();
      }
      if (c === '\n') {
        let len = this.pos - start;
        if (len > 0 && this.s[start + len - 1] === '\r') len--;
        out.v += this.s.slice(start, start + len);
        start = this.pos + 1;
      } else if (c === '\\') {
        this.pos++;
        if (this.pos >= this.s.length) return -1;
        out.v += this.s.slice(start, this.pos - 1);
        start = this.pos;
      }
    }
    return -1;
  }
}

/** The slow path from just after "<": CFWS, id-left, "@", id-right, ">". */
function untokenized(s: string, from: number, out: { v: string }, budget: Budget): number {
  const c = new Cursor(s, from, budget);
  c.skipCfws();
  const left = c.ch() === '"' ? c.quoted(out) : c.dotAtom(out);
  if (left <= 0 || c.ch() !== '@') return -1;
  out.v += '@';
  c.pos++;
  c.skipCfws();
  if (c.dotAtom(out) <= 0 || c.ch() !== '>') return -1;
  return c.pos + 1;
}

/** The next Message-ID in s at or after pos, and where to go on from; undefined when there is none. */
function nextMessageId(s: string, pos: number, budget: Budget): { id: string; next: number } | undefined {
  // Dovecot's scratch buffer survives failed slow-path attempts within one look-up.
  const scratch = { v: '' };
  let at = pos;
  for (;;) {
    const lt = s.indexOf('<', at);
    if (lt < 0) return undefined;
    budget.left -= lt - at;
    const from = lt + 1;
    let p = from;
    let foundAt = false;
    let stop = '';
    for (; p < s.length; p++) {
      if (--budget.left < 0) return undefined;
      const c = s[p]!;
      if (c.charCodeAt(0) >= 0x41) continue;
      if (c === '@') foundAt = true;
      if (c === '>' || c === '"' || c === '(' || c === '[') {
        stop = c;
        break;
      }
    }
    if (stop === '') return undefined;
    if (stop === '>') {
      if (foundAt) return { id: s.slice(from, p).replace(/[ \t\r\n]/g, ''), next: p + 1 };
      at = p + 1;
      continue;
    }
    const next = untokenized(s, from, scratch, budget);
    if (next >= 0) return { id: scratch.v, next };
    at = from;
  }
}

/** Every Message-ID in a header value, in order. */
export function allMessageIds(value: string | undefined): string[] {
  const out: string[] = [];
  if (value === undefined) return out;
  const s = cutAtNul(value);
  const budget = budgetFor(s);
  for (let r = nextMessageId(s, 0, budget); r !== undefined; r = nextMessageId(s, r.next, budget)) out.push(r.id);
  return out;
}

/** The first Message-ID in a header value, or null. */
export function firstMessageId(value: string | undefined): string | null {
  if (value === undefined) return null;
  const s = cutAtNul(value);
  return nextMessageId(s, 0, budgetFor(s))?.id ?? null;
}

function budgetFor(s: string): Budget {
  return { left: 8 * s.length + 4096 };
}

/** Dovecot reads header values as C strings. */
function cutAtNul(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}
