/*
 * bench.quick_smoke: blbench against a real branchd (the integration
 * fixture): ping for a fixed time and a fixed request count, pipelined, and
 * the idle mode reading the daemon's RSS, the daemon's CPU per request and
 * the handshake mode (full, resumed and paced). Only `ping`: the other scenarios
 * need gendata.sh's tenant (tests/bench/run.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

static fx_t fx;
static bool started;

static int setup(void **state)
{
    (void)state;
    /* The rate limit per tenant (connections without one share a bucket)
     * would answer part of the load with RESOURCE_EXHAUSTED. */
    if (fx_init(&fx, "bench_smoke", false) != 0 ||
        fx_start(&fx, "tenant_rate_limit = 0\nhandshake_rate_per_addr = 0\n") != 0)
        return -1;
    started = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return fx_cleanup(&fx, false);
}

/* Runs blbench with the fixture's server and certificate plus args; its
 * exit status, output in out. */
static int blbench(const char *args, char *out, size_t outlen)
{
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' --server 127.0.0.1:%d --ca '%s/ca.crt' --cert '%s/alice.crt' --key '%s/alice.key' %s",
             fx_bin("BLBENCH_BIN"), fx.port, certs, certs, certs, args);
    int rc = fx_run(cmd, out, outlen);
    if (rc != 0)
        fprintf(stderr, "%s\n-> %d\n%s\n", cmd, rc, out);
    return rc;
}

/* The number after "key=" in out, or -1. */
static double value(const char *out, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof needle, " %s=", key);
    const char *p = strstr(out, needle);
    return p ? strtod(p + strlen(needle), NULL) : -1;
}

static void test_ping_duration(void **state)
{
    (void)state;
    char out[8192], args[256];
    snprintf(args, sizeof args, "--scenario ping --connections 4 --depth 8 --threads 2 --warmup 0.2 "
             "--duration 2 --pid %d", (int)fx.pid);
    assert_int_equal(blbench(args, out, sizeof out), 0);
    const char *cpu = strstr(out, "daemon_cpu ");
    assert_non_null(cpu);
    assert_true(value(cpu, "daemon_cpu_us_per_req") > 0);
    assert_true(value(out, "rps") > 100);
    assert_true(value(out, "p99_ms") > 0);
    assert_true(value(out, "p50_ms") <= value(out, "p99_ms"));
    assert_int_equal(value(out, "errors"), 0);
    assert_int_equal(value(out, "lost"), 0);
}

static void test_ping_requests(void **state)
{
    (void)state;
    char out[8192], json[300], line[4096];
    snprintf(json, sizeof json, "%s/out.json", fx.dir);
    char args[512];
    snprintf(args, sizeof args, "--scenario ping --connections 3 --depth 4 --warmup 0 --requests 3000 "
             "--json '%s'", json);
    assert_int_equal(blbench(args, out, sizeof out), 0);
    /* Exactly the requests sent in the window are answered and counted:
     * none lost, and no warm-up request still in flight when it opened. */
    assert_int_equal(value(out, "ok"), 3000);
    FILE *f = fopen(json, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_non_null(strstr(line, "\"scenario\":\"ping\""));
    assert_non_null(strstr(line, "\"errors\":{}"));
}

static void test_idle_reads_rss(void **state)
{
    (void)state;
    char out[8192], args[256];
    snprintf(args, sizeof args, "--scenario ping --connections 2 --warmup 0 --duration 0.5 "
             "--idle 5,25 --pid %d", (int)fx.pid);
    assert_int_equal(blbench(args, out, sizeof out), 0);
    const char *second = strstr(out, "idle=25 ");
    assert_non_null(strstr(out, "idle=5 "));
    assert_non_null(second);
    assert_true(value(second - 1, "rss_kib") > 1000);
}

/* Connect, one ping, close, again: full handshakes, then resumed ones
 * from a session folder (at most one full handshake per thread). */
static void test_handshakes(void **state)
{
    (void)state;
    char out[8192], args[600];
    snprintf(args, sizeof args, "--scenario handshake --threads 2 --warmup 0.2 --duration 1 --pid %d",
             (int)fx.pid);
    assert_int_equal(blbench(args, out, sizeof out), 0);
    assert_true(value(out, "done") > 0);
    assert_int_equal(value(out, "resumed"), 0);
    assert_int_equal(value(out, "failed"), 0);
    assert_true(value(out, "daemon_cpu_us_per_handshake") > 0);
    snprintf(args, sizeof args, "--scenario handshake --threads 2 --warmup 0.2 --duration 1 --session-dir '%s/hs'",
             fx.dir);
    assert_int_equal(blbench(args, out, sizeof out), 0);
    assert_true(value(out, "done") > 2);
    assert_true(value(out, "resumed") >= value(out, "done") - 2);
}

/* A script's pace: one thread pausing 300 ms after each connection makes
 * at most 7 in a 2 s window (1 + 2000 / 300), however fast the daemon. */
static void test_handshakes_paced(void **state)
{
    (void)state;
    char out[8192], args[600];
    snprintf(args, sizeof args, "--scenario handshake --threads 1 --connections 1 --warmup 0.1 "
             "--duration 2 --pause-ms 300 --session-dir '%s/paced' --pid %d", fx.dir, (int)fx.pid);
    assert_int_equal(blbench(args, out, sizeof out), 0);
    assert_true(value(out, "done") >= 1);
    assert_true(value(out, "done") <= 7);
    assert_int_equal(value(out, "failed"), 0);
    assert_true(value(out, "daemon_cpu_us_per_handshake") > 0);
}

static void test_usage_errors(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(blbench("--scenario nosuch", out, sizeof out), 2);
    assert_int_equal(blbench("--scenario ping --param colour=red", out, sizeof out), 2);
    assert_int_equal(blbench("--scenario ping --idle 10", out, sizeof out), 2);
    assert_int_equal(blbench("--scenario ping --pause-ms 10", out, sizeof out), 2);
    assert_int_equal(blbench("--scenario handshake --pause-ms -1", out, sizeof out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_duration),
        cmocka_unit_test(test_ping_requests),
        cmocka_unit_test(test_idle_reads_rss),
        cmocka_unit_test(test_handshakes),
        cmocka_unit_test(test_handshakes_paced),
        cmocka_unit_test(test_usage_errors),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return started ? rc : 1;
}
