#include "request.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics_core.h"

struct arena_block {
    arena_block_t *next;
    size_t used, cap;
    max_align_t data[];
};

#define ARENA_BLOCK_MIN 1024

request_t *request_new(worker_t *w, const request_sink_t *sink, const char *subject,
                       long long tenant, Branchline__V1__Request *msg)
{
    request_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->worker = w;
    if (sink)
        r->sink = *sink;
    r->op_name = "unknown";
    r->stmt = -1;
    r->tenant = tenant;
    if (!(r->subject = request_strdup(r, subject ? subject : ""))) {
        free(r);
        return NULL;
    }
    r->msg = msg;
    r->id = msg ? msg->id : 0;
    r->started_us = clock_mono_us();
    branchline__v1__response__init(&r->resp);
    branchline__v1__status__init(&r->status);
    r->resp.id = r->id;
    r->resp.status = &r->status;
    w->inflight++;
    return r;
}

void *request_alloc(request_t *r, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    arena_block_t *b = r->arena;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK_MIN ? size : ARENA_BLOCK_MIN;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = r->arena;
        r->arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *request_strdup(request_t *r, const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = request_alloc(r, n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

request_t *request_error(request_t *r, status_code_t code, const char *field, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->status.code = code;
    r->status.message = request_strdup(r, buf);
    r->status.field = request_strdup(r, field ? field : "");
    if (!r->status.message || !r->status.field) {
        r->status.message = (char *)"out of memory";
        r->status.field = (char *)"";
    }
    /* An error carries no result. */
    r->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT__NOT_SET;
    return r;
}

/* A cached Response was packed with id 0, which proto3 leaves out; putting
 * field 1 in front gives the same message with this request's id. */
static void request_send_packed(request_t *r)
{
    uint8_t stackbuf[4096];
    size_t len = 11 + r->packed_len;
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf) {
        r->sink.reply(r->sink.arg, NULL, 0);
        return;
    }
    size_t n = 0;
    buf[n++] = 0x08; /* field 1, varint */
    for (uint64_t v = r->id; ; v >>= 7) {
        buf[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    memcpy(buf + n, r->packed, r->packed_len);
    r->sink.reply(r->sink.arg, buf, n + r->packed_len);
    if (buf != stackbuf)
        free(buf);
}

static void request_send(request_t *r)
{
    if (r->packed) {
        request_send_packed(r);
        return;
    }
    size_t len = branchline__v1__response__get_packed_size(&r->resp);
    uint8_t stackbuf[512];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf) {
        r->sink.reply(r->sink.arg, NULL, 0);
        return;
    }
    branchline__v1__response__pack(&r->resp, buf);
    r->sink.reply(r->sink.arg, buf, len);
    if (buf != stackbuf)
        free(buf);
}

bool request_detached(const request_t *r)
{
    return !r->sink.reply;
}

bool request_same_origin(const request_t *a, const request_t *b)
{
    return !request_detached(a) && a->sink.reply == b->sink.reply && a->sink.arg == b->sink.arg;
}

void request_send_partial(request_t *r)
{
    if (!request_detached(r)) {
        r->resp.more = 1;
        request_send(r);
        r->resp.more = 0;
    }
    r->resp.result_case = BRANCHLINE__V1__RESPONSE__RESULT__NOT_SET;
}

void request_finish_packed(request_t *r, const uint8_t *packed, size_t len)
{
    r->packed = packed;
    r->packed_len = len;
    request_finish(r);
}

void request_detach(request_t *r)
{
    memset(&r->sink, 0, sizeof r->sink);
    if (r->on_detach)
        r->on_detach(r);
}

void request_finish(request_t *r)
{
    /* conn=0 in the log: nobody was waiting for the answer any more. */
    uint64_t elapsed = (clock_mono_us() - r->started_us) / 1000u;
    char msg[600];
    char principal[300];
    if (!r->silent)
        log_emit(r->status.code == 0 ? LOG_DEBUG : LOG_WARN, "request",
             "worker=%u conn=%llu request=%llu op=%s status=%s ms=%llu tenant=%lld principal=%s%s%s%s%s%s",
             r->worker->index, request_detached(r) ? 0ULL : (unsigned long long)r->origin_id,
             (unsigned long long)r->id, r->op_name, status_code_name(r->status.code),
             (unsigned long long)elapsed, r->tenant, log_quote(principal, sizeof principal, r->subject),
             r->status.code ? " field=" : "", r->status.code ? r->status.field : "",
             r->status.code ? " message=" : "",
             r->status.code ? log_quote(msg, sizeof msg, r->status.message) : "",
             r->packed ? " cache=hit" : "");
    if (!r->silent)
        metrics_request_done(r->op_name, (int)r->status.code, &r->resp,
                             (double)(clock_mono_us() - r->started_us) / 1e6);
    if (!request_detached(r)) {
        if (!r->silent)
            request_send(r);
        r->sink.done(r->sink.arg, r);
    }
    if (r->timer)
        event_free(r->timer);
    r->worker->inflight--;
    branchline__v1__request__free_unpacked(r->msg, NULL);
    while (r->arena) {
        arena_block_t *next = r->arena->next;
        free(r->arena);
        r->arena = next;
    }
    free(r);
}
