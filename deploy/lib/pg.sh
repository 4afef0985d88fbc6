# shellcheck shell=bash
# A private PostgreSQL cluster for development and tests: created, started
# and stopped the same way by deploy/quickstart.sh, tests/run.sh and the
# pgctl.sh that run.sh writes. Sourced after common.sh, not run.
#
# PostgreSQL refuses to run as root, so when we are root the server programs
# run as the `postgres` user (from /, since our working directory may be
# closed to it) and the directories it writes belong to postgres. Give every
# function absolute paths.

PG_SH_DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

pg_bindir() {
    local major dir
    major=$(pg_config --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')
    dir=/usr/lib/postgresql/$major/bin
    if [[ -x $dir/initdb ]]; then
        echo "$dir"
    else
        pg_config --bindir
    fi
}

# The superuser that initdb creates: the user who runs the server.
pg_superuser() {
    if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi
}

pg_as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# pg_owned_dir DIR MODE: creates DIR for the server's use.
pg_owned_dir() {
    mkdir -p "$1"
    chmod "$2" "$1"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$1"
    fi
}

# True when the server's user can reach directory PATH (every parent
# searchable).
pg_reachable() {
    [[ $EUID -ne 0 ]] && return 0
    id -u postgres >/dev/null 2>&1 ||
        die "there is no user postgres; install PostgreSQL with deploy/install-deps.sh"
    runuser -u postgres -- test -x "$1"
}

# pg_init DATADIR SOCKDIR PORT [SETTING...]: a new cluster whose only way in
# without a password is the Unix socket in SOCKDIR; it also listens on
# 127.0.0.1:PORT. Each SETTING is a postgresql.conf line.
pg_init() {
    local data=$1 sock=$2 port=$3 setting
    shift 3
    pg_reachable "$(dirname "$data")" ||
        die "user postgres cannot reach $(dirname "$data"): a parent directory is closed to other users"
    pg_owned_dir "$data" 0700
    pg_owned_dir "$sock" 0755
    pg_as_owner "$(pg_bindir)/initdb" -D "$data" -U "$(pg_superuser)" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale \
        >"$data.initdb.log" 2>&1 || {
        cat "$data.initdb.log" >&2
        die "initdb $data failed"
    }
    rm -f "$data.initdb.log"
    {
        echo
        echo "# Branchline development settings"
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '${sock//\'/\'\'}'"
        for setting in "$@"; do
            echo "$setting"
        done
    } >>"$data/postgresql.conf"
}

pg_running() {
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# pg_start DATADIR LOGFILE: starts the cluster unless it runs, and waits
# until it accepts connections.
pg_start() {
    local data=$1 log=$2
    pg_running "$data" && return 0
    touch "$log"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$log"
    fi
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null || {
        tail -n 20 "$log" >&2
        die "PostgreSQL in $data did not start (log: $log)"
    }
}

# pg_stop DATADIR [MODE]: stops the cluster if it runs; MODE is pg_ctl's
# shutdown mode, fast (disconnect everyone, then stop cleanly) by default.
pg_stop() {
    local data=$1 mode=${2:-fast}
    pg_running "$data" || return 0
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$data" -m "$mode" -w -t 60 stop >/dev/null
}

# pg_psql SOCKDIR PORT DBNAME [psql args...]: psql as the superuser.
pg_psql() {
    local sock=$1 port=$2 db=$3
    shift 3
    "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" \
        -U "$(pg_superuser)" -d "$db" "$@"
}

# pg_app_roles SOCKDIR PORT DBNAME: the roles the daemon logs in with.
pg_app_roles() {
    pg_psql "$1" "$2" "$3" -f "$PG_SH_DEPLOY_DIR/app-roles.sql"
}
