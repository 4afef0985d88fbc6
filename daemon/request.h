/*
 * A request owns its decoded message, the response being built and every
 * allocation made for it (an arena), until request_finish() answers and
 * frees it in one place. If its connection closes first, the request is
 * detached (conn == NULL): it runs to completion and its answer is dropped.
 */
#ifndef BRANCHD_REQUEST_H
#define BRANCHD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "server.h"

typedef struct conn conn_t;
typedef struct arena_block arena_block_t;
typedef struct dispatch_entry dispatch_entry_t;

typedef struct request {
    worker_t *worker;
    conn_t *conn;                      /* NULL once detached */
    uint64_t id;
    uint64_t started_ms;
    uint64_t started_us;               /* CLOCK_MONOTONIC, for the duration metric */
    const char *op_name;
    const dispatch_entry_t *entry;     /* set by dispatch */
    Branchline__V1__Request *msg;      /* owned; may be NULL for envelope errors */
    Branchline__V1__Response resp;
    Branchline__V1__Status status;
    arena_block_t *arena;
    struct event *timer;               /* a handler's own timer, freed with the request */
    void *stream;                      /* a server stream's state (watch.c), or NULL */
    uint8_t *cache_key;                /* set on a cache miss: where to store the answer */
    size_t cache_key_len;
    uint64_t cache_generation;
    bool silent;                       /* the daemon's own request: no answer, no log */
    const uint8_t *packed;             /* a ready answer (cache hit), sent as is */
    size_t packed_len;
    struct request *prev, *next;       /* conn->requests */
} request_t;

request_t *request_new(worker_t *w, conn_t *c, Branchline__V1__Request *msg);

/* Memory that lives as long as the request; NULL when memory runs out. */
void *request_alloc(request_t *r, size_t size);
char *request_strdup(request_t *r, const char *s);

/* Sets the error status; message is printf-style. Returns the request. */
request_t *request_error(request_t *r, status_code_t code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Server streams: sends the response built so far with more = true and
 * clears its result for the next one; the request stays in flight. */
void request_send_partial(request_t *r);

/* Answers with a Response packed earlier with id 0 (a cache hit). */
void request_finish_packed(request_t *r, const uint8_t *packed, size_t len);

/* Answers (unless detached), logs, frees. */
void request_finish(request_t *r);

/* The connection is going away: the request will finish unanswered. */
void request_detach(request_t *r);

#endif
