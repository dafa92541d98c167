#!/usr/bin/env bash
# Runs a command in a private network namespace, so that browser tests cannot reach, or be
# reached from, anything outside it.
#
#   scripts/netns.sh COMMAND [ARGS...]
#
# The namespace has loopback and one veth pair, sm-lan0 (10.254.0.1/30) and its peer sm-lan1.
# The default route points at the pair, and nftables rejects every packet that would leave
# through it, so nothing leaves and a connection to any other address fails at once. The pair is
# there for Firefox: its WebRTC gathers candidates on the default route's interface only and
# gathers none at all in a namespace with loopback alone.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: netns.sh COMMAND [ARGS...]" >&2; exit 2; }

inner='
set -e
ip link set lo up
ip link add sm-lan0 type veth peer name sm-lan1
ip addr add 10.254.0.1/30 dev sm-lan0
ip addr add 10.254.0.2/30 dev sm-lan1
ip link set sm-lan0 up
ip link set sm-lan1 up
ip route add default via 10.254.0.2 dev sm-lan0
nft -f - <<RULES
table inet seedmesh_netns {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "sm-lan0" reject
  }
}
RULES
exec "$@"'
if [ "${SEEDMESH_NETNS:-}" = 1 ]; then
  exec "$@"
elif [ "$(id -u)" = 0 ]; then
  exec unshare --net -- env SEEDMESH_NETNS=1 bash -c "$inner" netns "$@"
elif unshare --user --map-root-user --net true 2>/dev/null; then
  exec unshare --user --map-root-user --net -- env SEEDMESH_NETNS=1 bash -c "$inner" netns "$@"
else
  echo "netns: cannot make a private network namespace: run as root (sudo make test)," \
    "or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)." >&2
  exit 1
fi
