/* Durations and deadlines come from CLOCK_MONOTONIC (wall-clock steps must
 * not make them negative or huge). */
#ifndef BRANCHD_CLOCK_H
#define BRANCHD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
