#!/usr/bin/env bash
# Sets up, starts the local stack, and serves the page at http://127.0.0.1:8080/ with live reload.
# The page is built to discover the network from the local DoH resolver's dev zone, so tabs of it
# meet with no configuration. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/common.sh"

scripts/setup.sh

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Fixed ports when free, so the addresses stay the same between runs.
port_free 8053 && export SEEDMESH_DOH_PORT=${SEEDMESH_DOH_PORT:-8053}
port_free 9000 && export SEEDMESH_PEERSERVER_PORT=${SEEDMESH_PEERSERVER_PORT:-9000}

state=target/dev-stack
trap 'scripts/stack.sh stop "$state"' EXIT
scripts/stack.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"

# Build-time configuration of the page (see src/config.rs).
export SEEDMESH_SEED_DOMAIN=seedmesh.test
export SEEDMESH_DOH_RESOLVERS=$SEEDMESH_DOH_URL
trunk serve --address 127.0.0.1 --port "${PORT:-8080}"
