#!/usr/bin/env node
// The CLI entry point. CommonJS on purpose: it runs before anything uses
// libuv's thread pool (the ES module loader does), so the pool size set
// here takes effect. fsync-heavy deliveries need more than the default 4.
'use strict';
process.env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || '32';

const { existsSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('postino: not built yet; run `npm run build` first\n');
  process.exit(1);
}
import(pathToFileURL(main).href);
