// variables (RFC 5229): set with modifiers, and the string test.
// :quoteregex comes from the regex draft, :encodeurl from RFC 5435.
import type { CommandSpec, TestSpec } from '../compile/spec.js';
import { FLOW_NEXT } from '../runtime/runtime.js';
import { buildMatcher, matchTags } from './common.js';
import { quoteWildcard } from '../runtime/glob.js';
import { quoteRegex } from '../runtime/regex.js';

type Modifier = (s: string) => string;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const asciiUpper = (s: string): string => s.replace(/[a-z]/g, (c) => c.toUpperCase());
const asciiLowerAll = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

// RFC 5229 4.1: higher precedence applies first.
const modifiers: Array<{ name: string; precedence: number; fn: Modifier; ext?: string }> = [
  { name: 'lower', precedence: 40, fn: asciiLowerAll },
  { name: 'upper', precedence: 40, fn: asciiUpper },
  { name: 'lowerfirst', precedence: 30, fn: (s) => asciiLowerAll(s.slice(0, 1)) + s.slice(1) },
  { name: 'upperfirst', precedence: 30, fn: (s) => asciiUpper(s.slice(0, 1)) + s.slice(1) },
  { name: 'quotewildcard', precedence: 20, fn: quoteWildcard },
  { name: 'quoteregex', precedence: 20, fn: quoteRegex, ext: 'regex' },
  { name: 'encodeurl', precedence: 15, fn: (s) => encodeURIComponent(s.replace(LONE_SURROGATE, '\uFFFD')).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()), ext: 'enotify' },
  { name: 'length', precedence: 10, fn: (s) => String(Array.from(s).length) },
];

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const set: CommandSpec = {
  kind: 'command',
  name: 'set',
  ext: 'variables',
  tags: modifiers.map((m) => {
    const t: { name: string; group?: string; ext?: string } = { name: m.name };
    if (m.precedence === 40 || m.precedence === 30) t.group = `mod${m.precedence}`;
    if (m.ext) t.ext = m.ext;
    return t;
  }),
  args: ['string', 'string'],
  compile(p) {
    const nameArg = p.positional[0];
    const name = nameArg?.kind === 'string' ? nameArg.value : '';
    if (!VARIABLE_NAME.test(name)) {
      if (/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(name)) p.fail(`variable namespace in '${name}' is not supported`, p.argPos(0));
      p.fail(`invalid variable name '${name}'`, p.argPos(0));
    }
    const key = name.toLowerCase();
    const value = p.str(1);
    const mods = modifiers.filter((m) => p.has(m.name)).sort((a, b) => b.precedence - a.precedence).map((m) => m.fn);
    return (rt) => {
      let v = value.ev(rt);
      for (const f of mods) v = f(v);
      rt.setVar(key, v);
      return FLOW_NEXT;
    };
  },
};

export const string: TestSpec = {
  kind: 'test',
  name: 'string',
  ext: 'variables',
  tags: matchTags,
  args: ['stringlist', 'stringlist'],
  compile(p) {
    const source = p.list(0);
    // Without :comparator, string compares octets in Pigeonhole (its
    // validation and execution both default to i;octet, not the
    // i;ascii-casemap of the other tests), so scripts behave the same here.
    const m = buildMatcher(p, 1, 'i;octet');
    return (rt) => {
      const values = source.ev(rt);
      // RFC 5229 5: for :count, empty strings are not counted.
      return m.test(rt, m.isCount ? values.filter((v) => v !== '') : values);
    };
  },
};
