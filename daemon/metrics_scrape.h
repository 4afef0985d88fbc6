/*
 * GET /metrics and what the metric families need from the layers above the
 * counters (metrics_core.c, which the lower layers report to by name):
 * the operation names of the dispatch table and the HTTP routes as labels,
 * and each worker's pool and cache state, published by its heartbeat.
 */
#ifndef BRANCHD_METRICS_SCRAPE_H
#define BRANCHD_METRICS_SCRAPE_H

#include "worker.h"

/* Registers the families and the GET /metrics route, after dispatch_init
 * and after every other route is registered (routes are a label). */
int metrics_scrape_init(void) __attribute__((warn_unused_result));

/* The worker's pool and cache state, published by its own heartbeat. */
void metrics_worker_publish(worker_t *w);

#endif
