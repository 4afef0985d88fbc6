#include "intake/decode.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "utf8.h"

static json_t *refuse(intake_error_t *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *refuse(intake_error_t *err, const char *field, const char *fmt, ...)
{
    snprintf(err->field, sizeof err->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return NULL;
}

/* "type/subtype" of a Content-Type, then its parameters: only a UTF-8 charset. */
int intake_body_kind(const char *content_type, intake_body_t *kind)
{
    if (!content_type)
        return -1;
    size_t n = strcspn(content_type, ";");
    while (n > 0 && isspace((unsigned char)content_type[n - 1]))
        n--;
    if (n == strlen("application/x-www-form-urlencoded") &&
        strncasecmp(content_type, "application/x-www-form-urlencoded", n) == 0)
        *kind = INTAKE_BODY_FORM;
    else if (n == strlen("application/json") && strncasecmp(content_type, "application/json", n) == 0)
        *kind = INTAKE_BODY_JSON;
    else
        return -1;
    const char *charset = strcasestr(content_type, "charset=");
    if (charset) {
        charset += strlen("charset=");
        if (*charset == '"')
            charset++;
        if (strncasecmp(charset, "utf-8", 5) != 0 && strncasecmp(charset, "utf8", 4) != 0)
            return -1;
    }
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..len) into out (room for len + 1). -1 on a bad escape or a NUL. */
static int form_unescape(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Checks one decoded name and value and stores it (joined to an earlier value). */
static json_t *add_field(json_t *obj, const char *key, const char *value, intake_error_t *err)
{
    if (strlen(key) > INTAKE_KEY_MAX || !utf8_valid(key))
        return refuse(err, "body", "field names must be UTF-8 of at most %d bytes", INTAKE_KEY_MAX);
    if (!utf8_valid(value))
        return refuse(err, key, "%s is not valid UTF-8", key);
    json_t *prev = json_object_get(obj, key);
    const char *before = prev ? json_string_value(prev) : NULL;
    size_t total = strlen(value) + (before ? strlen(before) + 2 : 0);
    if (total > INTAKE_VALUE_MAX)
        return refuse(err, key, "%s is longer than %d bytes", key, INTAKE_VALUE_MAX);
    if (!prev && json_object_size(obj) >= INTAKE_FIELDS_MAX)
        return refuse(err, "body", "at most %d fields", INTAKE_FIELDS_MAX);
    json_t *v;
    if (before && before[0] && value[0]) {
        char *joined = malloc(total + 1);
        if (!joined)
            return refuse(err, "body", "out of memory");
        size_t blen = strlen(before);
        memcpy(joined, before, blen);
        memcpy(joined + blen, ", ", 2);
        memcpy(joined + blen + 2, value, strlen(value) + 1);
        v = json_string(joined);
        free(joined);
    } else {
        v = json_string(before && before[0] ? before : value);
    }
    if (!v || json_object_set_new(obj, key, v) != 0)
        return refuse(err, "body", "out of memory");
    return obj;
}

static json_t *decode_form(const uint8_t *body, size_t len, intake_error_t *err)
{
    json_t *obj = json_object();
    char *key = malloc(len + 1), *value = malloc(len + 1);
    if (!obj || !key || !value) {
        refuse(err, "body", "out of memory");
        goto fail;
    }
    const char *s = (const char *)body;
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && s[end] != '&')
            end++;
        size_t eq = at;
        while (eq < end && s[eq] != '=')
            eq++;
        if (end > at) {
            if (form_unescape(s + at, eq - at, key) != 0) {
                refuse(err, "body", "a field name has a bad %%-escape or a NUL");
                goto fail;
            }
            size_t vstart = eq < end ? eq + 1 : end;
            if (form_unescape(s + vstart, end - vstart, value) != 0) {
                refuse(err, key[0] && strlen(key) <= INTAKE_KEY_MAX ? key : "body",
                       "%.64s has a bad %%-escape or a NUL", key);
                goto fail;
            }
            if (key[0] && !add_field(obj, key, value, err))
                goto fail;
        }
        at = end + 1;
    }
    free(key);
    free(value);
    return obj;
fail:
    json_decref(obj);
    free(key);
    free(value);
    return NULL;
}

/* A JSON value as the text of a field; NULL for null. */
static json_t *json_field_text(const char *key, json_t *v, intake_error_t *err, bool *skip)
{
    char num[64];
    *skip = false;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (strlen(json_string_value(v)) != json_string_length(v))
            return refuse(err, strlen(key) <= INTAKE_KEY_MAX ? key : "body", "%.64s contains a NUL", key);
        return v;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return json_string(num);
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        return json_string(num);
    case JSON_TRUE:
        return json_string("true");
    case JSON_FALSE:
        return json_string("false");
    case JSON_NULL:
        *skip = true;
        return NULL;
    default:
        return refuse(err, strlen(key) <= INTAKE_KEY_MAX ? key : "body",
                      "%.64s must be a string, a number or a boolean", key);
    }
}

static bool body_is_utf8(const uint8_t *body, size_t len)
{
    utf8proc_int32_t cp;
    for (size_t i = 0; i < len;) {
        utf8proc_ssize_t n = utf8proc_iterate(body + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return false;
        i += (size_t)n;
    }
    return true;
}

/* U+FDD0, a noncharacter: stands in for each byte that is not UTF-8. */
static const char MARK[] = "\xEF\xB7\x90";

/* The JSON parser refuses a body that is not UTF-8 as a whole; to name the
 * field the bad bytes are in, each is replaced by MARK and the copy parsed
 * again. The first field whose value holds MARK is named; "body" when none
 * can be (bad bytes in a field's name or outside any string, or a copy that
 * does not parse either). */
static json_t *refuse_bad_utf8(const uint8_t *body, size_t len, intake_error_t *err)
{
    char *copy = malloc(len * 3 + 1);
    if (!copy)
        return refuse(err, "body", "not valid UTF-8");
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(body + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n > 0) {
            memcpy(copy + o, body + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
        } else {
            memcpy(copy + o, MARK, 3);
            o += 3;
            i++;
        }
    }
    json_t *in = json_loadb(copy, o, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    free(copy);
    const char *key, *named = NULL;
    json_t *v;
    if (json_is_object(in)) {
        json_object_foreach(in, key, v) {
            if (strstr(key, MARK))
                break; /* the name itself is bad: it cannot be shown */
            if (key[0] && json_is_string(v) && strstr(json_string_value(v), MARK)) {
                named = key;
                break;
            }
        }
    }
    if (named && strlen(named) <= INTAKE_KEY_MAX)
        refuse(err, named, "%s is not valid UTF-8", named);
    else
        refuse(err, "body", "not valid UTF-8");
    json_decref(in);
    return NULL;
}

static json_t *decode_json(const uint8_t *body, size_t len, intake_error_t *err)
{
    json_error_t jerr;
    json_t *in = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    json_t *obj = NULL;
    if (!in && !body_is_utf8(body, len))
        return refuse_bad_utf8(body, len, err);
    if (!in)
        return refuse(err, "body", "not valid JSON: %s at byte %d", jerr.text, jerr.position);
    if (!json_is_object(in)) {
        refuse(err, "body", "the body must be a JSON object of fields");
        goto fail;
    }
    if (!(obj = json_object()))
        goto fail;
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v) {
        bool skip;
        if (key[0] == '\0')
            continue; /* a field without a name maps to nothing, as in forms */
        json_t *text = json_field_text(key, v, err, &skip);
        if (skip)
            continue;
        if (!text)
            goto fail;
        json_t *stored = add_field(obj, key, json_string_value(text), err);
        if (text != v)
            json_decref(text);
        if (!stored)
            goto fail;
    }
    json_decref(in);
    return obj;
fail:
    json_decref(in);
    json_decref(obj);
    return NULL;
}

json_t *intake_decode(intake_body_t kind, const uint8_t *body, size_t len, intake_error_t *err)
{
    static const uint8_t empty[1];
    if (!body)
        body = empty;
    return kind == INTAKE_BODY_FORM ? decode_form(body, len, err) : decode_json(body, len, err);
}

const char *intake_take_field(json_t *fields, const char *name, char *buf, size_t len)
{
    const char *v = json_string_value(json_object_get(fields, name));
    const char *out = NULL;
    if (v && v[0]) {
        snprintf(buf, len, "%s", v);
        out = buf;
    }
    json_object_del(fields, name);
    return out;
}
