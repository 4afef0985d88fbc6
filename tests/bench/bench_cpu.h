/* The CPU time a process has used, for the daemon's cost per request. */
#ifndef BENCH_CPU_H
#define BENCH_CPU_H

#include <sys/types.h>

/* CPU seconds process pid has used so far: the sum of its threads' run
 * times from /proc/PID/task/T/schedstat (nanoseconds), else user plus
 * system time from /proc/PID/stat (clock ticks: 10 ms, too coarse for the
 * few hundred milliseconds a paced run costs); -1 when neither reads. */
double bench_cpu_s(pid_t pid);

#endif
