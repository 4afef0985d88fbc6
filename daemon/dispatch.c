#include "dispatch.h"

#include "conn.h"
#include "handlers/handlers.h"
#include "handlers/sql_call.h"
#include "log.h"

#define PRINCIPAL (ROLE_OPERATOR | ROLE_ADMIN | ROLE_UNIT_ADMIN | ROLE_BRANCH | ROLE_VIEWER)
#define ANY_ROLE (ROLE_NONE_NEEDED | PRINCIPAL)
#define READERS (ROLE_ADMIN | ROLE_UNIT_ADMIN | ROLE_BRANCH | ROLE_VIEWER)

static dispatch_entry_t table[] = {
    {BRANCHLINE__V1__REQUEST__OP_CANCEL, "cancel", handle_cancel, ANY_ROLE, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_PING, "ping", handle_ping, ANY_ROLE, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_SERVER_INFO, "server_info", handle_server_info, ANY_ROLE, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_TENANT_CREATE, "tenant_create", handle_sql_call, ROLE_OPERATOR, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_TENANT_LIST, "tenant_list", handle_sql_call, ROLE_OPERATOR, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_PRINCIPAL_ADD, "principal_add", handle_sql_call, ROLE_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_PRINCIPAL_LIST, "principal_list", handle_sql_call, ROLE_ADMIN, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_PRINCIPAL_SET_ENABLED, "principal_set_enabled", handle_sql_call, ROLE_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_WHOAMI, "whoami", handle_sql_call, PRINCIPAL, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_UNIT_ADD, "unit_add", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_UNIT_RENAME, "unit_rename", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_UNIT_MOVE, "unit_move", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_UNIT_SET_STATUS, "unit_set_status", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_UNIT_DELETE, "unit_delete", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_UNIT_SHOW, "unit_show", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_UNIT_LIST, "unit_list", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_DEPT_ADD, "dept_add", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_DEPT_REMOVE, "dept_remove", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_DEPT_LIST, "dept_list", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_SERVING, "serving", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_SHAPE, "shape", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_SUPPORT_ASSIGN, "support_assign", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_SUPPORT_END, "support_end", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_SUPPORT_LIST, "support_list", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_POSITION_SET, "position_set", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_STAFF_ADD, "staff_add", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_STAFF_MOVE, "staff_move", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_STAFF_LEAVE, "staff_leave", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_STAFF_LIST, "staff_list", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_STAFFING_CHECK, "staffing_check", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_PROJECT_ADD, "project_add", handle_sql_call, ROLE_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_PROJECT_LIST, "project_list", handle_sql_call, READERS, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_PROJECT_ASSIGN, "project_assign", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_PROJECT_UNASSIGN, "project_unassign", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_REORG_PLAN, "reorg_plan", handle_sql_call, ROLE_ADMIN, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_REORG_APPLY, "reorg_apply", handle_sql_call, ROLE_ADMIN, true, -1},
    {BRANCHLINE__V1__REQUEST__OP_AUDIT_LIST, "audit_list", handle_sql_call, ROLE_ADMIN|ROLE_UNIT_ADMIN, false, -1},

};

int dispatch_init(void)
{
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].handler != handle_sql_call)
            continue;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
            &branchline__v1__request__descriptor, (unsigned)table[i].op);
        if (!f || (table[i].stmt = sql_call_register(table[i].name, f)) < 0)
            return -1;
    }
    return 0;
}

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
    req->entry = entry;
    if (req->worker->draining) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "",
                                     "server is shutting down"));
        return;
    }
    entry->handler(req);
}
