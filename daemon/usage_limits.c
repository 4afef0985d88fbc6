#include "usage_limits.h"

#include <netinet/in.h>
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

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static unsigned slot_of(const char *s)
{
    return fnv1a((const unsigned char *)s, strlen(s)) % BUCKETS;
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

/* Refills b for the time since its last use and takes a token if it has one. */
static bool bucket_take(bucket_t *b, double rate, double burst, uint64_t now_ms)
{
    b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_ms = now_ms;
    if (b->tokens < 1)
        return false;
    b->tokens -= 1;
    return true;
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
    return bucket_take(b, r->rate, r->burst, now_ms);
}

typedef struct {
    unsigned char addr[16];     /* IPv6, or IPv4 in the first 4 bytes */
    bool used;
    bucket_t bucket;
} addr_slot_t;

struct handshake_limit {
    double rate, burst;
    addr_slot_t slots[BUCKETS];
};

handshake_limit_t *handshake_limit_new(double rate, double burst)
{
    handshake_limit_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->rate = rate;
    h->burst = burst < 1 ? 1 : burst;
    return h;
}

void handshake_limit_free(handshake_limit_t *h)
{
    free(h);
}

bool handshake_limit_allow(handshake_limit_t *h, const struct sockaddr *addr, uint64_t now_ms)
{
    if (h->rate <= 0)
        return true;
    unsigned char key[16] = {0};
    if (addr->sa_family == AF_INET)
        memcpy(key, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    else if (addr->sa_family == AF_INET6)
        memcpy(key, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    addr_slot_t *s = &h->slots[fnv1a(key, sizeof key) % BUCKETS];
    if (!s->used || memcmp(s->addr, key, sizeof key) != 0) {
        memcpy(s->addr, key, sizeof key);
        s->used = true;
        s->bucket.tokens = h->burst;
        s->bucket.last_ms = now_ms;
    }
    return bucket_take(&s->bucket, h->rate, h->burst, now_ms);
}
