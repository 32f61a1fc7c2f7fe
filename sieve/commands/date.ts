// date and currentdate (RFC 5260). The :index/:last selection is shared with
// header and address (commands/common.ts).
import type { Parsed, TestSpec } from '../compile/spec.js';
import { buildMatcher, indexSelector, indexTags, matchTags } from './common.js';
import type { Runtime } from '../runtime/runtime.js';

const datePartNames = new Set(['year', 'month', 'day', 'date', 'julian', 'hour', 'minute', 'second', 'time', 'iso8601', 'std11', 'zone', 'weekday']);
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const NAMED_ZONES: Record<string, number> = { ut: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

interface ZonedTime {
  /** Milliseconds since the epoch (UTC). */
  ms: number;
  /** Offset from UTC in minutes. */
  offset: number;
}

/**
 * Comments (nested ones too) replaced by a space, in one pass; an unclosed
 * comment runs to the end. (/\([^)]*\)/g rescans to the end from every "(".)
 */
function withoutComments(value: string): string {
  if (!value.includes('(')) return value;
  let out = '';
  let depth = 0;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && depth > 0) i++;
    else if (c === '(') {
      if (depth++ === 0) out += value.slice(from, i) + ' ';
    } else if (c === ')' && depth > 0 && --depth === 0) from = i + 1;
  }
  return depth > 0 ? out : out + value.slice(from);
}

/** Parses an RFC 5322 date-time (tolerating obsolete forms); undefined when it is not one. */
export function parseRfc5322Date(value: string): ZonedTime | undefined {
  const s = withoutComments(value).trim();
  // s is trimmed: one \s* before the zone, none after it (two around an
  // optional group split a run of blanks every possible way).
  const m = /^(?:[A-Za-z]{3},?\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?$/.exec(s);
  if (!m) return undefined;
  const day = Number(m[1]);
  const month = MONTHS.indexOf((m[2] ?? '').toLowerCase());
  let year = Number(m[3]);
  if ((m[3] ?? '').length === 2) year += year < 50 ? 2000 : 1900;
  else if ((m[3] ?? '').length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6] ?? 0);
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let offset = 0;
  const z = m[7];
  if (z && /^[+-]\d{4}$/.test(z)) {
    const sign = z[0] === '-' ? -1 : 1;
    offset = sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  } else if (z) offset = NAMED_ZONES[z.toLowerCase()] ?? 0;
  const ms = Date.UTC(year, month, day, hour, minute, second) - offset * 60000;
  return { ms, offset };
}

export function parseZone(z: string): number | undefined {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(z);
  if (!m) return undefined;
  const v = Number(m[2]) * 60 + Number(m[3]);
  if (Number(m[2]) > 23 || Number(m[3]) > 59) return undefined;
  return m[1] === '-' ? -v : v;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function zoneText(offset: number, colon: boolean): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  return `${sign}${pad(Math.floor(a / 60))}${colon ? ':' : ''}${pad(a % 60)}`;
}

/** The RFC 5260 date-part of a time shown in a zone. */
export function datePart(t: ZonedTime, part: string): string {
  const d = new Date(t.ms + t.offset * 60000);
  const Y = pad(d.getUTCFullYear(), 4);
  const M = pad(d.getUTCMonth() + 1);
  const D = pad(d.getUTCDate());
  const h = pad(d.getUTCHours());
  const mi = pad(d.getUTCMinutes());
  const s = pad(d.getUTCSeconds());
  switch (part) {
    case 'year': return Y;
    case 'month': return M;
    case 'day': return D;
    case 'date': return `${Y}-${M}-${D}`;
    case 'julian': return String(Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(1858, 10, 17)) / 86400000));
    case 'hour': return h;
    case 'minute': return mi;
    case 'second': return s;
    case 'time': return `${h}:${mi}:${s}`;
    case 'iso8601': return `${Y}-${M}-${D}T${h}:${mi}:${s}${zoneText(t.offset, true)}`;
    case 'std11': return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]!.replace(/^./, (c) => c.toUpperCase())} ${Y} ${h}:${mi}:${s} ${zoneText(t.offset, false)}`;
    case 'zone': return zoneText(t.offset, false);
    case 'weekday': return String(d.getUTCDay());
    default: return '';
  }
}

/**
 * The time in the zone the test asks for. A :zone that is no zone
 * ("+hhmm"/"-hhmm") counts as none, as in Pigeonhole, which only warns about
 * it when compiling: the default zone then applies.
 */
function zoneOption(p: Parsed): ((rt: Runtime, t: ZonedTime) => ZonedTime) {
  // Default: the host's local zone; a pure engine has none, so UTC unless the host says.
  const local = (rt: Runtime, t: ZonedTime): ZonedTime => ({ ms: t.ms, offset: parseZone(rt.host.environment?.['zone'] ?? '+0000') ?? 0 });
  const zone = p.tagStr('zone');
  if (zone) {
    return (rt, t) => {
      const offset = parseZone(zone.ev(rt));
      return offset === undefined ? local(rt, t) : { ms: t.ms, offset };
    };
  }
  if (p.has('originalzone')) return (_rt, t) => t;
  return local;
}

// An unknown date-part is not a compile error (Pigeonhole accepts it too); the test is then false.
function checkPart(p: Parsed, i: number): ReturnType<Parsed['str']> {
  return p.str(i);
}

export const date: TestSpec = {
  kind: 'test',
  name: 'date',
  ext: 'date',
  tags: [...matchTags, ...indexTags, { name: 'zone', arg: 'string', group: 'zone' }, { name: 'originalzone', group: 'zone' }],
  args: ['string', 'string', 'stringlist'],
  compile(p) {
    const name = p.str(0);
    const part = checkPart(p, 1);
    const m = buildMatcher(p, 2);
    const zone = zoneOption(p);
    const sel = indexSelector(p);
    return (rt) => {
      let fields = rt.header(name.ev(rt));
      if (sel) fields = sel(fields);
      const dp = part.ev(rt).toLowerCase();
      if (!datePartNames.has(dp)) return false;
      const values: string[] = [];
      for (const f of fields) {
        const t = parseRfc5322Date(f);
        if (t) values.push(datePart(zone(rt, t), dp));
      }
      return m.test(rt, values);
    };
  },
};

export const currentdate: TestSpec = {
  kind: 'test',
  name: 'currentdate',
  ext: 'date',
  tags: [...matchTags, { name: 'zone', arg: 'string', group: 'zone' }],
  args: ['string', 'stringlist'],
  compile(p) {
    const part = checkPart(p, 0);
    const m = buildMatcher(p, 1);
    const zone = zoneOption(p);
    return (rt) => {
      const dp = part.ev(rt).toLowerCase();
      if (!datePartNames.has(dp)) return false;
      const now = rt.host.now?.() ?? new Date(0);
      const t = zone(rt, { ms: now.getTime(), offset: 0 });
      return m.test(rt, [datePart(t, dp)]);
    };
  },
};
