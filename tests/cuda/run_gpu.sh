#!/bin/bash
# make test-gpu: on a machine with an NVIDIA GPU and driver, the whole Lua suite with DEV=CUDA
# (its expected values are REF's), the differential fuzzer against REF on CUDA, and the sample
# trained on CUDA, whose test accuracy must match the CPU's within 1.5 points (same seed; sums
# run in another order, so not bit for bit). Without a driver it says so and exits 0.
# Last line: "N passed, N failed[, N skipped]".
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
if ! why=$("$BIN/moongrad" tests/cuda/has_cuda.lua); then
  echo "test-gpu: skipped: $why"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
passed=0 failed=0
count() {  # count NAME STATUS
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "test-gpu: $1 passed"
  else failed=$((failed + 1)); echo "test-gpu: $1 FAILED"; fi
}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

"$BIN/moongrad" tests/lua/run.lua --dev=CUDA 2>&1 | tee "$log"
count "lua suite on CUDA" "${PIPESTATUS[0]}"
"$BIN/moongrad" tests/fuzz/fuzz.lua --dev=CUDA --seed="${FUZZ_SEED:-1}" --time="${FUZZ_TIME:-60}" 2>&1 | tail -n 5
count "fuzzer, CUDA against REF" "${PIPESTATUS[0]}"

acc() { sed -n 's/^.*test accuracy \([0-9.]*\)%.*$/\1/p' "$1" | tail -n 1; }
DEV=CUDA "$BIN/moongrad" samples/beautiful_mnist.lua 2>&1 | tr '\r' '\n' | tee "$log" | tail -n 2
gpu=$(acc "$log")
DEV=CPU "$BIN/moongrad" samples/beautiful_mnist.lua 2>&1 | tr '\r' '\n' > "$log.cpu"
cpu=$(acc "$log.cpu")
rm -f "$log.cpu"
echo "test-gpu: sample test accuracy: CUDA ${gpu:-none}%, CPU ${cpu:-none}%"
ok=1
[ -n "$gpu" ] && [ -n "$cpu" ] && awk -v a="$gpu" -v b="$cpu" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1.5) }' && ok=0
count "sample trains on CUDA to the CPU's accuracy" "$ok"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
