// contrib/postino.example.json is a valid configuration, and the README's
// table of keys documents every key the configuration schema knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigSchema, resolveConfig, validateConfig } from '../../src/config.js';
import { repoRoot } from '../support/paths.js';

/** Every leaf key path of the schema, e.g. "limits.maxConnections.smtp". */
function keyPaths(schema: z.ZodType, prefix = ''): string[] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodObject) {
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

/** The key paths named in the first cell of each row of the README's "Every configuration key" table. */
function documentedKeys(readme: string): Set<string> {
  const start = readme.indexOf('### Every configuration key');
  assert.ok(start >= 0, 'the README has the table of keys');
  const keys = new Set<string>();
  for (const line of readme.slice(start).split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cell = line.split(' | ')[0]!;
    const tokens = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const first = tokens[0]!;
    const parent = first.includes('.') ? first.slice(0, first.lastIndexOf('.')) : '';
    for (const t of tokens) keys.add(t.startsWith('.') ? `${parent}${t}` : t);
  }
  return keys;
}

test('contrib/postino.example.json parses with the config schema and sets up a real server', () => {
  const raw = JSON.parse(readFileSync(path.join(repoRoot, 'contrib', 'postino.example.json'), 'utf8')) as unknown;
  const config = resolveConfig(validateConfig(raw, 'postino.example.json'), {});
  assert.deepEqual(config.listen, ['0.0.0.0', '::']);
  assert.equal(config.ports.smtp, 25);
  assert.equal(config.ports.imaps, 993);
  assert.equal(config.user, 'postino');
  assert.equal(config.demo, false);
  assert.ok(config.tls);
});

test('the README documents every configuration key', () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const documented = documentedKeys(readme);
  const keys = keyPaths(ConfigSchema);
  assert.ok(keys.length > 60, `${keys.length} keys`);
  const missing = keys.filter((k) => !documented.has(k));
  assert.deepEqual(missing, [], 'keys missing from the README table');
  const unknown = [...documented].filter((k) => !keys.includes(k));
  assert.deepEqual(unknown, [], 'the README table names keys the schema does not know');
});

test('the README points to no file outside the repository', () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  assert.doesNotMatch(readme, /INTERFACE\.md|DESIGN\.md|\/work\//);
  for (const m of readme.matchAll(/`((?:contrib|src|storage|sieve|test|bench|scripts|fixtures)\/[^`\s]*)`/g)) {
    const file = m[1]!.replace(/[.,:;)]+$/, '');
    if (/[*{]|\.\.\./.test(file)) continue;
    assert.ok(
      (() => {
        try {
          readFileSync(path.join(repoRoot, file));
          return true;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'EISDIR';
        }
      })(),
      `README names ${file}, which is not in the repository`,
    );
  }
});
