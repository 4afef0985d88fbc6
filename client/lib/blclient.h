/*
 * Branchline client library: one mutual-TLS connection to branchd carrying
 * length-prefixed protobuf frames (see proto/frame.h).
 *
 * The calls block, each bounded by the connection's timeout (internally the
 * socket is non-blocking and every wait is a poll(); signals do not end a
 * wait, a wake descriptor does: blc_set_wake_fd). A blc_t is not
 * thread-safe: use one per thread. Nothing raises SIGPIPE.
 *
 * Requests may be pipelined: blc_send several, then blc_recv the answers in
 * the order they arrive (any order). blc_call sends one request and waits
 * for its answer, queueing other answers that arrive meanwhile for blc_recv.
 */
#ifndef BRANCHLINE_BLCLIENT_H
#define BRANCHLINE_BLCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "branchline.pb-c.h"
#include "status.h"

#define BLC_DEFAULT_PORT "7443"
#define BLC_DEFAULT_TIMEOUT_MS 30000
#define BLC_NO_TIMEOUT (-1)  /* blc_set_timeout: waits have no limit */

typedef struct {
    const char *server;     /* "host:port"; host may be a name, IPv4, or [IPv6];
                               without ":port", BLC_DEFAULT_PORT */
    const char *ca_file;    /* PEM CA that signed the server cert; required */
    const char *cert_file;  /* client certificate PEM; optional (then no client cert is sent) */
    const char *key_file;   /* client key PEM; optional (then the key is read from cert_file) */
    int timeout_ms;         /* connect, handshake, and each wait for a response; 0 = 30000 */
    const char *session_dir; /* optional: a folder where TLS sessions are kept between runs
                               (one 0600 file per server, certificate and CA; made 0700 if
                               missing), so that the next connection resumes without a full
                               handshake; NULL: none */
} blc_options_t;

typedef struct blc blc_t;

/*
 * Connects, completes the TLS handshake (server certificate verified against
 * ca_file and the host name or IP address, ALPN BL_ALPN) and returns the
 * connection; NULL with a message naming the server in err on failure.
 */
blc_t *blc_connect(const blc_options_t *opts, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* 0 when server is a valid "host:port" for blc_connect, else -1 with the reason. */
int blc_check_server(const char *server, char *err, size_t errlen);

/* Sends close_notify, closes the socket and frees queued responses. NULL ok. */
void blc_free(blc_t *c);

/* Request ids: 1, 2, 3, ... on each connection. */
uint64_t blc_next_id(blc_t *c);

/* CLOCK_MONOTONIC: the one clock for durations and deadlines in the client
 * library and branchctl (wall time only where a timestamp is shown). */
int64_t blc_now_ns(void);

static inline int64_t blc_now_ms(void)
{
    return blc_now_ns() / 1000000;
}

/*
 * The limit of each later wait, for a response or to send: milliseconds,
 * 0 for BLC_DEFAULT_TIMEOUT_MS (as in blc_options_t), or BLC_NO_TIMEOUT for
 * a server stream that may stay quiet for hours.
 */
void blc_set_timeout(blc_t *c, int timeout_ms);

/*
 * While blc_recv or blc_call waits for a response, also watch wake_fd (-1,
 * the default: nothing else): once it is readable the wait ends with NULL
 * and blc_error_code CANCELLED, and the connection stays usable (a response
 * partly received is kept for the next call). The library never reads
 * wake_fd, so it keeps ending waits until the caller drains it or sets -1.
 * A pipe written by a signal handler makes a long wait interruptible
 * without a race.
 */
void blc_set_wake_fd(blc_t *c, int wake_fd);

/* Sets req->id = blc_next_id(c) when it is 0, then writes one frame. 0 / -1. */
int blc_send(blc_t *c, Branchline__V1__Request *req)
    __attribute__((warn_unused_result));

/*
 * As blc_send, but only encodes the frame into the output buffer: a pipeline
 * of requests then leaves in one TLS record and one system call at
 * blc_flush (blc_send flushes everything queued before it too). 0 / -1.
 */
int blc_queue(blc_t *c, Branchline__V1__Request *req) __attribute__((warn_unused_result));

/* Writes every frame queued by blc_queue. 0 / -1 (the connection is then broken). */
int blc_flush(blc_t *c) __attribute__((warn_unused_result));

/* Writes raw bytes on the TLS stream, unframed (for malformed-frame tests). */
int blc_send_raw(blc_t *c, const void *bytes, size_t n)
    __attribute__((warn_unused_result));

/*
 * The next response: a queued one first, else the next to arrive. NULL on
 * end of stream, timeout, wake-up (blc_set_wake_fd) or error (see
 * blc_error). A response whose status is NULL succeeded. Free with
 * branchline__v1__response__free_unpacked(r, NULL).
 */
Branchline__V1__Response *blc_recv(blc_t *c) __attribute__((warn_unused_result));

/*
 * blc_send, then waits for the response carrying req->id (the first one, for
 * a server stream; the rest come from blc_recv). A response with id 0 (the
 * daemon's answer to a request it could not decode) also ends the wait.
 * Other responses are queued for blc_recv. NULL as for blc_recv.
 */
Branchline__V1__Response *blc_call(blc_t *c, Branchline__V1__Request *req)
    __attribute__((warn_unused_result));

/*
 * A call that may take long. blc_send, then the answers for req->id are
 * read up to the last one (more = false), which is returned as by
 * blc_call. Each Progress answer before it (see OrgApplyRequest.progress)
 * goes to on_progress(arg, progress); other answers with more = true are
 * skipped. While it waits, on_progress(arg, NULL) is also called every
 * tick_ms (0: never), for a spinner or an elapsed time. The timeout bounds
 * each wait between two answers, so a daemon that reports progress may take
 * longer in all. on_progress may be NULL.
 */
typedef void (*blc_progress_fn)(void *arg, const Branchline__V1__Progress *progress);
Branchline__V1__Response *blc_call_progress(blc_t *c, Branchline__V1__Request *req, int tick_ms,
                                            blc_progress_fn on_progress, void *arg)
    __attribute__((warn_unused_result));

/* Text of the last error; "" before any. */
const char *blc_error(const blc_t *c);

/*
 * Status.Code classifying the last local error: UNAVAILABLE (connection
 * closed or failed), DEADLINE_EXCEEDED (timeout), CANCELLED (woken, see
 * blc_set_wake_fd; the connection is intact), INTERNAL (the server broke
 * the protocol), INVALID_ARGUMENT (a request the library would not send),
 * RESOURCE_EXHAUSTED (out of memory). OK before any error.
 */
int blc_error_code(const blc_t *c);

/* 1 when the connection resumed a TLS session (see blc_options_t.session_dir), else 0. */
int blc_resumed(const blc_t *c);

/* The socket, for poll() or shutdown(); reading or writing it would break TLS. */
int blc_fd(const blc_t *c);

/* Exit codes of branchctl; blc_exit_code maps a Status.Code onto them. */
enum {
    BLC_EXIT_OK = 0,
    BLC_EXIT_SERVER = 1,     /* INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED, others */
    BLC_EXIT_USAGE = 2,      /* bad flags or local settings */
    BLC_EXIT_CONNECT = 3,    /* cannot connect, TLS failure, UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED */
    BLC_EXIT_REJECTED = 4,   /* INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE, ALREADY_EXISTS, ABORTED */
    BLC_EXIT_NOT_FOUND = 5,  /* NOT_FOUND */
    BLC_EXIT_DENIED = 6,     /* PERMISSION_DENIED, UNAUTHENTICATED */
    BLC_EXIT_EXHAUSTED = 7,  /* RESOURCE_EXHAUSTED */
    BLC_EXIT_PENDING = 10,   /* reserved: changes pending */
};

int blc_exit_code(int status_code);

#endif
