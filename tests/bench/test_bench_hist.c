/* The latency histogram of blbench: bucket bounds, percentiles, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bench_hist.h"

static void test_small_values_are_exact(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < HIST_LINEAR; v++) {
        assert_int_equal(hist_index(v), v);
        assert_int_equal(hist_bucket_high(hist_index(v)), v);
    }
}

/* Every value lies in its bucket, whose width is at most 1/128 of it. */
static void test_buckets_bound_values(void **state)
{
    (void)state;
    for (uint64_t v = HIST_LINEAR; v < (1ull << 40); v = v * 21 / 20 + 7) {
        unsigned i = hist_index(v);
        uint64_t high = hist_bucket_high(i);
        assert_true(i < HIST_BUCKETS);
        assert_true(high >= v);
        assert_true((double)(high - v) <= (double)v / 128.0);
        assert_true(i == 0 || hist_bucket_high(i - 1) < v);
    }
    assert_int_equal(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

static void test_percentiles(void **state)
{
    (void)state;
    hist_t *h = malloc(sizeof *h);
    assert_non_null(h);
    hist_init(h);
    assert_int_equal(hist_percentile(h, 99), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(h, v * 1000);
    assert_int_equal(h->total, 100000);
    assert_int_equal(h->min, 1000);
    assert_int_equal(h->max, 100000000);
    double p50 = (double)hist_percentile(h, 50), p99 = (double)hist_percentile(h, 99);
    assert_true(p50 >= 50000000.0 && p50 <= 50000000.0 * 1.008);
    assert_true(p99 >= 99000000.0 && p99 <= 99000000.0 * 1.008);
    assert_int_equal(hist_percentile(h, 100), 100000000);
    free(h);
}

static void test_merge(void **state)
{
    (void)state;
    hist_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    hist_init(a);
    hist_init(b);
    for (int i = 0; i < 99; i++)
        hist_record(a, 100);
    hist_record(b, 5000000);
    hist_merge(a, b);
    assert_int_equal(a->total, 100);
    assert_int_equal(a->max, 5000000);
    assert_int_equal(hist_percentile(a, 99), 100);
    assert_true(hist_percentile(a, 99.9) >= 5000000);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_values_are_exact),
        cmocka_unit_test(test_buckets_bound_values),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
