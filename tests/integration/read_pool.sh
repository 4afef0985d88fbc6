# The optional read pool (db_read_conninfo): lead list, lead stats and org
# export run there, in read-only sessions; every other operation stays on
# the primary pool. bltest_run --read-pool gives the daemon a read pool on
# the same database with application_name=branchd_read, so PostgreSQL itself
# shows which connection ran what; the second daemon's read pool points at a
# port where nothing answers.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

H=http://127.0.0.1:$BLTEST_HTTP_PORT
H2=http://127.0.0.1:$BLTEST_HTTP_PORT2

# value NAME_WITH_LABELS: the sample's value in a fresh scrape of $1.
metric() {
    curl -sS -f "$1/metrics" | awk -v k="$2" '$1 == k { v = $2 } END { print v == "" ? 0 : v }'
}

# ran_on FUNCTION: the application_names of the daemon's backends whose
# last statement called api.FUNCTION (pg_stat_activity keeps the last one;
# on the primary pool a later statement, a sweep say, may have replaced it,
# so this proves where a statement ran, not where it did not).
ran_on() {
    psql_admin "SELECT coalesce(string_agg(DISTINCT CASE WHEN application_name = '' THEN 'primary'
                                                         ELSE application_name END, ','), 'none')
                  FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND usename = 'branchd' AND query LIKE '%api.$1(%'"
}

case_ "both pools connect: the daemon is ready with its read pool up"
ready_is "$H" 200
for _ in $(seq 100); do
    n=$(psql_admin "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'branchd_read'")
    [[ $n -ge 4 ]] && break
    sleep 0.1
done
# 2 workers x db_read_pool_size 2
[[ $n -ge 4 ]] || fail "only $n read pool connections"

case_ "notifications are heard on the primary pool only (LISTEN), so caches invalidate from the primary"
listens() {
    psql_admin "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND usename = 'branchd'
                   AND query LIKE 'LISTEN %' AND application_name $1 'branchd_read'"
}
eq "$(listens '=')" 0 "LISTEN connections of the read pool"
# One per worker of each daemon (the second one's may still be connecting).
[[ $(listens '<>') -ge 2 ]] || fail "the primary pools do not LISTEN"

case_ "writes and the other reads run on the primary pool"
one_branch_org
ok lead add --external-id rp-1 --project seo --channel search --name Ann
ok -o json lead show 1
eq "$(jqv .status)" allocated
ok lead history 1
ok unit list
ok audit
eq "$(metric "$H" 'branchline_db_queries_total{pool="read"}')" 0 "statements on the read pool"
[[ $(metric "$H" 'branchline_db_queries_total{pool="primary"}') -ge 12 ]] || fail "primary statements not counted"
eq "$(ran_on lead_list)" none

case_ "lead list, lead stats and org export run on the read pool"
reads=$(metric "$H" 'branchline_db_queries_total{pool="read"}')
ok -o json lead list
eq "$(jqv '.[0].external_id')" rp-1
eq "$(ran_on lead_list)" branchd_read
ok -o json lead stats
eq "$(jqv '.[0].branch_path')" r/b
eq "$(ran_on lead_stats)" branchd_read
ok export
contains "$OUT" "seo"
eq "$(ran_on org_export)" branchd_read
eq "$(metric "$H" 'branchline_db_queries_total{pool="read"}')" "$((reads + 3))"
ok lead add --external-id rp-2 --project seo --channel search
eq "$(metric "$H" 'branchline_db_queries_total{pool="read"}')" "$((reads + 3))" "a write counted on the read pool"

case_ "the metrics have a pool label; the read pool's connections are published"
sleep 0.6
[[ $(metric "$H" 'branchline_db_pool_connections{pool="read",state="idle"}') -ge 1 ]] ||
    fail "no read pool connection published"
[[ $(metric "$H" 'branchline_db_pool_connections{pool="primary",state="idle"}') -ge 1 ]] ||
    fail "no primary pool connection published"

case_ "a read pool whose server never answers: not ready, the listed reads fail UNAVAILABLE, the rest serve"
ready_is "$H2" 503
contains "$BODY" "read pool: worker 0 has no connection of db_read_conninfo"
export BRANCHLINE_SERVER=127.0.0.1:$BLTEST_PORT2
refused 3 UNAVAILABLE lead list
refused 3 UNAVAILABLE lead stats
refused 3 UNAVAILABLE export
ok lead add --external-id rp-3 --project seo --channel search
ok lead show 1
ok unit list
[[ $(metric "$H2" 'branchline_db_errors_total{pool="read"}') -ge 3 ]] || fail "read pool errors not counted"
[[ $(metric "$H2" 'branchline_db_reconnects_total{pool="read"}') -ge 1 ]] || fail "read pool reconnects not counted"
export BRANCHLINE_SERVER=127.0.0.1:$BLTEST_PORT

# Last: these probes replace api functions for the rest of this database's life.
case_ "the read pool's sessions are read-only: a read function that writes fails there"
psql_admin "CREATE OR REPLACE FUNCTION api.lead_stats(p_subject text, p_under text, p_period text, p_since text)
            RETURNS SETOF api.lead_stats_row LANGUAGE plpgsql AS \$\$
            BEGIN
                UPDATE branchline.org_state SET version = version;
                RETURN;
            END \$\$" >/dev/null
refused 1 "a read-only database session refused a write" lead stats
psql_admin "CREATE OR REPLACE FUNCTION api.lead_stats(p_subject text, p_under text, p_period text, p_since text)
            RETURNS SETOF api.lead_stats_row LANGUAGE plpgsql AS \$\$
            BEGIN
                PERFORM branchline.fail('FAILED_PRECONDITION', NULL, 'probe read_only=%s app=%s',
                                        current_setting('transaction_read_only'),
                                        current_setting('application_name'));
            END \$\$" >/dev/null
refused 4 "probe read_only=on app=branchd_read" lead stats
psql_admin "CREATE OR REPLACE FUNCTION api.lead_show(p_subject text, p_id bigint)
            RETURNS SETOF api.lead LANGUAGE plpgsql AS \$\$
            BEGIN
                PERFORM branchline.fail('FAILED_PRECONDITION', NULL, 'probe read_only=%s app=%s',
                                        current_setting('transaction_read_only'),
                                        current_setting('application_name'));
            END \$\$" >/dev/null
refused 4 "probe read_only=off app=" lead show 1

finish
