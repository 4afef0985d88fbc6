#include "watch.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"

typedef struct watch {
    request_t *req;
    long long tenant_id;
    char *scope;                  /* branch or subtree path; "" = whole tenant */
    struct watch *prev, *next;    /* worker->watches */
} watch_t;

void watch_start(request_t *req, long long tenant_id, const char *scope_path)
{
    watch_t *w = calloc(1, sizeof *w);
    if (!w || !(w->scope = strdup(scope_path ? scope_path : ""))) {
        free(w);
        request_finish(request_error(req, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "",
                                     "out of memory"));
        return;
    }
    w->req = req;
    w->tenant_id = tenant_id;
    worker_t *wk = req->worker;
    w->next = wk->watches;
    if (wk->watches)
        ((watch_t *)wk->watches)->prev = w;
    wk->watches = w;
    req->stream = w;
    log_info("watch_start", "worker=%u conn=%llu request=%llu tenant=%lld scope=%s", wk->index,
             req->conn ? (unsigned long long)req->conn->id : 0ULL, (unsigned long long)req->id,
             tenant_id, w->scope[0] ? w->scope : "/");
    /* The first response says the stream is open. */
    request_send_partial(req);
}

static void watch_unlink(request_t *req)
{
    watch_t *w = req->stream;
    worker_t *wk = req->worker;
    if (w->prev)
        w->prev->next = w->next;
    else
        wk->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    req->stream = NULL;
    free(w->scope);
    free(w);
}

void watch_end(request_t *req, status_code_t code, const char *message)
{
    if (!req->stream)
        return;
    watch_unlink(req);
    if (code != BRANCHLINE__V1__STATUS__CODE__OK)
        request_error(req, code, "", "%s", message);
    request_finish(req);
}

bool watch_cancel(request_t *cancel_req, uint64_t target_id)
{
    conn_t *c = cancel_req->conn;
    for (request_t *r = c ? c->requests : NULL; r; r = r->next) {
        if (r->id == target_id && r->stream) {
            watch_end(r, BRANCHLINE__V1__STATUS__CODE__CANCELLED, "cancelled by the client");
            return true;
        }
    }
    return false;
}

void watch_end_all(worker_t *wk, const char *message)
{
    while (wk->watches)
        watch_end(((watch_t *)wk->watches)->req, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, message);
}

static bool in_scope(const char *scope, const char *branch_path)
{
    size_t n = strlen(scope);
    return n == 0 || (strncmp(scope, branch_path, n) == 0 &&
                      (branch_path[n] == '\0' || branch_path[n] == '/'));
}

/* Payload: tenant_id \t lead_id \t status \t project \t branch_path */
void watch_notify(worker_t *wk, const char *payload)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", payload);
    char *save = NULL;
    char *tenant = strtok_r(buf, "\t", &save);
    char *lead = strtok_r(NULL, "\t", &save);
    char *status = strtok_r(NULL, "\t", &save);
    char *project = strtok_r(NULL, "\t", &save);
    char *branch = strtok_r(NULL, "\t", &save);
    if (!tenant || !lead || !status || !project || !branch)
        return;
    long long tenant_id = atoll(tenant);
    /* Built on the stack: request_send_partial packs it at once, so a
     * long-lived stream allocates nothing per event. */
    Branchline__V1__Lead event = BRANCHLINE__V1__LEAD__INIT;
    event.id = atoll(lead);
    event.status = status;
    event.project = project;
    event.branch_path = branch;
    for (watch_t *w = wk->watches; w; w = w->next) {
        if (w->tenant_id != tenant_id || !in_scope(w->scope, branch))
            continue;
        w->req->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT_LEAD_WATCH;
        w->req->resp.lead_watch = &event;
        request_send_partial(w->req);
    }
}
