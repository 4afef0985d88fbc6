#!/usr/bin/env bash
# Usage: deploy/ha/cluster.sh [--dir DIR] [--branchd N] [-- COMMAND...]
#
# The high-availability layout of the README's HA section, on this machine
# and on 127.0.0.1 only: etcd (one member), two PostgreSQL nodes under
# Patroni (synchronous replication), HAProxy (a primary frontend and a
# branchd frontend) and N branchd instances (default 2) whose database
# connections go through HAProxy. Everything runs as an unprivileged user
# (when run as root: the postgres user) in DIR (default: a new temporary
# directory), and everything is stopped when the script ends: after
# COMMAND, or on Ctrl-C / SIGTERM when no COMMAND is given.
#
# COMMAND runs with HA_DIR set and can source deploy/ha/lib.sh and
# "$HA_DIR/ha.env" for the ports. Needs a build in build/ and the packages
# of `deploy/install-deps.sh --ha`.

# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail
PROG=ha-cluster
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"
# shellcheck source=deploy/lib/pg.sh
. "$ROOT/deploy/lib/pg.sh"
# shellcheck source=deploy/ha/lib.sh
. "$ROOT/deploy/ha/lib.sh"

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

DIR=
COUNT=2
while [[ $# -gt 0 ]]; do
    case $1 in
    --dir) [[ $# -ge 2 ]] || usage; DIR=$2; shift ;;
    --branchd) [[ $# -ge 2 && $2 =~ ^[1-9]$ ]] || usage; COUNT=$2; shift ;;
    --) shift; break ;;
    *) usage ;;
    esac
    shift
done

if [[ $EUID -eq 0 ]]; then
    "$ROOT/deploy/install-deps.sh" --ha
    [[ -x $ROOT/build/daemon/branchd ]] || die "build first: cmake -S . -B build && cmake --build build"
    if [[ -n $DIR ]]; then
        mkdir -p "$DIR"
        chown postgres: "$DIR"
    fi
    ha_drop_root "$0" ${DIR:+--dir "$DIR"} --branchd "$COUNT" -- "$@"
fi

if [[ -z $DIR ]]; then
    DIR=$(mktemp -d -p "${TMPDIR:-/tmp}" branchline-ha.XXXXXX)
fi
[[ ! -e $DIR/ha.env ]] || die "$DIR already holds a layout; give an empty directory"
trap 'ha_stop_all' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ha_init "$DIR" "$COUNT"
ha_load "$DIR"
note "starting etcd, Patroni (${HA_NODES[*]}), HAProxy and $COUNT branchd in $DIR"
ha_start_all
export HA_DIR
if [[ $# -gt 0 ]]; then
    "$@"
    exit
fi
cat <<EOF
Running (logs under $HA_DIR):
  branchd through HAProxy   127.0.0.1:$HA_BRANCHD_PORT  (certificates in $HA_DIR/certs: operator, admin)
  primary through HAProxy   127.0.0.1:$HA_PRIMARY_PORT  (PGPASSFILE=$HA_DIR/pgpass, user $HA_SUPERUSER)
  Patroni                   patronictl -c $HA_DIR/node1/patroni.yml list
Ctrl-C stops everything.
EOF
while true; do
    sleep 3600 &
    wait $! || true
done
