/*
 * lead import: the file is read whole first (leadfile.h), so a bad header
 * sends nothing and the progress bar knows the total. The batches then go
 * out on one connection, at most IMPORT_WINDOW unanswered at a time, and
 * each answer is matched to its batch by request id. The first failed
 * request stops the sending; the answers already on their way are still
 * read, so what was imported is reported exactly.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "leadfile.h"
#include "org_call.h"
#include "output.h"
#include "progress.h"
#include "session.h"

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name
#define WANT BRANCHLINE__V1__RESPONSE__RESULT_LEAD_IMPORT
/* Batches sent and not yet answered: one. A batch is one transaction that
 * takes the leads in as single adds in file order would (sql/api/017);
 * two batches in flight would run at once on the daemon's connections and
 * the later one could take a pool's lock first, allocating its leads
 * before the earlier batch's. With up to 5,000 leads a batch, the round
 * trip between batches is a small part of the time (tests/bench/RESULTS.md). */
#define IMPORT_WINDOW 1

typedef Branchline__V1__LeadImportRow import_row_t;

typedef struct {
    leadfile_t file;
    Branchline__V1__Response **answers;  /* by batch: its successful answer, or NULL */
    uint64_t first_id;                   /* batch i is request first_id + i */
    size_t sent, received;               /* batches */
    int failed;                          /* exit code of the first failure, or 0 */
    bool broken;                         /* the connection cannot carry more */
    progress_t progress;
    size_t rows, done;                   /* rows sent in all, rows answered */
} import_t;

/* ---- reading the file ------------------------------------------------------------ */

static int read_file(const cli_t *cli, const command_t *cmd, const char *path, leadfile_t *lf)
{
    char err[512];
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "r");
    if (!f)
        return cli_usage_error(cli, cmd, "cannot read FILE %s: %s", path, strerror(errno));
    leadfile_rc_t rc = leadfile_read(f, LEADFILE_BATCH_ROWS, LEADFILE_BATCH_BYTES, lf, err,
                                     sizeof err);
    if (!is_stdin)
        fclose(f);
    if (rc == LEADFILE_NO_MEMORY)
        return org_no_memory(cli);
    if (rc != LEADFILE_OK)
        return cli_usage_error(cli, cmd, "%s: %s", is_stdin ? "standard input" : path, err);
    return 0;
}

/* ---- the exchange -------------------------------------------------------------- */

static int send_batch(const cli_t *cli, session_t *s, import_t *im)
{
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    req.id = blc_next_id(s->conn);
    req.op_case = BRANCHLINE__V1__REQUEST__OP_LEAD_IMPORT;
    req.lead_import = im->file.batches[im->sent].req;
    if (im->sent == 0)
        im->first_id = req.id;
    if (blc_send(s->conn, &req) < 0) {
        im->broken = true;
        progress_end(&im->progress);
        return session_check(cli, s, NULL, WANT);
    }
    im->sent++;
    return 0;
}

/* Turns the daemon's line numbers into file lines and moves the bar on. */
static void accept_answer(import_t *im, size_t index, Branchline__V1__Response *r)
{
    const leadfile_batch_t *b = &im->file.batches[index];
    const Branchline__V1__LeadImportResult *res = r->lead_import;
    for (size_t i = 0; i < res->n_items; i++)
        res->items[i]->line = leadfile_line(b, res->items[i]->line);
    im->answers[index] = r;
    im->done += b->req->n_leads;
    progress_update(&im->progress, im->done, im->rows, NULL);
}

/* Reads one answer: 0, or the exit code of a failure (only the first is printed and returned). */
static int receive_one(const cli_t *cli, session_t *s, import_t *im)
{
    Branchline__V1__Response *r = blc_recv(s->conn);
    uint64_t index = r ? r->id - im->first_id : 0;
    bool ours = r && r->id >= im->first_id && index < im->sent && !im->answers[index];
    bool ok = ours && (!r->status || r->status->code == CODE(OK)) && r->result_case == WANT;
    int rc = 0;
    im->received++;
    if (!r || r->id == 0)
        im->broken = true;  /* no answer can be matched to its batch any more */
    if (ok) {
        accept_answer(im, (size_t)index, r);
        return 0;
    }
    if (!im->failed) {
        progress_end(&im->progress);
        rc = r && r->id != 0 && !ours
                 ? cli_fail(cli, CODE(INTERNAL), "%s sent an unexpected answer for id %llu",
                            s->settings.server, (unsigned long long)r->id)
                 : session_check(cli, s, r, WANT);
    }
    if (r)
        branchline__v1__response__free_unpacked(r, NULL);
    return rc;
}

static void run(const cli_t *cli, session_t *s, import_t *im)
{
    size_t n = im->file.n_batches;
    progress_update(&im->progress, 0, im->rows, NULL);
    while (!im->broken) {
        while (!im->failed && !im->broken && im->sent < n &&
               im->sent - im->received < IMPORT_WINDOW) {
            int rc = send_batch(cli, s, im);
            if (rc != 0)
                im->failed = rc;
        }
        if (im->broken || im->received == im->sent)
            break;
        int rc = receive_one(cli, s, im);
        if (rc != 0 && !im->failed)
            im->failed = rc;
    }
    progress_end(&im->progress);
}

/* ---- the report ----------------------------------------------------------------- */

static int by_line(const void *a, const void *b)
{
    int32_t x = (*(import_row_t *const *)a)->line, y = (*(import_row_t *const *)b)->line;
    return (x > y) - (x < y);
}

typedef struct {
    size_t created, duplicate, rejected, not_imported;
} tally_t;

/* Every row's result, in file order; *t counts them. NULL: out of memory. */
static import_row_t **collect(const import_t *im, size_t *n, tally_t *t)
{
    size_t cap = im->file.n_rejected + leadfile_sent_rows(&im->file);
    import_row_t **rows = malloc((cap ? cap : 1) * sizeof *rows);
    if (!rows)
        return NULL;
    *n = 0;
    for (size_t i = 0; i < im->file.n_rejected; i++)
        rows[(*n)++] = im->file.rejected[i];
    for (size_t b = 0; b < im->file.n_batches; b++) {
        const Branchline__V1__LeadImportResult *res =
            im->answers[b] ? im->answers[b]->lead_import : NULL;
        if (!res)
            t->not_imported += im->file.batches[b].req->n_leads;
        for (size_t i = 0; res && i < res->n_items && *n < cap; i++)
            rows[(*n)++] = res->items[i];
    }
    qsort(rows, *n, sizeof *rows, by_line);
    for (size_t i = 0; i < *n; i++) {
        const char *result = rows[i]->result;
        t->created += strcmp(result, "created") == 0;
        t->duplicate += strcmp(result, "duplicate") == 0;
        t->rejected += strcmp(result, "rejected") == 0;
    }
    return rows;
}

/* JSON: every row; a table: the rows not created, when there are any. */
static int print_rows(const cli_t *cli, import_row_t **rows, size_t n)
{
    Branchline__V1__LeadImportResult res = BRANCHLINE__V1__LEAD_IMPORT_RESULT__INIT;
    res.items = rows;
    res.n_items = n;
    if (cli->out.format == OUTPUT_TABLE) {
        res.n_items = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(rows[i]->result, "created") != 0)
                rows[res.n_items++] = rows[i];
        if (res.n_items == 0)
            return 0;
    }
    return output_result(stdout, &cli->out, &res.base) < 0 ? org_no_memory(cli) : 0;
}

static int report(const cli_t *cli, const import_t *im)
{
    tally_t t = {0};
    size_t n = 0;
    import_row_t **rows = collect(im, &n, &t);
    if (!rows)
        return org_no_memory(cli);
    int rc = print_rows(cli, rows, n);
    free(rows);
    if (cli->out.format == OUTPUT_TABLE) {
        fflush(stdout);
        fprintf(stderr, "imported: %zu created, %zu duplicate, %zu rejected", t.created,
                t.duplicate, t.rejected);
        if (t.not_imported)
            fprintf(stderr, "; %zu not imported (importing again is safe)", t.not_imported);
        fputc('\n', stderr);
    }
    if (rc == 0)
        rc = im->failed ? im->failed : t.rejected ? BLC_EXIT_REJECTED : BLC_EXIT_OK;
    return rc;
}

/* ---- the command ---------------------------------------------------------------- */

static void import_release(import_t *im)
{
    for (size_t i = 0; im->answers && i < im->file.n_batches; i++)
        if (im->answers[i])
            branchline__v1__response__free_unpacked(im->answers[i], NULL);
    free(im->answers);
    leadfile_release(&im->file);
}

int cmd_lead_import(const cli_t *given, const command_t *cmd, int argc, char **argv)
{
    cli_t view = command_cli(given, cmd);
    const cli_t *cli = &view;
    import_t im = {0};
    session_t s;
    args_t args;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc == 0)
        rc = org_check_columns(cli, cmd->op);
    if (rc == 0)
        rc = read_file(cli, cmd, args_get(cmd, &args, "FILE"), &im.file);
    if (rc == 0 && !(im.answers = calloc(im.file.n_batches + 1, sizeof *im.answers)))
        rc = org_no_memory(cli);
    if (rc != 0)
        goto out;
    im.rows = leadfile_sent_rows(&im.file);
    progress_start(&im.progress, im.rows > 0 ? progress_terminal() : NULL, "importing");
    if (im.file.n_batches > 0) {
        im.failed = session_open(cli, &s);
        if (!im.failed) {
            run(cli, &s, &im);
            session_close(&s);
        }
    }
    rc = report(cli, &im);
out:
    import_release(&im);
    return rc;
}
