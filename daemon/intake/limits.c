#include "intake/limits.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 80
#define PROBES 8

typedef struct {
    char key[KEY_MAX];      /* "a:" + address or "s:" + source key; "" = free */
    double tokens;
    int64_t refilled_ms;
    int64_t used_ms;        /* for LRU replacement */
    unsigned inflight;
} bucket_t;

struct intake_limits {
    pthread_mutex_t lock;
    bucket_t *slots;
    unsigned count;
    double per_ms_address, per_ms_source, burst;
    unsigned max_inflight;
};

intake_limits_t *intake_limits_new(unsigned slots, double per_minute_address, double per_minute_source,
                                   double burst, unsigned max_inflight_per_address)
{
    intake_limits_t *l = calloc(1, sizeof *l);
    if (!l || !(l->slots = calloc(slots, sizeof *l->slots))) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->count = slots;
    l->per_ms_address = per_minute_address / 60000.0;
    l->per_ms_source = per_minute_source / 60000.0;
    l->burst = burst;
    l->max_inflight = max_inflight_per_address;
    return l;
}

void intake_limits_free(intake_limits_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The bucket of key: found, or a free or least recently used one taken over. */
static bucket_t *bucket_for(intake_limits_t *l, const char *prefix, const char *name, double burst,
                            int64_t now_ms)
{
    char key[KEY_MAX];
    size_t plen = strlen(prefix);
    memcpy(key, prefix, plen);
    strncpy(key + plen, name, sizeof key - plen - 1);
    key[sizeof key - 1] = '\0';
    uint32_t h = hash(key);
    bucket_t *victim = NULL;
    for (unsigned i = 0; i < PROBES; i++) {
        bucket_t *b = &l->slots[(h + i) % l->count];
        if (strcmp(b->key, key) == 0)
            return b;
        if (!victim || (b->key[0] == '\0' && victim->key[0] != '\0') ||
            (victim->key[0] != '\0' && b->inflight == 0 && b->used_ms < victim->used_ms))
            victim = b;
    }
    if (victim->inflight > 0)
        return NULL; /* every candidate is busy: treat the key as new but untracked */
    memset(victim, 0, sizeof *victim);
    strcpy(victim->key, key);
    victim->tokens = burst;
    victim->refilled_ms = now_ms;
    return victim;
}

static bool take(bucket_t *b, double per_ms, double burst, int64_t now_ms, int *retry_after_s)
{
    b->tokens += (double)(now_ms - b->refilled_ms) * per_ms;
    if (b->tokens > burst)
        b->tokens = burst;
    b->refilled_ms = now_ms;
    b->used_ms = now_ms;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    /* whole seconds until a token is back, rounded up */
    *retry_after_s = per_ms > 0 ? (int)(((1.0 - b->tokens) / per_ms + 999.0) / 1000.0) : 60;
    return false;
}

limit_rc_t intake_limits_enter(intake_limits_t *l, const char *address, const char *source_key, int64_t now_ms,
                               int *retry_after_s)
{
    limit_rc_t rc = LIMIT_OK;
    *retry_after_s = 1;
    pthread_mutex_lock(&l->lock);
    bucket_t *a = bucket_for(l, "a:", address, l->burst, now_ms);
    /* Held while the source's bucket is found, so that it is not the one replaced. */
    if (a)
        a->inflight++;
    bucket_t *s = bucket_for(l, "s:", source_key, l->burst, now_ms);
    if (a && a->inflight > l->max_inflight)
        rc = LIMIT_ADDRESS_INFLIGHT;
    else if (a && !take(a, l->per_ms_address, l->burst, now_ms, retry_after_s))
        rc = LIMIT_ADDRESS_RATE;
    else if (s && !take(s, l->per_ms_source, l->burst, now_ms, retry_after_s))
        rc = LIMIT_SOURCE_RATE;
    if (a && rc != LIMIT_OK)
        a->inflight--;
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void intake_limits_leave(intake_limits_t *l, const char *address)
{
    pthread_mutex_lock(&l->lock);
    bucket_t *a = bucket_for(l, "a:", address, l->burst, 0);
    if (a && a->inflight > 0)
        a->inflight--;
    pthread_mutex_unlock(&l->lock);
}
