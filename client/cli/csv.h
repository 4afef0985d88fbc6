/*
 * A CSV reader (RFC 4180) over a stream, one record at a time: fields are
 * separated by commas; a field in double quotes may hold commas, line
 * breaks and "" for a quote; a record ends with LF or CRLF, or with the
 * file. A UTF-8 byte order mark at the start is skipped and empty lines are
 * no records. Where files commonly stray it is lenient: a quote inside an
 * unquoted field and a CR not followed by LF are ordinary characters. Each
 * record carries the line of the file it starts on, so that every complaint
 * can point into the file; a bad record is reported and reading goes on.
 */
#ifndef BRANCHCTL_CSV_H
#define BRANCHCTL_CSV_H

#include <stddef.h>
#include <stdio.h>

#define CSV_RECORD_MAX (1u << 20)  /* bytes of field text in one record */
#define CSV_FIELDS_MAX 1024u       /* fields in one record */

typedef struct csv csv_t;

typedef enum {
    CSV_RECORD,     /* a record */
    CSV_RAGGED,     /* a record whose field count differs from the first record's */
    CSV_MALFORMED,  /* a record that is not CSV; reading resumes after the line it broke on */
    CSV_END,        /* no more records */
    CSV_FAILED,     /* cannot read the stream, or out of memory */
} csv_status_t;

typedef struct {
    size_t n;                  /* fields (0 for CSV_MALFORMED) */
    char *const *fields;       /* each NUL-terminated; valid until the next csv_next */
    const size_t *lens;        /* their lengths in bytes (text may hold NUL bytes) */
    long line;                 /* line of the file the record starts on, from 1 */
} csv_record_t;

/* A reader of f, which stays the caller's. NULL: out of memory. */
csv_t *csv_new(FILE *f) __attribute__((warn_unused_result));

/* NULL is a no-op. */
void csv_free(csv_t *r);

/* The next record into *rec: CSV_RECORD or CSV_RAGGED fill it, CSV_MALFORMED only its line. */
csv_status_t csv_next(csv_t *r, csv_record_t *rec) __attribute__((warn_unused_result));

/*
 * Why the last csv_next did not return CSV_RECORD, without the line number:
 * "3 fields, expected 8", "unterminated quoted field", ...
 */
const char *csv_error(const csv_t *r);

#endif
