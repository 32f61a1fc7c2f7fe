// Canonical flag spelling: system flags case-insensitively matched and
// written as RFC 3501 spells them; keywords kept as given, no duplicates.
const CANONICAL = new Map(
  ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded'].map((f) => [f.toLowerCase(), f]),
);

export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    const canonical = CANONICAL.get(f.toLowerCase()) ?? f;
    const key = canonical.toLowerCase();
    if (canonical === '' || canonical.toLowerCase() === '\\recent' || seen.has(key)) continue;
    seen.add(key);
    out.push(canonical);
  }
  return out;
}
