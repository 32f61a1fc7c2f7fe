// include, return and global (RFC 6609). Included scripts are fetched from
// the host at run time, compiled once (cached by text) and run with their
// own local variables; `global` names are shared. A script already on the
// include stack is a loop: a run-time error, so the message is kept.
import type { CommandSpec } from '../compile/spec.js';
import { FLOW_NEXT, FLOW_RETURN, FLOW_STOP, SieveRuntimeError } from '../runtime/runtime.js';
import type { IncludeLocation } from '../runtime/host.js';
import { VARIABLE_NAME } from './variables.js';

export const include: CommandSpec = {
  kind: 'command',
  name: 'include',
  ext: 'include',
  tags: [
    { name: 'personal', group: 'location' },
    { name: 'global', group: 'location' },
    { name: 'once' },
    { name: 'optional' },
  ],
  args: ['string'],
  compile(p) {
    const name = p.str(0);
    if (name.constant !== undefined && (name.constant === '' || /[/\0]/.test(name.constant)))
      p.fail(`include: invalid script name '${name.constant}'`, p.argPos(0));
    const location: IncludeLocation = p.group('location') === 'global' ? 'global' : 'personal';
    const once = p.has('once');
    const optional = p.has('optional');
    const { line, col } = p.node.pos;
    return (rt) => {
      const n = name.ev(rt);
      const key = `${location}:${n}`;
      if (once && rt.includesDone.has(key)) return FLOW_NEXT;
      if (rt.includeStack.includes(key)) throw new SieveRuntimeError(`include: script '${n}' includes itself (include loop)`, line, col);
      if (rt.includeStack.length >= rt.limits.maxIncludeDepth)
        throw new SieveRuntimeError(`include: nested too deeply (limit ${rt.limits.maxIncludeDepth})`, line, col);
      if (++rt.includeCount > rt.limits.maxIncludes) throw new SieveRuntimeError(`include: too many includes (limit ${rt.limits.maxIncludes})`, line, col);
      const loaded = rt.loadInclude?.(n, location);
      if (loaded === undefined) {
        if (optional) return FLOW_NEXT;
        throw new SieveRuntimeError(`include: ${location} script '${n}' does not exist`, line, col);
      }
      if ('error' in loaded) throw new SieveRuntimeError(`include: ${location} script '${n}': ${loaded.error}`, line, col);
      rt.includesDone.add(key);
      const savedVars = rt.vars;
      const savedGlobals = rt.globalNames;
      rt.vars = new Map();
      rt.globalNames = new Set();
      rt.includeStack.push(key);
      try {
        const flow = loaded.run(rt);
        return flow === FLOW_STOP ? FLOW_STOP : FLOW_NEXT;
      } finally {
        rt.includeStack.pop();
        rt.vars = savedVars;
        rt.globalNames = savedGlobals;
      }
    };
  },
};

export const returnCommand: CommandSpec = {
  kind: 'command',
  name: 'return',
  ext: 'include',
  tags: [],
  args: [],
  compile: () => () => FLOW_RETURN,
};

export const global: CommandSpec = {
  kind: 'command',
  name: 'global',
  ext: 'include',
  tags: [],
  args: ['stringlist'],
  compile(p) {
    if (!p.ctx.variables) p.fail('global used without require "variables"');
    const names = p.rawList(p.positional[0]);
    for (const n of names) if (!VARIABLE_NAME.test(n)) p.fail(`global: invalid variable name '${n}'`, p.argPos(0));
    const keys = names.map((n) => n.toLowerCase());
    return (rt) => {
      for (const k of keys) rt.globalNames.add(k);
      return FLOW_NEXT;
    };
  },
};
