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

/**
 * Keywords one mailbox can list. A Maildir name has 26 letters for them, and
 * every backend keeps to the same number so that they behave alike.
 */
export const MAX_MAILBOX_KEYWORDS = 26;

/** A flag that takes a place in the mailbox's keyword list ($Forwarded has its own Maildir letter). */
function isListedKeyword(flag: string): boolean {
  return !flag.startsWith('\\') && flag !== '$Forwarded';
}

/** The mailbox's keyword list with the new keywords of `flags` added while there is room (it only grows). */
export function withKeywords(list: readonly string[], flags: readonly string[]): string[] {
  const out = [...list];
  for (const f of flags) if (isListedKeyword(f) && !out.includes(f) && out.length < MAX_MAILBOX_KEYWORDS) out.push(f);
  return out;
}

/**
 * The flags a message of a mailbox can keep: system flags and the keywords of
 * its list. One past the list is left out, as RFC 9051 allows for a flag the
 * server cannot keep, so a client never sees in FETCH a keyword the
 * mailbox's FLAGS does not list.
 */
export function storableFlags(flags: readonly string[], keywords: readonly string[]): string[] {
  return flags.filter((f) => !isListedKeyword(f) || keywords.includes(f));
}
