/*
 * The daemon's clocks. Durations, deadlines and timeouts come from
 * CLOCK_MONOTONIC (clock_mono_us, the one reader; now_ms is it in
 * milliseconds), so a step of the wall clock cannot stretch, cut or make
 * them negative; wall time is only for what is shown or stored as a
 * timestamp.
 */
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

static inline uint64_t now_ms(void)
{
    return clock_mono_us() / 1000u;
}

/* Milliseconds since the Unix epoch, for timestamps shown to a client. */
static inline uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
