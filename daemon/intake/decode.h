/*
 * Web intake bodies: an HTML form (application/x-www-form-urlencoded) or a
 * JSON object, decoded into one flat JSON object of strings, the shape
 * api.web_intake maps onto lead fields. Pure (no I/O, no database), so the
 * fuzzer and unit tests drive it directly.
 */
#ifndef BRANCHD_INTAKE_DECODE_H
#define BRANCHD_INTAKE_DECODE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define INTAKE_FIELDS_MAX 64
#define INTAKE_KEY_MAX 64
#define INTAKE_VALUE_MAX 4000

typedef enum {
    INTAKE_BODY_FORM,
    INTAKE_BODY_JSON,
} intake_body_t;

/* What a refused body is about: the field (a form field's name, or "body")
 * and a message for humans. Always 422 in HTTP. */
typedef struct {
    char field[INTAKE_KEY_MAX + 1];
    char message[256];
} intake_error_t;

/* The body kind of a Content-Type header (parameters such as charset=utf-8
 * allowed; any other charset is refused). -1: unsupported (415). */
int intake_body_kind(const char *content_type, intake_body_t *kind)
    __attribute__((warn_unused_result));

/*
 * The fields of a body, as a new JSON object of strings (the caller owns
 * it), or NULL with err. Form: "a=1&b=2", '+' is a space, %XX escapes; a
 * field given twice keeps both values joined by ", " (checkboxes). JSON: an
 * object whose values are strings, numbers or booleans (as text; null is
 * not given). Every name and value must be UTF-8 without NUL; at most
 * INTAKE_FIELDS_MAX fields, names of INTAKE_KEY_MAX bytes and values of
 * INTAKE_VALUE_MAX bytes.
 */
json_t *intake_decode(intake_body_t kind, const uint8_t *body, size_t len, intake_error_t *err)
    __attribute__((warn_unused_result));

/*
 * Takes a string field out of fields (NULL when absent or empty), copied
 * into buf (cut to len - 1 bytes). For the control fields that are not lead
 * data: the return URL, the honeypot.
 */
const char *intake_take_field(json_t *fields, const char *name, char *buf, size_t len);

#endif
