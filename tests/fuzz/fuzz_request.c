/*
 * A frame's payload as branchd handles it, up to the database: protobuf
 * decoding of a Request, the envelope checks of dispatch.c and every
 * handler's own checks (sizes, UTF-8, parameter building in sql_call.c,
 * cache keys). The worker's database pool was never started, so it has no
 * live connection and db_submit answers UNAVAILABLE at once: a request that
 * gets that far still ends in request_finish, which must free everything
 * (the fuzzer's leak check holds us to it).
 *
 * Each input runs up to three times: once on a detached request (no
 * connection, as when the client has gone), and once on a connection with
 * no socket, whose output buffer keeps the answer, so the answer is packed,
 * framed and read back: it must be one frame holding a Response with the request's id,
 * and a non-OK status must carry no result. An organization read that the
 * worker caches then runs a third time with an answer waiting in the cache
 * under its key, so the hit path runs: request.c splices the request's id
 * into the stored bytes, which must decode with that id, for any id.
 *
 * A delayed ping's timer is fired at once instead of waited for, so an input
 * cannot stall the fuzzer; the handler's path is the same.
 */
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "conn.h"
#include "db.h"
#include "dispatch.h"
#include "frame.h"
#include "log.h"
#include "request.h"
#include "validate.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static config_t *cfg;
static server_t server;
static worker_t worker;
static conn_t conn;

/* Stands in for conn.c's flush: the output stays queued. */
static void flush_nowhere(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    conn.flush_scheduled = false;
}

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
    CHECK((worker.base = event_base_new()) != NULL);
    db_pool_config_t pool_cfg = {"dbname=none", 2, 16, 16, 0};
    CHECK((worker.db = db_pool_new(worker.base, &pool_cfg, 0)) != NULL);
    CHECK(db_pool_up(worker.db) == 0);
    CHECK((worker.cache = cache_new(1u << 20)) != NULL);
    /* No socket: answers stay in conn.out, where check_answer reads them;
     * the read event and the timer are never added, but exist for
     * conn_shutdown (an allocation failure) to stop and arm. */
    CHECK((conn.ev_write = event_new(worker.base, -1, 0, flush_nowhere, NULL)) != NULL);
    CHECK((conn.ev_read = event_new(worker.base, -1, 0, flush_nowhere, NULL)) != NULL);
    CHECK((conn.timer = event_new(worker.base, -1, 0, flush_nowhere, NULL)) != NULL);
    conn.worker = &worker;
    conn.id = 1;
    conn.state = CONN_OPEN;
    conn.fd = -1;
    conn.tenant = -1; /* not looked up: no rate limit */
    snprintf(conn.peer, sizeof conn.peer, "127.0.0.1:1");
    conn.subject = "CN=fuzz";
    return 0;
}

/* Dispatches one request and runs the loop until every request is answered. */
static void run(conn_t *c, Branchline__V1__Request *msg, const uint8_t *data, size_t size)
{
    request_t *r = request_new(&worker, c, msg);
    CHECK(r != NULL);
    dispatch_request(r, data, size);
    /* Still in flight, r is alive: only a handler's timer can be holding it. */
    if (worker.inflight > 0) {
        CHECK(r->timer != NULL);
        event_active(r->timer, EV_TIMEOUT, 1);
    }
    while (worker.inflight > 0)
        event_base_loop(worker.base, EVLOOP_ONCE);
    CHECK(!c || (c->inflight == 0 && c->requests == NULL));
}

/*
 * Stores an answer under the key sql_call.c computes for msg on conn
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
    size_t slen = strlen(conn.subject) + 1, alen = protobuf_c_message_get_packed_size(args);
    uint32_t op = (uint32_t)msg->op_case;
    size_t keylen = slen + sizeof op + alen;
    uint8_t *key = malloc(keylen);
    ProtobufCMessage *result = malloc(rd->sizeof_message);
    CHECK(key && result);
    memcpy(key, conn.subject, slen);
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

/* The connection's output: exactly one frame, a Response to request id;
 * from_cache: the answer seeded by seed_cache. */
static void check_answer(uint64_t id, const Branchline__V1__Request *msg, bool from_cache)
{
    size_t n = frame_buf_len(&conn.out);
    const uint8_t *bytes = conn.out.data + conn.out.start;
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
    if (from_cache) {
        CHECK(code == 0 && resp->result_case == (Branchline__V1__Response__ResultCase)msg->op_case);
    } else if (code == 0) {
        /* Without a database only what needs none can succeed. */
        CHECK(msg->op_case == BRANCHLINE__V1__REQUEST__OP_PING ||
              msg->op_case == BRANCHLINE__V1__REQUEST__OP_SERVER_INFO ||
              msg->op_case == BRANCHLINE__V1__REQUEST__OP_CANCEL);
    }
    if (code == 0 && msg->op_case == BRANCHLINE__V1__REQUEST__OP_PING) {
        CHECK(resp->result_case == BRANCHLINE__V1__RESPONSE__RESULT_PING);
        CHECK(resp->ping->payload.len == msg->ping->payload.len);
        CHECK(resp->ping->payload.len == 0 ||
              memcmp(resp->ping->payload.data, msg->ping->payload.data, msg->ping->payload.len) == 0);
    }
    branchline__v1__response__free_unpacked(resp, NULL);
    frame_buf_release(&conn.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Branchline__V1__Request *msg = branchline__v1__request__unpack(NULL, size, data);
    if (!msg)
        return 0; /* conn.c answers an undecodable frame itself */
    run(NULL, msg, data, size);

    /* Again on a connection; a copy of the message to check the answer against. */
    Branchline__V1__Request *copy = branchline__v1__request__unpack(NULL, size, data);
    msg = branchline__v1__request__unpack(NULL, size, data);
    CHECK(copy && msg);
    run(&conn, msg, data, size);
    check_answer(copy->id, copy, false);

    if (seed_cache(copy, data, size)) {
        msg = branchline__v1__request__unpack(NULL, size, data);
        CHECK(msg != NULL);
        run(&conn, msg, data, size);
        check_answer(copy->id, copy, true);
        cache_invalidate_all(worker.cache);
    }
    branchline__v1__request__free_unpacked(copy, NULL);
    return 0;
}
