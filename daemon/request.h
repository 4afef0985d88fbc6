/*
 * A request owns its decoded message, the response being built and every
 * allocation made for it (an arena), until request_finish() answers and
 * frees it in one place. It carries its own copy of the caller's identity
 * (certificate subject, tenant), so nothing below it needs to know where it
 * came from.
 *
 * Its answers go to the sink its creator gave (the session of a TLS
 * connection, or any other front end): the packed Response, then `done`.
 * If the creator goes away first it detaches the request (sink gone): the
 * request runs to completion and its answer is dropped; whoever keeps state
 * for it (a stream) hears of it through on_detach.
 */
#ifndef BRANCHD_REQUEST_H
#define BRANCHD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "branchline.pb-c.h"
#include "db_statements.h"
#include "status.h"
#include "worker.h"

typedef struct request request_t;
typedef struct arena_block arena_block_t;

typedef struct request_sink {
    /* One packed Response (a stream's partial answers have more = true).
     * NULL, 0: the answer could not be built (out of memory), and the
     * client must not be left waiting for it. */
    void (*reply)(void *arg, const uint8_t *packed, size_t len);
    /* The request is answered (or silent) and about to be freed. */
    void (*done)(void *arg, request_t *r);
    void *arg;
} request_sink_t;

struct request {
    worker_t *worker;
    request_sink_t sink;               /* reply == NULL once detached */
    uint64_t id;
    uint64_t origin_id;                /* the creator's label for logs (connection id) */
    const char *subject;               /* the caller's certificate subject (own copy) */
    long long tenant;                  /* the subject's tenant for rate limits; -1 unknown */
    uint64_t started_us;               /* CLOCK_MONOTONIC: the log's ms, the duration metric */
    const char *op_name;
    stmt_id_t stmt;                    /* an SQL operation's statement (set by dispatch) */
    bool cacheable;                    /* an organization read the worker may cache */
    bool read_pool;                    /* may run on the worker's read pool (dispatch) */
    Branchline__V1__Request *msg;      /* owned; may be NULL for envelope errors */
    Branchline__V1__Response resp;
    Branchline__V1__Status status;
    arena_block_t *arena;
    struct event *timer;               /* a handler's own timer, freed with the request */
    void *stream;                      /* a server stream's state (watch.c), or NULL */
    void (*on_detach)(request_t *r);   /* set by who keeps state for it (watch.c) */
    uint8_t *cache_key;                /* set on a cache miss: where to store the answer */
    size_t cache_key_len;
    uint64_t cache_generation;
    bool silent;                       /* the daemon's own request: no answer, no log */
    const uint8_t *packed;             /* a ready answer (cache hit), sent as is */
    size_t packed_len;
    LIST_ENTRY(request) link;          /* the creator's list (a session's requests) */
};

/*
 * A request of subject (copied) in tenant (-1: not known), answered through
 * sink (copied; NULL: answered nowhere, like a detached one); takes msg.
 * NULL when memory runs out (msg is then still the caller's).
 */
request_t *request_new(worker_t *w, const request_sink_t *sink, const char *subject,
                       long long tenant, Branchline__V1__Request *msg);

/* Memory that lives as long as the request; NULL when memory runs out. */
void *request_alloc(request_t *r, size_t size);
char *request_strdup(request_t *r, const char *s);

/* Sets the error status; message is printf-style. Returns the request. */
request_t *request_error(request_t *r, status_code_t code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Whether nobody waits for the answer any more (or ever did). */
bool request_detached(const request_t *r);

/* Whether a and b came through the same live sink (one connection). */
bool request_same_origin(const request_t *a, const request_t *b);

/* Server streams: sends the response built so far with more = true and
 * clears its result for the next one; the request stays in flight. */
void request_send_partial(request_t *r);

/* Answers with a Response packed earlier with id 0 (a cache hit). */
void request_finish_packed(request_t *r, const uint8_t *packed, size_t len);

/* Answers (unless detached), logs, frees. */
void request_finish(request_t *r);

/* Its creator is going away: the request will finish unanswered. */
void request_detach(request_t *r);

#endif
