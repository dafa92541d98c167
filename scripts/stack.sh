#!/usr/bin/env bash
# The local stack: the real servers a seedmesh page needs, on loopback.
#
#   scripts/stack.sh start DIR [ZONE_FILE]   start them, wait until each answers, write DIR/env
#   scripts/stack.sh stop DIR                stop everything started into DIR
#   scripts/stack.sh restart-peerserver DIR  stop the PeerServer and start it again on its port
#
# Parts: dnsdist serving ZONE_FILE (default tests/fixtures/dev.zone) over DNS-over-HTTPS with CORS,
# and three PeerServers (npm `peer`): the one the dev zone names, a second that the zone's
# failover domain prefers to it, and a third that only the zone's lone domain names (a test stops
# it to leave pages with no PeerServer at all). Each takes the port in its variable below if set, else a free one.
# DIR/env then holds, for `source`:
#   SEEDMESH_DOH_URL          http://127.0.0.1:PORT/dns-query
#   SEEDMESH_DOH_PORT, SEEDMESH_DNS_PORT, SEEDMESH_PEERSERVER_PORT, SEEDMESH_PEERSERVER2_PORT
#   SEEDMESH_PEERSERVER_URL   ws://127.0.0.1:PORT/seedmesh
#   SEEDMESH_PEERSERVER2_PID  the second PeerServer's process, for tests that stop it
#   SEEDMESH_PEERSERVER3_PORT, SEEDMESH_PEERSERVER3_PID  the third's
#   and the discovery test endpoints listed in scripts/stack-dns.sh
#   and the TURN relay listed in scripts/stack-turn.sh
#   SEEDMESH_STACK_DIR        DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"
# shellcheck source=scripts/stack-dns.sh
source "$root/scripts/stack-dns.sh"
# shellcheck source=scripts/stack-turn.sh
source "$root/scripts/stack-turn.sh"

# A port nothing listens on, and not one this stack was given or handed out already (the system
# may hand out a port again once the probe closes it; two services on one port fail to start).
free_port() {
  local taken=${SEEDMESH_PORTS_TAKEN:-/dev/null} port
  for _ in $(seq 50); do
    port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
    if ! grep -qx "$port" "$taken"; then
      [ "$taken" = /dev/null ] || echo "$port" >>"$taken"
      echo "$port"
      return 0
    fi
  done
  echo "stack: no free port found" >&2
  return 1
}

start_peerserver() { # start_peerserver DIR [NAME PORT]: NAME defaults to peerserver on SEEDMESH_PEERSERVER_PORT
  local dir=$1 name=${2:-peerserver} port=${3:-$SEEDMESH_PEERSERVER_PORT}
  node "$root/node_modules/peer/dist/bin/peerjs.js" --port "$port" \
    --path /seedmesh --key peerjs --allow_discovery --expire_timeout 5000 --alive_timeout 60000 \
    >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
  wait_for "PeerServer $name" "$dir/$name.log" curl -sf -o /dev/null "http://127.0.0.1:$port/seedmesh"
}

restart_peerserver() {
  local dir=$1 pid
  # shellcheck disable=SC1091
  source "$dir/env"
  pid=$(cat "$dir/peerserver.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  start_peerserver "$dir"
}

start() {
  local dir=$1 zone=${2:-$root/tests/fixtures/dev.zone}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  stop "$dir" 2>/dev/null || true

  # The ports given in the environment, and each one handed out below, are taken.
  export SEEDMESH_PORTS_TAKEN="$dir/ports.taken"
  env | sed -n 's/^SEEDMESH_[A-Z0-9_]*_PORT=\([0-9][0-9]*\)$/\1/p' >"$SEEDMESH_PORTS_TAKEN"
  export SEEDMESH_DOH_PORT=${SEEDMESH_DOH_PORT:-$(free_port)}
  export SEEDMESH_DNS_PORT=${SEEDMESH_DNS_PORT:-$(free_port)}
  export SEEDMESH_PEERSERVER_PORT=${SEEDMESH_PEERSERVER_PORT:-$(free_port)}
  export SEEDMESH_PEERSERVER2_PORT=${SEEDMESH_PEERSERVER2_PORT:-$(free_port)}
  export SEEDMESH_PEERSERVER3_PORT=${SEEDMESH_PEERSERVER3_PORT:-$(free_port)}
  export SEEDMESH_DOH_URL="http://127.0.0.1:$SEEDMESH_DOH_PORT/dns-query"
  export SEEDMESH_PEERSERVER_URL="ws://127.0.0.1:$SEEDMESH_PEERSERVER_PORT/seedmesh"

  : >"$dir/peerserver.log"
  : >"$dir/peerserver2.log"
  : >"$dir/peerserver3.log"
  start_peerserver "$dir"
  start_peerserver "$dir" peerserver2 "$SEEDMESH_PEERSERVER2_PORT"
  start_peerserver "$dir" peerserver3 "$SEEDMESH_PEERSERVER3_PORT"
  export SEEDMESH_PEERSERVER2_PID SEEDMESH_PEERSERVER3_PID
  SEEDMESH_PEERSERVER2_PID=$(cat "$dir/peerserver2.pid")
  SEEDMESH_PEERSERVER3_PID=$(cat "$dir/peerserver3.pid")
  stack_turn_start "$dir"

  # The zone plus the discovery test zone, and the extra DoH endpoints (scripts/stack-dns.sh).
  stack_dns_zone "$dir" "$zone"
  node "$root/scripts/dnsdist-conf.mjs" "$dir/zone" "$SEEDMESH_DOH_PORT" "$SEEDMESH_DNS_PORT" >"$dir/dnsdist.conf"
  stack_dns_conf "$dir"
  dnsdist --supervised --disable-syslog -C "$dir/dnsdist.conf" >"$dir/dnsdist.log" 2>&1 &
  echo $! >"$dir/dnsdist.pid"

  # A TXT query for the dev zone's seed name, base64url without padding.
  local query=AAABAAABAAAAAAAACV9zZWVkbWVzaAhzZWVkbWVzaAR0ZXN0AAAQAAE
  wait_for dnsdist "$dir/dnsdist.log" curl -sf -o /dev/null "$SEEDMESH_DOH_URL?dns=$query"
  stack_dns_start "$dir"

  {
    for var in SEEDMESH_DOH_URL SEEDMESH_DOH_PORT SEEDMESH_DNS_PORT SEEDMESH_PEERSERVER_PORT \
      SEEDMESH_PEERSERVER_URL SEEDMESH_PEERSERVER2_PORT SEEDMESH_PEERSERVER2_PID \
      SEEDMESH_PEERSERVER3_PORT SEEDMESH_PEERSERVER3_PID; do
      printf 'export %s=%q\n' "$var" "${!var}"
    done
    stack_dns_env
    stack_turn_env
    printf 'export SEEDMESH_STACK_DIR=%q\n' "$dir"
  } >"$dir/env"
  echo "stack: DoH at $SEEDMESH_DOH_URL, PeerServer at $SEEDMESH_PEERSERVER_URL"
}

stop() {
  local dir=$1 pid
  for pidfile in "$dir"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-}" in
  start) start "${2:?usage: stack.sh start DIR [ZONE_FILE]}" "${3:-}" ;;
  stop) stop "${2:?usage: stack.sh stop DIR}" ;;
  restart-peerserver) restart_peerserver "${2:?usage: stack.sh restart-peerserver DIR}" ;;
  *) echo "usage: stack.sh start DIR [ZONE_FILE] | stop DIR | restart-peerserver DIR" >&2; exit 2 ;;
esac
