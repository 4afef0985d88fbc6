# staffing erlang against an independent calculation: erlang_reference.py
# computes Erlang C from the textbook formula with exact rationals (A^N/N!
# as written), the daemon through the Erlang B recursion; agents and staffed
# must be equal and every probability agree to 1e-9, at loads from 1.5 to
# 300 erlangs, with the service level or the occupancy deciding.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

as carol
ok tenant create erl --name "Erlang" --admin-subject CN=alice
as alice

# check LEADS_PER_HOUR HANDLE_MINUTES ANSWER_WITHIN SERVICE_LEVEL SHRINKAGE MAX_OCCUPANCY
check() {
    local want
    want=$(python3 "$(dirname "$0")/erlang_reference.py" "$@")
    ok -o json staffing erlang --leads-per-hour "$1" --handle-minutes "$2" --answer-within "$3" \
        --service-level "$4" --shrinkage "$5" --max-occupancy "$6"
    eq "$(jq -n --argjson a "$OUT" --argjson b "$want" '
        [$a.agents == $b.agents, $a.staffed == $b.staffed]
        + ([ "traffic", "service_level", "occupancy", "probability_waiting", "average_wait_seconds" ]
           | map(. as $k | (($a[$k] - $b[$k]) | fabs) <= 1e-9 * (1 + ($b[$k] | fabs))))
        | all')" "true" "staffing erlang $* = $OUT, the reference says $want"
}

case_ "A = 1.5: occupancy at most 0.85 decides"
check 30 3 20 0.8 0 0.85
case_ "A = 12 with 30% shrinkage"
check 120 6 60 0.8 0.3 1
case_ "A = 120: the service level decides"
check 1200 6 20 0.9 0.25 1
case_ "A = 150 under 85% occupancy"
check 1500 6 20 0.95 0 0.85
case_ "A = 300"
check 3000 6 15 0.8 0.1 1

case_ "the defaults (no shrinkage, occupancy 0.85) and the table"
ok -o json staffing erlang --leads-per-hour 1200 --handle-minutes 6 --answer-within 20 --service-level 0.8
eq "$(jqv .staffed)" "$(jqv .agents)"
eq "$(jqv '.occupancy <= 0.85')" "true"
ok staffing erlang --leads-per-hour 120 --handle-minutes 6 --answer-within 60 --service-level 0.8
contains "$OUT" "probability_waiting"

case_ "bad input names its field"
refused 4 "(field: service_level)" staffing erlang --leads-per-hour 10 --handle-minutes 5 --answer-within 20 --service-level 1.5
refused 4 "(field: shrinkage)" staffing erlang --leads-per-hour 10 --handle-minutes 5 --answer-within 20 --service-level 0.8 --shrinkage 1
refused 4 "(field: max_occupancy)" staffing erlang --leads-per-hour 10 --handle-minutes 5 --answer-within 20 --service-level 0.8 --max-occupancy 2
refused 4 "(field: leads_per_hour)" staffing erlang --leads-per-hour 1e9 --handle-minutes 600 --answer-within 20 --service-level 0.8
refused 4 "(field: answer_within)" staffing erlang --leads-per-hour 10 --handle-minutes 5 --answer-within 100000 --service-level 0.8
refused 2 "not a number" staffing erlang --leads-per-hour ten --handle-minutes 5 --answer-within 20 --service-level 0.8
refused 2 "--service-level" staffing erlang --leads-per-hour 10 --handle-minutes 5 --answer-within 20

finish
