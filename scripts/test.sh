#!/usr/bin/env bash
# Every check and test of seedmesh: README's test command (`make test`); .ci/run calls it.
#
# 1. formatting, lints (native and wasm32) and the API docs
# 2. native unit and property tests of the sans-IO core, and a short fuzzing run of every parser
#    of outside data
# 3. the release build of the page
# 4. browser suites in headless Chromium and Firefox ESR, in a private network namespace, against
#    the real local stack: wasm-bindgen-test for the web crate, then end-to-end tests
# 5. the NAT lab: pages behind NATs in network namespaces of their own (scripts/natlab.sh)
set -euo pipefail
source "$(dirname "$0")/common.sh"

scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all --check

step "clippy, native"
cargo clippy --quiet -p seedmesh-core -p seedmesh-cli --all-targets -- -D warnings
step "clippy, wasm32"
cargo clippy --quiet --target wasm32-unknown-unknown -p seedmesh-core --lib -- -D warnings
# The core's own tests and property tests run natively only.
cargo clippy --quiet --target wasm32-unknown-unknown --workspace --exclude seedmesh-core --exclude seedmesh-cli --all-targets -- -D warnings

step "API docs, every link resolving"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p seedmesh-core -p seedmesh-cli
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --target wasm32-unknown-unknown -p seedmesh-web

step "native tests"
cargo test -p seedmesh-core -p seedmesh-cli

step "BinaryPack test vectors are what peerjs 1.5.5 packs (scripts/binarypack-vectors.mjs)"
node scripts/binarypack-vectors.mjs | diff -q - crates/seedmesh-core/src/binarypack/vectors.json

step "fuzzing every parser of outside data, 20 s each (scripts/fuzz.sh)"
scripts/fuzz.sh 20

step "release build, configured for the local stack"
# The page finds the network through the dev zone's DoH resolver, which the browser suites
# start on this port inside their private network namespace.
SEEDMESH_SEED_DOMAIN=seedmesh.test SEEDMESH_DOH_RESOLVERS=http://127.0.0.1:8053/dns-query \
  trunk build --release --offline

step "building the browser tests"
cargo test --target wasm32-unknown-unknown -p seedmesh-web --no-run

step "invites with nothing started: no resolver, no PeerServer (a private network namespace)"
scripts/netns.sh node --test --test-concurrency=1 tests/no-servers/

step "browser suites, in a private network namespace"
scripts/netns.sh scripts/browser-tests.sh

if [ "${SEEDMESH_SKIP_NATLAB:-}" = 1 ]; then
  step "NAT lab: LEFT OUT (SEEDMESH_SKIP_NATLAB=1)"
else
  step "NAT lab: pages in Chromium and Firefox behind NATs of different kinds (scripts/natlab.sh)"
  scripts/natlab.sh node --test --test-concurrency=1 tests/natlab/
fi
