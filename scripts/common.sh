# Sourced by the other scripts: the project root as working directory, the tools npm installs
# (wasm-opt from binaryen, the PeerServer) on PATH, and a step banner.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
