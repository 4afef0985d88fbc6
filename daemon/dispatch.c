#include "dispatch.h"

#include "conn.h"
#include "handlers/handlers.h"
#include "log.h"

#define ANY_ROLE (ROLE_NONE_NEEDED | ROLE_OPERATOR | ROLE_ADMIN | ROLE_UNIT_ADMIN | ROLE_BRANCH | ROLE_VIEWER)

static const dispatch_entry_t table[] = {
    {BRANCHLINE__V1__REQUEST__OP_CANCEL, "cancel", handle_cancel, ANY_ROLE, false},
    {BRANCHLINE__V1__REQUEST__OP_PING, "ping", handle_ping, ANY_ROLE, false},
    {BRANCHLINE__V1__REQUEST__OP_SERVER_INFO, "server_info", handle_server_info, ANY_ROLE, false},
};

const dispatch_entry_t *dispatch_table(unsigned *count)
{
    *count = sizeof table / sizeof table[0];
    return table;
}

const dispatch_entry_t *dispatch_lookup(Branchline__V1__Request__OpCase op)
{
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].op == op)
            return &table[i];
    return NULL;
}

static bool id_in_flight(const request_t *req)
{
    for (const request_t *r = req->conn ? req->conn->requests : NULL; r; r = r->next)
        if (r != req && r->id == req->id)
            return true;
    return false;
}

void dispatch_request(request_t *req)
{
    if (req->id == 0) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "id",
                                     "request id must be non-zero"));
        return;
    }
    if (id_in_flight(req)) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "id",
                                     "request id %llu is already in flight on this connection",
                                     (unsigned long long)req->id));
        return;
    }
    const dispatch_entry_t *entry = dispatch_lookup(req->msg->op_case);
    if (!entry) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "op",
                                     "unknown or missing operation"));
        return;
    }
    req->op_name = entry->name;
    if (req->worker->draining) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "",
                                     "server is shutting down"));
        return;
    }
    entry->handler(req);
}
