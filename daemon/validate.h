/*
 * Checks a request's strings on the wire, before anything reaches SQL:
 * libpq passes text parameters as C strings, so a string holding a NUL byte
 * would be silently cut short (and "dup\0one" would become "dup"), and the
 * decoded message no longer shows it. The walk follows the message's
 * protobuf-c descriptors, so every operation is covered without a list to
 * keep; fields with a length limit known to the daemon are checked here too.
 */
#ifndef BRANCHD_VALIDATE_H
#define BRANCHD_VALIDATE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    VALIDATE_OK,
    VALIDATE_NUL,        /* a string field holds a NUL byte */
    VALIDATE_TOO_LONG,   /* a string field is over its limit (in characters) */
    VALIDATE_FIELD_ZERO, /* a field numbered 0, which protobuf forbids */
} validate_status_t;

typedef struct {
    char field[128];     /* path of the offending field, e.g. "leads[3].note";
                          * for VALIDATE_FIELD_ZERO the message holding it */
    long limit;          /* for VALIDATE_TOO_LONG */
} validate_error_t;

/*
 * Walks `len` bytes of an encoded `desc` message (already decoded once, so
 * well-formed). Paths start below the top message's fields when
 * `skip_top` (a Request's operation), else at them.
 */
validate_status_t validate_wire(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                                size_t len, int skip_top, validate_error_t *err)
    __attribute__((warn_unused_result));

#endif
