/*
 * Web intake bodies (daemon/intake/decode.c) over arbitrary bytes: the first
 * byte picks form or JSON, the rest is the body.
 *
 * Besides memory errors, the invariants api.web_intake relies on: a body is
 * either refused with a field named (non-empty, within its size) and a
 * message, or decoded into an object of at most INTAKE_FIELDS_MAX strings
 * whose names and values are UTF-8 without NUL within their limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intake/decode.h"
#include "utf8.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_fields(json_t *fields)
{
    CHECK(json_is_object(fields));
    CHECK(json_object_size(fields) <= INTAKE_FIELDS_MAX);
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v) {
        CHECK(key[0] != '\0' && strlen(key) <= INTAKE_KEY_MAX && utf8_valid(key));
        CHECK(json_is_string(v));
        const char *s = json_string_value(v);
        CHECK(strlen(s) == json_string_length(v) && strlen(s) <= INTAKE_VALUE_MAX && utf8_valid(s));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    intake_body_t kind = data[0] & 1 ? INTAKE_BODY_JSON : INTAKE_BODY_FORM;
    intake_error_t err;
    memset(&err, 0, sizeof err);
    json_t *fields = intake_decode(kind, data + 1, size - 1, &err);
    if (!fields) {
        CHECK(err.field[0] != '\0' && err.message[0] != '\0');
        return 0;
    }
    check_fields(fields);
    char buf[128];
    (void)intake_take_field(fields, "_return_url", buf, sizeof buf);
    CHECK(!json_object_get(fields, "_return_url"));
    json_decref(fields);
    return 0;
}
