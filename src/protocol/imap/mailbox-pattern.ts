// LIST/LSUB patterns (RFC 3501 6.3.8): "*" matches anything, "%" anything
// but the hierarchy separator "/". A pattern turned into a RegExp (".*",
// "[^/]*") backtracks: eight wildcards against a 60-character name took
// minutes. This runs the pattern as a set of states, one pass over the name,
// the states kept as bits: time O(pattern x name / 32) whatever both hold.

type Token = { kind: 'lit'; ch: string } | { kind: 'star' } | { kind: 'percent' };

const WORD = 32;

/** Bit i of a set of states: "the first i tokens are matched". */
class StateSet {
  readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / WORD));
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (const ch of pattern) {
    if (ch === '*' || ch === '%') {
      const last = tokens[tokens.length - 1];
      // A run of wildcards is one wildcard: "*" if any of them is one.
      if (last && last.kind !== 'lit') {
        if (ch === '*') tokens[tokens.length - 1] = { kind: 'star' };
        continue;
      }
      tokens.push({ kind: ch === '*' ? 'star' : 'percent' });
    } else tokens.push({ kind: 'lit', ch });
  }
  return tokens;
}

/** INBOX is case-insensitive (RFC 3501 5.1): these spellings of it match a pattern starting with any. */
const INBOX_SPELLINGS = new Set(['INBOX', 'inbox', 'Inbox']);

export function compileMailboxPattern(pattern: string): (name: string) => boolean {
  const inboxFirst = /^inbox/i.test(pattern);
  const tokens = tokenize(inboxFirst ? 'INBOX' + pattern.slice(5) : pattern);
  const states = tokens.length + 1;
  const literals = tokens.filter((t) => t.kind === 'lit').length;
  // Per character: the states a literal of that character leaves.
  const onChar = new Map<string, StateSet>();
  const star = new StateSet(states);
  const percent = new StateSet(states);
  const wildcard = new StateSet(states);
  tokens.forEach((t, i) => {
    if (t.kind === 'lit') {
      let s = onChar.get(t.ch);
      if (!s) onChar.set(t.ch, (s = new StateSet(states)));
      s.set(i);
    } else {
      // A wildcard token i: state i reaches i+1 on nothing, and i+1 stays on an allowed character.
      wildcard.set(i);
      (t.kind === 'star' ? star : percent).set(i + 1);
    }
  });
  const words = star.words.length;
  const none = new Uint32Array(words);

  /** Adds the states reached on nothing: past a wildcard (runs are merged, so one step is enough). */
  const closeOver = (d: Uint32Array) => {
    let carry = 0;
    for (let w = 0; w < words; w++) {
      const moved = d[w]! & wildcard.words[w]!;
      const next = ((moved << 1) | carry) >>> 0;
      carry = moved >>> 31;
      d[w] = (d[w]! | next) >>> 0;
    }
  };

  return (rawName: string) => {
    const name = inboxFirst && INBOX_SPELLINGS.has(rawName.slice(0, 5)) ? 'INBOX' + rawName.slice(5) : rawName;
    // Every literal takes one character: a pattern with more cannot match.
    if (name.length < literals) return false;
    let d = new Uint32Array(words);
    d[0] = 1;
    closeOver(d);
    let next = new Uint32Array(words);
    for (const ch of name) {
      const lit = onChar.get(ch)?.words ?? none;
      const stay = ch === '/' ? star.words : undefined;
      let carry = 0;
      let any = 0;
      for (let w = 0; w < words; w++) {
        const moved = d[w]! & lit[w]!;
        const shifted = ((moved << 1) | carry) >>> 0;
        carry = moved >>> 31;
        const kept = stay ? d[w]! & stay[w]! : d[w]! & (star.words[w]! | percent.words[w]!);
        next[w] = (shifted | kept) >>> 0;
        any |= next[w]!;
      }
      if (any === 0) return false;
      closeOver(next);
      [d, next] = [next, d];
    }
    return (d[tokens.length >>> 5]! & (1 << (tokens.length & 31))) !== 0;
  };
}
