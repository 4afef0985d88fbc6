/*
 * The host list of a conninfo as the pool's connection attempts use it
 * (daemon/db_hosts.h): the connect deadline from connect_timeout in
 * libpq's meaning, the lists rotated together so an attempt can start at
 * any host, and the position of the host libpq reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "db_hosts.h"

static int timeout_of(const char *conninfo)
{
    db_hosts_t h;
    assert_int_equal(db_hosts_init(&h, conninfo), 0);
    int ms = h.timeout_ms;
    db_hosts_free(&h);
    return ms;
}

static void test_deadline_follows_connect_timeout(void **state)
{
    (void)state;
    unsetenv("PGCONNECT_TIMEOUT");
    assert_int_equal(timeout_of("host=a dbname=x"), 10000);
    assert_int_equal(timeout_of("host=a connect_timeout=5"), 5000);
    /* libpq's minimum is 2 s; 0 (libpq: for ever) and junk get the default */
    assert_int_equal(timeout_of("host=a connect_timeout=1"), 2000);
    assert_int_equal(timeout_of("host=a connect_timeout=0"), 10000);
    assert_int_equal(timeout_of("host=a connect_timeout=-3"), 10000);
    assert_int_equal(timeout_of("host=a connect_timeout=abc"), 10000);
    assert_int_equal(timeout_of("postgresql://a,b/db?connect_timeout=7"), 7000);
    /* A conninfo libpq cannot parse: the default; connecting reports the error. */
    assert_int_equal(timeout_of("host='unterminated"), 10000);
    /* libpq's environment default counts, below the conninfo's own. */
    setenv("PGCONNECT_TIMEOUT", "4", 1);
    assert_int_equal(timeout_of("host=a"), 4000);
    assert_int_equal(timeout_of("host=a connect_timeout=6"), 6000);
    unsetenv("PGCONNECT_TIMEOUT");
    assert_int_equal(timeout_of("host=a"), 10000);
}

static void test_single_host_never_rotates(void **state)
{
    (void)state;
    db_hosts_t h;
    const char *keys[3], *values[3];
    char buf[256];
    assert_int_equal(db_hosts_init(&h, "host=a port=5432 dbname=x"), 0);
    assert_int_equal(h.count, 0);
    assert_int_equal(db_hosts_rotated(&h, 1, keys, values, buf, sizeof buf), 0);
    assert_int_equal(db_hosts_position(&h, 0, 0, "a", "5432"), -1);
    db_hosts_free(&h);
}

static void test_lists_rotate_together(void **state)
{
    (void)state;
    db_hosts_t h;
    const char *keys[3], *values[3];
    char buf[256];
    assert_int_equal(db_hosts_init(&h, "host=a,b,c hostaddr=10.0.0.1,,10.0.0.3 port=1,2,3 "
                                       "target_session_attrs=read-write"), 0);
    assert_int_equal(h.count, 3);
    assert_int_equal(db_hosts_rotated(&h, 0, keys, values, buf, sizeof buf), 0);
    assert_int_equal(db_hosts_rotated(&h, 3, keys, values, buf, sizeof buf), 0);
    assert_int_equal(db_hosts_rotated(&h, 1, keys, values, buf, sizeof buf), 3);
    assert_string_equal(keys[0], "host");
    assert_string_equal(values[0], "b,c,a");
    assert_string_equal(keys[1], "hostaddr");
    assert_string_equal(values[1], ",10.0.0.3,10.0.0.1");
    assert_string_equal(keys[2], "port");
    assert_string_equal(values[2], "2,3,1");
    assert_int_equal(db_hosts_rotated(&h, 2, keys, values, buf, sizeof buf), 3);
    assert_string_equal(values[0], "c,a,b");
    /* Too long for the buffer: the conninfo's own order. */
    assert_int_equal(db_hosts_rotated(&h, 1, keys, values, buf, 8), 0);
    db_hosts_free(&h);
}

static void test_one_port_for_all_stays(void **state)
{
    (void)state;
    db_hosts_t h;
    const char *keys[3], *values[3];
    char buf[256];
    assert_int_equal(db_hosts_init(&h, "postgresql://a,b/db?port=6432"), 0);
    assert_int_equal(h.count, 2);
    assert_int_equal(db_hosts_rotated(&h, 1, keys, values, buf, sizeof buf), 1);
    assert_string_equal(keys[0], "host");
    assert_string_equal(values[0], "b,a");
    db_hosts_free(&h);
    /* Lists of different lengths: libpq refuses them; nothing to rotate here. */
    assert_int_equal(db_hosts_init(&h, "host=a,b port=1,2,3"), 0);
    assert_int_equal(h.count, 0);
    db_hosts_free(&h);
}

static void test_position_of_libpqs_host(void **state)
{
    (void)state;
    db_hosts_t h;
    assert_int_equal(db_hosts_init(&h, "host=127.0.0.1,/run/pg,127.0.0.1 port=7,5432,8"), 0);
    /* from the conninfo's own start */
    assert_int_equal(db_hosts_position(&h, 0, 0, "127.0.0.1", "7"), 0);
    assert_int_equal(db_hosts_position(&h, 0, 0, "/run/pg", "5432"), 1);
    assert_int_equal(db_hosts_position(&h, 0, 0, "127.0.0.1", "8"), 2);
    /* an attempt started at entry 1: positions count from there */
    assert_int_equal(db_hosts_position(&h, 1, 0, "/run/pg", "5432"), 0);
    assert_int_equal(db_hosts_position(&h, 1, 0, "127.0.0.1", "8"), 1);
    assert_int_equal(db_hosts_position(&h, 1, 0, "127.0.0.1", "7"), 2);
    assert_int_equal(db_hosts_position(&h, 0, 0, "elsewhere", "7"), -1);
    db_hosts_free(&h);
    /* The same host twice: the first at or after `from`, then from the start
     * (a prefer-standby second pass goes back to the first host). */
    assert_int_equal(db_hosts_init(&h, "host=a,a,b"), 0);
    assert_int_equal(db_hosts_position(&h, 0, 0, "a", "5432"), 0);
    assert_int_equal(db_hosts_position(&h, 0, 1, "a", "5432"), 1);
    assert_int_equal(db_hosts_position(&h, 0, 2, "a", "5432"), 0);
    /* no host names: the addresses are what PQhost() reports */
    db_hosts_free(&h);
    assert_int_equal(db_hosts_init(&h, "hostaddr=10.0.0.1,10.0.0.2"), 0);
    assert_int_equal(db_hosts_position(&h, 0, 0, "10.0.0.2", "5432"), 1);
    db_hosts_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_follows_connect_timeout),
        cmocka_unit_test(test_single_host_never_rotates),
        cmocka_unit_test(test_lists_rotate_together),
        cmocka_unit_test(test_one_port_for_all_stays),
        cmocka_unit_test(test_position_of_libpqs_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
