#include "reqbuild.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_NAME_MAX 64

Branchline__V1__Request *reqbuild_new(const char *op, ProtobufCMessage **msg)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&branchline__v1__request__descriptor, op);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return NULL;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    Branchline__V1__Request *req = malloc(sizeof *req);
    ProtobufCMessage *m = malloc(d->sizeof_message);
    if (!req || !m) {
        free(req);
        free(m);
        return NULL;
    }
    branchline__v1__request__init(req);
    d->message_init(m);
    req->op_case = (Branchline__V1__Request__OpCase)f->id;
    *(ProtobufCMessage **)((char *)req + f->offset) = m;
    *msg = m;
    return req;
}

void reqbuild_free(Branchline__V1__Request *req)
{
    if (req)
        protobuf_c_message_free_unpacked(&req->base, NULL);
}

static reqbuild_rc_t set_string(char **slot, const ProtobufCFieldDescriptor *f, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return REQBUILD_NO_MEMORY;
    /* The same test protobuf_c_message_free_unpacked makes. */
    if (*slot != f->default_value)
        free(*slot);
    *slot = copy;
    return REQBUILD_OK;
}

static reqbuild_rc_t set_bool(protobuf_c_boolean *slot, const char *value, const char *what,
                              char *err, size_t errlen)
{
    if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
        snprintf(err, errlen, "invalid %s '%s': true or false", what, value);
        return REQBUILD_INVALID;
    }
    *slot = value[0] == 't';
    return REQBUILD_OK;
}

/* A repeated string field grows by one item per call. */
static reqbuild_rc_t append_string(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                                   const char *value)
{
    size_t *n = (size_t *)((char *)m + f->quantifier_offset);
    char ***items = (char ***)((char *)m + f->offset);
    char **grown = realloc(*items, (*n + 1) * sizeof *grown);
    if (!grown)
        return REQBUILD_NO_MEMORY;
    *items = grown;
    if (!(grown[*n] = strdup(value)))
        return REQBUILD_NO_MEMORY;
    ++*n;
    return REQBUILD_OK;
}

/* Integer fields: their range, and a store of the parsed value. */
static reqbuild_rc_t set_integer(void *slot, ProtobufCType type, const char *value,
                                 const char *what, char *err, size_t errlen)
{
    long long min = type == PROTOBUF_C_TYPE_INT64 ? INT64_MIN
                    : type == PROTOBUF_C_TYPE_INT32 ? INT32_MIN : 0;
    long long max = type == PROTOBUF_C_TYPE_INT64 ? INT64_MAX
                    : type == PROTOBUF_C_TYPE_INT32 ? INT32_MAX : UINT32_MAX;
    long long n;
    if (args_integer(what, value, min, max, &n, err, errlen) < 0)
        return REQBUILD_INVALID;
    if (type == PROTOBUF_C_TYPE_INT64)
        *(int64_t *)slot = (int64_t)n;
    else if (type == PROTOBUF_C_TYPE_INT32)
        *(int32_t *)slot = (int32_t)n;
    else
        *(uint32_t *)slot = (uint32_t)n;
    return REQBUILD_OK;
}

/* A finite decimal number ("0.8", "120", "1e3"), nothing after it. */
static reqbuild_rc_t set_double(double *slot, const char *value, const char *what, char *err,
                                size_t errlen)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(value, &end);
    if (!value[0] || end == value || *end || errno || !isfinite(d)) {
        snprintf(err, errlen, "invalid %s '%s': not a number", what, value);
        return REQBUILD_INVALID;
    }
    *slot = d;
    return REQBUILD_OK;
}

reqbuild_rc_t reqbuild_set(ProtobufCMessage *m, const char *field, const char *value,
                           const char *what, char *err, size_t errlen)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, field);
    if (!f || (f->label == PROTOBUF_C_LABEL_REPEATED && f->type != PROTOBUF_C_TYPE_STRING)) {
        snprintf(err, errlen, "%s has no field %s to set", m->descriptor->name, field);
        return REQBUILD_INVALID;
    }
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return append_string(m, f, value);
    void *slot = (char *)m + f->offset;
    reqbuild_rc_t rc;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: rc = set_string(slot, f, value); break;
    case PROTOBUF_C_TYPE_BOOL: rc = set_bool(slot, value, what, err, errlen); break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT32: rc = set_integer(slot, f->type, value, what, err, errlen); break;
    case PROTOBUF_C_TYPE_DOUBLE: rc = set_double(slot, value, what, err, errlen); break;
    default:
        snprintf(err, errlen, "%s.%s has a type branchctl cannot set", m->descriptor->name, field);
        return REQBUILD_INVALID;
    }
    /* A scalar in a oneof, given on the command line, is present even as 0. */
    if (rc == REQBUILD_OK && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
    return rc;
}

/* "field=value": a row's constant, or what a parameter implies. */
static reqbuild_rc_t set_pair(ProtobufCMessage *m, const char *pair, char *err, size_t errlen)
{
    char field[FIELD_NAME_MAX];
    size_t len = strcspn(pair, "=");
    if (!pair[len] || len >= sizeof field) {
        snprintf(err, errlen, "bad constant '%s' in the command table", pair);
        return REQBUILD_INVALID;
    }
    memcpy(field, pair, len);
    field[len] = '\0';
    return reqbuild_set(m, field, pair + len + 1, field, err, errlen);
}

reqbuild_rc_t reqbuild_fill(const command_t *cmd, const args_t *args, ProtobufCMessage *m,
                            char *err, size_t errlen)
{
    reqbuild_rc_t rc = REQBUILD_OK;
    for (int k = 0; rc == REQBUILD_OK && k < COMMAND_CONSTS_MAX && cmd->consts[k]; k++)
        rc = set_pair(m, cmd->consts[k], err, errlen);
    for (int i = 0; rc == REQBUILD_OK && i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++) {
        const param_t *p = &cmd->params[i];
        const char *value = args->values[i];
        if (!value)
            continue;
        if (p->field)
            rc = reqbuild_set(m, p->field, value, p->name, err, errlen);
        for (int j = 0; rc == REQBUILD_OK && p->field && j < args->n_more[i]; j++)
            rc = reqbuild_set(m, p->field, args->more[i][j], p->name, err, errlen);
        if (rc == REQBUILD_OK && p->sets)
            rc = set_pair(m, p->sets, err, errlen);
    }
    return rc;
}

const ProtobufCMessageDescriptor *reqbuild_result_descriptor(const char *op)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&branchline__v1__response__descriptor, op);
    return f && f->type == PROTOBUF_C_TYPE_MESSAGE ? f->descriptor : NULL;
}

const ProtobufCMessage *reqbuild_result(const Branchline__V1__Response *r)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &branchline__v1__response__descriptor, (unsigned)r->result_case);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return NULL;
    return *(const ProtobufCMessage *const *)((const char *)r + f->offset);
}
