// THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES.
import { defineCommand, SELECTED, type CommandResult, type SessionContext } from '../command.js';
import { astring, ImapParseError, type Arg } from '../parser.js';
import { parseSearch, type ParsedSearch } from '../search.js';
import { matchingMessages } from './matching.js';
import { baseSubject } from './sort.js';

interface ThreadArgs {
  byUid: boolean;
  algorithm: 'ORDEREDSUBJECT' | 'REFERENCES';
  search: ParsedSearch | undefined;
}

/** One message of the result, with what threading needs. */
export interface ThreadMessage {
  id: number;
  seq: number;
  date: number;
  subject: string;
  /** True when the subject had Re:/Fwd: and the like removed (a reply). */
  isReply: boolean;
  messageId: string | null;
  /** References, or In-Reply-To when there is no References. */
  references: string[];
}

interface Node {
  msg: ThreadMessage | undefined;
  parent: Node | undefined;
  children: Node[];
}

function newNode(msg?: ThreadMessage): Node {
  return { msg, parent: undefined, children: [] };
}

function isAncestor(a: Node, b: Node): boolean {
  for (let n: Node | undefined = b; n; n = n.parent) if (n === a) return true;
  return false;
}

function link(parent: Node, child: Node): void {
  if (child.parent) child.parent.children = child.parent.children.filter((c) => c !== child);
  child.parent = parent;
  parent.children.push(child);
}

function firstMsg(n: Node): ThreadMessage | undefined {
  return n.msg ?? (n.children[0] ? firstMsg(n.children[0]) : undefined);
}

function byDate(a: Node, b: Node): number {
  const x = firstMsg(a);
  const y = firstMsg(b);
  return (x?.date ?? 0) - (y?.date ?? 0) || (x?.seq ?? 0) - (y?.seq ?? 0);
}

function sortTree(nodes: Node[]): void {
  for (const n of nodes) sortTree(n.children);
  nodes.sort(byDate);
}

/** The RFC 5256 REFERENCES algorithm; returns the root set. */
export function threadByReferences(messages: ThreadMessage[]): Node[] {
  const byId = new Map<string, Node>();
  const all: Node[] = [];
  for (const m of messages) {
    // 1.A: link the references chain.
    let prev: Node | undefined;
    for (const ref of m.references) {
      let node = byId.get(ref);
      if (!node) {
        node = newNode();
        byId.set(ref, node);
        all.push(node);
      }
      if (prev && !node.parent && !isAncestor(node, prev)) link(prev, node);
      prev = node;
    }
    // 1.B: the message's own container (a duplicate or missing Message-ID gets a fresh one).
    let own = m.messageId !== null ? byId.get(m.messageId) : undefined;
    if (!own || own.msg !== undefined) {
      own = newNode(m);
      if (m.messageId !== null && !byId.has(m.messageId)) byId.set(m.messageId, own);
      all.push(own);
    } else own.msg = m;
    if (prev && prev !== own && !isAncestor(own, prev)) link(prev, own);
    else if (!prev && own.parent) {
      own.parent.children = own.parent.children.filter((c) => c !== own);
      own.parent = undefined;
    }
  }
  // 2: the root set. 3: prune empty containers.
  const prune = (nodes: Node[], root: boolean): Node[] => {
    const out: Node[] = [];
    for (const n of nodes) {
      n.children = prune(n.children, false);
      for (const c of n.children) c.parent = n;
      if (n.msg) out.push(n);
      else if (n.children.length === 0) continue;
      else if (root && n.children.length > 1) out.push(n);
      else for (const c of n.children) out.push(c);
    }
    return out;
  };
  let roots = prune(
    all.filter((n) => !n.parent),
    true,
  );
  for (const r of roots) r.parent = undefined;
  // 4: sort by sent date.
  sortTree(roots);
  // 5: gather roots with the same base subject.
  const subjectOf = (n: Node) => firstMsg(n);
  const table = new Map<string, Node>();
  for (const r of roots) {
    const m = subjectOf(r);
    if (!m || m.subject === '') continue;
    const cur = table.get(m.subject);
    if (!cur || (cur.msg === undefined && r.msg !== undefined) || (cur.msg?.isReply && r.msg && !r.msg.isReply)) table.set(m.subject, r);
  }
  const merged = new Set<Node>();
  for (const r of roots) {
    const m = subjectOf(r);
    if (!m || m.subject === '') continue;
    const t = table.get(m.subject)!;
    if (t === r) continue;
    if (!t.msg && !r.msg) {
      for (const c of [...r.children]) link(t, c);
    } else if (!t.msg) {
      link(t, r);
    } else if (r.msg?.isReply && !t.msg.isReply) {
      link(t, r);
    } else {
      const dummy = newNode();
      const at = roots.indexOf(t);
      link(dummy, t);
      link(dummy, r);
      roots[at] = dummy;
      table.set(m.subject, dummy);
    }
    merged.add(r);
  }
  roots = roots.filter((r) => !merged.has(r));
  for (const r of roots) r.parent = undefined;
  // 6: sort again after merging.
  sortTree(roots);
  return roots;
}

export function threadByOrderedSubject(messages: ThreadMessage[]): Node[] {
  const sorted = [...messages].sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.date - b.date || a.seq - b.seq));
  const roots: Node[] = [];
  let current: Node | undefined;
  for (const m of sorted) {
    if (current && current.msg!.subject === m.subject) link(current, newNode(m));
    else {
      current = newNode(m);
      roots.push(current);
    }
  }
  return roots.sort(byDate);
}

function inner(n: Node): string {
  const kids = n.children;
  const tail = kids.length === 0 ? '' : kids.length === 1 ? inner(kids[0]!) : kids.map((c) => `(${inner(c)})`).join('');
  if (!n.msg) return tail;
  return tail === '' ? `${n.msg.id}` : `${n.msg.id} ${tail}`;
}

/** The THREAD response data: "(3 6 (4 23)(44 7 96))..." */
export function renderThreads(roots: Node[]): string {
  return roots.map((r) => `(${inner(r)})`).join('');
}

const parser = (byUid: boolean) => (args: Arg[]): ThreadArgs => {
  const algorithm = astring(args[0], 'threading algorithm').toUpperCase();
  if (algorithm !== 'ORDEREDSUBJECT' && algorithm !== 'REFERENCES') throw new ImapParseError('Unknown threading algorithm');
  const charset = astring(args[1], 'charset').toUpperCase();
  if (!['UTF-8', 'US-ASCII'].includes(charset)) return { byUid, algorithm, search: undefined };
  return { byUid, algorithm, search: parseSearch(args.slice(2)) };
};

function run(ctx: SessionContext, a: ThreadArgs): CommandResult {
  if (a.search === undefined) return { status: 'NO', code: 'BADCHARSET (UTF-8 US-ASCII)', text: 'Unsupported charset' };
  const messages: ThreadMessage[] = [];
  for (const m of matchingMessages(ctx, a.search.key)) {
    const rec = m.record;
    const seq = m.seq;
    const s = m.index().search;
    const subject = baseSubject(s.subject);
    messages.push({
      id: a.byUid ? rec.uid : seq,
      seq,
      date: s.date ?? rec.internalDate,
      subject,
      isReply: subject !== s.subject.replace(/\s+/g, ' ').trim().toLowerCase(),
      messageId: s.messageId,
      references: s.references.length > 0 ? s.references : s.inReplyTo !== null ? [s.inReplyTo] : [],
    });
  }
  const roots = a.algorithm === 'REFERENCES' ? threadByReferences(messages) : threadByOrderedSubject(messages);
  const data = renderThreads(roots);
  return { untagged: [{ type: 'untagged', values: data === '' ? ['THREAD'] : ['THREAD', data] }] };
}

export const threadCommand = defineCommand({ name: 'THREAD', states: SELECTED, parse: parser(false), run, allowExpunge: false });
export const uidThreadCommand = defineCommand({ name: 'UID THREAD', states: SELECTED, parse: parser(true), run });
