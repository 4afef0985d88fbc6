#!/usr/bin/env bash
# Usage: tests/fuzz/run.sh [--runs N | --minutes N] [--no-build] [TARGET...]
#
# Builds the libFuzzer targets (tests/fuzz/build.sh, into build-fuzz/) and
# runs each over its seed corpus, tests/fuzz/corpus/TARGET/, plus a working
# corpus in build-fuzz/corpus/TARGET/ that keeps what earlier runs found.
# Targets: frame, request, csv, config (default: all).
#
#   (default)     a bounded number of runs per target, and at most 20 s
#                 each, about a minute in all (this is what tests/run.sh does)
#   --runs N      N runs per target, however long they take
#   --minutes N   N minutes per target: a real fuzzing session
#   --no-build    use build-fuzz/ as it is
#
# A crash, a leak, an undefined-behaviour report or a broken invariant fails
# the target; the input is saved as build-fuzz/artifacts/TARGET-crash-...
# (or leak-, timeout-, oom-) and the end of the fuzzer's log is printed.
# Reproduce with: build-fuzz/tests/fuzz/fuzz_TARGET ARTIFACT. Once fixed,
# copy the input to tests/fuzz/corpus/TARGET/crash-<what> as a regression.
# The last line is "fuzz: N passed, N failed" (targets); exit 0 when none
# failed.

# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail
PROG=fuzz/run.sh
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"
BUILD=$ROOT/build-fuzz

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

# Default runs: about 12 s of CPU time each on a 2-core CI machine (the CSV
# reader allocates its 64 KiB buffer per input, the config targets write a
# file per input, so they do fewer). As a target's corpus grows its inputs
# get slower, and a loaded machine is slower still: the default also stops
# each target after DEFAULT_SECONDS.
declare -A DEFAULT_RUNS=([frame]=3000000 [request]=4000000 [csv]=300000 [config]=250000 [intake]=300000)
DEFAULT_SECONDS=20
ALL=(frame request csv config intake)

RUNS=
MINUTES=
BUILD_FIRST=1
TARGETS=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --runs)
        [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage
        RUNS=$2
        shift
        ;;
    --minutes)
        [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage
        MINUTES=$2
        shift
        ;;
    --no-build) BUILD_FIRST=0 ;;
    frame | request | csv | config | intake) TARGETS+=("$1") ;;
    *) usage ;;
    esac
    shift
done
[[ -z $RUNS || -z $MINUTES ]] || usage
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL[@]}")

if ((BUILD_FIRST)); then
    note "building the fuzz targets in $BUILD"
    quietly "$ROOT/tests/fuzz/build.sh" "$BUILD" || die "build of the fuzz targets failed"
fi

# run_target NAME: 0 when the fuzzer finished its runs without a finding.
run_target() {
    local name=$1 bin=$BUILD/tests/fuzz/fuzz_$1 log=$BUILD/logs/$1.log limit
    [[ -x $bin ]] || {
        note "$bin is missing: run tests/fuzz/build.sh"
        return 1
    }
    if [[ -n $MINUTES ]]; then
        limit=(-max_total_time=$((MINUTES * 60)))
    elif [[ -n $RUNS ]]; then
        limit=(-runs="$RUNS")
    else
        limit=(-runs="${DEFAULT_RUNS[$name]}" -max_total_time="$DEFAULT_SECONDS")
    fi
    mkdir -p "$BUILD/corpus/$name" "$BUILD/artifacts" "$BUILD/logs"
    local start=$SECONDS rc=0
    # -close_fd_mask=3: the targets' own output (branchd logs every request)
    # goes nowhere; libFuzzer's and the sanitizers' reports still reach the log.
    # -timeout=60: no input takes a tenth of a second, but a loaded CI machine
    # has stalled one for 11 s; an endless loop is still caught.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" "${limit[@]}" -close_fd_mask=3 -timeout=60 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$name-" \
        "$BUILD/corpus/$name" "$ROOT/tests/fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
    local runs cov
    runs=$(grep -a '^stat::number_of_executed_units:' "$log" | tail -n 1 | tr -dc 0-9)
    cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -n 1 || true)
    if [[ $rc -ne 0 ]]; then
        note "$name: FAILED (exit $rc) after $((SECONDS - start)) s; end of $log:"
        tail -n 60 "$log" >&2
        sed -n "s|^.*Test unit written to |$PROG: $name: input saved as |p" "$log" >&2
        return 1
    fi
    note "$name: ok, ${runs:-?} runs, ${cov:-cov: ?}, $((SECONDS - start)) s"
}

passed=0
failed=0
for t in "${TARGETS[@]}"; do
    if run_target "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
