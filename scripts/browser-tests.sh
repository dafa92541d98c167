#!/usr/bin/env bash
# The browser suites, against a fresh local stack. Run through scripts/netns.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"

state=${SEEDMESH_STACK_DIR:-target/test-stack}
trap 'scripts/stack.sh stop "$state"' EXIT
# The namespace is private, so the port the test build of the page expects is free.
SEEDMESH_DOH_PORT=${SEEDMESH_DOH_PORT:-8053} scripts/stack.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"

# wasm-bindgen-test-runner gives up when the WebDriver server is slow to take its port ("driver
# failed to bind port during startup"), which happens now and then on a loaded machine. That
# failure, and only that one, is tried again.
wasm_tests() { # wasm_tests DRIVER_VARIABLE DRIVER_PATH
  local log attempt
  [ -x "$2" ] || { echo "browser-tests: $2 is missing: run scripts/setup.sh" >&2; return 1; }
  for attempt in 1 2 3; do
    log=$(mktemp)
    if env "$1=$2" WASM_BINDGEN_TEST_TIMEOUT=120 \
      cargo test --offline --target wasm32-unknown-unknown -p seedmesh-web 2>&1 | tee "$log"; then
      rm -f "$log"
      return 0
    fi
    if [ "$attempt" = 3 ] || ! grep -q "driver failed to bind port during startup" "$log"; then
      rm -f "$log"
      return 1
    fi
    rm -f "$log"
    echo "the WebDriver server did not start; trying again ($attempt of 3)"
  done
}

step "wasm-bindgen-test in headless Chromium"
wasm_tests CHROMEDRIVER /usr/bin/chromedriver

step "wasm-bindgen-test in headless Firefox"
wasm_tests GECKODRIVER "$(command -v geckodriver || echo geckodriver)"

step "the seedmesh peer the interop tests load (crates/seedmesh-web/examples/e2e_harness.rs)"
scripts/build-e2e-harness.sh

step "end-to-end tests (Playwright)"
node --test --test-concurrency=1 tests/e2e/
