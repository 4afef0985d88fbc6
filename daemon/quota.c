#include "quota.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096 /* fixed: chains stay short for any realistic number of identities */

typedef struct identity {
    struct identity *next;
    int count;
    char subject[];
} identity_t;

struct identity_limit {
    pthread_mutex_t lock; /* taken once per handshake and per close, never per request */
    int max;
    identity_t *buckets[BUCKETS];
};

static unsigned slot_of(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

identity_limit_t *identity_limit_new(int max_per_identity)
{
    identity_limit_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    pthread_mutex_init(&l->lock, NULL);
    l->max = max_per_identity;
    return l;
}

void identity_limit_free(identity_limit_t *l)
{
    if (!l)
        return;
    for (unsigned i = 0; i < BUCKETS; i++) {
        for (identity_t *e = l->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&l->lock);
    free(l);
}

const char *identity_limit_acquire(identity_limit_t *l, const char *subject)
{
    unsigned slot = slot_of(subject);
    const char *ok = NULL;
    pthread_mutex_lock(&l->lock);
    identity_t *e = l->buckets[slot];
    while (e && strcmp(e->subject, subject) != 0)
        e = e->next;
    if (!e && (e = calloc(1, sizeof *e + strlen(subject) + 1))) {
        strcpy(e->subject, subject);
        e->next = l->buckets[slot];
        l->buckets[slot] = e;
    }
    if (e && e->count < l->max) {
        e->count++;
        ok = e->subject;
    }
    pthread_mutex_unlock(&l->lock);
    return ok;
}

void identity_limit_release(identity_limit_t *l, const char *subject)
{
    unsigned slot = slot_of(subject);
    pthread_mutex_lock(&l->lock);
    for (identity_t **link = &l->buckets[slot]; *link; link = &(*link)->next) {
        identity_t *e = *link;
        if (strcmp(e->subject, subject) != 0)
            continue;
        if (--e->count == 0) {
            *link = e->next;
            free(e);
        }
        break;
    }
    pthread_mutex_unlock(&l->lock);
}

typedef struct bucket {
    struct bucket *next;
    long long tenant;
    double tokens;
    uint64_t last_ms;
} bucket_t;

struct rate_limit {
    double rate, burst;
    bucket_t *buckets[BUCKETS];
};

rate_limit_t *rate_limit_new(double rate, double burst)
{
    rate_limit_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->rate = rate;
    r->burst = burst < 1 ? 1 : burst;
    return r;
}

void rate_limit_configure(rate_limit_t *r, double rate, double burst)
{
    r->rate = rate;
    r->burst = burst < 1 ? 1 : burst;
}

void rate_limit_free(rate_limit_t *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < BUCKETS; i++) {
        for (bucket_t *b = r->buckets[i], *next; b; b = next) {
            next = b->next;
            free(b);
        }
    }
    free(r);
}

bool rate_limit_allow(rate_limit_t *r, long long tenant, uint64_t now_ms)
{
    if (r->rate <= 0)
        return true;
    unsigned slot = (unsigned)((unsigned long long)tenant % BUCKETS);
    bucket_t *b = r->buckets[slot];
    while (b && b->tenant != tenant)
        b = b->next;
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return true; /* out of memory is not the client's fault */
        b->tenant = tenant;
        b->tokens = r->burst;
        b->last_ms = now_ms;
        b->next = r->buckets[slot];
        r->buckets[slot] = b;
    }
    b->tokens += (double)(now_ms - b->last_ms) * r->rate / 1000.0;
    if (b->tokens > r->burst)
        b->tokens = r->burst;
    b->last_ms = now_ms;
    if (b->tokens < 1)
        return false;
    b->tokens -= 1;
    return true;
}
