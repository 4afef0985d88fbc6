#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "dispatch.h"
#include "metrics_core.h"
#include "request.h"
#include "tenant_cache.h"

struct session {
    worker_t *worker;
    const session_io_t *io;
    void *t;
    uint64_t id;
    char *subject;
    long long tenant;                  /* -1 until known */
    request_sink_t sink;
    LIST_HEAD(, request) requests;     /* in flight, for detaching on close */
};

static void session_reply(void *arg, const uint8_t *packed, size_t len)
{
    session_t *s = arg;
    if (packed)
        s->io->write(s->t, packed, len);
    else
        s->io->shutdown(s->t, "out_of_memory");
}

static void session_done(void *arg, request_t *r)
{
    session_t *s = arg;
    LIST_REMOVE(r, link);
    s->io->release(s->t);
}

/* A request of this session, in its list and counted by the transport. */
static request_t *session_request(session_t *s, Branchline__V1__Request *msg)
{
    request_t *r = request_new(s->worker, &s->sink, s->subject, s->tenant, msg);
    if (!r) {
        s->io->shutdown(s->t, "out_of_memory");
        return NULL;
    }
    r->origin_id = s->id;
    LIST_INSERT_HEAD(&s->requests, r, link);
    s->io->hold(s->t);
    return r;
}

/* Answers a request that never got as far as an id (bad frame): id 0. */
static void envelope_error(session_t *s, status_code_t code, const char *field, const char *msg)
{
    request_t *r = session_request(s, NULL);
    if (!r)
        return;
    r->op_name = "envelope";
    request_finish(request_error(r, code, field, "%s", msg));
}

static void tenant_known(void *arg, const db_result_t *res)
{
    request_t *r = arg;
    if (!request_detached(r)) {
        session_t *s = r->sink.arg;
        /* No principal (UNAUTHENTICATED) and operators share tenant 0's bucket. */
        bool found = res->code == BRANCHLINE__V1__STATUS__CODE__OK && PQntuples(res->result) == 1;
        s->tenant = found ? atoll(PQgetvalue(res->result, 0, 0)) : 0;
        if (s->tenant > 0 && s->worker->tenants)
            tenant_cache_put(s->worker->tenants, s->subject, s->tenant, now_ms());
    }
    request_finish(r);
}

/* Which tenant the subject belongs to, asked once per session unless its
 * worker remembers it (tenant_cache.h). */
static void lookup_tenant(session_t *s)
{
    if (s->worker->tenants && tenant_cache_get(s->worker->tenants, s->subject, now_ms(), &s->tenant))
        return;
    request_t *r = session_request(s, NULL);
    if (!r)
        return;
    r->silent = true;
    r->op_name = "conn_tenant";
    const char *values[] = {s->subject};
    db_submit(s->worker->db, s, STMT_CONN_TENANT, 1, values, tenant_known, r);
}

session_t *session_new(worker_t *w, const session_io_t *io, void *t, uint64_t id,
                       const char *subject)
{
    session_t *s = calloc(1, sizeof *s);
    if (!s || !(s->subject = strdup(subject))) {
        free(s);
        return NULL;
    }
    s->worker = w;
    s->io = io;
    s->t = t;
    s->id = id;
    s->tenant = -1;
    s->sink = (request_sink_t){session_reply, session_done, s};
    LIST_INIT(&s->requests);
    lookup_tenant(s);
    return s;
}

static bool id_in_flight(const session_t *s, const request_t *req)
{
    const request_t *r;
    LIST_FOREACH(r, &s->requests, link)
        if (r != req && r->id == req->id)
            return true;
    return false;
}

void session_frame(session_t *s, const uint8_t *payload, size_t len)
{
    Branchline__V1__Request *msg = branchline__v1__request__unpack(NULL, len, payload);
    if (!msg) {
        metrics_frame_refused("undecodable");
        envelope_error(s, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "frame",
                       "frame does not decode as a branchline.v1.Request");
        return;
    }
    request_t *r = session_request(s, msg);
    if (!r) {
        branchline__v1__request__free_unpacked(msg, NULL);
        return;
    }
    if (r->id == 0) {
        request_finish(request_error(r, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "id",
                                     "request id must be non-zero"));
        return;
    }
    if (id_in_flight(s, r)) {
        request_finish(request_error(r, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "id",
                                     "request id %llu is already in flight on this connection",
                                     (unsigned long long)r->id));
        return;
    }
    dispatch_request(r, payload, len);
}

void session_bad_frame(session_t *s, frame_status_t st, uint32_t len, uint32_t max)
{
    char msg[128];
    if (st == FRAME_TOO_LARGE) {
        snprintf(msg, sizeof msg, "frame of %u bytes exceeds the limit of %u", len, max);
        envelope_error(s, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "length", msg);
    } else {
        envelope_error(s, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "length",
                       "frame length must be positive");
    }
}

void session_close(session_t *s)
{
    request_t *r;
    while ((r = LIST_FIRST(&s->requests))) {
        LIST_REMOVE(r, link);
        request_detach(r);
    }
    free(s->subject);
    free(s);
}
