#!/usr/bin/env bash
# Builds dist/ with tsc, unless dist/ is already newer than every source file
# (`--force` always builds). Skipping matters: tsc rewrites every output file
# in place, so a needless rebuild under a running Postino or CLI (npm start
# while the tests use dist/) can hand it a half-written module.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=dist/.build-stamp
sources=(src mime sieve storage test bench bin tsconfig.json package.json package-lock.json)
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] \
  && [ -z "$(find "${sources[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
# The stamp's time is taken before compiling, so an edit made meanwhile still counts as newer.
mkdir -p dist
touch dist/.build-stamp.next
npx tsc -p tsconfig.json
mv dist/.build-stamp.next "$stamp"
