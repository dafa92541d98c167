#!/usr/bin/env bash
# Installs everything seedmesh's build, local stack and tests need, on Debian 12 or newer.
# Idempotent: it checks each part first and skips what is already there (seconds when warm).
set -euo pipefail
source "$(dirname "$0")/common.sh"

TRUNK_VERSION=0.21.14
CARGO_FUZZ_VERSION=0.13.2
GECKODRIVER_VERSION=0.37.1
APT_PACKAGES=(
  chromium chromium-driver # headless browser and its WebDriver for every browser test
  firefox-esr              # the second browser the suites run in
  dnsdist                  # DNS-over-HTTPS resolver for the local stack
  unbound ldnsutils        # DNSSEC-validating resolver and zone signing, for the AD bit
  coturn                   # TURN relay, for relay-only connections
  nginx-light              # h2c front for unbound's DoH
  nodejs npm               # PeerServer, PeerJS interop pages, Playwright
  iproute2 util-linux      # ip and unshare, for the test namespaces and the NAT lab
  nftables                 # nft, for tests that break one connection's path, and the NAT lab
  conntrack                # the NAT lab's routers forget their mappings mid-chat
  curl ca-certificates
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for package in "${APT_PACKAGES[@]}"; do
  case "$package" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
# The machine image may ship node and npm outside Debian's packages: keep those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  step "apt: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in clippy rustfmt; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  step "cargo: installing trunk $TRUNK_VERSION (several minutes, once)"
  cargo install --locked "trunk@$TRUNK_VERSION"
fi

# cargo fuzz for the fuzzing step (scripts/fuzz.sh); it runs on the stable toolchain.
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  step "cargo: installing cargo-fuzz $CARGO_FUZZ_VERSION (a minute, once)"
  cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

# geckodriver, Firefox's WebDriver, for the web crate's tests in Firefox.
if [ "$(geckodriver --version 2>/dev/null | awk 'NR == 1 { print $2 }')" != "$GECKODRIVER_VERSION" ]; then
  step "cargo: installing geckodriver $GECKODRIVER_VERSION (a minute, once)"
  cargo install --locked "geckodriver@$GECKODRIVER_VERSION"
fi

# wasm-bindgen-cli must be exactly the wasm-bindgen that Cargo.lock pins.
wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [ -z "$wasm_bindgen_version" ]; then
  echo "setup: Cargo.lock names no wasm-bindgen version" >&2
  exit 1
fi
if ! grep -q "wasm_bindgen = \"$wasm_bindgen_version\"" Trunk.toml; then
  echo "setup: Trunk.toml's [tools] wasm_bindgen must be \"$wasm_bindgen_version\", the version in Cargo.lock" >&2
  exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]; then
  step "cargo: installing wasm-bindgen-cli $wasm_bindgen_version (a few minutes, once)"
  # --locked fails when the CLI's own lock file names a yanked crate; fall back to fresh resolution.
  cargo install --locked wasm-bindgen-cli --version "$wasm_bindgen_version" ||
    cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi

# npm ci only when package-lock.json changed since the last install.
lock_stamp=node_modules/.seedmesh-lock.sha256
if ! sha256sum --status -c "$lock_stamp" 2>/dev/null; then
  step "npm ci"
  npm ci --no-audit --no-fund
  sha256sum package-lock.json >"$lock_stamp"
fi

# Tests run in a network namespace with no way out: fetch every crate now.
cargo fetch --quiet
