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

# The OS users who may open the cluster's socket: the one that runs the
# server, and the one that runs these scripts (root, when that differs:
# root reaches every directory anyway and can become postgres).
pg_admin_os_users() {
    pg_superuser
    if [[ $(id -un) != "$(pg_superuser)" ]]; then
        id -un
    fi
}

# The database roles those OS users log in as: the superuser, the schema's
# owner (`branchd migrate`, deploy/app-roles.sql) and the daemon's role.
PG_LOCAL_ROLES=(branchline_owner branchd)

# pg_private_access DATADIR SOCKDIR: who may connect, written over whatever
# was there (so an older cluster is brought up to date): the socket
# directory is private to the server's OS user (0700), the socket
# authenticates by peer (the kernel's word for the connecting process's OS
# user) mapped through pg_ident.conf to the roles above (replication too,
# for a standby's pg_basebackup as the superuser), and TCP on
# 127.0.0.1 wants a password (scram-sha-256; no role has one unless a test
# gives it one). No `trust` anywhere: another OS user can neither reach the
# socket nor, were the directory opened, pass as anyone. The cluster must be
# reloaded (pg_reload) if it runs.
pg_private_access() {
    local data=$1 sock=$2 os role
    pg_owned_dir "$sock" 0700
    {
        echo "# Written by deploy/lib/pg.sh: no trust, see pg_private_access."
        echo "# TYPE  DATABASE  USER  ADDRESS       METHOD"
        echo "local   all       all                 peer map=branchline"
        echo "local   replication all               peer map=branchline"
        echo "host    all       all   127.0.0.1/32  scram-sha-256"
    } >"$data/pg_hba.conf"
    {
        echo "# Written by deploy/lib/pg.sh: which OS user may log in as which role"
        echo "# on the Unix socket (peer authentication)."
        echo "# MAPNAME     SYSTEM-USERNAME  PG-USERNAME"
        while read -r os; do
            for role in "$(pg_superuser)" "${PG_LOCAL_ROLES[@]}"; do
                echo "branchline  $os  $role"
            done
        done < <(pg_admin_os_users)
    } >"$data/pg_ident.conf"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$data/pg_hba.conf" "$data/pg_ident.conf"
    fi
    chmod 0600 "$data/pg_hba.conf" "$data/pg_ident.conf"
}

# pg_init DATADIR SOCKDIR PORT [SETTING...]: a new cluster whose ways in are
# those of pg_private_access; it listens on the Unix socket in SOCKDIR and
# on 127.0.0.1:PORT. Each SETTING is a postgresql.conf line.
pg_init() {
    local data=$1 sock=$2 port=$3 setting
    shift 3
    pg_reachable "$(dirname "$data")" ||
        die "user postgres cannot reach $(dirname "$data"): a parent directory is closed to other users"
    pg_owned_dir "$data" 0700
    pg_as_owner "$(pg_bindir)/initdb" -D "$data" -U "$(pg_superuser)" \
        --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --no-locale \
        >"$data.initdb.log" 2>&1 || {
        cat "$data.initdb.log" >&2
        die "initdb $data failed"
    }
    rm -f "$data.initdb.log"
    pg_private_access "$data" "$sock"
    {
        echo
        echo "# Branchline development settings"
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '${sock//\'/\'\'}'"
        echo "unix_socket_permissions = 0700"
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

# pg_reload DATADIR: the running cluster re-reads its configuration files.
pg_reload() {
    pg_running "$1" || return 0
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$1" reload >/dev/null
}

# pg_psql SOCKDIR PORT DBNAME [psql args...]: psql as the superuser.
pg_psql() {
    local sock=$1 port=$2 db=$3
    shift 3
    "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" \
        -U "$(pg_superuser)" -d "$db" "$@"
}

# pg_app_roles SOCKDIR PORT DBNAME: the roles the daemon and `branchd
# migrate` log in with (cluster-wide: any DBNAME will do).
pg_app_roles() {
    pg_psql "$1" "$2" "$3" -f "$PG_SH_DEPLOY_DIR/app-roles.sql"
}

# pg_owned_database SOCKDIR PORT DBNAME: DBNAME exists and belongs, with
# every Branchline object in it, to branchline_owner (a database that an
# older set-up migrated as the superuser is handed over:
# deploy/owner-handover.sql). Needs pg_app_roles first.
pg_owned_database() {
    local sock=$1 port=$2 db=$3
    if [[ -z $(pg_psql "$sock" "$port" postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = '${db//\'/\'\'}'") ]]; then
        pg_psql "$sock" "$port" postgres -c "CREATE DATABASE \"${db//\"/\"\"}\" OWNER branchline_owner"
    else
        pg_psql "$sock" "$port" "$db" -f "$PG_SH_DEPLOY_DIR/owner-handover.sql"
    fi
}
