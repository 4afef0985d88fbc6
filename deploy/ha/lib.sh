# shellcheck shell=bash
# The HA layout on one machine: etcd, two PostgreSQL nodes under Patroni,
# HAProxy and branchd instances, all on 127.0.0.1 and all under one
# directory ($HA_DIR) that the running user owns. Used by deploy/ha/cluster.sh
# and tests/ha/run.sh; sourced after deploy/lib/common.sh and pg.sh, not run.
#
# Every process runs as the calling user, which must not be root
# (PostgreSQL refuses it): ha_drop_root re-runs a script as `postgres`.
# $HA_DIR/ha.env holds the ports and paths of one layout; pids/NAME.pid the
# process of each part (etcd, node1, node2, haproxy, b1, b2, ...).

HA_LIB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HA_TEMPLATES=$HA_LIB_ROOT/deploy/ha
HA_NODES=(node1 node2)
HA_READY_TIMEOUT=${HA_READY_TIMEOUT:-90}

# ha_drop_root SCRIPT ARGS...: when root, runs SCRIPT again as the postgres
# user (PostgreSQL's own system account) and exits with its status. The
# checkout must be readable by it.
ha_drop_root() {
    [[ $EUID -eq 0 ]] || return 0
    local script
    script=$(realpath "$1")
    shift
    id -u postgres >/dev/null 2>&1 ||
        die "there is no user postgres; run deploy/install-deps.sh --ha first"
    runuser -u postgres -- test -r "$script" ||
        die "user postgres cannot read $script: a parent directory is closed to other users"
    cd / && exec runuser -u postgres -- env -u TMPDIR HOME=/tmp "$script" "$@"
}

# ha_pid NAME: the pid of part NAME, if it runs.
ha_pid() {
    local f=$HA_DIR/pids/$1.pid pid
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# ha_spawn NAME LOG CMD...: starts CMD in the background as part NAME.
ha_spawn() {
    local name=$1 log=$2
    shift 2
    "$@" </dev/null >>"$log" 2>&1 &
    echo $! >"$HA_DIR/pids/$name.pid"
    disown  # its end, killed or not, is not this shell's job to report
}

# ha_fill TEMPLATE OUT KEY=VALUE...: TEMPLATE with each @KEY@ replaced.
ha_fill() {
    local template=$1 out=$2 kv text
    shift 2
    text=$(<"$template")
    for kv in "$@"; do
        text=${text//@${kv%%=*}@/${kv#*=}}
    done
    [[ $text != *@[A-Z_]*@* ]] || die "$template: a field was left unfilled in $out"
    printf '%s\n' "$text" >"$out"
}

# ha_init DIR BRANCHD_COUNT: ports, passwords, certificates and
# configuration files of a new layout in DIR (created, mode 0700).
ha_init() {
    HA_DIR=$1
    local count=$2 n h node i servers="" bservers=""
    mkdir -p "$HA_DIR"/pids
    chmod 0700 "$HA_DIR"
    {
        echo "HA_BRANCHD_COUNT=$count"
        echo "HA_ETCD_PORT=$(free_tcp_port)"
        echo "HA_ETCD_PEER_PORT=$(free_tcp_port)"
        echo "HA_PRIMARY_PORT=$(free_tcp_port)"
        echo "HA_BRANCHD_PORT=$(free_tcp_port)"
        echo "HA_SUPERUSER=$(id -un)"
        for node in "${HA_NODES[@]}"; do
            echo "HA_PG_PORT_$node=$(free_tcp_port)"
            echo "HA_REST_PORT_$node=$(free_tcp_port)"
        done
        for ((i = 1; i <= count; i++)); do
            echo "HA_LISTEN_PORT_b$i=$(free_tcp_port)"
            echo "HA_HTTP_PORT_b$i=$(free_tcp_port)"
        done
    } >"$HA_DIR/ha.env"
    # shellcheck disable=SC1091 # written just above
    . "$HA_DIR/ha.env"
    local superpw replpw apppw
    superpw=$(openssl rand -hex 16)
    replpw=$(openssl rand -hex 16)
    apppw=$(openssl rand -hex 16)
    echo "$apppw" >"$HA_DIR/branchd.password"
    # libpq password file: the superuser and branchd, through HAProxy (and
    # branchline_owner, added by ha_owner_password).
    printf '127.0.0.1:*:*:%s:%s\n127.0.0.1:*:*:branchd:%s\n' "$HA_SUPERUSER" "$superpw" "$apppw" \
        >"$HA_DIR/pgpass"
    chmod 0600 "$HA_DIR/pgpass" "$HA_DIR/branchd.password"
    ha_owner_password

    for node in "${HA_NODES[@]}"; do
        mkdir -p "$HA_DIR/$node/run"
        chmod 0700 "$HA_DIR/$node" "$HA_DIR/$node/run"
        n=HA_PG_PORT_$node
        i=HA_REST_PORT_$node
        ha_fill "$HA_TEMPLATES/patroni.yml.in" "$HA_DIR/$node/patroni.yml" \
            NAME="$node" REST_PORT="${!i}" ETCD_PORT="$HA_ETCD_PORT" PG_PORT="${!n}" \
            DATA_DIR="$HA_DIR/$node/data" BIN_DIR="$(pg_bindir)" NODE_DIR="$HA_DIR/$node" \
            SUPERUSER="$HA_SUPERUSER" SUPERUSER_PASSWORD="$superpw" REPLICATION_PASSWORD="$replpw"
        chmod 0600 "$HA_DIR/$node/patroni.yml"
        servers+="    server $node 127.0.0.1:${!n} check port ${!i}"$'\n'
    done

    local pg_ports=HA_PG_PORT_${HA_NODES[0]} pg_ports2=HA_PG_PORT_${HA_NODES[1]}
    quietly "$HA_LIB_ROOT/deploy/dev-certs.sh" "$HA_DIR/certs" admin operator
    for ((i = 1; i <= count; i++)); do
        mkdir -p "$HA_DIR/b$i"
        n=HA_LISTEN_PORT_b$i
        h=HA_HTTP_PORT_b$i
        ha_fill "$HA_TEMPLATES/branchd.conf.in" "$HA_DIR/b$i/branchd.conf" \
            LISTEN_PORT="${!n}" HTTP_PORT="${!h}" DIR="$HA_DIR/b$i" CERTS="$HA_DIR/certs" \
            PRIMARY_PORT="$HA_PRIMARY_PORT" PGPASS="$HA_DIR/pgpass" PG_PORTS="${!pg_ports},${!pg_ports2}" \
            READ_FAILBACK_S="${HA_READ_FAILBACK_S:-30}"
        # inih reads lines of up to 200 characters: a longer one would be cut.
        awk 'length($0) > 198 { exit 1 }' "$HA_DIR/b$i/branchd.conf" ||
            die "$HA_DIR/b$i/branchd.conf: a line is too long for branchd (use a shorter directory)"
        bservers+="    server b$i 127.0.0.1:${!n} check port ${!h}"$'\n'
    done
    ha_fill "$HA_TEMPLATES/haproxy.cfg.in" "$HA_DIR/haproxy.cfg" \
        PRIMARY_PORT="$HA_PRIMARY_PORT" BRANCHD_PORT="$HA_BRANCHD_PORT" \
        PRIMARY_SERVERS="${servers%$'\n'}" BRANCHD_SERVERS="${bservers%$'\n'}"
}

# ha_load DIR: the layout made by ha_init DIR.
ha_load() {
    HA_DIR=$1
    [[ -s $HA_DIR/ha.env ]] || die "$HA_DIR holds no HA layout (no ha.env)"
    # shellcheck disable=SC1091 # written by ha_init
    . "$HA_DIR/ha.env"
    export PGPASSFILE=$HA_DIR/pgpass
}

ha_start_etcd() {
    ha_spawn etcd "$HA_DIR/etcd.log" etcd --name ha --data-dir "$HA_DIR/etcd" \
        --listen-client-urls "http://127.0.0.1:$HA_ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$HA_ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$HA_ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$HA_ETCD_PEER_PORT" \
        --initial-cluster "ha=http://127.0.0.1:$HA_ETCD_PEER_PORT"
    ha_wait "etcd" 30 ha_etcd_healthy
}

ha_etcd_healthy() {
    etcdctl --endpoints "127.0.0.1:$HA_ETCD_PORT" endpoint health >/dev/null 2>&1
}

# ha_start_node NODE: Patroni for NODE (it starts PostgreSQL itself).
ha_start_node() {
    ha_spawn "$1" "$HA_DIR/$1/patroni.log" patroni "$HA_DIR/$1/patroni.yml"
}

ha_start_haproxy() {
    haproxy -c -q -f "$HA_DIR/haproxy.cfg" || die "haproxy refuses $HA_DIR/haproxy.cfg"
    ha_spawn haproxy "$HA_DIR/haproxy.log" haproxy -db -f "$HA_DIR/haproxy.cfg"
}

# ha_rest NODE PATH: the HTTP status Patroni of NODE answers to GET PATH.
ha_rest() {
    local port=HA_REST_PORT_$1
    curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:${!port}$2" || true
}

# ha_primary: the node that is primary now (Patroni's view), if any.
ha_primary() {
    local node
    for node in "${HA_NODES[@]}"; do
        if [[ $(ha_rest "$node" /primary) == 200 ]]; then
            echo "$node"
            return 0
        fi
    done
    return 1
}

# ha_other NODE: the other node.
ha_other() {
    if [[ $1 == "${HA_NODES[0]}" ]]; then echo "${HA_NODES[1]}"; else echo "${HA_NODES[0]}"; fi
}

# ha_wait WHAT SECONDS CMD...: waits until CMD succeeds (CMD is quiet).
ha_wait() {
    local what=$1 limit=$2 deadline=$((SECONDS + $2))
    shift 2
    until "$@"; do
        ((SECONDS < deadline)) || die "$what: not ready after ${limit}s (logs in $HA_DIR)"
        sleep 0.3
    done
}

ha_quietly() { "$@" >/dev/null 2>&1; }

# True when one node is primary, the other its synchronous standby, and
# HAProxy leads to the primary.
ha_healthy() {
    local p
    p=$(ha_primary) || return 1
    [[ $(ha_rest "$(ha_other "$p")" /sync) == 200 ]] || return 1
    [[ $(ha_psql postgres -Atc "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]]
}

# ha_wait_healthy SECONDS
ha_wait_healthy() {
    ha_wait "a primary with a synchronous standby" "$1" ha_healthy
}

# ha_psql DB ARGS...: psql as the superuser, through HAProxy to the primary.
ha_psql() {
    local db=$1
    shift
    "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$HA_PRIMARY_PORT" \
        -U "$HA_SUPERUSER" -d "$db" "$@"
}

# ha_owner_password: the password of branchline_owner (the schema's owner,
# which runs `branchd migrate`), in $HA_DIR/owner.password and pgpass;
# made once (a layout from before it gets one now).
ha_owner_password() {
    [[ -s $HA_DIR/owner.password ]] && return 0
    (umask 077 && openssl rand -hex 16 >"$HA_DIR/owner.password")
    printf '127.0.0.1:*:*:branchline_owner:%s\n' "$(<"$HA_DIR/owner.password")" >>"$HA_DIR/pgpass"
}

# The roles with their passwords, and the database, owned by
# branchline_owner (handed over if an older layout made it the
# superuser's), migrated by it.
ha_setup_db() {
    local owner_ci="host=127.0.0.1 port=$HA_PRIMARY_PORT dbname=branchline user=branchline_owner"
    ha_owner_password
    ha_psql postgres -f "$HA_LIB_ROOT/deploy/app-roles.sql"
    ha_psql postgres -c "ALTER ROLE branchd PASSWORD '$(<"$HA_DIR/branchd.password")'" \
        -c "ALTER ROLE branchline_owner PASSWORD '$(<"$HA_DIR/owner.password")'"
    if [[ -z $(ha_psql postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'branchline'") ]]; then
        ha_psql postgres -c "CREATE DATABASE branchline OWNER branchline_owner"
    else
        ha_psql branchline -f "$HA_LIB_ROOT/deploy/owner-handover.sql"
    fi
    quietly "$HA_LIB_ROOT/build/daemon/branchd" migrate --conninfo "$owner_ci"
    quietly "$HA_LIB_ROOT/build/daemon/branchd" bootstrap-operator --subject CN=operator --conninfo "$owner_ci"
}

# ha_ctl CERT ARGS...: branchctl with certificate CERT, through HAProxy.
ha_ctl() {
    local cert=$1
    shift
    "$HA_LIB_ROOT/build/client/branchctl" --server "127.0.0.1:$HA_BRANCHD_PORT" \
        --ca "$HA_DIR/certs/ca.crt" --cert "$HA_DIR/certs/$cert.crt" \
        --key "$HA_DIR/certs/$cert.key" "$@"
}

# ha_branchd_answers bN: true when bN answers a ping directly; dies when
# it has exited.
ha_branchd_answers() {
    local port=HA_LISTEN_PORT_$1
    ha_pid "$1" >/dev/null || {
        tail -n 5 "$HA_DIR/$1/branchd.log" >&2
        die "branchd $1 exited (log: $HA_DIR/$1/branchd.log)"
    }
    "$HA_LIB_ROOT/build/client/branchctl" --timeout 2000 \
        --server "127.0.0.1:${!port}" --ca "$HA_DIR/certs/ca.crt" \
        --cert "$HA_DIR/certs/operator.crt" --key "$HA_DIR/certs/operator.key" ping >/dev/null 2>&1
}

# ha_start_branchd N: branchd instance bN, waiting until it answers.
ha_start_branchd() {
    rm -f "$HA_DIR/b$1/port"
    ha_spawn "b$1" "$HA_DIR/b$1/branchd.log" "$HA_LIB_ROOT/build/daemon/branchd" \
        --config "$HA_DIR/b$1/branchd.conf"
    ha_wait "branchd b$1" 60 ha_branchd_answers "b$1"
}

# Everything, in order, waiting for each part to be ready.
ha_start_all() {
    local i
    ha_start_etcd
    ha_start_node "${HA_NODES[0]}"
    ha_wait "${HA_NODES[0]} as primary" "$HA_READY_TIMEOUT" ha_quietly ha_primary
    ha_start_node "${HA_NODES[1]}"
    ha_start_haproxy
    ha_wait_healthy "$HA_READY_TIMEOUT"
    ha_setup_db
    for ((i = 1; i <= HA_BRANCHD_COUNT; i++)); do
        ha_start_branchd "$i"
    done
    # HAProxy sends clients to a branchd only after its /readyz checks pass,
    # a moment after the daemon itself answers.
    ha_wait "branchd through HAProxy" "$HA_READY_TIMEOUT" ha_quietly ha_ctl operator ping
}

# ha_stop NAME: ends part NAME (TERM, then KILL after 30 s).
ha_stop() {
    local pid deadline=$((SECONDS + 30))
    pid=$(ha_pid "$1") || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# ha_postmaster NODE: the pid of NODE's PostgreSQL, if it runs.
ha_postmaster() {
    local f=$HA_DIR/$1/data/postmaster.pid pid
    [[ -s $f ]] || return 1
    pid=$(head -n 1 "$f")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# Stops everything: clients' side first, etcd last. A PostgreSQL whose
# Patroni was killed is stopped on its own.
ha_stop_all() {
    local i node pid stoppers=()
    [[ -n ${HA_DIR:-} && -s $HA_DIR/ha.env ]] || return 0
    for ((i = 1; i <= ${HA_BRANCHD_COUNT:-0}; i++)); do
        ha_stop "b$i"
    done
    ha_stop haproxy
    for node in "${HA_NODES[@]}"; do
        ha_stop "$node" &
        stoppers+=($!)
    done
    wait "${stoppers[@]}"
    for node in "${HA_NODES[@]}"; do
        if pid=$(ha_postmaster "$node"); then
            "$(pg_bindir)/pg_ctl" -D "$HA_DIR/$node/data" -m immediate -w stop >/dev/null 2>&1 ||
                kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    ha_stop etcd
}
