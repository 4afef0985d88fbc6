/*
 * Requests built from command rows through protobuf-c descriptors: the op
 * is a Request oneof field named by the row, its message is allocated with
 * the descriptor's message_init, and each parameter sets a field by name
 * (string, bool, int32, int64, uint32, double; numbers parsed strictly). This is
 * the reverse of the daemon's sql_call.c, which reads the same fields.
 *
 * Ownership: the Request, its op message and every string set in it are
 * malloc'd and freed together by reqbuild_free.
 */
#ifndef BRANCHCTL_REQBUILD_H
#define BRANCHCTL_REQBUILD_H

#include <stddef.h>

#include "args.h"
#include "blclient.h"

typedef enum {
    REQBUILD_OK = 0,
    REQBUILD_INVALID,  /* a value that does not fit its field; err names the parameter */
    REQBUILD_NO_MEMORY,
} reqbuild_rc_t;

/*
 * A Request whose op is the oneof field named op ("unit_add"), with an
 * empty message there (*msg). NULL when out of memory or when op names no
 * operation (a bug in a row: the unit tests check every row).
 */
Branchline__V1__Request *reqbuild_new(const char *op, ProtobufCMessage **msg)
    __attribute__((warn_unused_result));

void reqbuild_free(Branchline__V1__Request *req);

/*
 * Sets m's field from text. what names the value for errors ("--depth",
 * "ID"). Integers outside the field's type are REQBUILD_INVALID.
 */
reqbuild_rc_t reqbuild_set(ProtobufCMessage *m, const char *field, const char *value,
                           const char *what, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The row's constants, then each given parameter's field and "sets" pair. */
reqbuild_rc_t reqbuild_fill(const command_t *cmd, const args_t *args, ProtobufCMessage *m,
                            char *err, size_t errlen) __attribute__((warn_unused_result));

/* The message the Response carries for op (same field name), e.g. UnitList for unit_list. */
const ProtobufCMessageDescriptor *reqbuild_result_descriptor(const char *op);

/* The result message in r (by its result case), or NULL when it has none. */
const ProtobufCMessage *reqbuild_result(const Branchline__V1__Response *r);

#endif
