#!/usr/bin/env bash
# Generates constrained outputs for the schema corpus and validates them with
# npm's ajv + ajv-formats, installed once into WORK/node_modules. Exits 77
# (ctest: skipped) when node or npm or the registry is not available.
# usage: ajv_check.sh SAMPLES_EXE SCHEMAS.jsonl WORK
set -euo pipefail
exe=$1 schemas=$2 work=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm not found: skipped"; exit 77; }
mkdir -p "$work"
if [ ! -d "$work/node_modules/ajv-formats" ]; then
  (cd "$work" && npm install --silent --no-audit --no-fund --no-save ajv@8 ajv-formats@3 >/dev/null 2>&1) ||
    { echo "npm install ajv failed: skipped"; exit 77; }
fi
"$exe" "$schemas" "$work/samples.jsonl" 4 "$@"
node "$here/ajv_validate.mjs" "$work/node_modules" "$work/samples.jsonl"
