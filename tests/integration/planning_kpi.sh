# Lead KPIs through branchctl against a real daemon: ten leads with known
# timestamps (the clock is faked by writing the times of the leads and
# their allocation events as the database owner, after real intake,
# contacts, wins, losses, an SLA reallocation by the sweep and a manual
# reassignment), then every figure of `kpi` checked exactly, the cross
# tables, the tenant's time zone, scopes and the errors naming their field.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

case_ "a company with two branches, a queue and an SLA of 30 minutes"
as carol
ok tenant create kpico --name "KPI 公司" --admin-subject CN=alice --timezone Asia/Shanghai
as alice
ok dept add / customer_service
ok unit add east --kind region --name "华东"
for b in b1 b2; do
    ok unit add east/$b --kind branch --name "east $b"
    ok dept add east/$b sales
done
for p in seo ads brand sla; do ok project add $p --name "$p"; done
ok project assign east/b1 seo --capacity 1
ok project assign east/b2 ads --capacity 1
ok project assign east/b1 sla --capacity 1
ok project assign east/b2 sla --capacity 1
ok policy set weighted --sla-minutes 30
ok policy set project_lead --project sla --lead-branch east/b2 --sla-minutes 30

# add EXTERNAL_ID PROJECT CHANNEL: intake; $id is the new lead.
add() {
    ok -o json lead add --external-id "$1" --project "$2" --channel "$3"
    id=$(jqv .id)
}
add L1 seo search; ok lead contact "$id"; ok lead win "$id"
add L2 seo search; ok lead contact "$id"
add L3 seo search; ok lead contact "$id"; ok lead lose "$id"
add L4 seo search
add L5 ads forum; ok lead contact "$id"; ok lead win "$id"
add L6 ads forum; ok lead contact "$id"
add L7 ads forum; ok lead lose "$id"
add L8 brand brand_zone
eq "$(jqv .status)" "unroutable"
add L10 sla email
eq "$(jqv .branch_path)" "east/b2"
l10=$id
psql_admin "UPDATE branchline.leads SET due_at = now() - interval '1 minute' WHERE id = $l10" >/dev/null
for _ in $(seq 1 100); do
    ok -o json lead show "$l10"
    [[ $(jqv .branch_path) == east/b1 ]] && break
    sleep 0.1
done
eq "$(jqv .branch_path)" "east/b1" "the sweep moved the overdue lead"
ok lead reassign "$l10" --to east/b2 --reason "back by hand"
ok cap set east/b2 --per-day 1
add L9 ads forum
eq "$(jqv .status)" "waiting"

# The clock: intake times, the first allocation 10..70 s later (L10: 5 s),
# contacts 2 min, 10 min, 40 min, 3 h and 30 h after intake.
psql_admin "
WITH t (ext, created, alloc, contact) AS (VALUES
  ('L1', '2026-11-10T01:00:00Z', 10, 120), ('L2', '2026-11-10T02:00:00Z', 20, 600),
  ('L3', '2026-11-10T03:00:00Z', 30, 2400), ('L4', '2026-11-11T20:00:00Z', 40, NULL),
  ('L5', '2026-11-10T04:00:00Z', 50, 10800), ('L6', '2026-11-09T00:00:00Z', 60, 108000),
  ('L7', '2026-11-10T05:00:00Z', 70, NULL), ('L8', '2026-11-11T00:00:00Z', NULL, NULL),
  ('L9', '2026-11-11T12:00:00Z', NULL, NULL), ('L10', '2026-11-11T06:00:00Z', 5, NULL)),
u AS (
  UPDATE branchline.leads l
     SET created_at = t.created::timestamptz,
         allocated_at = CASE WHEN t.ext = 'L10' THEN '2026-11-11T07:00:00Z'::timestamptz
                             WHEN t.alloc IS NOT NULL THEN t.created::timestamptz + make_interval(secs => t.alloc) END,
         contacted_at = t.created::timestamptz + make_interval(secs => t.contact)
    FROM t WHERE l.external_id = t.ext
  RETURNING l.tenant_id, l.id, l.created_at, t.alloc)
UPDATE branchline.lead_events e SET at = u.created_at + make_interval(secs => u.alloc)
  FROM u WHERE e.tenant_id = u.tenant_id AND e.lead_id = u.id AND e.kind = 'allocated'" >/dev/null

PERIOD=(--since 2026-11-01 --until 2026-11-12T00:00:00Z)

# kpi_is FILTER EXPECTED...: each "field=value" of the first row matching FILTER.
kpi_is() {
    local filter=$1 pair
    shift
    for pair in "$@"; do
        eq "$(jqv "map(select($filter))[0].${pair%%=*}")" "${pair#*=}" "${pair%%=*} of $filter"
    done
}

case_ "every figure of the whole period, exactly"
ok -o json kpi "${PERIOD[@]}"
eq "$(jqv length)" "1"
kpi_is true received=10 allocated=8 allocation_median_seconds=35 \
    speed_median_seconds=2400 speed_p90_seconds=69120 \
    band_0_5m=0.1 band_5_15m=0.1 band_15_60m=0.1 band_1_24h=0.1 band_over_24h=0.1 band_never=0.5 \
    contacted=5 contact_rate=0.5 sla_due=8 sla_met=2 sla_compliance=0.25 \
    reallocations_sla=1 reallocations_manual=1 won=2 lost=2 win_rate_contacted=0.4 win_rate_received=0.2 \
    open=4 open_age_median_seconds=115200 open_age_oldest_seconds=259200 \
    unroutable=1 unroutable_oldest_seconds=86400 waiting=1 waiting_oldest_seconds=43200 \
    branch_path= channel= period_start=

case_ "by branch: the queue is its own row; each branch's figures"
ok -o json kpi --by branch "${PERIOD[@]}"
eq "$(jqv 'map(.branch_path) | join(",")')" ",east/b1,east/b2"
kpi_is '.branch_path == ""' received=2 unroutable=1 waiting=1 allocated=0 band_never=1
kpi_is '.branch_path == "east/b1"' received=4 contacted=3 won=1 lost=1 open=2 sla_met=2 sla_due=4 \
    speed_median_seconds=600 band_never=0.25
eq "$(jqv 'map(select(.branch_path == "east/b1"))[0].win_rate_contacted * 1e9 | round')" "333333333" "1 won of 3 contacted"
kpi_is '.branch_path == "east/b2"' received=4 contacted=2 won=1 lost=1 open=2 sla_due=4 sla_met=0 \
    reallocations_sla=1 reallocations_manual=1 speed_median_seconds=59400

case_ "by day, in the tenant's time zone (L4, 20:00 UTC, is the next day in Shanghai)"
ok -o json kpi --by day "${PERIOD[@]}"
eq "$(jqv 'map("\(.period_start)=\(.received)") | join(",")')" \
    "2026-11-09=1,2026-11-10=5,2026-11-11=3,2026-11-12=1"
ok -o json kpi --by week "${PERIOD[@]}"
eq "$(jqv 'map("\(.period_start)=\(.received)") | join(",")')" "2026-11-09=10"

case_ "several --by give a cross table (also as one comma-separated --by)"
ok -o json kpi --by branch --by channel "${PERIOD[@]}"
eq "$(jqv 'map("\(.branch_path)/\(.channel)=\(.received)") | join(",")')" \
    "/brand_zone=1,/forum=1,east/b1/search=4,east/b2/email=1,east/b2/forum=3"
cross=$OUT
ok -o json kpi --by branch,channel "${PERIOD[@]}"
eq "$OUT" "$cross"
ok -o json kpi --by project --by holder --by month "${PERIOD[@]}"
eq "$(jqv 'map("\(.holder_path):\(.project):\(.period_start)=\(.received)") | join(",")')" \
    "/:ads:2026-11-01=4,/:brand:2026-11-01=1,/:seo:2026-11-01=4,/:sla:2026-11-01=1"

case_ "since and until bound the leads received"
ok -o json kpi --since 2026-11-10 --until 2026-11-11
eq "$(jqv '.[0].received')" "5"

case_ "the table, yaml and csv carry the same figures"
ok kpi --by branch "${PERIOD[@]}"
contains "$OUT" "SPEED_MEDIAN_SECONDS"
contains "$OUT" "east/b1"
ok -o csv kpi --by branch "${PERIOD[@]}" --columns branch_path,received,sla_compliance
contains "$OUT" "east/b1,4,0.5"
ok -o yaml kpi "${PERIOD[@]}"
contains "$OUT" "received: 10"

case_ "scopes: a branch sees its own leads, a region admin its branches but not the group's queue"
ok principal add --subject CN=dave --role branch --scope east/b1
ok principal add --subject CN=erin --role unit_admin --scope east
as dave
ok -o json kpi --by branch "${PERIOD[@]}"
eq "$(jqv 'map("\(.branch_path)=\(.received)") | join(",")')" "east/b1=4"
refused 6 PERMISSION_DENIED kpi --under east "${PERIOD[@]}"
as erin
ok -o json kpi "${PERIOD[@]}"
eq "$(jqv '.[0].received')" "8"
as bob
refused 6 UNAUTHENTICATED kpi

case_ "bad input names its field"
as alice
refused 4 "(field: by)" kpi --by colour
refused 4 "(field: by)" kpi --by day --by week
refused 4 "(field: by)" kpi --by branch --by branch
refused 4 "(field: until)" kpi --since 2026-11-12 --until 2026-11-01
refused 4 "(field: since)" kpi --since yesterday
refused 5 "(field: under)" kpi --under nowhere

finish
