/* The CPU time a process has used, for the daemon's cost per request. */
#ifndef BENCH_CPU_H
#define BENCH_CPU_H

#include <sys/types.h>

/* User plus system CPU seconds of process pid so far (from /proc/PID/stat,
 * in clock ticks: 10 ms here), or -1 when it cannot be read. */
double bench_cpu_s(pid_t pid);

#endif
