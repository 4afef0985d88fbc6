/*
 * The daemon's own metric families (metrics.h is the registry) and one
 * small function per event the other modules report, so that the label
 * mapping of each family lives here and a hook elsewhere is one line. It
 * depends on no other layer (the include graph stays acyclic); what needs
 * them is in metrics_scrape.c.
 */
#ifndef BRANCHD_METRICS_CORE_H
#define BRANCHD_METRICS_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "branchline.pb-c.h"

typedef struct pg_result PGresult;

/* Registers the families: ops (the operation label, plus "unknown") and
 * routes (the HTTP route label) are kept by pointer (metrics_scrape.c). */
int metrics_core_register(const char *const *ops, size_t nops, const char *const *routes,
                          size_t nroutes) __attribute__((warn_unused_result));
/* Allocates the slots for `workers` workers and sets the constant series. */
int metrics_core_start(unsigned workers) __attribute__((warn_unused_result));
void metrics_core_free(void);

/* A request answered (request.c): op_name is its dispatch row's name. */
void metrics_request_done(const char *op_name, int code, const Branchline__V1__Response *resp,
                          double seconds);
/* A connection entered `to` from `from` (-1: it did not exist / it is gone);
 * `reason` is why a connection closed, for handshake failures. */
void metrics_conn_state(int from, int to, const char *reason);
/* A frame refused before dispatch: empty_frame, frame_too_large, undecodable. */
void metrics_frame_refused(const char *reason);
/* A request refused by the tenant's rate limit. */
void metrics_rate_limited(void);
/* A handshake completed (counted by metrics_conn_state); resumed: by ticket. */
void metrics_tls_handshake(bool resumed);
/* A connection closed at accept by its address's handshake rate. */
void metrics_handshake_rate_limited(void);
/* The database metrics carry the pool's name ("primary" or "read") as their
 * pool label. */
/* A statement ran on the database (ok, or failed with that result). */
void metrics_db_query(const char *pool, const PGresult *res, bool ok);
/* A query failed before reaching the database (no connection, queue full). */
void metrics_db_unavailable(const char *pool);
/* A database connection was lost (a reconnect is scheduled). */
void metrics_db_lost(const char *pool, bool was_listening);
/* A read pool connection on a primary was closed to be made anew (failback). */
void metrics_db_failback(void);
/* A worker's read pool connections on a primary (metrics_worker_publish). */
void metrics_read_pool_on_primary(int n);
/* A sweep finished (or failed) after `seconds`. */
void metrics_sweep_done(double seconds);
/* A sweep moved `n` overdue leads on. */
void metrics_sla_reallocated(int n);
/* An HTTP request answered (http.c). */
void metrics_http_request(const char *route, int code);
/* A worker's pool and cache state (metrics_worker_publish). */
void metrics_pool_state(const char *pool, int busy, int idle, int waiting);
void metrics_cache_state(uint64_t hits, uint64_t misses, uint64_t invalidations);

#endif
