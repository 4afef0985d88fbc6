/*
 * Hostile clients: a client that never reads, a slow sender, a connection
 * flood, too many connections of one identity, random bytes instead of TLS,
 * a handshake that stops half-way, a tenant over its request rate. In each
 * case the daemon's memory stays bounded, a well-behaved client connected
 * at the same time keeps getting answers, and the daemon is still up after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

#define CODE(r) FX_CODE(r)

static fx_t fx;

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static void assert_daemon_serves(void)
{
    blc_t *c = fx_connect_ok(&fx, "bob");
    fx_assert_ping(c);
    blc_free(c);
}

static bool closed_by_peer(int fd, int timeout_ms)
{
    char buf[4096];
    for (long long end = fx_now_ms() + timeout_ms; fx_now_ms() < end;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0 && read(fd, buf, sizeof buf) <= 0)
            return true;
    }
    return false;
}

/* Pipelines pings without ever reading: the daemon stops reading this
 * connection once its answers pile up, so memory stays flat. */
static void test_client_that_never_reads(void **state)
{
    (void)state;
    blc_t *bystander = fx_connect_ok(&fx, "bob");
    blc_t *hog = fx_connect_ok(&fx, "alice");
    uint8_t frame[64];
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    static uint8_t payload[1000];
    ping.payload.data = payload;
    ping.payload.len = sizeof payload;
    long before = rss_kib(fx.pid);
    size_t sent_bytes = 0;
    for (uint64_t id = 1; id <= 50000; id++) {
        req.id = id;
        size_t len = branchline__v1__request__get_packed_size(&req);
        uint8_t *buf = len + 4 <= sizeof frame ? frame : malloc(len + 4);
        buf[0] = (uint8_t)(len >> 24);
        buf[1] = (uint8_t)(len >> 16);
        buf[2] = (uint8_t)(len >> 8);
        buf[3] = (uint8_t)len;
        branchline__v1__request__pack(&req, buf + 4);
        int rc = blc_send_raw(hog, buf, len + 4);
        if (buf != frame)
            free(buf);
        if (rc != 0)
            break; /* the daemon stopped reading: our send buffer is full */
        sent_bytes += len + 4;
        if (id % 5000 == 0)
            fx_assert_ping(bystander);
    }
    long after = rss_kib(fx.pid);
    print_message("never-reading client: sent %zu KiB, daemon RSS %ld -> %ld KiB\n",
                  sent_bytes / 1024, before, after);
    /* AddressSanitizer keeps freed memory in quarantine, so RSS says nothing
     * there; the plain build asserts the bound. */
    if (!getenv("BLTEST_SANITIZED"))
        assert_true(after - before < 64 * 1024);
    fx_assert_ping(bystander);
    blc_free(hog);
    blc_free(bystander);
}

static void test_slow_sender_is_dropped(void **state)
{
    (void)state;
    blc_t *bystander = fx_connect_ok(&fx, "bob");
    blc_t *slow = fx_connect_ok(&fx, "alice");
    static const uint8_t frame[] = {0, 0, 0, 4, 0x08, 0x01, 0x52, 0x00};
    bool dropped = false;
    long long t0 = fx_now_ms();
    for (size_t i = 0; i < sizeof frame && !dropped; i++) {
        dropped = blc_send_raw(slow, frame + i, 1) != 0;
        usleep(300 * 1000); /* one byte every 300 ms; frame_timeout_ms = 700 */
        fx_assert_ping(bystander);
    }
    Branchline__V1__Response *r = dropped ? NULL : blc_recv(slow);
    assert_null(r);
    assert_true(fx_now_ms() - t0 < 5000);
    assert_true(fx_log_contains(&fx, "reason=\"frame_timeout\""));
    blc_free(slow);
    blc_free(bystander);
}

static void test_connection_flood_beyond_limit(void **state)
{
    (void)state;
    enum { N = 80 }; /* max_connections = 40 */
    int fds[N];
    long before = rss_kib(fx.pid);
    int refused = 0;
    for (int i = 0; i < N; i++)
        fds[i] = fx_tcp_connect(&fx);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0 && closed_by_peer(fds[i], 50))
            refused++;
    assert_true(refused >= N - 40);
    assert_true(fx_log_wait(&fx, "reason=max_connections", 3000));
    long during = rss_kib(fx.pid);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    usleep(200 * 1000);
    assert_daemon_serves();
    print_message("flood: %d of %d refused, RSS %ld -> %ld KiB\n", refused, N, before, during);
    if (!getenv("BLTEST_SANITIZED"))
        assert_true(during - before < 32 * 1024);
}

static void test_connections_per_identity(void **state)
{
    (void)state;
    enum { N = 6 }; /* max_connections_per_identity = 5 */
    blc_t *conns[N];
    int answered = 0;
    for (int i = 0; i < N; i++) {
        char err[512];
        conns[i] = fx_connect(&fx, "carol", err, sizeof err);
        Branchline__V1__Request req;
        Branchline__V1__PingRequest ping;
        fx_ping_init(&req, &ping, 0);
        Branchline__V1__Response *r = conns[i] ? blc_call(conns[i], &req) : NULL;
        answered += r != NULL;
        if (r)
            branchline__v1__response__free_unpacked(r, NULL);
    }
    assert_int_equal(answered, 5);
    assert_true(fx_log_wait(&fx, "reason=max_connections_per_identity", 3000));
    assert_daemon_serves(); /* another identity is not affected */
    for (int i = 0; i < N; i++)
        blc_free(conns[i]);
}

static void test_random_bytes_instead_of_tls(void **state)
{
    (void)state;
    int fd = fx_tcp_connect(&fx);
    assert_true(fd >= 0);
    uint8_t junk[65536];
    srand(42);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rand();
    ssize_t n = write(fd, junk, sizeof junk);
    (void)n;
    assert_true(closed_by_peer(fd, 5000));
    close(fd);
    assert_daemon_serves();
}

static void test_handshake_stopped_half_way(void **state)
{
    (void)state;
    int fd = fx_tcp_connect(&fx);
    assert_true(fd >= 0);
    /* A TLS record header announcing a 512-byte ClientHello, and 5 of its bytes. */
    static const uint8_t partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
    assert_int_equal(write(fd, partial, sizeof partial), (ssize_t)sizeof partial);
    long long t0 = fx_now_ms();
    assert_true(closed_by_peer(fd, 5000));
    assert_true(fx_now_ms() - t0 >= 500); /* handshake_timeout_ms = 700 */
    close(fd);
    assert_daemon_serves();
}

/* Its own daemon: the others here run unlimited, since every certificate
 * without a principal shares one bucket (tenant 0). */
static void test_tenant_rate_limit(void **state)
{
    (void)state;
    enum { N = 400 };
    fx_t limited_fx;
    assert_int_equal(fx_init_sibling(&limited_fx, &fx, "ratelimit"), 0);
    assert_int_equal(fx_start(&limited_fx, "tenant_rate_limit = 100\ntenant_rate_burst = 100\n"), 0);
    char err[512];
    blc_t *c = fx_connect(&limited_fx, "dave", err, sizeof err);
    assert_non_null(c);
    usleep(200 * 1000); /* the connection's tenant lookup */
    for (int i = 0; i < N; i++) {
        Branchline__V1__Request req;
        Branchline__V1__PingRequest ping;
        fx_ping_init(&req, &ping, 0);
        assert_int_equal(blc_send(c, &req), 0);
    }
    int limited = 0;
    for (int i = 0; i < N; i++) {
        Branchline__V1__Response *r = blc_recv(c);
        assert_non_null(r);
        if (CODE(r) == BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED)
            limited++;
        branchline__v1__response__free_unpacked(r, NULL);
    }
    print_message("rate limit: %d of %d refused\n", limited, N);
    blc_free(c);
    int unclean = fx_cleanup(&limited_fx, limited < N / 2);
    assert_true(limited >= N / 2);
    assert_int_equal(unclean, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_that_never_reads),
        cmocka_unit_test(test_slow_sender_is_dropped),
        cmocka_unit_test(test_connection_flood_beyond_limit),
        cmocka_unit_test(test_connections_per_identity),
        cmocka_unit_test(test_random_bytes_instead_of_tls),
        cmocka_unit_test(test_handshake_stopped_half_way),
        cmocka_unit_test(test_tenant_rate_limit),
    };
    if (fx_init(&fx, "hostile", false) != 0 ||
        fx_start(&fx, "handshake_timeout_ms = 700\nframe_timeout_ms = 700\nmax_connections = 40\n"
                      "max_connections_per_identity = 5\ntenant_rate_limit = 0\n") != 0) {
        fx_cleanup(&fx, true);
        return 1;
    }
    int failed = cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
    failed += fx_cleanup(&fx, failed != 0);
    return failed;
}
