// LIST (RFC 3501 and RFC 9051, with LIST-EXTENDED RFC 5258, LIST-STATUS
// RFC 5819 and SPECIAL-USE RFC 6154) and LSUB (kept for IMAP4rev1 clients).
// A name that exists only as the parent of others is \NonExistent in the
// extended forms and for IMAP4rev2 clients, \Noselect otherwise (as Dovecot).
// A subscribed name with no mailbox is \Noselect in LSUB and \NonExistent
// \Subscribed in LIST (SUBSCRIBED) (RFC 5258 3.1).
import { defineCommand, AUTHENTICATED, type CommandResult, type SessionContext } from '../command.js';
import { astring, isAtom, list, ImapParseError, type Arg } from '../parser.js';
import { untagged, type ImapResponse, type ImapValue } from '../response.js';
import { parseStatusItems, statusValues } from '../mailbox-status.js';
import type { MailboxInfo } from '../backend.js';
import { compileMailboxPattern } from '../mailbox-pattern.js';

interface ListArgs {
  patterns: string[];
  subscribedOnly: boolean;
  specialUseOnly: boolean;
  returnSubscribed: boolean;
  returnChildren: boolean;
  returnSpecialUse: boolean;
  returnStatus: string[] | undefined;
  lsub: boolean;
  recursiveMatch: boolean;
  /** Selection options, RETURN or several patterns: the RFC 5258 extended form. */
  extended: boolean;
}

function parseListArgs(args: Arg[], ctx: SessionContext, lsub: boolean): ListArgs {
  let i = 0;
  const out: ListArgs = {
    patterns: [],
    subscribedOnly: lsub,
    specialUseOnly: false,
    returnSubscribed: false,
    returnChildren: false,
    returnSpecialUse: false,
    returnStatus: undefined,
    lsub,
    recursiveMatch: false,
    extended: false,
  };
  if (!lsub && args[0]?.type === 'list') {
    for (const o of args[0].items) {
      const v = isAtom(o) ? o.value.toUpperCase() : '';
      if (v === 'SUBSCRIBED') out.subscribedOnly = out.returnSubscribed = true;
      else if (v === 'SPECIAL-USE') out.specialUseOnly = true;
      else if (v === 'RECURSIVEMATCH') out.recursiveMatch = true;
      else if (v !== 'REMOTE') throw new ImapParseError('Unknown LIST selection option');
    }
    // RFC 5258 3.1: RECURSIVEMATCH qualifies another selection option.
    if (out.recursiveMatch && !out.subscribedOnly && !out.specialUseOnly) throw new ImapParseError('RECURSIVEMATCH needs another selection option');
    out.extended = true;
    i++;
  }
  const reference = astring(args[i++], 'reference');
  const patternArg = args[i++];
  if (patternArg === undefined) throw new ImapParseError('Missing mailbox pattern');
  const raw = patternArg.type === 'list' && !lsub ? patternArg.items.map((p) => astring(p, 'pattern')) : [astring(patternArg, 'pattern')];
  out.patterns = raw.map((p) => (p === '' ? '' : ctx.decodeMailboxName(reference + p)));
  if (patternArg.type === 'list') out.extended = true;
  if (args[i] !== undefined) {
    out.extended = true;
    if (lsub || !isAtom(args[i], 'RETURN')) throw new ImapParseError('Unexpected argument');
    const opts = list(args[i + 1], 'return options');
    for (let k = 0; k < opts.length; k++) {
      const v = isAtom(opts[k]) ? (opts[k] as { value: string }).value.toUpperCase() : '';
      if (v === 'SUBSCRIBED') out.returnSubscribed = true;
      else if (v === 'STATUS') out.returnStatus = parseStatusItems(list(opts[++k], 'status items'));
      else if (v === 'CHILDREN') out.returnChildren = true;
      else if (v === 'SPECIAL-USE') out.returnSpecialUse = true;
      else if (v !== 'MYRIGHTS') throw new ImapParseError('Unknown LIST return option');
    }
    i += 2;
  }
  if (args.length > i) throw new ImapParseError('Too many arguments');
  return out;
}

/** Every proper ancestor of a name ("a/b/c" -> "a", "a/b"). */
function ancestors(name: string): string[] {
  const levels = name.split('/');
  const out: string[] = [];
  for (let k = 1; k < levels.length; k++) out.push(levels.slice(0, k).join('/'));
  return out;
}

async function run(ctx: SessionContext, a: ListArgs): Promise<CommandResult> {
  const word = a.lsub ? 'LSUB' : 'LIST';
  if (a.patterns.length === 1 && a.patterns[0] === '') {
    return { untagged: [untagged(word, ['\\Noselect'], { str: '/' }, { str: '' })] };
  }
  const user = ctx.user!;
  const boxes = await ctx.backend.listMailboxes(user);
  const byName = new Map<string, MailboxInfo>(boxes.map((b) => [b.name, b]));
  // Subscriptions are names, not mailboxes: some name no mailbox (RFC 9051 6.3.7).
  const subscribed = new Set(a.subscribedOnly || a.returnSubscribed ? await ctx.backend.listSubscriptions(user) : []);
  // Names that exist only as the parent of another (shown \Noselect when % reaches them).
  const implied = new Set<string>();
  for (const b of boxes) for (const p of ancestors(b.name)) if (!byName.has(p)) implied.add(p);
  const hasChildren = new Set<string>();
  for (const n of [...byName.keys(), ...implied]) {
    const cut = n.lastIndexOf('/');
    if (cut > 0) hasChildren.add(n.slice(0, cut));
  }
  const matchers = a.patterns.filter((p) => p !== '').map(compileMailboxPattern);
  const matches = (name: string) => matchers.some((m) => m(name));
  const candidates = new Set([...byName.keys(), ...implied]);
  if (a.subscribedOnly) {
    // Subscribed names without a mailbox, and their parents (LSUB's % rule, CHILDINFO).
    for (const n of subscribed) {
      candidates.add(n);
      for (const p of ancestors(n)) candidates.add(p);
    }
  }
  const names = [...candidates].sort((x, y) => (x === 'INBOX' ? -1 : y === 'INBOX' ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const out: ImapResponse[] = [];
  const noStar = a.patterns.every((p) => !p.includes('*'));
  const selecting = a.subscribedOnly || a.specialUseOnly;
  const meets = (name: string) => {
    const info = byName.get(name);
    return (
      (!a.subscribedOnly || subscribed.has(name)) &&
      (!a.specialUseOnly || (info !== undefined && info.specialUse !== null))
    );
  };
  // RFC 3501 6.3.9: LSUB always says \Noselect for what cannot be selected.
  const absent = a.lsub ? '\\Noselect' : a.extended || ctx.rev2 ? '\\NonExistent' : '\\Noselect';
  // Parents of selected subscribed names the patterns miss (one pass, not one per name).
  const subscribedBelowSet = new Set<string>();
  if (a.subscribedOnly) {
    for (const n of subscribed) if (!matches(n) && meets(n)) for (const p of ancestors(n)) subscribedBelowSet.add(p);
  }
  const subscribedBelow = (name: string) => subscribedBelowSet.has(name);
  // The extended form returns child and special-use attributes when asked (RFC 5258 4, RFC 6154 2), as Dovecot; LSUB never.
  const showChildren = !a.lsub && (!a.extended || a.returnChildren);
  const showSpecialUse = !a.lsub && (!a.extended || a.returnSpecialUse || a.specialUseOnly);
  for (const name of names) {
    if (!matches(name)) continue;
    const info = byName.get(name);
    // RFC 5258 3.5: a match with a descendant the pattern misses but the selection takes.
    const childInfo = a.recursiveMatch && a.subscribedOnly && subscribedBelow(name);
    // RFC 3501 6.3.9: LSUB "%" reaching the parent of a subscribed name returns the parent as \Noselect.
    const lsubParent = a.lsub && !meets(name) && subscribedBelow(name);
    if (selecting) {
      if (!meets(name) && !childInfo && !lsubParent) continue;
    } else if (info === undefined && !noStar) continue;
    const attrs: string[] = [];
    if (info === undefined || lsubParent) attrs.push(absent);
    if (showChildren) attrs.push(hasChildren.has(name) ? '\\HasChildren' : '\\HasNoChildren');
    if (a.returnSubscribed && subscribed.has(name)) attrs.push('\\Subscribed');
    if (showSpecialUse && info?.specialUse) attrs.push(info.specialUse);
    const values: ImapValue[] = [word, attrs, { str: '/' }, { str: ctx.encodeMailboxName(name) }];
    if (childInfo) values.push(['CHILDINFO', [{ str: 'SUBSCRIBED' }]]);
    out.push(untagged(...values));
    if (a.returnStatus && info) {
      out.push(untagged('STATUS', { str: ctx.encodeMailboxName(name) }, (await statusValues(ctx, info, a.returnStatus)) as ImapValue[]));
    }
  }
  return { untagged: out };
}

export const listCommand = defineCommand({
  name: 'LIST',
  states: AUTHENTICATED,
  parse: (args, ctx) => parseListArgs(args, ctx, false),
  run,
});

export const lsubCommand = defineCommand({
  name: 'LSUB',
  states: AUTHENTICATED,
  parse: (args, ctx) => parseListArgs(args, ctx, true),
  run,
});
