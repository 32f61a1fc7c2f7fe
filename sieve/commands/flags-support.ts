// imap4flags helpers shared by keep, fileinto and the flag commands.
import type { Parsed, TagDef } from '../compile/spec.js';
import type { Runtime } from '../runtime/runtime.js';

export const flagsTag: TagDef = { name: 'flags', ext: 'imap4flags', arg: 'stringlist' };

/** Splits flag strings at spaces and removes duplicates (case-insensitively), keeping first spelling. */
export function normaliseFlags(items: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const item of items)
    for (const f of item.split(/[ \t\r\n]+/)) {
      if (f === '') continue;
      const k = f.toLowerCase();
      if (!seen.has(k)) {
        seen.add(k);
        out.push(f);
      }
    }
  return out;
}

/** The flags a keep/fileinto stores with: :flags if given, else the internal variable. */
export function storeFlags(p: Parsed): (rt: Runtime) => string[] | undefined {
  const tag = p.tagList('flags');
  if (tag) return (rt) => normaliseFlags(tag.ev(rt));
  return (rt) => (rt.flags.length > 0 ? [...rt.flags] : undefined);
}
