#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics_core.h"
#include "tls.h"
#include "usage_limits.h"

/* Stop reading while this much is queued for a client that does not read. */
#define OUTPUT_PAUSE_BYTES (4u << 20)
#define OUTPUT_RESUME_BYTES (256u << 10)
/* One read turn takes at most this much from a connection, then lets the
 * others run: a client streaming requests cannot starve the worker. */
#define READ_TURN_BYTES (64u << 10)
/* The most handed to one SSL_write (partial writes are on). */
#define WRITE_CHUNK (64u << 10)
/* SSL_read returns at most one record (16 KiB of plaintext). */
#define READ_CHUNK 16384

/* Decrypted bytes pass through here on their way to conn->in. */
static _Thread_local uint8_t read_scratch[READ_CHUNK];

static const char *const state_names[] = {"handshake", "open", "closing"};

static void conn_set_state(conn_t *c, conn_state_t state, const char *why)
{
    log_debug("conn_state", "worker=%u conn=%llu peer=%s from=%s to=%s reason=%s",
              c->worker->index, (unsigned long long)c->id, c->peer, state_names[c->state],
              state_names[state], why);
    metrics_conn_state((int)c->state, (int)state, why);
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
    if (frame_buf_len(&c->in) > 0 && !c->read_paused) {
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
    } else if (c->read_paused && frame_buf_len(&c->out) >= OUTPUT_PAUSE_BYTES && c->write_waiting) {
        conn_close(c, "client_not_reading");
    } else if (c->inflight > 0 || c->read_paused) {
        arm_timer(c, c->worker->server->cfg->idle_timeout_ms);
    } else {
        conn_close(c, "idle_timeout");
    }
}

/* The words for a failed TLS call: OpenSSL's reason, and in the handshake
 * why the client certificate was refused (expired, revoked, ...). */
static void io_failure_text(conn_t *c, int ssl_error, char *out, size_t outlen)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, out, outlen);
    else if (ssl_error == SSL_ERROR_SYSCALL && errno)
        snprintf(out, outlen, "socket_error: %s", strerror(errno));
    else if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN)
        snprintf(out, outlen, "%s", c->state == CONN_HANDSHAKE ? "eof_in_handshake" : "eof");
    else
        snprintf(out, outlen, "tls_error");
    ERR_clear_error();
    long verify = SSL_get_verify_result(c->ssl);
    if (c->state == CONN_HANDSHAKE && verify != X509_V_OK) {
        size_t n = strlen(out);
        snprintf(out + n, outlen - n, ": %s", X509_verify_cert_error_string(verify));
    }
}

static void schedule_flush(conn_t *c)
{
    if (!c->flush_scheduled) {
        c->flush_scheduled = true;
        event_active(c->ev_write, EV_WRITE, 0);
    }
}

static void wait_writable(conn_t *c, bool on)
{
    if (on && !c->write_waiting) {
        event_add(c->ev_write, NULL);
    } else if (!on && c->write_waiting) {
        event_del(c->ev_write);
        if (c->flush_scheduled) /* event_del cancelled that activation too */
            event_active(c->ev_write, EV_WRITE, 0);
    }
    c->write_waiting = on;
}

void conn_write_frame(conn_t *c, const uint8_t *payload, size_t len)
{
    uint8_t header[FRAME_HEADER_SIZE];
    frame_put_header(header, (uint32_t)len);
    /* Room for both first (then the appends cannot fail): a header without
     * its payload would corrupt the stream. */
    if (frame_buf_reserve(&c->out, sizeof header + len) != 0 ||
        frame_buf_append(&c->out, header, sizeof header) != 0 ||
        frame_buf_append(&c->out, payload, len) != 0) {
        conn_shutdown(c, "out_of_memory");
        return;
    }
    if (c->state != CONN_HANDSHAKE)
        schedule_flush(c);
}

bool conn_flushed(const conn_t *c)
{
    return frame_buf_len(&c->out) == 0;
}

static bool may_read(const conn_t *c)
{
    return c->inflight < (unsigned)c->worker->server->cfg->max_inflight_per_conn &&
           frame_buf_len(&c->out) < OUTPUT_PAUSE_BYTES;
}

static void pause_reading(conn_t *c)
{
    if (!c->read_paused) {
        c->read_paused = true;
        event_del(c->ev_read);
    }
}

/* Reading resumes from the loop: frames may already wait in c->in or inside OpenSSL. */
static void resume_reading(conn_t *c)
{
    if (c->read_paused && c->state == CONN_OPEN && may_read(c)) {
        c->read_paused = false;
        event_add(c->ev_read, NULL);
        event_active(c->ev_read, EV_READ, 0);
    }
}

/*
 * Hands queued output to OpenSSL until it is all written or the socket is
 * full. Returns false when the connection failed, with why in reason (the
 * caller closes it).
 */
static bool flush_output(conn_t *c, char *reason, size_t reasonlen)
{
    c->write_wants_read = false;
    while (frame_buf_len(&c->out) > 0) {
        size_t len = frame_buf_len(&c->out);
        ERR_clear_error(); /* SSL_get_error reads the thread's queue: only ours may be in it */
        int n = SSL_write(c->ssl, c->out.data + c->out.start, (int)(len < WRITE_CHUNK ? len : WRITE_CHUNK));
        if (n > 0) {
            c->out.start += (size_t)n;
            continue;
        }
        int err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_WANT_WRITE) {
            wait_writable(c, true);
            return true;
        }
        if (err == SSL_ERROR_WANT_READ) {
            /* Resumed from the read event, which must be on even while
             * reading is paused. */
            c->write_wants_read = true;
            wait_writable(c, false);
            if (c->read_paused)
                event_add(c->ev_read, NULL);
            return true;
        }
        io_failure_text(c, err, reason, reasonlen);
        c->io_failed = true;
        return false;
    }
    frame_buf_release(&c->out);
    if (!c->read_wants_write)
        wait_writable(c, false);
    return true;
}

static void frame_error(conn_t *c, frame_status_t st, uint32_t len, uint32_t max)
{
    c->cb->bad_frame(c->owner, st, len, max);
    metrics_frame_refused(frame_status_name(st));
    conn_shutdown(c, frame_status_name(st));
}

/* Takes whole frames off the input and hands them to the owner, while allowed. */
static void process_frames(conn_t *c)
{
    uint32_t max_frame = (uint32_t)c->worker->server->cfg->max_frame_size;
    while (c->state == CONN_OPEN) {
        if (!may_read(c)) {
            pause_reading(c);
            return;
        }
        const uint8_t *payload = NULL;
        uint32_t len = 0;
        frame_status_t st = frame_buf_next(&c->in, max_frame, &payload, &len);
        if (st == FRAME_NEED_MORE)
            return;
        if (st != FRAME_READY) {
            frame_error(c, st, len, max_frame);
            return;
        }
        c->frame_timer_armed = false;
        c->frames_total++;
        c->cb->frame(c->owner, payload, len);
    }
}

/*
 * Reads and hands frames up until OpenSSL wants more from the socket, reading
 * is paused, or this turn's share is used up. Returns false when the
 * connection has been closed.
 */
static bool read_input(conn_t *c)
{
    size_t turn = 0;
    c->read_wants_write = false;
    for (;;) {
        process_frames(c);
        if (c->state != CONN_OPEN || c->read_paused)
            break;
        if (turn >= READ_TURN_BYTES) {
            /* The rest waits for the next poll (level-triggered: the socket
             * still reads as ready). event_active would run this connection
             * again in the same pass, ahead of every other socket, timer and
             * database result; only bytes OpenSSL already holds need it. */
            if (SSL_has_pending(c->ssl))
                event_active(c->ev_read, EV_READ, 0);
            break;
        }
        ERR_clear_error();
        int n = SSL_read(c->ssl, read_scratch, sizeof read_scratch);
        if (n > 0) {
            turn += (size_t)n;
            if (frame_buf_append(&c->in, read_scratch, (size_t)n) != 0) {
                conn_shutdown(c, "out_of_memory");
                break;
            }
            continue;
        }
        int err = SSL_get_error(c->ssl, n);
        if (err == SSL_ERROR_WANT_READ)
            break;
        if (err == SSL_ERROR_WANT_WRITE) {
            c->read_wants_write = true;
            wait_writable(c, true);
            break;
        }
        if (err == SSL_ERROR_ZERO_RETURN && (c->inflight > 0 || !conn_flushed(c))) {
            /* The client is done sending but is owed answers: send them, then close. */
            conn_shutdown(c, "eof");
            break;
        }
        char reason[256];
        io_failure_text(c, err, reason, sizeof reason);
        c->io_failed = err != SSL_ERROR_ZERO_RETURN; /* no close_notify after a failed read */
        conn_close(c, reason);
        return false;
    }
    if (frame_buf_len(&c->in) == 0)
        frame_buf_release(&c->in);
    rearm_timer(c);
    return true;
}

/* Returns false when the connection has been closed. */
static bool handshake_done(conn_t *c)
{
    char subject[256], quoted[300];
    if (tls_peer_subject(c->ssl, subject, sizeof subject) != 0) {
        conn_close(c, "no_verified_certificate");
        return false;
    }
    c->subject = identity_limit_acquire(c->worker->server->identities, subject);
    if (!c->subject) {
        c->subject = "";
        log_warn("conn_refused", "worker=%u conn=%llu peer=%s subject=%s reason=max_connections_per_identity",
                 c->worker->index, (unsigned long long)c->id, c->peer,
                 log_quote(quoted, sizeof quoted, subject));
        conn_close(c, "max_connections_per_identity");
        return false;
    }
    c->identity_counted = true;
    if (!(c->owner = c->cb->open(c, c->worker, c->id, c->subject))) {
        conn_close(c, "out_of_memory");
        return false;
    }
    conn_set_state(c, CONN_OPEN, "handshake_done");
    bool resumed = SSL_session_reused(c->ssl) == 1;
    metrics_tls_handshake(resumed);
    log_info("conn_open", "worker=%u conn=%llu peer=%s subject=%s tls=%s cipher=%s resumed=%s",
             c->worker->index, (unsigned long long)c->id, c->peer,
             log_quote(quoted, sizeof quoted, c->subject), SSL_get_version(c->ssl),
             SSL_get_cipher_name(c->ssl), resumed ? "yes" : "no");
    evtimer_del(c->timer);
    rearm_timer(c);
    if (frame_buf_len(&c->out) > 0)
        schedule_flush(c);
    return true;
}

/* One step of the handshake; returns false when the connection has been closed. */
static bool continue_handshake(conn_t *c)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
        wait_writable(c, false);
        /* Requests may have come in the same flight as the client's Finished. */
        return handshake_done(c) && read_input(c);
    }
    int err = SSL_get_error(c->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        wait_writable(c, err == SSL_ERROR_WANT_WRITE);
        return true;
    }
    char reason[256];
    io_failure_text(c, err, reason, sizeof reason);
    c->io_failed = true;
    conn_close(c, reason);
    return false;
}

/* After a flush: close when closing and done, read again when the backlog has gone down. */
static void after_flush(conn_t *c)
{
    if (c->state == CONN_CLOSING && conn_flushed(c) && c->inflight == 0) {
        conn_close(c, "closed_after_flush");
        return;
    }
    if (frame_buf_len(&c->out) < OUTPUT_RESUME_BYTES)
        resume_reading(c);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = arg;
    if (c->state == CONN_HANDSHAKE) {
        continue_handshake(c);
        return;
    }
    if (c->write_wants_read) {
        char reason[256];
        if (!flush_output(c, reason, sizeof reason)) {
            conn_close(c, reason);
            return;
        }
        if (c->read_paused && !c->write_wants_read)
            event_del(c->ev_read); /* it was on for the write only */
        after_flush(c);
        return; /* reading, if it resumed, runs from the loop */
    }
    if (c->state == CONN_OPEN && !c->read_paused)
        read_input(c);
}

/* Runs when the socket became writable, and when a flush was scheduled. */
static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = arg;
    c->flush_scheduled = false;
    if (c->state == CONN_HANDSHAKE) {
        continue_handshake(c);
        return;
    }
    char reason[256];
    if (!flush_output(c, reason, sizeof reason)) {
        conn_close(c, reason);
        return;
    }
    if (c->read_wants_write) {
        /* A paused connection reads again when it resumes (resume_reading). */
        c->read_wants_write = false;
        if (c->state == CONN_OPEN && !c->read_paused && !read_input(c))
            return;
        if (conn_flushed(c) && !c->read_wants_write)
            wait_writable(c, false);
    }
    after_flush(c);
}

void conn_hold(conn_t *c)
{
    c->inflight++;
}

void conn_release(conn_t *c)
{
    c->inflight--;
    if (c->state == CONN_CLOSING)
        schedule_flush(c); /* the close waits for the last answer */
    else
        resume_reading(c);
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

/* The connection and its three events in one allocation. */
static conn_t *conn_alloc(void)
{
    size_t ev = event_get_struct_event_size();
    size_t head = (sizeof(conn_t) + 15) & ~(size_t)15;
    uint8_t *block = calloc(1, head + 3 * ev);
    if (!block)
        return NULL;
    conn_t *c = (conn_t *)block;
    c->ev_read = (struct event *)(block + head);
    c->ev_write = (struct event *)(block + head + ev);
    c->timer = (struct event *)(block + head + 2 * ev);
    return c;
}

void conn_accept(worker_t *w, int fd, const struct sockaddr *addr, SSL *ssl,
                 const conn_owner_t *cb)
{
    server_t *srv = w->server;
    char peer[sizeof ((conn_t *)0)->peer];
    peer_text(addr, peer, sizeof peer);
    if (atomic_fetch_add(&srv->connections, 1) >= srv->cfg->max_connections) {
        atomic_fetch_sub(&srv->connections, 1);
        log_warn("conn_refused", "worker=%u peer=%s reason=max_connections", w->index, peer);
        SSL_free(ssl);
        close(fd);
        return;
    }
    /* Responses are small and latency matters more than packet count. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = conn_alloc();
    if (!c || !ssl || evutil_make_socket_nonblocking(fd) != 0 || SSL_set_fd(ssl, fd) != 1) {
        free(c);
        SSL_free(ssl);
        close(fd);
        atomic_fetch_sub(&srv->connections, 1);
        return;
    }
    /* Output moves in its buffer between retries and may be taken in parts;
     * a client that just closes (no close_notify) is an ordinary end. */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_set_accept_state(ssl);
    c->worker = w;
    c->id = atomic_fetch_add(&srv->next_conn_id, 1);
    c->state = CONN_HANDSHAKE;
    c->fd = fd;
    c->ssl = ssl;
    c->cb = cb;
    c->subject = "";
    memcpy(c->peer, peer, sizeof c->peer);
    event_assign(c->ev_read, w->base, fd, EV_READ | EV_PERSIST, read_cb, c);
    event_assign(c->ev_write, w->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
    evtimer_assign(c->timer, w->base, timer_cb, c);
    event_add(c->ev_read, NULL);
    LIST_INSERT_HEAD(&w->conns, c, link);
    arm_timer(c, srv->cfg->handshake_timeout_ms);
    metrics_conn_state(-1, CONN_HANDSHAKE, NULL);
    log_debug("conn_accept", "worker=%u conn=%llu peer=%s", w->index, (unsigned long long)c->id, c->peer);
}

void conn_shutdown(conn_t *c, const char *reason)
{
    if (c->state == CONN_CLOSING)
        return;
    conn_set_state(c, CONN_CLOSING, reason);
    pause_reading(c);
    log_info("conn_shutdown", "worker=%u conn=%llu peer=%s reason=%s", c->worker->index,
             (unsigned long long)c->id, c->peer, reason);
    /* A client that never reads must not hold the connection open forever. */
    arm_timer(c, c->worker->server->cfg->frame_timeout_ms);
    schedule_flush(c);
}

void conn_close(conn_t *c, const char *reason)
{
    worker_t *w = c->worker;
    char why[300];
    log_info("conn_close", "worker=%u conn=%llu peer=%s state=%s requests=%llu inflight=%u reason=%s",
             w->index, (unsigned long long)c->id, c->peer, state_names[c->state],
             (unsigned long long)c->frames_total, c->inflight, log_quote(why, sizeof why, reason));
    /* What the owner holds in flight finishes without us. */
    if (c->owner)
        c->cb->close(c->owner);
    LIST_REMOVE(c, link);
    if (c->identity_counted)
        identity_limit_release(w->server->identities, c->subject);
    event_del(c->ev_read);
    event_del(c->ev_write);
    event_del(c->timer);
    /* close_notify, if the socket takes it now; nobody waits for the answer. */
    if (!c->io_failed && SSL_is_init_finished(c->ssl))
        SSL_shutdown(c->ssl);
    ERR_clear_error();
    SSL_free(c->ssl);
    close(c->fd);
    frame_buf_release(&c->in);
    frame_buf_release(&c->out);
    atomic_fetch_sub(&w->server->connections, 1);
    metrics_conn_state((int)c->state, -1, reason);
    free(c);
}
