#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs node:test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/build.sh --force
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
# No test may hang CI: each file gets at most 15 minutes.
exec node --test --test-reporter=spec --test-concurrency=2 --test-timeout=900000 "${files[@]}"
