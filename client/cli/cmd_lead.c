/*
 * Leads, allocation policies and caps: one row each, as in cmd_org.c. Most
 * are the generic cmd_org; lead list adds the next-page hint, lead import
 * (cmd_lead_import.c) and lead watch (cmd_lead_watch.c) are their own
 * handlers. Vocabularies in the help texts are the daemon's
 * (proto/branchline.proto, "leads"); the daemon validates them and names
 * the field it refuses.
 */
#include <stdio.h>
#include <unistd.h>

#include "org_call.h"
#include "output.h"

#define CHANNELS "search, brand_zone, forum, social, email, referral, website, content or other"
#define STATUSES "allocated, contacted, won, lost, unroutable or waiting"
#define POLICIES "weighted, least_loaded, performance or project_lead"

/* lead list's page size when --limit is not given. */
#define LEAD_PAGE_DEFAULT 50

#define LEAD_ID ARG("ID", "id", "the lead's id")
#define LEAD_NOTE FLAG("--note", "TEXT", "note", "a note kept in the lead's history")

static const char IMPORT_DETAILS[] =
    "FILE is CSV (RFC 4180: fields in double quotes may hold commas, line breaks\n"
    "and \"\" for a quote; CRLF or LF line ends; UTF-8, with or without a BOM).\n"
    "Its first line names the columns, in any order: external_id, project and\n"
    "channel are required; origin, name, phone, email and note are optional.\n"
    "Empty lines are skipped. Rows go to the daemon in batches of at most 1000,\n"
    "pipelined. A row that is not valid CSV, has the wrong number of fields or\n"
    "is not UTF-8 is rejected here, by its line, and the other rows still go in.\n"
    "Importing a file again is safe: rows already imported come back as\n"
    "duplicate.\n"
    "\n"
    "Output: a table of the rows not created (duplicate and rejected: line,\n"
    "external_id, result, field, reason), then on stderr\n"
    "'imported: N created, N duplicate, N rejected'. With -o json, every row's\n"
    "result as one array in file order, and no summary. When stderr is a\n"
    "terminal a progress bar shows there.\n"
    "\n"
    "Exit codes: 0 when no row was rejected (duplicates are fine), 4 when some\n"
    "rows were rejected, 2 for a file or header that cannot be used (nothing is\n"
    "sent); a request that fails stops the import with its own code (see\n"
    "'branchctl --help'), and the rows not imported are counted on stderr.\n";

static const char LIST_DETAILS[] =
    "Leads come newest first, in pages of --limit (default 50, at most 1000).\n"
    "When a page is full, 'next page: --after ID' is printed on stderr; with\n"
    "-o json only the array is printed: pass its last id as --after. Pages stay\n"
    "stable while new leads come in.\n";

static const char WATCH_DETAILS[] =
    "Prints each lead allocated in scope as it happens: one table row, or with\n"
    "-o json one JSON object per line (JSON Lines), flushed at once. Waits\n"
    "without a time limit until the daemon ends the stream, or until Ctrl-C or\n"
    "SIGTERM, which cancel the watch and exit 0.\n";

const command_t LEAD_COMMANDS[] = {
    /* ---- intake ---- */
    {
        .words = {"lead", "add"}, .run = cmd_org, .op = "lead_add",
        .summary = "Add one lead; it is allocated at once and the answer names its branch",
        .params = {
            FLAG_REQ("--external-id", "ID", "external_id", "your id for the lead, unique in the "
                     "tenant; the same id again returns the existing lead"),
            FLAG_REQ("--project", "P", "project", "project code"),
            FLAG_REQ("--channel", "C", "channel", CHANNELS),
            FLAG("--origin", "PATH", "origin", "unit the enquiry came from (default: the group)"),
            FLAG("--name", "N", "name", "the customer's name"),
            FLAG("--phone", "P", "phone", "the customer's phone number"),
            FLAG("--email", "E", "email", "the customer's email address"),
            FLAG("--note", "T", "note", "free text"),
        },
        .example = "branchctl lead add --external-id web-1001 --project loans --channel search "
                   "--origin east/shanghai --name 张伟 --phone 13800138000",
    },
    {
        .words = {"lead", "import"}, .run = cmd_lead_import, .op = "lead_import",
        .summary = "Add the leads of a CSV file, reporting each row that did not go in",
        .params = {ARG("FILE", NULL, "CSV file with a header line, or - for standard input")},
        .example = "branchctl lead import leads.csv",
        .columns = "line,external_id,result,field,reason",
        .details = IMPORT_DETAILS,
    },

    /* ---- working leads ---- */
    {
        .words = {"lead", "list"}, .run = cmd_lead_list, .op = "lead_list",
        .summary = "List leads, newest first, a page at a time",
        .params = {
            FLAG("--branch", "PATH", "branch", "leads of the branches under this unit and the "
                 "waiting and unroutable leads it holds (default: your scope; a branch "
                 "principal: its own branch)"),
            FLAG("--status", "S", "status", STATUSES),
            FLAG("--project", "P", "project", "project code"),
            FLAG("--since", "T", "since", "created at or after this date or time (ISO-8601)"),
            FLAG("--limit", "N", "limit", "leads per page (default 50, at most 1000)"),
            FLAG("--after", "CURSOR", "after", "the id of the last lead of the previous page"),
        },
        .example = "branchctl lead list --status unroutable --limit 100",
        .columns = "id,external_id,project,channel,branch_path,status,name,phone,created_at",
        .details = LIST_DETAILS,
    },
    {
        .words = {"lead", "show"}, .run = cmd_org, .op = "lead_show",
        .summary = "Show one lead",
        .params = {LEAD_ID},
        .example = "branchctl lead show 1042",
    },
    {
        .words = {"lead", "contact"}, .run = cmd_org, .op = "lead_contact",
        .summary = "Record that the branch contacted the customer",
        .params = {LEAD_ID, LEAD_NOTE},
        .example = "branchctl lead contact 1042 --note 'called, wants a quote'",
    },
    {
        .words = {"lead", "win"}, .run = cmd_org, .op = "lead_win",
        .summary = "Close a lead as won",
        .params = {LEAD_ID, LEAD_NOTE},
        .example = "branchctl lead win 1042 --note 'contract signed'",
    },
    {
        .words = {"lead", "lose"}, .run = cmd_org, .op = "lead_lose",
        .summary = "Close a lead as lost",
        .params = {LEAD_ID, LEAD_NOTE},
        .example = "branchctl lead lose 1042 --note 'chose a competitor'",
    },
    {
        .words = {"lead", "reassign"}, .run = cmd_org, .op = "lead_reassign",
        .summary = "Move a lead to another branch by hand (admin, or unit_admin over both)",
        .params = {
            LEAD_ID,
            FLAG_REQ("--to", "BRANCH", "to", "path of the branch to take it"),
            FLAG_REQ("--reason", "TEXT", "reason", "why, kept in the lead's history"),
        },
        .example = "branchctl lead reassign 1042 --to east/shanghai/minhang "
                   "--reason 'customer moved'",
    },
    {
        .words = {"lead", "history"}, .run = cmd_org, .op = "lead_history",
        .summary = "Show every owner and status change of a lead, with times and reasons",
        .params = {LEAD_ID},
        .example = "branchctl lead history 1042",
    },
    {
        .words = {"lead", "explain"}, .run = cmd_org, .op = "lead_explain",
        .summary = "Show why a lead went where it did: the pool, weights and counts",
        .params = {LEAD_ID},
        .example = "branchctl lead explain 1042",
        .columns = "policy,branch_path,weight,allocated_before,score,chosen,note",
    },
    {
        .words = {"lead", "stats"}, .run = cmd_org, .op = "lead_stats",
        .summary = "Per branch: received, contacted, won, lost, conversion and fair share",
        .params = {
            FLAG("--under", "PATH", "under", "only branches in this subtree"),
            FLAG("--period", "day|week|month", "period", "one row per branch and period "
                 "(default: one row per branch)"),
            FLAG("--since", "T", "since", "from this time on (ISO-8601)"),
        },
        .example = "branchctl lead stats --under east --period week --since 2026-11-01T00:00:00Z",
        .progress = "computing stats",
    },
    {
        .words = {"lead", "purge"}, .run = cmd_lead_purge, .op = "lead_purge",
        .summary = "Erase the contact data of closed leads older than a date (admin)",
        .params = {
            FLAG_REQ("--before", "DATE", "before", "closed leads created before this day "
                     "(YYYY-MM-DD, in the tenant's time zone) or time"),
            {"--dry-run", NULL, "dry_run", NULL, PARAM_SWITCH, "count the leads it would purge, "
             "changing nothing"},
            SWITCH("--yes", "purge without asking (needed when standard input is a terminal)"),
        },
        .example = "branchctl lead purge --before 2025-01-01 --dry-run",
        .details = "The purge cannot be undone. Run from a terminal it needs --yes (or\n"
                   "--dry-run, which only counts); from a script, with standard input not a\n"
                   "terminal, it runs as asked.\n",
    },
    {
        .words = {"lead", "watch"}, .run = cmd_lead_watch, .op = "lead_watch",
        .summary = "Print each new allocation as it happens, until interrupted",
        .params = {FLAG("--branch", "PATH", "branch", "allocations to the branches under this "
                        "unit (default: your scope; a branch principal: its own branch)")},
        .example = "branchctl lead watch --branch east/shanghai/pudong -o json",
        .columns = "id,project,status,branch_path",
        .details = WATCH_DETAILS,
    },

    /* ---- allocation policies and caps ---- */
    {
        .words = {"policy", "set"}, .run = cmd_org, .op = "policy_set",
        .summary = "Set how leads are allocated, for the tenant, a holder unit or a project",
        .params = {
            ARG("POLICY", "policy", POLICIES),
            FLAG("--at", "PATH", "at", "the holder unit it applies to (default: the tenant)"),
            FLAG("--project", "P", "project", "only leads of this project (default: every "
                 "project)"),
            FLAG("--lead-branch", "PATH", "lead_branch", "project_lead: the branch that gets "
                 "the project's leads first, up to its cap"),
            FLAG("--sla-minutes", "N", "sla_minutes", "an allocated lead not contacted within N "
                 "minutes goes to the next branch (default: no SLA)"),
            FLAG("--max-reallocations", "N", "max_reallocations", "after N SLA reallocations "
                 "the lead goes to the holder's queue as unroutable (default 3; 0: the first "
                 "time it is overdue)"),
        },
        .example = "branchctl policy set project_lead --project loans "
                   "--lead-branch east/shanghai/pudong --sla-minutes 30",
    },
    {
        .words = {"policy", "unset"}, .run = cmd_org, .op = "policy_unset",
        .summary = "Remove a policy set earlier, so that the one above it applies again",
        .params = {
            FLAG("--at", "PATH", "at", "the holder unit it was set at (default: the tenant)"),
            FLAG("--project", "P", "project", "the project it was set for (default: the one "
                 "for every project)"),
        },
        .example = "branchctl policy unset --at east --project seo",
    },
    {
        .words = {"policy", "show"}, .run = cmd_org, .op = "policy_show",
        .summary = "List the allocation policies in force",
        .example = "branchctl policy show",
    },
    {
        .words = {"cap", "set"}, .run = cmd_org, .op = "cap_set",
        .summary = "Limit how many leads a branch receives per day or week",
        .params = {
            ARG("BRANCH", "branch", "path of the branch"),
            FLAG("--per-day", "N", "per_day", "at most N leads a day, over all projects "
                 "(0: none at all; not given: no daily cap)"),
            FLAG("--per-week", "N", "per_week", "at most N leads a week (0: none at all; not "
                 "given: no weekly cap)"),
        },
        .example = "branchctl cap set east/shanghai/pudong --per-day 40 --per-week 180",
        .details = "Give --per-day, --per-week or both; the caps given replace the branch's\n"
                   "caps. 0 stops the branch's leads for that period (it stays in the pool\n"
                   "for the leads it has). 'branchctl cap unset' removes the caps.\n",
    },
    {
        .words = {"cap", "unset"}, .run = cmd_org, .op = "cap_unset",
        .summary = "Remove a branch's caps, so that it receives leads without limit",
        .params = {ARG("BRANCH", "branch", "path of the branch")},
        .example = "branchctl cap unset east/shanghai/pudong",
    },
    {
        .words = {"cap", "list"}, .run = cmd_org, .op = "cap_list",
        .summary = "List the branches' caps (no value: no cap for that period)",
        .params = {FLAG("--under", "PATH", "under", "only branches in this subtree (default: "
                        "your scope)")},
        .example = "branchctl cap list --under east",
        .columns = "branch_path,per_day,per_week",
    },
    {{NULL}},
};

/* The table, then on stderr how to get the next page when this one is full. */
static int present_page(const cli_t *cli, const Branchline__V1__Request *req,
                        const ProtobufCMessage *result)
{
    const Branchline__V1__LeadList *list = (const Branchline__V1__LeadList *)result;
    int rc = org_present_result(cli, req, result);
    int32_t limit = req->lead_list->limit;
    size_t page = limit > 0 ? (size_t)limit : LEAD_PAGE_DEFAULT;
    if (rc == 0 && cli->out.format == OUTPUT_TABLE && list->n_items > 0 &&
        list->n_items >= page) {
        fflush(stdout);
        fprintf(stderr, "next page: --after %lld\n",
                (long long)list->items[list->n_items - 1]->id);
    }
    return rc;
}

int cmd_lead_list(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    return org_run(cli, cmd, argc, argv, present_page);
}

/* A purge typed at a terminal must say --yes: it cannot be undone. */
int cmd_lead_purge(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    args_t args;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc != 0)
        return rc;
    if (!args_get(cmd, &args, "--yes") && !args_get(cmd, &args, "--dry-run") && isatty(STDIN_FILENO))
        return cli_usage_error(cli, cmd, "a purge erases contact data for good: give --yes "
                               "(or --dry-run to count the leads first)");
    return org_run(cli, cmd, argc, argv, org_present_result);
}
