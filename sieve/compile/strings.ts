// String arguments: constants, or templates when "variables" is required
// (RFC 5229 "${name}" and "${N}"). encoded-character (RFC 5228 2.4.2.4)
// is undone at compile time, before variable expansion as Pigeonhole does.
import type { Runtime } from '../runtime/runtime.js';

export interface StrExpr {
  /** Set when the value does not depend on run time. */
  constant: string | undefined;
  ev(rt: Runtime): string;
}

export interface StrListExpr {
  constant: string[] | undefined;
  ev(rt: Runtime): string[];
}

export interface StringContext {
  variables: boolean;
  encodedCharacter: boolean;
}

const ENCODED = /\$\{(hex|unicode):([ \t\r\n0-9A-Fa-f]*)\}/gi;

/** Hex digits read as Pigeonhole reads them: into 32 bits, higher digits falling off. */
function hexValue(h: string): number {
  let v = 0;
  for (const d of h) v = (v * 16 + parseInt(d, 16)) % 0x100000000;
  return v;
}

function validUnicode(cp: number): boolean {
  return cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0x10ffff);
}

/**
 * The first code point of a ${unicode:...} in `s` that is no Unicode scalar
 * value (a surrogate, or above 10FFFF): RFC 5228 2.4.2.4 makes that an error.
 */
export function invalidEncodedCharacter(s: string): number | undefined {
  if (!s.includes('${')) return undefined;
  ENCODED.lastIndex = 0;
  for (let m = ENCODED.exec(s); m; m = ENCODED.exec(s)) {
    if (m[1]!.toLowerCase() !== 'unicode') continue;
    for (const h of m[2]!.trim().split(/[ \t\r\n]+/)) if (h !== '' && !validUnicode(hexValue(h))) return hexValue(h);
  }
  return undefined;
}

export function encodedCharacterErrorText(cp: number): string {
  return `invalid unicode character 0x${cp.toString(16).padStart(8, '0')} in encoded character substitution`;
}

/**
 * Replaces ${hex:..} and ${unicode:..}. As in Pigeonhole, an empty one, a hex
 * item of more than two digits, and bytes that are no UTF-8 stay as written;
 * the compiler has refused invalid code points already.
 */
export function decodeEncodedCharacters(s: string): string {
  if (!s.includes('${')) return s;
  return s.replace(ENCODED, (whole, kind: string, body: string) => {
    const items = body.trim() === '' ? [] : body.trim().split(/[ \t\r\n]+/);
    if (items.length === 0) return whole;
    if (kind.toLowerCase() === 'hex') {
      if (!items.every((h) => /^[0-9A-Fa-f]{1,2}$/.test(h))) return whole;
      const bytes = Uint8Array.from(items.map((h) => parseInt(h, 16)));
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        return whole;
      }
    }
    const cps = items.map(hexValue);
    if (!cps.every(validUnicode)) return whole;
    return String.fromCodePoint(...cps);
  });
}

type Part = string | { v: string } | { m: number };

const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|[0-9]+)\}/g;

function parseTemplate(s: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  VAR_REF.lastIndex = 0;
  for (let m = VAR_REF.exec(s); m; m = VAR_REF.exec(s)) {
    if (m.index > last) parts.push(s.slice(last, m.index));
    const name = m[1] ?? '';
    if (/^[0-9]+$/.test(name)) parts.push({ m: Number(name) });
    else parts.push({ v: name.toLowerCase() });
    last = m.index + m[0].length;
  }
  if (last < s.length) parts.push(s.slice(last));
  return parts;
}

export function expandParts(parts: Part[], rt: Runtime): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') out += p;
    else if ('v' in p) out += rt.getVar(p.v);
    else out += p.m <= 9 ? rt.matchVar(p.m) : '';
  }
  return out;
}

export function strExpr(raw: string, ctx: StringContext): StrExpr {
  const value = ctx.encodedCharacter ? decodeEncodedCharacters(raw) : raw;
  if (!ctx.variables || !value.includes('${')) return { constant: value, ev: () => value };
  const parts = parseTemplate(value);
  if (parts.every((p) => typeof p === 'string')) return { constant: value, ev: () => value };
  return { constant: undefined, ev: (rt) => expandParts(parts, rt) };
}

export function strListExpr(raw: string[], ctx: StringContext): StrListExpr {
  const items = raw.map((r) => strExpr(r, ctx));
  if (items.every((i) => i.constant !== undefined)) {
    const c = items.map((i) => i.constant as string);
    return { constant: c, ev: () => c };
  }
  return { constant: undefined, ev: (rt) => items.map((i) => i.ev(rt)) };
}

export function constStr(value: string): StrExpr {
  return { constant: value, ev: () => value };
}
