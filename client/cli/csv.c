#include "csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536
#define EOL (-2)  /* tok(): LF or CRLF */

struct csv {
    FILE *f;
    unsigned char in[CHUNK];
    size_t pos, len;    /* unread input is in[pos..len) */
    bool started;       /* the byte order mark was looked for */
    bool failed;        /* reading failed; err says why */
    long line;          /* the line being read, from 1 */
    /* The record being built: field text, each field NUL-terminated. */
    char *text;
    size_t used, cap;
    size_t *offs, *lens;  /* by field: where its text starts, its length */
    char **fields;
    size_t n;             /* fields */
    size_t offs_cap, lens_cap, fields_cap;
    bool oversize;      /* too long or too many fields: text past the limit was dropped */
    bool no_memory;
    size_t width;       /* fields of the first record; 0 before it */
    char err[96];
};

csv_t *csv_new(FILE *f)
{
    csv_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->f = f;
    r->line = 1;
    return r;
}

void csv_free(csv_t *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->offs);
    free(r->lens);
    free(r->fields);
    free(r);
}

const char *csv_error(const csv_t *r)
{
    return r->err;
}

/* ---- input ------------------------------------------------------------------ */

static int peek(csv_t *r)
{
    if (r->pos == r->len && !r->failed) {
        r->pos = 0;
        r->len = fread(r->in, 1, sizeof r->in, r->f);
        if (r->len == 0 && ferror(r->f)) {
            snprintf(r->err, sizeof r->err, "cannot read: %s", strerror(errno));
            r->failed = true;
        }
    }
    return r->pos < r->len ? r->in[r->pos] : EOF;
}

/* The next byte, or EOF. */
static int raw(csv_t *r)
{
    int c = peek(r);
    if (c != EOF)
        r->pos++;
    return c;
}

/* The next byte, EOL for LF or CRLF, or EOF. */
static int tok(csv_t *r)
{
    int c = raw(r);
    if (c == '\r' && peek(r) == '\n')
        c = raw(r);
    return c == '\n' ? EOL : c;
}

static void skip_bom(csv_t *r)
{
    static const unsigned char bom[] = {0xef, 0xbb, 0xbf};
    r->started = true;
    (void)peek(r);
    /* The first read holds the whole mark unless the stream is shorter. */
    if (r->len - r->pos >= sizeof bom && memcmp(r->in + r->pos, bom, sizeof bom) == 0)
        r->pos += sizeof bom;
}

/* ---- the record being built ----------------------------------------------------- */

/*
 * Makes the array *array (a pointer to any pointer) hold at least need
 * elements of size bytes, *cap being how many it holds. false: no memory,
 * the array unchanged.
 */
static bool reserve(void *array, size_t *cap, size_t need, size_t size)
{
    void *p;
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    memcpy(&p, array, sizeof p);
    p = realloc(p, n * size);
    if (!p)
        return false;
    memcpy(array, &p, sizeof p);
    *cap = n;
    return true;
}

/* Appends a byte of field text (or the NUL ending a field), dropping what exceeds the limit. */
static void put(csv_t *r, int c)
{
    if (r->used >= CSV_RECORD_MAX + CSV_FIELDS_MAX) {
        r->oversize = true;
        return;
    }
    if (!reserve(&r->text, &r->cap, r->used + 1, 1)) {
        r->no_memory = true;
        return;
    }
    r->text[r->used++] = (char)c;
}

static void field_begin(csv_t *r)
{
    if (r->n == CSV_FIELDS_MAX) {
        r->oversize = true;
        return;
    }
    if (!reserve(&r->offs, &r->offs_cap, r->n + 1, sizeof *r->offs) ||
        !reserve(&r->lens, &r->lens_cap, r->n + 1, sizeof *r->lens) ||
        !reserve(&r->fields, &r->fields_cap, r->n + 1, sizeof *r->fields)) {
        r->no_memory = true;
        return;
    }
    r->offs[r->n++] = r->used;
}

static void field_end(csv_t *r)
{
    if (r->oversize || r->no_memory)
        return;
    r->lens[r->n - 1] = r->used - r->offs[r->n - 1];
    put(r, '\0');
}

/* ---- parsing ------------------------------------------------------------------ */

/* Reads to the end of the current line, so the next record starts on the next one. */
static void skip_line(csv_t *r)
{
    int c;
    while ((c = raw(r)) != EOF && c != '\n')
        ;
    if (c == '\n')
        r->line++;
}

/*
 * A quoted field's text after its opening quote, through the closing one.
 * Returns the token after the closing quote, or EOF when none came.
 */
static int quoted(csv_t *r, bool *closed)
{
    for (;;) {
        int c = raw(r);
        if (c == EOF) {
            *closed = false;
            return EOF;
        }
        if (c == '"') {
            c = tok(r);
            if (c != '"') {
                *closed = true;
                return c;
            }
        } else if (c == '\n') {
            r->line++;
        }
        put(r, c);
    }
}

static csv_status_t malformed(csv_t *r, const char *why)
{
    snprintf(r->err, sizeof r->err, "%s", why);
    return CSV_MALFORMED;
}

/* The fields of one record whose first token is c, up to and including its line end. */
static csv_status_t parse_record(csv_t *r, int c)
{
    for (;;) {
        field_begin(r);
        if (c == '"') {
            bool closed;
            c = quoted(r, &closed);
            if (!closed)
                return malformed(r, "unterminated quoted field");
            if (c != ',' && c != EOL && c != EOF) {
                skip_line(r);
                return malformed(r, "text after a closing quote");
            }
        } else {
            for (; c != ',' && c != EOL && c != EOF; c = tok(r))
                put(r, c);
        }
        field_end(r);
        if (c != ',')
            break;
        c = tok(r);
    }
    if (c == EOL)
        r->line++;
    return CSV_RECORD;
}

/* Points the record's fields into the text, now that it no longer moves. */
static csv_status_t finish(csv_t *r, csv_record_t *rec)
{
    if (r->no_memory) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return CSV_FAILED;
    }
    if (r->oversize) {
        snprintf(r->err, sizeof r->err, "record over %u bytes or %u fields", CSV_RECORD_MAX,
                 CSV_FIELDS_MAX);
        return CSV_MALFORMED;
    }
    for (size_t i = 0; i < r->n; i++)
        r->fields[i] = r->text + r->offs[i];
    rec->n = r->n;
    rec->fields = r->fields;
    rec->lens = r->lens;
    if (r->width == 0)
        r->width = r->n;
    if (r->n == r->width)
        return CSV_RECORD;
    snprintf(r->err, sizeof r->err, "%zu field%s, expected %zu", r->n, r->n == 1 ? "" : "s",
             r->width);
    return CSV_RAGGED;
}

csv_status_t csv_next(csv_t *r, csv_record_t *rec)
{
    int c;
    memset(rec, 0, sizeof *rec);
    r->err[0] = '\0';
    r->used = r->n = 0;
    r->oversize = r->no_memory = false;
    if (!r->started)
        skip_bom(r);
    while ((c = tok(r)) == EOL)
        r->line++;
    if (c == EOF)
        return r->failed ? CSV_FAILED : CSV_END;
    rec->line = r->line;
    csv_status_t st = parse_record(r, c);
    if (r->failed)
        return CSV_FAILED;
    return st == CSV_RECORD ? finish(r, rec) : st;
}
