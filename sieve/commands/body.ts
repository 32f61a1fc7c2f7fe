// body (RFC 5173): :raw (undecoded body), :content "type[/subtype]" (decoded
// parts of those types), :text (default; the text parts, HTML reduced to text).
import type { TestSpec } from '../compile/spec.js';
import { buildMatcher, matchTags } from './common.js';
import type { SieveMessageBody } from '../message.js';

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<\/?(?:b|i|u|em|strong|span|a|font|small|big|code|sub|sup)\b[^>]*>/gi, '')
    .replace(/<[^>]*>/g, ' ')
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
        for (const part of rt.body().parts) if (part.text !== undefined && contentMatches(part.contentType, wanted)) values.push(part.text);
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
