// Sort strings for SORT and THREAD (RFC 5256, RFC 5957): the i;unicode-casemap
// form of a string (RFC 5051: titlecase, then decomposition) and the "base
// subject" of RFC 5256 section 2.1, both computed the way Dovecot 2.3 does,
// so both servers order and group alike.

/** Simple titlecase mappings that JavaScript's toUpperCase does not give (UnicodeData field 14). */
function titlecaseException(cp: number): number | undefined {
  // The DŽ, LJ, NJ and DZ digraphs have a titlecase form of their own.
  if (cp >= 0x01c4 && cp <= 0x01cc) return 0x01c5 + 3 * Math.floor((cp - 0x01c4) / 3);
  if (cp >= 0x01f1 && cp <= 0x01f3) return 0x01f2;
  // Georgian Mkhedruli is its own titlecase (its uppercase is Mtavruli).
  if ((cp >= 0x10d0 && cp <= 0x10fa) || (cp >= 0x10fd && cp <= 0x10ff)) return cp;
  // Greek with ypogegrammeni: a simple mapping exists beside the full one ("ᾀ" -> "ᾈ", not "ἈΙ").
  if ((cp >= 0x1f80 && cp <= 0x1f87) || (cp >= 0x1f90 && cp <= 0x1f97) || (cp >= 0x1fa0 && cp <= 0x1fa7)) return cp + 8;
  if (cp === 0x1fb3 || cp === 0x1fc3 || cp === 0x1ff3) return cp + 9;
  return undefined;
}

function titlecase(cp: number): number {
  const t = titlecaseException(cp);
  if (t !== undefined) return t;
  const upper = [...String.fromCodePoint(cp).toUpperCase()];
  // A full mapping to several characters ("ß" -> "SS") is not a simple mapping.
  return upper.length === 1 ? upper[0]!.codePointAt(0)! : cp;
}

/** Titlecase characters that have a titlecase mapping of their own get no decomposition (as in Dovecot's tables). */
const KEEP_UNDECOMPOSED = new Set([0x01c5, 0x01c8, 0x01cb, 0x01f2]);

/**
 * One level of a character's decomposition mapping (UnicodeData field 5,
 * canonical or compatibility), not applied recursively and not reordered,
 * as Dovecot's tables hold it: "Ế" is "Ê" + U+0301, "Å" (U+212B) is "Å".
 */
function decomposeOnce(cp: number): string {
  const ch = String.fromCodePoint(cp);
  if (KEEP_UNDECOMPOSED.has(cp)) return ch;
  let mapping: string;
  const nfd = ch.normalize('NFD');
  if (nfd !== ch) {
    const nfc = ch.normalize('NFC');
    if (nfc !== ch) mapping = nfc; // a singleton or an excluded pair: NFC gives the mapping itself
    else {
      // A precomposed character is its first part plus one mark, the last of its NFD.
      const cps = [...nfd];
      const last = cps.pop()!;
      mapping = cps.join('').normalize('NFC') + last;
    }
  } else {
    const nfkd = ch.normalize('NFKD');
    if (nfkd === ch) return ch;
    mapping = nfkd.normalize('NFC');
  }
  // Dovecot only applies multi-character mappings to BMP characters.
  if (cp > 0xffff && [...mapping].length > 1) return ch;
  return mapping;
}

const casemapCache = new Map<number, string>();

/**
 * i;unicode-casemap (RFC 5051) the way Dovecot computes it: each character
 * to its simple titlecase mapping, then one level of decomposition, with no
 * canonical reordering. "Re: été" becomes "RE: E\u0301TE\u0301". ASCII is
 * simply upper-cased.
 */
export function unicodeCasemap(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toUpperCase();
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      out += ch.toUpperCase();
      continue;
    }
    let mapped = casemapCache.get(cp);
    if (mapped === undefined) {
      mapped = decomposeOnce(titlecase(cp));
      if (casemapCache.size >= 4096) casemapCache.clear();
      casemapCache.set(cp, mapped);
    }
    out += mapped;
  }
  return out;
}

/**
 * A raw header value (a latin1 byte string) with its invalid UTF-8 replaced
 * by U+FFFD, one per run, still as a byte string: Dovecot decodes 8-bit
 * header text as UTF-8 this way before it sorts or threads on it.
 */
export function replaceInvalidUtf8(raw: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x80-\xff]/.test(raw)) return raw;
  const bytes = Buffer.from(raw, 'latin1');
  const text = bytes.toString('utf8');
  if (!text.includes('\ufffd')) return raw;
  return Buffer.from(text.replace(/\ufffd+/g, '\ufffd'), 'utf8').toString('latin1');
}

/** Compares two strings as their UTF-8 bytes would compare (code point order), like strcmp. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral code points) sort above every BMP character in UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

export interface BaseSubject {
  /** The base subject in casemapped form ("" when nothing is left). */
  subject: string;
  /** A Re:/Fwd: leader, a "(fwd)" trailer or a "[fwd: ...]" wrapper was removed. */
  replyOrForward: boolean;
}

/** Tabs, CR, LF and runs of spaces to one space (RFC 5256 2.1 step 1); nothing else is whitespace here. */
function packWhitespace(s: string): string {
  return s.replace(/[ \t\r\n]+/g, ' ');
}

/**
 * The RFC 5256 section 2.1 base subject of an already RFC 2047-decoded
 * subject. Steps, as Dovecot applies them:
 *  (1) casemap, whitespace packed;
 *  (2) trailing "(fwd)" and spaces removed;
 *  (3) a leader removed: one leading space, or blobs ("[...]") followed by
 *      "re", "fw" or "fwd", an optional space, an optional blob and ":";
 *  (4) one leading blob removed when something is left after it;
 *  (5) (3) and (4) repeated while they remove something;
 *  (6) "[fwd:" ... "]" around everything removed, and again from (2).
 * Linear in the length of the subject.
 */
export function baseSubject(decoded: string): BaseSubject {
  const s = packWhitespace(unicodeCasemap(decoded));
  let start = 0;
  let end = s.length;
  let replyOrForward = false;

  /** End of the blob "[...]" at i plus one following space; -1 when there is none. */
  const blobEnd = (i: number): number => {
    if (s.charCodeAt(i) !== 0x5b) return -1; // [
    let j = i + 1;
    while (j < end && s[j] !== '[' && s[j] !== ']') j++;
    if (j >= end || s[j] !== ']') return -1;
    j++;
    return j < end && s[j] === ' ' ? j + 1 : j;
  };

  for (;;) {
    // (2) the trailer, from the end.
    for (;;) {
      if (end > start && s[end - 1] === ' ') end--;
      else if (end - 5 >= start && s.startsWith('(FWD)', end - 5)) {
        end -= 5;
        replyOrForward = true;
      } else break;
    }
    // A leader scan that found blobs but no "re:" after them ends at the
    // same place from any later blob of that run: remember it, so a run of
    // n blobs is scanned once, not n times.
    let failedRunEnd = -1;
    for (;;) {
      let found = false;
      // (3) the leader.
      if (start < end && s[start] === ' ') {
        start++;
        found = true;
      }
      if (failedRunEnd < 0 || start > failedRunEnd) {
        let p = start;
        let ok = true;
        while (p < end && s[p] === '[') {
          const e = blobEnd(p);
          if (e < 0) {
            ok = false;
            break;
          }
          p = e;
        }
        let refwd = -1;
        if (ok) {
          const rest = s.slice(p, Math.min(end, p + 3));
          const word = rest.startsWith('RE') ? 2 : rest === 'FWD' ? 3 : rest.startsWith('FW') ? 2 : 0;
          if (word > 0) {
            let q = p + word;
            if (q < end && s[q] === ' ') q++;
            if (q < end && s[q] === '[') q = blobEnd(q);
            if (q >= 0 && q < end && s[q] === ':') refwd = q + 1;
          }
        }
        if (refwd >= 0) {
          start = refwd;
          replyOrForward = true;
          found = true;
        } else {
          failedRunEnd = p;
        }
      }
      // (4) a blob, when something is left after it.
      const e = blobEnd(start);
      if (e >= 0 && e < end) {
        start = e;
        found = true;
      }
      if (!found) break;
    }
    // (6) the "[fwd: ...]" wrapper.
    if (end - start >= 6 && s.startsWith('[FWD:', start) && s[end - 1] === ']') {
      start += 5;
      end -= 1;
      replyOrForward = true;
      continue;
    }
    break;
  }
  return { subject: s.slice(start, end), replyOrForward };
}
