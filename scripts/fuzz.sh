#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of every parser of outside data: DoH answers,
# seed records, PeerServer messages, data-channel frames, mesh messages after a proven hello,
# BinaryPack messages and chunks from PeerJS peers,
# and invites. Each target runs with a 1 GiB memory limit and a 10 s limit per input; a crash,
# a hang or an allocation past the limit fails the run and leaves the input under
# crates/seedmesh-core/fuzz/artifacts/.
#
#   scripts/fuzz.sh               each target for 20 s (what `make test` runs)
#   scripts/fuzz.sh 600           each target for 600 s
#   scripts/fuzz.sh runs 10000000 each target for ten million inputs
#   scripts/fuzz.sh ... TARGET    one target only
set -euo pipefail
source "$(dirname "$0")/common.sh"

TARGETS=(dns_answer seed_records signaling_message channel_frames mesh_messages invite binarypack)
limit=(-max_total_time="${1:-20}")
if [ "${1:-}" = runs ]; then
  limit=(-runs="${2:?how many runs}")
  shift 2
elif [ $# -gt 0 ]; then
  shift
fi
[ $# -gt 0 ] && TARGETS=("$@")

cd crates/seedmesh-core
for target in "${TARGETS[@]}"; do
  step "fuzzing $target (${limit[*]})"
  # Known inputs first: the regression inputs kept in the repository, then what earlier runs
  # found (the corpus directory, not kept).
  mkdir -p "fuzz/corpus/$target"
  # --sanitizer none: the stable toolchain has no sanitizers; libFuzzer still finds panics,
  # hangs and runaway allocations.
  mkdir -p fuzz/artifacts
  log="fuzz/artifacts/$target.log"
  rc=0
  cargo fuzz run --sanitizer none "$target" "fuzz/corpus/$target" "fuzz/regressions/$target" -- \
    "${limit[@]}" -rss_limit_mb=1024 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)' "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz: $target failed; the input is under crates/seedmesh-core/fuzz/artifacts/$target/" >&2
    exit "$rc"
  fi
done
