/*
 * The dispatch table: operation -> handler, and for SQL operations their
 * prepared statement and whether the worker caches their answers. Adding an
 * operation is adding a row in dispatch.c. Who may call an SQL operation is
 * decided by its function (auth(p_subject, '<op>', '{roles}')), the one
 * place roles are written; the authorization matrix test reads them there.
 * ping, server_info and cancel answer any certificate from the CA.
 */
#ifndef BRANCHD_DISPATCH_H
#define BRANCHD_DISPATCH_H

#include <stdbool.h>

#include "db_statements.h"
#include "request.h"

typedef void (*handler_fn)(request_t *req);

typedef struct dispatch_entry {
    Branchline__V1__Request__OpCase op;
    const char *name;
    handler_fn handler;
    bool sql;         /* served by api.<name>; its statement is prepared */
    bool cached;      /* an organization read answered from the worker's cache */
    stmt_id_t stmt;   /* filled by dispatch_init when sql */
    bool read_pool;   /* a read that may be served by db_read_conninfo (a standby):
                         its function writes nothing and a lagging answer is acceptable */
} dispatch_entry_t;

/* Registers the statements of SQL-backed operations; before workers start. */
int dispatch_init(void) __attribute__((warn_unused_result));

const dispatch_entry_t *dispatch_lookup(Branchline__V1__Request__OpCase op);
const dispatch_entry_t *dispatch_table(unsigned *count);

/*
 * Runs the request's operation: known operation, its strings valid on the
 * wire (`wire` is the frame it was decoded from), the tenant's rate, not
 * draining, then the handler; always ends in request_finish. Any front end
 * calls it with a request it made (request_new); the envelope (id) is the
 * front end's to check.
 */
void dispatch_request(request_t *req, const uint8_t *wire, size_t wire_len);

#endif
