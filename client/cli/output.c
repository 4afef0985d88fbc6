#include "output.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "pbjson.h"
#include "textwidth.h"
#include "yamlconv.h"

/* Times are rounded to microseconds first, so 15 digits print them exactly. */
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
#define COLUMNS_MAX 32
#define INDENT 2  /* columns per tree level */
#define GAP 2     /* columns between table columns */

typedef struct {
    const char *name[COLUMNS_MAX];  /* field names, as in the descriptor */
    size_t n;
} columns_t;

typedef struct {
    const json_t *obj;
    size_t level;  /* tree depth below the roots; 0 for plain lists */
} row_t;

int output_colour_parse(const char *name, output_colour_t *colour)
{
    if (!name || strcmp(name, "auto") == 0)
        *colour = OUTPUT_COLOUR_AUTO;
    else if (strcmp(name, "always") == 0)
        *colour = OUTPUT_COLOUR_ALWAYS;
    else if (strcmp(name, "never") == 0)
        *colour = OUTPUT_COLOUR_NEVER;
    else
        return -1;
    return 0;
}

/* For a person at a terminal, and never when NO_COLOR is set (no-color.org)
 * unless --color always asks for it. */
bool output_colour_on(const output_opts_t *o, FILE *out)
{
    const char *no = getenv("NO_COLOR");
    if (o->format != OUTPUT_TABLE || o->colour == OUTPUT_COLOUR_NEVER)
        return false;
    return o->colour == OUTPUT_COLOUR_ALWAYS || (isatty(fileno(out)) && !(no && no[0]));
}

/* ---- colour ------------------------------------------------------------------ */

#define SGR_BOLD "1"
#define SGR_RED "31"
#define SGR_GREEN "32"
#define SGR_YELLOW "33"
#define SGR_CYAN "36"

/* A value that means something at a glance: its colour (SGR parameters, or
 * NULL for none) and a mark printed before it, by column and value. */
typedef struct {
    const char *column;
    const char *value;
    const char *sgr;
    const char *mark;
} decoration_t;

static const decoration_t DECORATIONS[] = {
    /* a lead's status; a unit's or a person's closed */
    {"status", "won", SGR_GREEN, ""},
    {"status", "lost", SGR_RED, ""},
    {"status", "unroutable", SGR_RED, ""},
    {"status", "closed", SGR_RED, ""},
    {"status", "waiting", SGR_YELLOW, ""},
    {"status", "allocated", SGR_CYAN, ""},
    /* apply and diff: what happens to each object */
    {"action", "created", SGR_GREEN, "+ "},
    {"action", "changed", SGR_YELLOW, "~ "},
    {"action", "moved", SGR_YELLOW, "~ "},
    {"action", "closed", SGR_RED, "- "},
    {"action", "deleted", SGR_RED, "- "},
    {"action", "left_alone", NULL, "  "},
    /* lead import: what became of each row */
    {"result", "created", SGR_GREEN, ""},
    {"result", "duplicate", SGR_YELLOW, ""},
    {"result", "rejected", SGR_RED, ""},
};

static const decoration_t *decoration(const char *column, const char *text)
{
    for (size_t i = 0; i < sizeof DECORATIONS / sizeof DECORATIONS[0]; i++)
        if (strcmp(DECORATIONS[i].column, column) == 0 && strcmp(DECORATIONS[i].value, text) == 0)
            return &DECORATIONS[i];
    return NULL;
}

static void put_sgr(FILE *out, const char *sgr)
{
    if (sgr)
        fprintf(out, "\033[%sm", sgr);
}

static void put_reset(FILE *out, const char *sgr)
{
    if (sgr)
        fputs("\033[0m", out);
}

int output_format_parse(const char *name, output_format_t *format)
{
    if (!name || strcmp(name, "table") == 0)
        *format = OUTPUT_TABLE;
    else if (strcmp(name, "json") == 0)
        *format = OUTPUT_JSON;
    else if (strcmp(name, "yaml") == 0)
        *format = OUTPUT_YAML;
    else if (strcmp(name, "csv") == 0)
        *format = OUTPUT_CSV;
    else
        return -1;
    return 0;
}

/* Server text on a terminal: control characters could rewrite the screen. */
static void put_text(FILE *out, const char *s, bool newlines)
{
    uint32_t cp;
    while (*s) {
        size_t n = text_decode(s, &cp);
        if (text_is_control(cp) && !(newlines && (cp == '\n' || cp == '\t')))
            fputc('?', out);
        else
            fwrite(s, 1, n, out);
        s += n;
    }
}

/* A cell as text: strings as they are ("" as "-"), numbers and bools spelled out. */
static const char *cell_text(const json_t *v, char *buf, size_t len)
{
    if (!v)
        return "-";
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_length(v) ? json_string_value(v) : "-";
    case JSON_INTEGER:
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL:
        snprintf(buf, len, "%.3f", json_real_value(v));
        return buf;
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "-";
    }
}

static int dump(FILE *out, const json_t *v)
{
    if (json_dumpf(v, out, JSON_FLAGS) != 0)
        return -1;
    fputc('\n', out);
    return 0;
}

/* ---- columns ---------------------------------------------------------------- */

static const char *field_named(const ProtobufCMessageDescriptor *d, const char *name, size_t len)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (strlen(d->fields[i].name) == len && strncasecmp(d->fields[i].name, name, len) == 0)
            return d->fields[i].name;
    return NULL;
}

static void unknown_column(const ProtobufCMessageDescriptor *d, const char *name, size_t len,
                           char *err, size_t errlen)
{
    int used = snprintf(err, errlen, "unknown column '%.*s' (columns: ", (int)len, name);
    for (unsigned i = 0; used > 0 && (size_t)used < errlen && i < d->n_fields; i++)
        used += snprintf(err + used, errlen - (size_t)used, "%s%s", i ? ", " : "",
                         d->fields[i].name);
    if (used > 0 && (size_t)used < errlen)
        snprintf(err + used, errlen - (size_t)used, ")");
}

/* --columns (spec) checked against d, else the defaults (NULL-terminated), else every field of d. */
static int columns_pick(const char *spec, const ProtobufCMessageDescriptor *d,
                        const char *const *defaults, columns_t *c, char *err, size_t errlen)
{
    c->n = 0;
    if (!spec) {
        for (; defaults && *defaults && c->n < COLUMNS_MAX; defaults++)
            c->name[c->n++] = *defaults;
        for (unsigned i = 0; !defaults && i < d->n_fields && c->n < COLUMNS_MAX; i++)
            c->name[c->n++] = d->fields[i].name;
        return 0;
    }
    for (const char *p = spec;; p++) {
        size_t len = strcspn(p, ",");
        const char *name = field_named(d, p, len);
        if (!name) {
            unknown_column(d, p, len, err, errlen);
            return -1;
        }
        if (c->n == COLUMNS_MAX) {
            snprintf(err, errlen, "more than %d columns", COLUMNS_MAX);
            return -1;
        }
        c->name[c->n++] = name;
        p += len;
        if (!*p)
            return 0;
    }
}

int output_check_columns(const output_opts_t *o, const ProtobufCMessageDescriptor *d, char *err,
                         size_t errlen)
{
    const ProtobufCMessageDescriptor *items = pbjson_list_items(d);
    columns_t c;
    return columns_pick(o->columns, items ? items : d, NULL, &c, err, errlen);
}

/* ---- tables and key-value lines ------------------------------------------------ */

/* After cell k, which took `used` of its `width` columns: the gap, or the end of the line. */
static void end_cell(FILE *out, const columns_t *c, size_t k, size_t width, size_t used)
{
    if (k + 1 == c->n)
        fputc('\n', out);
    else
        fprintf(out, "%*s", (int)(width - used + GAP), "");
}

/* The decoration of a cell when colour is on, else NULL. */
static const decoration_t *cell_decoration(bool colour, const char *name, const char *text)
{
    return colour ? decoration(name, text) : NULL;
}

/* Visible columns: escape codes take none, a mark its own. */
static size_t cell_width(const row_t *row, const char *name, size_t k, bool colour)
{
    char buf[64];
    size_t indent = k == 0 ? INDENT * row->level : 0;
    const char *text = cell_text(json_object_get(row->obj, name), buf, sizeof buf);
    const decoration_t *d = cell_decoration(colour, name, text);
    return indent + text_width(text) + (d ? strlen(d->mark) : 0);
}

/* A value, decorated when colour is on. */
static void put_value(FILE *out, bool colour, const char *name, const char *text)
{
    const decoration_t *d = cell_decoration(colour, name, text);
    if (d) {
        put_sgr(out, d->sgr);
        fputs(d->mark, out);
    }
    put_text(out, text, false);
    if (d)
        put_reset(out, d->sgr);
}

static void put_header(FILE *out, const columns_t *c, const size_t *width, bool colour)
{
    for (size_t k = 0; k < c->n; k++) {
        if (colour)
            put_sgr(out, SGR_BOLD);
        for (const char *p = c->name[k]; *p; p++)
            fputc(toupper((unsigned char)*p), out);
        if (colour)
            put_reset(out, SGR_BOLD);
        end_cell(out, c, k, width[k], strlen(c->name[k]));
    }
}

static void put_row(FILE *out, const columns_t *c, const size_t *width, const row_t *row,
                    bool colour)
{
    char buf[64];
    for (size_t k = 0; k < c->n; k++) {
        size_t indent = k == 0 ? INDENT * row->level : 0;
        fprintf(out, "%*s", (int)indent, "");
        put_value(out, colour, c->name[k],
                  cell_text(json_object_get(row->obj, c->name[k]), buf, sizeof buf));
        end_cell(out, c, k, width[k], cell_width(row, c->name[k], k, colour));
    }
}

static void print_table(FILE *out, const output_opts_t *o, const columns_t *c, const row_t *rows,
                        size_t n)
{
    size_t width[COLUMNS_MAX];
    bool colour = output_colour_on(o, out);
    for (size_t k = 0; k < c->n; k++) {
        width[k] = o->no_headers ? 0 : strlen(c->name[k]);
        for (size_t r = 0; r < n; r++) {
            size_t w = cell_width(&rows[r], c->name[k], k, colour);
            if (w > width[k])
                width[k] = w;
        }
    }
    if (!o->no_headers)
        put_header(out, c, width, colour);
    for (size_t r = 0; r < n; r++)
        put_row(out, c, width, &rows[r], colour);
}

static void print_object(FILE *out, const columns_t *c, const json_t *obj, bool colour)
{
    char buf[64];
    int width = 0;
    for (size_t k = 0; k < c->n; k++)
        if ((int)strlen(c->name[k]) > width)
            width = (int)strlen(c->name[k]);
    for (size_t k = 0; k < c->n; k++) {
        fprintf(out, "%-*s  ", width, c->name[k]);
        put_value(out, colour, c->name[k],
                  cell_text(json_object_get(obj, c->name[k]), buf, sizeof buf));
        fputc('\n', out);
    }
}

/* ---- CSV ------------------------------------------------------------------------ */

void output_csv_field(FILE *out, const char *text)
{
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

/* A value as CSV text: like a table cell, but "" stays empty and reals keep their digits. */
static const char *csv_text(const json_t *v, char *buf, size_t len)
{
    if (v && json_is_string(v))
        return json_string_value(v);
    if (v && json_is_real(v)) {
        snprintf(buf, len, "%.15g", json_real_value(v));
        return buf;
    }
    const char *t = v && !json_is_null(v) ? cell_text(v, buf, len) : "";
    return t;
}

static void csv_record(FILE *out, const columns_t *c, const json_t *obj)
{
    char buf[64];
    for (size_t k = 0; k < c->n; k++) {
        if (k)
            fputc(',', out);
        output_csv_field(out, obj ? csv_text(json_object_get(obj, c->name[k]), buf, sizeof buf)
                                  : c->name[k]);
    }
    fputs("\r\n", out);
}

static void print_csv(FILE *out, const output_opts_t *o, const columns_t *c, const row_t *rows, size_t n)
{
    if (!o->no_headers)
        csv_record(out, c, NULL);
    for (size_t r = 0; r < n; r++)
        csv_record(out, c, rows[r].obj);
}

static size_t tree_count(const json_t *nodes)
{
    size_t n = 0, i;
    const json_t *node;
    json_array_foreach(nodes, i, node)
        n += 1 + tree_count(json_object_get(node, "children"));
    return n;
}

/* The nodes in depth-first order, each with its level. */
static void tree_rows(const json_t *nodes, size_t level, row_t *rows, size_t *n)
{
    size_t i;
    const json_t *node;
    json_array_foreach(nodes, i, node) {
        rows[(*n)++] = (row_t){node, level};
        tree_rows(json_object_get(node, "children"), level + 1, rows, n);
    }
}

/* A table of the objects in nodes, or of a tree of them when nested. */
static int print_rows(FILE *out, const output_opts_t *o, const columns_t *c, const json_t *nodes,
                      bool nested)
{
    size_t n = nested ? tree_count(nodes) : json_array_size(nodes);
    row_t *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows)
        return -1;
    if (nested) {
        size_t filled = 0;
        tree_rows(nodes, 0, rows, &filled);
    } else {
        for (size_t i = 0; i < n; i++)
            rows[i] = (row_t){json_array_get(nodes, i), 0};
    }
    if (o->format == OUTPUT_CSV)
        print_csv(out, o, c, rows, n);
    else
        print_table(out, o, c, rows, n);
    free(rows);
    return 0;
}

int output_document(FILE *out, output_format_t format, const json_t *v)
{
    if (format != OUTPUT_JSON)
        return yamlconv_emit(out, v);
    if (json_dumpf(v, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) != 0)
        return -1;
    fputc('\n', out);
    return 0;
}

/* ---- results ---------------------------------------------------------------- */

int output_result(FILE *out, const output_opts_t *o, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *items = pbjson_list_items(m->descriptor);
    char err[256];
    columns_t c;
    int rc = 0;
    json_t *j = pbjson_message(m);
    if (!j)
        return -1;
    const json_t *body = items ? json_object_get(j, "items") : j;
    if (o->format == OUTPUT_JSON)
        rc = dump(out, body);
    else if (o->format == OUTPUT_YAML)
        rc = yamlconv_emit(out, body);
    else if (columns_pick(o->columns, items ? items : m->descriptor, NULL, &c, err, sizeof err) < 0)
        rc = -1;  /* output_check_columns was not called */
    else if (items)
        rc = print_rows(out, o, &c, body, false);
    else if (o->format == OUTPUT_CSV)
        print_csv(out, o, &c, &(row_t){j, 0}, 1);
    else
        print_object(out, &c, j, output_colour_on(o, out));
    json_decref(j);
    return rc;
}

int output_list(FILE *out, const output_opts_t *o, const json_t *rows, const char *const *columns)
{
    columns_t c = {.n = 0};
    if (o->format == OUTPUT_JSON)
        return dump(out, rows);
    if (o->format == OUTPUT_YAML)
        return yamlconv_emit(out, rows);
    for (; *columns && c.n < COLUMNS_MAX; columns++)
        c.name[c.n++] = *columns;
    return print_rows(out, o, &c, rows, false);
}

int output_tree(FILE *out, const output_opts_t *o, const json_t *roots)
{
    static const char *const columns[] = {"code", "name", "kind", "status", NULL};
    char err[256];
    columns_t c;
    if (o->format == OUTPUT_JSON)
        return dump(out, roots);
    if (o->format == OUTPUT_YAML)
        return yamlconv_emit(out, roots);
    if (columns_pick(o->columns, &branchline__v1__unit__descriptor,
                     o->format == OUTPUT_CSV ? NULL : columns, &c, err,
                     sizeof err) < 0)
        return -1;
    return print_rows(out, o, &c, roots, true);
}

static void put_plan(FILE *out, const output_opts_t *o, const Branchline__V1__ReorgPlan *plan)
{
    const char *text = plan->summary;
    if (o->format == OUTPUT_JSON) {
        text = plan->plan_json;
        fputs(text, out);  /* the plan file, byte for byte */
    } else {
        put_text(out, text, true);
    }
    if (!text[0] || text[strlen(text) - 1] != '\n')
        fputc('\n', out);
}

int output_reorg_plan(FILE *out, const output_opts_t *o, const Branchline__V1__ReorgPlan *plan)
{
    if (o->format == OUTPUT_CSV)
        return output_result(out, o, &plan->base);
    if (o->format == OUTPUT_YAML) {
        json_t *v = json_loads(plan->plan_json, 0, NULL);
        int rc = v ? yamlconv_emit(out, v) : -1;
        json_decref(v);
        return rc;
    }
    put_plan(out, o, plan);
    return 0;
}

int output_reorg_applied(FILE *out, const output_opts_t *o, const Branchline__V1__ReorgPlan *plan,
                         const ProtobufCMessage *result)
{
    if (plan && o->format == OUTPUT_TABLE) {
        put_plan(out, o, plan);
        fputc('\n', out);
    }
    return output_result(out, o, result);
}

/* ---- streams ------------------------------------------------------------------ */

struct output_stream {
    output_opts_t opts;  /* format and colour; the columns are c */
    bool headers;  /* a header line is still to come */
    columns_t c;
    size_t width[COLUMNS_MAX];
};

output_stream_t *output_stream_new(const output_opts_t *o, const ProtobufCMessageDescriptor *d)
{
    char err[256];
    output_stream_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->opts = *o;
    st->headers = !o->no_headers && o->format != OUTPUT_YAML && o->format != OUTPUT_JSON;
    if (columns_pick(o->columns, d, NULL, &st->c, err, sizeof err) < 0) {
        free(st);
        return NULL;  /* output_check_columns was not called */
    }
    for (size_t k = 0; k < st->c.n && st->headers; k++)
        st->width[k] = strlen(st->c.name[k]);
    return st;
}

int output_stream_row(FILE *out, output_stream_t *st, const ProtobufCMessage *m)
{
    json_t *j = pbjson_message(m);
    int rc = 0;
    if (!j)
        return -1;
    if (st->opts.format == OUTPUT_JSON) {
        rc = dump(out, j);
    } else if (st->opts.format == OUTPUT_YAML) {
        fputs("---\n", out);
        rc = yamlconv_emit(out, j);
    } else if (st->opts.format == OUTPUT_CSV) {
        if (st->headers)
            csv_record(out, &st->c, NULL);
        st->headers = false;
        csv_record(out, &st->c, j);
    } else {
        row_t row = {j, 0};
        bool colour = output_colour_on(&st->opts, out);
        for (size_t k = 0; k < st->c.n; k++) {
            size_t w = cell_width(&row, st->c.name[k], k, colour);
            if (w > st->width[k])
                st->width[k] = w;
        }
        if (st->headers)
            put_header(out, &st->c, st->width, colour);
        st->headers = false;
        put_row(out, &st->c, st->width, &row, colour);
    }
    json_decref(j);
    return rc;
}

void output_stream_free(output_stream_t *st)
{
    free(st);
}

/* ---- fixed objects: ping, version, errors ----------------------------------------- */

static json_t *milliseconds(double ms)
{
    return json_real((double)(int64_t)(ms * 1000.0 + 0.5) / 1000.0);
}

/* Prints obj as JSON or as "key  value" lines, then frees it. NULL: out of memory. */
static int render(output_format_t format, json_t *obj, FILE *out)
{
    int rc = 0;
    if (!obj)
        return -1;
    if (format == OUTPUT_JSON) {
        rc = dump(out, obj);
    } else if (format == OUTPUT_YAML) {
        rc = yamlconv_emit(out, obj);
    } else {
        columns_t c = {.n = 0};
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v)
            if (c.n < COLUMNS_MAX)
                c.name[c.n++] = key;
        if (format == OUTPUT_CSV) {
            output_opts_t o = {.format = format};
            print_csv(out, &o, &c, &(row_t){obj, 0}, 1);
        } else {
            print_object(out, &c, obj, false);
        }
    }
    json_decref(obj);
    return rc;
}

/* Builds an object from pairs; a NULL value (failed allocation) fails the whole. */
static json_t *object(size_t n, const char *const keys[], json_t *const values[])
{
    json_t *obj = json_object();
    bool ok = obj != NULL;
    for (size_t i = 0; i < n; i++) {
        if (ok)
            ok = json_object_set_new(obj, keys[i], values[i]) == 0;  /* steals even on failure */
        else
            json_decref(values[i]);
    }
    if (!ok) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

#define OBJECT(keys, values) object(sizeof(keys) / sizeof(keys)[0], (keys), (values))

int output_ping(output_format_t format, const ping_summary_t *p)
{
    static const char *const keys[] = {
        "server", "sent", "answered", "rtt_min_ms", "rtt_avg_ms", "rtt_max_ms",
        "total_ms", "server_time_unix_ms",
    };
    json_t *const values[] = {
        pbjson_text(p->server),
        json_integer((json_int_t)p->sent),
        json_integer((json_int_t)p->answered),
        milliseconds(p->rtt_min_ms),
        milliseconds(p->rtt_avg_ms),
        milliseconds(p->rtt_max_ms),
        milliseconds(p->total_ms),
        json_integer((json_int_t)p->server_time_unix_ms),
    };
    return render(format, OBJECT(keys, values), stdout);
}

int output_version(output_format_t format)
{
    if (format == OUTPUT_TABLE) {
        printf("branchctl %s (protocol %u)\n", BRANCHLINE_VERSION, BL_PROTOCOL_VERSION);
        return 0;
    }
    static const char *const keys[] = {"version", "protocol_version"};
    json_t *const values[] = {json_string(BRANCHLINE_VERSION), json_integer(BL_PROTOCOL_VERSION)};
    return render(format, OBJECT(keys, values), stdout);
}

void output_error(const output_opts_t *o, int code, const char *message, const char *field)
{
    const char *sgr = output_colour_on(o, stderr) ? SGR_RED : NULL;
    if (o->format == OUTPUT_JSON) {
        static const char *const keys[] = {"code", "message", "field"};
        json_t *const values[] = {json_string(status_code_name(code)), pbjson_text(message),
                                  pbjson_text(field)};
        if (render(o->format, OBJECT(keys, values), stderr) == 0)
            return;
    }
    put_sgr(stderr, sgr);
    fprintf(stderr, "branchctl: %s: ", status_code_name(code));
    put_text(stderr, message ? message : "", false);
    if (field && *field) {
        fputs(" (field: ", stderr);
        put_text(stderr, field, false);
        fputc(')', stderr);
    }
    put_reset(stderr, sgr);
    fputc('\n', stderr);
}

void output_usage_hint(output_format_t format, const char *usage)
{
    if (format == OUTPUT_TABLE)
        fprintf(stderr, "usage: %s\n", usage);
}
