#!/usr/bin/env bash
# The benchmark (`make bench`): builds the release page and runs the room simulator natively,
# then runs bench/run.mjs in headless Chromium against the local stack, in a private
# network namespace. Writes docs/benchmarks.md and docs/benchmarks.json.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if [ "${SEEDMESH_NETNS:-}" != 1 ]; then
  scripts/setup.sh
  step "release build, configured for the local stack"
  SEEDMESH_SEED_DOMAIN=seedmesh.test SEEDMESH_DOH_RESOLVERS=http://127.0.0.1:8053/dns-query \
    trunk build --release --offline
  step "the seedmesh benchmark peer, release build"
  cargo build --release --offline --target wasm32-unknown-unknown -p seedmesh-web --example e2e_harness
  wasm-bindgen --target web --no-typescript --out-dir target/bench/seedmesh \
    "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/examples/e2e_harness.wasm"
  step "the room simulator: 10,000 pages, with and without loss (examples/room_sim.rs)"
  mkdir -p target/bench
  cargo run --release --offline -p seedmesh-core --example room_sim -- 10000 target/bench/room-sim.json
  exec scripts/netns.sh scripts/bench.sh "$@"
fi

state=${SEEDMESH_STACK_DIR:-target/bench-stack}
trap 'scripts/stack.sh stop "$state"' EXIT
# The namespace is private, so the port the build of the page expects is free.
SEEDMESH_DOH_PORT=${SEEDMESH_DOH_PORT:-8053} scripts/stack.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"
step "benchmark"
node bench/run.mjs
