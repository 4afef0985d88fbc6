/*
 * The handshake load: T threads, each in a loop of connect (a full
 * mutual-TLS handshake, or a resumed one when conn.session_dir is set),
 * one ping, close, and a pause of pause_ms if given. What it measures is
 * the daemon's cost of a new connection; run.sh divides the count by the
 * daemon's CPU time. With a pause, the daemon goes idle between
 * connections, as it does between the runs of a script calling branchctl.
 */
#ifndef BENCH_HANDSHAKE_H
#define BENCH_HANDSHAKE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "blclient.h"

typedef struct {
    blc_options_t conn;
    int threads;
    double warmup_s;
    double duration_s;
    pid_t daemon_pid;  /* 0, or the daemon whose CPU time in the window is measured */
    int pause_ms;      /* each thread's pause between connections (a script's pace); 0: none */
} hs_config_t;

typedef struct {
    uint64_t done;     /* connections that handshook and had their ping answered, in the window */
    uint64_t resumed;  /* of which resumed a session */
    uint64_t failed;   /* connections or pings that failed, in the window */
    double window_s;
    double daemon_cpu_s; /* -1 unknown */
    char first_error[300];
} hs_result_t;

/* 0, or -1 with the reason in err (threads could not start). */
int hs_run(const hs_config_t *cfg, hs_result_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* "scenario=handshake handshakes_per_s=... done=... resumed=... failed=... window_s=...",
 * with daemon_cpu_s and handshakes_per_daemon_cpu_s when measured. */
void hs_report(FILE *out, const hs_result_t *r);

#endif
