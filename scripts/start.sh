#!/usr/bin/env bash
# Starts Postino on the embedded default (SQLite + Maildir under ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi
bash scripts/build.sh
exec node bin/postino.cjs serve "$@"
