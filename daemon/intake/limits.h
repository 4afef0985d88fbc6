/*
 * Abuse limits of web intake, shared by every worker: a token bucket per
 * client address and per source (its token), and a count of the requests
 * each address has in flight. Keys live in one fixed table (open
 * addressing, LRU replacement when full), so a flood of addresses cannot
 * grow memory; a replaced key starts again with a full bucket.
 */
#ifndef BRANCHD_INTAKE_LIMITS_H
#define BRANCHD_INTAKE_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct intake_limits intake_limits_t;

/* per_minute requests a key may make on average, burst at once. */
intake_limits_t *intake_limits_new(unsigned slots, double per_minute_address, double per_minute_source,
                                   double burst, unsigned max_inflight_per_address);
void intake_limits_free(intake_limits_t *l);

typedef enum {
    LIMIT_OK,
    LIMIT_ADDRESS_RATE,     /* 429 */
    LIMIT_SOURCE_RATE,      /* 429 */
    LIMIT_ADDRESS_INFLIGHT, /* 429 */
} limit_rc_t;

/* Takes one token of the address's and the source's buckets and one
 * in-flight place of the address (give it back with intake_limits_leave).
 * *retry_after_s: when to try again, for a refusal. */
limit_rc_t intake_limits_enter(intake_limits_t *l, const char *address, const char *source_key, int64_t now_ms,
                               int *retry_after_s) __attribute__((warn_unused_result));
void intake_limits_leave(intake_limits_t *l, const char *address);

#endif
