/*
 * Unit tests for the worker read cache (daemon/cache.h): answers are served
 * until their tenant is invalidated, an answer computed before an
 * invalidation is not stored, and while the cache is suspended (the worker
 * hears no notifications) nothing is served or stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"

static void put(cache_t *c, const char *key, long long tenant, const char *val)
{
    cache_put(c, key, strlen(key), tenant, cache_generation(c), val, strlen(val));
}

static const char *get(cache_t *c, const char *key)
{
    static char buf[64];
    size_t len = 0;
    const uint8_t *v = cache_get(c, key, strlen(key), &len);
    if (!v)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

static void test_tenant_invalidation(void **state)
{
    (void)state;
    cache_t *c = cache_new(1u << 20);
    assert_non_null(c);
    put(c, "a", 1, "one");
    put(c, "b", 2, "two");
    assert_string_equal(get(c, "a"), "one");
    cache_invalidate_tenant(c, 1);
    assert_null(get(c, "a"));
    assert_string_equal(get(c, "b"), "two");
    cache_free(c);
}

static void test_stale_generation_not_stored(void **state)
{
    (void)state;
    cache_t *c = cache_new(1u << 20);
    uint64_t before = cache_generation(c);
    cache_invalidate_tenant(c, 7);  /* a change while the answer was computed */
    cache_put(c, "k", 1, 7, before, "old", 3);
    assert_null(get(c, "k"));
    cache_free(c);
}

static void test_suspended_serves_and_stores_nothing(void **state)
{
    (void)state;
    cache_t *c = cache_new(1u << 20);
    put(c, "a", 1, "one");
    cache_suspend(c);
    assert_null(get(c, "a"));
    put(c, "b", 1, "two");
    assert_null(get(c, "b"));
    cache_resume(c);
    assert_null(get(c, "a"));  /* what was there before the gap is gone too */
    assert_null(get(c, "b"));
    put(c, "c", 1, "three");
    assert_string_equal(get(c, "c"), "three");
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tenant_invalidation),
        cmocka_unit_test(test_stale_generation_not_stored),
        cmocka_unit_test(test_suspended_serves_and_stores_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
