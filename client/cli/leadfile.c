#include "leadfile.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "reqbuild.h"
#include "textwidth.h"

#define INPUT (&branchline__v1__lead_input__descriptor)
#define NAME_MAX_LEN 64
/* A row's bytes in LeadImportRequest beyond its own: the tag and a length of up to 3 bytes. */
#define ROW_OVERHEAD 4

static const char *const REQUIRED[] = {"external_id", "project", "channel"};

typedef struct {
    csv_t *csv;
    leadfile_t *lf;
    size_t max_rows, max_bytes;
    size_t batch_bytes;  /* packed rows in the last batch */
    const ProtobufCFieldDescriptor *cols[CSV_FIELDS_MAX];  /* LeadInput field of each column */
    size_t ncols;
    size_t id_col;       /* the external_id column */
} reader_t;

/* ---- the header --------------------------------------------------------------------- */

/* "external_id, project, ...": LeadInput's fields, for an unknown column's message. */
static void list_columns(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < INPUT->n_fields; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", INPUT->fields[i].name);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

/* A header cell without surrounding spaces, cut to fit name. */
static void trim(const char *cell, char name[NAME_MAX_LEN])
{
    size_t len = strlen(cell);
    while (len && (cell[len - 1] == ' ' || cell[len - 1] == '\t'))
        len--;
    while (len && (*cell == ' ' || *cell == '\t')) {
        cell++;
        len--;
    }
    snprintf(name, NAME_MAX_LEN, "%.*s", (int)len, cell);
}

static leadfile_rc_t map_columns(reader_t *rd, const csv_record_t *rec, char *err, size_t errlen)
{
    char name[NAME_MAX_LEN], names[256];
    for (size_t i = 0; i < rec->n; i++) {
        trim(rec->fields[i], name);
        const ProtobufCFieldDescriptor *f = NULL;
        for (unsigned k = 0; !f && k < INPUT->n_fields; k++)
            if (strcasecmp(name, INPUT->fields[k].name) == 0)
                f = &INPUT->fields[k];
        for (size_t j = 0; f && j < i; j++)
            if (rd->cols[j] == f) {
                snprintf(err, errlen, "line %ld: column '%s' is named twice", rec->line, f->name);
                return LEADFILE_UNUSABLE;
            }
        if (!f) {
            list_columns(names, sizeof names);
            snprintf(err, errlen, "line %ld: unknown column '%s' (columns: %s)", rec->line, name,
                     names);
            return LEADFILE_UNUSABLE;
        }
        rd->cols[i] = f;
    }
    rd->ncols = rec->n;
    return LEADFILE_OK;
}

/* Whether the header names the required column `name`; its index in *col. */
static bool has_column(const reader_t *rd, const char *name, size_t *col)
{
    for (size_t i = 0; i < rd->ncols; i++)
        if (strcmp(rd->cols[i]->name, name) == 0) {
            *col = i;
            return true;
        }
    return false;
}

static leadfile_rc_t read_header(reader_t *rd, char *err, size_t errlen)
{
    csv_record_t rec;
    size_t col;
    switch (csv_next(rd->csv, &rec)) {
    case CSV_END:
        snprintf(err, errlen, "the file is empty: it needs a header line naming the columns");
        return LEADFILE_UNUSABLE;
    case CSV_FAILED:
        snprintf(err, errlen, "%s", csv_error(rd->csv));
        return LEADFILE_UNUSABLE;
    case CSV_MALFORMED:
        snprintf(err, errlen, "line %ld: header: %s", rec.line, csv_error(rd->csv));
        return LEADFILE_UNUSABLE;
    default:
        break;
    }
    leadfile_rc_t rc = map_columns(rd, &rec, err, errlen);
    for (size_t i = 0; rc == LEADFILE_OK && i < sizeof REQUIRED / sizeof REQUIRED[0]; i++)
        if (!has_column(rd, REQUIRED[i], &col)) {
            snprintf(err, errlen, "line %ld: the header has no column '%s' (required: "
                     "external_id, project, channel)", rec.line, REQUIRED[i]);
            rc = LEADFILE_UNUSABLE;
        }
    if (rc == LEADFILE_OK)
        (void)has_column(rd, "external_id", &rd->id_col);
    return rc;
}

/* ---- rejected rows -------------------------------------------------------------------- */

static bool set_text(char **slot, const char *text)
{
    *slot = strdup(text ? text : "");
    return *slot != NULL;
}

/* A row refused here, with the external_id of rec when it has one. */
static leadfile_rc_t reject(reader_t *rd, long line, const csv_record_t *rec, const char *field,
                            const char *reason)
{
    leadfile_t *lf = rd->lf;
    if (lf->n_rejected == lf->cap_rejected) {
        size_t cap = lf->cap_rejected ? lf->cap_rejected * 2 : 16;
        void *bigger = realloc(lf->rejected, cap * sizeof *lf->rejected);
        if (!bigger)
            return LEADFILE_NO_MEMORY;
        lf->rejected = bigger;
        lf->cap_rejected = cap;
    }
    Branchline__V1__LeadImportRow *row = malloc(sizeof *row);
    if (!row)
        return LEADFILE_NO_MEMORY;
    branchline__v1__lead_import_row__init(row);
    row->line = (int32_t)line;
    lf->rejected[lf->n_rejected++] = row;
    const char *id = rec && rd->id_col < rec->n ? rec->fields[rd->id_col] : "";
    bool ok = set_text(&row->external_id, id) && set_text(&row->result, "rejected") &&
              set_text(&row->field, field) && set_text(&row->reason, reason);
    return ok ? LEADFILE_OK : LEADFILE_NO_MEMORY;
}

/* ---- batches ---------------------------------------------------------------------------- */

/* The batch the next row of row_bytes goes into: the last one, or a new one. NULL: no memory. */
static leadfile_batch_t *batch_for(reader_t *rd, size_t row_bytes)
{
    leadfile_t *lf = rd->lf;
    leadfile_batch_t *b = lf->n_batches ? &lf->batches[lf->n_batches - 1] : NULL;
    if (b && b->req->n_leads < rd->max_rows && rd->batch_bytes + row_bytes <= rd->max_bytes)
        return b;
    if (lf->n_batches == lf->cap_batches) {
        size_t cap = lf->cap_batches ? lf->cap_batches * 2 : 8;
        void *bigger = realloc(lf->batches, cap * sizeof *lf->batches);
        if (!bigger)
            return NULL;
        lf->batches = bigger;
        lf->cap_batches = cap;
    }
    b = &lf->batches[lf->n_batches];
    b->req = malloc(sizeof *b->req);
    b->lines = calloc(rd->max_rows, sizeof *b->lines);
    if (b->req) {
        branchline__v1__lead_import_request__init(b->req);
        b->req->leads = calloc(rd->max_rows, sizeof *b->req->leads);
    }
    if (!b->req || !b->req->leads || !b->lines) {
        if (b->req)
            branchline__v1__lead_import_request__free_unpacked(b->req, NULL);
        free(b->lines);
        return NULL;
    }
    lf->n_batches++;
    rd->batch_bytes = 0;
    return b;
}

static bool utf8_valid(const char *s)
{
    uint32_t cp;
    while (*s) {
        s += text_decode(s, &cp);
        if (cp == TEXT_INVALID)
            return false;
    }
    return true;
}

/* What keeps a field of rec from being sent, or NULL. */
static const char *field_problem(const csv_record_t *rec, size_t i)
{
    if (strlen(rec->fields[i]) != rec->lens[i])
        return "contains a NUL byte";
    return utf8_valid(rec->fields[i]) ? NULL : "is not valid UTF-8";
}

/* The LeadInput of a row whose fields are all sendable. NULL: no memory. */
static Branchline__V1__LeadInput *make_input(const reader_t *rd, const csv_record_t *rec)
{
    char err[128];
    Branchline__V1__LeadInput *in = malloc(sizeof *in);
    if (!in)
        return NULL;
    branchline__v1__lead_input__init(in);
    for (size_t i = 0; i < rec->n; i++) {
        /* "" is what an absent optional field is on the wire anyway. */
        if (rec->lens[i] && reqbuild_set(&in->base, rd->cols[i]->name, rec->fields[i],
                                         rd->cols[i]->name, err, sizeof err) != REQBUILD_OK) {
            branchline__v1__lead_input__free_unpacked(in, NULL);
            return NULL;
        }
    }
    return in;
}

static leadfile_rc_t take_row(reader_t *rd, const csv_record_t *rec)
{
    char reason[96];
    for (size_t i = 0; i < rec->n; i++) {
        const char *problem = field_problem(rec, i);
        if (problem)
            return reject(rd, rec->line, rec, rd->cols[i]->name, problem);
    }
    Branchline__V1__LeadInput *in = make_input(rd, rec);
    if (!in)
        return LEADFILE_NO_MEMORY;
    size_t bytes = branchline__v1__lead_input__get_packed_size(in) + ROW_OVERHEAD;
    if (bytes > rd->max_bytes) {
        branchline__v1__lead_input__free_unpacked(in, NULL);
        snprintf(reason, sizeof reason, "a row of %zu bytes; a request takes at most %zu", bytes,
                 rd->max_bytes);
        return reject(rd, rec->line, rec, "", reason);
    }
    leadfile_batch_t *b = batch_for(rd, bytes);
    if (!b) {
        branchline__v1__lead_input__free_unpacked(in, NULL);
        return LEADFILE_NO_MEMORY;
    }
    if (b->req->n_leads == 0)
        b->req->first_line = (int32_t)rec->line;
    b->lines[b->req->n_leads] = (int32_t)rec->line;
    b->req->leads[b->req->n_leads++] = in;
    rd->batch_bytes += bytes;
    return LEADFILE_OK;
}

/* ---- the file ------------------------------------------------------------------------------ */

static leadfile_rc_t read_rows(reader_t *rd, char *err, size_t errlen)
{
    leadfile_rc_t rc = LEADFILE_OK;
    csv_record_t rec;
    for (;;) {
        csv_status_t st = csv_next(rd->csv, &rec);
        if (st == CSV_END)
            return LEADFILE_OK;
        if (st == CSV_FAILED) {
            snprintf(err, errlen, "%s", csv_error(rd->csv));
            return LEADFILE_UNUSABLE;
        }
        rd->lf->rows++;
        if (st == CSV_RECORD)
            rc = take_row(rd, &rec);
        else
            rc = reject(rd, rec.line, st == CSV_RAGGED ? &rec : NULL, "", csv_error(rd->csv));
        if (rc != LEADFILE_OK)
            return rc;
    }
}

leadfile_rc_t leadfile_read(FILE *f, size_t max_rows, size_t max_bytes, leadfile_t *lf,
                            char *err, size_t errlen)
{
    reader_t *rd = calloc(1, sizeof *rd);
    leadfile_rc_t rc = LEADFILE_NO_MEMORY;
    memset(lf, 0, sizeof *lf);
    err[0] = '\0';
    if (!rd || !(rd->csv = csv_new(f)))
        goto out;
    rd->lf = lf;
    rd->max_rows = max_rows;
    rd->max_bytes = max_bytes;
    rc = read_header(rd, err, errlen);
    if (rc == LEADFILE_OK)
        rc = read_rows(rd, err, errlen);
out:
    if (rc == LEADFILE_NO_MEMORY)
        snprintf(err, errlen, "out of memory");
    if (rd)
        csv_free(rd->csv);
    free(rd);
    return rc;
}

void leadfile_release(leadfile_t *lf)
{
    for (size_t i = 0; i < lf->n_batches; i++) {
        branchline__v1__lead_import_request__free_unpacked(lf->batches[i].req, NULL);
        free(lf->batches[i].lines);
    }
    for (size_t i = 0; i < lf->n_rejected; i++)
        branchline__v1__lead_import_row__free_unpacked(lf->rejected[i], NULL);
    free(lf->batches);
    free(lf->rejected);
    memset(lf, 0, sizeof *lf);
}

size_t leadfile_sent_rows(const leadfile_t *lf)
{
    size_t n = 0;
    for (size_t i = 0; i < lf->n_batches; i++)
        n += lf->batches[i].req->n_leads;
    return n;
}

int32_t leadfile_line(const leadfile_batch_t *b, int32_t reported)
{
    int64_t index = (int64_t)reported - b->req->first_line;
    return index >= 0 && index < (int64_t)b->req->n_leads ? b->lines[index] : reported;
}
