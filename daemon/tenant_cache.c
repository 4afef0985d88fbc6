#include "tenant_cache.h"

#include <stdlib.h>
#include <string.h>

/* Subjects come from tls_peer_subject's 256-byte buffer. */
#define SUBJECT_MAX 256

/* Direct-mapped: a subject has one slot (by its hash), and a newcomer
 * takes it over. Memory is bounded (SLOTS x the slot) whatever the clients. */
typedef struct {
    uint64_t stored_ms;
    long long tenant;
    bool used;
    char subject[SUBJECT_MAX];
} slot_t;

struct tenant_cache {
    uint64_t ttl_ms;
    slot_t slots[TENANT_CACHE_SLOTS];
};

/* FNV-1a. */
static unsigned slot_of(const char *subject)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)subject; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (unsigned)(h % TENANT_CACHE_SLOTS);
}

tenant_cache_t *tenant_cache_new(uint64_t ttl_ms)
{
    tenant_cache_t *tc = calloc(1, sizeof *tc);
    if (tc)
        tc->ttl_ms = ttl_ms;
    return tc;
}

void tenant_cache_free(tenant_cache_t *tc)
{
    free(tc);
}

bool tenant_cache_get(tenant_cache_t *tc, const char *subject, uint64_t now_ms, long long *tenant)
{
    const slot_t *s = &tc->slots[slot_of(subject)];
    if (!s->used || now_ms - s->stored_ms >= tc->ttl_ms || now_ms < s->stored_ms ||
        strcmp(s->subject, subject) != 0)
        return false;
    *tenant = s->tenant;
    return true;
}

void tenant_cache_put(tenant_cache_t *tc, const char *subject, long long tenant, uint64_t now_ms)
{
    size_t len = strlen(subject);
    if (len >= SUBJECT_MAX)
        return;
    slot_t *s = &tc->slots[slot_of(subject)];
    memcpy(s->subject, subject, len + 1);
    s->tenant = tenant;
    s->stored_ms = now_ms;
    s->used = true;
}

void tenant_cache_clear(tenant_cache_t *tc)
{
    for (unsigned i = 0; i < TENANT_CACHE_SLOTS; i++)
        tc->slots[i].used = false;
}
