/*
 * The periodic sweep: reallocates leads whose SLA ran out and drains leads
 * that became allocatable (a new cap period, new capacity). Every daemon
 * runs it on its first worker; api.sweep() takes its rows with FOR UPDATE
 * SKIP LOCKED, so daemons sharing a database never process a lead twice.
 */
#ifndef BRANCHD_SWEEPER_H
#define BRANCHD_SWEEPER_H

#include "worker.h"

typedef struct sweeper sweeper_t;

sweeper_t *sweeper_new(worker_t *w, int interval_ms, int batch);
void sweeper_free(sweeper_t *s);
/* New interval and batch (reload); the next sweep comes one interval from now. */
void sweeper_configure(sweeper_t *s, int interval_ms, int batch);

#endif
