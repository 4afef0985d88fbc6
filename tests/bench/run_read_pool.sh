# Sourced by tests/bench/run.sh: the read pool (--read-pool): a streaming
# standby of the bench cluster and the leads and mixed scenarios with and
# without branchd's read pool on it. Uses run.sh's variables and functions.

# ---- the read pool (--read-pool) -----------------------------------------------------------

# A hot standby of the bench cluster, streaming from it (asynchronously:
# the bench primary runs with synchronous_commit = off).
start_standby() {
    PGPORT_STANDBY=$(free_tcp_port)
    pg_owned_dir "$TMP/standby" 0700
    pg_owned_dir "$TMP/sock2" 0700
    pg_as_owner "$(pg_bindir)/pg_basebackup" -h "$TMP/sock" -p "$PGPORT_BENCH" -U "$(pg_superuser)" \
        -D "$TMP/standby" -R -X stream -c fast >"$TMP/out/basebackup.log" 2>&1 ||
        die "pg_basebackup failed: $(tail -n 3 "$TMP/out/basebackup.log")"
    printf "port = %s\nunix_socket_directories = '%s'\n" "$PGPORT_STANDBY" "$TMP/sock2" \
        >>"$TMP/standby/postgresql.conf"
    pg_start "$TMP/standby" "$TMP/standby.log"
}

# pg_ticks DATADIR: CPU ticks (user + system) of the cluster's postmaster
# and its processes so far.
pg_ticks() {
    local pm p
    pm=$(head -n 1 "$1/postmaster.pid")
    for p in "$pm" $(pgrep -P "$pm"); do
        awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true
    done | awk '{ s += $1 } END { print s + 0 }'
}

# Transactions the primary committed or rolled back in the bench database.
primary_xacts() {
    psql "$SUPER_CI" -XAtc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'bench'"
}

# read_pool_run NAME SCENARIO: one blbench run; sets RP (key=value words)
# with the primary's and the standby's CPU and the primary's transactions.
read_pool_run() {
    local name=$1 scenario=$2 line p0 p1 s0 s1 x0 x1 w0 w1 hz
    hz=$(getconf CLK_TCK)
    # Statistics reach pg_stat_database within a second of each transaction.
    sleep 1.5
    p0=$(pg_ticks "$TMP/pg") s0=$(pg_ticks "$TMP/standby") x0=$(primary_xacts)
    w0=$EPOCHREALTIME
    line=$(blbench "$name" "$scenario")
    w1=$EPOCHREALTIME
    # Rates are per second of the load (warm-up and measured run); the
    # counts are read once the statistics of its last seconds are in.
    sleep 1.5
    p1=$(pg_ticks "$TMP/pg") s1=$(pg_ticks "$TMP/standby") x1=$(primary_xacts)
    RP=$(awk -v p="$((p1 - p0))" -v s="$((s1 - s0))" -v x="$((x1 - x0))" -v hz="$hz" \
        -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" -v rps="$(kv "$line" rps)" \
        -v run="$(awk -v d="$DURATION" -v u="$WARMUP" 'BEGIN { print d + u }')" 'BEGIN {
            req = rps * run
            printf "rps=%s primary_cores=%.2f standby_cores=%.2f primary_xact_s=%.0f primary_cpu_ms_per_1k=%.0f errors_line=", \
                rps, p / hz / w, s / hz / w, x / w, (req > 0 ? p / hz * 1000 / req * 1000 : 0) }')
    RP+="$(kv "$line" errors)"
}

read_pool_compare() {
    local scenario=$1 off on
    stop_daemon
    start_daemon 2
    read_pool_run "rp-$scenario-off" "$scenario"
    off=$RP
    stop_daemon
    # Over its socket, as the primary pool (APP_CI).
    start_daemon 2 "db_read_conninfo = host=$TMP/sock2 port=$PGPORT_STANDBY user=branchd dbname=bench"
    read_pool_run "rp-$scenario-on" "$scenario"
    on=$RP
    echo "read_pool scenario=$scenario daemon_rps_off=$(kv "$off" rps) daemon_rps_on=$(kv "$on" rps)" \
        "primary_cores_off=$(kv "$off" primary_cores) primary_cores_on=$(kv "$on" primary_cores)" \
        "standby_cores_off=$(kv "$off" standby_cores) standby_cores_on=$(kv "$on" standby_cores)" \
        "primary_xact_s_off=$(kv "$off" primary_xact_s) primary_xact_s_on=$(kv "$on" primary_xact_s)" \
        "primary_cpu_ms_per_1k_off=$(kv "$off" primary_cpu_ms_per_1k)" \
        "primary_cpu_ms_per_1k_on=$(kv "$on" primary_cpu_ms_per_1k)" \
        "cpu_per_request_ratio=$(ratio "$(kv "$on" primary_cpu_ms_per_1k)" "$(kv "$off" primary_cpu_ms_per_1k)")" \
        "daemon_errors_off=$(kv "$off" errors_line) daemon_errors_on=$(kv "$on" errors_line)"
}

