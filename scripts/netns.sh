#!/usr/bin/env bash
# Runs a command in a private network namespace that has only loopback, so that browser tests
# cannot reach, or be reached from, anything but 127.0.0.1.
#
#   scripts/netns.sh COMMAND [ARGS...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: netns.sh COMMAND [ARGS...]" >&2; exit 2; }

inner='ip link set lo up && exec "$@"'
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
