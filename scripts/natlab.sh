#!/usr/bin/env bash
# The NAT lab: runs COMMAND beside a small internet of network namespaces, with browsers behind
# NATs of different kinds.
#
#   scripts/natlab.sh COMMAND [ARGS...]
#
#   pub              the "internet": 203.0.113.1 on a bridge, with the DoH resolver (dnsdist,
#                    serving tests/natlab/lab.zone), a PeerServer, and coturn as STUN and TURN
#                    (UDP and TCP, port 3478; relayed addresses on 203.0.113.2)
#   r-HOME           one router per home: WAN 203.0.113.(10+N) on the bridge, LAN 10.0.N.1/24,
#                    forwarding through nftables NAT of the home's kind
#   HOME             the home: 10.0.N.2/24, default route through its router; runs
#                    tests/natlab/home.mjs (the page on 127.0.0.1:8080, the resolver and the
#                    PeerServer forwarded from 127.0.0.1) and its browsers
#
# Every router drops what arrives at its WAN address unasked, as home routers do. (Accepted, such a
# packet would leave a connection-tracking entry whose reply side is the very mapping the home's
# own packets to that sender need, and the home would be mapped to another port.)
#
# Kinds of NAT:
#   cone             endpoint-independent mapping and filtering: the mapped port keeps the host's
#                    port, and whatever arrives at it is let in
#   restricted       endpoint-independent mapping, address-and-port-dependent filtering (Linux
#                    masquerade as it is): only replies from where the host sent are let in
#   symmetric        endpoint-dependent mapping: a new random port for every destination
#   udp-blocked      port-restricted, behind a firewall that drops all UDP: only TCP goes out
#
# COMMAND runs with SEEDMESH_NATLAB_HOMES (JSON: each home's kind, router namespace, and scripts
# that start Chromium and Firefox inside it) and SEEDMESH_NATLAB_DIR (logs, state). Everything runs in
# private mount and PID namespaces: /run/netns is the lab's own, and when this script ends, or is
# killed, every process of the lab is killed and its network namespaces go with them. Nothing is
# connected to the machine's own network. Needs root.
set -euo pipefail
source "$(dirname "$0")/common.sh"
[ $# -gt 0 ] || { echo "usage: natlab.sh COMMAND [ARGS...]" >&2; exit 2; }

if [ "${SEEDMESH_NATLAB:-}" != 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "natlab: the NAT lab makes named network namespaces and NAT rules, which needs root:" \
      "run sudo make test (or SEEDMESH_SKIP_NATLAB=1 make test to leave the lab out)" >&2
    exit 1
  fi
  exec unshare --mount --propagation private --pid --fork --kill-child --mount-proc \
    -- env SEEDMESH_NATLAB=1 "$0" "$@"
fi

HOMES=(
  "cone-a cone" "cone-b cone"
  "restricted-a restricted" "restricted-b restricted"
  "symmetric-a symmetric" "symmetric-b symmetric"
  "firewalled udp-blocked"
)
PUBLIC=203.0.113.1
RELAY=203.0.113.2 # coturn's relayed addresses
DOH_PORT=8053 # the port the release build of the page asks, on 127.0.0.1
DNS_PORT=5300
PEERSERVER_PORT=9000
TURN_PORT=3478

dir=${SEEDMESH_NATLAB_DIR:-$PWD/target/natlab}
rm -rf "$dir"
mkdir -p "$dir" /run/netns
mount -t tmpfs natlab /run/netns
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# The internet.
ip netns add pub
in_ns pub ip link set lo up
in_ns pub ip link add br0 type bridge
in_ns pub ip addr add "$PUBLIC/24" dev br0
in_ns pub ip addr add "$RELAY/24" dev br0
in_ns pub ip link set br0 up
# The rest of the internet: a default route into a veth pair whose far end forwards nothing, so
# packets for anywhere else are sent and vanish. Without one, coturn's relayed sends to a home's
# private address fail at once (network unreachable), and coturn ends the whole allocation over
# it; on the internet they are sent and lost.
in_ns pub ip link add sink0 type veth peer name sink1
in_ns pub ip addr add 198.51.100.1/30 dev sink0
in_ns pub ip addr add 198.51.100.2/30 dev sink1
in_ns pub ip link set sink0 up
in_ns pub ip link set sink1 up
in_ns pub ip route add default via 198.51.100.2 dev sink0

nat_rules() { # nat_rules KIND HOST_ADDRESS: the router's nftables rules for that kind of NAT
  local kind=$1 host=$2 masquerade="masquerade" inbound="" firewall=""
  case "$kind" in
    cone) inbound="iifname \"wan\" meta l4proto udp dnat ip to $host" ;;
    restricted) ;;
    symmetric) masquerade="masquerade fully-random" ;;
    udp-blocked) firewall="iifname \"lan\" meta l4proto udp drop" ;;
    *) echo "natlab: unknown kind of NAT: $kind" >&2; return 1 ;;
  esac
  cat <<RULES
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    $inbound
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" $masquerade
  }
}
table ip filter {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    $firewall
  }
}
RULES
}

n=0
homes=()
for entry in "${HOMES[@]}"; do
  read -r home kind <<<"$entry"
  n=$((n + 1))
  router="r-$home"
  ip netns add "$router"
  ip netns add "$home"
  in_ns "$router" ip link set lo up
  in_ns "$home" ip link set lo up
  # WAN: the router's side in its namespace, the other end on the internet's bridge.
  ip link add wan netns "$router" type veth peer name "wan-$n" netns pub
  in_ns pub ip link set "wan-$n" master br0 up
  in_ns "$router" ip addr add "203.0.113.$((10 + n))/24" dev wan
  in_ns "$router" ip link set wan up
  # LAN: the router and the home.
  ip link add lan netns "$router" type veth peer name eth0 netns "$home"
  in_ns "$router" ip addr add "10.0.$n.1/24" dev lan
  in_ns "$router" ip link set lan up
  in_ns "$home" ip addr add "10.0.$n.2/24" dev eth0
  in_ns "$home" ip link set eth0 up
  in_ns "$home" ip route add default via "10.0.$n.1"
  in_ns "$router" sysctl -qw net.ipv4.ip_forward=1
  nat_rules "$kind" "10.0.$n.2" >"$dir/$router.nft"
  in_ns "$router" nft -f "$dir/$router.nft"
  # Chromium and Firefox, started in the home.
  printf '#!/bin/sh\nexec ip netns exec %q /usr/bin/chromium "$@"\n' "$home" >"$dir/chromium-$home"
  printf '#!/bin/sh\nexec ip netns exec %q /usr/bin/firefox-esr "$@"\n' "$home" >"$dir/firefox-$home"
  chmod +x "$dir/chromium-$home" "$dir/firefox-$home"
  homes+=("$home" "$kind" "$router" "$dir/chromium-$home" "$dir/firefox-$home")
done
homes_json=$(node -e '
  const [, ...fields] = process.argv;
  const homes = {};
  for (let i = 0; i < fields.length; i += 5) {
    homes[fields[i]] = { kind: fields[i + 1], router: fields[i + 2], chromium: fields[i + 3], firefox: fields[i + 4] };
  }
  console.log(JSON.stringify(homes));
' "${homes[@]}")

# The public servers.
export SEEDMESH_PEERSERVER_PORT=$PEERSERVER_PORT
export SEEDMESH_TURN_USERNAME=seedmesh SEEDMESH_TURN_CREDENTIAL=seedmesh-lab-turn
export SEEDMESH_LAB_ICE="stun:$PUBLIC:$TURN_PORT,turn:$PUBLIC:$TURN_PORT?transport=udp,turn:$PUBLIC:$TURN_PORT?transport=tcp"

in_ns pub node node_modules/peer/dist/bin/peerjs.js --port "$PEERSERVER_PORT" \
  --path /seedmesh --key peerjs --allow_discovery --expire_timeout 5000 --alive_timeout 60000 \
  >"$dir/peerserver.log" 2>&1 &

in_ns pub turnserver -n --listening-ip="$PUBLIC" --relay-ip="$RELAY" --listening-port="$TURN_PORT" \
  --min-port=49152 --max-port=49452 --lt-cred-mech --fingerprint \
  --user="$SEEDMESH_TURN_USERNAME:$SEEDMESH_TURN_CREDENTIAL" --realm=seedmesh.test \
  --no-tls --no-dtls --no-cli --no-software-attribute \
  --log-file=stdout --simple-log --userdb="$dir/turndb" --pidfile="$dir/turnserver.pid" \
  >"$dir/turnserver.log" 2>&1 &

SEEDMESH_DNS_ADDRESS=$PUBLIC node scripts/dnsdist-conf.mjs tests/natlab/lab.zone "$DOH_PORT" "$DNS_PORT" >"$dir/dnsdist.conf"
in_ns pub dnsdist --supervised --disable-syslog -C "$dir/dnsdist.conf" >"$dir/dnsdist.log" 2>&1 &

dist=${SEEDMESH_DIST:-$PWD/dist}
for entry in "${HOMES[@]}"; do
  read -r home _ <<<"$entry"
  in_ns "$home" node tests/natlab/home.mjs "$dist" "$PUBLIC" "$DOH_PORT" "$PEERSERVER_PORT" \
    >"$dir/home-$home.log" 2>&1 &
done

# Ready when each home reaches every server through its NAT.
query=AAABAAABAAAAAAAACV9zZWVkbWVzaARjb25lCHNlZWRtZXNoBHRlc3QAABAAAQ # TXT _seedmesh.cone.seedmesh.test
for entry in "${HOMES[@]}"; do
  read -r home kind <<<"$entry"
  wait_for "the page server in $home" "$dir/home-$home.log" in_ns "$home" curl -sf -o /dev/null http://127.0.0.1:8080/
  wait_for "DoH from $home" "$dir/dnsdist.log" in_ns "$home" curl -sf -o /dev/null "http://127.0.0.1:$DOH_PORT/dns-query?dns=$query"
  wait_for "the PeerServer from $home" "$dir/peerserver.log" in_ns "$home" curl -sf -o /dev/null "http://127.0.0.1:$PEERSERVER_PORT/seedmesh"
done
wait_for "coturn on UDP" "$dir/turnserver.log" in_ns pub bash -c "ss -Hlun 'sport = :$TURN_PORT' | grep -q ."
wait_for "coturn on TCP" "$dir/turnserver.log" in_ns pub bash -c "ss -Hltn 'sport = :$TURN_PORT' | grep -q ."

echo "natlab: ${#HOMES[@]} homes behind NATs, servers at $PUBLIC (logs in $dir)"
SEEDMESH_NATLAB_HOMES=$homes_json SEEDMESH_NATLAB_DIR=$dir "$@"
