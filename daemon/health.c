#include "health.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "db.h"
#include "http.h"
#include "metrics_scrape.h"

#define BEAT_MS 500

struct health {
    struct event *timer;
    atomic_uint_fast64_t beat_ms;   /* CLOCK_MONOTONIC of the last beat */
    atomic_bool db_up;              /* at least one query connection is up */
    atomic_bool listening;          /* the LISTEN connection is up */
    atomic_bool read_up;            /* the read pool has a connection up (or there is none) */
};

static uint64_t mono_ms(void)
{
    return clock_mono_us() / 1000u;
}

static void beat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_t *w = arg;
    atomic_store(&w->health->db_up, db_pool_up(w->db) > 0);
    atomic_store(&w->health->listening, db_pool_listening(w->db));
    atomic_store(&w->health->read_up, !w->db_read || db_pool_up(w->db_read) > 0);
    atomic_store(&w->health->beat_ms, mono_ms());
    metrics_worker_publish(w);
}

int health_worker_init(worker_t *w)
{
    struct health *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    w->health = h;
    atomic_init(&h->beat_ms, mono_ms());
    atomic_init(&h->db_up, false);
    atomic_init(&h->listening, false);
    atomic_init(&h->read_up, false);
    struct timeval tv = {0, BEAT_MS * 1000};
    h->timer = event_new(w->base, -1, EV_PERSIST, beat, w);
    if (!h->timer || event_add(h->timer, &tv) != 0)
        return -1;
    return 0;
}

void health_worker_free(worker_t *w)
{
    if (!w->health)
        return;
    if (w->health->timer)
        event_free(w->health->timer);
    free(w->health);
    w->health = NULL;
}

/* Appends one line to why (truncating quietly: the first reasons matter most). */
__attribute__((format(printf, 4, 5)))
static void say(char *why, size_t whylen, size_t *used, const char *fmt, ...)
{
    if (*used >= whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why + *used, whylen - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n;
}

bool health_alive(server_t *srv, char *why, size_t whylen)
{
    size_t used = 0;
    uint64_t now = mono_ms();
    why[0] = '\0';
    for (unsigned i = 0; i < srv->nworkers; i++) {
        uint64_t beat_ms = atomic_load(&srv->workers[i].health->beat_ms);
        if (now > beat_ms && now - beat_ms > HEALTH_DEADLINE_MS)
            say(why, whylen, &used, "worker %u: its event loop has not turned within the deadline\n", i);
    }
    return used == 0;
}

bool health_ready(server_t *srv, char *why, size_t whylen)
{
    size_t used = 0;
    why[0] = '\0';
    if (atomic_load(&srv->stopping))
        say(why, whylen, &used, "draining: the daemon is shutting down\n");
    for (unsigned i = 0; i < srv->nworkers; i++) {
        const struct health *h = srv->workers[i].health;
        if (!atomic_load(&h->db_up))
            say(why, whylen, &used, "database: worker %u has no database connection\n", i);
        if (!atomic_load(&h->listening))
            say(why, whylen, &used, "listen: worker %u does not hear database notifications\n", i);
        /* Without it lead list, lead stats and org export fail: a balancer
         * should send clients to a daemon that can serve them all. */
        if (!atomic_load(&h->read_up))
            say(why, whylen, &used, "read pool: worker %u has no connection of db_read_conninfo\n", i);
    }
    char alive[512];
    if (!health_alive(srv, alive, sizeof alive))
        say(why, whylen, &used, "%s", alive);
    return used == 0;
}

static void livez(http_req_t *req, void *arg)
{
    (void)arg;
    char why[1024];
    if (health_alive(http_req_worker(req)->server, why, sizeof why))
        http_reply_text(req, 200, "alive\n");
    else
        http_reply_text(req, 503, "%s", why);
}

static void readyz(http_req_t *req, void *arg)
{
    (void)arg;
    char why[2048];
    if (health_ready(http_req_worker(req)->server, why, sizeof why))
        http_reply_text(req, 200, "ready\n");
    else
        http_reply_text(req, 503, "%s", why);
}

int health_routes_add(void)
{
    if (http_route_add("GET", "/livez", livez, NULL) != 0 ||
        http_route_add("GET", "/readyz", readyz, NULL) != 0)
        return -1;
    return 0;
}
