#!/usr/bin/env node
// The CLI entry point: runs the compiled TypeScript from dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// fsync-heavy deliveries run in libuv's thread pool; 4 threads starve them.
// Must be set before the pool is first used, so here, at the very top.
process.env.UV_THREADPOOL_SIZE ??= '32';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('postino: not built yet; run `npm run build` first\n');
  process.exit(1);
}
await import(main.href);
