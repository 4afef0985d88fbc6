/*
 * What a worker thread owns, and the server they share. Only data: the
 * server's functions are in server.h, so the layers below it (transport,
 * requests, the sweeper) can reach their worker without depending on the
 * code that wires them together.
 */
#ifndef BRANCHD_WORKER_H
#define BRANCHD_WORKER_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "config.h"

struct event_base;
struct event;
struct evconnlistener;
struct conn;
struct watch;
typedef struct db_pool db_pool_t;
typedef struct server server_t;

typedef struct worker {
    unsigned index;
    server_t *server;
    pthread_t thread;
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *stop_event;   /* activated by the main thread on SIGTERM */
    struct event *drain_timer;
    db_pool_t *db;              /* the primary: every write, LISTEN, most reads */
    db_pool_t *db_read;         /* db_read_conninfo's read-only pool, or NULL */
    LIST_HEAD(conn_list, conn) conns;     /* every open connection of this worker */
    unsigned inflight;          /* requests not yet answered */
    LIST_HEAD(watch_list, watch) watches; /* lead_watch streams (watch.c) */
    struct sweeper *sweeper;    /* on worker 0 only */
    struct cache *cache;        /* organization reads; NULL when disabled */
    struct rate_limit *rate;    /* this worker's share of each tenant's request rate */
    struct http_server *http;   /* its HTTP listener (http.c), or NULL */
    struct health *health;      /* its heartbeat (health.c) */
    struct handshake_limit *handshakes; /* its share of each source address's handshake rate */
    struct tenant_cache *tenants; /* subjects' tenants it looked up lately (tenant_cache.h) */
    bool draining;
    uint64_t drain_deadline_ms;
} worker_t;

struct server {
    const config_t *_Atomic cfg; /* swapped whole by a reload (reload.c) */
    SSL_CTX *ssl_ctx;           /* owned; replaced on reload under tls_lock */
    pthread_mutex_t tls_lock;
    worker_t *workers;
    unsigned nworkers;
    int port;                   /* actual listening port */
    int http_port;              /* actual HTTP port; -1 when off */
    atomic_bool stopping;       /* server_stop was called: draining */
    int expected_schema_version;
    atomic_int connections;     /* open client connections, all workers */
    struct identity_limit *identities;
    atomic_uint_fast64_t next_conn_id;
    atomic_uint_fast64_t handshakes_refused; /* connections closed by handshake_rate_per_addr */
};

#endif
