#include <stdlib.h>

#include "db.h"
#include "handlers.h"

static void schema_version_done(void *arg, const db_result_t *res)
{
    request_t *req = arg;
    Branchline__V1__ServerInfoResult *out = req->resp.server_info;
    if (res->code == BRANCHLINE__V1__STATUS__CODE__OK && PQntuples(res->result) == 1) {
        out->database_reachable = 1;
        out->schema_version = atoll(PQgetvalue(res->result, 0, 0));
    }
    request_finish(req);
}

void handle_server_info(request_t *req)
{
    Branchline__V1__ServerInfoResult *out = request_alloc(req, sizeof *out);
    if (!out) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "out of memory"));
        return;
    }
    branchline__v1__server_info_result__init(out);
    out->daemon_version = (char *)BRANCHLINE_VERSION;
    out->protocol_version = BL_PROTOCOL_VERSION;
    out->schema_version = -1;
    out->expected_schema_version = req->worker->server->expected_schema_version;
    out->peer_identity = (char *)req->subject;
    out->worker = req->worker->index;
    req->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT_SERVER_INFO;
    req->resp.server_info = out;
    /* An unreachable database is an answer here, not an error. */
    db_submit(req->worker->db, req->sink.arg, STMT_SCHEMA_VERSION, 0, NULL, schema_version_done, req);
}
