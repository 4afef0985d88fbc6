/*
 * The statements a worker's database pool has not started yet, kept per
 * source (a client connection, the sweeper) and taken round robin across
 * sources: one connection's backlog of 256 pipelined requests then costs
 * another client at most one statement's wait per busy database connection,
 * not the whole backlog. Each source may queue at most `per_source_max`.
 */
#ifndef BRANCHD_DB_QUEUE_H
#define BRANCHD_DB_QUEUE_H

#include <sys/queue.h>

#include "db_statements.h"
#include "db_types.h"

typedef struct db_query {
    stmt_id_t stmt;
    int nparams;
    char **values;
    db_callback_t cb;
    db_notice_fn notice;        /* or NULL */
    void *arg;
    const void *source;
    TAILQ_ENTRY(db_query) link;
} db_query_t;

typedef struct db_source db_source_t;

typedef struct {
    TAILQ_HEAD(, db_source) sources;   /* sources with queries, next to serve first */
    int queued, max, per_source_max;
} db_queue_t;

typedef enum { DBQ_OK, DBQ_FULL, DBQ_SOURCE_FULL, DBQ_NO_MEMORY } dbq_status_t;

void db_queue_init(db_queue_t *q, int max, int per_source_max);

/* Appends to its source's queue; anything but DBQ_OK leaves it to the caller. */
dbq_status_t db_queue_push(db_queue_t *q, db_query_t *query) __attribute__((warn_unused_result));

/* The next query, round robin across sources; NULL when empty. */
db_query_t *db_queue_pop(db_queue_t *q);

#endif
