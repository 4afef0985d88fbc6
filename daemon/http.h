/*
 * The HTTP listener for operators and web clients (libevent's evhttp):
 * /metrics, /livez, /readyz and whatever other modules register, such as
 * the web intake. Off unless http_port is set; loopback by default.
 *
 * Every worker runs its own evhttp on its own event loop, on its own
 * SO_REUSEPORT socket of the same port (as the TLS listener does), so a
 * handler runs on a worker thread and may use that worker's database pool
 * (http_req_worker(req)->db) without any hand-off. Routes, limits, TLS and
 * the request log live here, in one place.
 */
#ifndef BRANCHD_HTTP_H
#define BRANCHD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "worker.h"

typedef struct http_req http_req_t;

/* Runs on the worker that accepted the connection. It must end, now or
 * later from a callback on the same worker, in exactly one http_reply. */
typedef void (*http_handler_fn)(http_req_t *req, void *arg);

/*
 * Registers a route, before server_new(). `method` is "GET", "POST", ...;
 * `pattern` is an absolute path whose segments are literal or `{name}`,
 * which matches one non-empty segment (read it with http_req_param):
 * "/v1/intake/{token}". The pattern, not the path, is what the request log
 * shows, so a secret in a segment is never logged. 0, or -1 when the table
 * is full or the pattern is malformed.
 */
int http_route_add(const char *method, const char *pattern, http_handler_fn fn, void *arg)
    __attribute__((warn_unused_result));

/* The same for the public listener (intake_address:intake_port, always
 * HTTPS, no client certificate): the only routes a client on the internet
 * reaches. The operators' listener never serves them, nor they its routes. */
int http_public_route_add(const char *method, const char *pattern, http_handler_fn fn, void *arg)
    __attribute__((warn_unused_result));
/* The public listener's port once the workers are listening; -1 when off. */
int http_public_port(void);

/* The worker whose loop runs this request (its db pool, its cache). */
worker_t *http_req_worker(const http_req_t *req);
/* A `{name}` segment of the route, percent-decoded; NULL if there is none. */
const char *http_req_param(const http_req_t *req, const char *name);
/* A request header, or NULL. */
const char *http_req_header(const http_req_t *req, const char *name);
/* The request body (at most http_max_body_bytes; longer ones get 413
 * before any handler runs). Not NUL-terminated; NULL when empty. */
const uint8_t *http_req_body(const http_req_t *req, size_t *len);
/* "ip:port" of the client. */
const char *http_req_peer(const http_req_t *req);

/* Adds a header to the answer (Location, Retry-After, ...), before http_reply. */
void http_req_add_header(http_req_t *req, const char *name, const char *value);

/* Answers with `code` and the body, logs one line, frees the request. */
void http_reply(http_req_t *req, int code, const char *content_type, const void *body, size_t len);
/* The same with a text/plain body made printf-style. */
void http_reply_text(http_req_t *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The distinct route patterns registered so far (a metrics label); count. */
size_t http_route_patterns(const char **out, size_t max);

/* The worker's listener (when http_port is set); called by server.c. */
int http_worker_init(worker_t *w, char *err, size_t errlen) __attribute__((warn_unused_result));
void http_worker_free(worker_t *w);
/* Applies the limits of the current configuration (reload), on the worker. */
void http_worker_configure(worker_t *w);

/* Makes the TLS context of http_tls from the configuration (start and
 * SIGHUP); new connections use it. 0, or -1 with err. */
int http_tls_load(const config_t *cfg, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Drops the TLS context and the route table (at exit). */
void http_shutdown(void);

#endif
