#include "handlers.h"
#include "watch.h"

/* Ends a stream of the same connection; found says whether there was one. */
void handle_cancel(request_t *req)
{
    bool found = watch_cancel(req, req->msg->cancel->target_id);
    Branchline__V1__CancelResult *out = request_alloc(req, sizeof *out);
    if (!out) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "out of memory"));
        return;
    }
    branchline__v1__cancel_result__init(out);
    out->found = found;
    req->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT_CANCEL;
    req->resp.cancel = out;
    request_finish(req);
}
