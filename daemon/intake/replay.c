/*
 * Replays the spool on one worker's loop: the oldest record through the same
 * statement as a live submission, one at a time, in order. A record the
 * database answers (taken in, a repeat, or refused for good: a token
 * disabled meanwhile, say) is done; while the database is unavailable the
 * record stays and is tried again at the next tick. Marking a record done
 * syncs the progress file, so it goes through the writer thread like an
 * append; reading the next record is a pread of what was just written (in
 * the page cache), which stays on the loop.
 */
#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "intake/intake.h"
#include "intake/spool.h"
#include "intake/spool_writer.h"
#include "log.h"

#define TICK_MS 500
#define PARAMS_MAX 16

struct intake_replay {
    worker_t *worker;
    spool_t *spool;
    spool_writer_t *writer;
    int stmt;
    struct event *timer;
    bool busy;              /* a record is at the database or being marked done */
    bool closing;
};

static void replay_next(intake_replay_t *r);

/* The writer saved the progress: on to the next record. */
static void marked_done(spool_rc_t rc, bool cancelled, void *arg)
{
    intake_replay_t *r = arg;
    r->busy = false;
    if (r->closing) {
        free(r);
        return;
    }
    if (rc != SPOOL_OK)
        log_error("intake_spool", "error=cannot_save_progress");
    intake_publish_depth(spool_depth(r->spool));
    if (!cancelled)
        replay_next(r);
}

/* The record at the head is done; busy until the writer says so. */
static void mark_done(intake_replay_t *r)
{
    r->busy = true;
    if (spool_writer_done(r->writer, r->worker->base, marked_done, r) != 0) {
        r->busy = false; /* out of memory: the record is tried again at the next tick */
        log_error("intake_spool", "error=cannot_save_progress");
    }
}

static void replay_done(void *arg, const db_result_t *res)
{
    intake_replay_t *r = arg;
    r->busy = false;
    if (r->closing) {
        free(r);
        return;
    }
    if (res->code == BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE) {
        log_debug("intake_replay", "result=unavailable waiting=%llu",
                  (unsigned long long)spool_depth(r->spool));
        return;
    }
    if (res->code == BRANCHLINE__V1__STATUS__CODE__OK)
        log_info("intake_replayed", "source=%s outcome=%s", PQgetvalue(res->result, 0, 1),
                 PQgetvalue(res->result, 0, 0));
    else
        log_warn("intake_replay_refused", "code=%s field=%s message=\"%s\"", status_code_name(res->code),
                 res->field, res->message);
    mark_done(r);
}

static void replay_next(intake_replay_t *r)
{
    if (r->busy || spool_depth(r->spool) == 0)
        return;
    size_t len;
    char *text = spool_next(r->spool, &len);
    json_t *a = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    const char *values[PARAMS_MAX];
    size_t n = json_array_size(a);
    if (!a || n == 0 || n > PARAMS_MAX) {
        /* Not a record this daemon wrote: skip it rather than stall. */
        log_error("intake_spool", "error=unreadable_record");
        json_decref(a);
        mark_done(r);
        return;
    }
    for (size_t i = 0; i < n; i++)
        values[i] = json_string_value(json_array_get(a, i));
    r->busy = true;
    /* db_submit copies the values. */
    db_submit(r->worker->db, r, r->stmt, (int)n, values, replay_done, r);
    json_decref(a);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    intake_replay_t *r = arg;
    intake_publish_depth(spool_depth(r->spool));
    replay_next(r);
}

intake_replay_t *intake_replay_new(worker_t *w, spool_t *spool, spool_writer_t *writer, int stmt)
{
    intake_replay_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->worker = w;
    r->spool = spool;
    r->writer = writer;
    r->stmt = stmt;
    struct timeval tv = {TICK_MS / 1000, (TICK_MS % 1000) * 1000};
    if (!(r->timer = event_new(w->base, -1, EV_PERSIST, on_tick, r)) || event_add(r->timer, &tv) != 0) {
        if (r->timer)
            event_free(r->timer);
        free(r);
        return NULL;
    }
    return r;
}

void intake_replay_kick(intake_replay_t *r)
{
    if (r)
        event_active(r->timer, EV_TIMEOUT, 0);
}

void intake_replay_free(intake_replay_t *r)
{
    if (!r)
        return;
    event_free(r->timer);
    /* A record still at the database frees r when its answer comes. */
    if (r->busy)
        r->closing = true;
    else
        free(r);
}
