#include "blclient.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blc_net.h"
#include "blc_session.h"
#include "blc_tls.h"
#include "frame.h"

typedef Branchline__V1__Response response_t;

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name
#define READ_CHUNK 16384
/* blc_free waits at most this long to hand close_notify to the kernel. */
#define CLOSE_WAIT_MS 1000
/* A write first reads, in at most this many chunks, the answers the server
 * has ready, so that a long pipeline cannot fill both directions and stall. */
#define DRAIN_READS 16
#define DRAIN_BUFFER_LIMIT (8u * FRAME_DEFAULT_MAX)

typedef struct queued {
    response_t *resp;
    struct queued *next;
} queued_t;

struct blc {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char *session_path;  /* the TLS session cache file (blc_session.h); NULL: none */
    int timeout_ms;      /* each wait; BLC_NO_TIMEOUT: none */
    int wake_fd;         /* also ends waits for a response when readable; -1: none */
    uint32_t max_frame;
    uint64_t next_id;
    frame_buf_t rbuf;    /* bytes read, not yet decoded */
    uint8_t *wbuf;       /* encoded frames queued by blc_queue, not yet written */
    size_t wlen;
    size_t wcap;
    queued_t *head;      /* answers that arrived during blc_call */
    queued_t *tail;
    bool eof;            /* the server ended the stream */
    bool broken;         /* nothing more can be sent or read; err says why */
    int err_code;
    char err[256];
};

__attribute__((format(printf, 3, 4)))
static void set_error(blc_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->err_code = code;
}

/* The first fatal error is the one reported from then on. */
#define BREAK(c, code, ...) do { set_error((c), (code), __VA_ARGS__); (c)->broken = true; } while (0)

blc_t *blc_connect(const blc_options_t *opts, char *err, size_t errlen)
{
    char host[BLC_HOST_MAX], port[BLC_PORT_MAX], why[256];
    blc_t *c = NULL;
    if (!opts || !opts->server || !opts->ca_file || opts->timeout_ms < 0) {
        snprintf(err, errlen, "blc_connect: server and ca_file are required, timeout_ms >= 0");
        return NULL;
    }
    if (blc_net_split(opts->server, host, port, err, errlen) < 0)
        return NULL;
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = -1;
    c->wake_fd = -1;
    c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : BLC_DEFAULT_TIMEOUT_MS;
    c->max_frame = FRAME_DEFAULT_MAX;
    c->next_id = 1;
    frame_buf_init(&c->rbuf);
    c->ctx = blc_tls_ctx_new(opts, err, errlen);
    if (!c->ctx)
        goto fail;
    if (opts->session_dir && opts->session_dir[0]) {
        char path[BLC_SESSION_PATH_MAX];
        blc_session_ctx_init(c->ctx);
        /* A cache that cannot be named costs a full handshake, nothing else. */
        if (blc_session_path(opts->session_dir, opts->server, c->ctx, opts->ca_file, path) == 0 &&
            !(c->session_path = strdup(path))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    c->fd = blc_net_connect(host, port, blc_now_ms() + c->timeout_ms, why, sizeof why);
    if (c->fd < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", opts->server, why);
        goto fail;
    }
    c->ssl = blc_tls_handshake(c->ctx, c->fd, host, c->session_path, blc_now_ms() + c->timeout_ms, why,
                               sizeof why);
    if (!c->ssl) {
        snprintf(err, errlen, "TLS handshake with %s failed: %s", opts->server, why);
        goto fail;
    }
    return c;
fail:
    blc_free(c);
    return NULL;
}

int blc_resumed(const blc_t *c)
{
    return c && c->ssl && SSL_session_reused(c->ssl) == 1;
}

int blc_check_server(const char *server, char *err, size_t errlen)
{
    char host[BLC_HOST_MAX], port[BLC_PORT_MAX];
    return blc_net_split(server, host, port, err, errlen);
}

void blc_free(blc_t *c)
{
    if (!c)
        return;
    if (c->ssl && !c->broken) {
        char why[200];
        int done;
        int wait_ms = c->timeout_ms > 0 && c->timeout_ms < CLOSE_WAIT_MS ? c->timeout_ms
                                                                          : CLOSE_WAIT_MS;
        (void)blc_tls_io(c->ssl, c->fd, BLC_TLS_SHUTDOWN, NULL, 0, -1, blc_now_ms() + wait_ms,
                         &done, why, sizeof why);
    }
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    free(c->session_path);
    if (c->fd >= 0)
        close(c->fd);
    while (c->head) {
        queued_t *q = c->head;
        c->head = q->next;
        branchline__v1__response__free_unpacked(q->resp, NULL);
        free(q);
    }
    frame_buf_release(&c->rbuf);
    free(c->wbuf);
    free(c);
}

uint64_t blc_next_id(blc_t *c)
{
    return c->next_id++;
}

void blc_set_timeout(blc_t *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms == 0 ? BLC_DEFAULT_TIMEOUT_MS
                    : timeout_ms < 0 ? BLC_NO_TIMEOUT : timeout_ms;
}

void blc_set_wake_fd(blc_t *c, int wake_fd)
{
    c->wake_fd = wake_fd < 0 ? -1 : wake_fd;
}

/* When a wait that starts now must end. */
static int64_t deadline(const blc_t *c)
{
    return c->timeout_ms == BLC_NO_TIMEOUT ? BLC_NET_NO_DEADLINE : blc_now_ms() + c->timeout_ms;
}

const char *blc_error(const blc_t *c)
{
    return c ? c->err : "no connection";
}

int blc_error_code(const blc_t *c)
{
    return c ? c->err_code : CODE(UNAVAILABLE);
}

int blc_fd(const blc_t *c)
{
    return c ? c->fd : -1;
}

typedef enum {
    FILL_FAILED = -1,  /* end of stream or failure; err set */
    FILL_TIMEOUT = 0,  /* nothing before the deadline */
    FILL_BYTES = 1,    /* bytes added to rbuf */
    FILL_WOKEN = 2,    /* wake_fd became readable first */
} fill_t;

/* Moves what TLS has into rbuf, waiting until the deadline (or wake_fd) for the first byte. */
static fill_t fill(blc_t *c, int64_t deadline_ms, int wake_fd)
{
    char why[200];
    uint8_t chunk[READ_CHUNK];
    int n = 0;
    if (c->eof) {
        set_error(c, CODE(UNAVAILABLE), "connection closed by server");
        return FILL_FAILED;
    }
    switch (blc_tls_io(c->ssl, c->fd, BLC_TLS_READ, chunk, sizeof chunk, wake_fd, deadline_ms,
                       &n, why, sizeof why)) {
    case BLC_TLS_OK:
        if (frame_buf_append(&c->rbuf, chunk, (size_t)n) == 0)
            return FILL_BYTES;
        BREAK(c, CODE(RESOURCE_EXHAUSTED), "out of memory");
        return FILL_FAILED;
    case BLC_TLS_TIMEOUT:
        return FILL_TIMEOUT;
    case BLC_TLS_WOKEN:
        return FILL_WOKEN;
    case BLC_TLS_EOF:
        c->eof = true;
        set_error(c, CODE(UNAVAILABLE), "connection closed by server");
        return FILL_FAILED;
    default:
        BREAK(c, CODE(UNAVAILABLE), "receive failed: %s", why);
        return FILL_FAILED;
    }
}

/* Reads whatever answers are already waiting, without waiting for more. */
static void drain_ready(blc_t *c)
{
    for (int i = 0; i < DRAIN_READS && !c->eof && !c->broken; i++)
        if (frame_buf_len(&c->rbuf) >= DRAIN_BUFFER_LIMIT || fill(c, 0, -1) != FILL_BYTES)
            return;
}

/*
 * Writes all of p. While the server will not take more, answers it has sent
 * are read into rbuf: a server that stops reading until its answers drain
 * (as branchd does past max_inflight_per_conn) must not stall a pipeline.
 */
static int write_all(blc_t *c, const uint8_t *p, size_t n)
{
    char why[200];
    int64_t deadline_ms = deadline(c);
    drain_ready(c);
    while (n > 0 && !c->broken) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n, done = 0;
        /* A past deadline: OpenSSL retries p and chunk unchanged after waiting below. */
        blc_tls_outcome_t how = blc_tls_io(c->ssl, c->fd, BLC_TLS_WRITE, (void *)p, chunk, -1,
                                           0, &done, why, sizeof why);
        if (how == BLC_TLS_OK) {
            p += done;
            n -= (size_t)done;
            continue;
        }
        if (how != BLC_TLS_TIMEOUT) {
            BREAK(c, CODE(UNAVAILABLE), "send failed: %s", why);
            break;
        }
        short events = POLLOUT;
        if (!c->eof && frame_buf_len(&c->rbuf) < DRAIN_BUFFER_LIMIT)
            events |= POLLIN;
        int ready = blc_net_wait(c->fd, events, -1, deadline_ms);
        if (ready > 0) {
            drain_ready(c);
            continue;
        }
        /* A frame cut short cannot be resumed: the stream is out of step. */
        if (ready == 0)
            BREAK(c, CODE(DEADLINE_EXCEEDED), "send failed: timed out after %d ms", c->timeout_ms);
        else
            BREAK(c, CODE(UNAVAILABLE), "send failed: poll: %s", strerror(errno));
    }
    return c->broken ? -1 : 0;
}

static int reserve_wbuf(blc_t *c, size_t n)
{
    if (n <= c->wcap)
        return 0;
    size_t cap = c->wcap ? c->wcap : 256;
    while (cap < n)
        cap *= 2;
    uint8_t *grown = realloc(c->wbuf, cap);
    if (!grown)
        return -1;
    c->wbuf = grown;
    c->wcap = cap;
    return 0;
}

int blc_queue(blc_t *c, Branchline__V1__Request *req)
{
    if (!c || !req || c->broken)
        return -1;
    if (req->id == 0)
        req->id = blc_next_id(c);
    size_t n = branchline__v1__request__get_packed_size(req);
    if (n > c->max_frame) {
        set_error(c, CODE(INVALID_ARGUMENT), "request of %zu bytes exceeds the %u-byte frame limit",
                  n, c->max_frame);
        return -1;
    }
    if (reserve_wbuf(c, c->wlen + FRAME_HEADER_SIZE + n) < 0) {
        set_error(c, CODE(RESOURCE_EXHAUSTED), "out of memory");
        return -1;
    }
    frame_put_header(c->wbuf + c->wlen, (uint32_t)n);
    branchline__v1__request__pack(req, c->wbuf + c->wlen + FRAME_HEADER_SIZE);
    c->wlen += FRAME_HEADER_SIZE + n;
    return 0;
}

int blc_flush(blc_t *c)
{
    if (!c || c->broken)
        return -1;
    if (c->wlen == 0)
        return 0;
    size_t n = c->wlen;
    c->wlen = 0; /* what write_all cannot send breaks the connection anyway */
    return write_all(c, c->wbuf, n);
}

int blc_send(blc_t *c, Branchline__V1__Request *req)
{
    if (blc_queue(c, req) < 0)
        return -1;
    return blc_flush(c);
}

int blc_send_raw(blc_t *c, const void *bytes, size_t n)
{
    if (blc_flush(c) < 0)
        return -1;
    return write_all(c, bytes, n);
}

/* Takes one whole frame off rbuf and decodes it; NULL (err set) or *done = false if none. */
static response_t *decode_next(blc_t *c, bool *done)
{
    const uint8_t *payload = NULL;
    uint32_t len = 0;
    *done = false;
    if (frame_buf_len(&c->rbuf) == 0)
        return NULL;
    frame_status_t st = frame_buf_next(&c->rbuf, c->max_frame, &payload, &len);
    if (st == FRAME_NEED_MORE)
        return NULL;
    *done = true;
    if (st != FRAME_READY) {
        BREAK(c, CODE(INTERNAL), "server sent an invalid frame: %s (%u bytes)",
              frame_status_name(st), len);
        return NULL;
    }
    response_t *r = branchline__v1__response__unpack(NULL, len, payload);
    if (!r)
        BREAK(c, CODE(INTERNAL), "server sent a %u-byte frame that is not a Response", len);
    return r;
}

static response_t *read_response(blc_t *c, int64_t deadline_ms)
{
    for (;;) {
        bool done;
        response_t *r = decode_next(c, &done);
        if (done || c->broken)
            return r;
        fill_t rc = fill(c, deadline_ms, c->wake_fd);
        if (rc == FILL_TIMEOUT) {
            set_error(c, CODE(DEADLINE_EXCEEDED), "no response within %d ms", c->timeout_ms);
            return NULL;
        }
        if (rc == FILL_WOKEN) {
            set_error(c, CODE(CANCELLED), "interrupted while waiting for a response");
            return NULL;
        }
        if (rc == FILL_FAILED) {
            if (c->eof && frame_buf_len(&c->rbuf) > 0)
                BREAK(c, CODE(UNAVAILABLE), "connection closed by server in the middle of a frame");
            return NULL;
        }
    }
}

Branchline__V1__Response *blc_recv(blc_t *c)
{
    if (!c)
        return NULL;
    if (c->head) {
        queued_t *q = c->head;
        response_t *r = q->resp;
        c->head = q->next;
        if (!c->head)
            c->tail = NULL;
        free(q);
        return r;
    }
    if (c->broken)
        return NULL;
    return read_response(c, deadline(c));
}

static int enqueue(blc_t *c, response_t *r)
{
    queued_t *q = malloc(sizeof *q);
    if (!q)
        return -1;
    q->resp = r;
    q->next = NULL;
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    return 0;
}

Branchline__V1__Response *blc_call(blc_t *c, Branchline__V1__Request *req)
{
    if (blc_send(c, req) < 0)
        return NULL;
    int64_t deadline_ms = deadline(c);
    for (;;) {
        response_t *r = read_response(c, deadline_ms);
        if (!r || r->id == req->id || r->id == 0)
            return r;
        if (enqueue(c, r) < 0) {
            branchline__v1__response__free_unpacked(r, NULL);
            BREAK(c, CODE(RESOURCE_EXHAUSTED), "out of memory");
            return NULL;
        }
    }
}

/* Until the next tick, or the deadline when that comes first. */
static int64_t next_wake(int64_t deadline_ms, int tick_ms)
{
    if (tick_ms <= 0)
        return deadline_ms;
    int64_t tick = blc_now_ms() + tick_ms;
    return tick < deadline_ms ? tick : deadline_ms;
}

/* The wait ended at a tick, not at the deadline: the error it set is no error. */
static bool just_ticked(blc_t *c, int64_t wake_ms, int64_t deadline_ms)
{
    return !c->broken && c->err_code == CODE(DEADLINE_EXCEEDED) && wake_ms < deadline_ms &&
           blc_now_ms() < deadline_ms;
}

/* An answer of the call before its last: handed on (progress) or skipped. */
static void take_partial(response_t *r, blc_progress_fn on_progress, void *arg)
{
    if (on_progress && r->result_case == BRANCHLINE__V1__RESPONSE__RESULT_PROGRESS && r->progress)
        on_progress(arg, r->progress);
    branchline__v1__response__free_unpacked(r, NULL);
}

Branchline__V1__Response *blc_call_progress(blc_t *c, Branchline__V1__Request *req, int tick_ms,
                                            blc_progress_fn on_progress, void *arg)
{
    char saved[sizeof c->err];
    if (blc_send(c, req) < 0)
        return NULL;
    int64_t deadline_ms = deadline(c);
    for (;;) {
        int saved_code = c->err_code;
        memcpy(saved, c->err, sizeof saved);
        int64_t wake_ms = next_wake(deadline_ms, tick_ms);
        response_t *r = read_response(c, wake_ms);
        if (!r && just_ticked(c, wake_ms, deadline_ms)) {
            c->err_code = saved_code;
            memcpy(c->err, saved, sizeof saved);
            if (on_progress)
                on_progress(arg, NULL);
            continue;
        }
        if (!r || r->id == 0 || (r->id == req->id && !r->more))
            return r;
        if (r->id == req->id) {
            take_partial(r, on_progress, arg);
            deadline_ms = deadline(c);
        } else if (enqueue(c, r) < 0) {
            branchline__v1__response__free_unpacked(r, NULL);
            BREAK(c, CODE(RESOURCE_EXHAUSTED), "out of memory");
            return NULL;
        }
    }
}
