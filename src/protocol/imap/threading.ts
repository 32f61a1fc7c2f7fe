// The THREAD algorithms of RFC 5256 over plain data, REFERENCES and
// ORDEREDSUBJECT (section 3), with the choices Dovecot 2.3 makes where the RFC
// leaves room, so both servers answer alike: Message-IDs compared exactly, a duplicate Message-ID treated as none,
// siblings and threads ordered by sent date then arrival (UID), dummies pruned
// after linking and an only child of a dummy root promoted (step 3 and 4).
// No recursion: a 100,000-message reply chain is fine.
import { baseSubject, compareCodePoints } from './base-subject.js';

export interface ThreadMessage {
  /** The number the response shows: sequence number, or UID for UID THREAD. */
  id: number;
  /** Arrival order: breaks ties between equal sent dates. */
  uid: number;
  /** Sent date (Date:, or INTERNALDATE when that is missing or invalid), in seconds. */
  date: number;
  /** The Subject, RFC 2047-decoded; null when the message has no Subject field. */
  subject: string | null;
  /** Normalised Message-ID (see message-id.ts), or null. */
  messageId: string | null;
  /** Normalised Message-IDs of References, or of In-Reply-To when References holds none. */
  references: string[];
}

/** A node of the result: a message, or (only at the top) a dummy (id null) holding several threads. */
export interface ThreadNode {
  id: number | null;
  children: ThreadNode[];
}

interface Container {
  msg: ThreadMessage | undefined;
  parent: Container | undefined;
  /** How many containers have this one as parent (step 1). */
  linked: number;
  /** Messages placed under this container once dummies are pruned. */
  children: Container[];
}

function container(msg?: ThreadMessage): Container {
  return { msg, parent: undefined, linked: 0, children: [] };
}

const byDateThenUid = (a: ThreadMessage, b: ThreadMessage): number => a.date - b.date || a.uid - b.uid;
const containerOrder = (a: Container, b: Container): number => byDateThenUid(a.msg!, b.msg!);

function rootOf(c: Container): Container {
  let r = c;
  while (r.parent !== undefined) r = r.parent;
  return r;
}

/**
 * Makes parent the parent of child unless child already has one (the first
 * link wins) or parent lies below child (a loop). `knownRoot` is parent's
 * root when the caller knows it; returns child's root when known after.
 */
function link(parent: Container, child: Container, knownRoot: Container | undefined): Container | undefined {
  if (child.parent !== undefined) return undefined;
  // Only a container with something below it can be an ancestor: a new
  // reply is linked without walking up its parent's (maybe long) chain.
  const root = knownRoot ?? (child.linked === 0 ? undefined : rootOf(parent));
  if (parent === child || root === child) return child;
  child.parent = parent;
  parent.linked++;
  return root;
}

interface Root {
  c: Container;
  /** Sort key: the message itself, or a dummy's earliest child. */
  first: ThreadMessage | undefined;
  ignore: boolean;
  replyOrForward: boolean;
  /** Step 5: the root this one is to be merged into. */
  into: Root | undefined;
}

/** Step 4 for the root set: drops empty dummies, promotes an only child, orders by date. */
function sortRoots(roots: Root[]): Root[] {
  const live: Root[] = [];
  for (const r of roots) {
    if (r.ignore) continue;
    if (r.c.msg === undefined) {
      if (r.c.children.length === 0) {
        r.ignore = true;
        continue;
      }
      r.c.children.sort(containerOrder);
      if (r.c.children.length === 1) r.c = r.c.children[0]!;
    }
    r.first = r.c.msg ?? r.c.children[0]!.msg!;
    live.push(r);
  }
  return live.sort((a, b) => byDateThenUid(a.first!, b.first!));
}

/** RFC 5256 THREAD=REFERENCES; messages in ascending UID order. */
export function threadByReferences(messages: readonly ThreadMessage[]): ThreadNode[] {
  // Step 1: one container per Message-ID, linked as References says.
  const byId = new Map<string, Container>();
  const all: Container[] = [];
  const get = (id: string): Container => {
    let c = byId.get(id);
    if (c === undefined) {
      c = container();
      byId.set(id, c);
      all.push(c);
    }
    return c;
  };
  for (const m of messages) {
    let own = m.messageId === null ? undefined : get(m.messageId);
    if (own === undefined || own.msg !== undefined) {
      // No Message-ID, or a later duplicate: a container of its own that nothing can reference.
      own = container(m);
      all.push(own);
    } else own.msg = m;
    const refs = m.references.map(get);
    let root: Container | undefined;
    for (let i = 1; i < refs.length; i++) root = link(refs[i - 1]!, refs[i]!, root);
    const last = refs[refs.length - 1];
    if (own.parent !== undefined && own.parent !== last) {
      // The message's own References outrank a link an earlier message implied.
      own.parent.linked--;
      own.parent = undefined;
      root = undefined;
    }
    if (last !== undefined) link(last, own, root);
  }

  // Steps 2 and 3: the root set; every message hangs under its nearest
  // message ancestor, or under the topmost dummy when it has none.
  const anchor = new Map<Container, Container>();
  const anchorOf = (start: Container): Container => {
    const path: Container[] = [];
    let c = start;
    let found: Container | undefined;
    for (;;) {
      const known = anchor.get(c);
      if (known !== undefined) {
        found = known;
        break;
      }
      if (c.msg !== undefined || c.parent === undefined) {
        found = c;
        break;
      }
      path.push(c);
      c = c.parent;
    }
    for (const p of path) anchor.set(p, found);
    return found;
  };
  let roots: Root[] = [];
  for (const c of all) {
    if (c.parent === undefined) roots.push({ c, first: undefined, ignore: false, replyOrForward: false, into: undefined });
    else if (c.msg !== undefined) anchorOf(c.parent).children.push(c);
  }

  // Step 4.
  roots = sortRoots(roots);

  // Step 5: gather roots by base subject.
  const table = new Map<string, Root>();
  for (const r of roots) {
    const subject = r.first!.subject;
    if (subject === null) continue;
    const base = baseSubject(subject);
    if (base.subject === '') continue;
    const held = table.get(base.subject);
    if (held === undefined) table.set(base.subject, r);
    else if (held.c.msg !== undefined && (r.c.msg === undefined || (held.replyOrForward && !base.replyOrForward))) {
      held.into = r;
      table.set(base.subject, r);
    } else r.into = held;
    r.replyOrForward = base.replyOrForward;
  }
  let merged = false;
  const count = roots.length;
  for (let i = 0; i < count; i++) {
    const r = roots[i]!;
    if (r.into === undefined || r.ignore) continue;
    merged = true;
    let top = r.into;
    while (top.into !== undefined) top = top.into;
    if (r.c.msg === undefined) {
      // Two dummies: their children become siblings.
      top.c.children.push(...r.c.children);
      r.c.children = [];
      r.ignore = true;
    } else if (top.c.msg === undefined || (r.replyOrForward && !top.replyOrForward)) {
      top.c.children.push(r.c);
      r.ignore = true;
    } else {
      const dummy: Root = { c: container(), first: undefined, ignore: false, replyOrForward: false, into: undefined };
      dummy.c.children.push(top.c, r.c);
      top.into = dummy;
      top.ignore = true;
      r.ignore = true;
      roots.push(dummy);
    }
  }
  // Step 6 (and 4 again for the roots that changed).
  if (merged) roots = sortRoots(roots);
  return toNodes(roots.map((r) => r.c));
}

/** The tree with every child list in date order, built without recursion. */
function toNodes(tops: Container[]): ThreadNode[] {
  const out: ThreadNode[] = [];
  const stack: Array<[Container, ThreadNode[]]> = tops.map((c) => [c, out] as [Container, ThreadNode[]]).reverse();
  while (stack.length > 0) {
    const [c, into] = stack.pop()!;
    const node: ThreadNode = { id: c.msg?.id ?? null, children: [] };
    into.push(node);
    c.children.sort(containerOrder);
    for (let i = c.children.length - 1; i >= 0; i--) stack.push([c.children[i]!, node.children]);
  }
  return out;
}

/** RFC 5256 THREAD=ORDEREDSUBJECT: sorted by base subject and date, grouped, threads by their first date. */
export function threadByOrderedSubject(messages: readonly ThreadMessage[]): ThreadNode[] {
  const items = messages.map((m) => ({ m, base: baseSubject(m.subject ?? '').subject }));
  items.sort((a, b) => compareCodePoints(a.base, b.base) || byDateThenUid(a.m, b.m));
  const threads: Array<{ first: ThreadMessage; node: ThreadNode }> = [];
  let prev: string | undefined;
  for (const { m, base } of items) {
    if (base !== prev || threads.length === 0) threads.push({ first: m, node: { id: m.id, children: [] } });
    else threads[threads.length - 1]!.node.children.push({ id: m.id, children: [] });
    prev = base;
  }
  threads.sort((a, b) => byDateThenUid(a.first, b.first));
  return threads.map((t) => t.node);
}

/**
 * The THREAD response data, "(3 6 (4 23)(44 7 96))...": a node with one child
 * continues its line, one with several opens a sub-list per child.
 */
export function renderThreads(roots: readonly ThreadNode[]): string {
  const out: string[] = [];
  const stack: Array<string | ThreadNode[]> = [];
  // Each node of a list of several: "(id)" alone, "(id children...)" with children; a dummy "(children...)".
  const pushBranches = (list: readonly ThreadNode[]): void => {
    for (let i = list.length - 1; i >= 0; i--) {
      const n = list[i]!;
      if (n.children.length === 0) stack.push(`(${n.id})`);
      else stack.push(')', n.children, n.id === null ? '(' : `(${n.id} `);
    }
  };
  pushBranches(roots);
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (typeof t === 'string') {
      out.push(t);
      continue;
    }
    if (t.length === 1) {
      const only = t[0]!;
      if (only.children.length === 0) out.push(`${only.id}`);
      else stack.push(only.children, `${only.id} `);
    } else pushBranches(t);
  }
  return out.join('');
}
