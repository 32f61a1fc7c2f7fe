// body (RFC 5173): :raw (undecoded body), :content "type[/subtype]" (decoded
// parts of those types), :text (default; the text parts, HTML reduced to text).
import type { TestSpec } from '../compile/spec.js';
import { buildMatcher, matchTags } from './common.js';
import type { SieveMessageBody } from '../message.js';

const INLINE_TAGS = new Set(['b', 'i', 'u', 'em', 'strong', 'span', 'a', 'font', 'small', 'big', 'code', 'sub', 'sup']);

/** Case-insensitive: does `html` hold the lower-case ASCII `word` at `at`? */
function hasAt(html: string, at: number, word: string): boolean {
  return html.length - at >= word.length && html.slice(at, at + word.length).toLowerCase() === word;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/**
 * Where the element that opened with `<name` ends: just after the first
 * `</name` + white space + `>` at or after `from`; -1 when there is none.
 */
function closingTagEnd(html: string, name: string, from: number): number {
  for (let lt = html.indexOf('</', from); lt >= 0; lt = html.indexOf('</', lt + 2)) {
    if (!hasAt(html, lt + 2, name)) continue;
    let i = lt + 2 + name.length;
    while (isSpace(html[i])) i++;
    if (html[i] === '>') return i + 1;
  }
  return -1;
}

/** Scripts and style sheets, whole, become a space. */
function withoutScripts(html: string): string {
  let out = '';
  let pos = 0;
  // Once an element has no closing tag after some point, later ones have none either.
  const unclosed = new Set<string>();
  for (let lt = html.indexOf('<', pos); lt >= 0; lt = html.indexOf('<', lt + 1)) {
    const name = hasAt(html, lt + 1, 'script') ? 'script' : hasAt(html, lt + 1, 'style') ? 'style' : undefined;
    if (name === undefined || unclosed.has(name)) continue;
    const end = closingTagEnd(html, name, lt + 1 + name.length);
    if (end < 0) {
      unclosed.add(name);
      continue;
    }
    out += html.slice(pos, lt) + ' ';
    pos = end;
    lt = end - 1;
  }
  return out + html.slice(pos);
}

/** Inline tags vanish, other tags become a space; a '<' with no '>' after it is text. */
function withoutTags(html: string): string {
  let out = '';
  let pos = 0;
  for (let lt = html.indexOf('<'); lt >= 0; lt = html.indexOf('<', pos)) {
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break;
    const nameStart = html[lt + 1] === '/' ? lt + 2 : lt + 1;
    let nameEnd = nameStart;
    while (nameEnd < gt && /[A-Za-z0-9_]/.test(html[nameEnd]!)) nameEnd++;
    const inline = INLINE_TAGS.has(html.slice(nameStart, nameEnd).toLowerCase());
    out += html.slice(pos, lt) + (inline ? '' : ' ');
    pos = gt + 1;
  }
  return out + html.slice(pos);
}

// Linear in the text: no pattern here can backtrack over a long run of '<'.
function htmlToText(html: string): string {
  return withoutTags(withoutScripts(html))
    .replace(/&nbsp;/gi, ' ')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&amp;/gi, '&')
    .replace(/[ \t]+/g, ' ');
}

function contentMatches(type: string, wanted: string[]): boolean {
  for (const w of wanted) {
    const x = w.toLowerCase();
    if (x === '') return true;
    if (x.includes('/') ? type === x : type.slice(0, type.indexOf('/')) === x) return true;
  }
  return false;
}

const textCache = new WeakMap<SieveMessageBody, string[]>();

export const body: TestSpec = {
  kind: 'test',
  name: 'body',
  ext: 'body',
  tags: [
    ...matchTags,
    { name: 'raw', group: 'transform' },
    { name: 'content', group: 'transform', arg: 'stringlist' },
    { name: 'text', group: 'transform' },
  ],
  args: ['stringlist'],
  compile(p) {
    const m = buildMatcher(p, 0);
    const transform = p.group('transform') ?? 'text';
    if (transform === 'raw') return (rt) => m.test(rt, [rt.body().raw]);
    if (transform === 'content') {
      const types = p.tagList('content')!;
      for (const t of types.constant ?? [])
        if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]*(\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?$/.test(t)) p.fail(`invalid content type '${t}'`, p.tagPos('content'));
      return (rt) => {
        const wanted = types.ev(rt);
        const values: string[] = [];
        for (const part of rt.body().parts) {
          if (part.text === undefined || !contentMatches(part.contentType, wanted)) continue;
          if (part.pieces) values.push(...part.pieces);
          else values.push(part.text);
        }
        return m.test(rt, values);
      };
    }
    return (rt) => {
      const b = rt.body();
      let values = textCache.get(b);
      if (!values) {
        values = [];
        for (const part of b.parts) {
          if (part.text === undefined) continue;
          if (part.contentType === 'text/html') values.push(htmlToText(part.text));
          else if (part.contentType.startsWith('text/')) values.push(part.text);
        }
        textCache.set(b, values);
      }
      rt.charge(values.reduce((n, v) => n + (v.length >> 6), 0));
      return m.test(rt, values);
    };
  },
};
