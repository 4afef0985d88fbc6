/*
 * Idle connections for the memory measurement: many mutual-TLS connections
 * that completed their handshake and one ping, then stay open and silent.
 */
#ifndef BENCH_IDLE_H
#define BENCH_IDLE_H

#include <stddef.h>
#include <sys/types.h>

#include "blclient.h"

typedef struct {
    blc_t **conns;
    int n;
    int cap;
} idle_set_t;

/* Opens connections (threads at a time) until the set holds target; 0, or
 * -1 with the first failure in err (the connections opened stay). */
int idle_grow(idle_set_t *s, int target, const blc_options_t *opts, int threads,
              char *err, size_t errlen) __attribute__((warn_unused_result));

/* Closes the newest connections until the set holds at most target. */
void idle_shrink(idle_set_t *s, int target);

void idle_close(idle_set_t *s);

/* VmRSS of a process in KiB, from /proc/PID/status; -1 if unreadable. */
long idle_rss_kib(pid_t pid);

/* Raises this process's open-file limit to its hard limit; the new limit. */
long idle_raise_nofile(void);

#endif
