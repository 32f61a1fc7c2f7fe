// The web panel: static files (HTML, vanilla JS modules, CSS) from the
// repository's panel/ folder, read once at start and served at `/` and
// `/panel/...`. No build step and nothing fetched from elsewhere: the pages
// talk only to /api/v1 on the same origin. Every response carries a strict
// Content-Security-Policy (no inline script or style) and refuses framing.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import type { AdminRouteModule } from './app.js';

/** The package root: this file runs from dist/src/admin/. */
export const panelDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../panel');

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const panelSecurityHeaders: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

interface Asset {
  body: string;
  type: string;
}

/** Every file of the folder (one level, plus one level of subfolders) with a known type, keyed by its relative path. */
export function loadPanelAssets(dir: string = panelDir): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (sub: string, depth: number): void => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory() && depth < 1) walk(rel, depth + 1);
      const type = contentTypes[path.extname(entry.name)];
      if (entry.isFile() && type) assets.set(rel, { body: readFileSync(path.join(dir, rel), 'utf8'), type });
    }
  };
  walk('', 0);
  return assets;
}

function send(c: Context, asset: Asset, cache: string): Response {
  return c.body(asset.body, 200, { ...panelSecurityHeaders, 'content-type': asset.type, 'cache-control': cache });
}

export function panelModule(dir: string = panelDir): AdminRouteModule {
  return {
    name: 'panel',
    mount(app, deps) {
      let assets: Map<string, Asset>;
      try {
        assets = loadPanelAssets(dir);
      } catch (err) {
        assets = new Map();
        deps.log.error({ event: 'admin-panel-missing', dir, err: String(err) });
      }
      const index = assets.get('index.html');
      if (!index) {
        // A broken install loses the panel, not the mail service or the API.
        if (assets.size > 0) deps.log.error({ event: 'admin-panel-missing', dir, err: 'no index.html' });
        const unavailable = (c: Context) =>
          c.json({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: `the web panel is not installed (${dir})` }, 503, {
            'content-type': 'application/problem+json',
          });
        app.get('/', unavailable);
        app.get('/panel/*', unavailable);
        return;
      }
      // The pages route by the URL fragment, so every page is index.html.
      app.get('/', (c) => send(c, index, 'no-cache'));
      app.get('/panel', (c) => c.redirect('/panel/', 301));
      app.get('/panel/', (c) => send(c, index, 'no-cache'));
      app.get('/panel/*', (c) => {
        const asset = assets.get(c.req.path.slice('/panel/'.length));
        // no-cache: the browser revalidates, so a new version shows after an upgrade.
        return asset ? send(c, asset, 'no-cache') : c.notFound();
      });
    },
  };
}
