#include "cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *chain;           /* same bucket */
    struct entry *older, *newer;   /* insertion order, for eviction */
    uint64_t hash;
    long long tenant;
    size_t keylen, vallen;
    uint8_t data[];                /* key, then value */
} entry_t;

struct cache {
    entry_t **buckets;
    size_t nbuckets;               /* a power of two */
    entry_t *oldest, *newest;
    size_t bytes, max_bytes;
    uint64_t generation;
    bool suspended;                /* nothing stored or served: changes go unheard */
    cache_stats_t stats;
};

#define INITIAL_BUCKETS 1024

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

cache_t *cache_new(size_t max_bytes)
{
    cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nbuckets = INITIAL_BUCKETS;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    return c;
}

static size_t entry_size(const entry_t *e)
{
    return sizeof *e + e->keylen + e->vallen;
}

static void entry_remove(cache_t *c, entry_t *e)
{
    entry_t **link = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*link != e)
        link = &(*link)->chain;
    *link = e->chain;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    c->bytes -= entry_size(e);
    c->stats.entries--;
    free(e);
}

void cache_free(cache_t *c)
{
    if (!c)
        return;
    while (c->oldest)
        entry_remove(c, c->oldest);
    free(c->buckets);
    free(c);
}

static entry_t *lookup(const cache_t *c, const void *key, size_t keylen, uint64_t h)
{
    for (entry_t *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->chain)
        if (e->hash == h && e->keylen == keylen && memcmp(e->data, key, keylen) == 0)
            return e;
    return NULL;
}

const uint8_t *cache_get(cache_t *c, const void *key, size_t keylen, size_t *vallen)
{
    entry_t *e = c->suspended ? NULL : lookup(c, key, keylen, hash_bytes(key, keylen));
    if (!e)
        return NULL;
    c->stats.hits++;
    *vallen = e->vallen;
    return e->data + e->keylen;
}

void cache_count_miss(cache_t *c)
{
    c->stats.misses++;
}

static void grow(cache_t *c)
{
    size_t n = c->nbuckets * 2;
    entry_t **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (entry_t *e = c->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

void cache_put(cache_t *c, const void *key, size_t keylen, long long tenant, uint64_t generation,
               const void *val, size_t vallen)
{
    if (generation != c->generation || c->suspended)
        return;
    uint64_t h = hash_bytes(key, keylen);
    entry_t *old = lookup(c, key, keylen, h);
    if (old)
        entry_remove(c, old);
    size_t size = sizeof(entry_t) + keylen + vallen;
    if (size > c->max_bytes / 4)
        return; /* one answer must not flush the rest */
    while (c->oldest && c->bytes + size > c->max_bytes)
        entry_remove(c, c->oldest);
    entry_t *e = malloc(size);
    if (!e)
        return;
    e->hash = h;
    e->tenant = tenant;
    e->keylen = keylen;
    e->vallen = vallen;
    memcpy(e->data, key, keylen);
    memcpy(e->data + keylen, val, vallen);
    size_t slot = h & (c->nbuckets - 1);
    e->chain = c->buckets[slot];
    c->buckets[slot] = e;
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->bytes += size;
    c->stats.entries++;
    if (c->stats.entries > c->nbuckets)
        grow(c);
}

void cache_invalidate_tenant(cache_t *c, long long tenant)
{
    c->generation++;
    c->stats.invalidations++;
    /* A scan: the cache is bounded in bytes, and changes are rare next to reads. */
    for (entry_t *e = c->oldest, *next; e; e = next) {
        next = e->newer;
        if (e->tenant == tenant || e->tenant == 0)
            entry_remove(c, e);
    }
}

void cache_suspend(cache_t *c)
{
    cache_invalidate_all(c);
    c->suspended = true;
}

void cache_resume(cache_t *c)
{
    cache_invalidate_all(c);
    c->suspended = false;
}

void cache_invalidate_all(cache_t *c)
{
    c->generation++;
    c->stats.invalidations++;
    while (c->oldest)
        entry_remove(c, c->oldest);
}

uint64_t cache_generation(const cache_t *c)
{
    return c->generation;
}

cache_stats_t cache_stats(const cache_t *c)
{
    cache_stats_t s = c->stats;
    s.bytes = c->bytes;
    return s;
}
