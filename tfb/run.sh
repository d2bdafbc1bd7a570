#!/usr/bin/env bash
# The TechEmpower-style service bench in one command: installs wrk if missing, builds the
# bench service in release mode, and runs it (arguments go to `tfb bench`).
#   TFB_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test tfb/run.sh --rounds 5
#   tfb/run.sh --stacks postgres,deadpool --tests queries-pipelined
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  echo "tfb: installing wrk"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
fi
export TFB_DATABASE_URL="${TFB_DATABASE_URL:-${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}"
cargo build --release -p tfb
# Where cargo put it: a separate target directory (CARGO_TARGET_DIR) keeps a bench build
# from waiting on, or invalidating, another build's.
exec "${CARGO_TARGET_DIR:-target}/release/tfb" bench "$@"
