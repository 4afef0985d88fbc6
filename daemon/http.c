#include "http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "metrics_core.h"
#include "tls.h"

#define HTTP_ROUTES_MAX 32
#define HTTP_PARAMS_MAX 8
#define HTTP_SEGMENTS_MAX 16
#define HTTP_HEADERS_MAX 16384
#define HTTP_BACKLOG 256

typedef struct {
    enum evhttp_cmd_type method;
    const char *method_name;
    char *pattern;
    http_handler_fn fn;
    void *arg;
    bool public;            /* served by the public listener only */
} http_route_t;

/* Written before the workers start, read-only afterwards. */
static http_route_t routes[HTTP_ROUTES_MAX];
static size_t route_count;

static SSL_CTX *tls_ctx;
static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;

static atomic_int public_port = -1;

/* One listening evhttp of a worker: the operators' (http_port) or the
 * public one (intake_port, always HTTPS), each serving its own routes. */
typedef struct {
    struct evhttp *http;
    worker_t *worker;
    bool public;
    unsigned inflight;      /* requests handed to a handler, not yet answered */
} http_listener_t;

struct http_server {
    http_listener_t ops;
    http_listener_t pub;
};

struct http_req {
    struct evhttp_request *ev;
    worker_t *worker;
    http_listener_t *listener;
    const char *route;      /* the pattern, for the log */
    const char *method;
    bool counted;           /* holds one of the worker's in-flight places */
    uint64_t started_us;
    size_t nparams;
    struct {
        const char *name;   /* into the route's pattern, after '{' */
        size_t namelen;
        char *value;
    } params[HTTP_PARAMS_MAX];
    char peer[64];
};

static const struct {
    enum evhttp_cmd_type type;
    const char *name;
} methods[] = {
    {EVHTTP_REQ_GET, "GET"},   {EVHTTP_REQ_POST, "POST"},     {EVHTTP_REQ_HEAD, "HEAD"},
    {EVHTTP_REQ_PUT, "PUT"},   {EVHTTP_REQ_DELETE, "DELETE"}, {EVHTTP_REQ_OPTIONS, "OPTIONS"},
    {EVHTTP_REQ_PATCH, "PATCH"},
};
#define METHOD_COUNT (sizeof methods / sizeof methods[0])

static const char *method_name(enum evhttp_cmd_type type)
{
    for (size_t i = 0; i < METHOD_COUNT; i++)
        if (methods[i].type == type)
            return methods[i].name;
    return "OTHER";
}

static int route_add(const char *method, const char *pattern, http_handler_fn fn, void *arg, bool public)
{
    size_t m = 0;
    while (m < METHOD_COUNT && strcmp(methods[m].name, method) != 0)
        m++;
    if (m == METHOD_COUNT || route_count == HTTP_ROUTES_MAX || pattern[0] != '/' || !fn)
        return -1;
    char *copy = strdup(pattern);
    if (!copy)
        return -1;
    routes[route_count++] = (http_route_t){methods[m].type, methods[m].name, copy, fn, arg, public};
    return 0;
}

int http_route_add(const char *method, const char *pattern, http_handler_fn fn, void *arg)
{
    return route_add(method, pattern, fn, arg, false);
}

int http_public_route_add(const char *method, const char *pattern, http_handler_fn fn, void *arg)
{
    return route_add(method, pattern, fn, arg, true);
}

int http_public_port(void)
{
    return atomic_load(&public_port);
}

void http_req_add_header(http_req_t *req, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

/* Splits "/a/b/c" into its segments, in place. Returns the count, or -1
 * when there are too many. */
static int split_path(char *path, char **seg, int max)
{
    int n = 0;
    for (char *p = path; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        if (n == max)
            return -1;
        seg[n++] = p;
        p += strcspn(p, "/");
        if (*p)
            *p++ = '\0';
    }
    return n;
}

/* Whether `path` matches the route; fills req's params when it does. */
static bool route_match(const http_route_t *r, const char *path, http_req_t *req)
{
    char pbuf[512], rbuf[512];
    char *pseg[HTTP_SEGMENTS_MAX], *rseg[HTTP_SEGMENTS_MAX];
    if (strlen(path) >= sizeof pbuf || strlen(r->pattern) >= sizeof rbuf)
        return false;
    strcpy(pbuf, path);
    strcpy(rbuf, r->pattern);
    int np = split_path(pbuf, pseg, HTTP_SEGMENTS_MAX);
    int nr = split_path(rbuf, rseg, HTTP_SEGMENTS_MAX);
    if (np < 0 || np != nr)
        return false;
    size_t nparams = 0;
    for (int i = 0; i < nr; i++) {
        size_t len = strlen(rseg[i]);
        if (len >= 2 && rseg[i][0] == '{' && rseg[i][len - 1] == '}') {
            if (nparams == HTTP_PARAMS_MAX)
                return false;
            nparams++;
        } else if (strcmp(rseg[i], pseg[i]) != 0) {
            return false;
        }
    }
    if (!req)
        return true;
    /* Matched: keep the decoded values, named by the pattern. */
    for (int i = 0; i < nr; i++) {
        size_t len = strlen(rseg[i]);
        if (!(len >= 2 && rseg[i][0] == '{'))
            continue;
        size_t k = req->nparams++;
        req->params[k].name = r->pattern + (rseg[i] - rbuf) + 1;
        req->params[k].namelen = len - 2;
        req->params[k].value = evhttp_uridecode(pseg[i], 0, NULL);
    }
    return true;
}

static void http_req_free(http_req_t *req)
{
    for (size_t i = 0; i < req->nparams; i++)
        free(req->params[i].value);
    free(req);
}

worker_t *http_req_worker(const http_req_t *req)
{
    return req->worker;
}

const char *http_req_param(const http_req_t *req, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < req->nparams; i++)
        if (req->params[i].namelen == len && strncmp(req->params[i].name, name, len) == 0)
            return req->params[i].value;
    return NULL;
}

const char *http_req_header(const http_req_t *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

const uint8_t *http_req_body(const http_req_t *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
    *len = evbuffer_get_length(in);
    return *len ? evbuffer_pullup(in, -1) : NULL;
}

const char *http_req_peer(const http_req_t *req)
{
    return req->peer;
}

void http_reply(http_req_t *req, int code, const char *content_type, const void *body, size_t len)
{
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req->ev);
    evhttp_add_header(headers, "Content-Type", content_type);
    evhttp_add_header(headers, "Cache-Control", "no-store");
    struct evbuffer *out = evbuffer_new();
    if (out && len)
        evbuffer_add(out, body, len);
    /* If the client went away meanwhile, evhttp only frees the request. */
    evhttp_send_reply(req->ev, code, NULL, out);
    evbuffer_free(out);
    uint64_t us = clock_mono_us() - req->started_us;
    log_emit(code >= 500 ? LOG_WARN : LOG_DEBUG, "http_request",
             "worker=%u peer=%s method=%s route=%s status=%d duration_ms=%.3f", req->worker->index,
             req->peer, req->method, req->route, code, (double)us / 1000.0);
    metrics_http_request(req->route, code);
    if (req->counted)
        req->listener->inflight--;
    http_req_free(req);
}

void http_reply_text(http_req_t *req, int code, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof body)
        n = (int)sizeof body - 1;
    http_reply(req, code, "text/plain; charset=utf-8", body, (size_t)n);
}

static void peer_text(struct evhttp_request *ev, char *out, size_t outlen)
{
    char *host = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    if (conn)
        evhttp_connection_get_peer(conn, &host, &port);
    snprintf(out, outlen, "%s:%u", host ? host : "-", (unsigned)port);
}

/* Every request comes here: find the route, check the limits, hand over. */
static void http_dispatch(struct evhttp_request *ev, void *arg)
{
    http_listener_t *l = arg;
    worker_t *w = l->worker;
    http_req_t *req = calloc(1, sizeof *req);
    if (!req) {
        evhttp_send_error(ev, HTTP_SERVUNAVAIL, NULL);
        return;
    }
    req->ev = ev;
    req->worker = w;
    req->listener = l;
    req->started_us = clock_mono_us();
    req->method = method_name(evhttp_request_get_command(ev));
    req->route = "unmatched";
    peer_text(ev, req->peer, sizeof req->peer);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(ev));
    if (!path || !path[0])
        path = "/";
    const http_route_t *found = NULL;
    bool other_method = false;
    for (size_t i = 0; i < route_count && !found; i++) {
        if (routes[i].public != l->public || !route_match(&routes[i], path, NULL))
            continue;
        bool same = routes[i].method == evhttp_request_get_command(ev) ||
                    (routes[i].method == EVHTTP_REQ_GET &&
                     evhttp_request_get_command(ev) == EVHTTP_REQ_HEAD);
        if (same)
            found = &routes[i];
        else
            other_method = true;
    }
    if (!found) {
        if (other_method)
            http_reply_text(req, 405, "method %s is not allowed here\n", req->method);
        else
            http_reply_text(req, HTTP_NOTFOUND, "no such path\n");
        return;
    }
    const config_t *cfg = w->server->cfg;
    if (l->inflight >= (unsigned)cfg->http_max_inflight) {
        req->route = found->pattern;
        http_reply_text(req, HTTP_SERVUNAVAIL, "too many requests in flight, retry later\n");
        return;
    }
    (void)route_match(found, path, req);
    req->route = found->pattern;
    req->counted = true;
    l->inflight++;
    found->fn(req, found->arg);
}

static SSL *http_ssl_new(void)
{
    pthread_mutex_lock(&tls_lock);
    SSL *ssl = tls_ctx ? SSL_new(tls_ctx) : NULL;
    pthread_mutex_unlock(&tls_lock);
    return ssl;
}

/* evhttp makes each connection's bufferevent here when http_tls is on. */
static struct bufferevent *tls_bufferevent(struct event_base *base, void *arg)
{
    (void)arg;
    SSL *ssl = http_ssl_new();
    if (!ssl)
        return NULL; /* out of memory: evhttp then makes a plain one, which a
                      * TLS client's handshake cannot get past */
    struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                             BEV_OPT_CLOSE_ON_FREE);
    if (bev)
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

int http_tls_load(const config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->http_tls && cfg->intake_port < 0)
        return 0;
    SSL_CTX *ctx = tls_http_ctx_new(cfg, err, errlen);
    if (!ctx)
        return -1;
    pthread_mutex_lock(&tls_lock);
    SSL_CTX *old = tls_ctx;
    tls_ctx = ctx;
    pthread_mutex_unlock(&tls_lock);
    SSL_CTX_free(old);
    return 0;
}

static int bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Binds l on address:*port (0: a free port, written back). */
static int listener_open(http_listener_t *l, const char *address, int *port, bool tls, char *err, size_t errlen)
{
    char where[300];
    snprintf(where, sizeof where, strchr(address, ':') ? "[%s]" : "%s", address);
    struct sockaddr_storage ss;
    int sslen = (int)sizeof ss;
    memset(&ss, 0, sizeof ss);
    /* Parsed without a port (libevent refuses port 0), which is set after. */
    if (evutil_parse_sockaddr_port(where, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errlen, "%s '%s' is not an IP address", l->public ? "intake_address" : "http_address",
                 address);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)*port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)*port);
    snprintf(where + strlen(where), sizeof where - strlen(where), ":%d", *port);
    if (!(l->http = evhttp_new(l->worker->base))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Like the TLS listener: one socket per worker on one port. */
    struct evconnlistener *el = evconnlistener_new_bind(
        l->worker->base, NULL, NULL,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC,
        HTTP_BACKLOG, (struct sockaddr *)&ss, sslen);
    if (!el || !evhttp_bind_listener(l->http, el)) {
        if (el)
            evconnlistener_free(el);
        snprintf(err, errlen, "cannot listen for HTTP on %s: %s", where,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return -1;
    }
    if (*port == 0)
        *port = bound_port(evconnlistener_get_fd(el));
    evhttp_set_max_headers_size(l->http, HTTP_HEADERS_MAX);
    evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(l->http, "text/plain; charset=utf-8");
    evhttp_set_gencb(l->http, http_dispatch, l);
    evhttp_set_bevcb(l->http, tls ? tls_bufferevent : NULL, NULL);
    return 0;
}

int http_worker_init(worker_t *w, char *err, size_t errlen)
{
    server_t *srv = w->server;
    const config_t *cfg = srv->cfg;
    if (cfg->http_port < 0 && cfg->intake_port < 0)
        return 0;
    if ((cfg->http_tls || cfg->intake_port >= 0) && !tls_ctx) {
        snprintf(err, errlen, "http_tls: the TLS context was not loaded");
        return -1;
    }
    struct http_server *hs = calloc(1, sizeof *hs);
    if (!hs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->http = hs;
    hs->ops.worker = hs->pub.worker = w;
    hs->pub.public = true;
    if (cfg->http_port >= 0 &&
        listener_open(&hs->ops, cfg->http_address, &srv->http_port, cfg->http_tls, err, errlen) != 0)
        return -1;
    if (cfg->intake_port >= 0) {
        /* Every worker binds the port the first one got. */
        int port = atomic_load(&public_port) >= 0 ? atomic_load(&public_port) : cfg->intake_port;
        if (listener_open(&hs->pub, cfg->intake_address, &port, true, err, errlen) != 0)
            return -1;
        atomic_store(&public_port, port);
    }
    http_worker_configure(w);
    return 0;
}

void http_worker_configure(worker_t *w)
{
    const config_t *cfg = w->server->cfg;
    if (!w->http)
        return;
    if (w->http->ops.http) {
        struct timeval tv = {cfg->http_timeout_ms / 1000, (cfg->http_timeout_ms % 1000) * 1000};
        evhttp_set_timeout_tv(w->http->ops.http, &tv);
        evhttp_set_max_body_size(w->http->ops.http, (ev_ssize_t)cfg->http_max_body_bytes);
    }
    if (w->http->pub.http) {
        struct timeval tv = {cfg->intake_timeout_ms / 1000, (cfg->intake_timeout_ms % 1000) * 1000};
        evhttp_set_timeout_tv(w->http->pub.http, &tv);
        evhttp_set_max_body_size(w->http->pub.http, (ev_ssize_t)cfg->intake_max_body_bytes);
    }
}

void http_worker_free(worker_t *w)
{
    if (!w->http)
        return;
    if (w->http->ops.http)
        evhttp_free(w->http->ops.http);
    if (w->http->pub.http)
        evhttp_free(w->http->pub.http);
    free(w->http);
    w->http = NULL;
}

size_t http_route_patterns(const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < route_count && n < max; i++) {
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen = seen || strcmp(out[j], routes[i].pattern) == 0;
        if (!seen)
            out[n++] = routes[i].pattern;
    }
    return n;
}

void http_shutdown(void)
{
    for (size_t i = 0; i < route_count; i++)
        free(routes[i].pattern);
    route_count = 0;
    pthread_mutex_lock(&tls_lock);
    SSL_CTX_free(tls_ctx);
    tls_ctx = NULL;
    pthread_mutex_unlock(&tls_lock);
}
