// Locations tests need, independent of where the compiled test file lives.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root (tests run from dist/test/..., fixtures live at the root). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixturesDir = path.join(repoRoot, 'fixtures');
export const cliPath = path.join(repoRoot, 'bin', 'postino.cjs');
