#include "bench_idle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct {
    idle_set_t *set;
    const blc_options_t *opts;
    int from;
    int step;
    int to;
    char err[300];
    pthread_t tid;
} opener_t;

/* A ping makes sure the daemon has accepted the connection and finished its
 * side of the handshake before the connection goes quiet. */
static blc_t *open_one(const blc_options_t *opts, char *err, size_t errlen)
{
    blc_t *c = blc_connect(opts, err, errlen);
    if (!c)
        return NULL;
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__PingRequest ping = BRANCHLINE__V1__PING_REQUEST__INIT;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_PING;
    req.ping = &ping;
    Branchline__V1__Response *r = blc_call(c, &req);
    if (!r || (r->status && r->status->code != BRANCHLINE__V1__STATUS__CODE__OK)) {
        snprintf(err, errlen, "ping on a new idle connection: %s",
                 r ? r->status->message : blc_error(c));
        branchline__v1__response__free_unpacked(r, NULL);
        blc_free(c);
        return NULL;
    }
    branchline__v1__response__free_unpacked(r, NULL);
    return c;
}

static void *opener_main(void *arg)
{
    opener_t *o = arg;
    for (int i = o->from; i < o->to; i += o->step) {
        o->set->conns[i] = open_one(o->opts, o->err, sizeof o->err);
        if (!o->set->conns[i])
            break;
    }
    return NULL;
}

/* Drops the NULL holes a failed opener left, so that conns[0..n) are open. */
static void compact(idle_set_t *s, int upto)
{
    int k = s->n;
    for (int i = s->n; i < upto; i++)
        if (s->conns[i])
            s->conns[k++] = s->conns[i];
    s->n = k;
}

int idle_grow(idle_set_t *s, int target, const blc_options_t *opts, int threads,
              char *err, size_t errlen)
{
    if (target <= s->n)
        return 0;
    if (target > s->cap) {
        blc_t **grown = realloc(s->conns, sizeof *grown * (size_t)target);
        if (!grown) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        s->conns = grown;
        s->cap = target;
    }
    memset(s->conns + s->n, 0, sizeof *s->conns * (size_t)(target - s->n));
    opener_t *o = calloc((size_t)threads, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int t = 0; t < threads; t++) {
        o[t] = (opener_t){.set = s, .opts = opts, .from = s->n + t, .step = threads, .to = target};
        if (pthread_create(&o[t].tid, NULL, opener_main, &o[t]) != 0)
            o[t].tid = 0;
    }
    err[0] = '\0';
    for (int t = 0; t < threads; t++) {
        if (o[t].tid)
            pthread_join(o[t].tid, NULL);
        else
            snprintf(o[t].err, sizeof o[t].err, "cannot start a thread");
        if (o[t].err[0] && !err[0])
            snprintf(err, errlen, "%s", o[t].err);
    }
    free(o);
    compact(s, target);
    return s->n == target ? 0 : -1;
}

void idle_shrink(idle_set_t *s, int target)
{
    while (s->n > target && s->n > 0)
        blc_free(s->conns[--s->n]);
}

void idle_close(idle_set_t *s)
{
    for (int i = 0; i < s->n; i++)
        blc_free(s->conns[i]);
    free(s->conns);
    *s = (idle_set_t){0};
}

long idle_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

long idle_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    return (long)rl.rlim_cur;
}
