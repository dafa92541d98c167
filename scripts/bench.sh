#!/usr/bin/env bash
# The benchmark (`make bench`): builds the release page, then runs bench/run.mjs in headless
# Chromium against the local stack, in a loopback-only network namespace. Writes
# docs/benchmarks.md and docs/benchmarks.json.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if [ "${SEEDMESH_NETNS:-}" != 1 ]; then
  scripts/setup.sh
  step "release build"
  trunk build --release --offline
  exec scripts/netns.sh scripts/bench.sh "$@"
fi

state=${SEEDMESH_STACK_DIR:-target/bench-stack}
trap 'scripts/stack.sh stop "$state"' EXIT
scripts/stack.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"
step "benchmark"
node bench/run.mjs
