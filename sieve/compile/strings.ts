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

const ENCODED = /\$\{(hex|unicode):([\s0-9A-Fa-f]*)\}/gi;

/** Replaces ${hex:..} and ${unicode:..}; malformed ones stay as written. */
export function decodeEncodedCharacters(s: string): string {
  if (!s.includes('${')) return s;
  return s.replace(ENCODED, (whole, kind: string, body: string) => {
    const items = body.trim() === '' ? [] : body.trim().split(/\s+/);
    if (items.length === 0) return '';
    if (kind.toLowerCase() === 'hex') {
      if (!items.every((h) => /^[0-9A-Fa-f]+$/.test(h))) return whole;
      const bytes = Uint8Array.from(items.map((h) => parseInt(h, 16) & 0xff));
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        return whole;
      }
    }
    const cps = items.map((h) => parseInt(h, 16));
    if (cps.some((c) => !Number.isFinite(c) || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))) return whole;
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
