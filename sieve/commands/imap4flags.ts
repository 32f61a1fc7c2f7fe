// imap4flags (RFC 5232): setflag, addflag, removeflag, hasflag. The optional
// first argument names a variable (needs "variables"); without it they work
// on the internal variable that keep/fileinto/implicit keep use.
import type { CommandSpec, Parsed, TestSpec } from '../compile/spec.js';
import { FLOW_NEXT, type Runtime } from '../runtime/runtime.js';
import { normaliseFlags } from './flags-support.js';
import { buildMatcher, matchTags } from './common.js';
import type { StrExpr } from '../compile/strings.js';

function readFlags(rt: Runtime, variable: string | undefined): string[] {
  return variable === undefined ? rt.flags : normaliseFlags([rt.getVar(variable)]);
}

function writeFlags(rt: Runtime, variable: string | undefined, flags: string[]): void {
  if (variable === undefined) rt.flags = flags;
  else rt.setVar(variable, flags.join(' '));
}

function variableArg(p: Parsed): StrExpr | undefined {
  if (p.positional.length < 2) return undefined;
  if (!p.ctx.variables) p.fail('a variable name argument requires "variables"', p.argPos(0));
  const v = p.str(0);
  if (v.constant !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.constant)) p.fail(`invalid variable name '${v.constant}'`, p.argPos(0));
  return v;
}

function flagCommand(name: 'setflag' | 'addflag' | 'removeflag'): CommandSpec {
  return {
    kind: 'command',
    name,
    ext: 'imap4flags',
    tags: [],
    args: ['stringlist', 'stringlist'],
    minArgs: 1,
    compile(p) {
      const variable = variableArg(p);
      const list = p.list(p.positional.length - 1);
      return (rt) => {
        const varName = variable?.ev(rt).toLowerCase();
        const given = normaliseFlags(list.ev(rt));
        const cur = readFlags(rt, varName);
        let next: string[];
        if (name === 'setflag') next = given;
        else if (name === 'addflag') next = normaliseFlags([...cur, ...given]);
        else {
          const drop = new Set(given.map((f) => f.toLowerCase()));
          next = cur.filter((f) => !drop.has(f.toLowerCase()));
        }
        writeFlags(rt, varName, next);
        return FLOW_NEXT;
      };
    },
  };
}

export const setflag = flagCommand('setflag');
export const addflag = flagCommand('addflag');
export const removeflag = flagCommand('removeflag');

export const hasflag: TestSpec = {
  kind: 'test',
  name: 'hasflag',
  ext: 'imap4flags',
  tags: matchTags,
  args: ['stringlist', 'stringlist'],
  minArgs: 1,
  compile(p) {
    const vars = p.positional.length === 2 ? p.list(0) : undefined;
    if (vars && !p.ctx.variables) p.fail('a variable list argument requires "variables"', p.argPos(0));
    const m = buildMatcher(p, p.positional.length - 1);
    return (rt) => {
      const values = vars ? normaliseFlags(vars.ev(rt).map((v) => rt.getVar(v.toLowerCase()))) : rt.flags;
      return m.test(rt, values);
    };
  },
};
