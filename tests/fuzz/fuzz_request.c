/*
 * A frame's payload as branchd handles it, up to the database: the session
 * layer's decoding and envelope checks (session.c), dispatch.c's checks and
 * every handler's own (sizes, UTF-8, parameter building in sql_call.c,
 * cache keys). The worker's database pool was never started, so it has no
 * live connection and db_submit answers UNAVAILABLE at once: a request that
 * gets that far still ends in request_finish, which must free everything
 * (the fuzzer's leak check holds us to it).
 *
 * Each input runs up to three times. Once as a request with no sink (as
 * when the client has gone), straight into dispatch. Then through a session
 * whose transport is a buffer (session_io_t, no socket), so the answer is
 * packed, framed and read back: it must be one frame holding a Response
 * with the request's id (0 for a frame that does not decode), and a non-OK
 * status must carry no result. An organization read that the worker caches
 * then runs a third time with an answer waiting in the cache under its key,
 * so the hit path runs: request.c splices the request's id into the stored
 * bytes, which must decode with that id, for any id.
 *
 * A delayed ping's timer is fired at once instead of waited for in the
 * first run, so an input cannot stall the fuzzer; the session runs get the
 * same request without the delay.
 */
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "db.h"
#include "dispatch.h"
#include "frame.h"
#include "log.h"
#include "usage_limits.h"
#include "request.h"
#include "session.h"
#include "validate.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define SUBJECT "CN=fuzz"

static config_t *cfg;
static server_t server;
static worker_t worker;

/* The session's transport: frames pile up in out. */
static struct {
    frame_buf_t out;
    unsigned held;
    bool shut;
} io;

static void io_write(void *t, const uint8_t *payload, size_t len)
{
    (void)t;
    uint8_t header[FRAME_HEADER_SIZE];
    frame_put_header(header, (uint32_t)len);
    CHECK(frame_buf_append(&io.out, header, sizeof header) == 0);
    CHECK(frame_buf_append(&io.out, payload, len) == 0);
}

static void io_hold(void *t)
{
    (void)t;
    io.held++;
}

static void io_release(void *t)
{
    (void)t;
    CHECK(io.held > 0);
    io.held--;
}

static void io_shutdown(void *t, const char *reason)
{
    (void)t;
    (void)reason;
    io.shut = true;
}

static const session_io_t buffer_io = {io_write, io_hold, io_release, io_shutdown};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Every log line is formatted, so log_quote and friends see hostile text;
     * tests/fuzz/run.sh closes the target's stderr (-close_fd_mask). */
    log_set_level(LOG_DEBUG);
    CHECK(dispatch_init() == 0);
    CHECK((cfg = config_new()) != NULL);
    server.cfg = cfg;
    server.nworkers = 1;
    server.expected_schema_version = 1;
    worker.server = &server;
    LIST_INIT(&worker.conns);
    LIST_INIT(&worker.watches);
    CHECK((worker.base = event_base_new()) != NULL);
    db_pool_config_t pool_cfg = {.conninfo = "dbname=none", .size = 2, .queue_max = 16, .queue_per_source = 16};
    CHECK((worker.db = db_pool_new(worker.base, &pool_cfg, 0)) != NULL);
    CHECK(db_pool_up(worker.db) == 0);
    CHECK((worker.cache = cache_new(1u << 20)) != NULL);
    CHECK((worker.rate = rate_limit_new(0, 0)) != NULL); /* unlimited */
    return 0;
}

static void run_loop(void)
{
    while (worker.inflight > 0)
        event_base_loop(worker.base, EVLOOP_ONCE);
}

/* Dispatches msg with nobody to answer; a delayed ping's timer fires at
 * once. Returns whether it had to. */
static bool run_detached(Branchline__V1__Request *msg, const uint8_t *data, size_t size)
{
    request_t *r = request_new(&worker, NULL, SUBJECT, -1, msg);
    CHECK(r != NULL);
    dispatch_request(r, data, size);
    /* Still in flight, r is alive: only a handler's timer can be holding it. */
    bool timer = worker.inflight > 0;
    if (timer) {
        CHECK(r->timer != NULL);
        event_active(r->timer, EV_TIMEOUT, 1);
    }
    run_loop();
    return timer;
}

/* One frame through a session, until every request is answered. */
static void run_session(const uint8_t *payload, size_t len)
{
    session_t *s = session_new(&worker, &buffer_io, NULL, 1, SUBJECT);
    CHECK(s != NULL);
    run_loop();
    /* The tenant lookup failed (no database): its answer is silent. */
    CHECK(frame_buf_len(&io.out) == 0 && io.held == 0);
    session_frame(s, payload, len);
    run_loop();
    CHECK(io.held == 0 && !io.shut);
    session_close(s);
}

/*
 * Stores an answer under the key sql_call.c computes for msg of SUBJECT
 * (subject, NUL, operation number, packed arguments): a Response with id 0
 * and an empty result, as cache_store would have packed it. false when the
 * operation is not a cached one, or the request fails before the cache
 * (a refused string, say).
 */
static bool seed_cache(const Branchline__V1__Request *msg, const uint8_t *data, size_t size)
{
    const dispatch_entry_t *e = dispatch_lookup(msg->op_case);
    validate_error_t err;
    if (!e || !e->cached || msg->id == 0 ||
        validate_wire(&branchline__v1__request__descriptor, data, size, 1, &err) != VALIDATE_OK)
        return false;
    const ProtobufCFieldDescriptor *qf = protobuf_c_message_descriptor_get_field(
        &branchline__v1__request__descriptor, (unsigned)msg->op_case);
    const ProtobufCFieldDescriptor *rf = protobuf_c_message_descriptor_get_field(
        &branchline__v1__response__descriptor, (unsigned)msg->op_case);
    CHECK(qf && rf && rf->type == PROTOBUF_C_TYPE_MESSAGE);
    const ProtobufCMessageDescriptor *rd = rf->descriptor;
    const ProtobufCMessage *args = *(const ProtobufCMessage *const *)((const char *)msg + qf->offset);
    size_t slen = strlen(SUBJECT) + 1, alen = protobuf_c_message_get_packed_size(args);
    uint32_t op = (uint32_t)msg->op_case;
    size_t keylen = slen + sizeof op + alen;
    uint8_t *key = malloc(keylen);
    ProtobufCMessage *result = malloc(rd->sizeof_message);
    CHECK(key && result);
    memcpy(key, SUBJECT, slen);
    memcpy(key + slen, &op, sizeof op);
    protobuf_c_message_pack(args, key + slen + sizeof op);
    rd->message_init(result);
    Branchline__V1__Response resp = BRANCHLINE__V1__RESPONSE__INIT;
    *(uint32_t *)((char *)&resp + rf->quantifier_offset) = rf->id;
    *(ProtobufCMessage **)((char *)&resp + rf->offset) = result;
    size_t len = branchline__v1__response__get_packed_size(&resp);
    uint8_t *packed = malloc(len ? len : 1);
    CHECK(packed != NULL);
    branchline__v1__response__pack(&resp, packed);
    cache_put(worker.cache, key, keylen, 0, cache_generation(worker.cache), packed, len);
    free(packed);
    free(result);
    free(key);
    return true;
}

/* The session's output: exactly one frame, a Response to request id;
 * msg NULL: the frame did not decode; from_cache: the answer seeded by
 * seed_cache. */
static void check_answer(uint64_t id, const Branchline__V1__Request *msg, bool from_cache)
{
    size_t n = frame_buf_len(&io.out);
    const uint8_t *bytes = io.out.data + io.out.start;
    uint32_t len = 0;
    CHECK(frame_peek(bytes, n, n, FRAME_DEFAULT_MAX, &len) == FRAME_READY);
    CHECK(n == FRAME_HEADER_SIZE + len);
    Branchline__V1__Response *resp =
        branchline__v1__response__unpack(NULL, len, bytes + FRAME_HEADER_SIZE);
    CHECK(resp != NULL);
    CHECK(resp->id == id && !resp->more);
    int code = resp->status ? (int)resp->status->code : 0;
    CHECK(code >= 0 && code <= BRANCHLINE__V1__STATUS__CODE__UNAUTHENTICATED);
    CHECK(code == 0 || resp->result_case == BRANCHLINE__V1__RESPONSE__RESULT__NOT_SET);
    if (!msg) {
        CHECK(code == BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    } else if (from_cache) {
        CHECK(code == 0 && resp->result_case == (Branchline__V1__Response__ResultCase)msg->op_case);
    } else if (code == 0) {
        /* Without a database only what needs none can succeed. */
        CHECK(msg->op_case == BRANCHLINE__V1__REQUEST__OP_PING ||
              msg->op_case == BRANCHLINE__V1__REQUEST__OP_SERVER_INFO ||
              msg->op_case == BRANCHLINE__V1__REQUEST__OP_CANCEL);
    }
    if (code == 0 && msg && msg->op_case == BRANCHLINE__V1__REQUEST__OP_PING) {
        CHECK(resp->result_case == BRANCHLINE__V1__RESPONSE__RESULT_PING);
        CHECK(resp->ping->payload.len == msg->ping->payload.len);
        CHECK(resp->ping->payload.len == 0 ||
              memcmp(resp->ping->payload.data, msg->ping->payload.data, msg->ping->payload.len) == 0);
    }
    branchline__v1__response__free_unpacked(resp, NULL);
    frame_buf_release(&io.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Branchline__V1__Request *msg = branchline__v1__request__unpack(NULL, size, data);
    if (!msg) {
        run_session(data, size);
        check_answer(0, NULL, false);
        return 0;
    }
    bool delayed = run_detached(msg, data, size);

    /* Through a session; a copy of the message to check the answer against.
     * A delayed ping goes without its delay (the first run fired its timer). */
    Branchline__V1__Request *copy = branchline__v1__request__unpack(NULL, size, data);
    CHECK(copy != NULL);
    const uint8_t *frame = data;
    size_t frame_len = size;
    uint8_t *repacked = NULL;
    if (delayed) {
        CHECK(copy->op_case == BRANCHLINE__V1__REQUEST__OP_PING);
        copy->ping->delay_ms = 0;
        frame_len = branchline__v1__request__get_packed_size(copy);
        CHECK((repacked = malloc(frame_len ? frame_len : 1)) != NULL);
        branchline__v1__request__pack(copy, repacked);
        frame = repacked;
    }
    bool envelope_ok = copy->id != 0;
    run_session(frame, frame_len);
    check_answer(copy->id, envelope_ok ? copy : NULL, false);

    if (envelope_ok && seed_cache(copy, frame, frame_len)) {
        run_session(frame, frame_len);
        check_answer(copy->id, copy, true);
        cache_invalidate_all(worker.cache);
    }
    free(repacked);
    branchline__v1__request__free_unpacked(copy, NULL);
    return 0;
}
