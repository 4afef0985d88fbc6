/*
 * Foundation over real mutual TLS against a real branchd and PostgreSQL:
 * ping, server info, certificate refusals, pipelining, concurrency, and
 * malformed or stalled input that must not disturb other clients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "migrations.h"

static fx_t fx;

#define CODE(r) FX_CODE(r)

/* True when the peer closes the connection within timeout_ms. */
static bool closed_by_peer(int fd, int timeout_ms)
{
    char buf[4096];
    for (long long end = fx_now_ms() + timeout_ms; fx_now_ms() < end;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return true;
    }
    return false;
}

static void test_ping_and_server_info(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    fx_assert_ping(c);
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__ServerInfoRequest info = BRANCHLINE__V1__SERVER_INFO_REQUEST__INIT;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_SERVER_INFO;
    req.server_info = &info;
    /* The daemon accepts connections while its pool still connects (it is
     * not ready yet, by design): on a loaded machine the first answer may
     * precede the pool, so ask again for a few seconds. */
    Branchline__V1__Response *r = NULL;
    for (long long end = fx_now_ms() + 10000;; usleep(100 * 1000)) {
        r = blc_call(c, &req);
        assert_non_null(r);
        assert_int_equal(CODE(r), 0);
        if (r->server_info->database_reachable || fx_now_ms() >= end)
            break;
        branchline__v1__response__free_unpacked(r, NULL);
    }
    assert_int_equal(r->id, req.id);
    assert_true(r->server_info->database_reachable);
    assert_int_equal(r->server_info->schema_version, migrations[migrations_count - 1].version);
    assert_int_equal(r->server_info->expected_schema_version, r->server_info->schema_version);
    assert_int_equal(r->server_info->protocol_version, 1);
    assert_string_equal(r->server_info->peer_identity, "CN=alice");
    assert_string_equal(r->server_info->daemon_version, BRANCHLINE_VERSION);
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
}

/* With TLS 1.3 the client may finish its handshake before the server
 * rejects it, so refusal shows as no answer and a closed connection. */
static void assert_refused(blc_t *c)
{
    if (!c)
        return; /* refused during the handshake */
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    Branchline__V1__Response *r = NULL;
    if (blc_send(c, &req) == 0)
        r = blc_recv(c);
    assert_null(r);
    blc_free(c);
}

static void test_client_without_certificate_refused(void **state)
{
    (void)state;
    char err[512];
    assert_refused(fx_connect(&fx, NULL, err, sizeof err));
    assert_true(fx_log_wait(&fx, "peer did not return a certificate", 3000));
}

static void test_certificate_from_other_ca_refused(void **state)
{
    (void)state;
    char err[512];
    assert_refused(fx_connect_other_ca(&fx, "mallory", err, sizeof err));
    assert_true(fx_log_wait(&fx, "certificate verify failed", 3000));
}

static void test_plain_tcp_refused(void **state)
{
    (void)state;
    int fd = fx_tcp_connect(&fx);
    assert_true(fd >= 0);
    static const unsigned char plain_frame[] = {0, 0, 0, 4, 0x08, 0x01, 0x52, 0x00};
    assert_int_equal(write(fd, plain_frame, sizeof plain_frame), (ssize_t)sizeof plain_frame);
    assert_true(closed_by_peer(fd, 5000));
    close(fd);
    blc_t *c = fx_connect_ok(&fx, "bob");
    fx_assert_ping(c);
    blc_free(c);
}

static void test_pipelined_pings_answered_with_their_ids(void **state)
{
    (void)state;
    enum { N = 100 };
    blc_t *c = fx_connect_ok(&fx, "alice");
    bool seen[N + 1] = {false};
    for (int i = 0; i < N; i++) {
        Branchline__V1__Request req;
        Branchline__V1__PingRequest ping;
        fx_ping_init(&req, &ping, 0);
        assert_int_equal(blc_send(c, &req), 0);
        assert_int_equal(req.id, (uint64_t)i + 1);
    }
    for (int i = 0; i < N; i++) {
        Branchline__V1__Response *r = blc_recv(c);
        assert_non_null(r);
        assert_int_equal(CODE(r), 0);
        assert_true(r->id >= 1 && r->id <= N);
        assert_false(seen[r->id]);
        seen[r->id] = true;
        branchline__v1__response__free_unpacked(r, NULL);
    }
    blc_free(c);
}

static void test_fifty_concurrent_connections(void **state)
{
    (void)state;
    enum { N = 50 };
    blc_t *conns[N];
    for (int i = 0; i < N; i++)
        conns[i] = fx_connect_ok(&fx, i % 2 ? "alice" : "bob");
    for (int i = 0; i < N; i++) {
        Branchline__V1__Request req;
        Branchline__V1__PingRequest ping;
        fx_ping_init(&req, &ping, 0);
        assert_int_equal(blc_send(conns[i], &req), 0);
    }
    for (int i = 0; i < N; i++) {
        Branchline__V1__Response *r = blc_recv(conns[i]);
        assert_non_null(r);
        assert_int_equal(CODE(r), 0);
        branchline__v1__response__free_unpacked(r, NULL);
        blc_free(conns[i]);
    }
}

static void test_oversize_frame_rejected_others_unaffected(void **state)
{
    (void)state;
    blc_t *bystander = fx_connect_ok(&fx, "bob");
    blc_t *c = fx_connect_ok(&fx, "alice");
    static const unsigned char header[] = {0x00, 0x20, 0x00, 0x00}; /* 2 MiB > 1 MiB */
    assert_int_equal(blc_send_raw(c, header, sizeof header), 0);
    Branchline__V1__Response *r = blc_recv(c);
    assert_non_null(r);
    assert_int_equal(r->id, 0);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED);
    assert_string_equal(r->status->field, "length");
    branchline__v1__response__free_unpacked(r, NULL);
    assert_null(blc_recv(c)); /* framing errors close the connection */
    blc_free(c);
    fx_assert_ping(bystander);
    blc_free(bystander);
}

static void test_max_length_prefix_rejected(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    static const unsigned char header[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(blc_send_raw(c, header, sizeof header), 0);
    Branchline__V1__Response *r = blc_recv(c);
    assert_non_null(r);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED);
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
}

static void test_zero_length_frame_rejected(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    static const unsigned char header[] = {0, 0, 0, 0};
    assert_int_equal(blc_send_raw(c, header, sizeof header), 0);
    Branchline__V1__Response *r = blc_recv(c);
    assert_non_null(r);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "length");
    branchline__v1__response__free_unpacked(r, NULL);
    assert_null(blc_recv(c));
    blc_free(c);
}

static void test_garbage_frame_answered_connection_survives(void **state)
{
    (void)state;
    blc_t *bystander = fx_connect_ok(&fx, "bob");
    blc_t *c = fx_connect_ok(&fx, "alice");
    static const unsigned char garbage[] = {0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(blc_send_raw(c, garbage, sizeof garbage), 0);
    Branchline__V1__Response *r = blc_recv(c);
    assert_non_null(r);
    assert_int_equal(r->id, 0);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "frame");
    branchline__v1__response__free_unpacked(r, NULL);
    fx_assert_ping(c); /* framing was intact, so the connection stays usable */
    fx_assert_ping(bystander);
    blc_free(c);
    blc_free(bystander);
}

static void test_unknown_operation_and_zero_id(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT; /* no operation set */
    Branchline__V1__Response *r = blc_call(c, &req);
    assert_non_null(r);
    assert_int_equal(r->id, req.id);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "op");
    branchline__v1__response__free_unpacked(r, NULL);
    /* An operation number this daemon does not know arrives as an unknown field. */
    static const unsigned char unknown_op[] = {0, 0, 0, 5, 0x08, 0x07, 0xfa, 0x3e, 0x00};
    assert_int_equal(blc_send_raw(c, unknown_op, sizeof unknown_op), 0);
    r = blc_recv(c);
    assert_non_null(r);
    assert_int_equal(r->id, 7);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    branchline__v1__response__free_unpacked(r, NULL);
    static const unsigned char zero_id[] = {0, 0, 0, 2, 0x52, 0x00}; /* ping, id 0 */
    assert_int_equal(blc_send_raw(c, zero_id, sizeof zero_id), 0);
    r = blc_recv(c);
    assert_non_null(r);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "id");
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
}

static void test_ping_payload_limit_names_field(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    static uint8_t big[2048];
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    ping.payload.data = big;
    ping.payload.len = sizeof big;
    Branchline__V1__Response *r = blc_call(c, &req);
    assert_non_null(r);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "ping.payload");
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
}

static void test_stalled_handshake_dropped(void **state)
{
    (void)state;
    int fd = fx_tcp_connect(&fx);
    assert_true(fd >= 0);
    long long t0 = fx_now_ms();
    assert_true(closed_by_peer(fd, 5000)); /* handshake_timeout_ms = 700 */
    assert_true(fx_now_ms() - t0 >= 500);
    close(fd);
}

static void test_partial_frame_dropped(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    static const unsigned char half[] = {0, 0, 0, 10, 0x08};
    assert_int_equal(blc_send_raw(c, half, sizeof half), 0);
    long long t0 = fx_now_ms();
    assert_null(blc_recv(c)); /* frame_timeout_ms = 700: dropped, no answer */
    assert_true(fx_now_ms() - t0 >= 500);
    assert_true(fx_log_contains(&fx, "reason=\"frame_timeout\""));
    blc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_and_server_info),
        cmocka_unit_test(test_client_without_certificate_refused),
        cmocka_unit_test(test_certificate_from_other_ca_refused),
        cmocka_unit_test(test_plain_tcp_refused),
        cmocka_unit_test(test_pipelined_pings_answered_with_their_ids),
        cmocka_unit_test(test_fifty_concurrent_connections),
        cmocka_unit_test(test_oversize_frame_rejected_others_unaffected),
        cmocka_unit_test(test_max_length_prefix_rejected),
        cmocka_unit_test(test_zero_length_frame_rejected),
        cmocka_unit_test(test_garbage_frame_answered_connection_survives),
        cmocka_unit_test(test_unknown_operation_and_zero_id),
        cmocka_unit_test(test_ping_payload_limit_names_field),
        cmocka_unit_test(test_stalled_handshake_dropped),
        cmocka_unit_test(test_partial_frame_dropped),
    };
    if (fx_init(&fx, "foundation", false) != 0 ||
        fx_start(&fx, "handshake_timeout_ms = 700\nframe_timeout_ms = 700\n") != 0) {
        fx_cleanup(&fx, true);
        return 1;
    }
    int failed = cmocka_run_group_tests_name("foundation", tests, NULL, NULL);
    failed += fx_cleanup(&fx, failed != 0);
    return failed;
}
