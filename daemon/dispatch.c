#include "dispatch.h"

#include "conn.h"
#include "handlers/handlers.h"
#include "handlers/sql_call.h"
#include "quota.h"
#include "log.h"
#include "metrics_core.h"
#include "validate.h"

#define PRINCIPAL (ROLE_OPERATOR | ROLE_ADMIN | ROLE_UNIT_ADMIN | ROLE_BRANCH | ROLE_VIEWER)
#define ANY_ROLE (ROLE_NONE_NEEDED | PRINCIPAL)
#define READERS (ROLE_ADMIN | ROLE_UNIT_ADMIN | ROLE_BRANCH | ROLE_VIEWER)
#define VIEWERS (ROLE_ADMIN | ROLE_UNIT_ADMIN | ROLE_VIEWER)
#define EDITORS (ROLE_ADMIN | ROLE_UNIT_ADMIN)
#define WORKERS (ROLE_ADMIN | ROLE_UNIT_ADMIN | ROLE_BRANCH)

/* An operation served by the SQL function api.<name>. */
#define SQL_OP(op, name, roles, writes) \
    {BRANCHLINE__V1__REQUEST__OP_##op, name, handle_sql_call, roles, writes, true, false, -1}
/* A read of the organization, cached per worker until the tenant changes. */
#define SQL_CACHED(op, name, roles) \
    {BRANCHLINE__V1__REQUEST__OP_##op, name, handle_sql_call, roles, false, true, true, -1}

static dispatch_entry_t table[] = {
    {BRANCHLINE__V1__REQUEST__OP_CANCEL, "cancel", handle_cancel, ANY_ROLE, false, false, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_PING, "ping", handle_ping, ANY_ROLE, false, false, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_SERVER_INFO, "server_info", handle_server_info, ANY_ROLE, false, false, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_LEAD_WATCH, "lead_watch", handle_lead_watch, READERS, false, true, false, -1},
    SQL_OP(TENANT_CREATE, "tenant_create", ROLE_OPERATOR, true),
    SQL_OP(TENANT_LIST, "tenant_list", ROLE_OPERATOR, false),
    SQL_OP(PRINCIPAL_ADD, "principal_add", ROLE_ADMIN, true),
    SQL_OP(PRINCIPAL_LIST, "principal_list", ROLE_ADMIN, false),
    SQL_OP(PRINCIPAL_SET_ENABLED, "principal_set_enabled", ROLE_ADMIN, true),
    SQL_OP(WHOAMI, "whoami", PRINCIPAL, false),
    SQL_OP(UNIT_ADD, "unit_add", EDITORS, true),
    SQL_OP(UNIT_RENAME, "unit_rename", EDITORS, true),
    SQL_OP(UNIT_MOVE, "unit_move", EDITORS, true),
    SQL_OP(UNIT_SET_STATUS, "unit_set_status", EDITORS, true),
    SQL_OP(UNIT_DELETE, "unit_delete", EDITORS, true),
    SQL_CACHED(UNIT_SHOW, "unit_show", READERS),
    SQL_CACHED(UNIT_LIST, "unit_list", VIEWERS),
    SQL_OP(DEPT_ADD, "dept_add", EDITORS, true),
    SQL_OP(DEPT_REMOVE, "dept_remove", EDITORS, true),
    SQL_CACHED(DEPT_LIST, "dept_list", READERS),
    SQL_CACHED(SERVING, "serving", READERS),
    SQL_CACHED(SHAPE, "shape", VIEWERS),
    SQL_OP(SUPPORT_ASSIGN, "support_assign", EDITORS, true),
    SQL_OP(SUPPORT_END, "support_end", EDITORS, true),
    SQL_CACHED(SUPPORT_LIST, "support_list", VIEWERS),
    SQL_OP(POSITION_SET, "position_set", EDITORS, true),
    SQL_OP(STAFF_ADD, "staff_add", EDITORS, true),
    SQL_OP(STAFF_MOVE, "staff_move", EDITORS, true),
    SQL_OP(STAFF_LEAVE, "staff_leave", EDITORS, true),
    SQL_CACHED(STAFF_LIST, "staff_list", READERS),
    SQL_CACHED(STAFFING_CHECK, "staffing_check", VIEWERS),
    SQL_OP(PROJECT_ADD, "project_add", ROLE_ADMIN, true),
    SQL_CACHED(PROJECT_LIST, "project_list", VIEWERS),
    SQL_OP(PROJECT_ASSIGN, "project_assign", EDITORS, true),
    SQL_OP(PROJECT_UNASSIGN, "project_unassign", EDITORS, true),
    SQL_OP(REORG_PLAN, "reorg_plan", ROLE_ADMIN, false),
    SQL_OP(REORG_APPLY, "reorg_apply", ROLE_ADMIN, true),
    SQL_OP(AUDIT_LIST, "audit_list", EDITORS, false),
    SQL_OP(LEAD_ADD, "lead_add", EDITORS, true),
    SQL_OP(LEAD_IMPORT, "lead_import", EDITORS, true),
    SQL_OP(LEAD_LIST, "lead_list", READERS, false),
    SQL_OP(LEAD_SHOW, "lead_show", READERS, false),
    SQL_OP(LEAD_CONTACT, "lead_contact", WORKERS, true),
    SQL_OP(LEAD_WIN, "lead_win", WORKERS, true),
    SQL_OP(LEAD_LOSE, "lead_lose", WORKERS, true),
    SQL_OP(LEAD_REASSIGN, "lead_reassign", EDITORS, true),
    SQL_OP(LEAD_HISTORY, "lead_history", READERS, false),
    SQL_OP(LEAD_EXPLAIN, "lead_explain", READERS, false),
    SQL_OP(LEAD_STATS, "lead_stats", READERS, false),
    SQL_OP(LEAD_PURGE, "lead_purge", ROLE_ADMIN, true),
    SQL_OP(POLICY_SET, "policy_set", EDITORS, true),
    SQL_OP(POLICY_SHOW, "policy_show", READERS, false),
    SQL_OP(POLICY_UNSET, "policy_unset", EDITORS, true),
    SQL_OP(CAP_SET, "cap_set", EDITORS, true),
    SQL_OP(ORG_EXPORT, "org_export", VIEWERS, false),
    SQL_OP(ORG_APPLY, "org_apply", ROLE_ADMIN, true),
    SQL_OP(KPI, "kpi", READERS, false),
    SQL_OP(STAFFING_ERLANG, "staffing_erlang", VIEWERS, false),
    SQL_OP(STAFFING_RECOMMEND, "staffing_recommend", VIEWERS, false),
    SQL_OP(WHATIF, "whatif", ROLE_ADMIN, false),
    SQL_OP(SUPPORT_SUGGEST, "support_suggest", VIEWERS, false),
    SQL_OP(SOURCE_ADD, "source_add", EDITORS, true),
    SQL_OP(SOURCE_LIST, "source_list", EDITORS, false),
    SQL_OP(SOURCE_ROTATE, "source_rotate", EDITORS, true),
    SQL_OP(SOURCE_DISABLE, "source_disable", EDITORS, true),
};

int dispatch_init(void)
{
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!table[i].sql)
            continue;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
            &branchline__v1__request__descriptor, (unsigned)table[i].op);
        if (!f || (table[i].stmt = sql_call_register(table[i].name, f, table[i].cached)) < 0)
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

/* Strings are checked on the wire, where a NUL byte still shows. */
static bool wire_valid(request_t *req, const uint8_t *wire, size_t wire_len)
{
    validate_error_t err;
    switch (validate_wire(&branchline__v1__request__descriptor, wire, wire_len, 1, &err)) {
    case VALIDATE_OK:
        return true;
    case VALIDATE_NUL:
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, err.field,
                                     "%s must not contain a NUL byte", err.field));
        return false;
    case VALIDATE_TOO_LONG:
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, err.field,
                                     "%s is longer than %ld characters", err.field, err.limit));
        return false;
    }
    return true;
}

void dispatch_request(request_t *req, const uint8_t *wire, size_t wire_len)
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
    if (!wire_valid(req, wire, wire_len))
        return;
    conn_t *c = req->conn;
    if (c && c->tenant >= 0 && !rate_limit_allow(req->worker->rate, c->tenant, now_ms())) {
        metrics_rate_limited();
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "request rate limit of the tenant exceeded; retry later"));
        return;
    }
    if (req->worker->draining) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "",
                                     "server is shutting down"));
        return;
    }
    entry->handler(req);
}
