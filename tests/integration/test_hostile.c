/*
 * Hostile clients: a client that never reads, a slow sender, a connection
 * flood, too many connections of one identity, random bytes instead of TLS,
 * a handshake that stops half-way, a tenant over its request rate, a client
 * streaming requests as fast as it can. In each
 * case the daemon's memory stays bounded, a well-behaved client connected
 * at the same time keeps getting answers, and the daemon is still up after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "frame.h"

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

/* Pipelines pings with 1,000-byte payloads and never reads, until the
 * daemon stops reading this connection and our send buffer fills (blc_send_raw
 * then fails). Pings the bystander, if any, every 5,000. Returns the bytes
 * sent. */
static size_t send_until_stalled(blc_t *hog, blc_t *bystander)
{
    uint8_t frame[64];
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    static uint8_t payload[1000];
    ping.payload.data = payload;
    ping.payload.len = sizeof payload;
    size_t sent_bytes = 0;
    for (uint64_t id = 1; id <= 50000; id++) {
        req.id = id;
        size_t len = branchline__v1__request__get_packed_size(&req);
        uint8_t *buf = len + 4 <= sizeof frame ? frame : malloc(len + 4);
        frame_put_header(buf, (uint32_t)len);
        branchline__v1__request__pack(&req, buf + 4);
        int rc = blc_send_raw(hog, buf, len + 4);
        if (buf != frame)
            free(buf);
        if (rc != 0)
            break; /* the daemon stopped reading: our send buffer is full */
        sent_bytes += len + 4;
        if (bystander && id % 5000 == 0)
            fx_assert_ping(bystander);
    }
    return sent_bytes;
}

/* Pipelines pings without ever reading: the daemon stops reading this
 * connection once its answers pile up, so memory stays flat. */
static void test_client_that_never_reads(void **state)
{
    (void)state;
    blc_t *bystander = fx_connect_ok(&fx, "bob");
    blc_t *hog = fx_connect_ok(&fx, "alice");
    long before = rss_kib(fx.pid);
    size_t sent_bytes = send_until_stalled(hog, bystander);
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

/* ... and is closed once it has read nothing for idle_timeout_ms, so that it
 * cannot hold a connection slot for ever. */
static void test_client_that_never_reads_is_closed(void **state)
{
    (void)state;
    fx_t idle;
    assert_int_equal(fx_init_sibling(&idle, &fx, "neverreads"), 0);
    assert_int_equal(fx_start(&idle, "idle_timeout_ms = 1000\ntenant_rate_limit = 0\n"), 0);
    char err[512];
    blc_t *hog = fx_connect(&idle, "alice", err, sizeof err);
    assert_non_null(hog);
    /* Longer than idle_timeout_ms: the client stops sending only once the
     * daemon has stopped reading for good (and closed), never because a
     * slow, sanitized daemon paused; a pause ended with the daemon idle and
     * closing for idle_timeout instead. */
    blc_set_timeout(hog, 3000);
    /* No bystander here: with idle_timeout_ms = 1000 a bystander waiting
     * between pings longer than that (a slow, sanitized build) is closed
     * too. That others are served meanwhile is test_client_that_never_reads'. */
    assert_true(send_until_stalled(hog, NULL) > 0);
    bool closed = false;
    /* A deadline, not a measurement: generous for a loaded, sanitized run. */
    for (long long end = fx_now_ms() + 30000; !closed && fx_now_ms() < end; usleep(100 * 1000))
        closed = fx_log_contains(&idle, "reason=\"client_not_reading\"");
    blc_free(hog);
    assert_int_equal(fx_cleanup(&idle, !closed), 0);
    assert_true(closed);
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
/* One whoami on c, answered: its status code. */
static int whoami_code(blc_t *c)
{
    Branchline__V1__Request req;
    Branchline__V1__WhoAmIRequest who;
    fx_whoami_init(&req, &who);
    assert_int_equal(blc_send(c, &req), 0);
    Branchline__V1__Response *r = blc_recv(c);
    assert_non_null(r);
    int code = CODE(r);
    branchline__v1__response__free_unpacked(r, NULL);
    return code;
}

static void test_tenant_rate_limit(void **state)
{
    (void)state;
    enum { N = 400 };
    fx_t limited_fx;
    assert_int_equal(fx_init_sibling(&limited_fx, &fx, "ratelimit"), 0);
    /* A refill of 5 a second: sending the N requests may take seconds on a
     * loaded, sanitized build, and the bucket must not refill meanwhile. */
    assert_int_equal(fx_start(&limited_fx, "tenant_rate_limit = 5\ntenant_rate_burst = 100\n"), 0);
    char err[512];
    blc_t *c = fx_connect(&limited_fx, "dave", err, sizeof err);
    assert_non_null(c);
    /* The connection's tenant lookup goes to the database when it is
     * accepted; a daemon just started may answer it UNAVAILABLE while its
     * pool prepares (slow on a loaded machine). So: wait until whoami is
     * answered from the database, then connect again for a fresh lookup,
     * and let one more whoami queue behind it. */
    for (long long end = fx_now_ms() + 30000; whoami_code(c) == BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE;) {
        assert_true(fx_now_ms() < end);
        usleep(100 * 1000);
    }
    blc_free(c);
    c = fx_connect(&limited_fx, "dave", err, sizeof err);
    assert_non_null(c);
    assert_int_not_equal(whoami_code(c), BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE);
    usleep(200 * 1000);
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

/* A blocking mutual-TLS connection as `cert`, without the client library
 * (which has no half-close and no non-blocking writes). */
static SSL *raw_tls_connect(const fx_t *f, const char *cert, SSL_CTX **ctx_out)
{
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    char path[600];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    snprintf(path, sizeof path, "%s/ca.crt", certs);
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, path, NULL), 1);
    snprintf(path, sizeof path, "%s/%s.crt", certs, cert);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, path), 1);
    snprintf(path, sizeof path, "%s/%s.key", certs, cert);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM), 1);
    int fd = fx_tcp_connect(f);
    assert_true(fd >= 0);
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    SSL_set_fd(ssl, fd);
    assert_int_equal(SSL_connect(ssl), 1);
    *ctx_out = ctx;
    return ssl;
}

/* The streaming client of test_streaming_client_shares_its_worker: 64 KiB
 * of pings (answered at once, without the database) written again and again
 * on a non-blocking connection, its answers read and thrown away. */
typedef struct {
    SSL *ssl;
    atomic_bool stop;
    atomic_llong sent;
} stream_t;

static void *stream_pings(void *arg)
{
    stream_t *st = arg;
    static uint8_t frames[65536], sink[65536];
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    req.id = 1; /* each is answered before the next is read */
    size_t len = branchline__v1__request__get_packed_size(&req), n = 0, off = 0;
    for (; n + FRAME_HEADER_SIZE + len <= sizeof frames; n += FRAME_HEADER_SIZE + len) {
        frame_put_header(frames + n, (uint32_t)len);
        branchline__v1__request__pack(&req, frames + n + FRAME_HEADER_SIZE);
    }
    struct pollfd p = {SSL_get_fd(st->ssl), POLLIN | POLLOUT, 0};
    while (!atomic_load(&st->stop)) {
        poll(&p, 1, 100);
        while (SSL_read(st->ssl, sink, sizeof sink) > 0)
            ;
        for (int k = 0; k < 8; k++) {
            int w = SSL_write(st->ssl, frames + off, (int)(n - off));
            if (w <= 0)
                break;
            atomic_fetch_add(&st->sent, w);
            off = (off + (size_t)w) % n;
        }
    }
    return NULL;
}

/*
 * One worker, one client streaming pings as fast as it can: the worker
 * takes a bounded turn of its input at a time and goes back to its other
 * sockets and timers in between, so a client already connected is answered
 * and a new one is let in meanwhile. (Before the turn went back through
 * epoll, a new connection waited until the streamer stopped: the whole
 * 3 s loop and more.) The bounds sit between the two: about 20 times what
 * the plain build shows on a quiet machine (a loaded one reached 1,054 ms
 * for connect+ping), below the 3 s a starved worker would show;
 * AddressSanitizer's build only prints the figures.
 */
static void test_streaming_client_shares_its_worker(void **state)
{
    (void)state;
    fx_t one;
    assert_int_equal(fx_init_sibling(&one, &fx, "oneworker"), 0);
    /* No rate limit: the streamer would otherwise empty the bucket that
     * certificates without a principal share, and the test is about turns. */
    assert_int_equal(fx_start(&one, "workers = 1\nlog_level = info\ntenant_rate_limit = 0\n"), 0);
    char err[512];
    blc_t *bystander = fx_connect(&one, "bob", err, sizeof err);
    assert_non_null(bystander);
    fx_assert_ping(bystander);

    SSL_CTX *ctx = NULL;
    stream_t st = {.ssl = raw_tls_connect(&one, "alice", &ctx)};
    int fd = SSL_get_fd(st.ssl);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    SSL_set_mode(st.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    pthread_t streamer;
    assert_int_equal(pthread_create(&streamer, NULL, stream_pings, &st), 0);
    usleep(300 * 1000);

    long long worst_ping = 0, worst_connect = 0;
    for (long long end = fx_now_ms() + 3000; fx_now_ms() < end; usleep(200 * 1000)) {
        long long t0 = fx_now_ms();
        fx_assert_ping(bystander);
        long long t1 = fx_now_ms();
        blc_t *fresh = fx_connect(&one, "carol", err, sizeof err);
        assert_non_null(fresh);
        fx_assert_ping(fresh);
        blc_free(fresh);
        long long t2 = fx_now_ms();
        worst_ping = t1 - t0 > worst_ping ? t1 - t0 : worst_ping;
        worst_connect = t2 - t1 > worst_connect ? t2 - t1 : worst_connect;
    }
    atomic_store(&st.stop, true);
    pthread_join(streamer, NULL);
    long long sent_kib = atomic_load(&st.sent) / 1024;
    print_message("streaming client sent %lld KiB; meanwhile worst ping %lld ms, worst connect+ping %lld ms\n",
                  sent_kib, worst_ping, worst_connect);
    SSL_free(st.ssl);
    close(fd);
    SSL_CTX_free(ctx);
    blc_free(bystander);
    assert_int_equal(fx_cleanup(&one, false), 0);
    assert_true(sent_kib > 1024); /* it did stream */
    if (!getenv("BLTEST_SANITIZED")) {
        assert_true(worst_ping < 1000);
        assert_true(worst_connect < 2500);
    }
}

/*
 * A client that sends its requests and then ends its side (close_notify)
 * still gets its answers: the daemon stops reading, answers what is in
 * flight (here a ping delayed 300 ms), then closes.
 */
static void test_answers_after_the_client_ends_its_side(void **state)
{
    (void)state;
    SSL_CTX *ctx = NULL;
    SSL *ssl = raw_tls_connect(&fx, "alice", &ctx);
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 300);
    req.id = 7;
    uint8_t frame[64];
    size_t len = branchline__v1__request__get_packed_size(&req);
    frame_put_header(frame, (uint32_t)len);
    branchline__v1__request__pack(&req, frame + FRAME_HEADER_SIZE);
    assert_int_equal(SSL_write(ssl, frame, (int)(FRAME_HEADER_SIZE + len)), (int)(FRAME_HEADER_SIZE + len));
    assert_int_equal(SSL_shutdown(ssl), 0); /* our close_notify is sent; theirs is to come */
    uint8_t in[4096];
    size_t got = 0;
    for (int n; got < sizeof in && (n = SSL_read(ssl, in + got, (int)(sizeof in - got))) > 0;)
        got += (size_t)n;
    uint32_t plen = 0;
    assert_int_equal(frame_peek(in, got, got, FRAME_DEFAULT_MAX, &plen), FRAME_READY);
    Branchline__V1__Response *r = branchline__v1__response__unpack(NULL, plen, in + FRAME_HEADER_SIZE);
    assert_non_null(r);
    assert_int_equal(r->id, 7);
    assert_int_equal(CODE(r), 0);
    assert_int_equal(r->result_case, BRANCHLINE__V1__RESPONSE__RESULT_PING);
    branchline__v1__response__free_unpacked(r, NULL);
    assert_int_equal(got, FRAME_HEADER_SIZE + plen); /* that answer, then the end */
    assert_true(fx_log_contains(&fx, "reason=eof"));
    close(SSL_get_fd(ssl));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    assert_daemon_serves();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_that_never_reads),
        cmocka_unit_test(test_client_that_never_reads_is_closed),
        cmocka_unit_test(test_slow_sender_is_dropped),
        cmocka_unit_test(test_connection_flood_beyond_limit),
        cmocka_unit_test(test_connections_per_identity),
        cmocka_unit_test(test_random_bytes_instead_of_tls),
        cmocka_unit_test(test_handshake_stopped_half_way),
        cmocka_unit_test(test_tenant_rate_limit),
        cmocka_unit_test(test_streaming_client_shares_its_worker),
        cmocka_unit_test(test_answers_after_the_client_ends_its_side),
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
