#!/usr/bin/env bash
# Builds Wharf twice (release, and ASan+UBSan) and runs every test against
# both: the GoogleTest unit tests and the pytest integration tests that drive
# the real binary with curl, raw sockets and skopeo. Ends with the line
# "N passed, N failed", counted from the JUnit XML of every run.
#
#   tests/run.sh            both builds
#   WHARF_BUILDS=release tests/run.sh   only one
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/build-results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
BUILDS=${WHARF_BUILDS:-"release asan"}
PY=/usr/bin/python3
rc=0

setup() {  # name, meson args... (CC and CXX from the environment)
  local dir=build-$1
  shift
  # A tree configured with other arguments or another compiler (an older
  # checkout's) is configured afresh, so that it matches what this script says.
  local stamp="CC=${CC:-} CXX=${CXX:-} $*"
  if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$dir/.wharf-setup" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$dir"
    meson setup "$dir" "$@" >"$RESULTS/setup-$(basename "$dir").log" 2>&1 || {
      cat "$RESULTS/setup-$(basename "$dir").log"; return 1; }
    echo "$stamp" >"$dir/.wharf-setup"
  fi
  ninja -C "$dir" >"$RESULTS/build-$(basename "$dir").log" 2>&1 || {
    tail -50 "$RESULTS/build-$(basename "$dir").log"; return 1; }
  if grep -q "warning:" "$RESULTS/build-$(basename "$dir").log"; then
    echo "compiler warnings in $dir:"; grep -A3 "warning:" "$RESULTS/build-$(basename "$dir").log"
    return 1
  fi
}

# Runs a command as one test case in $RESULTS/<name>.xml; prints its tail on failure.
smoke() {
  local name=$1
  shift
  local log="$RESULTS/$name.log"
  if "$@" >"$log" 2>&1; then
    echo "<testsuite name='$name' tests='1'><testcase name='$name'/></testsuite>" >"$RESULTS/$name.xml"
  else
    tail -30 "$log"
    echo "<testsuite name='$name' tests='1' failures='1'><testcase name='$name'><failure/></testcase></testsuite>" \
      >"$RESULTS/$name.xml"
    rc=1
  fi
}

for b in $BUILDS; do
  # The sanitizer build uses clang: g++ takes four times as long to compile
  # this code with ASan+UBSan (7 min against 2 on 2 cores), and a second
  # compiler sees warnings the first does not. The fuzz build uses clang too.
  cc=${CC:-}; cxx=${CXX:-}
  case $b in
    release) args=(--buildtype=release) ;;
    asan) args=(--buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false)
          cc=clang; cxx=clang++ ;;
    *) echo "unknown build $b"; exit 2 ;;
  esac
  echo "== build $b"
  if ! CC=$cc CXX=$cxx setup "$b" "${args[@]}"; then
    echo "build $b failed"
    echo "<testsuite name='build-$b' tests='1' failures='1'><testcase name='build'><failure/></testcase></testsuite>" \
      >"$RESULTS/$b-build.xml"
    rc=1
    continue
  fi
  # BoringSSL and OpenSSL 3 must never share a process.
  if ldd "build-$b/src/wharf" | grep -Eq 'lib(ssl|crypto)\.so\.3' && ldd "build-$b/src/wharf" | grep -Eq 'lib(ssl|crypto)\.so\.0'; then
    echo "build $b links both BoringSSL and OpenSSL 3"; rc=1
  fi
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
  echo "== unit tests ($b)"
  "build-$b/tests/unit_tests" --gtest_output="xml:$RESULTS/$b-unit.xml" >"$RESULTS/$b-unit.log" 2>&1 || {
    grep -E "FAILED|Failure|ERROR|runtime error" "$RESULTS/$b-unit.log" | head -50; rc=1; }
  tail -3 "$RESULTS/$b-unit.log"
  echo "== integration tests ($b)"
  # Memory ceilings are only meaningful without the sanitizers' shadow memory.
  sanitized=0; [ "$b" = asan ] && sanitized=1
  # The chaos test's 20 kill -9 cycles run in the release build; the
  # sanitizer build repeats 8 of them, which is where memory errors show.
  cycles=20; [ "$b" = asan ] && cycles=8
  WHARF_CHAOS_CYCLES=$cycles WHARF_CHAOS_REPORT="$RESULTS/reliability-$b.txt" \
  WHARF_SANITIZED=$sanitized WHARF_BIN=$ROOT/build-$b/src/wharf $PY -m pytest -q -p no:cacheprovider \
    --junitxml="$RESULTS/$b-integration.xml" tests/integration || rc=1
  cat "$RESULTS/reliability-$b.txt" 2>/dev/null
  if [ "$b" = release ]; then
    # Benchmarks in smoke mode: they must run, their timings are not judged.
    echo "== benchmark smoke ($b)"
    smoke bench-micro "build-$b/bench/micro_bench" --benchmark_min_time=0.01
    smoke bench-compare bench/compare.sh --short --wharf "build-$b/src/wharf" \
      --bench "build-$b/bench/wharf-bench"
    tail -4 "$RESULTS/bench-compare.log"
    smoke bench-keepalive $PY bench/upstream_keepalive.py --bench "build-$b/bench/wharf-bench" --pairs 4 --pause 0
  fi
done

# libFuzzer targets (clang, ASan+UBSan), each for a bounded time; a crash fails.
FUZZ_SECONDS=${WHARF_FUZZ_SECONDS:-20}
if [ "$FUZZ_SECONDS" != 0 ]; then
  echo "== fuzz (${FUZZ_SECONDS}s per target)"
  RESULTS=$RESULTS tests/fuzz/run.sh "$FUZZ_SECONDS" || rc=1
fi

$PY tests/summarize.py "$RESULTS"/*.xml || rc=1
exit $rc
