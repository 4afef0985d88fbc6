/* daemon/intake/limits.c: per-address and per-source buckets, the in-flight
 * cap, Retry-After, and a full table that still limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "intake/limits.h"

static void test_address_bucket_and_refill(void **state)
{
    (void)state;
    intake_limits_t *l = intake_limits_new(64, 60, 6000, 3, 100); /* 1 a second per address, burst 3 */
    int retry;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(intake_limits_enter(l, "10.0.0.1", "tok", 1000, &retry), LIMIT_OK);
        intake_limits_leave(l, "10.0.0.1");
    }
    assert_int_equal(intake_limits_enter(l, "10.0.0.1", "tok", 1000, &retry), LIMIT_ADDRESS_RATE);
    assert_int_equal(retry, 1);
    assert_int_equal(intake_limits_enter(l, "10.0.0.2", "tok2", 1000, &retry), LIMIT_OK);
    intake_limits_leave(l, "10.0.0.2");
    assert_int_equal(intake_limits_enter(l, "10.0.0.1", "tok", 2001, &retry), LIMIT_OK);
    intake_limits_leave(l, "10.0.0.1");
    intake_limits_free(l);
}

static void test_source_bucket_spans_addresses(void **state)
{
    (void)state;
    intake_limits_t *l = intake_limits_new(64, 6000, 1, 2, 100); /* 1 a minute per source */
    int retry;
    char addr[32];
    for (int i = 0; i < 2; i++) {
        snprintf(addr, sizeof addr, "10.0.1.%d", i);
        assert_int_equal(intake_limits_enter(l, addr, "flooded", 0, &retry), LIMIT_OK);
        intake_limits_leave(l, addr);
    }
    assert_int_equal(intake_limits_enter(l, "10.0.1.9", "flooded", 0, &retry), LIMIT_SOURCE_RATE);
    assert_in_range(retry, 55, 61);
    assert_int_equal(intake_limits_enter(l, "10.0.1.9", "other", 0, &retry), LIMIT_OK);
    intake_limits_leave(l, "10.0.1.9");
    intake_limits_free(l);
}

static void test_inflight_cap(void **state)
{
    (void)state;
    intake_limits_t *l = intake_limits_new(64, 6000, 6000, 100, 2);
    int retry;
    assert_int_equal(intake_limits_enter(l, "::1", "t", 0, &retry), LIMIT_OK);
    assert_int_equal(intake_limits_enter(l, "::1", "t", 0, &retry), LIMIT_OK);
    assert_int_equal(intake_limits_enter(l, "::1", "t", 0, &retry), LIMIT_ADDRESS_INFLIGHT);
    intake_limits_leave(l, "::1");
    assert_int_equal(intake_limits_enter(l, "::1", "t", 0, &retry), LIMIT_OK);
    intake_limits_free(l);
}

static void test_full_table_replaces_idle_keys(void **state)
{
    (void)state;
    intake_limits_t *l = intake_limits_new(8, 60, 6e9, 1, 100);
    int retry;
    char addr[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(addr, sizeof addr, "10.1.%d.%d", i / 256, i % 256);
        assert_int_equal(intake_limits_enter(l, addr, "t", i, &retry), LIMIT_OK);
        intake_limits_leave(l, addr);
    }
    assert_int_equal(intake_limits_enter(l, "10.9.9.9", "t", 2000, &retry), LIMIT_OK);
    assert_int_equal(intake_limits_enter(l, "10.9.9.9", "t", 2000, &retry), LIMIT_ADDRESS_RATE);
    intake_limits_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_bucket_and_refill),
        cmocka_unit_test(test_source_bucket_spans_addresses),
        cmocka_unit_test(test_inflight_cap),
        cmocka_unit_test(test_full_table_replaces_idle_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
