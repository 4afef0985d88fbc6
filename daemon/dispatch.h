/*
 * The dispatch table: operation -> handler, the roles allowed to call it and
 * whether it writes. Adding an operation is adding a row in dispatch.c; the
 * authorization tests read the same table.
 */
#ifndef BRANCHD_DISPATCH_H
#define BRANCHD_DISPATCH_H

#include <stdbool.h>

#include "db_statements.h"
#include "request.h"

typedef void (*handler_fn)(request_t *req);

typedef enum {
    ROLE_NONE_NEEDED = 1 << 0, /* any verified certificate, principal or not */
    ROLE_OPERATOR = 1 << 1,
    ROLE_ADMIN = 1 << 2,
    ROLE_UNIT_ADMIN = 1 << 3,
    ROLE_BRANCH = 1 << 4,
    ROLE_VIEWER = 1 << 5,
} role_mask_t;

struct dispatch_entry {
    Branchline__V1__Request__OpCase op;
    const char *name;
    handler_fn handler;
    unsigned roles;   /* who may call it; SQL functions enforce scope as well */
    bool writes;
    bool sql;         /* served by api.<name>; its statement is prepared */
    bool cached;      /* an organization read answered from the worker's cache */
    stmt_id_t stmt;   /* filled by dispatch_init when sql */
};

/* Registers the statements of SQL-backed operations; before workers start. */
int dispatch_init(void) __attribute__((warn_unused_result));

const dispatch_entry_t *dispatch_lookup(Branchline__V1__Request__OpCase op);
const dispatch_entry_t *dispatch_table(unsigned *count);

/* Validates the envelope and the request's strings (`wire` is the frame it
 * was decoded from) and runs the handler; always ends in request_finish. */
void dispatch_request(request_t *req, const uint8_t *wire, size_t wire_len);

#endif
