// The builtin engine's detectors: each looks at one aspect of the message and
// names the rules of rules.ts it matched. Peer data is hostile: every check
// is one pass (indexOf, a split, a bounded walk of the part tree), no regex
// that can backtrack, and long inputs are cut to a bound before looking.
import { addrSpecs, parseDate, type MimePart, type ParsedMessage } from '../../../mime/index.js';
import type { RuleName } from './rules.js';

/** The standard GTUBE string (SpamAssassin's), as 7-bit bytes. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** What the checks look at besides the message. */
export interface CheckContext {
  /** Authentication-Results values of our own (this server's checks), newest first. */
  authResults: readonly string[];
  /** The envelope sender ('' for the null sender), when known. */
  envelopeFrom?: string | undefined;
  /** This server's name (a Received claiming it, from outside, is forged). */
  hostname: string;
  now: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Bounds: a header value and an HTML part are looked at up to these lengths. */
const MAX_VALUE = 8_192;
const MAX_HTML = 1_000_000;
const MAX_PARTS = 1_000;
const MAX_DEPTH = 50;

export function gtube(m: ParsedMessage): RuleName[] {
  return m.raw.indexOf(GTUBE, 0, 'latin1') >= 0 ? ['GTUBE'] : [];
}

/** method=result pairs of Authentication-Results (RFC 8601), e.g. spf=pass, by one split. */
export function authResults(ctx: CheckContext): RuleName[] {
  const seen = new Map<string, string>();
  for (const value of ctx.authResults) {
    for (const clause of value.slice(0, MAX_VALUE).split(';')) {
      const t = clause.trim().toLowerCase();
      const eq = t.indexOf('=');
      if (eq < 0) continue;
      const method = t.slice(0, eq).trim();
      const result = t.slice(eq + 1).trimStart().split(/[\s(]/, 1)[0] ?? '';
      if ((method === 'spf' || method === 'dkim' || method === 'dmarc') && !seen.has(method)) seen.set(method, result);
    }
  }
  const hits: RuleName[] = [];
  const spf = seen.get('spf');
  if (spf === 'fail') hits.push('SPF_FAIL');
  else if (spf === 'softfail') hits.push('SPF_SOFTFAIL');
  else if (spf === 'pass') hits.push('SPF_PASS');
  const dkim = seen.get('dkim');
  if (dkim === 'fail') hits.push('DKIM_FAIL');
  else if (dkim === 'pass') hits.push('DKIM_VALID');
  const dmarc = seen.get('dmarc');
  if (dmarc === 'fail') hits.push('DMARC_FAIL');
  else if (dmarc === 'pass') hits.push('DMARC_PASS');
  return hits;
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/** The organisational part, roughly: the last two labels (mail.example.com and example.com agree). */
function baseDomain(domain: string): string {
  return domain.split('.').slice(-2).join('.');
}

export function headerSanity(m: ParsedMessage, ctx: CheckContext): RuleName[] {
  const h = m.header;
  const hits: RuleName[] = [];
  const date = h.first('date');
  if (date === undefined) hits.push('MISSING_DATE');
  else {
    const t = parseDate(date.slice(0, MAX_VALUE));
    if (t !== null && t > ctx.now + 12 * HOUR) hits.push('DATE_IN_FUTURE');
    if (t !== null && t < ctx.now - 30 * DAY) hits.push('DATE_IN_PAST');
  }
  if (!h.has('message-id')) hits.push('MISSING_MID');
  const from = h.first('from');
  const fromAddress = from === undefined ? undefined : addrSpecs(from.slice(0, MAX_VALUE))[0];
  if (fromAddress === undefined || !fromAddress.includes('@')) hits.push('MISSING_FROM');
  else if (ctx.envelopeFrom && baseDomain(domainOf(fromAddress)) !== baseDomain(domainOf(ctx.envelopeFrom))) hits.push('FROM_NOT_ENVELOPE');
  // Our own Received is added after the checks: one claiming our name now came from outside.
  const own = `by ${ctx.hostname.toLowerCase()}`;
  for (const r of h.values('received')) {
    if (r.slice(0, MAX_VALUE).toLowerCase().replace(/\s+/g, ' ').includes(own)) {
      hits.push('FORGED_RECEIVED');
      break;
    }
  }
  return hits;
}

/** Every leaf of the part tree, bounded in depth and count. */
function leaves(root: MimePart): MimePart[] {
  const out: MimePart[] = [];
  const stack: Array<[MimePart, number]> = [[root, 0]];
  while (stack.length > 0 && out.length < MAX_PARTS) {
    const [part, depth] = stack.pop()!;
    if (part.parts && part.parts.length > 0) {
      if (depth < MAX_DEPTH) for (let i = part.parts.length - 1; i >= 0; i--) stack.push([part.parts[i]!, depth + 1]);
    } else out.push(part);
  }
  return out;
}

/** A parameter of a flat [name, value, ...] list, by lower-case name. */
function paramValue(params: readonly string[] | undefined, name: string): string | undefined {
  if (!params) return undefined;
  for (let i = 0; i + 1 < params.length; i += 2) if (params[i]!.toLowerCase() === name) return params[i + 1];
  return undefined;
}

function isAttachment(p: MimePart): boolean {
  return (p.disp ?? '').toLowerCase() === 'attachment' || fileName(p) !== undefined;
}

function fileName(p: MimePart): string | undefined {
  return paramValue(p.dispParams, 'filename') ?? paramValue(p.params, 'name');
}

/** Inline text parts: HTML without any plain text; invisible text in the HTML. */
export function htmlChecks(m: ParsedMessage): RuleName[] {
  const hits: RuleName[] = [];
  const texts = m.textParts();
  let plain = false;
  let html = false;
  let hidden = false;
  for (const t of texts.slice(0, MAX_PARTS)) {
    if (t.contentType === 'text/plain' && t.text.trim() !== '') plain = true;
    if (t.contentType !== 'text/html') continue;
    html = true;
    if (!hidden) {
      // Blanks removed first, so fixed strings find "display : none" and "display:none" alike.
      const css = t.text.slice(0, MAX_HTML).toLowerCase().replace(/\s+/g, '');
      hidden = css.includes('display:none') || css.includes('visibility:hidden') || /font-size:0(?![.\d])/.test(css);
    }
  }
  if (html && !plain) hits.push('HTML_ONLY');
  if (hidden) hits.push('HTML_HIDDEN_TEXT');
  return hits;
}

const EXECUTABLE = new Set(['exe', 'scr', 'pif', 'com', 'bat', 'cmd', 'vbs', 'vbe', 'js', 'jse', 'jar', 'msi', 'hta', 'lnk', 'ps1', 'wsf', 'wsh', 'cpl', 'reg', 'dll', 'iso']);
const DOCUMENT = new Set(['pdf', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'txt', 'rtf', 'jpg', 'jpeg', 'png', 'gif', 'zip', 'htm', 'html', 'odt']);

export function attachmentChecks(m: ParsedMessage): RuleName[] {
  let executable = false;
  let double = false;
  for (const p of leaves(m.index().body)) {
    if (!isAttachment(p)) continue;
    const name = (fileName(p) ?? '').slice(0, 1_000).toLowerCase().trim();
    const words = name.split('.');
    if (words.length < 2) continue;
    const ext = words[words.length - 1]!;
    if (!EXECUTABLE.has(ext)) continue;
    executable = true;
    if (words.length >= 3 && DOCUMENT.has(words[words.length - 2]!)) double = true;
  }
  const hits: RuleName[] = [];
  if (executable) hits.push('EXECUTABLE_ATTACHMENT');
  if (double) hits.push('DOUBLE_EXTENSION');
  return hits;
}

export function allChecks(m: ParsedMessage, ctx: CheckContext): RuleName[] {
  return [...gtube(m), ...authResults(ctx), ...headerSanity(m, ctx), ...htmlChecks(m), ...attachmentChecks(m)];
}
