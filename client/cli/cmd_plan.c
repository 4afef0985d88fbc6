/*
 * Planning and evaluation: lead KPIs, staffing (Erlang C and the
 * recommendations), what-if shapes, support candidates and the report. Each
 * command but the report is one request, as in cmd_org.c; kpi only joins
 * its repeated --by flags into the one comma-separated field first. The
 * figures are defined in the README ("Planning and evaluation").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "org_call.h"

#define KPI_KEYS "branch, channel, project, holder, day, week or month"
#define KPI_BY_MAX 8

static const char KPI_DETAILS[] =
    "One row per combination of the --by keys (several --by, or --by a,b, give a\n"
    "cross table; none: one row for all). Leads count where they are worked (their\n"
    "branch) or, in a queue, where they are held. Statuses are as they are now;\n"
    "ages are measured at --until (default now). Durations are seconds, rates\n"
    "and shares fractions. -o json lists every figure; the table shows the main\n"
    "ones (--columns picks others). Definitions: README, \"Lead KPIs\".\n";

static const char ERLANG_DETAILS[] =
    "Traffic A = leads per hour x handling time (erlangs). Agents: the fewest\n"
    "N > A whose service level 1 - P_wait x e^(-(N-A) x t / AHT) reaches\n"
    "--service-level and whose occupancy A/N is at most --max-occupancy (default\n"
    "0.85); staffed = ceil(N / (1 - shrinkage)). P_wait is Erlang C, computed\n"
    "through the Erlang B recursion (no factorials: exact for A in the\n"
    "thousands). Computed by the daemon.\n";

static const char RECOMMEND_DETAILS[] =
    "Per department (support departments aside) and role: active people, the\n"
    "recommendation, the difference and the reason. Customer service: Erlang C on\n"
    "the busiest hour of the day over the period; sales: leads a day over what a\n"
    "salesperson works a day; promotion: at least one content creator and one\n"
    "promoter, platform work at least 2. Then one manager per department, a\n"
    "supervisor for every 2-5 people beyond the 5 a manager leads directly, and\n"
    "at least 3 people in all. The tenant's settings (handling time, service\n"
    "level, shrinkage, occupancy, leads per salesperson) and the rules: README,\n"
    "\"Staffing recommendations\".\n";

static const char WHATIF_DETAILS[] =
    "Rows by section: department (opened, closed), move (the people reorg plan\n"
    "would move), headcount (recommended per department before and after, as\n"
    "staffing recommend sizes them), allocation (the period's leads per branch as\n"
    "they went and as the target shape's policies would have allocated them:\n"
    "replayed in order of intake, shares of the total), total (the period's leads,\n"
    "equal on both sides) and tradeoff (seed 002: management difficulty, labour\n"
    "cost, internal competition in one city, hiring in big cities, central control\n"
    "of leads). The daemon makes the change and replays the leads inside a\n"
    "subtransaction that it rolls back: nothing changes. Admins only.\n";

static const char SUPPORT_DETAILS[] =
    "A branch is a candidate when it is new (opened within --new-within) or, among\n"
    "its peers (the branches served by the same customer service) that received at\n"
    "least --min-leads leads in the period, its conversion (won / received) or its\n"
    "SLA compliance is below the peers' bottom quartile. 'support assign' accepts a\n"
    "candidate; 'supported' says one is already assigned.\n";

static const char REPORT_DETAILS[] =
    "The report covers --period's last few periods (day: 14 days, week: 8 weeks,\n"
    "month: 6 months) and draws figures over time by that period, in the tenant's\n"
    "time zone. The HTML file holds its CSS and SVG charts inline and loads\n"
    "nothing: it opens offline and prints. Sections: organization chart with\n"
    "departments and headcount, serving map, allocation shares against expected,\n"
    "speed to lead and conversion per branch and channel over time, queues,\n"
    "staffing findings and recommendations, support candidates. --format csv\n"
    "writes the same tables as files in the directory -O names.\n";

const command_t PLAN_COMMANDS[] = {
    {
        .words = {"kpi"}, .run = cmd_kpi, .op = "kpi",
        .summary = "Lead KPIs: speed to lead, contact, SLA, conversion, backlog and queues",
        .params = {
            FLAG("--under", "PATH", "under", "leads worked or held in this subtree (default: "
                 "your scope)"),
            FLAG("--by", "KEY", "by", KPI_KEYS "; repeat for a cross table"),
            FLAG("--since", "T", "since", "leads received at or after this date or time"),
            FLAG("--until", "T", "until", "leads received before this date or time (default: now)"),
        },
        .example = "branchctl kpi --under east --by branch --by month --since 2026-09-01",
        .columns = "branch_path,channel,project,holder_path,period_start,received,"
                   "speed_median_seconds,band_0_5m,contact_rate,sla_compliance,"
                   "win_rate_contacted,open,unroutable,waiting",
        .details = KPI_DETAILS,
        .progress = "computing KPIs",
    },
    {
        .words = {"staffing", "erlang"}, .run = cmd_org, .op = "staffing_erlang",
        .summary = "Agents needed for a lead volume and service level (Erlang C)",
        .params = {
            FLAG_REQ("--leads-per-hour", "N", "leads_per_hour", "arrivals per hour"),
            FLAG_REQ("--handle-minutes", "M", "handle_minutes", "average handling time"),
            FLAG_REQ("--answer-within", "SECONDS", "answer_within", "the service level's time"),
            FLAG_REQ("--service-level", "X", "service_level", "fraction answered within it, "
                     "e.g. 0.8"),
            FLAG("--shrinkage", "S", "shrinkage", "fraction of paid time not on leads "
                 "(default 0)"),
            FLAG("--max-occupancy", "O", "max_occupancy", "highest A/N (default 0.85)"),
        },
        .example = "branchctl staffing erlang --leads-per-hour 120 --handle-minutes 6 "
                   "--answer-within 60 --service-level 0.8 --shrinkage 0.3",
        .details = ERLANG_DETAILS,
    },
    {
        .words = {"staffing", "recommend"}, .run = cmd_org, .op = "staffing_recommend",
        .summary = "Recommended headcount per department and role, with the reason for each",
        .params = {
            ARG_OPT("PATH", "path", "departments at or under this unit (default: your scope)"),
            FLAG("--period", "DAYS", "period", "lead history to size from, e.g. 30d (default)"),
        },
        .example = "branchctl staffing recommend east --period 30d",
        .details = RECOMMEND_DETAILS,
        .progress = "sizing departments",
    },
    {
        .words = {"whatif"}, .run = cmd_org, .op = "whatif",
        .summary = "Compare the current shape with a centralized or decentralized one, "
                   "changing nothing",
        .params = {
            {"--centralize", "FUNCS", "functions", "mode=centralize", PARAM_ONE_OF,
             "comma-separated functions to serve from the group"},
            {"--decentralize", "FUNCS", "functions", "mode=decentralize", PARAM_ONE_OF,
             "comma-separated functions to serve from every unit of one kind (--to)"},
            FLAG("--to", "KIND", "to_kind", "with --decentralize: that kind (default region)"),
            FLAG("--period", "DAYS", "period", "intake to replay, e.g. 30d (default)"),
        },
        .example = "branchctl whatif --centralize customer_service --period 30d",
        .columns = "section,subject,before,after,before_share,after_share,detail",
        .details = WHATIF_DETAILS,
        .progress = "replaying the period",
    },
    {
        .words = {"support", "suggest"}, .run = cmd_org, .op = "support_suggest",
        .summary = "Branches that are new or under-perform their peers: support candidates",
        .params = {
            FLAG("--period", "DAYS", "period", "performance over this many days, e.g. 90d (default)"),
            FLAG("--new-within", "DAYS", "new_within", "a branch opened within this is new "
                 "(default 180d)"),
            FLAG("--min-leads", "N", "min_leads", "a branch with fewer leads is not judged "
                 "(default 20)"),
        },
        .example = "branchctl support suggest --period 90d; branchctl support assign BRANCH "
                   "--reason 'low conversion'",
        .columns = "branch_path,holder_path,reason,received,conversion,sla_compliance,"
                   "peer_conversion_q1,peer_sla_q1,peers,supported",
        .details = SUPPORT_DETAILS,
    },
    {
        .words = {"report"}, .run = cmd_report,
        .summary = "Write a self-contained HTML report (or CSV tables) for a subtree",
        .params = {
            ARG_OPT("PATH", NULL, "the subtree (default: your scope)"),
            FLAG("--period", "day|week|month", NULL, "the charts' period (default month)"),
            FLAG("--format", "html|csv", NULL, "html (default): one file; csv: one file per table"),
            FLAG_REQ("-O", "FILE", NULL, "the HTML file to write, or with --format csv a directory"),
        },
        .example = "branchctl report east --period month -O report.html",
        .details = REPORT_DETAILS,
    },
    {{NULL}},
};

/*
 * Every --by (as "--by X" or "--by=X") joined into one "--by X,Y" at the
 * end of a copy of argv, so the row's single field carries them all.
 */
int cmd_kpi(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    char **rest = calloc((size_t)argc + 2, sizeof *rest);
    char by[256] = "";
    int n = 0, keys = 0, rc;
    if (!rest)
        return org_no_memory(cli);
    for (int i = 0; i < argc; i++) {
        const char *value = NULL;
        int at = i;
        int m = strcmp(argv[i], "--") == 0 ? 0 : args_flag_value(argc, argv, &at, "--by", NULL, &value);
        if (m <= 0 || keys == KPI_BY_MAX) {
            rest[n++] = argv[i];
            continue;
        }
        size_t used = strlen(by);
        snprintf(by + used, sizeof by - used, "%s%s", keys++ ? "," : "", value);
        i = at;
    }
    if (keys) {
        rest[n++] = "--by";
        rest[n++] = by;
    }
    rc = org_run(cli, cmd, n, rest, org_present_result);
    free(rest);
    return rc;
}
