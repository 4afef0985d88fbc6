#!/usr/bin/env bash
# Usage: tests/ha/run.sh [--quick] [--keep]
#
# Failover with clients writing: starts the HA layout of deploy/ha/ (etcd,
# two PostgreSQL nodes under Patroni, HAProxy, two branchd), has several
# client processes import leads through HAProxy without pause, each call
# with external ids of its own and retried with the same ids until it
# succeeds (tests/ha/client.sh), and meanwhile, in turn:
#   kill-postgres   SIGKILL the primary's PostgreSQL (Patroni fails over)
#   kill-branchd    SIGKILL one branchd, then start it again
#   terminate       pg_terminate_backend on every branchd backend, 3 times
#   switchover      patronictl switchover to the standby
#   kill-patroni    SIGKILL the primary's Patroni and its PostgreSQL, then
#                   start that Patroni again (it rejoins as a replica)
# waiting after each until the cluster has a primary with a synchronous
# standby again and the clients are making progress. Then, on the
# surviving primary: every acknowledged external id exists exactly once
# with exactly one current allocation, the per-branch counters equal the
# rows, and no lead is left waiting or unroutable (every lead here has a
# route). Prints, per fault, the seconds during which clients saw errors,
# and the totals; exits 1 if anything was lost or duplicated.
#
# The daemons have a read pool (db_read_conninfo, prefer-standby): a reader
# process lists leads through HAProxy all along. The test checks that the
# read pool starts on the standby, and that lead list is served again
# after every fault (each window between faults has successful reads);
# it prints the reader's error seconds per fault too. After every fault,
# once the old primary is back as the synchronous standby, every daemon's
# read pool must be whole on the standby again within 60 s (failback,
# db_read_failback_s = 3 here): no daemon counts a read connection on a
# primary, and the standby holds all of them; it prints how long each took.
#
#   --quick  each fault once, 3 clients, calls of 10 leads (a few minutes;
#            tests/run.sh runs it)
#            default: the faults in turn until 20,000 leads are acknowledged
#            (at least twice each), 4 clients, calls of 40 leads
#   --keep   keep the directory (logs, data) instead of removing it
# Runs as an unprivileged user (as root: the postgres user), in a new
# directory under /tmp it owns. Needs build/ (built when missing) and
# `deploy/install-deps.sh --ha`.

# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail
PROG=ha-test
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

QUICK=0
KEEP=0
for arg in "$@"; do
    case $arg in
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    *) usage ;;
    esac
done

if [[ $EUID -eq 0 ]]; then
    "$ROOT/deploy/install-deps.sh" --ha
    if [[ ! -x $ROOT/build/daemon/branchd || ! -x $ROOT/build/client/branchctl ]]; then
        quietly cmake -S "$ROOT" -B "$ROOT/build"
        cmake --build "$ROOT/build" -j"$(nproc)" >/dev/null
    fi
    ha_drop_root "$0" "$@"
fi

# Small calls in the quick run, to see errors finely; larger ones in the
# full run, to reach its count of leads in reasonable time.
if ((QUICK)); then
    CLIENTS=3 TARGET=0 ROUNDS=1 BATCH=10
else
    CLIENTS=4 TARGET=20000 ROUNDS=2 BATCH=40
fi
FAULTS=(kill-postgres kill-branchd terminate switchover kill-patroni)

DIR=$(mktemp -d -p /tmp branchline-ha-test.XXXXXX)
OUT=$DIR/clients
CLIENT_PIDS=()
OK=0

cleanup() {
    local rc=$? pid
    touch "$OUT/stop" 2>/dev/null || true
    for pid in "${CLIENT_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    ha_stop_all
    if ((KEEP)) || ((!OK)); then
        note "logs and data kept in $DIR"
    else
        rm -rf "$DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A short failback period, so the read pools return within the quick run.
HA_READ_FAILBACK_S=3
ha_init "$DIR" 2
ha_load "$DIR"
mkdir -p "$OUT"
note "starting the layout in $DIR"
ha_start_all

# A tenant with one pool of four branches; leads carry no contact, so none
# is a duplicate of another.
ha_ctl operator tenant create ha --name "HA" --admin-subject CN=admin >/dev/null
ha_ctl admin dept add / customer_service >/dev/null
ha_ctl admin project add p --name P >/dev/null
for b in 1 2 3 4; do
    ha_ctl admin unit add "b$b" --kind branch --name "b$b" >/dev/null
    ha_ctl admin dept add "b$b" sales >/dev/null
    ha_ctl admin project assign "b$b" p --capacity "$b" >/dev/null
done

acked() { { cat "$OUT"/*.acked 2>/dev/null || true; } | wc -l; }

# ha_node_psql NODE ARGS...: psql as the superuser on NODE itself (not
# through HAProxy): the standby too.
ha_node_psql() {
    local port=HA_PG_PORT_$1
    shift
    "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${!port}" -U "$HA_SUPERUSER" \
        -d branchline "$@"
}

# read_pool_on NODE: branchd has connections on NODE that only its read
# pool can have made (the primary pool goes through HAProxy to the primary).
read_pool_on() {
    [[ $(ha_node_psql "$1" -Atc "SELECT pg_is_in_recovery() AND count(*) > 0 FROM pg_stat_activity
                                   WHERE usename = 'branchd'" 2>/dev/null) == t ]]
}
STANDBY=$(ha_other "$(ha_primary)")
ha_wait "the read pools on the standby $STANDBY" 60 read_pool_on "$STANDBY"
note "the read pools are on the standby $STANDBY"

# Every daemon's read pool: 1 worker x db_read_pool_size 2 (branchd.conf.in).
READ_CONNS=$((HA_BRANCHD_COUNT * 2))
# read_pools_back: the read pools are whole on the standby. No daemon
# counts a read connection on a primary (branchline_db_read_pool_on_primary),
# and the standby holds READ_CONNS branchd backends (only read pools reach a
# standby); READ_STATE says what was seen last.
read_pools_back() {
    local p i port gauges="" n rc=0
    p=$(ha_primary 2>/dev/null) || return 1
    for ((i = 1; i <= HA_BRANCHD_COUNT; i++)); do
        port=HA_HTTP_PORT_b$i
        n=$(curl -sS -f "http://127.0.0.1:${!port}/metrics" 2>/dev/null |
            awk '$1 == "branchline_db_read_pool_on_primary" { print $2 }')
        gauges+=" b$i=${n:-?}"
        [[ $n == 0 ]] || rc=1
    done
    n=$(ha_node_psql "$(ha_other "$p")" -Atc "SELECT count(*) FROM pg_stat_activity
                                             WHERE usename = 'branchd' AND pg_is_in_recovery()" 2>/dev/null)
    READ_STATE="on a primary:$gauges; on the standby $(ha_other "$p"): ${n:-?} of $READ_CONNS"
    [[ $n == "$READ_CONNS" ]] || rc=1
    return $rc
}

# The reader: lead list through HAProxy (the read pool) until the stop file.
reader() {
    while [[ ! -e $OUT/stop ]]; do
        local start=$EPOCHREALTIME rc=0
        "$ROOT/build/client/branchctl" --timeout 10000 --server "127.0.0.1:$HA_BRANCHD_PORT" \
            --ca "$DIR/certs/ca.crt" --cert "$DIR/certs/admin.crt" --key "$DIR/certs/admin.key" \
            lead list --limit 5 >/dev/null 2>"$OUT/reader.last" || rc=$?
        echo "$start $EPOCHREALTIME $rc" >>"$OUT/reader.reads"
        ((rc == 0)) || echo "$start rc=$rc $(tr '\n' ' ' <"$OUT/reader.last")" >>"$OUT/reader.err"
        sleep 0.3
    done
}

# Waits until the clients have acknowledged more leads than now.
wait_progress() {
    local before
    before=$(acked)
    ha_wait "client progress" 120 acked_above "$before"
}

acked_above() { (($(acked) > $1)); }

note "starting $CLIENTS clients"
for ((c = 1; c <= CLIENTS; c++)); do
    "$ROOT/tests/ha/client.sh" "c$c" "$OUT" "$BATCH" -- "$ROOT/build/client/branchctl" \
        --timeout 10000 --server "127.0.0.1:$HA_BRANCHD_PORT" --ca "$DIR/certs/ca.crt" \
        --cert "$DIR/certs/admin.crt" --key "$DIR/certs/admin.key" &
    CLIENT_PIDS+=($!)
done

reader &
CLIENT_PIDS+=($!)

clients_alive() {
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "a client gave up (see $OUT/*.err)"
    done
}

# The node that is primary now, waiting for one.
current_primary() {
    ha_wait "a primary" 120 ha_quietly ha_primary
    ha_primary
}

kill_postgres() {
    local p
    p=$(current_primary)
    note "SIGKILL PostgreSQL of $p (pid $(ha_postmaster "$p"))"
    kill -KILL "$(ha_postmaster "$p")"
}

kill_patroni() {
    local p pg
    p=$(current_primary)
    pg=$(ha_postmaster "$p")
    note "SIGKILL Patroni of $p (pid $(ha_pid "$p")) and its PostgreSQL (pid $pg)"
    kill -KILL "$(ha_pid "$p")" "$pg"
    ha_wait "$(ha_other "$p") promoted" 120 is_primary "$(ha_other "$p")"
    ha_start_node "$p"
}

is_primary() { [[ $(ha_rest "$1" /primary) == 200 ]]; }

kill_branchd() {
    note "SIGKILL branchd b1 (pid $(ha_pid b1)), starting it again 2 s later"
    kill -KILL "$(ha_pid b1)"
    sleep 2
    ha_start_branchd 1
}

terminate() {
    local i n
    for i in 1 2 3; do
        n=$(ha_psql branchline -Atc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                                      WHERE usename = 'branchd'")
        note "pg_terminate_backend on $n branchd backends"
        sleep 1.5
    done
}

switchover() {
    local p
    p=$(current_primary)
    note "patronictl switchover from $p to $(ha_other "$p")"
    patronictl -c "$DIR/$p/patroni.yml" switchover --leader "$p" --candidate "$(ha_other "$p")" \
        --force >/dev/null
}

# fault NAME: runs one fault and waits until everything is back.
fault() {
    clients_alive
    echo "$1 $EPOCHREALTIME" >>"$DIR/faults"
    "${1//-/_}"
    ha_wait_healthy 180
    ha_wait "branchd b1 and b2" 60 ha_both_branchd
    ha_wait "lead list through the read pool" 60 ha_quietly ha_ctl admin lead list --limit 1
    local healthy=$SECONDS deadline=$((SECONDS + 60))
    until read_pools_back; do
        ((SECONDS < deadline)) || die "the read pools are not back on the standby 60 s after $1 ($READ_STATE)"
        sleep 0.3
    done
    note "after $1 the read pools are on the standby within $((SECONDS - healthy)) s ($READ_STATE)"
    wait_progress
    sleep 2
}

ha_both_branchd() { ha_branchd_answers b1 && ha_branchd_answers b2; }

wait_progress
round=0
while ((round < ROUNDS)) || (($(acked) < TARGET)); do
    round=$((round + 1))
    for f in "${FAULTS[@]}"; do
        fault "$f"
    done
    note "round $round done: $(acked) leads acknowledged"
done
echo "end $EPOCHREALTIME" >>"$DIR/faults"

touch "$OUT/stop"
for pid in "${CLIENT_PIDS[@]}"; do
    wait "$pid" || die "a client gave up (see $OUT/*.err)"
done
CLIENT_PIDS=()

# ---- what the clients saw ------------------------------------------------------

# Per fault: the span from the start of the first failed call to the end of
# the last one, among the calls that started before the next fault.
awk 'FNR == NR { name[++n] = $1; at[n] = $2; next }
     { for (i = n; i >= 1 && $1 < at[i]; i--); if ($3 != 0) { k = i; if (!(k in lo) || $1 < lo[k]) lo[k] = $1; if ($2 > hi[k]) hi[k] = $2; errs[k]++ } }
     END {
         printf "%-14s %8s %16s\n", "fault", "errors", "error seconds"
         for (i = 0; i < n; i++) {
             label = i == 0 ? "(before)" : name[i]
             printf "%-14s %8d %16.1f\n", label, errs[i], (i in lo) ? hi[i] - lo[i] : 0
         }
     }' "$DIR/faults" "$OUT"/*.attempts | tee "$DIR/windows"

# The reader's lead list calls the same way, and how many succeeded between
# one fault and the next: none would mean the read pool did not come back.
echo "lead list through the read pool:"
awk 'FNR == NR { name[++n] = $1; at[n] = $2; next }
     { for (i = n; i >= 1 && $1 < at[i]; i--); calls[i]++
       if ($3 == 0) { ok[i]++ } else { k = i; if (!(k in lo) || $1 < lo[k]) lo[k] = $1; if ($2 > hi[k]) hi[k] = $2; errs[k]++ } }
     END {
         printf "%-14s %8s %8s %16s\n", "fault", "reads", "errors", "error seconds"
         for (i = 0; i < n; i++) {
             label = i == 0 ? "(before)" : name[i]
             printf "%-14s %8d %8d %16.1f\n", label, calls[i], errs[i], (i in lo) ? hi[i] - lo[i] : 0
             if (ok[i] == 0) bad = 1
         }
         exit bad
     }' "$DIR/faults" "$OUT/reader.reads" | tee "$DIR/read_windows" ||
    die "after a fault no lead list succeeded before the next one (see $OUT/reader.err)"
for node in "${HA_NODES[@]}"; do
    read_pool_on "$node" && note "at the end the read pools have connections on the standby $node"
done

# ---- what the database holds ----------------------------------------------------

cat "$OUT"/*.acked >"$DIR/acked"
# shellcheck disable=SC2016 # psql variables, not shell ones
read -r lost duplicated unacked allocations counters stuck < <(ha_psql branchline -At -F ' ' \
    -c "CREATE TEMP TABLE acked (external_id text COLLATE \"C\")" \
    -c "\\copy acked FROM '$DIR/acked'" \
    -c "CREATE TEMP TABLE t AS
          SELECT l.* FROM branchline.leads l JOIN branchline.tenants n ON n.id = l.tenant_id WHERE n.code = 'ha'" \
    -c "SELECT
      (SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.external_id = a.external_id)),
      (SELECT count(*) FROM (SELECT external_id FROM t GROUP BY 1 HAVING count(*) > 1) d)
        + (SELECT count(*) FROM (SELECT external_id FROM acked GROUP BY 1 HAVING count(*) > 1) d),
      (SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM acked a WHERE a.external_id = t.external_id)),
      (SELECT count(*) FROM t WHERE t.status <> 'allocated' OR t.branch_id IS NULL
          OR (SELECT count(*) FROM branchline.lead_events e
               WHERE e.tenant_id = t.tenant_id AND e.lead_id = t.id AND e.kind = 'allocated') <> 1),
      (SELECT count(*) FROM
          (SELECT branch_id, count(*) AS n FROM t GROUP BY 1) l
          FULL JOIN (SELECT s.branch_id, sum(s.allocated) AS a, sum(s.open_leads) AS o
                       FROM branchline.lead_pool_state s WHERE s.tenant_id = (SELECT tenant_id FROM t LIMIT 1)
                      GROUP BY 1) s USING (branch_id)
          FULL JOIN (SELECT d.branch_id, sum(d.received) AS r
                       FROM branchline.lead_day_counts d WHERE d.tenant_id = (SELECT tenant_id FROM t LIMIT 1)
                      GROUP BY 1) d USING (branch_id)
         WHERE coalesce(l.n, 0) <> coalesce(s.a, 0) OR coalesce(l.n, 0) <> coalesce(s.o, 0)
            OR coalesce(l.n, 0) <> coalesce(d.r, 0)),
      (SELECT count(*) FROM t WHERE t.status IN ('waiting', 'unroutable'))")

attempts=$(cat "$OUT"/*.attempts | wc -l)
failed=$(awk '$3 != 0' "$OUT"/*.attempts | wc -l)
leads=$(wc -l <"$DIR/acked")
primary=$(current_primary)
cat <<EOF
totals: attempts $attempts (calls of $BATCH leads), acknowledged $leads leads, retried $failed,
        lost $lost, duplicated $duplicated, stored but never acknowledged $unacked,
        leads without exactly one current allocation $allocations,
        branches whose counters differ from the rows $counters, leads stuck waiting/unroutable $stuck
        (checked on $primary, the primary at the end)
EOF
bad=0
for v in "$lost" "$duplicated" "$unacked" "$allocations" "$counters" "$stuck"; do
    [[ $v == 0 ]] || bad=1
done
if ((bad)); then
    echo "FAIL: the database does not hold exactly what the clients were told" >&2
    exit 1
fi
[[ $leads -ge $TARGET && $leads -gt 0 ]] || die "only $leads leads acknowledged"
((QUICK)) || [[ $(awk '$1 != "end"' "$DIR/faults" | wc -l) -ge $((2 * ${#FAULTS[@]})) ]] ||
    die "not every fault ran twice"
OK=1
echo "ha: passed"
