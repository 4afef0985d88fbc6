#include "yamlconv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define DEPTH_MAX 64  /* nesting, aliases included: a recursive alias ends here */
#define LOC_MAX 512

/* ---- reading ------------------------------------------------------------------ */

typedef struct {
    yaml_document_t *doc;
    json_t *lines;  /* location -> line, or NULL */
    char *err;
    size_t errlen;
} reader_t;

static bool one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

static bool all_of(const char *s, const char *chars)
{
    return *s && strspn(s, chars) == strlen(s);
}

/* [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+ (YAML 1.2 core). */
static bool parse_int(const char *s, json_int_t *v)
{
    int base = 10;
    const char *digits = s + (*s == '-' || *s == '+');
    if (strncmp(s, "0o", 2) == 0 && all_of(s + 2, "01234567")) {
        base = 8;
        digits = s + 2;
    } else if (strncmp(s, "0x", 2) == 0 && all_of(s + 2, "0123456789abcdefABCDEF")) {
        base = 16;
        digits = s + 2;
    } else if (!all_of(digits, "0123456789")) {
        return false;
    }
    char *end = NULL;
    errno = 0;
    long long n = strtoll(base == 10 ? s : digits, &end, base);
    if (errno || *end)
        return false;  /* too large: a string */
    *v = (json_int_t)n;
    return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? (infinities and NaN are no JSON). */
static bool parse_float(const char *s, double *v)
{
    const char *p = s + (*s == '-' || *s == '+');
    size_t int_digits = strspn(p, "0123456789");
    p += int_digits;
    size_t frac_digits = 0;
    if (*p == '.') {
        frac_digits = strspn(p + 1, "0123456789");
        p += 1 + frac_digits;
    }
    if (int_digits + frac_digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '-' || *p == '+';
        size_t exp_digits = strspn(p, "0123456789");
        if (!exp_digits)
            return false;
        p += exp_digits;
    }
    if (*p)
        return false;
    *v = strtod(s, NULL);
    return true;
}

static json_t *plain_scalar(const char *s)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    json_int_t i;
    double d;
    if (one_of(s, nulls))
        return json_null();
    if (one_of(s, trues))
        return json_true();
    if (one_of(s, falses))
        return json_false();
    if (parse_int(s, &i))
        return json_integer(i);
    if (parse_float(s, &d))
        return json_real(d);
    return json_string(s);
}

static json_t *fail_at(reader_t *r, const yaml_node_t *node, const char *what)
{
    snprintf(r->err, r->errlen, "line %lu: %s", (unsigned long)node->start_mark.line + 1, what);
    return NULL;
}

static void note_line(reader_t *r, const char *loc, const yaml_node_t *node)
{
    if (r->lines && loc[0])
        json_object_set_new(r->lines, loc, json_integer((json_int_t)node->start_mark.line + 1));
}

static json_t *convert(reader_t *r, yaml_node_t *node, const char *loc, int depth);

static json_t *convert_sequence(reader_t *r, yaml_node_t *node, const char *loc, int depth)
{
    json_t *arr = json_array();
    size_t k = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         arr && it < node->data.sequence.items.top; it++, k++) {
        char sub[LOC_MAX];
        snprintf(sub, sizeof sub, "%s[%zu]", loc, k);
        json_t *v = convert(r, yaml_document_get_node(r->doc, *it), sub, depth + 1);
        if (!v || json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr ? arr : fail_at(r, node, "out of memory");
}

static json_t *convert_mapping(reader_t *r, yaml_node_t *node, const char *loc, int depth)
{
    json_t *obj = json_object();
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
         obj && p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
        if (!key || key->type != YAML_SCALAR_NODE) {
            json_decref(obj);
            return fail_at(r, key ? key : node, "a mapping key must be a scalar");
        }
        const char *name = (const char *)key->data.scalar.value;
        if (json_object_get(obj, name)) {
            char what[256];
            snprintf(what, sizeof what, "duplicate key '%.200s'", name);
            json_decref(obj);
            return fail_at(r, key, what);
        }
        char sub[LOC_MAX];
        snprintf(sub, sizeof sub, "%s%s%s", loc, loc[0] ? "." : "", name);
        json_t *v = convert(r, yaml_document_get_node(r->doc, p->value), sub, depth + 1);
        if (!v || json_object_set_new(obj, name, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj ? obj : fail_at(r, node, "out of memory");
}

static json_t *convert(reader_t *r, yaml_node_t *node, const char *loc, int depth)
{
    if (!node)
        return json_null();
    if (depth > DEPTH_MAX)
        return fail_at(r, node, "nested too deeply (or an alias refers to itself)");
    note_line(r, loc, node);
    switch (node->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)node->data.scalar.value;
        if (strlen(s) != node->data.scalar.length)
            return fail_at(r, node, "a string holds a NUL character");
        json_t *v = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(s) : json_string(s);
        return v ? v : fail_at(r, node, "text is not UTF-8, or out of memory");
    }
    case YAML_SEQUENCE_NODE:
        return convert_sequence(r, node, loc, depth);
    case YAML_MAPPING_NODE:
        return convert_mapping(r, node, loc, depth);
    default:
        return fail_at(r, node, "unexpected node");
    }
}

/*
 * Whether the first document nests deeper than DEPTH_MAX, read as events
 * and stopping there: loading a document builds all of it first, and
 * libyaml's composer takes time quadratic in the nesting (100,000 levels:
 * 20 s) before convert() could refuse it. Syntax errors are left to the
 * load, which reports them.
 */
static bool nested_too_deeply(const char *text, size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    bool deep = false, done = false;
    if (!yaml_parser_initialize(&parser))
        return false;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (int depth = 0; !done && !deep && yaml_parser_parse(&parser, &ev);) {
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
            deep = ++depth > DEPTH_MAX;
        else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
            depth--;
        done = ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT;
        if (deep)
            snprintf(err, errlen, "line %lu: nested too deeply", (unsigned long)ev.start_mark.line + 1);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return deep;
}

json_t *yamlconv_parse(const char *text, size_t len, json_t **lines, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    json_t *v = NULL;
    reader_t r = {.doc = &doc, .err = err, .errlen = errlen};
    if (nested_too_deeply(text, len, err, errlen))
        return NULL;
    if (lines && !(r.lines = *lines = json_object())) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "line %lu: %s%s%s", (unsigned long)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "not YAML", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        goto out;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    v = root ? convert(&r, root, "", 0) : NULL;
    if (!root)
        snprintf(err, errlen, "line 1: the file holds no document");
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
out:
    if (!v && lines) {
        json_decref(*lines);
        *lines = NULL;
    }
    return v;
}

/* ---- writing ------------------------------------------------------------------ */

int yamlconv_needs_quotes(const char *s)
{
    static const char *const words[] = {
        "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        "=", "<<", ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", ".nan", ".NaN", ".NAN",
        NULL,
    };
    if (!*s || one_of(s, words))
        return 1;
    /* Numbers of YAML 1.1 (underscores, 0x, 0b, sexagesimal 1:30), generously. */
    const char *p = s + (*s == '-' || *s == '+');
    if ((isdigit((unsigned char)*p) || *p == '.') && all_of(p, "0123456789_.:+-eExXoObBabcdfABCDF"))
        return 1;
    /* Timestamps: 2026-11-22, 2026-11-22T07:40:00Z. */
    return strlen(s) >= 5 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
           isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) && s[4] == '-';
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, data) == size;
}

static int scalar(yaml_emitter_t *e, const char *text, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
                                        style) &&
           yaml_emitter_emit(e, &ev);
}

static int emit_value(yaml_emitter_t *e, const json_t *v)
{
    yaml_event_t ev;
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        json_object_foreach((json_t *)v, key, item)
            if (!scalar(e, key, yamlconv_needs_quotes(key) ? YAML_SINGLE_QUOTED_SCALAR_STYLE
                                                           : YAML_ANY_SCALAR_STYLE) ||
                !emit_value(e, item))
                return 0;
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        json_array_foreach(v, i, item)
            if (!emit_value(e, item))
                return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        return scalar(e, s, yamlconv_needs_quotes(s) ? YAML_SINGLE_QUOTED_SCALAR_STYLE
                                                     : YAML_ANY_SCALAR_STYLE);
    }
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
        if (!strpbrk(buf, ".eEn"))  /* 3 would read back as an integer */
            strcat(buf, ".0");
        return scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE: return scalar(e, "true", YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE: return scalar(e, "false", YAML_PLAIN_SCALAR_STYLE);
    default: return scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
    }
}

int yamlconv_emit(FILE *out, const json_t *v)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return -1;
    yaml_emitter_set_output(&e, write_handler, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&e, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&e, &ev) &&
             emit_value(&e, v) &&
             yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) &&
             yaml_emitter_flush(&e);
    yaml_emitter_delete(&e);
    return ok ? 0 : -1;
}
