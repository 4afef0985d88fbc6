/*
 * What a statement's caller gets back: the result and the callbacks. Apart
 * from db.h so the pool (db.c) and its queue (db_queue.c) share them without
 * including each other.
 */
#ifndef BRANCHD_DB_TYPES_H
#define BRANCHD_DB_TYPES_H

#include <libpq-fe.h>

#include "status.h"

typedef struct {
    status_code_t code;       /* OK, or the mapped failure */
    const char *message;      /* for failures; never contains parameters */
    const char *field;        /* request field a failure is about, or "" */
    const PGresult *result;   /* the last result on success, else NULL */
} db_result_t;

/* Called exactly once per submitted query, on the worker's thread. */
typedef void (*db_callback_t)(void *arg, const db_result_t *res);

/* A notice the running statement raised: its SQLSTATE and primary message. */
typedef void (*db_notice_fn)(void *arg, const char *sqlstate, const char *message);

#endif
