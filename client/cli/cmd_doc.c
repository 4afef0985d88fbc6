/*
 * Declarative organization files: export writes the organization as one
 * document, apply makes the tenant match a document, diff shows what apply
 * would do. The daemon does the work (org_export, org_apply: the diff is
 * computed there, in the same transaction as the changes); this file only
 * converts YAML to JSON and back, and points the daemon's error locations
 * ("units[3].kind") at lines of the file.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "org_call.h"
#include "output.h"
#include "progress.h"
#include "readfile.h"
#include "reqbuild.h"
#include "yamlconv.h"

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name

static const char EXPORT_DETAILS[] =
    "Writes YAML (the default) or JSON (-o json): units with kinds, names,\n"
    "statuses and opening dates; what each branch handles (projects with\n"
    "capacities), its lead cap and support assignment; departments with planned\n"
    "positions and their current people; projects; allocation policies. Everything\n"
    "is in a fixed order, so two exports of the same organization are identical\n"
    "byte for byte, and 'branchctl apply -f' of an export changes nothing. The\n"
    "format is documented in deploy/examples/company.yaml.\n";

static const char APPLY_DETAILS[] =
    "FILE is YAML or JSON (a file starting with '{' is read as JSON), as\n"
    "'branchctl export' writes it or written by hand; see\n"
    "deploy/examples/company.yaml. The daemon computes the difference and makes\n"
    "it in one transaction; a document with an error (unknown parent, bad kind,\n"
    "duplicate, cycle, ...) changes nothing and is reported with its place in the\n"
    "file: 'company.yaml:12: units[3].kind ...'. Objects the file does not list\n"
    "are left alone and listed as such; with --prune people leave, departments,\n"
    "positions, project assignments, caps and policies are deleted, support\n"
    "ends and units are deleted (closed while leads or principals refer to\n"
    "them). Projects are never deleted.\n"
    "\n"
    "Output: one row per object: ACTION (created, changed, moved, closed,\n"
    "deleted, left_alone), KIND, KEY, DETAIL; a summary on stderr.\n"
    "\n"
    "Exit codes: 0 applied (with --dry-run: nothing would change), 10 with\n"
    "--dry-run: changes pending, 4 the document was refused, 2 the file cannot\n"
    "be read or parsed; others as for every command.\n";

static const char DIFF_DETAILS[] =
    "The same as 'branchctl apply --dry-run -f FILE': the daemon makes the\n"
    "changes and rolls them back, so the diff is exactly what apply would do.\n"
    "Exit codes: 0 no change, 10 changes pending, 4 the document was refused.\n";

#define FILE_PARAM FLAG_REQ("-f", "FILE", NULL, "the document, YAML or JSON; - for standard input")
#define PRUNE_PARAM {"--prune", NULL, "prune", NULL, PARAM_SWITCH, \
                     "also close or delete what the document does not list"}

static int cmd_export(const cli_t *cli, const command_t *cmd, int argc, char **argv);
static int cmd_apply(const cli_t *cli, const command_t *cmd, int argc, char **argv);

const command_t DOC_COMMANDS[] = {
    {
        .words = {"export"}, .run = cmd_export, .op = "org_export",
        .summary = "Write the organization, or a subtree, as a YAML or JSON document",
        .params = {ARG_OPT("PATH", "path", "the subtree to export (default: the whole tenant)")},
        .example = "branchctl export > company.yaml",
        .details = EXPORT_DETAILS,
    },
    {
        .words = {"apply"}, .run = cmd_apply, .op = "org_apply",
        .summary = "Make the organization match a document, in one transaction",
        .params = {
            FILE_PARAM,
            {"--dry-run", NULL, "dry_run", NULL, PARAM_SWITCH,
             "compute the changes on the daemon and roll them back"},
            PRUNE_PARAM,
        },
        .example = "branchctl apply -f company.yaml --dry-run",
        .details = APPLY_DETAILS,
    },
    {
        .words = {"diff"}, .run = cmd_apply, .op = "org_apply",
        .summary = "Show what applying a document would change, changing nothing",
        .params = {FILE_PARAM, PRUNE_PARAM},
        .consts = {"dry_run=true"},
        .example = "branchctl diff -f company.yaml --prune",
        .details = DIFF_DETAILS,
    },
    {{NULL}},
};

/* ---- export ------------------------------------------------------------------- */

static int present_document(const cli_t *cli, const Branchline__V1__Request *req,
                            const ProtobufCMessage *result)
{
    (void)req;
    const Branchline__V1__OrgDocument *doc = (const Branchline__V1__OrgDocument *)result;
    json_error_t jerr;
    json_t *v = json_loads(doc->document_json, 0, &jerr);
    if (!v)
        return cli_fail(cli, CODE(INTERNAL), "the daemon's document is not JSON: %s", jerr.text);
    int rc = output_document(stdout, cli->out.format, v) < 0 ? org_no_memory(cli) : 0;
    json_decref(v);
    return rc;
}

static int cmd_export(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    if (cli->out.format == OUTPUT_CSV)
        return cli_usage_error(cli, cmd, "export writes yaml (the default) or json, not csv");
    return org_run(cli, cmd, argc, argv, present_document);
}

/* ---- apply and diff ------------------------------------------------------------ */

typedef struct {
    const char *path;  /* as given; "-" is standard input */
    json_t *doc;
    json_t *lines;     /* location -> line, YAML only */
} docfile_t;

/* FILE parsed. 0, or the printed error's exit code. */
static int docfile_read(const cli_t *cli, const command_t *cmd, docfile_t *f)
{
    char err[512];
    size_t len;
    char *text = readfile_all(f->path, &len);
    if (!text)
        return cli_usage_error(cli, cmd, "cannot read %s: %s", f->path, strerror(errno));
    const char *start = text + strspn(text, " \t\r\n");
    if (*start == '{') {
        json_error_t jerr;
        f->doc = json_loadb(text, len, 0, &jerr);
        if (!f->doc)
            snprintf(err, sizeof err, "line %d: %s", jerr.line, jerr.text);
    } else {
        f->doc = yamlconv_parse(text, len, &f->lines, err, sizeof err);
    }
    free(text);
    if (!f->doc)
        return cli_usage_error(cli, cmd, "%s: %s", strcmp(f->path, "-") == 0 ? "<stdin>" : f->path, err);
    return 0;
}

/* The line of the location, or of the nearest enclosing one: 0 when unknown. */
static long line_of(const json_t *lines, const char *field)
{
    char loc[512];
    snprintf(loc, sizeof loc, "%s", field);
    while (lines && loc[0]) {
        const json_t *n = json_object_get(lines, loc);
        if (n)
            return (long)json_integer_value(n);
        char *cut = strrchr(loc, loc[strlen(loc) - 1] == ']' ? '[' : '.');
        char *dot = strrchr(loc, '.');
        if (dot && (!cut || dot > cut))
            cut = dot;
        if (!cut)
            break;
        *cut = '\0';
    }
    return 0;
}

/* A refusal naming a place in the document, printed as FILE:LINE: PLACE: message. */
static int located_error(const cli_t *cli, const docfile_t *f, const Branchline__V1__Status *st)
{
    char msg[1024], where[600];
    const char *name = strcmp(f->path, "-") == 0 ? "<stdin>" : f->path;
    long line = line_of(f->lines, st->field);
    if (line > 0)
        snprintf(where, sizeof where, "%s:%ld", name, line);
    else
        snprintf(where, sizeof where, "%s", name);
    size_t flen = strlen(st->field);
    if (strncmp(st->message, st->field, flen) == 0)
        snprintf(msg, sizeof msg, "%s: %s", where, st->message);
    else
        snprintf(msg, sizeof msg, "%s: %s: %s", where, st->field, st->message);
    output_error(&cli->out, st->code, msg, st->field);
    return blc_exit_code(st->code);
}

static bool dry_run(const Branchline__V1__Request *req)
{
    return req->org_apply->dry_run;
}

/* "2 created, 1 changed, 3 left alone" on stderr; true when something changes. */
static bool summarize(const Branchline__V1__OrgApplyResult *res, bool table, bool dry)
{
    static const char *const actions[] = {"created", "changed", "moved", "closed", "deleted", "left_alone"};
    size_t count[sizeof actions / sizeof *actions] = {0}, changes = 0;
    for (size_t i = 0; i < res->n_items; i++)
        for (size_t a = 0; a < sizeof actions / sizeof *actions; a++)
            if (strcmp(res->items[i]->action, actions[a]) == 0)
                count[a]++;
    for (size_t a = 0; a + 1 < sizeof actions / sizeof *actions; a++)
        changes += count[a];
    if (!table)
        return changes > 0;
    fflush(stdout);
    if (changes == 0) {
        fprintf(stderr, "no changes%s\n", count[5] ? " (some objects not in the document were left alone)" : "");
        return false;
    }
    const char *sep = "";
    for (size_t a = 0; a < sizeof actions / sizeof *actions; a++) {
        if (count[a])
            fprintf(stderr, "%s%zu %s", sep, count[a], a == 5 ? "left alone" : actions[a]);
        if (count[a])
            sep = ", ";
    }
    fprintf(stderr, "%s\n", dry ? " (dry run: nothing was changed)" : "");
    return true;
}

static int call_apply(const cli_t *cli, const docfile_t *f, Branchline__V1__Request *req)
{
    session_t s;
    int rc = session_open(cli, &s);
    if (rc != 0)
        return rc;
    /* On a terminal the daemon reports how far it got (Progress, before the result). */
    req->org_apply->progress = progress_terminal() != NULL;
    Branchline__V1__Response *r = org_call_progress(&s, req, dry_run(req) ? "computing the diff" : "applying");
    if (r && r->status && r->status->code != CODE(OK) && r->status->field && r->status->field[0] &&
        strcmp(r->status->field, "document_json") != 0)
        rc = located_error(cli, f, r->status);
    else
        rc = session_check(cli, &s, r, BRANCHLINE__V1__RESPONSE__RESULT_ORG_APPLY);
    if (rc == 0) {
        const Branchline__V1__OrgApplyResult *res = r->org_apply;
        bool quiet = res->n_items == 0 && cli->out.format == OUTPUT_TABLE;  /* no lone header */
        if (!quiet && output_result(stdout, &cli->out, &res->base) < 0)
            rc = org_no_memory(cli);
        else if (summarize(res, cli->out.format == OUTPUT_TABLE, dry_run(req)) && dry_run(req))
            rc = BLC_EXIT_PENDING;
    }
    if (r)
        branchline__v1__response__free_unpacked(r, NULL);
    session_close(&s);
    return rc;
}

static int cmd_apply(const cli_t *given, const command_t *cmd, int argc, char **argv)
{
    cli_t view = command_cli(given, cmd);
    const cli_t *cli = &view;
    args_t args;
    docfile_t f = {0};
    Branchline__V1__Request *req = NULL;
    char *json = NULL;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc == 0)
        rc = org_check_columns(cli, cmd->op);
    if (rc != 0)
        return rc;
    f.path = args_get(cmd, &args, "-f");
    rc = docfile_read(cli, cmd, &f);
    if (rc == 0)
        rc = org_build(cli, cmd, cmd->op, &args, &req);
    if (rc == 0 && !(json = json_dumps(f.doc, JSON_COMPACT)))
        rc = org_no_memory(cli);
    if (rc == 0) {
        req->org_apply->document_json = json;  /* freed with the request */
        json = NULL;
        rc = call_apply(cli, &f, req);
    }
    free(json);
    reqbuild_free(req);
    json_decref(f.doc);
    json_decref(f.lines);
    return rc;
}
