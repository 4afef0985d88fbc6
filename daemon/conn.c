#include "conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "dispatch.h"
#include "quota.h"
#include "frame.h"
#include "log.h"
#include "request.h"
#include "tls.h"

/* Stop reading while this much is queued for a client that does not read. */
#define OUTPUT_PAUSE_BYTES (4u << 20)
#define OUTPUT_RESUME_BYTES (256u << 10)

static const char *const state_names[] = {"handshake", "open", "closing"};

static void conn_set_state(conn_t *c, conn_state_t state, const char *why)
{
    log_debug("conn_state", "worker=%u conn=%llu peer=%s from=%s to=%s reason=%s",
              c->worker->index, (unsigned long long)c->id, c->peer, state_names[c->state],
              state_names[state], why);
    c->state = state;
}

static void arm_timer(conn_t *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

/* Decides which deadline applies after input has been processed. */
static void rearm_timer(conn_t *c)
{
    const config_t *cfg = c->worker->server->cfg;
    if (c->state != CONN_OPEN)
        return;
    size_t pending = evbuffer_get_length(bufferevent_get_input(c->bev));
    if (pending > 0 && !c->read_paused) {
        /* The deadline counts from the frame's first byte, so a client that
         * trickles bytes cannot keep the connection forever. */
        if (!c->frame_timer_armed) {
            c->frame_timer_armed = true;
            arm_timer(c, cfg->frame_timeout_ms);
        }
        return;
    }
    c->frame_timer_armed = false;
    arm_timer(c, cfg->idle_timeout_ms);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = arg;
    if (c->state == CONN_HANDSHAKE) {
        conn_close(c, "handshake_timeout");
    } else if (c->state == CONN_CLOSING) {
        conn_close(c, "flush_timeout");
    } else if (c->frame_timer_armed) {
        conn_close(c, "frame_timeout");
    } else if (c->inflight > 0 || c->read_paused) {
        arm_timer(c, c->worker->server->cfg->idle_timeout_ms);
    } else {
        conn_close(c, "idle_timeout");
    }
}

void conn_write_frame(conn_t *c, const uint8_t *payload, size_t len)
{
    uint8_t header[FRAME_HEADER_SIZE];
    frame_put_header(header, (uint32_t)len);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_add(out, header, sizeof header) != 0 || evbuffer_add(out, payload, len) != 0)
        conn_shutdown(c, "out_of_memory");
}

bool conn_flushed(const conn_t *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

static bool may_read(const conn_t *c)
{
    return c->inflight < (unsigned)c->worker->server->cfg->max_inflight_per_conn &&
           evbuffer_get_length(bufferevent_get_output(c->bev)) < OUTPUT_PAUSE_BYTES;
}

/* Answers a request that never got as far as an id (bad frame): id 0. */
static void reply_envelope_error(conn_t *c, status_code_t code, const char *field, const char *msg)
{
    request_t *r = request_new(c->worker, c, NULL);
    if (!r) {
        conn_shutdown(c, "out_of_memory");
        return;
    }
    r->op_name = "envelope";
    request_finish(request_error(r, code, field, "%s", msg));
}

static void frame_error(conn_t *c, frame_status_t st, uint32_t len)
{
    char msg[128];
    if (st == FRAME_TOO_LARGE) {
        snprintf(msg, sizeof msg, "frame of %u bytes exceeds the limit of %d", len,
                 c->worker->server->cfg->max_frame_size);
        reply_envelope_error(c, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "length", msg);
    } else {
        reply_envelope_error(c, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "length",
                             "frame length must be positive");
    }
    conn_shutdown(c, frame_status_name(st));
}

/* Takes whole frames off the input and dispatches them, while allowed. */
static void process_input(conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    uint32_t max_frame = (uint32_t)c->worker->server->cfg->max_frame_size;
    while (c->state == CONN_OPEN) {
        if (!may_read(c)) {
            if (!c->read_paused) {
                c->read_paused = true;
                bufferevent_disable(c->bev, EV_READ);
            }
            break;
        }
        uint8_t head[FRAME_HEADER_SIZE];
        ev_ssize_t got = evbuffer_copyout(in, head, sizeof head);
        uint32_t len = 0;
        frame_status_t st = frame_peek(head, got < 0 ? 0 : (size_t)got, evbuffer_get_length(in),
                                       max_frame, &len);
        if (st == FRAME_NEED_MORE)
            break;
        if (st != FRAME_READY) {
            frame_error(c, st, len);
            return;
        }
        const uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_SIZE + len));
        Branchline__V1__Request *msg =
            frame ? branchline__v1__request__unpack(NULL, len, frame + FRAME_HEADER_SIZE) : NULL;
        evbuffer_drain(in, FRAME_HEADER_SIZE + len);
        c->frame_timer_armed = false;
        c->requests_total++;
        if (!msg) {
            reply_envelope_error(c, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, "frame",
                                 "frame does not decode as a branchline.v1.Request");
            continue;
        }
        request_t *r = request_new(c->worker, c, msg);
        if (!r) {
            branchline__v1__request__free_unpacked(msg, NULL);
            conn_shutdown(c, "out_of_memory");
            return;
        }
        dispatch_request(r);
    }
    rearm_timer(c);
}

void conn_request_done(conn_t *c)
{
    if (c->read_paused && c->state == CONN_OPEN && may_read(c)) {
        c->read_paused = false;
        bufferevent_enable(c->bev, EV_READ);
        /* Frames may already be buffered: run the read callback from the loop. */
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process_input(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_t *c = arg;
    if (c->state == CONN_CLOSING && conn_flushed(c)) {
        conn_close(c, "closed_after_flush");
        return;
    }
    conn_request_done(c);
}

static void tenant_known(void *arg, const db_result_t *res)
{
    request_t *r = arg;
    if (r->conn) {
        /* No principal (UNAUTHENTICATED) and operators share tenant 0's bucket. */
        bool found = res->code == BRANCHLINE__V1__STATUS__CODE__OK && PQntuples(res->result) == 1;
        r->conn->tenant = found ? atoll(PQgetvalue(res->result, 0, 0)) : 0;
    }
    request_finish(r);
}

/* Which tenant the subject belongs to, asked once per connection. */
static void conn_lookup_tenant(conn_t *c)
{
    request_t *r = request_new(c->worker, c, NULL);
    if (!r)
        return; /* the connection just goes unlimited */
    r->silent = true;
    r->op_name = "conn_tenant";
    const char *values[] = {c->subject};
    db_submit(c->worker->db, STMT_CONN_TENANT, 1, values, tenant_known, r);
}

static void handshake_done(conn_t *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    if (tls_peer_subject(ssl, c->subject, sizeof c->subject) != 0) {
        conn_close(c, "no_verified_certificate");
        return;
    }
    char subject[300];
    if (!identity_limit_acquire(c->worker->server->identities, c->subject)) {
        log_warn("conn_refused", "worker=%u conn=%llu peer=%s subject=%s reason=max_connections_per_identity",
                 c->worker->index, (unsigned long long)c->id, c->peer,
                 log_quote(subject, sizeof subject, c->subject));
        conn_close(c, "max_connections_per_identity");
        return;
    }
    c->identity_counted = true;
    conn_set_state(c, CONN_OPEN, "handshake_done");
    conn_lookup_tenant(c);
    log_info("conn_open", "worker=%u conn=%llu peer=%s subject=%s tls=%s cipher=%s",
             c->worker->index, (unsigned long long)c->id, c->peer,
             log_quote(subject, sizeof subject, c->subject), SSL_get_version(ssl),
             SSL_get_cipher_name(ssl));
    evtimer_del(c->timer);
    rearm_timer(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        handshake_done(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        conn_close(c, c->state == CONN_HANDSHAKE ? "eof_in_handshake" : "eof");
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        char reason[256] = "socket_error";
        unsigned long e = bufferevent_get_openssl_error(bev);
        if (e)
            ERR_error_string_n(e, reason, sizeof reason);
        while (bufferevent_get_openssl_error(bev))
            ;
        /* Say why a client certificate was refused: expired, revoked, ... */
        long verify = SSL_get_verify_result(bufferevent_openssl_get_ssl(bev));
        if (c->state == CONN_HANDSHAKE && verify != X509_V_OK) {
            size_t n = strlen(reason);
            snprintf(reason + n, sizeof reason - n, ": %s", X509_verify_cert_error_string(verify));
        }
        conn_close(c, reason);
    }
}

static void peer_text(const struct sockaddr *addr, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(out, outlen, addr->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

void conn_accept(worker_t *w, int fd, const struct sockaddr *addr, int addrlen)
{
    (void)addrlen;
    server_t *srv = w->server;
    char peer[64];
    peer_text(addr, peer, sizeof peer);
    if (atomic_fetch_add(&srv->connections, 1) >= srv->cfg->max_connections) {
        atomic_fetch_sub(&srv->connections, 1);
        log_warn("conn_refused", "worker=%u peer=%s reason=max_connections", w->index, peer);
        close(fd);
        return;
    }
    /* Responses are small and latency matters more than packet count. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = calloc(1, sizeof *c);
    SSL *ssl = server_new_ssl(srv);
    if (!c || !ssl) {
        free(c);
        SSL_free(ssl);
        close(fd);
        atomic_fetch_sub(&srv->connections, 1);
        return;
    }
    c->worker = w;
    c->id = atomic_fetch_add(&srv->next_conn_id, 1);
    c->state = CONN_HANDSHAKE;
    c->tenant = -1;
    memcpy(c->peer, peer, sizeof c->peer);
    c->bev = bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!c->bev) {
        SSL_free(ssl);
        close(fd);
        goto fail;
    }
    c->timer = evtimer_new(w->base, timer_cb, c);
    if (!c->timer) {
        bufferevent_free(c->bev);
        goto fail;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, OUTPUT_RESUME_BYTES, 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    arm_timer(c, srv->cfg->handshake_timeout_ms);
    log_debug("conn_accept", "worker=%u conn=%llu peer=%s", w->index, (unsigned long long)c->id, c->peer);
    return;
fail:
    free(c);
    atomic_fetch_sub(&srv->connections, 1);
}

void conn_shutdown(conn_t *c, const char *reason)
{
    if (c->state == CONN_CLOSING)
        return;
    conn_set_state(c, CONN_CLOSING, reason);
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    log_info("conn_shutdown", "worker=%u conn=%llu peer=%s reason=%s", c->worker->index,
             (unsigned long long)c->id, c->peer, reason);
    /* A client that never reads must not hold the connection open forever. */
    arm_timer(c, c->worker->server->cfg->frame_timeout_ms);
    if (conn_flushed(c))
        bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void conn_close(conn_t *c, const char *reason)
{
    worker_t *w = c->worker;
    char why[300];
    log_info("conn_close", "worker=%u conn=%llu peer=%s state=%s requests=%llu inflight=%u reason=%s",
             w->index, (unsigned long long)c->id, c->peer, state_names[c->state],
             (unsigned long long)c->requests_total, c->inflight, log_quote(why, sizeof why, reason));
    for (request_t *r = c->requests, *next; r; r = next) {
        next = r->next;
        request_detach(r);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->identity_counted)
        identity_limit_release(w->server->identities, c->subject);
    bufferevent_free(c->bev);
    event_free(c->timer);
    atomic_fetch_sub(&w->server->connections, 1);
    free(c);
}
