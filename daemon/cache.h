/*
 * The read cache of one worker: answers of organization reads, keyed by the
 * caller's certificate subject, the operation and its packed arguments, and
 * stored as the packed Response (id 0) so a hit is sent without touching
 * PostgreSQL or re-encoding anything. Entries belong to a tenant and are
 * dropped when that tenant's organization changes (NOTIFY branchline_org,
 * from any daemon). Each worker owns its cache: no locks.
 */
#ifndef BRANCHD_CACHE_H
#define BRANCHD_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cache cache_t;

cache_t *cache_new(size_t max_bytes);
void cache_free(cache_t *c);

/* The stored bytes for key, or NULL. */
const uint8_t *cache_get(cache_t *c, const void *key, size_t keylen, size_t *vallen);

/*
 * Stores a copy of val under key for tenant (0 = unknown: dropped by any
 * invalidation). Skipped when an invalidation happened since `generation`
 * was read, because the answer may predate it.
 */
void cache_put(cache_t *c, const void *key, size_t keylen, long long tenant, uint64_t generation,
               const void *val, size_t vallen);

#define ORG_CHANNEL "branchline_org"

/* Drops everything (the notification stream had a gap). */
void cache_invalidate_all(cache_t *c);

/* While this worker hears no notifications (its listening connection is
 * down or not yet up), cached answers could go stale unnoticed: suspend
 * drops everything and serves and stores nothing until resume. */
void cache_suspend(cache_t *c);
void cache_resume(cache_t *c);

/* Drops the tenant's entries and those of unknown tenant. */
void cache_invalidate_tenant(cache_t *c, long long tenant);

/* Bumped by every invalidation. */
uint64_t cache_generation(const cache_t *c);

typedef struct {
    uint64_t hits, misses, entries, bytes, invalidations;
} cache_stats_t;

cache_stats_t cache_stats(const cache_t *c);

void cache_count_miss(cache_t *c);

#endif
