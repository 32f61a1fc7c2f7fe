// Argument groups many tests share: COMPARATOR, MATCH-TYPE (with relational
// and regex), ADDRESS-PART (with subaddress) and :index/:last (RFC 5260).
import type { Parsed, TagDef } from '../compile/spec.js';
import { comparators, type ComparatorName } from '../runtime/comparators.js';
import { Matcher, type MatchType, type RelOp } from '../runtime/match.js';
import { splitAddress, unquotedLocalPart } from '../runtime/address.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StrListExpr } from '../compile/strings.js';

export const matchTags: TagDef[] = [
  { name: 'comparator', arg: 'string' },
  { name: 'is', group: 'match' },
  { name: 'contains', group: 'match' },
  { name: 'matches', group: 'match' },
  { name: 'regex', group: 'match', ext: 'regex' },
  { name: 'value', group: 'match', ext: 'relational', arg: 'string' },
  { name: 'count', group: 'match', ext: 'relational', arg: 'string' },
];

export const addressPartTags: TagDef[] = [
  { name: 'all', group: 'addresspart' },
  { name: 'localpart', group: 'addresspart' },
  { name: 'domain', group: 'addresspart' },
  { name: 'user', group: 'addresspart', ext: 'subaddress' },
  { name: 'detail', group: 'addresspart', ext: 'subaddress' },
];

export const indexTags: TagDef[] = [
  { name: 'index', ext: 'index', arg: 'number' },
  { name: 'last', ext: 'index' },
];

const relOps: readonly RelOp[] = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'];

/**
 * Builds the matcher from COMPARATOR and MATCH-TYPE tags and the key list
 * (a positional argument index, or a ready list).
 */
export function buildMatcher(p: Parsed, keys: number | StrListExpr, defaultComparator: ComparatorName = 'i;ascii-casemap'): Matcher {
  let compName: string = defaultComparator;
  if (p.has('comparator')) {
    const c = p.tagStr('comparator');
    if (c?.constant === undefined) p.fail('the comparator name must be a constant string', p.tagPos('comparator'));
    compName = c.constant.toLowerCase();
  }
  const comparator = comparators[compName as ComparatorName];
  if (!comparator) p.fail(`unknown comparator '${compName}'`, p.tagPos('comparator'));
  if (compName === 'i;ascii-numeric' && !p.ctx.caps.has('comparator-i;ascii-numeric'))
    p.fail('comparator i;ascii-numeric used without require "comparator-i;ascii-numeric"', p.tagPos('comparator'));
  const type = (p.group('match') ?? 'is') as MatchType;
  let rel: RelOp | undefined;
  if (type === 'value' || type === 'count') {
    const r = p.tagStr(type);
    const op = r?.constant?.toLowerCase();
    if (!op || !relOps.includes(op as RelOp)) p.fail(`invalid relational match '${r?.constant ?? ''}' for :${type} (use gt, ge, lt, le, eq or ne)`, p.tagPos(type));
    rel = op as RelOp;
  }
  if (!comparator.supportsSubstring && (type === 'contains' || type === 'matches' || type === 'regex'))
    p.fail(`the ${compName} comparator does not support :${type}`, p.tagPos(type));
  const keyList = typeof keys === 'number' ? p.list(keys) : keys;
  if (type === 'regex' && keyList.constant) {
    for (const k of keyList.constant) {
      const err = Matcher.checkRegex(k);
      if (err) p.fail(`invalid regular expression '${k}': ${err}`, typeof keys === 'number' ? p.argPos(keys) : p.node.pos);
    }
  }
  return new Matcher({ comparator, type, rel, keys: keyList, setsMatchVariables: p.ctx.variables && p.ctx.matchVariablesUsed });
}

export type AddressPart = 'all' | 'localpart' | 'domain' | 'user' | 'detail';

export function addressPart(p: Parsed): AddressPart {
  return (p.group('addresspart') ?? 'all') as AddressPart;
}

/**
 * The part of an address an ADDRESS-PART selects; undefined when it has none
 * (:detail without separator: it matches no key, yet :count counts it, as in
 * Pigeonhole, so callers add a placeholder when counting).
 */
export function selectAddressPart(rt: Runtime, addr: string, part: AddressPart): string | undefined {
  if (part === 'all') return addr;
  const { localpart: written, domain } = splitAddress(addr);
  if (part === 'domain') return domain;
  const localpart = unquotedLocalPart(written);
  if (part === 'localpart') return localpart;
  const sep = rt.host.subaddressSeparator ?? '+';
  const i = localpart.indexOf(sep);
  if (part === 'user') return i < 0 ? localpart : localpart.slice(0, i);
  return i < 0 ? undefined : localpart.slice(i + sep.length);
}

/** Applies :index N [:last] to a list of values (RFC 5260 section 4). */
export function indexSelector(p: Parsed): ((values: string[]) => string[]) | undefined {
  const idx = p.tagNum('index');
  if (p.has('last') && idx === undefined) p.fail(':last used without :index', p.tagPos('last'));
  if (idx === undefined) return undefined;
  if (idx < 1) p.fail(':index must be at least 1', p.tagPos('index'));
  const last = p.has('last');
  return (values) => {
    const v = last ? values[values.length - idx] : values[idx - 1];
    return v === undefined ? [] : [v];
  };
}
