/*
 * The load engine: T threads, each owning every T-th of C connections and
 * keeping D requests in flight on each, with one poll() over its sockets.
 * Responses are read without blocking (the client library's wake
 * descriptor is a pipe that is always readable), so a slow connection never
 * delays the reading, and the latency, of another.
 */
#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_hist.h"
#include "bench_scenario.h"
#include "blclient.h"

#define LOAD_CODES 17 /* Status.Code values 0..16 */
#define LOAD_DEPTH_MAX 4096

typedef struct {
    blc_options_t conn;
    scen_kind_t kind;
    const scen_params_t *params;
    int connections;
    int depth;
    int threads;
    double duration_s;  /* measured window; 0 when `requests` is set */
    uint64_t requests;  /* requests to measure; 0 when `duration_s` is set */
    double warmup_s;
    pid_t daemon_pid;   /* 0, or the daemon whose CPU time the window used is measured */
} load_config_t;

typedef struct {
    hist_t hist;                      /* latency (ns) of answers in the window and
                                         of later answers to requests sent in it */
    uint64_t answered;                /* answers in the window, any status */
    uint64_t ok;                      /* of which OK */
    uint64_t items;                   /* leads carried by the OK ones */
    uint64_t rejected_rows;           /* alloc-batch rows the server rejected */
    uint64_t by_code[LOAD_CODES];
    uint64_t lost;                    /* requests lost with their connection or unanswered */
    double window_s;
    double daemon_cpu_s;              /* the daemon's CPU seconds in the window; -1 unknown */
    char first_error[LOAD_CODES][160];
    char conn_error[400];
} load_result_t;

/* Runs one load; 0, or -1 with the reason in err (no connection, ...).
 * out is large (a histogram): allocate it, don't put it on a small stack. */
int load_run(const load_config_t *cfg, load_result_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Merges the counters of from into into (window_s is left alone). */
void load_result_merge(load_result_t *into, const load_result_t *from);

uint64_t load_now_ns(void);

#endif
