#include "watch.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pbjson.h"

typedef struct watch {
    request_t *req;
    long long tenant_id;
    char *scope;                  /* branch or subtree path; "" = whole tenant */
    LIST_ENTRY(watch) link;       /* worker->watches */
} watch_t;

/* A stream has nobody left to talk to: end it now. */
static void watch_detached(request_t *req)
{
    watch_end(req, BRANCHLINE__V1__STATUS__CODE__CANCELLED, "client went away");
}

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
    LIST_INSERT_HEAD(&wk->watches, w, link);
    req->stream = w;
    req->on_detach = watch_detached;
    log_info("watch_start", "worker=%u conn=%llu request=%llu tenant=%lld scope=%s", wk->index,
             (unsigned long long)req->origin_id, (unsigned long long)req->id,
             tenant_id, w->scope[0] ? w->scope : "/");
    /* The first response says the stream is open. */
    request_send_partial(req);
}

static void watch_unlink(request_t *req)
{
    watch_t *w = req->stream;
    LIST_REMOVE(w, link);
    req->stream = NULL;
    req->on_detach = NULL;
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
    watch_t *w;
    LIST_FOREACH(w, &cancel_req->worker->watches, link) {
        if (w->req->id == target_id && request_same_origin(w->req, cancel_req)) {
            watch_end(w->req, BRANCHLINE__V1__STATUS__CODE__CANCELLED, "cancelled by the client");
            return true;
        }
    }
    return false;
}

void watch_end_all(worker_t *wk, const char *message)
{
    while (!LIST_EMPTY(&wk->watches))
        watch_end(LIST_FIRST(&wk->watches)->req, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, message);
}

static bool in_scope(const char *scope, const char *branch_path)
{
    size_t n = strlen(scope);
    return n == 0 || (strncmp(scope, branch_path, n) == 0 &&
                      (branch_path[n] == '\0' || branch_path[n] == '/'));
}

/*
 * Payload (013: notify_lead): tenant_id \t branch_path \t the lead as JSON,
 * as lead show has it. Every watcher it goes to covers the lead's branch,
 * so may see its contact fields.
 */
void watch_notify(worker_t *wk, const char *payload)
{
    const char *tab1 = strchr(payload, '\t');
    const char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
    char branch[512];
    if (!tab2 || (size_t)(tab2 - tab1 - 1) >= sizeof branch)
        return;
    long long tenant_id = atoll(payload);
    memcpy(branch, tab1 + 1, (size_t)(tab2 - tab1 - 1));
    branch[tab2 - tab1 - 1] = '\0';
    /* Most allocations have no watcher here: parse only for one. */
    watch_t *w;
    LIST_FOREACH(w, &wk->watches, link) {
        if (w->tenant_id == tenant_id && in_scope(w->scope, branch))
            break;
    }
    if (!w)
        return;
    json_t *lead = json_loads(tab2 + 1, 0, NULL);
    if (!json_is_object(lead)) {
        json_decref(lead);
        return;
    }
    /* On the stack, its strings in lead: request_send_partial packs it at
     * once. */
    Branchline__V1__Lead event = BRANCHLINE__V1__LEAD__INIT;
    pbjson_fill_scalars(&event.base, lead);
    LIST_FOREACH(w, &wk->watches, link) {
        if (w->tenant_id != tenant_id || !in_scope(w->scope, branch))
            continue;
        w->req->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT_LEAD_WATCH;
        w->req->resp.lead_watch = &event;
        request_send_partial(w->req);
    }
    json_decref(lead);
}
