# Sourced by scripts/stack.sh: a TURN relay (coturn) on 127.0.0.1 for relay-only connections.
#
# coturn listens on SEEDMESH_TURN_PORT (a free port if unset) with one static long-term user,
# relays on 127.0.0.1 only, and allows loopback peers, which the test namespace's only network is.
# DIR/env then also holds:
#   SEEDMESH_TURN_URL         turn:127.0.0.1:PORT?transport=udp
#   SEEDMESH_TURN_USERNAME, SEEDMESH_TURN_CREDENTIAL
#   SEEDMESH_TURN_PORT

stack_turn_start() { # stack_turn_start DIR
  local dir=$1
  export SEEDMESH_TURN_PORT=${SEEDMESH_TURN_PORT:-$(free_port)}
  export SEEDMESH_TURN_URL="turn:127.0.0.1:$SEEDMESH_TURN_PORT?transport=udp"
  export SEEDMESH_TURN_USERNAME=seedmesh
  export SEEDMESH_TURN_CREDENTIAL=seedmesh-local-turn
  # Relay ports: a small range just above the listening port.
  local min=$((SEEDMESH_TURN_PORT + 1)) max=$((SEEDMESH_TURN_PORT + 200))
  if [ "$max" -gt 65535 ]; then min=49152 max=49352; fi
  turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$SEEDMESH_TURN_PORT" \
    --min-port="$min" --max-port="$max" --lt-cred-mech --fingerprint \
    --user="$SEEDMESH_TURN_USERNAME:$SEEDMESH_TURN_CREDENTIAL" --realm=seedmesh.test \
    --allow-loopback-peers --no-tls --no-dtls --no-cli --no-software-attribute \
    --log-file=stdout --simple-log --userdb="$dir/turndb" --pidfile="$dir/turnserver.pidfile" \
    >"$dir/turnserver.log" 2>&1 &
  echo $! >"$dir/turnserver.pid"
  # Ready when it listens on the UDP port.
  wait_for coturn "$dir/turnserver.log" bash -c "ss -Hlun 'sport = :$SEEDMESH_TURN_PORT' | grep -q ."
}

stack_turn_env() {
  for var in SEEDMESH_TURN_URL SEEDMESH_TURN_USERNAME SEEDMESH_TURN_CREDENTIAL SEEDMESH_TURN_PORT; do
    printf 'export %s=%q\n' "$var" "${!var}"
  done
}
