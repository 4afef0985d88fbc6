#include "cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

typedef struct entry {
    SLIST_ENTRY(entry) chain;      /* same bucket */
    TAILQ_ENTRY(entry) age;        /* insertion order, oldest first, for eviction */
    uint64_t hash;
    long long tenant;
    size_t keylen, vallen;
    uint8_t data[];                /* key, then value */
} entry_t;

SLIST_HEAD(bucket, entry);

struct cache {
    struct bucket *buckets;
    size_t nbuckets;               /* a power of two */
    TAILQ_HEAD(, entry) by_age;
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
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets); /* zero: empty SLISTs */
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    TAILQ_INIT(&c->by_age);
    c->max_bytes = max_bytes;
    return c;
}

static size_t entry_size(const entry_t *e)
{
    return sizeof *e + e->keylen + e->vallen;
}

static void entry_remove(cache_t *c, entry_t *e)
{
    SLIST_REMOVE(&c->buckets[e->hash & (c->nbuckets - 1)], e, entry, chain);
    TAILQ_REMOVE(&c->by_age, e, age);
    c->bytes -= entry_size(e);
    c->stats.entries--;
    free(e);
}

void cache_free(cache_t *c)
{
    if (!c)
        return;
    while (!TAILQ_EMPTY(&c->by_age))
        entry_remove(c, TAILQ_FIRST(&c->by_age));
    free(c->buckets);
    free(c);
}

static entry_t *lookup(const cache_t *c, const void *key, size_t keylen, uint64_t h)
{
    entry_t *e;
    SLIST_FOREACH(e, &c->buckets[h & (c->nbuckets - 1)], chain)
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
    struct bucket *b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->nbuckets; i++) {
        entry_t *e;
        while ((e = SLIST_FIRST(&c->buckets[i]))) {
            SLIST_REMOVE_HEAD(&c->buckets[i], chain);
            SLIST_INSERT_HEAD(&b[e->hash & (n - 1)], e, chain);
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
    while (!TAILQ_EMPTY(&c->by_age) && c->bytes + size > c->max_bytes)
        entry_remove(c, TAILQ_FIRST(&c->by_age));
    entry_t *e = malloc(size);
    if (!e)
        return;
    e->hash = h;
    e->tenant = tenant;
    e->keylen = keylen;
    e->vallen = vallen;
    memcpy(e->data, key, keylen);
    memcpy(e->data + keylen, val, vallen);
    SLIST_INSERT_HEAD(&c->buckets[h & (c->nbuckets - 1)], e, chain);
    TAILQ_INSERT_TAIL(&c->by_age, e, age);
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
    for (entry_t *e = TAILQ_FIRST(&c->by_age), *next; e; e = next) {
        next = TAILQ_NEXT(e, age);
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
    while (!TAILQ_EMPTY(&c->by_age))
        entry_remove(c, TAILQ_FIRST(&c->by_age));
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
