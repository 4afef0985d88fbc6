#include "metrics_scrape.h"

#include <stdio.h>
#include <stdlib.h>

#include "cache.h"
#include "db.h"
#include "dispatch.h"
#include "http.h"
#include "metrics.h"
#include "metrics_core.h"

#define ROUTES_MAX 38

static void scrape(http_req_t *req, void *arg)
{
    (void)arg;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int rc = out ? metrics_write(out) : -1;
    if (out && fclose(out) != 0)
        rc = -1;
    if (rc == 0)
        http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    else
        http_reply_text(req, 500, "out of memory\n");
    free(text);
}

int metrics_scrape_init(void)
{
    if (http_route_add("GET", "/metrics", scrape, NULL) != 0)
        return -1;
    unsigned n = 0;
    const dispatch_entry_t *table = dispatch_table(&n);
    const char **ops = calloc(n ? n : 1, sizeof *ops);
    if (!ops)
        return -1;
    for (unsigned i = 0; i < n; i++)
        ops[i] = table[i].name;
    const char *routes[ROUTES_MAX];
    size_t nroutes = http_route_patterns(routes, ROUTES_MAX);
    int rc = metrics_core_register(ops, n, routes, nroutes);
    free(ops);
    return rc;
}

void metrics_worker_publish(worker_t *w)
{
    int busy = 0, idle = 0, waiting = 0;
    db_pool_counts(w->db, &busy, &idle, &waiting);
    metrics_pool_state(db_pool_name(w->db), busy, idle, waiting);
    if (w->db_read) {
        db_pool_counts(w->db_read, &busy, &idle, &waiting);
        metrics_pool_state(db_pool_name(w->db_read), busy, idle, waiting);
        metrics_read_pool_on_primary(db_pool_on_primary(w->db_read));
    }
    if (w->cache) {
        cache_stats_t s = cache_stats(w->cache);
        metrics_cache_state(s.hits, s.misses, s.invalidations);
    }
}
