/*
 * The daemon's own metric families (metrics.h is the registry) and one
 * small function per event the other modules report, so that the label
 * mapping of each family lives here and a hook elsewhere is one line.
 */
#ifndef BRANCHD_METRICS_CORE_H
#define BRANCHD_METRICS_CORE_H

#include <stdbool.h>

#include "server.h"

typedef struct request request_t;
typedef struct pg_result PGresult;

/* Registers the families and the GET /metrics route, after dispatch_init
 * and after every other route is registered (routes are a label). */
int metrics_core_init(void) __attribute__((warn_unused_result));
/* Allocates the slots for `workers` workers and sets the constant series. */
int metrics_core_start(unsigned workers) __attribute__((warn_unused_result));
void metrics_core_free(void);

/* A request answered (request.c). */
void metrics_request_done(const request_t *r, double seconds);
/* A connection entered `to` from `from` (-1: it did not exist / it is gone);
 * `reason` is why a connection closed, for handshake failures. */
void metrics_conn_state(int from, int to, const char *reason);
/* A frame refused before dispatch: empty_frame, frame_too_large, undecodable. */
void metrics_frame_refused(const char *reason);
/* A request refused by the tenant's rate limit. */
void metrics_rate_limited(void);
/* A connection closed at accept by its address's handshake rate. */
void metrics_handshake_rate_limited(void);
/* A statement ran on the database (ok, or failed with that result). */
void metrics_db_query(const PGresult *res, bool ok);
/* A query failed before reaching the database (no connection, queue full). */
void metrics_db_unavailable(void);
/* A database connection was lost (a reconnect is scheduled). */
void metrics_db_lost(bool was_listening);
/* A sweep finished (or failed) after `seconds`. */
void metrics_sweep_done(double seconds);
/* A sweep moved `n` overdue leads on. */
void metrics_sla_reallocated(int n);
/* An HTTP request answered (http.c). */
void metrics_http_request(const char *route, int code);
/* The worker's pool and cache state, published by its own heartbeat. */
void metrics_worker_publish(worker_t *w);

#endif
