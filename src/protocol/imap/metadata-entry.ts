// METADATA entry names (RFC 5464 3.2) as Dovecot 2.3 checks them: a
// slash-separated path that starts with /private or /shared, without "*" or
// "%" (they are LIST wildcards), "//" or a trailing "/". Dovecot answers BAD
// for a name that breaks these rules, with the reasons below, and refuses
// 8-bit and control characters too; it takes names case-insensitively and
// answers with them lower-cased, so they are lower-cased here. Postino also
// bounds the length and the number of levels (IMAP_LIMITS), answered NO
// [LIMIT]: Dovecot has no such bounds. One pass over the name, no regex.

export type EntryNameCheck =
  | { ok: true; name: string }
  /** A name no server could take: tagged BAD (as Dovecot). */
  | { ok: false; kind: 'syntax'; text: string }
  /** A well-formed name past Postino's bounds: tagged NO [LIMIT]. */
  | { ok: false; kind: 'limit'; text: string };

export interface EntryNameLimits {
  metadataMaxEntryNameLength: number;
  metadataMaxEntryDepth: number;
}

const syntax = (text: string): EntryNameCheck => ({ ok: false, kind: 'syntax', text });

export function checkEntryName(raw: string, limits: EntryNameLimits): EntryNameCheck {
  if (!raw.startsWith('/')) return syntax("Entry name must begin with '/'");
  let levels = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f) return syntax("Entry name can't contain control chars");
    if (c === 0x2a) return syntax("Entry name can't contain '*'");
    if (c === 0x25) return syntax("Entry name can't contain '%'");
    if (c === 0x2f) {
      if (raw.charCodeAt(i + 1) === 0x2f) return syntax("Entry name can't contain consecutive '/'");
      levels++;
    }
  }
  if (raw.endsWith('/')) return syntax("Entry name can't end with '/'");
  const name = raw.toLowerCase();
  const top = name.startsWith('/private') ? '/private' : name.startsWith('/shared') ? '/shared' : undefined;
  if (top === undefined || (name.length > top.length && name[top.length] !== '/')) {
    return syntax('Entry name must begin with /private or /shared');
  }
  if (name.length > limits.metadataMaxEntryNameLength) {
    return { ok: false, kind: 'limit', text: `Entry name is too long (at most ${limits.metadataMaxEntryNameLength} octets)` };
  }
  // The first level is /private or /shared itself.
  if (levels - 1 > limits.metadataMaxEntryDepth) {
    return { ok: false, kind: 'limit', text: `Entry name has too many levels (at most ${limits.metadataMaxEntryDepth} below /private or /shared)` };
  }
  return { ok: true, name };
}

/** Is the entry a child of `parent` (DEPTH 1), or below it at any depth (DEPTH infinity)? */
export function isBelow(parent: string, entry: string, anyDepth: boolean): boolean {
  if (entry.length <= parent.length + 1 || !entry.startsWith(parent) || entry[parent.length] !== '/') return false;
  return anyDepth || entry.indexOf('/', parent.length + 1) < 0;
}
