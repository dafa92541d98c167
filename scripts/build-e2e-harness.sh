#!/usr/bin/env bash
# Builds the seedmesh peer that the end-to-end interop tests load into a page
# (crates/seedmesh-web/examples/e2e_harness.rs) into target/e2e-harness/.
set -euo pipefail
source "$(dirname "$0")/common.sh"

target_dir=${CARGO_TARGET_DIR:-target}
cargo build --offline --target wasm32-unknown-unknown -p seedmesh-web --example e2e_harness
wasm-bindgen --target web --no-typescript --out-dir target/e2e-harness \
  "$target_dir/wasm32-unknown-unknown/debug/examples/e2e_harness.wasm"
