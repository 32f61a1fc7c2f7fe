// Golden files: fixtures/imap/NNN.eml -> NNN.bodystructure holds the
// BODYSTRUCTURE wire bytes our renderer produced when they were last
// checked against Dovecot (test/conformance/imap-structure-dovecot.test.ts).
// On a mismatch NNN.actual is written next to it so a diff shows the change.
// POSTINO_UPDATE_GOLDENS=1 rewrites the goldens.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../../support/paths.js';
import { indexMessage } from '../../../mime/index.js';
import { renderBodyStructure, toWire } from '../../../src/protocol/imap/fetch-structure.js';

const dir = path.join(fixturesDir, 'imap');
const update = process.env['POSTINO_UPDATE_GOLDENS'] === '1';
const emls = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();

test('there are at least 40 fixture messages', () => {
  assert.ok(emls.length >= 40, `only ${emls.length} fixtures`);
});

for (const eml of emls) {
  const base = eml.slice(0, -4);
  test(`golden BODYSTRUCTURE ${base}`, () => {
    const raw = fs.readFileSync(path.join(dir, eml));
    const actual = toWire(renderBodyStructure(indexMessage(raw)));
    const goldenPath = path.join(dir, `${base}.bodystructure`);
    const actualPath = path.join(dir, `${base}.actual`);
    if (update) {
      fs.writeFileSync(goldenPath, actual);
      fs.rmSync(actualPath, { force: true });
      return;
    }
    assert.ok(fs.existsSync(goldenPath), `missing golden ${goldenPath} (run with POSTINO_UPDATE_GOLDENS=1)`);
    const golden = fs.readFileSync(goldenPath);
    if (!golden.equals(actual)) {
      fs.writeFileSync(actualPath, actual);
      assert.fail(`${base}: BODYSTRUCTURE differs from the golden; see ${actualPath}`);
    }
    fs.rmSync(actualPath, { force: true });
  });
}
