/*
 * All printing of results and errors. Every result becomes JSON first
 * (pbjson.h, through the message's descriptor) and is then rendered either
 * as JSON or as text, so both formats always carry the same fields under
 * the same (proto) names.
 *
 * Text (-o table, the default):
 *   - a list (`repeated X items = 1`) is an aligned table, one column per
 *     item field, headed by the field name in upper case (BRANCH_PATH);
 *   - a single object is "key  value" lines, keys as the proto names;
 *   - columns line up by display width, not bytes (CJK takes two columns);
 *     an empty string shows as "-"; control characters, bidirectional
 *     overrides and invalid UTF-8 from the server show as '?';
 *   - --columns a,b,c (field names, any case) picks and orders the columns
 *     or lines; --no-headers drops a table's header line.
 * JSON (-o json): a list is an array of objects, a single object an object,
 * int64 as numbers, bools as true/false; --columns does not apply.
 * YAML (-o yaml): the same value as JSON, as a YAML document (yamlconv.h).
 * CSV (-o csv): RFC 4180, lines ending CRLF: a header line of the field
 * names (unless --no-headers), then one record per item, or one for a
 * single object; --columns picks the fields; text as it is, "" empty.
 * Colour (tables, key-value lines and error lines only, never JSON, YAML or
 * CSV): with --color auto (the default) when the stream is a terminal and
 * NO_COLOR is unset or empty; always; or never. Headers are bold; values
 * that mean something at a glance are coloured by column and value (a
 * lead's status, apply's action with a +/-/~ mark, an import row's result);
 * widths count the visible text only, so columns stay aligned.
 */
#ifndef BRANCHCTL_OUTPUT_H
#define BRANCHCTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "blclient.h"

typedef enum {
    OUTPUT_TABLE,
    OUTPUT_JSON,
    OUTPUT_YAML,
    OUTPUT_CSV,
} output_format_t;

typedef enum {
    OUTPUT_COLOUR_AUTO,    /* on a terminal, unless NO_COLOR is set */
    OUTPUT_COLOUR_ALWAYS,
    OUTPUT_COLOUR_NEVER,
} output_colour_t;

typedef struct {
    output_format_t format;
    const char *columns;  /* --columns, or NULL for the default columns */
    bool no_headers;
    output_colour_t colour;
} output_opts_t;

/* "table", "json", "yaml" or "csv"; NULL means table. 0, or -1 for an unknown name. */
int output_format_parse(const char *name, output_format_t *format)
    __attribute__((warn_unused_result));

/* "auto", "always" or "never"; NULL means auto. 0, or -1 for an unknown name. */
int output_colour_parse(const char *name, output_colour_t *colour)
    __attribute__((warn_unused_result));

/* Whether text for out is coloured: table output only, and as --color says. */
bool output_colour_on(const output_opts_t *o, FILE *out);

/*
 * 0 when --columns names fields of the result message d (of its items, for
 * a list), else -1 with the unknown name and the choices in err. Check
 * before sending: the printers below take the columns as checked.
 */
int output_check_columns(const output_opts_t *o, const ProtobufCMessageDescriptor *d, char *err,
                         size_t errlen) __attribute__((warn_unused_result));

/* The printers return 0, or -1 when out of memory. */

/* Any result message, as described above. */
int output_result(FILE *out, const output_opts_t *o, const ProtobufCMessage *m)
    __attribute__((warn_unused_result));

/*
 * Messages of one type printed one at a time as they arrive (lead watch):
 * with -o json one compact object per line (JSON Lines); as a table the
 * header comes with the first row and every column is as wide as its widest
 * value so far, so a wider value shifts its own line but none printed
 * before. The caller flushes.
 */
typedef struct output_stream output_stream_t;

/* For messages of type d, with o's --columns taken as checked. NULL: out of memory. */
output_stream_t *output_stream_new(const output_opts_t *o, const ProtobufCMessageDescriptor *d)
    __attribute__((warn_unused_result));

int output_stream_row(FILE *out, output_stream_t *st, const ProtobufCMessage *m)
    __attribute__((warn_unused_result));

/* NULL is a no-op. */
void output_stream_free(output_stream_t *st);

/*
 * unit tree (roots from tree_build): JSON is the array of root nodes, each
 * with "children"; text is a table of code, name, kind and status (or
 * --columns) whose first column is indented two spaces per level.
 */
int output_tree(FILE *out, const output_opts_t *o, const json_t *roots)
    __attribute__((warn_unused_result));

/* reorg plan: JSON is exactly plan_json (the plan file), text the summary; each ends with a newline. */
int output_reorg_plan(FILE *out, const output_opts_t *o, const Branchline__V1__ReorgPlan *plan)
    __attribute__((warn_unused_result));

/* reorg apply: the apply result; in text, after the plan's summary when plan is not NULL. */
int output_reorg_applied(FILE *out, const output_opts_t *o, const Branchline__V1__ReorgPlan *plan,
                         const ProtobufCMessage *result) __attribute__((warn_unused_result));

typedef struct {
    const char *server;
    uint64_t sent;
    uint64_t answered;
    double rtt_min_ms;
    double rtt_avg_ms;
    double rtt_max_ms;
    double total_ms;                /* first send to last answer */
    uint64_t server_time_unix_ms;   /* from the last answer */
} ping_summary_t;

/* On stdout. */
int output_ping(output_format_t format, const ping_summary_t *ping)
    __attribute__((warn_unused_result));
int output_version(output_format_t format) __attribute__((warn_unused_result));

/*
 * An error on stderr: "branchctl: CODE: message (field: x)", red when
 * colour is on for stderr, or with JSON output
 * {"code":"CODE","message":"...","field":"..."}. field may be NULL.
 */
void output_error(const output_opts_t *o, int code, const char *message, const char *field);

/*
 * Rows that are JSON objects (not protobuf messages), such as the config
 * file's contexts: a table or CSV of the named columns (--columns does not
 * apply), or the array as JSON or YAML.
 */
int output_list(FILE *out, const output_opts_t *o, const json_t *rows, const char *const *columns)
    __attribute__((warn_unused_result));

/* A JSON value as -o json (indented 2) or -o yaml (any other format) prints a document. */
int output_document(FILE *out, output_format_t format, const json_t *v)
    __attribute__((warn_unused_result));

/* One CSV field (RFC 4180: quoted when it holds a comma, quote, CR or LF). */
void output_csv_field(FILE *out, const char *text);

/* "usage: ..." on stderr after a usage error (table output only). */
void output_usage_hint(output_format_t format, const char *usage);

#endif
