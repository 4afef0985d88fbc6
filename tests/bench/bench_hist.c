#include "bench_hist.h"

#include <math.h>
#include <string.h>

void hist_init(hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

unsigned hist_index(uint64_t value)
{
    if (value < HIST_LINEAR)
        return (unsigned)value;
    unsigned e = 63u - (unsigned)__builtin_clzll(value);
    if (e > HIST_MAX_EXP)
        return HIST_BUCKETS - 1;
    unsigned sub = (unsigned)(value >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1);
    return HIST_LINEAR + (e - HIST_SUB_BITS - 1) * (1u << HIST_SUB_BITS) + sub;
}

uint64_t hist_bucket_high(unsigned index)
{
    if (index < HIST_LINEAR)
        return index;
    unsigned k = index - HIST_LINEAR;
    unsigned e = k / (1u << HIST_SUB_BITS) + HIST_SUB_BITS + 1;
    uint64_t sub = k % (1u << HIST_SUB_BITS);
    uint64_t low = ((1ull << HIST_SUB_BITS) + sub) << (e - HIST_SUB_BITS);
    return low + (1ull << (e - HIST_SUB_BITS)) - 1;
}

void hist_record(hist_t *h, uint64_t value)
{
    h->counts[hist_index(value)]++;
    h->total++;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void hist_merge(hist_t *into, const hist_t *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t hist_percentile(const hist_t *h, double p)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}
