#include "sweeper.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "metrics_core.h"

struct sweeper {
    worker_t *worker;
    struct event *timer;
    int batch;
    bool running;   /* one sweep at a time per daemon */
    uint64_t started_us;
};

static void sweep_done(void *arg, const db_result_t *res)
{
    sweeper_t *s = arg;
    s->running = false;
    metrics_sweep_done((double)(clock_mono_us() - s->started_us) / 1e6);
    if (res->code != BRANCHLINE__V1__STATUS__CODE__OK) {
        if (res->code != BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE)
            log_warn("sweep_failed", "status=%s", status_code_name(res->code));
        return;
    }
    if (PQntuples(res->result) != 1 || PQnfields(res->result) < 2)
        return;
    int reallocated = atoi(PQgetvalue(res->result, 0, 0));
    int drained = atoi(PQgetvalue(res->result, 0, 1));
    metrics_sla_reallocated(reallocated);
    if (reallocated || drained)
        log_info("sweep", "reallocated=%d drained=%d", reallocated, drained);
    /* A full batch means more is due: go again at once. */
    if (reallocated + drained >= s->batch)
        event_active(s->timer, EV_TIMEOUT, 0);
}

static void sweep_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sweeper_t *s = arg;
    if (s->running || s->worker->draining)
        return;
    s->running = true;
    s->started_us = clock_mono_us();
    char batch[16];
    snprintf(batch, sizeof batch, "%d", s->batch);
    const char *values[] = {batch};
    db_submit(s->worker->db, s, STMT_SWEEP, 1, values, sweep_done, s);
}

sweeper_t *sweeper_new(worker_t *w, int interval_ms, int batch)
{
    sweeper_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->worker = w;
    s->batch = batch;
    s->timer = event_new(w->base, -1, EV_PERSIST, sweep_tick, s);
    struct timeval tv = {interval_ms / 1000, (interval_ms % 1000) * 1000};
    if (!s->timer || event_add(s->timer, &tv) != 0) {
        sweeper_free(s);
        return NULL;
    }
    return s;
}

void sweeper_configure(sweeper_t *s, int interval_ms, int batch)
{
    s->batch = batch;
    struct timeval tv = {interval_ms / 1000, (interval_ms % 1000) * 1000};
    event_add(s->timer, &tv);
}

void sweeper_free(sweeper_t *s)
{
    if (!s)
        return;
    if (s->timer)
        event_free(s->timer);
    free(s);
}
