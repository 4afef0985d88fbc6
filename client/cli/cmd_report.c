/*
 * branchctl report: asks the daemon for the figures of a subtree (the
 * organization, serving, shares, KPIs by branch and channel over time,
 * queues, staffing findings and recommendations, support candidates), one
 * operation each on one connection, and renders them into one
 * self-contained HTML file (report_html.h), or with --format csv writes each
 * table as DIR/NAME.csv. Its command row is in cmd_plan.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "org_call.h"
#include "pbjson.h"
#include "reqbuild.h"
#include "report_html.h"

/* One operation of the report: its result kept as the response and as JSON rows. */
typedef struct {
    const char *name;   /* the CSV file's name */
    const char *op;
    const char *fields; /* "field=value;..." with {path}, {since}, {grain} filled in */
    Branchline__V1__Response *resp;
    json_t *rows;
} part_t;

enum { P_UNITS, P_DEPTS, P_SERVING, P_SHARES, P_BRANCHES, P_BRANCH_TIME, P_CHANNEL_TIME, P_QUEUES,
       P_FINDINGS, P_RECOMMEND, P_SUPPORT, P_COUNT };

/* Replaces {path}, {since} and {grain} in spec; fields are separated by ';'. */
static int fill(char *buf, size_t len, const char *spec, const char *path, const char *since,
                const char *grain)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const char *s = spec; *s && used + 1 < len;) {
        const char *v = strncmp(s, "{path}", 6) == 0 ? path : strncmp(s, "{since}", 7) == 0 ? since
                        : strncmp(s, "{grain}", 7) == 0 ? grain : NULL;
        int w = v ? snprintf(buf + used, len - used, "%s", v) : snprintf(buf + used, len - used, "%c", *s);
        if (w < 0 || (size_t)w >= len - used)
            return -1;
        used += (size_t)w;
        s += v ? strcspn(s, "}") + 1 : 1;
    }
    return 0;
}

/* The request for p: op and its fields ("a=1;b=x"; a field whose value is empty is left out). */
static int build(const cli_t *cli, const part_t *p, const char *fields, Branchline__V1__Request **req)
{
    ProtobufCMessage *m = NULL;
    char copy[512], err[256];
    if (!(*req = reqbuild_new(p->op, &m)))
        return org_no_memory(cli);
    snprintf(copy, sizeof copy, "%s", fields);
    for (char *save = NULL, *f = strtok_r(copy, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(f, '=');
        if (!eq || !eq[1])
            continue;
        *eq = '\0';
        if (reqbuild_set(m, f, eq + 1, f, err, sizeof err) != REQBUILD_OK)
            return cli_usage_error(cli, NULL, "%s", err);
    }
    return 0;
}

static int fetch(const cli_t *cli, session_t *s, part_t *p, const char *path, const char *since,
                 const char *grain)
{
    char fields[512];
    Branchline__V1__Request *req = NULL;
    const ProtobufCMessage *result = NULL;
    if (fill(fields, sizeof fields, p->fields, path, since, grain) < 0)
        return cli_usage_error(cli, NULL, "PATH is too long");
    int rc = build(cli, p, fields, &req);
    if (rc == 0)
        rc = org_exchange(cli, s, req, NULL, &p->resp, &result);
    if (rc == 0) {
        json_t *obj = pbjson_message(result);
        p->rows = json_incref(json_object_get(obj, "items"));
        json_decref(obj);
        if (!p->rows)
            rc = org_no_memory(cli);
    }
    reqbuild_free(req);
    return rc;
}

static int write_csv(const cli_t *cli, part_t *parts, const char *dir)
{
    output_opts_t csv = {.format = OUTPUT_CSV};
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cli_fail(cli, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "-O %s: %s", dir, strerror(errno));
    for (int i = 0; i < P_COUNT; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s.csv", dir, parts[i].name);
        FILE *f = fopen(file, "w");
        if (!f)
            return cli_fail(cli, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "%s: %s", file, strerror(errno));
        int rc = output_result(f, &csv, reqbuild_result(parts[i].resp));
        if (fclose(f) != 0 || rc != 0)
            return cli_fail(cli, BRANCHLINE__V1__STATUS__CODE__INTERNAL, "%s: could not write it", file);
    }
    return 0;
}

static const char *const SERVING_COLS[] = {"branch_path:branch", "branch_name:name", "promotion:promotion",
    "customer_service:customer service", "sales:sales", "support:support", NULL};
static const char *const SHARE_COLS[] = {"branch_path:branch", "received:received", "actual_share:actual share",
    "expected_share:expected share", "conversion:conversion (won / closed)", NULL};
static const char *const KPI_COLS[] = {"branch_path:branch", "received:received", "speed_median_seconds:speed to lead, median (s)",
    "speed_p90_seconds:p90 (s)", "band_0_5m:within 5 min", "band_never:never contacted", "contact_rate:contact rate",
    "sla_compliance:SLA compliance", "win_rate_contacted:won / contacted", "win_rate_received:won / received", NULL};
static const char *const QUEUE_COLS[] = {"holder_path:holder", "open:open", "open_age_oldest_seconds:oldest open (s)",
    "unroutable:unroutable", "unroutable_oldest_seconds:oldest unroutable (s)", "waiting:waiting",
    "waiting_oldest_seconds:oldest waiting (s)", NULL};
static const char *const FINDING_COLS[] = {"dept_path:department", "function:function", "rule:rule",
    "detail:detail", "planned:planned", "actual:actual", NULL};
static const char *const RECOMMEND_COLS[] = {"dept_path:department", "function:function", "role:role",
    "current:current", "recommended:recommended", "difference:difference", "reason:reason", NULL};
static const char *const SUPPORT_COLS[] = {"branch_path:branch", "holder_path:peers under", "reason:reason",
    "received:received", "conversion:conversion", "sla_compliance:SLA compliance",
    "peer_conversion_q1:peers' conversion q1", "peer_sla_q1:peers' SLA q1", NULL};

static void write_html(FILE *out, part_t *p, const char *title, const char *subtitle)
{
    report_begin(out, title, subtitle);
    report_section(out, "organization", "Organization: departments and headcount");
    report_org(out, p[P_UNITS].rows, p[P_DEPTS].rows);
    report_section_end(out);
    report_section(out, "serving", "Serving map: who serves each branch");
    report_table(out, "serving-table", p[P_SERVING].rows, SERVING_COLS);
    report_section_end(out);
    report_section(out, "shares", "Allocation shares against expected");
    report_bars(out, "shares-chart", p[P_SHARES].rows, "branch_path", "actual_share", "actual share",
                "expected_share", "expected (current policy)");
    report_table(out, "shares-table", p[P_SHARES].rows, SHARE_COLS);
    report_section_end(out);
    report_section(out, "speed", "Speed to lead and conversion per branch");
    report_table(out, "kpi-table", p[P_BRANCHES].rows, KPI_COLS);
    report_lines(out, "speed-branch-chart", p[P_BRANCH_TIME].rows, "branch_path", "period_start",
                 "speed_median_seconds", 1 / 60.0, "median minutes");
    report_lines(out, "conversion-branch-chart", p[P_BRANCH_TIME].rows, "branch_path", "period_start",
                 "win_rate_received", 100, "% won of received");
    report_section_end(out);
    report_section(out, "channels", "Speed to lead and conversion per channel");
    report_lines(out, "speed-channel-chart", p[P_CHANNEL_TIME].rows, "channel", "period_start",
                 "speed_median_seconds", 1 / 60.0, "median minutes");
    report_lines(out, "conversion-channel-chart", p[P_CHANNEL_TIME].rows, "channel", "period_start",
                 "win_rate_received", 100, "% won of received");
    report_section_end(out);
    report_section(out, "queues", "Queues and backlog");
    report_table(out, "queues-table", p[P_QUEUES].rows, QUEUE_COLS);
    report_section_end(out);
    report_section(out, "staffing", "Staffing: findings and recommendations");
    report_table(out, "findings-table", p[P_FINDINGS].rows, FINDING_COLS);
    report_table(out, "recommend-table", p[P_RECOMMEND].rows, RECOMMEND_COLS);
    report_section_end(out);
    report_section(out, "support", "Support candidates: new or under-performing branches");
    report_table(out, "support-table", p[P_SUPPORT].rows, SUPPORT_COLS);
    report_section_end(out);
    report_end(out);
}

/* day, week or month: how many days the report covers. 0 for anything else. */
static int period_days(const char *period)
{
    return strcmp(period, "day") == 0 ? 14 : strcmp(period, "week") == 0 ? 56
         : strcmp(period, "month") == 0 ? 183 : 0;
}

static int render(const cli_t *cli, part_t *parts, const char *format, const char *target,
                  const char *path, const char *period, const char *since)
{
    if (strcmp(format, "csv") == 0)
        return write_csv(cli, parts, target);
    char title[512], subtitle[512], now[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    snprintf(title, sizeof title, "Branchline report: %s", path[0] ? path : "your scope");
    snprintf(subtitle, sizeof subtitle, "Leads received since %s, by %s; made %s", since, period, now);
    FILE *out = fopen(target, "w");
    if (!out)
        return cli_fail(cli, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "-O %s: %s", target, strerror(errno));
    write_html(out, parts, title, subtitle);
    if (fclose(out) != 0)
        return cli_fail(cli, BRANCHLINE__V1__STATUS__CODE__INTERNAL, "%s: could not write it", target);
    return 0;
}

int cmd_report(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    part_t parts[P_COUNT] = {
        [P_UNITS] = {"units", "unit_list", "under={path}", NULL, NULL},
        [P_DEPTS] = {"departments", "dept_list", "under={path}", NULL, NULL},
        [P_SERVING] = {"serving", "serving", "path={path}", NULL, NULL},
        [P_SHARES] = {"shares", "lead_stats", "under={path};since={since}", NULL, NULL},
        [P_BRANCHES] = {"kpi_branches", "kpi", "under={path};since={since};by=branch", NULL, NULL},
        [P_BRANCH_TIME] = {"kpi_branches_over_time", "kpi", "under={path};since={since};by=branch,{grain}", NULL, NULL},
        [P_CHANNEL_TIME] = {"kpi_channels_over_time", "kpi", "under={path};since={since};by=channel,{grain}", NULL, NULL},
        [P_QUEUES] = {"queues", "kpi", "under={path};since={since};by=holder", NULL, NULL},
        [P_FINDINGS] = {"staffing_findings", "staffing_check", "path={path}", NULL, NULL},
        [P_RECOMMEND] = {"staffing_recommendations", "staffing_recommend", "path={path}", NULL, NULL},
        [P_SUPPORT] = {"support_candidates", "support_suggest", "", NULL, NULL},
    };
    args_t args;
    session_t s;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc != 0)
        return rc;
    const char *path = args_get(cmd, &args, "PATH");
    const char *period = args_get(cmd, &args, "--period");
    const char *format = args_get(cmd, &args, "--format");
    period = period ? period : "month";
    format = format ? format : "html";
    if (!period_days(period))
        return cli_usage_error(cli, cmd, "--period must be day, week or month");
    if (strcmp(format, "html") != 0 && strcmp(format, "csv") != 0)
        return cli_usage_error(cli, cmd, "--format must be html or csv");
    char since[16];
    time_t from = time(NULL) - (time_t)period_days(period) * 86400;
    struct tm tm;
    strftime(since, sizeof since, "%Y-%m-%d", gmtime_r(&from, &tm));
    if ((rc = session_open(cli, &s)) != 0)
        return rc;
    for (int i = 0; rc == 0 && i < P_COUNT; i++)
        rc = fetch(cli, &s, &parts[i], path ? path : "", since, period);
    session_close(&s);
    if (rc == 0)
        rc = render(cli, parts, format, args_get(cmd, &args, "-O"), path ? path : "", period, since);
    for (int i = 0; i < P_COUNT; i++) {
        json_decref(parts[i].rows);
        if (parts[i].resp)
            branchline__v1__response__free_unpacked(parts[i].resp, NULL);
    }
    return rc;
}
