/*
 * Latency histogram, log-linear like HdrHistogram: values below 256 are
 * counted exactly, larger ones in 128 sub-buckets per power of two (at most
 * 0.8% error), so recording is O(1) and the memory fixed (about 44 KiB)
 * whatever the number of samples. Values are nanoseconds.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_LINEAR (1u << (HIST_SUB_BITS + 1))          /* 256 exact values */
#define HIST_MAX_EXP 48                                   /* 2^48 ns: 78 hours */
#define HIST_BUCKETS (HIST_LINEAR + (HIST_MAX_EXP - HIST_SUB_BITS) * (1u << HIST_SUB_BITS))

typedef struct {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t min;
    uint64_t max;
} hist_t;

void hist_init(hist_t *h);
void hist_record(hist_t *h, uint64_t value);
void hist_merge(hist_t *into, const hist_t *from);

/* The value at percentile p (0 < p <= 100): the highest value of the bucket
 * holding it, never above the largest recorded value; 0 when empty. */
uint64_t hist_percentile(const hist_t *h, double p);

/* Bucket arithmetic, exposed for tests. */
unsigned hist_index(uint64_t value);
uint64_t hist_bucket_high(unsigned index);

#endif
