// Every RFC example script in fixtures/sieve/rfc compiles, and runs on a
// sample message without a run-time error (include needs its scripts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../../support/paths.js';
import { compile, evaluate } from '../../../sieve/index.js';
import { message, RFC5228_MESSAGE } from './helpers.js';

const dir = path.join(fixturesDir, 'sieve', 'rfc');

for (const f of readdirSync(dir).filter((n) => n.endsWith('.sieve')).sort()) {
  test(`RFC example ${f}`, () => {
    const r = compile(readFileSync(path.join(dir, f), 'utf8'));
    assert.ok(r.ok, r.ok ? '' : r.errors.map((e) => `${e.line}:${e.col}: ${e.message}`).join('\n'));
    const res = evaluate(r.program, message(RFC5228_MESSAGE), { from: 'coyote@desert.example.org', to: 'ken+mta-filters@example.com' }, {
      includeScript: () => 'keep;',
      now: () => new Date(Date.UTC(2007, 6, 2)),
    });
    if (f === 'rfc5463-ihave.sieve') assert.match(res.errors?.[0]?.message ?? '', /x-example-error/);
    else assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.ok(res.actions.length > 0);
  });
}
