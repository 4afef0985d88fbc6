#include "server.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "clock.h"
#include "conn.h"
#include "db.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "metrics_core.h"
#include "session.h"
#include "sweeper.h"
#include "tenant_cache.h"
#include "usage_limits.h"
#include "watch.h"

#define DRAIN_TICK_MS 20
#define LISTEN_BACKLOG 4096

/*
 * The wiring of the TLS listener: conn.c (transport) below session.c
 * (protocol), each seeing the other only through a table of functions.
 */
static void tls_write(void *t, const uint8_t *payload, size_t len)
{
    conn_write_frame(t, payload, len);
}

static void tls_hold(void *t)
{
    conn_hold(t);
}

static void tls_release(void *t)
{
    conn_release(t);
}

static void tls_shutdown(void *t, const char *reason)
{
    conn_shutdown(t, reason);
}

static const session_io_t tls_io = {tls_write, tls_hold, tls_release, tls_shutdown};

static void *session_open(conn_t *c, worker_t *w, uint64_t id, const char *subject)
{
    return session_new(w, &tls_io, c, id, subject);
}

static void session_frame_cb(void *owner, const uint8_t *payload, size_t len)
{
    session_frame(owner, payload, len);
}

static void session_bad_frame_cb(void *owner, frame_status_t st, uint32_t len, uint32_t max)
{
    session_bad_frame(owner, st, len, max);
}

static void session_close_cb(void *owner)
{
    session_close(owner);
}

static const conn_owner_t tls_session = {session_open, session_frame_cb, session_bad_frame_cb,
                                         session_close_cb};

/* A source address over its handshake rate is closed before any TLS work;
 * the first refusal and every 1,000th after it are logged. */
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
                      int len, void *arg)
{
    (void)l;
    (void)len;
    worker_t *w = arg;
    if (!handshake_limit_allow(w->handshakes, addr, now_ms())) {
        uint64_t n = atomic_fetch_add(&w->server->handshakes_refused, 1) + 1;
        metrics_handshake_rate_limited();
        close(fd);
        if (n % 1000 == 1)
            log_warn("handshake_refused", "worker=%u reason=handshake_rate_per_addr refused_total=%llu",
                     w->index, (unsigned long long)n);
        return;
    }
    conn_accept(w, fd, addr, server_new_ssl(w->server), &tls_session);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    (void)l;
    worker_t *w = arg;
    /* EMFILE and friends: keep serving the connections we have. */
    int err = EVUTIL_SOCKET_ERROR();
    log_error("accept_error", "worker=%u error=\"%s\"", w->index, evutil_socket_error_to_string(err));
}

static bool worker_drained(const worker_t *w)
{
    if (w->inflight > 0)
        return false;
    const conn_t *c;
    LIST_FOREACH(c, &w->conns, link)
        if (!conn_flushed(c))
            return false;
    return true;
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_t *w = arg;
    bool timed_out = now_ms() >= w->drain_deadline_ms;
    if (!worker_drained(w) && !timed_out)
        return;
    log_info("worker_stop", "worker=%u inflight=%u timed_out=%d", w->index, w->inflight, timed_out);
    while (!LIST_EMPTY(&w->conns))
        conn_close(LIST_FIRST(&w->conns), "shutdown");
    /* Its HTTP socket goes with its loop: the kernel then hands new HTTP
     * connections to workers still draining, which answer /readyz. */
    http_worker_free(w);
    event_base_loopbreak(w->base);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_t *w = arg;
    if (w->draining)
        return;
    w->draining = true;
    watch_end_all(w, "server is shutting down");
    if (w->listener) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
    }
    w->drain_deadline_ms = now_ms() + (uint64_t)w->server->cfg->shutdown_timeout_ms;
    struct timeval tv = {0, DRAIN_TICK_MS * 1000};
    event_add(w->drain_timer, &tv);
    drain_tick(-1, 0, w);
}

static void org_changed(worker_t *w, const char *payload)
{
    if (w->cache)
        cache_invalidate_tenant(w->cache, atoll(payload));
}

/* Who hears each NOTIFY channel the workers LISTEN on. */
static const struct {
    const char *channel;
    void (*fn)(worker_t *w, const char *payload);
} notify_routes[] = {
    {WATCH_CHANNEL, watch_notify},
    {ORG_CHANNEL, org_changed},
};

/* "a,b": every routed channel, for LISTEN. */
static void notify_channels(char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof notify_routes / sizeof notify_routes[0]; i++) {
        int k = snprintf(out + n, outlen - n, "%s%s", i ? "," : "", notify_routes[i].channel);
        if (k > 0)
            n += (size_t)k < outlen - n ? (size_t)k : outlen - n - 1;
    }
}

static void on_notify(void *arg, const char *channel, const char *payload)
{
    worker_t *w = arg;
    if (!channel && payload && strcmp(payload, DB_LISTEN_LOST) == 0) {
        /* From now on changes go unheard: nothing may be served from memory,
         * and watchers must know their stream has a gap. */
        if (w->cache)
            cache_suspend(w->cache);
        watch_end_all(w, "lead notifications were interrupted (the daemon lost its database "
                         "connection); list the leads and watch again");
        return;
    }
    if (!channel) {
        /* (Re)connected: whatever happened meanwhile went unheard. */
        if (w->cache)
            cache_resume(w->cache);
        return;
    }
    for (size_t i = 0; i < sizeof notify_routes / sizeof notify_routes[0]; i++)
        if (strcmp(channel, notify_routes[i].channel) == 0)
            notify_routes[i].fn(w, payload);
}

static int listen_sockaddr(const config_t *cfg, int port, struct sockaddr_storage *ss, int *sslen)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, cfg->listen_address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *sslen = (int)sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, cfg->listen_address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *sslen = (int)sizeof *v6;
        return 0;
    }
    return -1;
}

static int bound_port(struct evconnlistener *l)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int worker_init(server_t *srv, worker_t *w, unsigned index, char *err, size_t errlen)
{
    const config_t *cfg = srv->cfg;
    w->index = index;
    w->server = srv;
    LIST_INIT(&w->conns);
    LIST_INIT(&w->watches);
    w->base = event_base_new();
    if (!w->base) {
        snprintf(err, errlen, "cannot create event loop");
        return -1;
    }
    struct sockaddr_storage ss;
    int sslen;
    if (listen_sockaddr(cfg, srv->port, &ss, &sslen) != 0) {
        snprintf(err, errlen, "listen_address '%s' is not an IP address", cfg->listen_address);
        return -1;
    }
    /* One listening socket per worker on the same port: the kernel balances
     * new connections across them, with no hand-off between threads. */
    w->listener = evconnlistener_new_bind(
        w->base, accept_cb, w,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC,
        LISTEN_BACKLOG, (struct sockaddr *)&ss, sslen);
    if (!w->listener) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", cfg->listen_address, srv->port,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return -1;
    }
    evconnlistener_set_error_cb(w->listener, accept_error_cb);
    if (srv->port == 0)
        srv->port = bound_port(w->listener);
    w->stop_event = event_new(w->base, -1, 0, stop_cb, w);
    w->drain_timer = event_new(w->base, -1, EV_PERSIST, drain_tick, w);
    db_pool_config_t pool_cfg = {.conninfo = cfg->db_conninfo, .name = "primary",
                                 .size = cfg->db_pool_size, .queue_max = cfg->db_queue_max,
                                 .queue_per_source = cfg->db_queue_per_conn,
                                 .statement_timeout_ms = cfg->db_statement_timeout_ms};
    w->db = db_pool_new(w->base, &pool_cfg, index);
    if (cfg->db_read_conninfo[0]) {
        /* No LISTEN here: caches hear changes from the primary, where they
         * commit, never later than the read pool could see them. */
        db_pool_config_t read_cfg = pool_cfg;
        read_cfg.conninfo = cfg->db_read_conninfo;
        read_cfg.name = "read";
        read_cfg.read_only = true;
        read_cfg.size = cfg->db_read_pool_size;
        read_cfg.failback_s = cfg->db_read_failback_s;
        if (!(w->db_read = db_pool_new(w->base, &read_cfg, index))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    char channels[128];
    notify_channels(channels, sizeof channels);
    if (!w->stop_event || !w->drain_timer || !w->db ||
        db_pool_listen(w->db, channels, on_notify, w) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->rate = rate_limit_new((double)cfg->tenant_rate_limit / srv->nworkers,
                             (double)cfg->tenant_rate_burst / srv->nworkers);
    w->handshakes = handshake_limit_new((double)cfg->handshake_rate_per_addr / srv->nworkers,
                                        (double)cfg->handshake_burst_per_addr / srv->nworkers);
    w->tenants = tenant_cache_new(TENANT_CACHE_TTL_MS);
    if (!w->rate || !w->handshakes || !w->tenants) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t cache_bytes = (size_t)cfg->cache_mb * 1024u * 1024u / srv->nworkers;
    if (cache_bytes > 0 && !(w->cache = cache_new(cache_bytes))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (w->cache)
        cache_suspend(w->cache); /* until the listening connection is up */
    if (http_worker_init(w, err, errlen) != 0)
        return -1;
    if (health_worker_init(w) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (index == 0 && cfg->sweep_interval_ms > 0 &&
        !(w->sweeper = sweeper_new(w, cfg->sweep_interval_ms, cfg->sweep_batch))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

server_t *server_new(const config_t *cfg, SSL_CTX *ssl_ctx, char *err, size_t errlen)
{
    server_t *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->cfg = cfg;
    pthread_mutex_init(&srv->tls_lock, NULL);
    srv->port = cfg->listen_port;
    srv->http_port = cfg->http_port;
    atomic_init(&srv->stopping, false);
    atomic_init(&srv->connections, 0);
    atomic_init(&srv->next_conn_id, 1);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    srv->nworkers = cfg->workers > 0 ? (unsigned)cfg->workers : (unsigned)(cores > 0 ? cores : 1);
    srv->workers = calloc(srv->nworkers, sizeof *srv->workers);
    srv->identities = identity_limit_new(cfg->max_connections_per_identity);
    if (!srv->workers || !srv->identities) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < srv->nworkers; i++)
        if (worker_init(srv, &srv->workers[i], i, err, errlen) != 0)
            goto fail;
    srv->ssl_ctx = ssl_ctx;
    return srv;
fail:
    server_free(srv);
    return NULL;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    db_pool_start(w->db);
    if (w->db_read)
        db_pool_start(w->db_read);
    event_base_dispatch(w->base);
    return NULL;
}

int server_start(server_t *srv, char *err, size_t errlen)
{
    for (unsigned i = 0; i < srv->nworkers; i++) {
        if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0) {
            snprintf(err, errlen, "cannot start worker thread %u", i);
            srv->nworkers = i; /* join and free only what started */
            server_stop(srv);
            server_join(srv);
            return -1;
        }
    }
    log_info("listening", "address=%s port=%d workers=%u", srv->cfg->listen_address, srv->port,
             srv->nworkers);
    return 0;
}

SSL *server_new_ssl(server_t *srv)
{
    /* SSL_new takes its own reference, so a swap right after is safe. */
    pthread_mutex_lock(&srv->tls_lock);
    SSL *ssl = SSL_new(srv->ssl_ctx);
    pthread_mutex_unlock(&srv->tls_lock);
    return ssl;
}

void server_swap_tls(server_t *srv, SSL_CTX *ctx)
{
    pthread_mutex_lock(&srv->tls_lock);
    SSL_CTX *old = srv->ssl_ctx;
    srv->ssl_ctx = ctx;
    pthread_mutex_unlock(&srv->tls_lock);
    SSL_CTX_free(old);
}

void server_stop(server_t *srv)
{
    atomic_store(&srv->stopping, true);
    for (unsigned i = 0; i < srv->nworkers; i++)
        event_active(srv->workers[i].stop_event, EV_READ, 0);
}

void server_join(server_t *srv)
{
    for (unsigned i = 0; i < srv->nworkers; i++)
        pthread_join(srv->workers[i].thread, NULL);
}

void server_free(server_t *srv)
{
    if (!srv)
        return;
    for (unsigned i = 0; srv->workers && i < srv->nworkers; i++) {
        worker_t *w = &srv->workers[i];
        if (w->listener)
            evconnlistener_free(w->listener);
        while (!LIST_EMPTY(&w->conns))
            conn_close(LIST_FIRST(&w->conns), "shutdown");
        /* Their timers and sockets must not fire into a freed pool below. */
        health_worker_free(w);
        http_worker_free(w);
        /* Fails whatever still waits on the database; detached requests end
         * here, and so does a sweep in flight, before its sweeper goes. */
        db_pool_free(w->db);
        db_pool_free(w->db_read);
        sweeper_free(w->sweeper);
        /* Whatever the closes above made active runs once more before the
         * loop goes. */
        if (w->base)
            event_base_loop(w->base, EVLOOP_NONBLOCK);
        cache_free(w->cache);
        rate_limit_free(w->rate);
        handshake_limit_free(w->handshakes);
        tenant_cache_free(w->tenants);
        if (w->stop_event)
            event_free(w->stop_event);
        if (w->drain_timer)
            event_free(w->drain_timer);
        if (w->base)
            event_base_free(w->base);
    }
    free(srv->workers);
    identity_limit_free(srv->identities);
    SSL_CTX_free(srv->ssl_ctx);
    pthread_mutex_destroy(&srv->tls_lock);
    free(srv);
}
