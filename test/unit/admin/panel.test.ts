// The web panel's static side: the files are served with their types and a
// strict CSP that forbids framing, and both dictionaries have the same keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Hono } from 'hono';
import { panelModule, panelDir } from '../../../src/admin/panel.js';
import type { AdminDeps } from '../../../src/admin/app.js';

function app(): Hono {
  const a = new Hono();
  panelModule().mount(a, {} as AdminDeps);
  return a;
}

test('/ and /panel/ serve index.html with a strict CSP and no framing', async () => {
  for (const url of ['/', '/panel/']) {
    const res = await app().request(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const html = await res.text();
    assert.match(html, /<script type="module" src="\/panel\/app\.js"><\/script>/);
    // No inline script and no resource from another origin.
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/);
    assert.doesNotMatch(html, /\s(src|href)="(https?:)?\/\//);
  }
});

test('scripts and styles are served with their content types; unknown and traversing paths are 404', async () => {
  const a = app();
  const js = await a.request('/panel/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(js.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  const css = await a.request('/panel/style.css');
  assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  for (const bad of ['/panel/nope.js', '/panel/../package.json', '/panel/%2e%2e/package.json', '/panel/i18n.js.map']) {
    assert.equal((await a.request(bad)).status, 404, bad);
  }
});

test('the English and Italian dictionaries have the same keys, none empty', async () => {
  const { dictionaries } = (await import(pathToFileURL(path.join(panelDir, 'i18n.js')).href)) as { dictionaries: Record<string, Record<string, string>> };
  const en = Object.keys(dictionaries.en!).sort();
  const it = Object.keys(dictionaries.it!).sort();
  assert.deepEqual(it, en);
  for (const [lang, dict] of Object.entries(dictionaries)) {
    for (const [key, text] of Object.entries(dict)) {
      assert.ok(text.trim().length > 0, `${lang} ${key} is empty`);
      // The same placeholders in both languages.
      const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      assert.deepEqual(names(text), names(dictionaries.en![key]!), `${lang} ${key} placeholders`);
    }
  }
});

test('every key the pages use is in the dictionaries', async () => {
  const { dictionaries } = (await import(pathToFileURL(path.join(panelDir, 'i18n.js')).href)) as { dictionaries: Record<string, Record<string, string>> };
  const { readFileSync, readdirSync } = await import('node:fs');
  const used = new Set<string>();
  for (const file of readdirSync(panelDir).filter((f) => f.endsWith('.js') && f !== 'i18n.js')) {
    const text = readFileSync(path.join(panelDir, file), 'utf8');
    for (const m of text.matchAll(/\bt\('([\w.]+)'/g)) used.add(m[1]!);
  }
  assert.ok(used.size > 50);
  const missing = [...used].filter((k) => !(k in dictionaries.en!));
  assert.deepEqual(missing, []);
});

test('without its folder the panel answers 503 and logs why; it does not stop the admin port', async () => {
  const logged: Array<Record<string, unknown>> = [];
  const a = new Hono();
  const log = { error: (e: Record<string, unknown>) => logged.push(e) };
  panelModule('/nonexistent/postino-panel').mount(a, { log } as unknown as AdminDeps);
  const res = await a.request('/');
  assert.equal(res.status, 503);
  assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  assert.equal(logged[0]?.event, 'admin-panel-missing');
});
