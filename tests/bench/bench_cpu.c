#include "bench_cpu.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

double bench_cpu_s(pid_t pid)
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
