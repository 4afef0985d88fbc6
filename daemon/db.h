/*
 * Asynchronous PostgreSQL access for one worker: a small pool of
 * non-blocking libpq connections driven by the worker's event loop. Every
 * statement is prepared once per connection (db_statements.c). Queries wait
 * in a fair queue (db_queue.c) when every connection is busy; when no
 * connection is up they fail at once with UNAVAILABLE, and lost
 * connections come back by themselves with exponential backoff.
 */
#ifndef BRANCHD_DB_H
#define BRANCHD_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "db_statements.h"
#include "db_types.h"
#include "status.h"

struct event_base;
typedef struct db_pool db_pool_t;


typedef struct {
    const char *conninfo;
    const char *name;           /* "primary" or "read": logs and the metrics' pool label */
    bool read_only;             /* sessions with default_transaction_read_only = on */
    int size;                   /* query connections */
    int queue_max;              /* statements waiting for a connection, in all */
    int queue_per_source;       /* ... of one source (a client connection) */
    int statement_timeout_ms;   /* every statement's deadline; 0: none */
    int failback_s;             /* a read pool's failback (db.c): an idle connection on a
                                 * primary this long is made anew; 0: never */
} db_pool_config_t;

db_pool_t *db_pool_new(struct event_base *base, const db_pool_config_t *cfg, unsigned worker_index);
void db_pool_free(db_pool_t *pool);

/* Called with each NOTIFY on the pool's listening connection. */
typedef void (*db_notify_fn)(void *arg, const char *channel, const char *payload);

/* Adds one more connection that only LISTENs on `channels` (before start).
 * Notifications sent while it reconnects are lost, so `fn` is also called
 * with channel NULL: payload DB_LISTEN_LOST when the connection goes down
 * (from then on nothing is heard), payload NULL on every (re)connect
 * ("anything may have changed meanwhile"). */
#define DB_LISTEN_LOST "lost"
int db_pool_listen(db_pool_t *pool, const char *channels, db_notify_fn fn, void *arg)
    __attribute__((warn_unused_result));

/* Reads notifications already waiting on the listening socket, without
 * blocking, so a cached answer never lags a change this process could know. */
void db_pool_poll_notifies(db_pool_t *pool);

/* Starts connecting every connection. */
void db_pool_start(db_pool_t *pool);

/* How many connections are usable right now. */
int db_pool_up(const db_pool_t *pool);

/* Query connections running a statement, idle, and queries waiting. */
void db_pool_counts(const db_pool_t *pool, int *busy, int *idle, int *queued);

/* Query connections whose server is a primary (in_hot_standby off, as
 * reported with the connection's last statement or probe). */
int db_pool_on_primary(const db_pool_t *pool);

/* Its name in logs and metrics: "primary" or "read" (db_pool_config_t). */
const char *db_pool_name(const db_pool_t *pool);

/* Whether the listening connection is up (notifications are being heard). */
bool db_pool_listening(const db_pool_t *pool);

/*
 * Runs a prepared statement. `values` are copied; NULL entries are SQL
 * NULLs. The callback may run before this returns (immediate failure).
 * `source` (the client connection, or another owner's pointer) is whose
 * turn it is in the fair queue; the statement runs within
 * statement_timeout_ms or fails with DEADLINE_EXCEEDED.
 */
void db_submit(db_pool_t *pool, const void *source, stmt_id_t stmt, int nparams,
               const char *const *values, db_callback_t cb, void *arg);


/*
 * db_submit, and each notice the statement raises while it runs goes to
 * notice(arg, ...) as it arrives, before cb (PostgreSQL sends notices at
 * once, so this is how a long statement reports progress). Notices of
 * statements submitted without one are only logged.
 */
void db_submit_notices(db_pool_t *pool, const void *source, stmt_id_t stmt, int nparams,
                       const char *const *values, db_callback_t cb, db_notice_fn notice, void *arg);

/* Maps a failed PGresult to a status (SQLSTATE BLnnn carries code nnn). */
status_code_t db_map_error(const PGresult *res, const char **message, const char **field);

/* The same from the error's fields (any may be NULL): SQLSTATE, primary
 * message, column. What is not ours (BLnnn) nor a race or an outage of the
 * database is INTERNAL, with no field. */
status_code_t db_map_sqlstate(const char *state, const char *primary, const char *column,
                              const char **message, const char **field);

#endif
