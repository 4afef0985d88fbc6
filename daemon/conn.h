/*
 * One client connection: TLS handshake, frame reading, back-pressure,
 * timeouts, and writing responses. Every state change goes through
 * conn_set_state() so the life of a connection reads in one place.
 */
#ifndef BRANCHD_CONN_H
#define BRANCHD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server.h"

struct bufferevent;
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
    struct bufferevent *bev;
    struct event *timer;       /* handshake, frame or idle deadline */
    bool frame_timer_armed;    /* the timer is counting a partial frame */
    bool read_paused;          /* too much in flight or unsent */
    char peer[64];             /* ip:port */
    char subject[256];         /* verified client certificate subject */
    bool identity_counted;     /* holds one of the subject's connection slots */
    long long tenant;          /* the subject's tenant, for rate limits; -1 until known */
    request_t *requests;       /* in flight, for detaching on close */
    unsigned inflight;
    uint64_t requests_total;
    conn_t *prev, *next;       /* worker->conns */
};

/* Takes ownership of an accepted socket. */
void conn_accept(worker_t *w, int fd, const struct sockaddr *addr, int addrlen);

/* Queues one serialized Response as a frame. */
void conn_write_frame(conn_t *c, const uint8_t *payload, size_t len);

/* Called when a request of this connection has been answered and freed. */
void conn_request_done(conn_t *c);

/* Stops reading, flushes what is queued, then closes. */
void conn_shutdown(conn_t *c, const char *reason);

/* Closes now; in-flight requests are detached and finish on their own. */
void conn_close(conn_t *c, const char *reason);

/* Whether every byte queued for this connection has been handed to the kernel. */
bool conn_flushed(const conn_t *c);

#endif
