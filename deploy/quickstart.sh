#!/usr/bin/env bash
# Usage: deploy/quickstart.sh [start|stop|status]
#
# A running Branchline on this machine in one command, for development.
#   start   (the default) installs dependencies, builds build/, creates and
#           starts a private PostgreSQL in var/pg, makes dev certificates in
#           var/certs (admin, operator), migrates the database, starts branchd
#           in the background and shows it working with branchctl; branchd's
#           web intake listener is on, with a demo source whose ready example
#           form is var/site/intake-form.html (a curl line is printed too)
#   stop    stops branchd and the PostgreSQL cluster; var/ is kept
#   status  says what runs; exits 0 only if both branchd and PostgreSQL do
# Running start again reuses the cluster, certificates, ports and
# var/branchd.conf, and starts whatever is not running. To begin from
# scratch: deploy/quickstart.sh stop && rm -rf var

# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
PROG=quickstart
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"
# shellcheck source=deploy/lib/pg.sh
. "$ROOT/deploy/lib/pg.sh"

VAR=$ROOT/var
PG_DATA=$VAR/pg
PG_SOCK=$VAR/run
PG_LOG=$VAR/pg.log
PG_PORT_FILE=$VAR/pg.port
DB_NAME=branchline
CERTS=$VAR/certs
CONF=$VAR/branchd.conf
LOG=$VAR/branchd.log
PID_FILE=$VAR/branchd.pid
PORT_FILE=$VAR/branchd.port            # the port chosen on the first run
LISTENING_FILE=$VAR/branchd.listening  # branchd's port_file: written when it serves
BRANCHD=$ROOT/build/daemon/branchd
BRANCHCTL=$ROOT/build/client/branchctl
INTAKE_PORT_FILE=$VAR/intake.port      # the web intake port chosen on the first run
INTAKE_LISTENING_FILE=$VAR/intake.listening
SITE=$VAR/site                         # the example form and its thank-you page
SITE_PORT_FILE=$VAR/site.port          # where to serve them (python3 -m http.server)
INTAKE_TOKEN_FILE=$VAR/intake.token    # the demo source's token (shown once by branchctl)
READY_TIMEOUT=30

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

# A path as the user should type it: relative when they are in the checkout.
shown() {
    if [[ $PWD == "$ROOT" ]]; then echo "${1#"$ROOT"/}"; else echo "$1"; fi
}

# remembered_port FILE: the port in FILE, choosing and saving one if absent.
remembered_port() {
    local port
    if [[ ! -s $1 ]]; then
        free_tcp_port >"$1"
    fi
    port=$(<"$1")
    [[ $port =~ ^[0-9]+$ ]] || die "$1 does not hold a port number; remove it"
    echo "$port"
}

# A libpq connection-string value, quoted only when it has to be.
conninfo_value() {
    local v=$1
    if [[ -z $v || $v == *[[:space:]\'\\]* ]]; then
        v=${v//\\/\\\\}
        v=${v//\'/\\\'}
        v="'$v'"
    fi
    printf '%s' "$v"
}

pid_alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [[ -n $state && $state != Z ]]
}

# Prints the pid of the branchd that var/branchd.pid names, if it runs.
branchd_pid() {
    local pid
    [[ -s $PID_FILE ]] || return 1
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" &&
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == branchd ]] || return 1
    echo "$pid"
}

build() {
    note "building $(shown "$ROOT/build")"
    quietly cmake -S "$ROOT" -B "$ROOT/build"
    cmake --build "$ROOT/build" -j"$(nproc)"
    [[ -x $BRANCHD && -x $BRANCHCTL ]] ||
        die "the build made no $(shown "$BRANCHD") or $(shown "$BRANCHCTL")"
}

ensure_cluster() {
    if [[ -f $PG_DATA/PG_VERSION && ! -s $PG_PORT_FILE ]]; then
        die "$PG_PORT_FILE is missing but $PG_DATA exists; restore it or remove $PG_DATA"
    fi
    PG_PORT=$(remembered_port "$PG_PORT_FILE")
    if [[ ! -f $PG_DATA/PG_VERSION ]]; then
        note "creating a PostgreSQL cluster in $(shown "$PG_DATA") (port $PG_PORT)"
        pg_init "$PG_DATA" "$PG_SOCK" "$PG_PORT"
    else
        # A cluster an older quickstart made trusted every local user.
        pg_private_access "$PG_DATA" "$PG_SOCK"
        pg_reload "$PG_DATA"
    fi
    pg_start "$PG_DATA" "$PG_LOG"
    pg_app_roles "$PG_SOCK" "$PG_PORT" postgres
    pg_owned_database "$PG_SOCK" "$PG_PORT" "$DB_NAME"
}

# var/branchd.conf is written once; edits to it are kept.
write_config() {
    [[ -e $CONF ]] && return 0
    local host port
    host=$(conninfo_value "$PG_SOCK")
    port=$(remembered_port "$PORT_FILE")
    cat >"$CONF" <<EOF
# Written by deploy/quickstart.sh for development, and kept from then on:
# edit freely. Every key is explained in deploy/branchd.conf.example.
listen_address = 127.0.0.1
listen_port = $port
port_file = $LISTENING_FILE
tls_cert = $CERTS/server.crt
tls_key = $CERTS/server.key
tls_ca = $CERTS/ca.crt
db_conninfo = host=$host port=$PG_PORT dbname=$DB_NAME user=branchd
migrate_conninfo = host=$host port=$PG_PORT dbname=$DB_NAME user=branchline_owner
workers = 2
log_level = info
EOF
}

# The web intake listener (public HTTPS, off by default in branchd), added
# to var/branchd.conf once, also to one written by an older quickstart.
write_intake_config() {
    grep -q '^intake_port' "$CONF" && return 0
    cat >>"$CONF" <<EOF

# Web intake (README, Web intake), added by deploy/quickstart.sh: website
# forms post to https://localhost:PORT/v1/intake/TOKEN.
intake_address = 127.0.0.1
intake_port = $(remembered_port "$INTAKE_PORT_FILE")
intake_port_file = $INTAKE_LISTENING_FILE
intake_spool_path = $VAR/intake.spool
EOF
}

# The schema belongs to branchline_owner, which is no superuser, so that
# SECURITY DEFINER functions run without a superuser's powers; a
# var/branchd.conf written by an older quickstart migrated as the superuser.
migrate() {
    if grep -qE "^migrate_conninfo = .* user=$(pg_superuser)\$" "$CONF"; then
        note "$(shown "$CONF"): migrate_conninfo now logs in as branchline_owner"
        sed -i -E "s/^(migrate_conninfo = .* user=)$(pg_superuser)\$/\1branchline_owner/" "$CONF"
    fi
    "$BRANCHD" migrate --config "$CONF"
}

listening_port() {
    local port
    [[ -s $LISTENING_FILE ]] || return 1
    port=$(<"$LISTENING_FILE")
    [[ $port =~ ^[0-9]+$ ]] || return 1
    echo "$port"
}

# ping_as NAME PORT: one ping with client certificate NAME.
ping_as() {
    "$BRANCHCTL" --timeout 3000 --server "127.0.0.1:$2" --ca "$CERTS/ca.crt" \
        --cert "$CERTS/$1.crt" --key "$CERTS/$1.key" ping
}

# Waits until branchd has written its port file and answers a ping.
wait_ready() {
    local pid=$1 port last="no port file yet" deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! pid_alive "$pid"; then
            tail -n 20 "$LOG" >&2
            die "branchd exited during start-up (log: $(shown "$LOG")); if its port was taken, remove $(shown "$PORT_FILE") and $(shown "$CONF") and start again"
        fi
        if port=$(listening_port); then
            last=$(ping_as admin "$port" 2>&1) && return 0
        fi
        sleep 0.2
    done
    tail -n 20 "$LOG" >&2
    die "branchd did not answer within ${READY_TIMEOUT}s (last ping: $last; log: $(shown "$LOG"))"
}

start_branchd() {
    local pid
    if pid=$(branchd_pid); then
        note "branchd already runs (pid $pid); stop and start again to run a new build"
        return 0
    fi
    rm -f "$LISTENING_FILE"
    note "starting branchd (log: $(shown "$LOG"))"
    # setsid: the daemon outlives this script and the terminal it ran in.
    setsid "$BRANCHD" --config "$CONF" </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    wait_ready "$pid"
}

# write_env FILE NAME: a file to source for branchctl as certificate NAME.
# shellcheck disable=SC2094 # FILE's name is only printed, never read
write_env() {
    local file=$1 name=$2 port
    port=$(listening_port)
    {
        echo "# Written by deploy/quickstart.sh: branchctl as '$name'. Use: . $(shown "$file")"
        printf 'export BRANCHLINE_SERVER=%q\n' "127.0.0.1:$port"
        printf 'export BRANCHLINE_CA=%q\n' "$CERTS/ca.crt"
        printf 'export BRANCHLINE_CERT=%q\n' "$CERTS/$name.crt"
        printf 'export BRANCHLINE_KEY=%q\n' "$CERTS/$name.key"
        # shellcheck disable=SC2016 # $PATH expands when the file is sourced
        printf 'case ":$PATH:" in\n*:%q:*) ;;\n*) export PATH=%q:%q:"$PATH" ;;\nesac\n' \
            "$ROOT/build/client" "$ROOT/build/client" "$ROOT/build/daemon"
    } >"$file"
}

demo_step() {
    printf '\n$ %s\n' "$*"
    "$@"
}

# What a new user sees working, run with var/client.env as they would.
# Later steps of the walkthrough (an organization, leads) go here.
# The demo tenant: created once (operator), then built by the admin.
demo_tenant() {
    (
        # shellcheck disable=SC1091 # written by write_env
        . "$VAR/operator.env"
        if branchctl -o json tenant list | jq -e 'map(.code) | index("demo")' >/dev/null; then
            return 0
        fi
        note "creating the demo tenant and its organization"
        branchctl tenant create demo --name "华东网销集团 East Net Marketing Group" \
            --admin-subject CN=admin --timezone Asia/Shanghai >/dev/null
        # shellcheck disable=SC1091
        . "$VAR/client.env"
        branchctl apply -f "$ROOT/deploy/examples/company.yaml" >/dev/null
        note "importing generated consultation leads"
        "$ROOT/deploy/demo/leads.sh" 300
    )
}

run_demo() {
    demo_tenant
    (
        # shellcheck disable=SC1091 # written by write_env
        . "$VAR/client.env"
        demo_step branchctl ping
        demo_step branchctl server info
        demo_step branchctl unit tree
        demo_step branchctl serving
        demo_step branchctl shape
        demo_step branchctl lead stats
        demo_step branchctl lead list --limit 10
        demo_step branchctl kpi --by branch --columns branch_path,received,speed_median_seconds,contact_rate,win_rate_contacted,open
        demo_step branchctl staffing recommend --columns dept_path,function,role,current,recommended,reason
        demo_step branchctl support suggest
        demo_step branchctl report -O "$VAR/report.html"
    )
}

# The demo's website: a channel source, its token kept in var/intake.token
# (branchctl shows a token once; a lost one is replaced by rotating), and
# the example form posting to it, written by deploy/intake-example.sh.
demo_intake() {
    local port site_port back token
    port=$(<"$INTAKE_PORT_FILE")
    site_port=$(remembered_port "$SITE_PORT_FILE")
    back=http://localhost:$site_port/intake-thanks.html
    token=$(
        # shellcheck disable=SC1091 # written by write_env
        . "$VAR/client.env"
        if ! branchctl -o json source list | jq -e 'map(.name) | index("website")' >/dev/null; then
            note "creating the demo's web intake source 'website'"
            branchctl -o json source add website --channel website --project seo --return-url "$back" |
                jq -r .token
        elif [[ ! -s $INTAKE_TOKEN_FILE ]]; then
            branchctl -o json source rotate website --grace-minutes 0 | jq -r .token
        else
            cat "$INTAKE_TOKEN_FILE"
        fi
    )
    (umask 077 && echo "$token" >"$INTAKE_TOKEN_FILE")
    INTAKE_CURL=$("$ROOT/deploy/intake-example.sh" "https://localhost:$port/v1/intake/$token" \
        "$CERTS/ca.crt" "$SITE")
    printf '\n$ %s\n' "$INTAKE_CURL"
    bash -c "$INTAKE_CURL"
    echo
}

print_howto() {
    cat <<EOF

Branchline runs: branchd on 127.0.0.1:$(listening_port), PostgreSQL on port $PG_PORT.
  use it:    . $(shown "$VAR/client.env"); branchctl server info
  report:    $(shown "$VAR/report.html") (open it in a browser; branchctl report -O FILE makes another)
             ($(shown "$VAR/operator.env") for the operator certificate)
  web form:  $(shown "$SITE/intake-form.html"), posting to https://localhost:$(<"$INTAKE_PORT_FILE")/v1/intake/...
             serve it: python3 -m http.server --bind 127.0.0.1 --directory $(shown "$SITE") $(<"$SITE_PORT_FILE")
             and open http://localhost:$(<"$SITE_PORT_FILE")/intake-form.html (the browser must trust
             $(shown "$CERTS/ca.crt"), or accept https://localhost:$(<"$INTAKE_PORT_FILE")/ once)
  web lead:  $INTAKE_CURL
  database:  psql -h $(shown "$PG_SOCK") -p $PG_PORT -U $(pg_superuser) $DB_NAME
  logs:      $(shown "$LOG"), $(shown "$PG_LOG")
  status:    $(shown "$ROOT/deploy/quickstart.sh") status
  stop:      $(shown "$ROOT/deploy/quickstart.sh") stop
EOF
}

cmd_start() {
    "$ROOT/deploy/install-deps.sh"
    build
    mkdir -p "$VAR"
    if [[ $EUID -eq 0 ]]; then
        chmod 0755 "$VAR"  # postgres must reach var/pg and var/run
    fi
    ensure_cluster
    "$ROOT/deploy/dev-certs.sh" "$CERTS" admin operator
    write_config
    write_intake_config
    migrate
    start_branchd
    "$BRANCHD" bootstrap-operator --config "$CONF" --subject CN=operator >/dev/null
    write_env "$VAR/client.env" admin
    write_env "$VAR/operator.env" operator
    run_demo
    demo_intake
    print_howto
}

stop_branchd() {
    local pid deadline=$((SECONDS + READY_TIMEOUT))
    if pid=$(branchd_pid); then
        note "stopping branchd (pid $pid)"
        kill -TERM "$pid"
        while pid_alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if pid_alive "$pid"; then
            note "branchd did not stop within ${READY_TIMEOUT}s; killing it"
            kill -KILL "$pid"
        fi
    fi
    rm -f "$PID_FILE" "$LISTENING_FILE"
}

cmd_stop() {
    stop_branchd
    if [[ -d $PG_DATA ]] && pg_running "$PG_DATA"; then
        note "stopping PostgreSQL"
        pg_stop "$PG_DATA"
    fi
}

cmd_status() {
    local rc=0 pid
    if [[ -d $PG_DATA ]] && pg_running "$PG_DATA"; then
        echo "postgresql: running, port $(<"$PG_PORT_FILE"), socket directory $(shown "$PG_SOCK")"
    else
        echo "postgresql: stopped"
        rc=3
    fi
    if pid=$(branchd_pid); then
        echo "branchd:    running, pid $pid, 127.0.0.1:$(listening_port || echo '?')"
    else
        echo "branchd:    stopped"
        rc=3
    fi
    return "$rc"
}

case ${1:-start} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) usage ;;
esac
