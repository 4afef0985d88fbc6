/*
 * Unit tests for the worker's subject -> tenant cache (daemon/tenant_cache.h):
 * a subject's tenant is served until its TTL ends, never for another
 * subject (not even one sharing its slot), and not after a clear (a reload).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tenant_cache.h"

static void test_served_until_ttl(void **state)
{
    (void)state;
    tenant_cache_t *tc = tenant_cache_new(1000);
    assert_non_null(tc);
    long long t = -1;
    assert_false(tenant_cache_get(tc, "CN=a", 0, &t));
    tenant_cache_put(tc, "CN=a", 7, 5000);
    assert_true(tenant_cache_get(tc, "CN=a", 5000, &t));
    assert_int_equal(t, 7);
    assert_true(tenant_cache_get(tc, "CN=a", 5999, &t));
    assert_false(tenant_cache_get(tc, "CN=a", 6000, &t));
    /* A clock before the entry (cannot happen with CLOCK_MONOTONIC) is a miss. */
    assert_false(tenant_cache_get(tc, "CN=a", 4999, &t));
    tenant_cache_free(tc);
}

static void test_other_subjects_miss(void **state)
{
    (void)state;
    tenant_cache_t *tc = tenant_cache_new(60000);
    tenant_cache_put(tc, "CN=a,O=x", 1, 0);
    long long t = -1;
    assert_false(tenant_cache_get(tc, "CN=a", 0, &t));
    assert_false(tenant_cache_get(tc, "CN=a,O=x,", 0, &t));
    /* Many subjects: several share a slot; each either finds its own
     * tenant or misses, never another's. */
    char subject[32];
    for (int i = 0; i < 3 * (int)TENANT_CACHE_SLOTS; i++) {
        snprintf(subject, sizeof subject, "CN=user%d", i);
        tenant_cache_put(tc, subject, 1000 + i, 0);
    }
    int hits = 0;
    for (int i = 0; i < 3 * (int)TENANT_CACHE_SLOTS; i++) {
        snprintf(subject, sizeof subject, "CN=user%d", i);
        if (tenant_cache_get(tc, subject, 0, &t)) {
            assert_int_equal(t, 1000 + i);
            hits++;
        }
    }
    assert_true(hits > 0 && hits <= (int)TENANT_CACHE_SLOTS);
    tenant_cache_free(tc);
}

static void test_clear_forgets(void **state)
{
    (void)state;
    tenant_cache_t *tc = tenant_cache_new(60000);
    tenant_cache_put(tc, "CN=a", 3, 0);
    tenant_cache_put(tc, "CN=b", 4, 0);
    tenant_cache_clear(tc);
    long long t = -1;
    assert_false(tenant_cache_get(tc, "CN=a", 1, &t));
    assert_false(tenant_cache_get(tc, "CN=b", 1, &t));
    tenant_cache_put(tc, "CN=a", 5, 2);
    assert_true(tenant_cache_get(tc, "CN=a", 3, &t));
    assert_int_equal(t, 5);
    tenant_cache_free(tc);
}

static void test_long_subject_not_stored(void **state)
{
    (void)state;
    tenant_cache_t *tc = tenant_cache_new(60000);
    char subject[300];
    memset(subject, 'x', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    tenant_cache_put(tc, subject, 9, 0);
    long long t = -1;
    assert_false(tenant_cache_get(tc, subject, 0, &t));
    tenant_cache_free(tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_served_until_ttl),
        cmocka_unit_test(test_other_subjects_miss),
        cmocka_unit_test(test_clear_forgets),
        cmocka_unit_test(test_long_subject_not_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
