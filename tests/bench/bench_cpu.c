#include "bench_cpu.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The scheduler's run time of each thread of pid (nanoseconds, exact), or
 * -1 when the kernel keeps no schedstat. Threads that ended are missed:
 * the daemon's workers live as long as it does. */
static double schedstat_s(pid_t pid)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    unsigned long long total = 0;
    int threads = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.32s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long ns;
        int ok = f && fscanf(f, "%llu", &ns) == 1;
        if (f)
            fclose(f);
        if (!ok) {
            threads = 0;
            break;
        }
        total += ns;
        threads++;
    }
    closedir(dir);
    return threads ? (double)total / 1e9 : -1;
}

/* User plus system time from /proc/PID/stat, in clock ticks (10 ms here). */
static double stat_s(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    /* The name (field 2) may hold spaces and parentheses: count from its end. */
    char *p = ok ? strrchr(line, ')') : NULL;
    unsigned long long utime, stime;
    long hz = sysconf(_SC_CLK_TCK);
    if (!p || hz <= 0 ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)hz;
}

double bench_cpu_s(pid_t pid)
{
    double s = schedstat_s(pid);
    return s >= 0 ? s : stat_s(pid);
}
