#include "bench_handshake.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_cpu.h"
#include "bench_load.h"

enum { HS_WARMUP, HS_MEASURE, HS_STOP };

typedef struct {
    const hs_config_t *cfg;
    atomic_int *phase;
    hs_result_t res;
    pthread_t tid;
} hs_worker_t;

/* One connection: handshake, one ping, close. 1 resumed, 0 full, -1 failed. */
static int one_connection(const hs_config_t *cfg, char *err, size_t errlen)
{
    blc_t *c = blc_connect(&cfg->conn, err, errlen);
    if (!c)
        return -1;
    int resumed = blc_resumed(c);
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    branchline__v1__request__init(&req);
    branchline__v1__ping_request__init(&ping);
    req.op_case = BRANCHLINE__V1__REQUEST__OP_PING;
    req.ping = &ping;
    Branchline__V1__Response *r = blc_call(c, &req);
    bool ok = r && (!r->status || r->status->code == BRANCHLINE__V1__STATUS__CODE__OK);
    int rc = ok ? resumed : -1;
    if (!ok)
        snprintf(err, errlen, "ping: %s", r ? r->status->message : blc_error(c));
    if (r)
        branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
    return rc;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void *hs_worker(void *arg)
{
    hs_worker_t *w = arg;
    char err[300];
    int ph;
    while ((ph = atomic_load(w->phase)) != HS_STOP) {
        int rc = one_connection(w->cfg, err, sizeof err);
        bool counted = ph == HS_MEASURE && atomic_load(w->phase) == HS_MEASURE;
        /* only connections wholly inside the window count */
        if (counted && rc < 0) {
            if (!w->res.failed++)
                snprintf(w->res.first_error, sizeof w->res.first_error, "%s", err);
        } else if (counted) {
            w->res.done++;
            w->res.resumed += (uint64_t)rc;
        }
        if (w->cfg->pause_ms > 0)
            pause_ms(w->cfg->pause_ms);
        else if (rc < 0)
            pause_ms(1); /* a refusing daemon is not hammered */
    }
    return NULL;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int hs_run(const hs_config_t *cfg, hs_result_t *out, char *err, size_t errlen)
{
    atomic_int phase = HS_WARMUP;
    hs_worker_t *w = calloc((size_t)cfg->threads, sizeof *w);
    int started = 0;
    memset(out, 0, sizeof *out);
    out->daemon_cpu_s = -1;
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (; started < cfg->threads; started++) {
        w[started].cfg = cfg;
        w[started].phase = &phase;
        if (pthread_create(&w[started].tid, NULL, hs_worker, &w[started]) != 0)
            break;
    }
    if (started == cfg->threads) {
        sleep_s(cfg->warmup_s);
        double cpu0 = cfg->daemon_pid ? bench_cpu_s(cfg->daemon_pid) : -1;
        uint64_t t0 = load_now_ns();
        atomic_store(&phase, HS_MEASURE);
        sleep_s(cfg->duration_s);
        atomic_store(&phase, HS_STOP);
        out->window_s = (double)(load_now_ns() - t0) / 1e9;
        double cpu1 = cpu0 >= 0 ? bench_cpu_s(cfg->daemon_pid) : -1;
        out->daemon_cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    }
    atomic_store(&phase, HS_STOP);
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].tid, NULL);
        out->done += w[i].res.done;
        out->resumed += w[i].res.resumed;
        if (!out->failed && w[i].res.failed)
            snprintf(out->first_error, sizeof out->first_error, "%s", w[i].res.first_error);
        out->failed += w[i].res.failed;
    }
    free(w);
    if (started < cfg->threads) {
        snprintf(err, errlen, "cannot start thread %d", started);
        return -1;
    }
    return 0;
}

void hs_report(FILE *out, const hs_result_t *r)
{
    fprintf(out, "scenario=handshake handshakes_per_s=%.1f done=%llu resumed=%llu failed=%llu window_s=%.2f",
            r->window_s > 0 ? (double)r->done / r->window_s : 0.0, (unsigned long long)r->done,
            (unsigned long long)r->resumed, (unsigned long long)r->failed, r->window_s);
    /* Connections that failed cost the daemon too: count them in. */
    if (r->daemon_cpu_s > 0)
        fprintf(out, " daemon_cpu_s=%.2f handshakes_per_daemon_cpu_s=%.1f daemon_cpu_us_per_handshake=%.1f",
                r->daemon_cpu_s, (double)(r->done + r->failed) / r->daemon_cpu_s,
                r->daemon_cpu_s * 1e6 / (double)(r->done + r->failed ? r->done + r->failed : 1));
    fprintf(out, "\n");
    if (r->failed)
        fprintf(out, "error %s\n", r->first_error);
}
