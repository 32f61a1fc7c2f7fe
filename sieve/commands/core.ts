// RFC 5228 core commands and tests: stop, keep, discard, redirect, exists,
// header, address, size. (if/elsif/else, not/allof/anyof/true/false and
// require are structural and live in compile/compiler.ts.)
import type { CommandSpec, TestSpec } from '../compile/spec.js';
import { FLOW_NEXT, FLOW_STOP, SieveRuntimeError } from '../runtime/runtime.js';
import { addressPart, addressPartTags, buildMatcher, indexSelector, indexTags, matchTags, selectAddressPart } from './common.js';
import { flagsTag, storeFlags } from './flags-support.js';
import { parseAddressList } from '../runtime/address.js';
import { parseSingleAddress } from '../runtime/single-address.js';

export const stop: CommandSpec = {
  kind: 'command',
  name: 'stop',
  tags: [],
  args: [],
  compile: () => () => FLOW_STOP,
};

export const keep: CommandSpec = {
  kind: 'command',
  name: 'keep',
  tags: [flagsTag],
  args: [],
  compile(p) {
    const flags = storeFlags(p);
    return (rt) => {
      const f = flags(rt);
      rt.addAction(f && f.length ? { type: 'keep', flags: f } : { type: 'keep' }, p.node.pos);
      return FLOW_NEXT;
    };
  },
};

export const discard: CommandSpec = {
  kind: 'command',
  name: 'discard',
  tags: [],
  args: [],
  compile: (p) => (rt) => {
    rt.addAction({ type: 'discard' }, p.node.pos);
    return FLOW_NEXT;
  },
};

export const redirect: CommandSpec = {
  kind: 'command',
  name: 'redirect',
  tags: [{ name: 'copy', ext: 'copy' }],
  args: ['string'],
  compile(p) {
    const addr = p.str(0);
    if (addr.constant !== undefined) {
      const r = parseSingleAddress(addr.constant);
      if (!r.ok) p.fail(invalidRedirect(addr.constant, r.error), p.argPos(0));
    }
    const copy = p.has('copy');
    const { line, col } = p.node.pos;
    return (rt) => {
      const a = addr.ev(rt);
      const r = parseSingleAddress(a);
      if (!r.ok) throw new SieveRuntimeError(invalidRedirect(a, r.error), line, col);
      rt.addAction({ type: 'redirect', address: r.address, copy }, p.node.pos);
      return FLOW_NEXT;
    };
  },
};

function invalidRedirect(text: string, why: string): string {
  const shown = text.length > 256 ? `${text.slice(0, 256)}...` : text;
  return `specified redirect address '${shown}' is invalid: ${why}`;
}

export const exists: TestSpec = {
  kind: 'test',
  name: 'exists',
  tags: [],
  args: ['stringlist'],
  compile(p) {
    const names = p.list(0);
    return (rt) => {
      for (const n of names.ev(rt)) if (rt.rawHeader(n).length === 0) return false;
      return true;
    };
  },
};

export const header: TestSpec = {
  kind: 'test',
  name: 'header',
  tags: [...matchTags, ...indexTags],
  args: ['stringlist', 'stringlist'],
  compile(p) {
    const names = p.list(0);
    const m = buildMatcher(p, 1);
    const sel = indexSelector(p);
    const constNames = names.constant;
    if (constNames && constNames.length === 1 && !sel) {
      const n = constNames[0]!;
      return (rt) => m.test(rt, rt.header(n));
    }
    // :index counts over the fields of all the names together, name after
    // name in the list's order (as Pigeonhole does), not per name.
    return (rt) => {
      const values: string[] = [];
      for (const n of names.ev(rt)) values.push(...rt.header(n));
      return m.test(rt, sel ? sel(values) : values);
    };
  },
};

/**
 * Header fields the address test accepts (RFC 5228 5.1 says to restrict it to
 * fields that hold addresses); the same list as Pigeonhole 0.5.
 */
export const addressHeaders: ReadonlySet<string> = new Set([
  'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'resent-from', 'resent-sender', 'resent-to', 'resent-cc',
  'resent-bcc', 'resent-reply-to', 'delivered-to', 'errors-to', 'return-receipt-to', 'x-original-to',
  'mail-followup-to', 'mail-reply-to', 'apparently-to', 'x-beenthere',
]);

export const address: TestSpec = {
  kind: 'test',
  name: 'address',
  tags: [...matchTags, ...addressPartTags, ...indexTags],
  args: ['stringlist', 'stringlist'],
  compile(p) {
    const names = p.list(0);
    for (const n of names.constant ?? [])
      if (!addressHeaders.has(n.toLowerCase())) p.fail(`specified header '${n}' is not allowed for the address test`, p.argPos(0));
    const m = buildMatcher(p, 1);
    const part = addressPart(p);
    const sel = indexSelector(p);
    // :index picks among the fields of all the names together, name after
    // name in the list's order (as Pigeonhole does), not per name.
    return (rt) => {
      const fields: Array<{ raw: string; addresses: string[] }> = [];
      for (const n of names.ev(rt)) {
        if (!addressHeaders.has(n.toLowerCase())) continue;
        const raws = rt.rawHeader(n);
        const parsed = rt.addresses(n, raws, parseAddressList);
        raws.forEach((raw, i) => fields.push({ raw, addresses: parsed[i] ?? [] }));
      }
      let chosen = fields.map((_, i) => i);
      if (sel) chosen = sel(chosen.map(String)).map(Number);
      const values: string[] = [];
      for (const i of chosen) {
        const { raw, addresses } = fields[i]!;
        // A field with no parseable address (e.g. "undisclosed-recipients:;") is
        // one value for :all, its text as is, and for the other parts one that
        // matches nothing but is counted (as Pigeonhole).
        if (addresses.length === 0) {
          const text = raw.trim();
          if (text !== '' && part === 'all') values.push(text);
          else if (text !== '' && m.isCount) values.push('');
          continue;
        }
        for (const a of addresses) {
          const v = part === 'all' ? a : selectAddressPart(rt, a, part);
          if (v !== undefined) values.push(v);
          else if (m.isCount) values.push('');
        }
      }
      return m.test(rt, values);
    };
  },
};

export const size: TestSpec = {
  kind: 'test',
  name: 'size',
  tags: [
    { name: 'over', group: 'size' },
    { name: 'under', group: 'size' },
  ],
  args: ['number'],
  compile(p) {
    const over = p.group('size');
    if (!over) p.fail('the size test requires :over or :under');
    const limit = p.num(0);
    return over === 'over' ? (rt) => rt.message.size > limit : (rt) => rt.message.size < limit;
  },
};
