/*
 * Server streams of lead allocations (`lead_watch`). Every daemon LISTENs on
 * one PostgreSQL channel, so an allocation made through any daemon reaches
 * the watchers of all of them. A watch is a request that stays in flight:
 * each event is a response with more = true; cancel, disconnect or shutdown
 * ends it with a last response (more = false).
 */
#ifndef BRANCHD_WATCH_H
#define BRANCHD_WATCH_H

#include "request.h"

#define WATCH_CHANNEL "branchline_leads"

/* Starts a stream on an authorized request; tenant and scope come from SQL. */
void watch_start(request_t *req, long long tenant_id, const char *scope_path);

/* A NOTIFY payload arrived on the worker's listening connection. */
void watch_notify(worker_t *w, const char *payload);

/* Ends a stream with a final status. */
void watch_end(request_t *req, status_code_t code, const char *message);

/* Ends the stream with this id from the same connection as cancel_req; false if none. */
bool watch_cancel(request_t *cancel_req, uint64_t target_id);

/* Ends every stream of the worker (shutdown). */
void watch_end_all(worker_t *w, const char *message);

#endif
