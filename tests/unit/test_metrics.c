/*
 * Unit tests for the metrics registry and text writer (daemon/metrics.h):
 * the exposition format (HELP/TYPE, labels, cumulative histogram buckets
 * with +Inf, _sum and _count), sums over the threads' slots, bounded
 * labels, and the refusals (a name taken or malformed, registering after
 * start).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "metrics.h"

static char *scrape(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(metrics_write(out), 0);
    fclose(out);
    return text;
}

static const char *const codes[] = {"OK", "NOT_FOUND"};
static const char *const ops[] = {"ping", "unit_list"};
static const double buckets[] = {0.01, 0.1, 1};

static void test_exposition(void **state)
{
    (void)state;
    metric_label_t two[2] = {{"operation", ops, 2}, {"code", codes, 2}};
    metric_t *req = metrics_register(METRIC_COUNTER, "t_requests_total", "Requests.", two, 2, NULL, 0);
    metric_t *up = metrics_register(METRIC_GAUGE, "t_up", "Up.", NULL, 0, NULL, 0);
    metric_t *dur = metrics_register(METRIC_HISTOGRAM, "t_duration_seconds", "Durations.", two, 1,
                                     buckets, 3);
    assert_non_null(req);
    assert_non_null(up);
    assert_non_null(dur);
    assert_int_equal(metrics_start(4), 0);
    metrics_add(req, metrics_series(req, 1, 1), 2);
    metrics_set(up, 0, 1);
    metrics_observe(dur, metrics_series(dur, 0, 0), 0.005);
    metrics_observe(dur, metrics_series(dur, 0, 0), 0.5);
    metrics_observe(dur, metrics_series(dur, 0, 0), 7);
    char *text = scrape();
    assert_non_null(strstr(text, "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"));
    assert_non_null(strstr(text, "t_requests_total{operation=\"unit_list\",code=\"NOT_FOUND\"} 2\n"));
    /* A small family shows its zeros too (a zero is information). */
    assert_non_null(strstr(text, "t_requests_total{operation=\"ping\",code=\"OK\"} 0\n"));
    assert_non_null(strstr(text, "# TYPE t_up gauge\nt_up 1\n"));
    assert_non_null(strstr(text, "t_duration_seconds_bucket{operation=\"ping\",le=\"0.01\"} 1\n"));
    assert_non_null(strstr(text, "t_duration_seconds_bucket{operation=\"ping\",le=\"0.1\"} 1\n"));
    assert_non_null(strstr(text, "t_duration_seconds_bucket{operation=\"ping\",le=\"1\"} 2\n"));
    assert_non_null(strstr(text, "t_duration_seconds_bucket{operation=\"ping\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "t_duration_seconds_sum{operation=\"ping\"} 7.505000\n"));
    assert_non_null(strstr(text, "t_duration_seconds_count{operation=\"ping\"} 3\n"));
    /* A histogram shows only the series that observed something. */
    assert_null(strstr(text, "operation=\"unit_list\",le="));
    free(text);
    /* Out-of-range series and labels fall on nothing or on the first value. */
    metrics_add(req, 99, 1);
    assert_int_equal(metrics_label_index(req, 0, "nope"), 0);
    assert_int_equal(metrics_label_index(req, 1, "NOT_FOUND"), 1);
    metrics_free();
}

static const char *const six[] = {"a", "b", "c", "d", "e", "other"};

static void test_large_family_shows_used_series(void **state)
{
    (void)state;
    metric_label_t l[2] = {{"x", six, 6}, {"y", six, 6}};
    metric_t *m = metrics_register(METRIC_COUNTER, "t_grid_total", "Grid.", l, 2, NULL, 0);
    assert_non_null(m);
    assert_int_equal(metrics_start(2), 0);
    size_t x = metrics_label_index(m, 0, "unknown value"); /* falls on "other" */
    assert_int_equal(x, 5);
    metrics_add(m, metrics_series(m, x, 1), 1);
    char *text = scrape();
    assert_non_null(strstr(text, "t_grid_total{x=\"other\",y=\"b\"} 1\n"));
    assert_null(strstr(text, "y=\"a\"}"));
    free(text);
    metrics_free();
}

static metric_t *shared;

static void *add_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        metrics_add(shared, 0, 1);
    return NULL;
}

static void test_threads_sum(void **state)
{
    (void)state;
    shared = metrics_register(METRIC_COUNTER, "t_events_total", "Events.", NULL, 0, NULL, 0);
    assert_non_null(shared);
    assert_int_equal(metrics_start(3), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, add_many, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *text = scrape();
    assert_non_null(strstr(text, "t_events_total 40000\n"));
    free(text);
    metrics_free();
}

static void test_refusals(void **state)
{
    (void)state;
    assert_non_null(metrics_register(METRIC_COUNTER, "t_a_total", "A.", NULL, 0, NULL, 0));
    assert_null(metrics_register(METRIC_COUNTER, "t_a_total", "A again.", NULL, 0, NULL, 0));
    assert_null(metrics_register(METRIC_COUNTER, "T-bad", "Bad name.", NULL, 0, NULL, 0));
    assert_null(metrics_register(METRIC_HISTOGRAM, "t_h_seconds", "No buckets.", NULL, 0, NULL, 0));
    assert_int_equal(metrics_start(1), 0);
    assert_null(metrics_register(METRIC_COUNTER, "t_late_total", "Too late.", NULL, 0, NULL, 0));
    metrics_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_large_family_shows_used_series),
        cmocka_unit_test(test_threads_sum),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
