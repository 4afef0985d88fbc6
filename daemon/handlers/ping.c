#include "handlers.h"

#include <string.h>

#define PING_PAYLOAD_MAX 1024

void handle_ping(request_t *req)
{
    const Branchline__V1__PingRequest *in = req->msg->ping;
    if (in->payload.len > PING_PAYLOAD_MAX) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT,
                                     "ping.payload", "payload is %zu bytes, at most %d allowed",
                                     in->payload.len, PING_PAYLOAD_MAX));
        return;
    }
    Branchline__V1__PingResult *out = request_alloc(req, sizeof *out);
    if (!out) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "out of memory"));
        return;
    }
    branchline__v1__ping_result__init(out);
    /* The payload stays owned by the decoded request, which outlives the reply. */
    out->payload = in->payload;
    out->server_time_unix_ms = now_ms();
    req->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT_PING;
    req->resp.ping = out;
    request_finish(req);
}

void handle_cancel(request_t *req)
{
    /* No server streams exist yet, so there is nothing to cancel. */
    Branchline__V1__CancelResult *out = request_alloc(req, sizeof *out);
    if (!out) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "out of memory"));
        return;
    }
    branchline__v1__cancel_result__init(out);
    out->found = 0;
    req->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT_CANCEL;
    req->resp.cancel = out;
    request_finish(req);
}
