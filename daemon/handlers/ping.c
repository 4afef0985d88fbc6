#include <event2/event.h>
#include <string.h>

#include "clock.h"
#include "handlers.h"

#define PING_PAYLOAD_MAX 1024
#define PING_DELAY_MAX_MS 10000

static void ping_answer(request_t *req)
{
    const Branchline__V1__PingRequest *in = req->msg->ping;
    Branchline__V1__PingResult *out = request_alloc(req, sizeof *out);
    if (!out) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "out of memory"));
        return;
    }
    branchline__v1__ping_result__init(out);
    /* The payload stays owned by the decoded request, which outlives the reply. */
    out->payload = in->payload;
    out->server_time_unix_ms = wall_ms();
    req->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT_PING;
    req->resp.ping = out;
    request_finish(req);
}

static void ping_delayed(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    request_t *req = arg;
    /* The timer has fired once and is done: free it before answering. */
    event_del(req->timer);
    event_free(req->timer);
    req->timer = NULL;
    ping_answer(req);
}

void handle_ping(request_t *req)
{
    const Branchline__V1__PingRequest *in = req->msg->ping;
    if (in->payload.len > PING_PAYLOAD_MAX) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT,
                                     "ping.payload", "payload is %zu bytes, at most %d allowed",
                                     in->payload.len, PING_PAYLOAD_MAX));
        return;
    }
    if (in->delay_ms > PING_DELAY_MAX_MS) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT,
                                     "ping.delay_ms", "delay_ms is %u, at most %d allowed",
                                     in->delay_ms, PING_DELAY_MAX_MS));
        return;
    }
    if (in->delay_ms == 0) {
        ping_answer(req);
        return;
    }
    req->timer = evtimer_new(req->worker->base, ping_delayed, req);
    struct timeval tv = {in->delay_ms / 1000, (in->delay_ms % 1000) * 1000};
    if (!req->timer || evtimer_add(req->timer, &tv) != 0) {
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "cannot schedule the delayed answer"));
        return;
    }
}
