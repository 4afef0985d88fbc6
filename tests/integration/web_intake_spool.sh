# Web intake across a database outage (the shared cluster stopped and
# started by tests/run.sh's pgctl; RUN_SERIAL): submissions get 202 and wait
# in the spool; the daemon is killed with SIGKILL while they wait; with the
# database and a new daemon back, the spool is replayed before newer
# submissions, nothing lost and nothing doubled (leads counted by external
# id). Then the spool's bounds: past its size or its age, 503 with
# Retry-After, and what was accepted before the bound is still replayed.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/intake_lib.sh"

OWN=$BLTEST_DIR/own
HIGH=(intake_rate_per_address=1000000 intake_rate_per_source=1000000 intake_burst=100000)
db_up() { "$BRANCHLINE_TEST_PGCTL" start >/dev/null 2>&1 || true; }
cleanup() {
    own_daemon_stop KILL
    db_up
}

# depth_is N: waits (60 s at most) until the spool's depth on /metrics is N.
depth_is() {
    for _ in $(seq 600); do
        [[ $(metric branchline_intake_spool_depth) == "$1" ]] && return 0
        sleep 0.1
    done
    fail "the spool's depth stayed $(metric branchline_intake_spool_depth), want $1"
}

# lead_id EXTERNAL_ID: the lead's id (the order leads were created in).
lead_id() { psql_admin "SELECT id FROM branchline.leads WHERE external_id = '$1'"; }

case_ "a company, a source and a daemon with a spool"
as carol
ok tenant create spoolco --name "Spool Co" --admin-subject CN=alice
as alice
ok dept add / customer_service
ok unit add b1 --kind branch --name B1
ok dept add b1 sales
ok project add seo --name SEO
ok project assign b1 seo --capacity 50
ok -o json source add site --channel website --project seo --return-url https://www.example.com/thanks
TOKEN=$(jqv .token)
trap cleanup EXIT
own_daemon_start "$OWN" "${HIGH[@]}"
post "$TOKEN" application/json '{"name":"Before the outage"}' -H "Idempotency-Key: up-0"
eq "$CODE" 201 "$OUT"

case_ "the database stops: valid submissions get 202 and wait in the spool"
"$BRANCHLINE_TEST_PGCTL" stop >/dev/null
for i in 1 2 3 4 5; do
    post "$TOKEN" application/json "{\"name\":\"Spooled $i\",\"phone\":\"1380000000$i\"}" -H "Idempotency-Key: sp-$i"
    eq "$CODE" 202 "$OUT"
    eq "$(jq -r .outcome <<<"$OUT")" queued
done
# A double-clicked form without a key: its derived id is computed at replay
# from the time it was received, so the two make one lead.
for _ in 1 2; do
    post "$TOKEN" application/x-www-form-urlencoded 'name=Clicked+twice&phone=13900000001'
    eq "$CODE" 202 "$OUT"
done
post "$TOKEN" application/json '{"name":"X","phone":"12"}' -H "Idempotency-Key: sp-bad"
eq "$CODE" 202 "$OUT" "validation is the database's: a bad field is refused at replay"
post "$TOKEN" text/plain 'name=X'
eq "$CODE" 415 "$OUT" "what the daemon checks is still refused at once"
eq "$(metric branchline_intake_spool_depth)" 8
[[ -s $OWN/intake.spool ]] || fail "the spool file is empty"

case_ "SIGKILL while the spool has entries; the database and a new daemon come back; the spool replays first"
own_daemon_stop KILL
"$BRANCHLINE_TEST_PGCTL" start >/dev/null
own_daemon_start "$OWN" "${HIGH[@]}"
post "$TOKEN" application/json '{"name":"After the restart"}' -H "Idempotency-Key: after-1"
[[ $CODE == 201 || $CODE == 202 ]] || fail "after the restart: $CODE $OUT"
depth_is 0
for i in 1 2 3 4 5; do
    eq "$(leads_with "sp-$i")" 1 "sp-$i: nothing lost, nothing doubled"
done
eq "$(psql_admin "SELECT count(*) FROM branchline.leads WHERE name = 'Clicked twice'")" 1
eq "$(leads_with sp-bad)" 0
eq "$(leads_with after-1)" 1
eq "$(leads spoolco)" 8 "up-0, sp-1..5, the double click, after-1"
for i in 1 2 3 4 5; do
    [[ $(lead_id "sp-$i") -lt $(lead_id after-1) ]] || fail "sp-$i was created after a newer submission"
done
[[ $(lead_id sp-1) -lt $(lead_id sp-5) ]] || fail "the spool was not replayed in order"
grep -q 'event=intake_replay_refused.*field=phone' "$OWN/branchd.log" || fail "the refused record was not logged"
ok -o json lead list --limit 100
eq "$(jqv 'map(select(.external_id == "sp-3")) | .[0].status')" allocated

case_ "a clean restart replays nothing again"
own_daemon_stop
own_daemon_start "$OWN" "${HIGH[@]}"
sleep 1
eq "$(leads spoolco)" 8
eq "$(metric branchline_intake_spool_depth)" 0

case_ "the size bound: past intake_spool_max_kb, 503 with Retry-After; what was accepted is replayed"
own_daemon_stop
own_daemon_start "$OWN" "${HIGH[@]}" intake_spool_max_kb=1
"$BRANCHLINE_TEST_PGCTL" stop >/dev/null
accepted=0
refused=0
for i in $(seq 20); do
    post "$TOKEN" application/json "{\"name\":\"Size $i\",\"note\":\"$(printf 'n%.0s' {1..100})\"}" -H "Idempotency-Key: sz-$i"
    if [[ $CODE == 202 ]]; then
        [[ $refused == 0 ]] || fail "202 after a 503"
        accepted=$((accepted + 1))
    else
        eq "$CODE" 503 "$OUT"
        eq "$(jq -r .outcome <<<"$OUT")" spool_full
        [[ $(header Retry-After) =~ ^[0-9]+$ ]] || fail "503 without Retry-After"
        refused=$((refused + 1))
        echo "sz-$i" >>"$BLTEST_DIR/refused"
    fi
done
[[ $accepted -ge 1 && $refused -ge 1 ]] || fail "accepted $accepted, refused $refused"
echo "spool of 1 KiB: $accepted accepted, $refused refused"
"$BRANCHLINE_TEST_PGCTL" start >/dev/null
depth_is 0
for i in $(seq "$accepted"); do
    eq "$(leads_with "sz-$i")" 1 "sz-$i was accepted"
done
while read -r key; do
    eq "$(leads_with "$key")" 0 "$key was refused"
done <"$BLTEST_DIR/refused"

case_ "the age bound: when the oldest record is intake_spool_max_age_s old, 503 with Retry-After"
own_daemon_stop
own_daemon_start "$OWN" "${HIGH[@]}" intake_spool_max_age_s=2
"$BRANCHLINE_TEST_PGCTL" stop >/dev/null
post "$TOKEN" application/json '{"name":"Old"}' -H "Idempotency-Key: age-1"
eq "$CODE" 202 "$OUT"
sleep 3
post "$TOKEN" application/json '{"name":"Too late"}' -H "Idempotency-Key: age-2"
eq "$CODE" 503 "$OUT"
[[ $(header Retry-After) =~ ^[0-9]+$ ]] || fail "503 without Retry-After"
eq "$(metric 'branchline_intake_requests_total{outcome="spool_full"}')" 1
"$BRANCHLINE_TEST_PGCTL" start >/dev/null
depth_is 0
eq "$(leads_with age-1)" 1
eq "$(leads_with age-2)" 0
own_daemon_stop
trap - EXIT

finish
