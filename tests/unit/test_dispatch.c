/*
 * Unit tests of the request path without a socket: a worker whose database
 * pool never started (every statement answers UNAVAILABLE at once), requests
 * made with a sink that keeps their answers (request.h), and a session whose
 * transport is a buffer (session.h). They cover dispatch.c (unknown
 * operation, the tenant's rate, draining), the handlers that need no
 * database (ping, server_info, cancel of a stream), sql_call's UNAVAILABLE and the
 * session's envelope (undecodable frame, id 0, id already in flight, a
 * request detached when its client goes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "db.h"
#include "dispatch.h"
#include "usage_limits.h"
#include "request.h"
#include "session.h"
#include "watch.h"

#define SUBJECT "CN=unit"
#define MAX_ANSWERS 8

static config_t *cfg;
static server_t server;
static worker_t worker;

/* What the sink and the fake transport received. */
static struct {
    Branchline__V1__Response *answers[MAX_ANSWERS];
    int count;
    int done;
    unsigned held;
    const char *shutdown;
} got;

static void keep(const uint8_t *packed, size_t len)
{
    assert_non_null(packed);
    assert_true(got.count < MAX_ANSWERS);
    got.answers[got.count] = branchline__v1__response__unpack(NULL, len, packed);
    assert_non_null(got.answers[got.count]);
    got.count++;
}

static void sink_reply(void *arg, const uint8_t *packed, size_t len)
{
    (void)arg;
    keep(packed, len);
}

static void sink_done(void *arg, request_t *r)
{
    (void)arg;
    (void)r;
    got.done++;
}

static const request_sink_t sink = {sink_reply, sink_done, &got};
/* Another client: the same callbacks, another origin. */
static int other_client;
static const request_sink_t other_sink = {sink_reply, sink_done, &other_client};

/* The session's transport: a frame is the payload itself here. */
static void io_write(void *t, const uint8_t *payload, size_t len)
{
    (void)t;
    keep(payload, len);
}

static void io_hold(void *t)
{
    (void)t;
    got.held++;
}

static void io_release(void *t)
{
    (void)t;
    assert_true(got.held > 0);
    got.held--;
}

static void io_shutdown(void *t, const char *reason)
{
    (void)t;
    got.shutdown = reason;
}

static const session_io_t buffer_io = {io_write, io_hold, io_release, io_shutdown};

static void run_loop(void)
{
    while (worker.inflight > 0)
        event_base_loop(worker.base, EVLOOP_ONCE);
}

static int setup(void **state)
{
    (void)state;
    memset(&got, 0, sizeof got);
    worker.draining = false;
    rate_limit_free(worker.rate);
    worker.rate = rate_limit_new(0, 0);
    return worker.rate ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    run_loop();
    for (int i = 0; i < got.count; i++)
        branchline__v1__response__free_unpacked(got.answers[i], NULL);
    return 0;
}

static Branchline__V1__Request *ping_msg(uint64_t id, size_t payload_len, uint32_t delay_ms)
{
    static uint8_t payload[2048];
    memset(payload, 'p', sizeof payload);
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__PingRequest ping = BRANCHLINE__V1__PING_REQUEST__INIT;
    req.id = id;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_PING;
    req.ping = &ping;
    ping.payload.data = payload;
    ping.payload.len = payload_len;
    ping.delay_ms = delay_ms;
    /* A copy owned like a decoded one: the request frees it. */
    uint8_t buf[4096];
    size_t len = branchline__v1__request__pack(&req, buf);
    return branchline__v1__request__unpack(NULL, len, buf);
}

/* dispatch_request with the frame the message came from, as a session calls it. */
static void dispatch_wire(request_t *r)
{
    static uint8_t wire[8192];
    size_t len = r->msg ? branchline__v1__request__pack(r->msg, wire) : 0;
    dispatch_request(r, wire, len);
}

/* Dispatches msg as subject in tenant and answers into got. */
static void dispatch(Branchline__V1__Request *msg, long long tenant)
{
    request_t *r = request_new(&worker, &sink, SUBJECT, tenant, msg);
    assert_non_null(r);
    dispatch_wire(r);
    run_loop();
}

static int code_of(int i)
{
    return got.answers[i]->status ? (int)got.answers[i]->status->code : 0;
}

static const char *field_of(int i)
{
    return got.answers[i]->status ? got.answers[i]->status->field : "";
}

static void test_unknown_operation(void **state)
{
    (void)state;
    Branchline__V1__Request *msg = ping_msg(3, 0, 0);
    /* Unset, the oneof no longer owns its ping: free it first. */
    branchline__v1__ping_request__free_unpacked(msg->ping, NULL);
    msg->ping = NULL;
    msg->op_case = BRANCHLINE__V1__REQUEST__OP__NOT_SET;
    dispatch(msg, -1);
    assert_int_equal(got.count, 1);
    assert_int_equal(got.done, 1);
    assert_int_equal(got.answers[0]->id, 3);
    assert_int_equal(code_of(0), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(field_of(0), "op");
}

static void test_ping_echoes_payload(void **state)
{
    (void)state;
    dispatch(ping_msg(5, 100, 0), -1);
    assert_int_equal(got.count, 1);
    assert_int_equal(code_of(0), 0);
    assert_int_equal(got.answers[0]->result_case, BRANCHLINE__V1__RESPONSE__RESULT_PING);
    assert_int_equal(got.answers[0]->ping->payload.len, 100);
    assert_int_equal(got.answers[0]->ping->payload.data[99], 'p');
    assert_true(got.answers[0]->ping->server_time_unix_ms > 1700000000000ULL); /* wall time */
}

static void test_ping_payload_too_large(void **state)
{
    (void)state;
    dispatch(ping_msg(6, 2000, 0), -1);
    assert_int_equal(got.count, 1);
    assert_int_equal(code_of(0), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(field_of(0), "ping.payload");
    assert_int_equal(got.answers[0]->result_case, BRANCHLINE__V1__RESPONSE__RESULT__NOT_SET);
}

/* protobuf-c decodes a padded tag of field 0 (0x81 0x00, then 8 bytes of
 * fixed64) but not the minimal one it would pack: refused with a field. */
static void test_field_number_zero_refused(void **state)
{
    (void)state;
    Branchline__V1__Request *msg = ping_msg(9, 4, 0);
    uint8_t wire[64];
    size_t len = branchline__v1__request__pack(msg, wire);
    branchline__v1__request__free_unpacked(msg, NULL);
    static const uint8_t field_zero[] = {0x81, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(wire + len, field_zero, sizeof field_zero);
    len += sizeof field_zero;
    msg = branchline__v1__request__unpack(NULL, len, wire);
    assert_non_null(msg); /* the quirk this guards against */
    request_t *r = request_new(&worker, &sink, SUBJECT, -1, msg);
    assert_non_null(r);
    dispatch_request(r, wire, len);
    run_loop();
    assert_int_equal(got.count, 1);
    assert_int_equal(got.answers[0]->id, 9);
    assert_int_equal(code_of(0), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(field_of(0), "request");
    assert_non_null(strstr(got.answers[0]->status->message, "field numbered 0"));
}

static void test_server_info_names_the_requests_subject(void **state)
{
    (void)state;
    Branchline__V1__Request *msg = ping_msg(7, 0, 0);
    Branchline__V1__ServerInfoRequest *info = malloc(sizeof *info);
    assert_non_null(info);
    branchline__v1__server_info_request__init(info);
    branchline__v1__ping_request__free_unpacked(msg->ping, NULL);
    msg->op_case = BRANCHLINE__V1__REQUEST__OP_SERVER_INFO;
    msg->server_info = info;
    dispatch(msg, -1);
    assert_int_equal(got.count, 1);
    assert_int_equal(code_of(0), 0);
    assert_string_equal(got.answers[0]->server_info->peer_identity, SUBJECT);
    assert_false(got.answers[0]->server_info->database_reachable);
    assert_int_equal(got.answers[0]->server_info->schema_version, -1);
}

static void test_sql_operation_without_database(void **state)
{
    (void)state;
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__WhoAmIRequest who = BRANCHLINE__V1__WHO_AM_IREQUEST__INIT;
    req.id = 8;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_WHOAMI;
    req.whoami = &who;
    uint8_t buf[64];
    size_t len = branchline__v1__request__pack(&req, buf);
    dispatch(branchline__v1__request__unpack(NULL, len, buf), -1);
    assert_int_equal(got.count, 1);
    assert_int_equal(code_of(0), BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE);
}

static void test_tenant_rate_limited(void **state)
{
    (void)state;
    rate_limit_free(worker.rate);
    worker.rate = rate_limit_new(0.001, 1); /* one request, then (almost) none */
    assert_non_null(worker.rate);
    dispatch(ping_msg(1, 0, 0), 42);
    dispatch(ping_msg(2, 0, 0), 42);
    dispatch(ping_msg(3, 0, 0), 43);   /* another tenant has its own bucket */
    dispatch(ping_msg(4, 0, 0), -1);   /* tenant not known yet: not limited */
    assert_int_equal(got.count, 4);
    assert_int_equal(code_of(0), 0);
    assert_int_equal(code_of(1), BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED);
    assert_int_equal(code_of(2), 0);
    assert_int_equal(code_of(3), 0);
}

static void test_draining_refuses(void **state)
{
    (void)state;
    worker.draining = true;
    dispatch(ping_msg(9, 0, 0), -1);
    assert_int_equal(got.count, 1);
    assert_int_equal(code_of(0), BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE);
}

static Branchline__V1__Request *cancel_msg(uint64_t id, uint64_t target)
{
    Branchline__V1__Request *msg = ping_msg(id, 0, 0);
    Branchline__V1__CancelRequest *cancel = malloc(sizeof *cancel);
    assert_non_null(cancel);
    branchline__v1__cancel_request__init(cancel);
    cancel->target_id = target;
    branchline__v1__ping_request__free_unpacked(msg->ping, NULL);
    msg->op_case = BRANCHLINE__V1__REQUEST__OP_CANCEL;
    msg->cancel = cancel;
    return msg;
}

static void test_cancel_without_stream(void **state)
{
    (void)state;
    dispatch(cancel_msg(10, 99), -1);
    assert_int_equal(got.count, 1);
    assert_int_equal(code_of(0), 0);
    assert_false(got.answers[0]->cancel->found);
}

/* A stream is cancelled by its own client only (watch.c matches the sink). */
static void test_cancel_ends_own_stream_only(void **state)
{
    (void)state;
    request_t *stream = request_new(&worker, &sink, SUBJECT, 1, ping_msg(20, 0, 0));
    assert_non_null(stream);
    watch_start(stream, 1, "");
    assert_int_equal(got.count, 1); /* "the stream is open" */
    assert_true(got.answers[0]->more);
    request_t *other = request_new(&worker, &other_sink, SUBJECT, 1, cancel_msg(21, 20));
    assert_non_null(other);
    dispatch_wire(other);
    assert_int_equal(got.count, 2);
    assert_false(got.answers[1]->cancel->found);
    dispatch(cancel_msg(22, 20), -1);
    assert_int_equal(got.count, 4);
    assert_int_equal(got.answers[2]->id, 20); /* the stream's last answer */
    assert_false(got.answers[2]->more);
    assert_int_equal(code_of(2), BRANCHLINE__V1__STATUS__CODE__CANCELLED);
    assert_int_equal(got.answers[3]->id, 22);
    assert_true(got.answers[3]->cancel->found);
    assert_true(LIST_EMPTY(&worker.watches));
}

/* A client that goes away ends its stream (watch.c's on_detach). */
static void test_detach_ends_stream(void **state)
{
    (void)state;
    request_t *stream = request_new(&worker, &sink, SUBJECT, 1, ping_msg(30, 0, 0));
    assert_non_null(stream);
    watch_start(stream, 1, "");
    assert_int_equal(worker.inflight, 1);
    request_detach(stream);
    assert_int_equal(worker.inflight, 0);
    assert_true(LIST_EMPTY(&worker.watches));
    assert_int_equal(got.count, 1); /* only "the stream is open" */
}

/* Sends msg through the session as one frame payload; frees msg. */
static void send_frame(session_t *s, Branchline__V1__Request *msg)
{
    uint8_t buf[4096];
    size_t len = branchline__v1__request__pack(msg, buf);
    branchline__v1__request__free_unpacked(msg, NULL);
    session_frame(s, buf, len);
}

static void test_session_envelope(void **state)
{
    (void)state;
    session_t *s = session_new(&worker, &buffer_io, NULL, 1, SUBJECT);
    assert_non_null(s);
    run_loop(); /* the tenant lookup: silent */
    assert_int_equal(got.count, 0);
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    session_frame(s, garbage, sizeof garbage);
    send_frame(s, ping_msg(0, 0, 0));
    send_frame(s, ping_msg(11, 0, 50)); /* held by its timer */
    send_frame(s, ping_msg(11, 0, 0));
    assert_int_equal(got.count, 3);
    assert_int_equal(got.answers[0]->id, 0);
    assert_string_equal(field_of(0), "frame");
    assert_string_equal(field_of(1), "id");
    assert_int_equal(got.answers[2]->id, 11);
    assert_int_equal(code_of(2), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(field_of(2), "id");
    assert_int_equal(got.held, 1);
    run_loop();
    assert_int_equal(got.count, 4);
    assert_int_equal(got.answers[3]->id, 11);
    assert_int_equal(code_of(3), 0);
    assert_int_equal(got.held, 0);
    assert_null(got.shutdown);
    session_close(s);
}

static void test_session_close_detaches(void **state)
{
    (void)state;
    session_t *s = session_new(&worker, &buffer_io, NULL, 2, SUBJECT);
    assert_non_null(s);
    run_loop();
    send_frame(s, ping_msg(12, 0, 30));
    assert_int_equal(worker.inflight, 1);
    session_close(s);
    run_loop(); /* the ping still runs to its end, answering nobody */
    assert_int_equal(worker.inflight, 0);
    assert_int_equal(got.count, 0);
}

int main(void)
{
    cfg = config_new();
    if (!cfg || dispatch_init() != 0)
        return 1;
    server.cfg = cfg;
    server.nworkers = 1;
    worker.server = &server;
    LIST_INIT(&worker.conns);
    LIST_INIT(&worker.watches);
    worker.base = event_base_new();
    db_pool_config_t pool_cfg = {.conninfo = "dbname=none", .size = 1, .queue_max = 4, .queue_per_source = 4};
    worker.db = worker.base ? db_pool_new(worker.base, &pool_cfg, 0) : NULL;
    if (!worker.db)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unknown_operation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_echoes_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_payload_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_number_zero_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_info_names_the_requests_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sql_operation_without_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_draining_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_without_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_ends_own_stream_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_ends_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_close_detaches, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
    rate_limit_free(worker.rate);
    db_pool_free(worker.db);
    event_base_free(worker.base);
    config_free(cfg);
    return failed;
}
