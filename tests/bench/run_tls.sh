# Sourced by tests/bench/run.sh: the TLS and connection figures (full and
# resumed handshakes against openssl speed, branchctl runs, memory per idle
# connection). Uses run.sh's variables and functions.

# ---- handshakes ----------------------------------------------------------------------

# What one core can do by `openssl speed` (per CPU second: speed divides by
# user time), and from it the full mutual-TLS 1.3 handshakes one core could
# make if they cost nothing but their public-key operations. The daemon's
# side of one (X25519, ECDSA P-256 certificates on both sides): one ECDSA
# sign (its CertificateVerify), two ECDSA verifies (the client's
# CertificateVerify and the CA's signature on the client's certificate), two
# X25519 operations (its key share and the shared secret):
#   reference = 1 / (1/sign + 2/verify + 2/ecdh)   handshakes per core-second
openssl_reference() {
    local out=$TMP/out/openssl-speed.txt
    openssl speed -seconds "$SPEED_SECONDS" ecdsap256 ecdhx25519 >"$out" 2>/dev/null || true
    SPEED_SIGN=$(awk '/ecdsa \(nistp256\)/ { print $(NF - 1) }' "$out")
    SPEED_VERIFY=$(awk '/ecdsa \(nistp256\)/ { print $NF }' "$out")
    SPEED_ECDH=$(awk '/ecdh \(X25519\)/ { print $NF }' "$out")
    SPEED_REF=$(awk -v s="$SPEED_SIGN" -v v="$SPEED_VERIFY" -v e="$SPEED_ECDH" \
        'BEGIN { if (s > 0 && v > 0 && e > 0) printf "%.1f\n", 1 / (1 / s + 2 / v + 2 / e); else print "nan" }')
}

# blbench's handshake scenario (each of THREADS threads: connect, one ping,
# close, again) with the daemon's CPU time in its window; extra args: e.g.
# --session-dir DIR for resumed ones.
handshake_run() {
    local name=$1 out
    shift
    out=$TMP/out/blbench-$name.txt
    quiesce
    bounded "$DURATION" "$BLBENCH" --server "$SERVER" --ca "$TMP/certs/ca.crt" \
        --cert "$TMP/certs/bench-admin.crt" --key "$TMP/certs/bench-admin.key" \
        --scenario handshake --threads "$THREADS" --connections "$THREADS" --warmup "$WARMUP" \
        --duration "$DURATION" --timeout-ms $((REQUEST_TIMEOUT * 1000)) --pid "$DAEMON_PID" "$@" \
        >"$out" 2>&1 || note "blbench $name: $(tail -n 2 "$out" | tr '\n' ' ')"
    grep -m 1 '^scenario=handshake' "$out" || echo "scenario=handshake handshakes_per_s=0"
}

# The handshake figures: the openssl speed reference, tls_floor, full and
# resumed handshakes through branchd. Sets hs_ratio.
tls_handshakes() {
    openssl_reference
    # The same handshake through OpenSSL alone (memory BIOs, one thread, the
    # server's calls timed): what the library costs beyond its public-key
    # operations, which no daemon change can remove.
    floor_line=$("$TLS_FLOOR" "$TMP/certs/server.crt" "$TMP/certs/server.key" "$TMP/certs/ca.crt" \
        "$TMP/certs/bench-admin.crt" "$TMP/certs/bench-admin.key" "$FLOOR_HANDSHAKES" 2>&1 || true)
    floor_full_us=$(kv "$floor_line" full_us)
    floor_per_core=$(awk -v u="${floor_full_us:-0}" 'BEGIN { if (u > 0) printf "%.1f\n", 1e6 / u; else print "nan" }')
    echo "$floor_line openssl_only_per_core=$floor_per_core" \
        "openssl_only_over_reference=$(ratio "$floor_per_core" "$SPEED_REF")" \
        "full_over_resumed_no_ticket=$(ratio "${floor_full_us:-nan}" "$(kv "$floor_line" resumed_no_ticket_us)")"
    hs_line=$(handshake_run handshake-full)
    hs_per_core=$(kv "$hs_line" handshakes_per_daemon_cpu_s)
    hs_ratio=$(ratio "${hs_per_core:-nan}" "$SPEED_REF")
    echo "handshakes full_per_s=$(kv "$hs_line" handshakes_per_s) per_daemon_core=${hs_per_core:-nan}" \
        "daemon_cpu_us=$(kv "$hs_line" daemon_cpu_us_per_handshake) failed=$(kv "$hs_line" failed)" \
        "openssl_sign_per_s=$SPEED_SIGN openssl_verify_per_s=$SPEED_VERIFY openssl_x25519_per_s=$SPEED_ECDH" \
        "openssl_reference_per_core=$SPEED_REF formula=1/(1/sign+2/verify+2/x25519) ratio=$hs_ratio"
    mkdir -p "$TMP/hs-sessions"
    rs_line=$(handshake_run handshake-resumed --session-dir "$TMP/hs-sessions")
    echo "handshakes resumed_per_s=$(kv "$rs_line" handshakes_per_s) resumed=$(kv "$rs_line" resumed)" \
        "done=$(kv "$rs_line" 'done') per_daemon_core=$(kv "$rs_line" handshakes_per_daemon_cpu_s)" \
        "daemon_cpu_us=$(kv "$rs_line" daemon_cpu_us_per_handshake)" \
        "full_over_resumed_cpu=$(ratio "$(kv "$hs_line" daemon_cpu_us_per_handshake)" "$(kv "$rs_line" daemon_cpu_us_per_handshake)")"
    # The same loop at a script's pace: one thread, PACE_MS between
    # connections, so that the daemon goes idle between them as it does
    # between branchctl runs (RESULTS.md, "branchctl runs: the extra per run").
    local pf_line pr_line
    pf_line=$(THREADS=1 handshake_run handshake-paced-full --pause-ms "$PACE_MS")
    mkdir -p "$TMP/hs-paced-sessions"
    pr_line=$(THREADS=1 handshake_run handshake-paced-resumed --pause-ms "$PACE_MS" --session-dir "$TMP/hs-paced-sessions")
    echo "handshakes_paced threads=1 pause_ms=$PACE_MS done_full=$(kv "$pf_line" 'done')" \
        "done_resumed=$(kv "$pr_line" 'done') resumed=$(kv "$pr_line" resumed)" \
        "daemon_cpu_us_full=$(kv "$pf_line" daemon_cpu_us_per_handshake)" \
        "daemon_cpu_us_resumed=$(kv "$pr_line" daemon_cpu_us_per_handshake)" \
        "full_over_resumed_cpu=$(ratio "$(kv "$pf_line" daemon_cpu_us_per_handshake)" "$(kv "$pr_line" daemon_cpu_us_per_handshake)")"
}

# A script running branchctl RUNS times, once with full handshakes
# (BRANCHLINE_SESSION_CACHE=off) and once resuming the session branchctl
# keeps beside its configuration: the daemon's CPU (/proc/PID/stat before
# and after) and the script's wall time for each.
branchctl_runs() {
    local mode=$1 t0 t1 w0 w1 failed=0
    quiesce
    export XDG_CONFIG_HOME=$TMP/xdg BRANCHLINE_SERVER=$SERVER BRANCHLINE_CA=$TMP/certs/ca.crt \
        BRANCHLINE_CERT=$TMP/certs/bench-admin.crt BRANCHLINE_KEY=$TMP/certs/bench-admin.key \
        BRANCHLINE_SESSION_CACHE=$mode
    "$BRANCHCTL" ping >/dev/null 2>&1 || true # the session to start from
    t0=$(daemon_cpu_s)
    w0=$(date +%s.%N)
    for _ in $(seq 1 "$CLI_RUNS"); do
        "$BRANCHCTL" ping >/dev/null 2>&1 || failed=$((failed + 1))
    done
    w1=$(date +%s.%N)
    t1=$(daemon_cpu_s)
    unset XDG_CONFIG_HOME BRANCHLINE_SERVER BRANCHLINE_CA BRANCHLINE_CERT BRANCHLINE_KEY BRANCHLINE_SESSION_CACHE
    awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" -v f="$failed" \
        'BEGIN { printf "%.3f %.2f %d\n", b - a, w1 - w0, f }'
}
# The daemon's CPU while nothing talks to it (its timers: health beats,
# the sweeper), in ms per second over IDLE_WINDOW_S: what a script's runs
# pay for the time between them.
daemon_idle_ms_per_s() {
    local t0 t1
    quiesce
    t0=$(daemon_cpu_s)
    sleep "$IDLE_WINDOW_S"
    t1=$(daemon_cpu_s)
    awk -v a="$t0" -v b="$t1" -v s="$IDLE_WINDOW_S" 'BEGIN { printf "%.3f\n", (b - a) * 1000 / s }'
}
# Both kinds of branchctl runs, the ratio printed (the target's figure: the
# daemon's whole CPU over each script), and beside it the same with the
# idle baseline (measured in this run) taken off each side. Sets cli_ratio.
tls_branchctl() {
    local cli_cpu_full cli_wall_full cli_failed_full cli_cpu_resumed cli_wall_resumed cli_failed_resumed
    local idle net_full net_resumed
    idle=$(daemon_idle_ms_per_s)
    read -r cli_cpu_full cli_wall_full cli_failed_full <<<"$(branchctl_runs off)"
    read -r cli_cpu_resumed cli_wall_resumed cli_failed_resumed <<<"$(branchctl_runs on)"
    cli_ratio=$(ratio "$cli_cpu_full" "$cli_cpu_resumed")
    net_full=$(awk -v c="$cli_cpu_full" -v w="$cli_wall_full" -v i="$idle" 'BEGIN { printf "%.3f\n", c - i * w / 1000 }')
    net_resumed=$(awk -v c="$cli_cpu_resumed" -v w="$cli_wall_resumed" -v i="$idle" 'BEGIN { printf "%.3f\n", c - i * w / 1000 }')
    echo "branchctl_runs runs=$CLI_RUNS daemon_cpu_s_full=$cli_cpu_full daemon_cpu_s_resumed=$cli_cpu_resumed" \
        "cpu_ratio=$cli_ratio wall_s_full=$cli_wall_full wall_s_resumed=$cli_wall_resumed" \
        "failed_full=$cli_failed_full failed_resumed=$cli_failed_resumed" \
        "session_files=$(find "$TMP/xdg" -name '*.pem' 2>/dev/null | wc -l)" \
        "daemon_idle_cpu_ms_per_s=$idle net_cpu_s_full=$net_full net_cpu_s_resumed=$net_resumed" \
        "net_cpu_ratio=$(ratio "$net_full" "$net_resumed")"
}

# branchd's memory per idle connection (a fresh daemon) with ping p99
# beside it. Sets many, per_conn and idle_ratio.
tls_idle() {
    local few rss_few rss_many p99_few p99_many floor
    idle_run
    # RSS from the first time at each count (memory given back is not measured);
    # ping p99 the better of the two runs at each count: a sub-millisecond p99
    # on a shared machine moves by 2x from one run to the next.
    few=$(grep -m 1 '^idle=100 ' "$TMP/out/blbench-idle.txt" || true)
    many=$(grep -m 1 "^idle=$IDLE " "$TMP/out/blbench-idle.txt" || true)
    best_p99() {
        grep "^idle=$1 " "$TMP/out/blbench-idle.txt" | grep -o 'p99_ms=[0-9.]*' | cut -d= -f2 | sort -g | head -n 1
    }
    rss_few=$(kv "$few" rss_kib)
    rss_many=$(kv "$many" rss_kib)
    per_conn=$(awk -v a="${rss_many:-0}" -v b="${rss_few:-0}" -v n="$IDLE" \
        'BEGIN { if (a > 0 && b > 0) printf "%.1f\n", (a - b) / (n - 100); else print "nan" }')
    p99_few=$(best_p99 100)
    p99_many=$(best_p99 "$IDLE")
    idle_ratio=$(ratio "${p99_many:-nan}" "${p99_few:-nan}")
    # The same count held by a bare libevent + OpenSSL server with branchd's
    # TLS settings (tls_idle_floor): what the libraries alone keep.
    floor=$("$TLS_IDLE_FLOOR" "$TMP/certs/server.crt" "$TMP/certs/server.key" "$TMP/certs/ca.crt" \
        "$TMP/certs/bench-admin.crt" "$TMP/certs/bench-admin.key" "$IDLE" 100 2>&1 || true)
    echo "$floor daemon_over_floor=$(ratio "$per_conn" "$(kv "$floor" rss_per_conn_kib)")"
    echo "idle_conns=$IDLE rss_per_conn_kib=$per_conn ping_p99_ms_idle$IDLE=${p99_many:-nan}" \
        "ping_p99_ms_idle100=${p99_few:-nan} rss_kib_idle100=${rss_few:-nan} rss_kib_idle$IDLE=${rss_many:-nan}" \
        "p99_ratio=$idle_ratio p99_runs=$(awk '/^idle=/ { for (i = 1; i <= NF; i++) { split($i, kv, "=");
            if (kv[1] == "idle") n = kv[2]; if (kv[1] == "p99_ms") p = kv[2] } printf "%s%s:%s", sep, n, p; sep = "," }' \
            "$TMP/out/blbench-idle.txt")"
}

# --tls: only the TLS and connection figures (handshakes, branchctl runs,
# memory per idle connection) and their targets, on the same tenant data.
tls_only_run() {
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg);" \
        "tls only: duration_s=$DURATION idle=$IDLE cli_runs=$CLI_RUNS quick=$QUICK"
    tls_handshakes
    tls_branchctl
    stop_daemon
    start_daemon 2
    tls_idle
    target idle_conns_held "$(kv "$many" idle)" ">=" "$IDLE"
    target rss_per_idle_conn_kib "$per_conn" "<=" 20
    target handshakes_per_core_over_openssl "$hs_ratio" ">=" 0.7
    target branchctl_full_over_resumed_cpu "$cli_ratio" ">=" 2.0
}

