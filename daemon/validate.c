#include "validate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Deeper than any message of branchline.proto: a bound on the recursion. */
#define MAX_DEPTH 16

/* Limits the SQL functions enforce as well: refusing here keeps an
 * oversize field from ever being sent to the database. Import rows are
 * left to SQL, which rejects the one row and keeps the others. */
static const struct {
    const char *message;   /* protobuf full name */
    const char *field;
    long max_chars;
} limits[] = {
    {"branchline.v1.LeadAddRequest", "note", 2000},
    {"branchline.v1.LeadTransitionRequest", "note", 2000},
};

typedef struct {
    const uint8_t *p, *end;
} cursor_t;

static bool read_varint(cursor_t *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && c->p < c->end; shift += 7) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static long field_limit(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *f)
{
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if (strcmp(limits[i].message, desc->name) == 0 && strcmp(limits[i].field, f->name) == 0)
            return limits[i].max_chars;
    return -1;
}

/* Characters of UTF-8 text (invalid UTF-8 is refused later, by the decoder's
 * own check and by PostgreSQL; here every non-continuation byte counts). */
static long utf8_chars(const uint8_t *s, size_t len)
{
    long n = 0;
    for (size_t i = 0; i < len; i++)
        n += (s[i] & 0xc0) != 0x80;
    return n;
}

/* "prefix.name" or "prefix.name[i]" for repeated fields. */
static void field_path(char *out, size_t outlen, const char *prefix,
                       const ProtobufCFieldDescriptor *f, unsigned index)
{
    const char *dot = prefix[0] ? "." : "";
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        snprintf(out, outlen, "%s%s%s[%u]", prefix, dot, f->name, index);
    else
        snprintf(out, outlen, "%s%s%s", prefix, dot, f->name);
}

static validate_status_t walk(const ProtobufCMessageDescriptor *desc, cursor_t c,
                              const char *prefix, bool skip, int depth, validate_error_t *err)
{
    unsigned seen[64] = {0}; /* occurrences per field number, for indexes */
    while (c.p < c.end) {
        uint64_t key, n;
        if (!read_varint(&c, &key))
            return VALIDATE_OK;
        unsigned number = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
        /* protobuf-c decodes a tag of field 0 when its varint is padded
         * (0x81 0x00) but not when it is minimal, so such a message could
         * not survive being packed again (a cache key, a replay). */
        if (number == 0) {
            snprintf(err->field, sizeof err->field, "%s", prefix[0] && !skip ? prefix : "request");
            return VALIDATE_FIELD_ZERO;
        }
        if (wire == 0) {
            if (!read_varint(&c, &n))
                return VALIDATE_OK;
            continue;
        }
        if (wire == 1 || wire == 5) {
            size_t size = wire == 1 ? 8 : 4;
            if ((size_t)(c.end - c.p) < size)
                return VALIDATE_OK;
            c.p += size;
            continue;
        }
        if (wire != 2 || !read_varint(&c, &n) || n > (uint64_t)(c.end - c.p))
            return VALIDATE_OK; /* groups are not ours; decoding accepted the rest */
        cursor_t value = {c.p, c.p + n};
        c.p += n;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, number);
        if (!f)
            continue;
        unsigned index = number < 64 ? seen[number]++ : 0;
        char path[sizeof err->field];
        field_path(path, sizeof path, skip ? "" : prefix, f, index);
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            if (memchr(value.p, '\0', n)) {
                snprintf(err->field, sizeof err->field, "%s", path);
                return VALIDATE_NUL;
            }
            long max = field_limit(desc, f);
            if (max >= 0 && (long)n > max && utf8_chars(value.p, n) > max) {
                snprintf(err->field, sizeof err->field, "%s", path);
                err->limit = max;
                return VALIDATE_TOO_LONG;
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth < MAX_DEPTH) {
            validate_status_t st = walk(f->descriptor, value, skip ? "" : path, false, depth + 1, err);
            if (st != VALIDATE_OK)
                return st;
        }
    }
    return VALIDATE_OK;
}

validate_status_t validate_wire(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                                size_t len, int skip_top, validate_error_t *err)
{
    cursor_t c = {buf, buf + len};
    err->field[0] = '\0';
    err->limit = 0;
    return walk(desc, c, "", skip_top != 0, 0, err);
}
