/*
 * The server: worker threads, each with its own event loop, listener
 * (SO_REUSEPORT, so the kernel spreads connections over the workers) and
 * database pool. Nothing is shared between workers but the configuration,
 * the TLS context and a few atomic counters.
 */
#ifndef BRANCHD_SERVER_H
#define BRANCHD_SERVER_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct event_base;
struct event;
struct evconnlistener;
typedef struct conn conn_t;
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
    db_pool_t *db;
    conn_t *conns;              /* every open connection of this worker */
    unsigned inflight;          /* requests not yet answered */
    void *watches;              /* lead_watch streams (watch.c) */
    struct sweeper *sweeper;    /* on worker 0 only */
    struct cache *cache;        /* organization reads; NULL when disabled */
    struct rate_limit *rate;    /* this worker's share of each tenant's request rate */
    struct http_server *http;   /* its HTTP listener (http.c), or NULL */
    struct health *health;      /* its heartbeat (health.c) */
    struct handshake_limit *handshakes; /* its share of each source address's handshake rate */
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

/* Binds every worker's listener and creates its loop; does not start threads.
 * Takes ownership of ssl_ctx on success. */
server_t *server_new(const config_t *cfg, SSL_CTX *ssl_ctx, char *err, size_t errlen);

/* A new SSL object for an accepted connection, from the current context. */
SSL *server_new_ssl(server_t *srv);

/* Replaces the TLS context (reload): new handshakes use it, open
 * connections keep theirs. Takes ownership of ctx. */
void server_swap_tls(server_t *srv, SSL_CTX *ctx);
int server_start(server_t *srv, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Asks every worker to stop accepting and drain; safe from any thread. */
void server_stop(server_t *srv);
/* Waits for every worker thread to finish. */
void server_join(server_t *srv);
void server_free(server_t *srv);

uint64_t now_ms(void);

#endif
