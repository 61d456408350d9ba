#!/bin/bash
# Runs the C++ (doctest) and Lua test suites, the VIZ program tests and the differential fuzzer of one
# build config and prints, as its last line, "N passed, N failed[, N skipped]" over all.
# usage: [CONFIG=debug] [FUZZ_TIME=s] [FUZZ_SEED=n] tests/run_all.sh   (after `make build`)
# The fuzzer runs FUZZ_TIME seconds (default 20) of cases from seed FUZZ_SEED (default 1)
# against the default device (or FUZZ_DEV), then 5 s of its model check; each graph is
# one pass or failure.
# A runner that crashes or prints no summary counts as one failure.
set -u
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-release}
case "$CONFIG" in
  release) BIN=build/bin ;;
  debug) BIN=build/debug/bin
         export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} ;;
  *) echo "run_all.sh: unknown CONFIG '$CONFIG'" >&2; exit 2 ;;
esac

log=$(mktemp)
XVFB_PID=
trap 'rm -f "$log"; [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null' EXIT
passed=0 failed=0 skipped=0

# run NAME CMD...: shows the output, adds the counts of the summary line that
# extract() finds in it; a non-zero exit with no failures counted is a crash.
run() {
  local name=$1; shift
  echo "== $name: $*"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]} counts p f s
  if counts=$(extract_$name < "$log"); then
    read -r p f s <<< "$counts"
  else
    echo "run_all: $name printed no summary (exit $rc): counted as 1 failure"
    p=0 f=1 s=0
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "run_all: $name exited with status $rc but reported no failure: counted as 1 failure"
    f=1
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# "viz: 5 passed, 0 failed[, 1 skipped]" -> "5 0 1"
extract_viz() {
  sed -n 's/^viz: \([0-9]*\) passed, \([0-9]*\) failed\(, \([0-9]*\) skipped\)\{0,1\}$/\1 \2 \4/p' | tail -n 1 |
    awk '{ print $1, $2, ($3 == "" ? 0 : $3) }' | grep .
}

# The VIZ window tests need a display: without one, start Xvfb for them (and only them: the
# other runners keep the environment they were given). If it cannot start, they skip.
# Sets VIZ_DISPLAY (empty when there is none) and XVFB_PID (the server to stop at the end).
start_viz_display() {
  VIZ_DISPLAY=${DISPLAY:-}
  [ -n "$VIZ_DISPLAY" ] && return
  command -v Xvfb >/dev/null 2>&1 || return
  local n
  for n in $(seq 90 120); do
    if [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; then continue; fi
    Xvfb ":$n" -screen 0 1600x1200x24 -nolisten tcp >/dev/null 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 1 50); do
      if [ -e "/tmp/.X11-unix/X$n" ]; then VIZ_DISPLAY=":$n"; return; fi
      kill -0 "$XVFB_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$XVFB_PID" 2>/dev/null
    XVFB_PID=
  done
}

# "[doctest] test cases: 7 | 7 passed | 0 failed | 0 skipped" -> "7 0 0"
extract_doctest() {
  sed -n 's/^\[doctest\] test cases: *[0-9]* | *\([0-9]*\) passed | *\([0-9]*\) failed | *\([0-9]*\) skipped.*/\1 \2 \3/p' | tail -n 1 | grep .
}
# "fuzz: 5 passed, 0 failed" -> "5 0 0"
extract_fuzz() {
  sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2 0/p' | tail -n 1 | grep .
}
# "lua[CPU]: 5 passed, 0 failed[, 1 skipped]" -> "5 0 1"
extract_lua() {
  sed -n 's/^lua\[[A-Za-z0-9_]*\]: \([0-9]*\) passed, \([0-9]*\) failed\(, \([0-9]*\) skipped\)\{0,1\}$/\1 \2 \4/p' | tail -n 1 |
    awk '{ print $1, $2, ($3 == "" ? 0 : $3) }' | grep .
}

# "cuda_check: 1 passed, 0 failed[, 1 skipped]" -> "1 0 1"
extract_cuda_check() {
  sed -n 's/^cuda_check: \([0-9]*\) passed, \([0-9]*\) failed\(, \([0-9]*\) skipped\)\{0,1\}$/\1 \2 \4/p' | tail -n 1 |
    awk '{ print $1, $2, ($3 == "" ? 0 : $3) }' | grep .
}

run doctest "$BIN/moongrad_tests" --no-intro
# With NVRTC here (no GPU needed), the CPU run of the Lua suite and a training step of the sample
# also compile every kernel for CUDA, sm_90 and sm_80 (CUDA_CHECK, docs/cuda.md).
CUDA_ARCHS=${CUDA_CHECK_ARCHS:-sm_90,sm_80}
if [ -e "${CUDA_PATH:-/usr/local/cuda}/lib64/libnvrtc.so" ] || ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so'; then
  CHECK=$CUDA_ARCHS
else
  CHECK=0
  echo "run_all: no NVRTC (${CUDA_PATH:-/usr/local/cuda}/lib64/libnvrtc.so): kernels are not compiled for CUDA"
fi
# Every Lua test runs on each backend: CPU (compiled) and REF (the oracle it is checked against).
CUDA_CHECK=$CHECK run lua "$BIN/moongrad" tests/lua/run.lua --dev=CPU
CUDA_CHECK=$CHECK run cuda_check "$BIN/moongrad" tests/cuda/train_step_check.lua
run lua "$BIN/moongrad" tests/lua/run.lua --dev=REF
start_viz_display
[ -z "$VIZ_DISPLAY" ] && echo "run_all: no display and Xvfb could not start: the VIZ window tests will skip"
DISPLAY=$VIZ_DISPLAY CONFIG=$CONFIG run viz "$BIN/moongrad" tests/viz/run.lua
run fuzz "$BIN/moongrad" tests/fuzz/fuzz.lua --seed="${FUZZ_SEED:-1}" --time="${FUZZ_TIME:-20}" --model-time=5

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
