/*
 * branchctl's CSV reader (client/cli/csv.c) and the lead import file built
 * on it (leadfile.c), over arbitrary bytes.
 *
 * Besides memory errors, the invariants the callers rely on: every record
 * has at most CSV_FIELDS_MAX fields and CSV_RECORD_MAX bytes, each field is
 * NUL-terminated at its length, line numbers never go back and never pass
 * the file's last line; the import file accounts for every row (sent or
 * rejected), respects its batch limits, keeps each row's file line, and
 * never reports running out of memory (it cannot here).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "leadfile.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
/* Small batches, so a small input already spans several. */
#define MAX_ROWS 3
#define MAX_BYTES 256

static FILE *open_input(const uint8_t *data, size_t size)
{
    /* fmemopen refuses a zero size on some C libraries. */
    return size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
}

static void check_csv(const uint8_t *data, size_t size, long lines)
{
    FILE *f = open_input(data, size);
    CHECK(f != NULL);
    csv_t *csv = csv_new(f);
    CHECK(csv != NULL);
    csv_record_t rec;
    csv_status_t st;
    long last_line = 0;
    size_t width = 0;
    while ((st = csv_next(csv, &rec)) != CSV_END) {
        CHECK(st != CSV_FAILED);
        CHECK(rec.line >= last_line && rec.line >= 1 && rec.line <= lines);
        last_line = rec.line;
        CHECK(st != CSV_RECORD || csv_error(csv)[0] == '\0');
        if (st == CSV_MALFORMED) {
            CHECK(rec.n == 0 && csv_error(csv)[0] != '\0');
            continue;
        }
        CHECK(rec.n >= 1 && rec.n <= CSV_FIELDS_MAX);
        if (width == 0)
            width = rec.n;
        CHECK((st == CSV_RECORD) == (rec.n == width));
        size_t total = 0;
        for (size_t i = 0; i < rec.n; i++) {
            CHECK(rec.fields[i][rec.lens[i]] == '\0');
            total += rec.lens[i];
        }
        CHECK(total <= CSV_RECORD_MAX);
    }
    csv_free(csv);
    fclose(f);
}

static void check_leadfile(const uint8_t *data, size_t size, long lines)
{
    FILE *f = open_input(data, size);
    CHECK(f != NULL);
    leadfile_t lf;
    char err[512];
    leadfile_rc_t rc = leadfile_read(f, MAX_ROWS, MAX_BYTES, &lf, err, sizeof err);
    CHECK(rc != LEADFILE_NO_MEMORY);
    CHECK(rc == LEADFILE_OK || err[0] != '\0');
    if (rc == LEADFILE_OK) {
        CHECK(leadfile_sent_rows(&lf) + lf.n_rejected == lf.rows);
        int32_t last = 0;
        for (size_t b = 0; b < lf.n_batches; b++) {
            const leadfile_batch_t *batch = &lf.batches[b];
            const Branchline__V1__LeadImportRequest *req = batch->req;
            CHECK(req->n_leads >= 1 && req->n_leads <= MAX_ROWS);
            CHECK(req->first_line == batch->lines[0]);
            size_t bytes = 0;
            for (size_t i = 0; i < req->n_leads; i++) {
                /* The limit is on the rows, each with its tag and length (4 bytes at most). */
                bytes += branchline__v1__lead_input__get_packed_size(req->leads[i]) + 4;
                /* Lines rise through the batches, and the daemon's numbering maps back. */
                CHECK(batch->lines[i] > last && batch->lines[i] <= lines);
                last = batch->lines[i];
                CHECK(leadfile_line(batch, req->first_line + (int32_t)i) == batch->lines[i]);
                CHECK(req->leads[i]->external_id && req->leads[i]->project);
            }
            CHECK(bytes <= MAX_BYTES);
        }
        for (size_t i = 0; i < lf.n_rejected; i++)
            CHECK(lf.rejected[i]->line >= 1 && lf.rejected[i]->line <= lines &&
                  lf.rejected[i]->reason && lf.rejected[i]->reason[0]);
    }
    leadfile_release(&lf);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    check_csv(data, size, lines);
    check_leadfile(data, size, lines);
    return 0;
}
