#include "pbjson.h"

#include <stdlib.h>
#include <string.h>

json_t *pbjson_text(const char *s)
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

static json_t *scalar(const ProtobufCFieldDescriptor *f, const void *slot)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: return pbjson_text(*(const char *const *)slot);
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)slot);
    case PROTOBUF_C_TYPE_INT32: return json_integer(*(const int32_t *)slot);
    case PROTOBUF_C_TYPE_UINT32: return json_integer(*(const uint32_t *)slot);
    case PROTOBUF_C_TYPE_INT64: return json_integer(*(const int64_t *)slot);
    /* No result carries a uint64 above 2^63 (times in ms, ids). */
    case PROTOBUF_C_TYPE_UINT64: return json_integer((json_int_t)*(const uint64_t *)slot);
    case PROTOBUF_C_TYPE_DOUBLE: return json_real(*(const double *)slot);
    case PROTOBUF_C_TYPE_FLOAT: return json_real(*(const float *)slot);
    case PROTOBUF_C_TYPE_MESSAGE: return pbjson_message(*(const ProtobufCMessage *const *)slot);
    default: return json_null();  /* no result uses the other types */
    }
}

/* Bytes per element of a repeated field's array. */
static size_t element_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(int64_t);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    default: return sizeof(int32_t);
    }
}

json_t *pbjson_field(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *slot = (const char *)m + f->offset;
    /* A scalar alone in a oneof says whether it is there: absent is null,
     * not 0 (a cap of 0 leads is not "no cap"). */
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
        return json_null();
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return scalar(f, slot);
    size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
    const char *arr = *(const char *const *)slot;
    json_t *v = json_array();
    for (size_t k = 0; v && k < n; k++) {
        if (json_array_append_new(v, scalar(f, arr + k * element_size(f->type))) != 0) {
            json_decref(v);
            v = NULL;
        }
    }
    return v;
}

json_t *pbjson_message(const ProtobufCMessage *m)
{
    if (!m)
        return json_null();
    json_t *obj = json_object();
    for (unsigned i = 0; obj && i < m->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &m->descriptor->fields[i];
        if (json_object_set_new(obj, f->name, pbjson_field(m, f)) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

void pbjson_fill_scalars(ProtobufCMessage *m, const json_t *obj)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const json_t *v = json_object_get(obj, f->name);
        char *slot = (char *)m + f->offset;
        if (!v || json_is_null(v) || f->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        if (f->type == PROTOBUF_C_TYPE_STRING && json_is_string(v))
            *(const char **)slot = json_string_value(v);
        else if (f->type == PROTOBUF_C_TYPE_INT64 && json_is_integer(v))
            *(int64_t *)slot = (int64_t)json_integer_value(v);
        else if (f->type == PROTOBUF_C_TYPE_INT32 && json_is_integer(v))
            *(int32_t *)slot = (int32_t)json_integer_value(v);
        else if (f->type == PROTOBUF_C_TYPE_BOOL && json_is_boolean(v))
            *(protobuf_c_boolean *)slot = json_is_true(v);
        else
            continue;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
    }
}

const ProtobufCMessageDescriptor *pbjson_list_items(const ProtobufCMessageDescriptor *d)
{
    if (d->n_fields != 1 || d->fields[0].label != PROTOBUF_C_LABEL_REPEATED ||
        d->fields[0].type != PROTOBUF_C_TYPE_MESSAGE || strcmp(d->fields[0].name, "items") != 0)
        return NULL;
    return d->fields[0].descriptor;
}
