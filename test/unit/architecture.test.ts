// DESIGN.md's import rules, checked over the import lines of the source:
// mime/ is pure (its decoding libraries and itself), sieve/ is pure (ohm-js,
// mime/ and itself), storage/ never reaches into src/ or sieve/, the
// delivery plan is pure (it imports types only), protocol code imports only
// its own folder and mime/ (plus types), and nothing imports upwards from
// the layers below the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../support/paths.js';

interface Import {
  file: string;
  spec: string;
  typeOnly: boolean;
  /** Resolved repository-relative path for relative imports. */
  target: string | undefined;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[3]!;
    const rel = path.relative(repoRoot, file);
    const target = spec.startsWith('.') ? path.relative(repoRoot, path.resolve(path.dirname(file), spec)) : undefined;
    out.push({ file: rel, spec, typeOnly: m[2] !== undefined, target });
  }
  // Dynamic imports count too.
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = m[1]!;
    const target = spec.startsWith('.') ? path.relative(repoRoot, path.resolve(path.dirname(file), spec)) : undefined;
    out.push({ file: path.relative(repoRoot, file), spec, typeOnly: false, target });
  }
  return out;
}

const all = ['mime', 'sieve', 'storage', 'src'].flatMap((d) => sourceFiles(path.join(repoRoot, d))).flatMap(importsOf);

test('mime/ is pure: it imports its decoding libraries and itself only', () => {
  const libraries = ['libmime', 'libmime/lib/charset.js', 'libbase64'];
  const bad = all.filter((i) => i.file.startsWith('mime/') && !(libraries.includes(i.spec) || i.target?.startsWith('mime/')));
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('sieve/ is pure: it imports ohm-js, mime/ and itself only', () => {
  const bad = all.filter(
    (i) => i.file.startsWith('sieve/') && !(i.spec === 'ohm-js' || i.target?.startsWith('sieve/') || i.target?.startsWith('mime/')),
  );
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('storage/ imports nothing from src/ or sieve/', () => {
  const bad = all.filter((i) => i.file.startsWith('storage/') && (i.target?.startsWith('src/') || i.target?.startsWith('sieve/')));
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('protocol code imports only its own folder and mime/, plus types', () => {
  const bad = all.filter((i) => {
    const m = /^src\/protocol\/([^/]+)\//.exec(i.file);
    if (!m || i.typeOnly) return false;
    if (i.target === undefined) return !i.spec.startsWith('node:');
    // mime/ is pure and below everything: the message model, like types.
    return !i.target.startsWith(`src/protocol/${m[1]}/`) && !i.target.startsWith('mime/');
  });
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('lower layers never import the server, the CLI or main', () => {
  const upper = ['src/server/', 'src/cli/'];
  const lower = ['src/protocol/', 'src/services/', 'src/smtp/', 'src/mx/', 'src/delivery/', 'src/auth/', 'src/scan/', 'src/outbound/', 'src/net/'];
  const bad = all.filter((i) => !i.typeOnly && lower.some((l) => i.file.startsWith(l)) && upper.some((u) => i.target?.startsWith(u)));
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('storage/memory/ touches no disk and no SQLite: at run time it imports only itself and the shared storage modules', () => {
  const shared = ['storage/errors', 'storage/flags', 'storage/change-feed', 'storage/ports', 'storage/unit-of-work', 'storage/names', 'storage/import-batch', 'storage/pop3-uidl'].map((m) => `${m}.js`);
  const bad = all.filter((i) => {
    if (!i.file.startsWith('storage/memory/') || i.typeOnly) return false;
    if (i.target === undefined) return i.spec !== 'node:crypto';
    return !(i.target.startsWith('storage/memory/') || shared.includes(i.target));
  });
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('only src/smtp/ imports smtp-server', () => {
  const users = all.filter((i) => i.spec === 'smtp-server' || i.spec.startsWith('smtp-server/'));
  assert.ok(users.length > 0, 'the check sees the import it guards');
  const bad = users.filter((i) => !i.file.startsWith('src/smtp/'));
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('smtp -> mx -> delivery: delivery imports neither mx nor smtp, mx does not import smtp', () => {
  const bad = all.filter(
    (i) =>
      (i.file.startsWith('src/delivery/') && (i.target?.startsWith('src/mx/') || i.target?.startsWith('src/smtp/'))) ||
      (i.file.startsWith('src/mx/') && i.target?.startsWith('src/smtp/')),
  );
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('the delivery plan is pure: src/delivery/plan.ts imports types only (no storage, no fs, no clock)', () => {
  const bad = all.filter((i) => i.file === 'src/delivery/plan.ts' && !i.typeOnly);
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('outside storage/, nothing imports the backend (SQLite index, Maildir, the mail store parts, better-sqlite3), types included', () => {
  // The composition root opens storage through storage/index.ts (openStorage); everything else uses ports.ts.
  const backend = ['storage/index/', 'storage/maildir/', 'storage/mail/', 'storage/store', 'storage/postgres/'];
  const bad = all.filter(
    (i) => !i.file.startsWith('storage/') && (i.spec === 'better-sqlite3' || i.spec === 'pg' || backend.some((b) => i.target?.startsWith(b))),
  );
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('only src/admin/metrics/ imports prom-client: the rest reports through the Metrics interface (src/metrics.ts)', () => {
  const users = all.filter((i) => i.spec === 'prom-client' || i.spec.startsWith('prom-client/'));
  assert.ok(users.length > 0, 'the check sees the import it guards');
  const bad = users.filter((i) => !i.file.startsWith('src/admin/metrics/'));
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('storage/schema/ (the steps of both backends) imports no database driver and no backend: only itself and storage/errors', () => {
  const bad = all.filter((i) => i.file.startsWith('storage/schema/') && !(i.target?.startsWith('storage/schema/') || i.target === 'storage/errors.js'));
  assert.ok(all.some((i) => i.file === 'storage/index/database.ts' && i.target === 'storage/schema/index.js'), 'the check sees the SQLite runner take its steps from storage/schema/');
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});

test('only storage/postgres/ imports the PostgreSQL client (pg)', () => {
  const bad = all.filter((i) => (i.spec === 'pg' || i.spec.startsWith('pg/')) && !i.file.startsWith('storage/postgres/'));
  assert.deepEqual(bad.map((i) => `${i.file} -> ${i.spec}`), []);
});
