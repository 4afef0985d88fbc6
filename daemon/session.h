/*
 * The protocol session of one client: what a frame means. It decodes each
 * frame into a Request, answers envelope errors (undecodable frame, bad
 * length, id 0 or already in flight), knows the caller's identity (the
 * certificate subject and, looked up once, its tenant) and gives each
 * request its own copy of it, keeps the requests in flight so they can be
 * detached when the client goes, and hands them to dispatch.
 *
 * It reaches its transport only through session_io_t, the way Redis's
 * connection type is a table of functions: conn.c's TLS frames in branchd,
 * a buffer in the fuzz target and the unit tests.
 */
#ifndef BRANCHD_SESSION_H
#define BRANCHD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "worker.h"

typedef struct session session_t;

typedef struct session_io {
    /* Queues one payload as a frame to the client. */
    void (*write)(void *t, const uint8_t *payload, size_t len);
    /* A request is in flight / has been answered (back-pressure). */
    void (*hold)(void *t);
    void (*release)(void *t);
    /* Answer what is in flight, then close. */
    void (*shutdown)(void *t, const char *reason);
} session_io_t;

/* A session for subject over transport t; asks for the subject's tenant.
 * id labels its log lines. NULL when memory runs out. */
session_t *session_new(worker_t *w, const session_io_t *io, void *t, uint64_t id,
                       const char *subject);

/* One whole frame's payload. */
void session_frame(session_t *s, const uint8_t *payload, size_t len);

/* The transport refused a frame by its length (and is shutting down). */
void session_bad_frame(session_t *s, frame_status_t st, uint32_t len, uint32_t max);

/* The transport is gone: requests in flight are detached; frees s. */
void session_close(session_t *s);

#endif
