#include <stdlib.h>

#include "handlers.h"
#include "sql_call.h"
#include "watch.h"

/* api.lead_watch authorizes the caller and says which tenant and which
 * branch or subtree the stream covers; events then come from NOTIFY. */
static void watch_authorized(void *arg, const db_result_t *res)
{
    request_t *req = arg;
    if (res->code != BRANCHLINE__V1__STATUS__CODE__OK) {
        request_finish(request_error(req, res->code, res->field, "%s", res->message));
        return;
    }
    int tenant_col = PQfnumber(res->result, "tenant_id");
    int scope_col = PQfnumber(res->result, "scope_path");
    if (PQntuples(res->result) != 1 || tenant_col < 0 || scope_col < 0) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INTERNAL, "",
                                     "lead_watch returned no scope"));
        return;
    }
    if (request_detached(req)) {
        request_finish(req); /* the client left while we asked */
        return;
    }
    if (!db_pool_listening(req->worker->db)) {
        /* A stream started now would silently miss events. */
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "",
                                     "lead notifications are not being received right now "
                                     "(the daemon is reconnecting to the database); try again"));
        return;
    }
    watch_start(req, atoll(PQgetvalue(res->result, 0, tenant_col)),
                PQgetvalue(res->result, 0, scope_col));
}

void handle_lead_watch(request_t *req)
{
    sql_call_run(req, watch_authorized);
}
