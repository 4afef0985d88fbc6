/* daemon/intake/spool.c: order, durability across reopen (a daemon killed),
 * a torn tail, progress, emptying, and the size and age bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "intake/spool.h"

static char dir[] = "/tmp/test_spool_XXXXXX";
static char path[256];

static spool_t *open_spool(uint64_t max_bytes, int64_t max_age)
{
    char err[256];
    spool_t *s = spool_open(path, max_bytes, max_age, err, sizeof err);
    if (!s)
        fail_msg("spool_open: %s", err);
    return s;
}

static void expect_next(spool_t *s, const char *want)
{
    size_t len = 0;
    char *got = spool_next(s, &len);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "%s/spool", dir);
    unlink(path);
    char done[300];
    snprintf(done, sizeof done, "%s.done", path);
    unlink(done);
    return 0;
}

static void test_order_and_reopen(void **state)
{
    (void)state;
    spool_t *s = open_spool(1 << 20, 3600);
    assert_int_equal(spool_append(s, "one", 3, 100, 100), SPOOL_OK);
    assert_int_equal(spool_append(s, "two\nlines", 9, 101, 101), SPOOL_OK);
    assert_int_equal(spool_append(s, "three", 5, 102, 102), SPOOL_OK);
    assert_int_equal(spool_depth(s), 3);
    expect_next(s, "one");
    assert_int_equal(spool_done(s), 0);
    /* killed now: the next daemon starts at "two" */
    spool_free(s);
    s = open_spool(1 << 20, 3600);
    assert_int_equal(spool_depth(s), 2);
    expect_next(s, "two\nlines");
    /* killed before done: replayed again (the SQL is idempotent) */
    spool_free(s);
    s = open_spool(1 << 20, 3600);
    expect_next(s, "two\nlines");
    assert_int_equal(spool_done(s), 0);
    expect_next(s, "three");
    assert_int_equal(spool_done(s), 0);
    assert_int_equal(spool_depth(s), 0);
    assert_int_equal(spool_bytes(s), 0);
    assert_null(spool_next(s, &(size_t){0}));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    spool_free(s);
}

static void test_torn_tail_is_dropped(void **state)
{
    (void)state;
    spool_t *s = open_spool(1 << 20, 3600);
    assert_int_equal(spool_append(s, "whole", 5, 100, 100), SPOOL_OK);
    spool_free(s);
    FILE *f = fopen(path, "a");
    fputs("BLSPOOL1 100 101\nhalf a rec", f);
    fclose(f);
    s = open_spool(1 << 20, 3600);
    assert_int_equal(spool_depth(s), 1);
    assert_int_equal(spool_append(s, "after", 5, 102, 102), SPOOL_OK);
    expect_next(s, "whole");
    assert_int_equal(spool_done(s), 0);
    expect_next(s, "after");
    spool_free(s);
}

static void test_bounds(void **state)
{
    (void)state;
    spool_t *s = open_spool(64, 60);
    assert_int_equal(spool_append(s, "0123456789", 10, 100, 100), SPOOL_OK);
    assert_int_equal(spool_append(s, "0123456789012345678901234567890123456789", 40, 100, 100), SPOOL_FULL);
    assert_int_equal(spool_append(s, "x", 1, 200, 200), SPOOL_FULL); /* the oldest is 100 s old */
    assert_int_equal(spool_depth(s), 1);
    expect_next(s, "0123456789");
    assert_int_equal(spool_done(s), 0);
    assert_int_equal(spool_append(s, "x", 1, 200, 200), SPOOL_OK); /* drained: room again */
    spool_free(s);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_order_and_reopen, setup),
        cmocka_unit_test_setup(test_torn_tail_is_dropped, setup),
        cmocka_unit_test_setup(test_bounds, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    setup(NULL);
    rmdir(dir);
    return rc;
}
