#include "dispatch.h"

#include "clock.h"
#include "handlers/handlers.h"
#include "handlers/sql_call.h"
#include "metrics_core.h"
#include "usage_limits.h"
#include "validate.h"

/* An operation served by the SQL function api.<name>. */
#define SQL_OP(op, name) {BRANCHLINE__V1__REQUEST__OP_##op, name, handle_sql_call, true, false, -1}
/* A read of the organization, cached per worker until the tenant changes. */
#define SQL_CACHED(op, name) {BRANCHLINE__V1__REQUEST__OP_##op, name, handle_sql_call, true, true, -1}
/* A read served by the read pool when there is one (db_read_conninfo):
 * lists, statistics and exports, which may lag the primary by the
 * replication delay (README, High availability). The function must write
 * nothing: the read pool's sessions are read-only. Reads right after a
 * write of the same client (lead show, history) stay on the primary. */
#define SQL_READ(op, name) {BRANCHLINE__V1__REQUEST__OP_##op, name, handle_sql_call, true, false, -1, true}

static dispatch_entry_t table[] = {
    {BRANCHLINE__V1__REQUEST__OP_CANCEL, "cancel", handle_cancel, false, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_PING, "ping", handle_ping, false, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_SERVER_INFO, "server_info", handle_server_info, false, false, -1},
    {BRANCHLINE__V1__REQUEST__OP_LEAD_WATCH, "lead_watch", handle_lead_watch, true, false, -1},
    SQL_OP(TENANT_CREATE, "tenant_create"),
    SQL_OP(TENANT_LIST, "tenant_list"),
    SQL_OP(PRINCIPAL_ADD, "principal_add"),
    SQL_OP(PRINCIPAL_LIST, "principal_list"),
    SQL_OP(PRINCIPAL_SET_ENABLED, "principal_set_enabled"),
    SQL_OP(WHOAMI, "whoami"),
    SQL_OP(UNIT_ADD, "unit_add"),
    SQL_OP(UNIT_RENAME, "unit_rename"),
    SQL_OP(UNIT_MOVE, "unit_move"),
    SQL_OP(UNIT_SET_STATUS, "unit_set_status"),
    SQL_OP(UNIT_DELETE, "unit_delete"),
    SQL_CACHED(UNIT_SHOW, "unit_show"),
    SQL_CACHED(UNIT_LIST, "unit_list"),
    SQL_OP(DEPT_ADD, "dept_add"),
    SQL_OP(DEPT_REMOVE, "dept_remove"),
    SQL_CACHED(DEPT_LIST, "dept_list"),
    SQL_CACHED(SERVING, "serving"),
    SQL_CACHED(SHAPE, "shape"),
    SQL_OP(SUPPORT_ASSIGN, "support_assign"),
    SQL_OP(SUPPORT_END, "support_end"),
    SQL_CACHED(SUPPORT_LIST, "support_list"),
    SQL_OP(POSITION_SET, "position_set"),
    SQL_OP(STAFF_ADD, "staff_add"),
    SQL_OP(STAFF_MOVE, "staff_move"),
    SQL_OP(STAFF_LEAVE, "staff_leave"),
    SQL_CACHED(STAFF_LIST, "staff_list"),
    SQL_CACHED(STAFFING_CHECK, "staffing_check"),
    SQL_OP(PROJECT_ADD, "project_add"),
    SQL_CACHED(PROJECT_LIST, "project_list"),
    SQL_OP(PROJECT_ASSIGN, "project_assign"),
    SQL_OP(PROJECT_UNASSIGN, "project_unassign"),
    SQL_OP(REORG_PLAN, "reorg_plan"),
    SQL_OP(REORG_APPLY, "reorg_apply"),
    SQL_OP(AUDIT_LIST, "audit_list"),
    SQL_OP(LEAD_ADD, "lead_add"),
    SQL_OP(LEAD_IMPORT, "lead_import"),
    SQL_READ(LEAD_LIST, "lead_list"),
    SQL_OP(LEAD_SHOW, "lead_show"),
    SQL_OP(LEAD_CONTACT, "lead_contact"),
    SQL_OP(LEAD_WIN, "lead_win"),
    SQL_OP(LEAD_LOSE, "lead_lose"),
    SQL_OP(LEAD_REASSIGN, "lead_reassign"),
    SQL_OP(LEAD_HISTORY, "lead_history"),
    SQL_OP(LEAD_EXPLAIN, "lead_explain"),
    SQL_READ(LEAD_STATS, "lead_stats"),
    SQL_OP(LEAD_PURGE, "lead_purge"),
    SQL_OP(POLICY_SET, "policy_set"),
    SQL_OP(POLICY_SHOW, "policy_show"),
    SQL_OP(POLICY_UNSET, "policy_unset"),
    SQL_OP(CAP_SET, "cap_set"),
    SQL_OP(CAP_UNSET, "cap_unset"),
    SQL_OP(CAP_LIST, "cap_list"),
    SQL_OP(POSITION_LIST, "position_list"),
    SQL_READ(ORG_EXPORT, "org_export"),
    SQL_OP(ORG_APPLY, "org_apply"),
    SQL_OP(KPI, "kpi"),
    SQL_OP(STAFFING_ERLANG, "staffing_erlang"),
    SQL_OP(STAFFING_RECOMMEND, "staffing_recommend"),
    SQL_OP(WHATIF, "whatif"),
    SQL_OP(SUPPORT_SUGGEST, "support_suggest"),
    SQL_OP(SOURCE_ADD, "source_add"),
    SQL_OP(SOURCE_LIST, "source_list"),
    SQL_OP(SOURCE_ROTATE, "source_rotate"),
    SQL_OP(SOURCE_DISABLE, "source_disable"),
};

int dispatch_init(void)
{
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!table[i].sql)
            continue;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
            &branchline__v1__request__descriptor, (unsigned)table[i].op);
        if (!f || (table[i].stmt = sql_call_register(table[i].name, f, table[i].cached,
                                             table[i].handler == handle_sql_call)) < 0)
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
    case VALIDATE_FIELD_ZERO:
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, err.field,
                                     "%s has a field numbered 0, which protobuf does not allow",
                                     err.field));
        return false;
    }
    return true;
}

void dispatch_request(request_t *req, const uint8_t *wire, size_t wire_len)
{
    const dispatch_entry_t *entry = req->msg ? dispatch_lookup(req->msg->op_case) : NULL;
    if (!entry) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "op",
                                     "unknown or missing operation"));
        return;
    }
    req->op_name = entry->name;
    req->stmt = entry->stmt;
    req->cacheable = entry->cached;
    req->read_pool = entry->read_pool;
    if (!wire_valid(req, wire, wire_len))
        return;
    if (req->tenant >= 0 && !rate_limit_allow(req->worker->rate, req->tenant, now_ms())) {
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
