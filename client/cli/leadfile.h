/*
 * lead import's file: a CSV (csv.h) whose header line names LeadInput
 * fields, read into LeadImportRequest batches ready to send. Each batch
 * remembers the file line of each of its rows and sets first_line to its
 * first row's, so the daemon's per-row line numbers can be turned back into
 * file lines even when rows span lines or were left out. Rows that cannot
 * be sent (not CSV, the wrong number of fields, not UTF-8, a NUL byte, too
 * big for a request) become rejected LeadImportRows here and the rest of
 * the file still goes in.
 */
#ifndef BRANCHCTL_LEADFILE_H
#define BRANCHCTL_LEADFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "branchline.pb-c.h"

/* The daemon's most per request: the import loads each pool of a batch once
 * (sql/api/017), so the bigger the batch the fewer loads per lead. */
#define LEADFILE_BATCH_ROWS 5000
/* Packed rows per request, well inside the daemon's default 1 MiB frame;
 * and so that the answer, which repeats each external_id beside about 100
 * bytes of its own a row (line, result, lead, branch, status, reason), fits
 * the client's 1 MiB frame with 5,000 rows. */
#define LEADFILE_BATCH_BYTES (256u << 10)

typedef struct {
    Branchline__V1__LeadImportRequest *req;  /* leads and first_line */
    int32_t *lines;                          /* file line of each of req->leads */
} leadfile_batch_t;

typedef struct {
    leadfile_batch_t *batches;
    size_t n_batches;
    Branchline__V1__LeadImportRow **rejected;  /* rows refused here, in file order */
    size_t n_rejected;
    size_t rows;                               /* rows in the file, the header not counted */
    size_t cap_batches, cap_rejected;
} leadfile_t;

typedef enum {
    LEADFILE_OK = 0,
    LEADFILE_UNUSABLE,  /* no header, a bad header, or the file cannot be read (or held in
                           memory); err says why */
    LEADFILE_NO_MEMORY,
} leadfile_rc_t;

/*
 * Reads f to its end into lf: batches of at most max_rows rows and
 * max_bytes of packed rows (LEADFILE_BATCH_ROWS and LEADFILE_BATCH_BYTES
 * but in tests). lf owns everything in it, also after a failure; release it.
 */
leadfile_rc_t leadfile_read(FILE *f, size_t max_rows, size_t max_bytes, leadfile_t *lf,
                            char *err, size_t errlen) __attribute__((warn_unused_result));

void leadfile_release(leadfile_t *lf);

/* Rows in all batches: what is sent. */
size_t leadfile_sent_rows(const leadfile_t *lf);

/*
 * The file line of the row the daemon answered with line `reported` for
 * batch b (it counts from first_line, one per row); reported itself when it
 * is outside the batch.
 */
int32_t leadfile_line(const leadfile_batch_t *b, int32_t reported);

#endif
