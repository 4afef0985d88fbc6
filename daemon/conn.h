/*
 * The transport of one client connection: TLS handshake, frame reading,
 * back-pressure, timeouts, and writing frames. It knows nothing of what a
 * frame holds: whole frames go up to its owner through conn_owner_t (the
 * session layer, session.c), answers come down through conn_write_frame.
 * Every state change goes through conn_set_state() so the life of a
 * connection reads in one place.
 *
 * The connection drives OpenSSL on its non-blocking socket itself, with
 * two libevent events and a timer kept in the same allocation as the
 * connection: an idle connection then holds no buffer at all (input and
 * output buffers are released when empty, OpenSSL's by
 * SSL_MODE_RELEASE_BUFFERS), and a response costs no epoll change unless
 * the socket is full.
 */
#ifndef BRANCHD_CONN_H
#define BRANCHD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "conn_state.h"
#include "frame.h"
#include "worker.h"

typedef struct conn conn_t;

/*
 * The connection's owner (the protocol layer above it), called only
 * through these. `open` runs once the handshake has verified the client
 * certificate and returns the owner (NULL: cannot serve, the connection
 * closes); `frame` gets each whole frame (the payload is only valid during
 * the call); `bad_frame` a length the transport refused, just before it
 * shuts the connection down; `close` runs once, when the connection goes.
 */
typedef struct conn_owner {
    void *(*open)(conn_t *c, worker_t *w, uint64_t id, const char *subject);
    void (*frame)(void *owner, const uint8_t *payload, size_t len);
    void (*bad_frame)(void *owner, frame_status_t st, uint32_t len, uint32_t max);
    void (*close)(void *owner);
} conn_owner_t;


struct conn {
    worker_t *worker;
    uint64_t id;
    conn_state_t state;
    int fd;
    SSL *ssl;
    const conn_owner_t *cb;
    void *owner;               /* what cb->open returned; NULL before */
    struct event *ev_read;     /* persistent while reading */
    struct event *ev_write;    /* added only while the socket is full; activated to flush */
    struct event *timer;       /* handshake, frame or idle deadline */
    frame_buf_t in;            /* bytes read, not yet a whole frame */
    frame_buf_t out;           /* framed responses not yet taken by OpenSSL */
    bool write_waiting;        /* ev_write is added: waiting for the socket */
    bool flush_scheduled;      /* ev_write is active: a flush runs in this loop turn */
    bool read_wants_write;     /* SSL_read needs the socket writable first */
    bool write_wants_read;     /* SSL_write needs the socket readable first */
    bool frame_timer_armed;    /* the timer is counting a partial frame */
    bool read_paused;          /* too much in flight or unsent */
    bool identity_counted;     /* holds one of the subject's connection slots */
    bool io_failed;            /* a read or write failed: no close_notify */
    char peer[56];             /* ip:port, [ipv6]:port */
    const char *subject;       /* verified certificate subject (the identity limit's copy) */
    unsigned inflight;         /* frames the owner holds unanswered (conn_hold) */
    uint64_t frames_total;
    LIST_ENTRY(conn) link;     /* worker->conns */
};

/* Takes ownership of an accepted socket and of ssl (made for it, may be
 * NULL when that failed). */
void conn_accept(worker_t *w, int fd, const struct sockaddr *addr, SSL *ssl,
                 const conn_owner_t *cb);

/*
 * Queues one payload as a frame. It is written later in the same loop
 * turn, together with whatever else was queued meanwhile; never closes the
 * connection from inside the caller.
 */
void conn_write_frame(conn_t *c, const uint8_t *payload, size_t len);

/* The owner holds one more frame unanswered: back-pressure counts it, and
 * a closing connection waits for it. */
void conn_hold(conn_t *c);

/* That frame has been answered (or will never be). */
void conn_release(conn_t *c);

/* Stops reading, waits for the answers in flight, flushes, then closes
 * (bounded by frame_timeout_ms). */
void conn_shutdown(conn_t *c, const char *reason);

/* Closes now; the owner's close callback runs first. */
void conn_close(conn_t *c, const char *reason);

/* Whether every byte queued for this connection has been handed to OpenSSL and the kernel. */
bool conn_flushed(const conn_t *c);

#endif
