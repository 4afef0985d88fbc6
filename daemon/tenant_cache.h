/*
 * Which tenant a verified certificate subject belongs to, remembered by
 * one worker for a short while so that a client reconnecting (a script
 * running branchctl, a resumed TLS session) costs no database round trip
 * before its first request. The tenant a session gets only chooses its
 * rate-limit bucket and what its log lines show: every request is still
 * authorized by the database from the connection's subject, and a revoked
 * certificate never gets this far (the handshake refuses it). Only
 * principals found and enabled are remembered; an entry lives at most
 * TENANT_CACHE_TTL_MS and a reload (SIGHUP) forgets them all. Used by its
 * worker's thread only: no lock.
 */
#ifndef BRANCHD_TENANT_CACHE_H
#define BRANCHD_TENANT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define TENANT_CACHE_TTL_MS 30000u
#define TENANT_CACHE_SLOTS 512u

typedef struct tenant_cache tenant_cache_t;

tenant_cache_t *tenant_cache_new(uint64_t ttl_ms);
void tenant_cache_free(tenant_cache_t *tc);

/* The subject's tenant if remembered and not older than the TTL. */
bool tenant_cache_get(tenant_cache_t *tc, const char *subject, uint64_t now_ms, long long *tenant);

/* Remembers a tenant the database gave for the subject (a subject that
 * does not fit a slot is simply not remembered). */
void tenant_cache_put(tenant_cache_t *tc, const char *subject, long long tenant, uint64_t now_ms);

/* Forgets every subject (a reload). */
void tenant_cache_clear(tenant_cache_t *tc);

#endif
