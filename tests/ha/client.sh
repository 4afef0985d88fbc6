#!/usr/bin/env bash
# Usage: tests/ha/client.sh ID OUTDIR BATCH -- BRANCHCTL-COMMAND...
#
# One client of tests/ha/run.sh: imports leads through HAProxy until the
# file OUTDIR/stop exists, BATCH leads per call, each with an external id
# of its own (ID-CALL-ROW). A call that fails is sent again, with the same
# external ids, until it succeeds: an id already stored comes back as
# `duplicate`, never as a second lead. Writes
#   OUTDIR/ID.attempts  one line per call sent: start end exit-status
#                       (seconds since the epoch)
#   OUTDIR/ID.acked     the external ids of every call that succeeded
#   OUTDIR/ID.err       the last error of each failed call
# A call still failing after RETRY_LIMIT_S seconds ends the client with 1.

set -uo pipefail
[[ $# -ge 5 && $4 == -- ]] || {
    echo "usage: $0 ID OUTDIR BATCH -- BRANCHCTL-COMMAND..." >&2
    exit 2
}
ID=$1 OUT=$2 BATCH=$3
shift 4
RETRY_LIMIT_S=${RETRY_LIMIT_S:-180}
CSV=$OUT/$ID.csv

call=0
while [[ ! -e $OUT/stop ]]; do
    call=$((call + 1))
    {
        echo "external_id,project,channel"
        for ((row = 1; row <= BATCH; row++)); do
            echo "$ID-$call-$row,p,search"
        done
    } >"$CSV"
    first=$EPOCHREALTIME
    while true; do
        start=$EPOCHREALTIME
        "$@" lead import "$CSV" >/dev/null 2>"$OUT/$ID.last"
        rc=$?
        echo "$start $EPOCHREALTIME $rc" >>"$OUT/$ID.attempts"
        ((rc == 0)) && break
        echo "$start rc=$rc $(tr '\n' ' ' <"$OUT/$ID.last")" >>"$OUT/$ID.err"
        if (($(date +%s) - ${first%.*} > RETRY_LIMIT_S)); then
            echo "client $ID: call $call still fails after ${RETRY_LIMIT_S}s" >&2
            exit 1
        fi
        sleep 0.2
    done
    tail -n +2 "$CSV" | cut -d, -f1 >>"$OUT/$ID.acked"
done
