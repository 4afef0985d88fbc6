#!/usr/bin/env bash
# Usage: tests/model/run.sh [--steps N] [--seed S] [--seeds K] [--tenants T] [--build DIR]
#                           [--shrink-seconds N] [--replay FILE]
#
# The randomized model test of the organization x lead invariants (README,
# Leads: I1-I5): N random operations (default 300) over T tenants (default
# 2) through branchctl and a real branchd, checking the invariants and the
# isolation of tenants with SQL over the whole database after every step.
# Seeded and reproducible: the same seed runs the same sequence. --seeds K
# runs seeds S, S+1, ... S+K-1 one after the other, each on a fresh database
# and daemon. On a failure it prints the seed and the sequence, then the
# shortest failing sequence it finds within --shrink-seconds (default 600;
# 0: none), writes that one as JSON and exits 1; --replay FILE runs such a
# file again (on a fresh database) instead of random steps.
#
# Uses the binaries of DIR (default build/: run tests/run.sh or cmake
# --build build first). With BRANCHLINE_TEST_PGHOST etc. set (tests/run.sh's
# environment) it uses that cluster; otherwise it starts a throwaway one,
# with test certificates, and removes it on exit.

# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail
PROG=model
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"
# shellcheck source=deploy/lib/pg.sh
. "$ROOT/deploy/lib/pg.sh"

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

STEPS=300 SEED=1 SEEDS=1 TENANTS=2 BUILD=$ROOT/build SHRINK=600 REPLAY=
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || usage
    case $1 in
    --steps) STEPS=$2 ;;
    --seed) SEED=$2 ;;
    --seeds) SEEDS=$2 ;;
    --tenants) TENANTS=$2 ;;
    --build) BUILD=$2 ;;
    --shrink-seconds) SHRINK=$2 ;;
    --replay) REPLAY=$(realpath "$2") ;;
    *) usage ;;
    esac
    shift 2
done
[[ -x $BUILD/tests/integration/bltest_run ]] || die "$BUILD is not built: run cmake --build $BUILD first"

TMP=
cleanup() {
    local rc=$?
    if [[ -n $TMP ]]; then
        pg_stop "$TMP/pg" || pg_stop "$TMP/pg" immediate || true
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT

if [[ -z ${BRANCHLINE_TEST_PGHOST:-} ]]; then
    TMP=$(mktemp -d -p /tmp branchline-model.XXXXXX)
    chmod 0711 "$TMP"
    port=$(free_tcp_port)
    pg_init "$TMP/pg" "$TMP/sock" "$port" "max_connections = 100" "fsync = off" "synchronous_commit = off"
    pg_start "$TMP/pg" "$TMP/pg.log"
    pg_app_roles "$TMP/sock" "$port" postgres
    quietly "$ROOT/deploy/dev-certs.sh" "$TMP/certs" alice bob carol dave heidi
    export BRANCHLINE_TEST_PGHOST=$TMP/sock BRANCHLINE_TEST_PGPORT=$port
    BRANCHLINE_TEST_PGSUPER=$(pg_superuser)
    export BRANCHLINE_TEST_PGSUPER BRANCHLINE_TEST_CERTS=$TMP/certs
fi
export BRANCHD_BIN=$BUILD/daemon/branchd BRANCHCTL_BIN=$BUILD/client/branchctl
export MODEL_STEPS=$STEPS MODEL_TENANTS=$TENANTS MODEL_SHRINK_SECONDS=$SHRINK MODEL_REPLAY=$REPLAY
[[ -z $REPLAY ]] || SEEDS=1
for ((s = SEED; s < SEED + SEEDS; s++)); do
    MODEL_SEED=$s "$BUILD/tests/integration/bltest_run" "$ROOT/tests/model/scenario.sh" 2>&1 |
        grep -v '^ts=' || { note "seed $s failed"; exit 1; }
done
