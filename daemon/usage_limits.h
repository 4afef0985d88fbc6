/*
 * Limits that keep one client from starving others: open connections per
 * certificate identity (shared by all workers), a request rate per
 * tenant and a handshake rate per source address (token buckets per
 * worker, each with its share of the rate).
 */
#ifndef BRANCHD_USAGE_LIMITS_H
#define BRANCHD_USAGE_LIMITS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct identity_limit identity_limit_t;
typedef struct rate_limit rate_limit_t;

identity_limit_t *identity_limit_new(int max_per_identity);
void identity_limit_free(identity_limit_t *l);
/*
 * Counts one more connection of subject. Returns the limit's own copy of the
 * subject, valid until the matching release (so connections of one identity
 * share one string), or NULL (nothing counted) over the limit.
 */
const char *identity_limit_acquire(identity_limit_t *l, const char *subject);
void identity_limit_release(identity_limit_t *l, const char *subject);

/* rate = requests per second, burst = bucket size; rate 0 = unlimited. */
rate_limit_t *rate_limit_new(double rate, double burst);
void rate_limit_free(rate_limit_t *r);
/* New figures (reload); buckets keep their tokens, capped at the new burst. */
void rate_limit_configure(rate_limit_t *r, double rate, double burst);
/* Takes one token from the tenant's bucket; false when it is empty. */
bool rate_limit_allow(rate_limit_t *r, long long tenant, uint64_t now_ms);

/*
 * New TLS handshakes per source address (a token bucket each, per worker
 * with its share of the rate): a full handshake costs the daemon far more
 * CPU than the client, so one address must not be able to buy it without
 * bound. A fixed table, so that many addresses cost no more memory: an
 * address whose slot another took starts again with a full bucket.
 * rate 0 = unlimited.
 */
typedef struct handshake_limit handshake_limit_t;
handshake_limit_t *handshake_limit_new(double rate, double burst);
void handshake_limit_free(handshake_limit_t *h);
bool handshake_limit_allow(handshake_limit_t *h, const struct sockaddr *addr, uint64_t now_ms);

#endif
