// :regex (draft-ietf-sieve-regex) with POSIX extended regular expressions,
// run by our own Pike VM (Thompson NFA simulation with submatches) instead of
// the backtracking JavaScript RegExp: time is O(pattern x subject) for every
// pattern, and each step is charged to the evaluation budget, so neither a
// hostile pattern nor a hostile message can hang a delivery.
//
// Supported: | * + ? {n} {n,} {n,m} ( ) . ^ $ bracket expressions with ranges,
// negation and [:classes:], and the GNU escapes \w \W \s \S \b \B \< \>.
// Submatches follow leftmost-first priority (Perl-like) rather than POSIX
// leftmost-longest; whether a pattern matches is the same either way.

export class RegexSyntaxError extends Error {}

type CharTest = (c: number) => boolean;

type Inst =
  | { op: 'char'; c: number }
  | { op: 'any' }
  | { op: 'class'; test: CharTest }
  | { op: 'split'; x: number; y: number }
  | { op: 'jmp'; x: number }
  | { op: 'save'; n: number }
  | { op: 'assert'; kind: 'bol' | 'eol' | 'wordb' | 'nwordb' | 'wordstart' | 'wordend' }
  | { op: 'match' };

type Node =
  | { k: 'char'; c: number }
  | { k: 'any' }
  | { k: 'class'; test: CharTest }
  | { k: 'assert'; kind: 'bol' | 'eol' | 'wordb' | 'nwordb' | 'wordstart' | 'wordend' }
  | { k: 'group'; n: number; body: Node }
  | { k: 'cat'; items: Node[] }
  | { k: 'alt'; items: Node[] }
  | { k: 'rep'; min: number; max: number; body: Node };

const MAX_PROGRAM = 20000;
const MAX_REPEAT = 255; // RE_DUP_MAX

const isWord = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

// The classes of the C locale, which Pigeonhole's regcomp runs in: ASCII
// only, like \w above ([[:alpha:]]+ takes "Andr" from "André" there too).
const posixClasses: Record<string, CharTest> = {
  alpha: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  digit: (c) => c >= 48 && c <= 57,
  alnum: (c) => posixClasses.alpha!(c) || (c >= 48 && c <= 57),
  upper: (c) => c >= 65 && c <= 90,
  lower: (c) => c >= 97 && c <= 122,
  space: isSpace,
  blank: (c) => c === 32 || c === 9,
  punct: (c) => (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126),
  print: (c) => c >= 32 && c <= 126,
  graph: (c) => c > 32 && c <= 126,
  cntrl: (c) => c < 32 || c === 127,
  xdigit: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
};

class Parser {
  private i = 0;
  groups = 0;
  constructor(private readonly p: number[]) {}

  parse(): Node {
    const n = this.alt();
    if (this.i < this.p.length) throw new RegexSyntaxError(`unmatched ')' at offset ${this.i}`);
    return n;
  }
  private peek(): number | undefined {
    return this.p[this.i];
  }
  private alt(): Node {
    const items = [this.cat()];
    while (this.peek() === 0x7c) {
      this.i++;
      items.push(this.cat());
    }
    return items.length === 1 ? items[0]! : { k: 'alt', items };
  }
  private cat(): Node {
    const items: Node[] = [];
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === 0x7c || c === 0x29) break;
      let atom = this.atom();
      for (;;) {
        const q = this.peek();
        if (q === 0x2a) {
          this.i++;
          atom = { k: 'rep', min: 0, max: -1, body: atom };
        } else if (q === 0x2b) {
          this.i++;
          atom = { k: 'rep', min: 1, max: -1, body: atom };
        } else if (q === 0x3f) {
          this.i++;
          atom = { k: 'rep', min: 0, max: 1, body: atom };
        } else if (q === 0x7b && this.isBound()) {
          const { min, max } = this.bound();
          atom = { k: 'rep', min, max, body: atom };
        } else break;
      }
      items.push(atom);
    }
    return items.length === 1 ? items[0]! : { k: 'cat', items };
  }
  private isBound(): boolean {
    const rest = fromCodePoints(this.p.slice(this.i, this.i + 16));
    return /^\{\d+(,\d*)?\}/.test(rest);
  }
  private bound(): { min: number; max: number } {
    const rest = String.fromCodePoint(...this.p.slice(this.i, this.i + 16));
    const m = /^\{(\d+)(,(\d*))?\}/.exec(rest)!;
    this.i += m[0].length;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
    if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && max < min)) throw new RegexSyntaxError('invalid repetition count');
    return { min, max };
  }
  private atom(): Node {
    const c = this.p[this.i++]!;
    switch (c) {
      case 0x28: {
        const n = ++this.groups;
        const body = this.peek() === 0x29 ? ({ k: 'cat', items: [] } as Node) : this.alt();
        if (this.peek() !== 0x29) throw new RegexSyntaxError("missing ')'");
        this.i++;
        return { k: 'group', n, body };
      }
      case 0x2e:
        return { k: 'any' };
      case 0x5e:
        return { k: 'assert', kind: 'bol' };
      case 0x24:
        return { k: 'assert', kind: 'eol' };
      case 0x5b:
        return this.bracket();
      case 0x2a:
      case 0x2b:
      case 0x3f:
        throw new RegexSyntaxError('repetition operator without operand');
      case 0x5c: {
        const e = this.p[this.i++];
        if (e === undefined) throw new RegexSyntaxError('trailing backslash');
        switch (e) {
          case 0x77: return { k: 'class', test: isWord };
          case 0x57: return { k: 'class', test: (x) => !isWord(x) };
          case 0x73: return { k: 'class', test: isSpace };
          case 0x53: return { k: 'class', test: (x) => !isSpace(x) };
          case 0x62: return { k: 'assert', kind: 'wordb' };
          case 0x42: return { k: 'assert', kind: 'nwordb' };
          case 0x3c: return { k: 'assert', kind: 'wordstart' };
          case 0x3e: return { k: 'assert', kind: 'wordend' };
          default:
            if (e >= 0x31 && e <= 0x39) throw new RegexSyntaxError('back-references are not supported');
            return { k: 'char', c: e };
        }
      }
      default:
        return { k: 'char', c };
    }
  }
  private bracket(): Node {
    const tests: CharTest[] = [];
    let negate = false;
    if (this.peek() === 0x5e) {
      negate = true;
      this.i++;
    }
    let first = true;
    for (;;) {
      const c = this.p[this.i];
      if (c === undefined) throw new RegexSyntaxError("unmatched '['");
      if (c === 0x5d && !first) {
        this.i++;
        break;
      }
      first = false;
      if (c === 0x5b && this.p[this.i + 1] === 0x3a) {
        const rest = String.fromCodePoint(...this.p.slice(this.i, this.i + 12));
        const m = /^\[:([a-z]+):\]/.exec(rest);
        if (!m) throw new RegexSyntaxError('invalid character class');
        const t = posixClasses[m[1]!];
        if (!t) throw new RegexSyntaxError(`unknown character class '${m[1]}'`);
        tests.push(t);
        this.i += m[0].length;
        continue;
      }
      this.i++;
      if (this.p[this.i] === 0x2d && this.p[this.i + 1] !== undefined && this.p[this.i + 1] !== 0x5d) {
        const hi = this.p[this.i + 1]!;
        this.i += 2;
        if (hi < c) throw new RegexSyntaxError('invalid range end');
        tests.push((x) => x >= c && x <= hi);
      } else tests.push((x) => x === c);
    }
    const test: CharTest = (x) => {
      for (const t of tests) if (t(x)) return !negate;
      return negate;
    };
    return { k: 'class', test };
  }
}

function foldCase(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

class Emitter {
  prog: Inst[] = [];
  constructor(private readonly icase: boolean) {}
  private push(i: Inst): number {
    if (this.prog.length >= MAX_PROGRAM) throw new RegexSyntaxError('regular expression too large');
    this.prog.push(i);
    return this.prog.length - 1;
  }
  emit(n: Node): void {
    switch (n.k) {
      case 'char':
        this.push({ op: 'char', c: this.icase ? foldCase(n.c) : n.c });
        return;
      case 'any':
        this.push({ op: 'any' });
        return;
      case 'class': {
        const t = n.test;
        const test: CharTest = this.icase
          ? (c) => t(c) || (c >= 97 && c <= 122 && t(c - 32)) || (c >= 65 && c <= 90 && t(c + 32))
          : t;
        this.push({ op: 'class', test });
        return;
      }
      case 'assert':
        this.push({ op: 'assert', kind: n.kind });
        return;
      case 'group':
        this.push({ op: 'save', n: 2 * n.n });
        this.emit(n.body);
        this.push({ op: 'save', n: 2 * n.n + 1 });
        return;
      case 'cat':
        for (const it of n.items) this.emit(it);
        return;
      case 'alt': {
        const jumps: number[] = [];
        n.items.forEach((it, idx) => {
          if (idx < n.items.length - 1) {
            const split = this.push({ op: 'split', x: 0, y: 0 });
            (this.prog[split] as { x: number }).x = this.prog.length;
            this.emit(it);
            jumps.push(this.push({ op: 'jmp', x: 0 }));
            (this.prog[split] as { y: number }).y = this.prog.length;
          } else this.emit(it);
        });
        for (const j of jumps) (this.prog[j] as { x: number }).x = this.prog.length;
        return;
      }
      case 'rep': {
        for (let k = 0; k < n.min; k++) this.emit(n.body);
        if (n.max === -1) {
          const split = this.push({ op: 'split', x: 0, y: 0 });
          (this.prog[split] as { x: number }).x = this.prog.length;
          this.emit(n.body);
          this.push({ op: 'jmp', x: split });
          (this.prog[split] as { y: number }).y = this.prog.length;
        } else {
          const splits: number[] = [];
          for (let k = n.min; k < n.max; k++) {
            const split = this.push({ op: 'split', x: 0, y: 0 });
            (this.prog[split] as { x: number }).x = this.prog.length;
            splits.push(split);
            this.emit(n.body);
          }
          for (const s of splits) (this.prog[s] as { y: number }).y = this.prog.length;
        }
        return;
      }
    }
  }
}

export interface Regex {
  prog: Inst[];
  groups: number;
  icase: boolean;
  source: string;
}

/** Counts regex steps; throws when the evaluation's budget is spent. */
export interface StepBudget {
  charge(steps: number): void;
}

export function compileRegex(source: string, icase: boolean): Regex {
  const cps = Array.from(source, (ch) => ch.codePointAt(0)!);
  const parser = new Parser(cps);
  const ast = parser.parse();
  const em = new Emitter(icase);
  em.emit({ k: 'group', n: 0, body: ast });
  em.prog.push({ op: 'match' });
  return { prog: em.prog, groups: parser.groups, icase, source };
}

interface Thread {
  pc: number;
  caps: number[];
}

/** String.fromCodePoint over an array of any length (no argument-count limit). */
function fromCodePoints(cps: number[]): string {
  let out = '';
  for (let i = 0; i < cps.length; i += 4096) out += String.fromCodePoint(...cps.slice(i, i + 4096));
  return out;
}

/** Code points of a string (fast path when there are no surrogates). */
function codePoints(s: string): number[] {
  const out = new Array<number>(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out[n++] = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
        continue;
      }
    }
    out[n++] = c;
  }
  out.length = n;
  return out;
}

function assertHolds(kind: string, cps: number[], pos: number): boolean {
  const prev = pos > 0 ? cps[pos - 1] : undefined;
  const next = cps[pos];
  const wp = prev !== undefined && isWord(prev);
  const wn = next !== undefined && isWord(next);
  switch (kind) {
    case 'bol': return pos === 0;
    case 'eol': return pos === cps.length;
    case 'wordb': return wp !== wn;
    case 'nwordb': return wp === wn;
    case 'wordstart': return !wp && wn;
    default: return wp && !wn;
  }
}

interface Analysis {
  /** Every match starts at position 0 (the pattern begins with ^ on all paths). */
  anchored: boolean;
  /** Characters a match can start with, or undefined when any (or empty match). */
  first: Set<number> | undefined;
}

const analyses = new WeakMap<Regex, Analysis>();
// Per-pattern work arrays, reused: evaluation is synchronous and regexTest never re-enters.
const scratch = new WeakMap<Regex, { mark: Int32Array; a: Int32Array; b: Int32Array }>();

function analyse(re: Regex): Analysis {
  let a = analyses.get(re);
  if (a) return a;
  const prog = re.prog;
  let anchored = true;
  let first: Set<number> | undefined = new Set<number>();
  const seen = new Set<number>();
  const stack = [0];
  while (stack.length > 0) {
    const pc = stack.pop()!;
    if (seen.has(pc)) continue;
    seen.add(pc);
    const inst = prog[pc]!;
    switch (inst.op) {
      case 'jmp': stack.push(inst.x); break;
      case 'split': stack.push(inst.x, inst.y); break;
      case 'save': stack.push(pc + 1); break;
      case 'assert':
        if (inst.kind === 'bol') break; // this path is anchored
        anchored = false;
        stack.push(pc + 1);
        break;
      case 'char':
        anchored = false;
        first?.add(inst.c);
        if (re.icase && inst.c >= 97 && inst.c <= 122) first?.add(inst.c - 32);
        break;
      default:
        anchored = false;
        first = undefined;
    }
  }
  a = { anchored, first: first && first.size > 0 ? first : undefined };
  analyses.set(re, a);
  return a;
}

// ---- Lazy DFA: the fast path for patterns whose only assertions are ^ and $.
// States are sets of NFA positions, built on demand and cached per pattern,
// so a test costs one map lookup per character once warm.

interface DState {
  /** Consuming instructions (char/any/class) live in this state. */
  cons: number[];
  /** A match is reached here (no more input needed). */
  match: boolean;
  /** Positions just after `$` assertions reached: a match if input ends here. */
  eol: number[];
  /** Transitions for ASCII characters (index = code), then the rest. */
  ascii: Array<DState | undefined>;
  next: Map<number, DState>;
  /** Cached: does the end of input here give a match? */
  endMatch?: boolean;
}

interface Dfa {
  start: DState;
  states: Map<string, DState>;
  anchored: boolean;
}

const MAX_DFA_STATES = 4000;
const dfas = new WeakMap<Regex, Dfa | null>();

function closure(re: Regex, seeds: number[], atStart: boolean, atEnd: boolean): { cons: number[]; match: boolean; eol: number[] } {
  const prog = re.prog;
  const seen = new Set<number>();
  const cons: number[] = [];
  const eol: number[] = [];
  let match = false;
  const stack = [...seeds].reverse();
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    const inst = prog[p]!;
    switch (inst.op) {
      case 'jmp': stack.push(inst.x); break;
      case 'split': stack.push(inst.y, inst.x); break;
      case 'save': stack.push(p + 1); break;
      case 'assert':
        if (inst.kind === 'bol') {
          if (atStart) stack.push(p + 1);
        } else if (atEnd) stack.push(p + 1);
        else eol.push(p + 1);
        break;
      case 'match': match = true; break;
      default: cons.push(p);
    }
  }
  cons.sort((a, b) => a - b);
  eol.sort((a, b) => a - b);
  return { cons, match, eol };
}

function intern(dfa: Dfa, c: { cons: number[]; match: boolean; eol: number[] }): DState | undefined {
  const key = `${c.cons.join(',')}|${c.eol.join(',')}${c.match ? '!' : ''}`;
  let s = dfa.states.get(key);
  if (!s) {
    if (dfa.states.size >= MAX_DFA_STATES) return undefined;
    s = { ...c, ascii: new Array<DState | undefined>(128), next: new Map() };
    dfa.states.set(key, s);
  }
  return s;
}

function getDfa(re: Regex): Dfa | null {
  let d = dfas.get(re);
  if (d !== undefined) return d;
  d = null;
  if (re.prog.every((i) => i.op !== 'assert' || i.kind === 'bol' || i.kind === 'eol')) {
    const dfa: Dfa = { start: undefined as unknown as DState, states: new Map(), anchored: analyse(re).anchored };
    const s = intern(dfa, closure(re, [0], true, false));
    if (s) {
      dfa.start = s;
      d = dfa;
    }
  }
  dfas.set(re, d);
  return d;
}

/** undefined when the DFA grew too large (the caller falls back to the NFA). */
function dfaTest(re: Regex, dfa: Dfa, subject: string, budget: StepBudget): boolean | undefined {
  let s = dfa.start;
  const prog = re.prog;
  budget.charge(1 + (subject.length >> 4));
  for (let i = 0; i < subject.length; i++) {
    if (s.match) return true;
    let c = subject.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < subject.length) {
      const d = subject.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
      }
    }
    if (re.icase && c >= 65 && c <= 90) c += 32;
    let n = c < 128 ? s.ascii[c] : s.next.get(c);
    if (!n) {
      const seeds: number[] = [];
      for (const pc of s.cons) {
        const inst = prog[pc]!;
        if (inst.op === 'any' || (inst.op === 'char' && inst.c === c) || (inst.op === 'class' && inst.test(c))) seeds.push(pc + 1);
      }
      if (!dfa.anchored) seeds.push(0);
      n = intern(dfa, closure(re, seeds, false, false));
      if (!n) return undefined;
      if (c < 128) s.ascii[c] = n;
      else s.next.set(c, n);
    }
    s = n;
    if (dfa.anchored && s.cons.length === 0 && !s.match && s.eol.length === 0) return false;
  }
  if (s.match) return true;
  if (s.endMatch === undefined) s.endMatch = s.eol.length > 0 && closure(re, s.eol, subject.length === 0, true).match;
  return s.endMatch;
}

/**
 * True when the pattern matches somewhere in `subject` (no submatches): a
 * lazy DFA when the pattern allows, else a plain NFA simulation.
 */
export function regexTest(re: Regex, subject: string, budget: StepBudget): boolean {
  const dfa = getDfa(re);
  if (dfa) {
    const r = dfaTest(re, dfa, subject, budget);
    if (r !== undefined) return r;
  }
  return nfaTest(re, subject, budget);
}

function nfaTest(re: Regex, subject: string, budget: StepBudget): boolean {
  const cps = codePoints(subject);
  const prog = re.prog;
  const { anchored, first } = analyse(re);
  let sc = scratch.get(re);
  if (!sc) {
    sc = { mark: new Int32Array(prog.length), a: new Int32Array(prog.length), b: new Int32Array(prog.length) };
    scratch.set(re, sc);
  }
  const mark = sc.mark;
  mark.fill(-1);
  let clist = sc.a;
  let nlist = sc.b;
  let cn = 0;
  let nn = 0;
  const stack: number[] = [];
  let found = false;
  const add = (list: Int32Array, count: number, pc0: number, pos: number, gen: number): number => {
    let n = count;
    stack.push(pc0);
    while (stack.length > 0) {
      const p = stack.pop()!;
      if (mark[p] === gen) continue;
      mark[p] = gen;
      const inst = prog[p]!;
      switch (inst.op) {
        case 'jmp': stack.push(inst.x); break;
        case 'split': stack.push(inst.y, inst.x); break;
        case 'save': stack.push(p + 1); break;
        case 'assert': if (assertHolds(inst.kind, cps, pos)) stack.push(p + 1); break;
        case 'match': found = true; break;
        default: list[n++] = p;
      }
    }
    return n;
  };
  let gen = 0;
  for (let pos = 0; pos <= cps.length; pos++) {
    const c0 = cps[pos];
    if (!(anchored && pos > 0) && (first === undefined || (c0 !== undefined && first.has(c0)))) cn = add(clist, cn, 0, pos, gen);
    if (found) return true;
    if (cn === 0) {
      if (anchored) return false;
      if (first !== undefined) {
        // Skip ahead to the next position that can start a match.
        let q = pos + 1;
        while (q < cps.length && !first.has(cps[q]!)) q++;
        if (q >= cps.length) return false;
        pos = q - 1;
      }
      continue;
    }
    budget.charge(cn);
    gen++;
    nn = 0;
    const raw = cps[pos];
    if (raw === undefined) break;
    const ch = re.icase ? foldCase(raw) : raw;
    for (let i = 0; i < cn; i++) {
      const pc = clist[i]!;
      const inst = prog[pc]!;
      const ok = inst.op === 'any' ? true : inst.op === 'char' ? inst.c === ch : inst.op === 'class' ? inst.test(ch) : false;
      if (ok) nn = add(nlist, nn, pc + 1, pos + 1, gen);
    }
    if (found) return true;
    const t = clist;
    clist = nlist;
    nlist = t;
    cn = nn;
  }
  return found;
}

/**
 * Searches `subject` (unanchored). Returns the submatch texts ${0}..${groups}
 * ("" for groups that did not take part) or undefined.
 */
export function regexSearch(re: Regex, subject: string, budget: StepBudget): string[] | undefined {
  if (!regexTest(re, subject, budget)) return undefined;
  const cps = codePoints(subject);
  const prog = re.prog;
  const ncap = 2 * (re.groups + 1);
  const mark = new Int32Array(prog.length).fill(-1);
  let clist: Thread[] = [];
  let nlist: Thread[] = [];
  let matched: number[] | undefined;

  const add = (list: Thread[], pc: number, caps: number[], pos: number, gen: number): void => {
    const stack: Array<[number, number[]]> = [[pc, caps]];
    while (stack.length > 0) {
      const [p, c] = stack.pop()!;
      if (mark[p] === gen) continue;
      mark[p] = gen;
      const inst = prog[p]!;
      switch (inst.op) {
        case 'jmp':
          stack.push([inst.x, c]);
          break;
        case 'split':
          stack.push([inst.y, c]);
          stack.push([inst.x, c]);
          break;
        case 'save': {
          const nc = c.slice();
          nc[inst.n] = pos;
          stack.push([p + 1, nc]);
          break;
        }
        case 'assert':
          if (assertHolds(inst.kind, cps, pos)) stack.push([p + 1, c]);
          break;
        default:
          list.push({ pc: p, caps: c });
      }
    }
  };

  const init = new Array<number>(ncap).fill(-1);
  let gen = 0;
  for (let pos = 0; pos <= cps.length; pos++) {
    if (matched === undefined) add(clist, 0, init, pos, gen);
    if (clist.length === 0) break;
    budget.charge(clist.length);
    gen++;
    const cRaw = cps[pos];
    const ch = cRaw !== undefined && re.icase ? foldCase(cRaw) : cRaw;
    for (const t of clist) {
      const inst = prog[t.pc]!;
      if (inst.op === 'match') {
        matched = t.caps;
        break; // lower-priority threads are cut off
      }
      if (ch === undefined) continue;
      const ok = inst.op === 'any' ? true : inst.op === 'char' ? inst.c === ch : inst.op === 'class' ? inst.test(ch) : false;
      if (ok) add(nlist, t.pc + 1, t.caps, pos + 1, gen);
    }
    const tmp = clist;
    clist = nlist;
    nlist = tmp;
    nlist.length = 0;
  }
  if (matched === undefined) return undefined;
  const out: string[] = [];
  for (let g = 0; g <= re.groups; g++) {
    const s0 = matched[2 * g] ?? -1;
    const e = matched[2 * g + 1] ?? -1;
    out.push(s0 >= 0 && e >= 0 ? fromCodePoints(cps.slice(s0, e)) : '');
  }
  return out;
}

/** Escapes ERE metacharacters (variables :quoteregex). */
export function quoteRegex(s: string): string {
  return s.replace(/[\\^$.[\]|()?*+{}]/g, '\\$&');
}
