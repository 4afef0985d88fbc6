/*
 * One client connection: TLS handshake, frame reading, back-pressure,
 * timeouts, and writing responses. Every state change goes through
 * conn_set_state() so the life of a connection reads in one place.
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
#include <sys/socket.h>

#include "frame.h"
#include "server.h"

typedef struct request request_t;

typedef enum {
    CONN_HANDSHAKE,  /* TLS handshake under way */
    CONN_OPEN,       /* reading requests */
    CONN_CLOSING,    /* flushing a last response, reading no more */
} conn_state_t;

struct conn {
    worker_t *worker;
    uint64_t id;
    conn_state_t state;
    int fd;
    SSL *ssl;
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
    long long tenant;          /* the subject's tenant, for rate limits; -1 until known */
    request_t *requests;       /* in flight, for detaching on close */
    unsigned inflight;
    uint64_t requests_total;
    conn_t *prev, *next;       /* worker->conns */
};

/* Takes ownership of an accepted socket. */
void conn_accept(worker_t *w, int fd, const struct sockaddr *addr, int addrlen);

/*
 * Queues one serialized Response as a frame. It is written later in the
 * same loop turn, together with whatever else was queued meanwhile; never
 * closes the connection from inside the caller.
 */
void conn_write_frame(conn_t *c, const uint8_t *payload, size_t len);

/* Called when a request of this connection has been answered and freed. */
void conn_request_done(conn_t *c);

/* Stops reading, waits for the answers in flight, flushes, then closes
 * (bounded by frame_timeout_ms). */
void conn_shutdown(conn_t *c, const char *reason);

/* Closes now; in-flight requests are detached and finish on their own. */
void conn_close(conn_t *c, const char *reason);

/* Whether every byte queued for this connection has been handed to OpenSSL and the kernel. */
bool conn_flushed(const conn_t *c);

#endif
