#include "intake/spool_writer.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/queue.h>

typedef struct job {
    TAILQ_ENTRY(job) link;
    bool append;            /* else: spool_done */
    char *record;
    size_t len;
    int64_t received_s, now_s;
    spool_rc_t rc;
    struct event *delivered; /* on the caller's base: runs cb there */
    spool_writer_cb cb;
    void *arg;
    struct spool_writer *owner;
} job_t;

TAILQ_HEAD(job_list, job);

struct spool_writer {
    spool_t *spool;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job_list queue;    /* handed over, not written */
    struct job_list written;  /* written, callback not yet run on its loop */
    bool stopping;
    atomic_uint pending_appends;
};

static void job_free(job_t *j)
{
    if (j->delivered)
        event_free(j->delivered);
    free(j->record);
    free(j);
}

/* On the caller's loop: the job is off the written list, then its callback. */
static void on_delivered(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    job_t *j = arg;
    spool_writer_t *w = j->owner;
    pthread_mutex_lock(&w->lock);
    TAILQ_REMOVE(&w->written, j, link);
    pthread_mutex_unlock(&w->lock);
    spool_writer_cb cb = j->cb;
    void *cb_arg = j->arg;
    spool_rc_t rc = j->rc;
    job_free(j);
    cb(rc, false, cb_arg);
}

static void *writer_main(void *arg)
{
    spool_writer_t *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (TAILQ_EMPTY(&w->queue) && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        job_t *j = TAILQ_FIRST(&w->queue);
        if (!j)
            break; /* stopping, and nothing left to write */
        TAILQ_REMOVE(&w->queue, j, link);
        pthread_mutex_unlock(&w->lock);
        if (j->append) {
            j->rc = spool_append(w->spool, j->record, j->len, j->received_s, j->now_s);
            atomic_fetch_sub(&w->pending_appends, 1);
        } else {
            j->rc = spool_done(w->spool) == 0 ? SPOOL_OK : SPOOL_ERROR;
        }
        pthread_mutex_lock(&w->lock);
        /* Kept listed until its loop runs it: if the loops stop first,
         * spool_writer_free delivers it, cancelled. */
        TAILQ_INSERT_TAIL(&w->written, j, link);
        if (!w->stopping)
            event_active(j->delivered, EV_TIMEOUT, 1);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

spool_writer_t *spool_writer_new(spool_t *spool)
{
    spool_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->spool = spool;
    TAILQ_INIT(&w->queue);
    TAILQ_INIT(&w->written);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void spool_writer_free(spool_writer_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    job_t *j;
    while ((j = TAILQ_FIRST(&w->written))) {
        TAILQ_REMOVE(&w->written, j, link);
        spool_writer_cb cb = j->cb;
        void *cb_arg = j->arg;
        spool_rc_t rc = j->rc;
        job_free(j);
        cb(rc, true, cb_arg);
    }
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static int submit(spool_writer_t *w, job_t *j, struct event_base *base)
{
    if (!(j->delivered = event_new(base, -1, 0, on_delivered, j))) {
        job_free(j);
        return -1;
    }
    if (j->append)
        atomic_fetch_add(&w->pending_appends, 1);
    pthread_mutex_lock(&w->lock);
    TAILQ_INSERT_TAIL(&w->queue, j, link);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int spool_writer_append(spool_writer_t *w, struct event_base *base, char *record, size_t len, int64_t received_s,
                        int64_t now_s, spool_writer_cb cb, void *arg)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        free(record);
        return -1;
    }
    *j = (job_t){.append = true, .record = record, .len = len, .received_s = received_s, .now_s = now_s,
                 .cb = cb, .arg = arg, .owner = w};
    return submit(w, j, base);
}

int spool_writer_done(spool_writer_t *w, struct event_base *base, spool_writer_cb cb, void *arg)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    *j = (job_t){.append = false, .cb = cb, .arg = arg, .owner = w};
    return submit(w, j, base);
}

unsigned spool_writer_pending(spool_writer_t *w)
{
    return w ? atomic_load(&w->pending_appends) : 0;
}
