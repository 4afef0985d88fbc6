#include "output.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Times are rounded to microseconds first, so 15 digits print them exactly. */
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

int output_format_parse(const char *name, output_format_t *format)
{
    if (!name || strcmp(name, "table") == 0)
        *format = OUTPUT_TABLE;
    else if (strcmp(name, "json") == 0)
        *format = OUTPUT_JSON;
    else
        return -1;
    return 0;
}

/* A JSON string for text the server sent, which need not be valid UTF-8. */
static json_t *text(const char *s)
{
    if (!s)
        return json_string("");
    json_t *v = json_string(s);
    if (v)
        return v;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

static json_t *milliseconds(double ms)
{
    return json_real((double)(int64_t)(ms * 1000.0 + 0.5) / 1000.0);
}

/* Server text on a terminal: control characters could rewrite the screen. */
static void put_text(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static void put_cell(FILE *out, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: put_text(out, json_string_value(v)); break;
    case JSON_INTEGER: fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: fprintf(out, "%.3f", json_real_value(v)); break;
    case JSON_TRUE: fputs("true", out); break;
    case JSON_FALSE: fputs("false", out); break;
    default: fputs("-", out); break;
    }
}

/* Prints obj as JSON or as "key  value" lines, then frees it. NULL: out of memory. */
static int render(output_format_t format, json_t *obj, FILE *out)
{
    if (!obj)
        return -1;
    if (format == OUTPUT_JSON) {
        json_dumpf(obj, out, JSON_FLAGS);
        fputc('\n', out);
    } else {
        const char *key;
        json_t *v;
        int width = 0;
        json_object_foreach(obj, key, v)
            if ((int)strlen(key) > width)
                width = (int)strlen(key);
        json_object_foreach(obj, key, v) {
            fprintf(out, "%-*s  ", width, key);
            put_cell(out, v);
            fputc('\n', out);
        }
    }
    json_decref(obj);
    return 0;
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
        text(p->server),
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

int output_server_info(output_format_t format, const Branchline__V1__ServerInfoResult *info)
{
    static const char *const keys[] = {
        "daemon_version", "protocol_version", "database_reachable", "schema_version",
        "expected_schema_version", "peer_identity", "worker",
    };
    json_t *const values[] = {
        text(info->daemon_version),
        json_integer(info->protocol_version),
        json_boolean(info->database_reachable),
        json_integer(info->schema_version),
        json_integer(info->expected_schema_version),
        text(info->peer_identity),
        json_integer(info->worker),
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

void output_error(output_format_t format, int code, const char *message, const char *field)
{
    if (format == OUTPUT_JSON) {
        static const char *const keys[] = {"code", "message", "field"};
        json_t *const values[] = {json_string(status_code_name(code)), text(message), text(field)};
        if (render(format, OBJECT(keys, values), stderr) == 0)
            return;
    }
    fprintf(stderr, "branchctl: %s: ", status_code_name(code));
    put_text(stderr, message ? message : "");
    if (field && *field) {
        fputs(" (field: ", stderr);
        put_text(stderr, field);
        fputc(')', stderr);
    }
    fputc('\n', stderr);
}

void output_usage_hint(output_format_t format, const char *usage)
{
    if (format == OUTPUT_TABLE)
        fprintf(stderr, "usage: %s\n", usage);
}
