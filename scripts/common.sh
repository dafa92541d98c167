# Sourced by the other scripts: the project root as working directory, the tools npm installs
# (wasm-opt from binaryen, the PeerServer) on PATH, a step banner, and a wait for a server.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

wait_for() { # wait_for WHAT LOG COMMAND...: retries COMMAND for up to 15 s
  local what=$1 log=$2
  shift 2
  for _ in $(seq 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "$what did not become ready in 15 s; its log ($log):" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}
