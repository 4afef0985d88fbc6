#include "reload.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "http.h"
#include "log.h"
#include "usage_limits.h"
#include "sweeper.h"
#include "tenant_cache.h"
#include "tls.h"
#include "tls_tickets.h"

/* A configuration a reload installed. Workers may still be reading the one
 * it replaced, so none is freed before exit (a few hundred bytes a reload). */
typedef struct installed {
    config_t *cfg;
    SLIST_ENTRY(installed) next;
} installed_t;

static SLIST_HEAD(, installed) installed = SLIST_HEAD_INITIALIZER(installed);
static struct event **reapply;
static unsigned nreapply;

/* On each worker's own loop: what it built from the configuration. */
static void reapply_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker_t *w = arg;
    const config_t *cfg = w->server->cfg;
    rate_limit_configure(w->rate, (double)cfg->tenant_rate_limit / w->server->nworkers,
                         (double)cfg->tenant_rate_burst / w->server->nworkers);
    if (w->sweeper)
        sweeper_configure(w->sweeper, cfg->sweep_interval_ms, cfg->sweep_batch);
    /* A reload may bring a new CA or CRL: subjects are looked up afresh. */
    if (w->tenants)
        tenant_cache_clear(w->tenants);
    http_worker_configure(w);
}

int reload_init(server_t *srv)
{
    reapply = calloc(srv->nworkers, sizeof *reapply);
    if (!reapply)
        return -1;
    nreapply = srv->nworkers;
    for (unsigned i = 0; i < srv->nworkers; i++)
        if (!(reapply[i] = event_new(srv->workers[i].base, -1, 0, reapply_cb, &srv->workers[i])))
            return -1;
    return 0;
}

typedef struct {
    char changed[1024];
    size_t used;
} report_t;

static void report(const char *name, int reloadable, void *arg)
{
    report_t *r = arg;
    if (!reloadable) {
        log_warn("reload_needs_restart", "option=%s hint=\"the old value stays until a restart\"", name);
        return;
    }
    int n = snprintf(r->changed + r->used, sizeof r->changed - r->used, "%s%s", r->used ? "," : "",
                     name);
    if (n > 0 && r->used + (size_t)n < sizeof r->changed)
        r->used += (size_t)n;
}

int reload_apply(server_t *srv, config_t *next, char *err, size_t errlen)
{
    report_t rep = {"", 0};
    SSL_CTX *ctx = NULL;
    installed_t *node = calloc(1, sizeof *node);
    if (!node || config_merge_reload(next, srv->cfg, report, &rep) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* Everything that can fail comes before anything changes. */
    if (!(ctx = tls_server_ctx_new(next, err, errlen)) || http_tls_load(next, err, errlen) != 0)
        goto fail;
    server_swap_tls(srv, ctx);
    /* A new ticket key from now on; tickets of the old one still resume for
     * a period, unless the CA or CRL changed (the new context's session id
     * context then refuses them). */
    tls_tickets_rotate();
    log_level_t level = LOG_INFO;
    log_format_t format = LOG_FORMAT_TEXT;
    (void)log_level_parse(next->log_level, &level);
    (void)log_format_parse(next->log_format, &format);
    log_set_level(level);
    log_set_format(format);
    node->cfg = next;
    SLIST_INSERT_HEAD(&installed, node, next);
    srv->cfg = next;
    for (unsigned i = 0; i < nreapply; i++)
        event_active(reapply[i], EV_TIMEOUT, 0);
    log_info("reloaded", "changed=%s", rep.used ? rep.changed : "none");
    return 0;
fail:
    SSL_CTX_free(ctx);
    free(node);
    config_free(next);
    return -1;
}

void reload_free(void)
{
    for (unsigned i = 0; i < nreapply; i++)
        if (reapply[i])
            event_free(reapply[i]);
    free(reapply);
    reapply = NULL;
    nreapply = 0;
    while (!SLIST_EMPTY(&installed)) {
        installed_t *node = SLIST_FIRST(&installed);
        SLIST_REMOVE_HEAD(&installed, next);
        config_free(node->cfg);
        free(node);
    }
}
