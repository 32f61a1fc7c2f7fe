// editheader (RFC 5293): addheader and deleteheader. Edits change what later
// tests see and are reported as actions for the host to apply. Received and
// Auto-Submitted are protected (RFC 5293 section 6): edits to them are ignored.
import type { CommandSpec, Parsed } from '../compile/spec.js';
import { FLOW_NEXT, SieveRuntimeError } from '../runtime/runtime.js';
import { buildMatcher, matchTags } from './common.js';
import { decodeHeaderValue, unfoldHeaderValue } from '../runtime/rfc2047.js';

const FIELD_NAME = /^[!-9;-~]+$/;
const PROTECTED = new Set(['received', 'auto-submitted']);

function checkName(p: Parsed, name: string | undefined, cmd: string): void {
  if (name !== undefined && !FIELD_NAME.test(name)) p.fail(`${cmd}: specified field name '${name}' is invalid`, p.argPos(0));
}

export const addheader: CommandSpec = {
  kind: 'command',
  name: 'addheader',
  ext: 'editheader',
  tags: [{ name: 'last' }],
  args: ['string', 'string'],
  compile(p) {
    const name = p.str(0);
    const value = p.str(1);
    checkName(p, name.constant, 'addheader');
    const last = p.has('last');
    const { line, col } = p.node.pos;
    return (rt) => {
      const n = name.ev(rt);
      if (!FIELD_NAME.test(n)) throw new SieveRuntimeError(`addheader: specified field name '${n}' is invalid`, line, col);
      if (PROTECTED.has(n.toLowerCase())) return FLOW_NEXT;
      const v = value.ev(rt);
      if (/[\0]/.test(v) || v.length > 998 * 8) throw new SieveRuntimeError('addheader: specified value is invalid', line, col);
      rt.editHeaders((fields) => {
        if (last) fields.push({ name: n, value: v });
        else fields.unshift({ name: n, value: v });
      });
      rt.addAction({ type: 'addheader', name: n, value: v, last }, p.node.pos);
      return FLOW_NEXT;
    };
  },
};

export const deleteheader: CommandSpec = {
  kind: 'command',
  name: 'deleteheader',
  ext: 'editheader',
  tags: [...matchTags, { name: 'index', arg: 'number' }, { name: 'last' }],
  args: ['string', 'stringlist'],
  minArgs: 1,
  compile(p) {
    const name = p.str(0);
    checkName(p, name.constant, 'deleteheader');
    const idx = p.tagNum('index');
    if (p.has('last') && idx === undefined) p.fail(':last used without :index', p.tagPos('last'));
    if (idx !== undefined && idx < 1) p.fail(':index must be at least 1', p.tagPos('index'));
    const last = p.has('last');
    // Without value patterns a match type or comparator has nothing to
    // match and is ignored, as Pigeonhole ignores it: every field of that
    // name (or the one at :index) goes.
    const m = p.positional.length > 1 ? buildMatcher(p, 1) : undefined;
    return (rt) => {
      const n = name.ev(rt);
      const key = n.toLowerCase();
      if (PROTECTED.has(key)) return FLOW_NEXT;
      const positions: number[] = [];
      rt.headerFields.forEach((f, i) => {
        if (f.name.toLowerCase() === key) positions.push(i);
      });
      let chosen = positions.map((pos, occ) => ({ pos, occ: occ + 1 }));
      if (idx !== undefined) {
        const c = last ? chosen[chosen.length - idx] : chosen[idx - 1];
        chosen = c ? [c] : [];
      }
      if (m) chosen = chosen.filter((c) => m.test(rt, [decodeHeaderValue(unfoldHeaderValue(rt.headerFields[c.pos]!.value))]));
      if (chosen.length === 0) return FLOW_NEXT;
      const drop = new Set(chosen.map((c) => c.pos));
      rt.editHeaders((fields) => {
        for (let i = fields.length - 1; i >= 0; i--) if (drop.has(i)) fields.splice(i, 1);
      });
      // Report occurrences counted at this moment, last first so each index stays valid.
      for (const c of [...chosen].reverse()) rt.addAction({ type: 'deleteheader', name: n, occurrence: c.occ }, p.node.pos);
      return FLOW_NEXT;
    };
  },
};
