#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan+fuzzer coverage) in
# build-fuzz/ and runs each one for a bounded time, starting from the seed
# corpus in tests/fuzz/corpus/<target>/ (copied, so the repository's seeds
# stay small). A crash, leak or sanitizer report fails the target; the input
# that caused it is kept in build-fuzz/findings/<target>/.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 20, all)
# With RESULTS=dir set, writes dir/fuzz-<target>.xml (JUnit) for tests/run.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-20}
shift || true
TARGETS=${*:-"http_request manifest ranges names challenge config"}
B=build-fuzz
build_failed() {
  if [ -n "${RESULTS:-}" ]; then
    echo "<testsuite name='fuzz-build' tests='1' failures='1'><testcase name='fuzz-build'><failure/></testcase></testsuite>" \
      >"$RESULTS/fuzz-build.xml"
  fi
  exit 1
}
mkdir -p "$B"  # an empty build directory is fine for meson, and holds the logs
if [ ! -f "$B/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$B" -Dfuzz=true -Dtests=false -Dbench=false \
    -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized >"$B/setup.log" 2>&1 ||
    { cat "$B/setup.log"; build_failed; }
fi
ninja -C "$B" >"$B/build.log" 2>&1 || { tail -40 "$B/build.log"; build_failed; }
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
rc=0
for t in $TARGETS; do
  work="$B/corpus/$t"
  found="$B/findings/$t"
  mkdir -p "$work" "$found"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
  log="$B/fuzz-$t.log"
  "$B/tests/fuzz/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$found/" -print_final_stats=1 "$work" >"$log" 2>&1
  status=$?
  execs=$(grep -Eo "stat::number_of_executed_units: *[0-9]+" "$log" | grep -Eo "[0-9]+$" || echo 0)
  cov=$(grep -Eo "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1)
  if [ $status -eq 0 ]; then
    echo "fuzz $t: ok, ${execs:-0} execs in ${SECS}s, $cov, corpus $(ls "$work" | wc -l)"
    xml="<testsuite name='fuzz-$t' tests='1'><testcase name='fuzz-$t'/></testsuite>"
  else
    echo "fuzz $t: FAILED (exit $status); input in $found/"
    grep -E "ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -10
    xml="<testsuite name='fuzz-$t' tests='1' failures='1'><testcase name='fuzz-$t'><failure/></testcase></testsuite>"
    rc=1
  fi
  if [ -n "${RESULTS:-}" ]; then echo "$xml" >"$RESULTS/fuzz-$t.xml"; fi
done
exit $rc
