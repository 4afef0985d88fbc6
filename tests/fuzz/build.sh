#!/usr/bin/env bash
# Usage: tests/fuzz/build.sh [BUILD_DIR]
#
# Configures and builds the libFuzzer targets in BUILD_DIR (default
# build-fuzz/ at the top of the tree): clang-14, AddressSanitizer + UBSan,
# every library compiled with -fsanitize=fuzzer-no-link. Only the fuzz
# targets are built (target `fuzzers`), not the daemon or the other tests.
# Needs clang and libfuzzer-14-dev (deploy/install-deps.sh installs them).

# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail
PROG=fuzz/build.sh
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"

[[ $# -le 1 && ${1:-} != -* ]] || {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}
DIR=${1:-$ROOT/build-fuzz}
CLANG=$(command -v clang-14 || true)
[[ -n $CLANG ]] || die "clang-14 not found: run deploy/install-deps.sh"

# A directory configured with another compiler cannot be switched: start over.
if [[ -f $DIR/CMakeCache.txt ]] && ! grep -q "^CMAKE_C_COMPILER:[A-Z]*=$CLANG\$" "$DIR/CMakeCache.txt"; then
    note "$DIR was configured with another compiler; reconfiguring from scratch"
    rm -rf "$DIR"
fi
cmake -S "$ROOT" -B "$DIR" -DCMAKE_C_COMPILER="$CLANG" \
    -DBRANCHLINE_SANITIZE=ON -DBRANCHLINE_FUZZ=ON >/dev/null
cmake --build "$DIR" --target fuzzers -j"$(nproc)"
