#!/usr/bin/env bash
# Short (or long) libFuzzer run of one target against a packed plugin .so.
#
#   FALCO_DENO_FUZZ_PLUGIN=/abs/libdummy_ts.so rust_embed/fuzz/run.sh <target> <budget>
#
#   target   extract_fields | plugin_init | open
#   budget   20 or 20s: seconds;  runs=100000: executions
#
# Env: FALCO_DENO_FUZZ_PLUGIN (required), FALCO_DENO_FUZZ_CONFIG (init config
# of the long-lived state, default {}), FALCO_DENO_CACHE (default
# ~/.cache/falco-deno: build dir target-fuzz, corpus fuzz/corpus/<target>,
# crashes fuzz/artifacts/<target>), FALCO_DENO_FUZZ_LOG (libFuzzer's log,
# default fuzz/<target>.log in the cache: give a long run its own so a
# short one cannot overwrite it), FALCO_DENO_FUZZ_SANITIZER (address,
# the default, or none), FALCO_DENO_FUZZ_JOBS (>1: libFuzzer -fork=N).
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
#
# Last lines of output (parse either):
#   fuzz <target>: ok, <runs> runs in <secs> s (<exec/s> exec/s), corpus <n>, 0 crashes
#   test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out
# On a crash: "fuzz <target>: FAILED ..." with the artifact path, and
# "test result: FAILED. 0 passed; 1 failed; ...", exit code 1.
set -uo pipefail
target=${1:?usage: run.sh <extract_fields|plugin_init|open> <seconds|runs=N>}
budget=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
cache=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}
san=${FALCO_DENO_FUZZ_SANITIZER:-address}
: "${FALCO_DENO_FUZZ_PLUGIN:?set FALCO_DENO_FUZZ_PLUGIN to a packed plugin .so}"
export FALCO_DENO_FUZZ_PLUGIN

case "$target" in
  extract_fields | plugin_init | open) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
case "$budget" in
  runs=*) limit=(-runs="${budget#runs=}") ;;
  *s) limit=(-max_total_time="${budget%s}") ;;
  *) limit=(-max_total_time="$budget") ;;
esac

fail() {
  echo "fuzz $target: FAILED ($1)"
  echo "test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out"
  exit 1
}

tdir=$cache/target-fuzz
(cd "$here/.." && cargo +nightly fuzz build -O -s "$san" --target-dir "$tdir" "$target") >"$cache/fuzz-build.log" 2>&1 ||
  { tail -20 "$cache/fuzz-build.log"; fail "build failed, see $cache/fuzz-build.log"; }
bin=$tdir/x86_64-unknown-linux-gnu/release/$target
corpus=$cache/fuzz/corpus/$target
artifacts=$cache/fuzz/artifacts/$target
mkdir -p "$corpus" "$artifacts"
log=${FALCO_DENO_FUZZ_LOG:-$cache/fuzz/$target.log}
args=("${limit[@]}" -timeout=60 -rss_limit_mb=8192 -max_len=4096 -print_final_stats=1
  -artifact_prefix="$artifacts/" -dict="$here/json.dict")
if [ "${FALCO_DENO_FUZZ_JOBS:-1}" -gt 1 ]; then args+=(-fork="$FALCO_DENO_FUZZ_JOBS" -ignore_crashes=0); fi
# The embed keeps engine-wide state on purpose; leaks are tested elsewhere.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export FALCO_DENO_HOST_QUIET=1
start=$(date +%s.%N)
"$bin" "${args[@]}" "$corpus" "$here/seeds/$target" >"$log" 2>&1
code=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
# -fork=N counts in its progress lines, "#N:" (the total of its jobs); its
# final stats, when stopped, are its own (0 units).
runs=$(grep -aoE '^#[0-9]+:' "$log" | grep -oE '[0-9]+' | tail -1)
[ -z "$runs" ] && runs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
[ -z "$runs" ] && runs=$(grep -aoE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
runs=${runs:-0}
eps=$(grep -aoE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
[ "${eps:-0}" -eq 0 ] && eps=$(echo "$runs / $secs" | bc)
ncorpus=$(find "$corpus" -type f | wc -l)
if [ $code -ne 0 ] && grep -aq 'run interrupted' "$log"; then
  fail "interrupted after $runs runs ($eps exec/s), no crash found; log $log"
fi
if [ $code -eq 0 ] && [ "$runs" -eq 0 ]; then
  fail "no input was executed; log $log"
fi
if [ $code -ne 0 ]; then
  grep -aE 'ERROR|panicked|SUMMARY|Test unit written|deadly signal' "$log" | head -8
  fail "exit $code after $runs runs; log $log; artifacts $artifacts"
fi
printf 'fuzz %s: ok, %s runs in %.0f s (%s exec/s), corpus %s, 0 crashes\n' "$target" "$runs" "$secs" "$eps" "$ncorpus"
echo "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out"
