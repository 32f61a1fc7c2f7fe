// The open multipart boundaries of a message being parsed, and the lookup of
// the one a "--" line belongs to.
//
// Which boundary wins follows Dovecot 2.3's boundary_find: newest first, the
// longest boundary that is a prefix of the line wins, and the search stops at
// the first boundary that becomes the best while equal to the whole line, or
// to the line without a trailing "--" (a line "--foo--" may close "foo" or
// open "foo--"). RFC 2046 5.1.1 lets the line go on after the boundary
// (transport padding, or anything: only the prefix has to match).
//
// Hostile input is normal: a message can open up to 99 nested boundaries and
// then send a megabyte of lines that almost match all of them. Comparing every
// line with every boundary would cost lines x boundaries, so the boundaries sit
// in a trie of their bytes and a line is walked down it once: the work per
// line is at most its length (and at most the longest boundary, 80 bytes),
// however many boundaries are open.

export interface OpenBoundary<P> {
  /** The multipart part this boundary delimits. */
  readonly part: P;
  readonly bytes: Buffer;
  /** Set by match(): the line is the closing delimiter ("--" right after the boundary). */
  epilogue: boolean;
  /** Position in the stack (0 = oldest), so newest-first order is descending. */
  readonly level: number;
}

interface TrieNode<P> {
  children: Map<number, TrieNode<P>>;
  /** Open boundaries whose bytes end here, oldest first (duplicates are allowed). */
  here: OpenBoundary<P>[];
  /** Open boundaries in this subtree, so empty branches can be pruned. */
  count: number;
}

function newNode<P>(): TrieNode<P> {
  return { children: new Map(), here: [], count: 0 };
}

export class BoundaryStack<P> {
  private readonly stack: OpenBoundary<P>[] = [];
  private readonly root: TrieNode<P> = newNode();
  /** Reused for the candidates of one line (at most one per trie depth). */
  private readonly candidates: OpenBoundary<P>[] = [];

  get size(): number {
    return this.stack.length;
  }

  /** The newest open boundary. */
  top(): OpenBoundary<P> | undefined {
    return this.stack[this.stack.length - 1];
  }

  push(part: P, bytes: Buffer): void {
    const b: OpenBoundary<P> = { part, bytes, epilogue: false, level: this.stack.length };
    this.stack.push(b);
    let node = this.root;
    node.count++;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      let next = node.children.get(c);
      if (next === undefined) {
        next = newNode();
        node.children.set(c, next);
      }
      next.count++;
      node = next;
    }
    node.here.push(b);
  }

  /**
   * Forgets `b` and every newer boundary (its nested multiparts, left open),
   * or only the newer ones when `keep` is set.
   */
  popTo(b: OpenBoundary<P>, keep: boolean): void {
    const level = keep ? b.level + 1 : b.level;
    while (this.stack.length > level) this.removeTop();
  }

  private removeTop(): void {
    const b = this.stack.pop()!;
    let node = this.root;
    node.count--;
    for (let i = 0; i < b.bytes.length; i++) {
      const c = b.bytes[i]!;
      const next = node.children.get(c)!;
      if (--next.count === 0) {
        node.children.delete(c);
        return;
      }
      node = next;
    }
    // Boundaries leave newest first, so b is the last one here.
    node.here.pop();
  }

  /**
   * The boundary a delimiter line belongs to, or null. `start` is just after
   * the line's leading "--"; `findSize` is the line length without its
   * [CR]LF; `trailingDashes` says the line (longer than 2) ends in "--".
   * Sets the winner's `epilogue` from the two bytes after it (`end` is the
   * end of the buffer).
   */
  match(buf: Buffer, start: number, end: number, findSize: number, trailingDashes: boolean): OpenBoundary<P> | null {
    const cands = this.candidates;
    cands.length = 0;
    // Walk the line down the trie; each node passed that ends a boundary
    // gives the newest boundary with those bytes (older duplicates can never
    // win over it).
    let node: TrieNode<P> | undefined = this.root;
    let depth = 0;
    for (;;) {
      const n = node.here.length;
      if (n > 0) cands.push(node.here[n - 1]!);
      if (depth >= findSize) break;
      node = node.children.get(buf[start + depth]!);
      if (node === undefined) break;
      depth++;
    }
    if (cands.length === 0) return null;
    // Dovecot's loop over the candidates, newest first.
    if (cands.length > 1) cands.sort((a, b) => b.level - a.level);
    let best: OpenBoundary<P> | null = null;
    for (const c of cands) {
      const len = c.bytes.length;
      if (best === null || best.bytes.length < len) {
        best = c;
        if (len === findSize || (trailingDashes && len === findSize - 2)) break;
      }
    }
    const bl = best!.bytes.length;
    best!.epilogue = end - start >= bl + 2 && buf[start + bl] === 0x2d && buf[start + bl + 1] === 0x2d;
    return best;
  }
}
