#include "db.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db_hosts.h"
#include "db_queue.h"
#include "log.h"
#include "metrics_core.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* The daemon's own deadline comes this long after the server's
 * statement_timeout, which normally answers first (57014). */
#define DEADLINE_GRACE_MS 1000
/* A standby probe must be answered within this. */
#define FAILBACK_DEADLINE_MS 10000
#define FAILBACK_TICK_MS 1000

/* The node a connection is on, from the server's in_hot_standby (PostgreSQL
 * 14 and later; before, never known). The names are those of the logs. */
typedef enum { NODE_UNKNOWN, NODE_PRIMARY, NODE_STANDBY } node_t;

static const char *const node_names[] = {"unknown", "primary", "standby"};

typedef enum { DBC_DOWN, DBC_CONNECTING, DBC_PREPARING, DBC_IDLE, DBC_BUSY, DBC_LISTENING } dbc_state_t;

static const char *const dbc_state_names[] = {"down", "connecting", "preparing", "idle", "busy", "listening"};

typedef struct db_conn {
    db_pool_t *pool;
    int index;
    bool listener;              /* LISTENs only; runs no queries */
    dbc_state_t state;
    PGconn *pg;
    struct event *io;
    short io_what;              /* what io waits for */
    struct event *retry;
    struct event *deadline;     /* armed while a query, a standby probe or a connection attempt runs */
    int backoff_ms;
    int prepare_next;
    db_query_t *current;        /* NULL while BUSY: a standby probe (failback) */
    PGresult *last;
    /* Which node the connection is on, from the server's in_hot_standby as
     * of its last statement (PostgreSQL reports a promotion only then). */
    node_t node;
    uint64_t primary_since_ms;  /* when it was first seen on a primary */
    uint64_t checked_ms;        /* when in_hot_standby was last reported */
    bool renewing;              /* closed by failback, connecting again */
    int host_first;             /* where in a multi-host list attempts start (db_hosts.h) */
    int host_pos;               /* where this attempt is, from host_first */
} db_conn_t;

struct db_pool {
    struct event_base *base;
    char *conninfo;
    db_hosts_t hosts;           /* its host list and connect deadline */
    db_conn_t *conns;
    int size;                   /* query connections; conns[size] is the listener */
    char *channels;             /* comma-separated */
    db_notify_fn notify;
    void *notify_arg;
    db_queue_t queue;
    const char *name;           /* static: "primary" or "read" */
    bool read_only;
    int statement_timeout_ms;   /* 0: none */
    unsigned worker;
    uint64_t failback_ms;       /* 0: no failback (the primary pool, or turned off) */
    struct event *failback;     /* its tick */
    uint64_t next_renewal_ms;   /* none before this */
};

static void dbc_connect(db_conn_t *c);
static void dbc_pump(db_pool_t *pool);

static void query_free(db_query_t *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->nparams; i++)
        free(q->values[i]);
    free(q->values);
    free(q);
}

static void query_fail(const db_pool_t *pool, db_query_t *q, status_code_t code, const char *message)
{
    db_result_t res = {code, message, "", NULL};
    metrics_db_unavailable(pool->name);
    q->cb(q->arg, &res);
    query_free(q);
}

static void dbc_set_state(db_conn_t *c, dbc_state_t state, const char *why)
{
    if (c->state == state)
        return;
    log_emit(state == DBC_DOWN ? LOG_WARN : LOG_DEBUG, "db_state",
             "worker=%u pool=%s db_conn=%d from=%s to=%s%s%s", c->pool->worker, c->pool->name, c->index,
             dbc_state_names[c->state], dbc_state_names[state], why ? " reason=" : "",
             why ? why : "");
    c->state = state;
}

int db_pool_up(const db_pool_t *pool)
{
    int up = 0;
    /* A connection being renewed counts: queries wait for it rather than
     * fail, and the pool stays ready; if it cannot connect it is lost. */
    for (int i = 0; i < pool->size; i++)
        up += (pool->conns[i].state >= DBC_PREPARING && pool->conns[i].state <= DBC_BUSY) ||
              pool->conns[i].renewing;
    return up;
}

void db_pool_counts(const db_pool_t *pool, int *busy, int *idle, int *queued)
{
    *busy = *idle = 0;
    for (int i = 0; i < pool->size; i++) {
        *busy += pool->conns[i].state == DBC_BUSY;
        *idle += pool->conns[i].state == DBC_IDLE;
    }
    *queued = pool->queue.queued;
}

int db_pool_on_primary(const db_pool_t *pool)
{
    int n = 0;
    for (int i = 0; i < pool->size; i++)
        n += pool->conns[i].node == NODE_PRIMARY && pool->conns[i].state >= DBC_PREPARING &&
             pool->conns[i].state <= DBC_BUSY;
    return n;
}

const char *db_pool_name(const db_pool_t *pool)
{
    return pool->name;
}

bool db_pool_listening(const db_pool_t *pool)
{
    const db_conn_t *c = &pool->conns[pool->size];
    return c->listener && c->state == DBC_LISTENING;
}

static void fail_queue(db_pool_t *pool, const char *message)
{
    for (db_query_t *q; (q = db_queue_pop(&pool->queue)) != NULL;)
        query_fail(pool, q, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, message);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    dbc_connect(arg);
}

/* The connection is gone: fail its query, schedule a reconnect. */
static void dbc_lost(db_conn_t *c, const char *why)
{
    char quoted[256];
    log_warn("db_lost", "worker=%u pool=%s db_conn=%d error=%s retry_ms=%d", c->pool->worker,
             c->pool->name, c->index, log_quote(quoted, sizeof quoted, why), c->backoff_ms);
    if (c->io) {
        event_free(c->io);
        c->io = NULL;
    }
    c->io_what = 0;
    evtimer_del(c->deadline);
    PQclear(c->last);
    c->last = NULL;
    PQfinish(c->pg);
    c->pg = NULL;
    c->node = NODE_UNKNOWN;
    if (c->renewing) {
        /* The renewal failed: the connection comes back by the usual backoff;
         * the next renewal waits a period. */
        c->renewing = false;
        c->pool->next_renewal_ms = now_ms() + c->pool->failback_ms;
    }
    bool was_listening = c->state == DBC_LISTENING;
    metrics_db_lost(c->pool->name, was_listening);
    dbc_set_state(c, DBC_DOWN, "lost");
    if (was_listening)
        c->pool->notify(c->pool->notify_arg, NULL, DB_LISTEN_LOST);
    db_query_t *q = c->current;
    c->current = NULL;
    if (q)
        query_fail(c->pool, q, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "database connection lost");
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    evtimer_add(c->retry, &tv);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    if (db_pool_up(c->pool) == 0)
        fail_queue(c->pool, "database unavailable");
}

static void dbc_watch(db_conn_t *c, short what, event_callback_fn cb)
{
    if (c->io)
        event_free(c->io);
    c->io_what = what;
    c->io = event_new(c->pool->base, PQsocket(c->pg), what, cb, c);
    if (!c->io || event_add(c->io, NULL) != 0)
        dbc_lost(c, "cannot watch the database socket");
}

static void dbc_readable(evutil_socket_t fd, short what, void *arg);

/*
 * Sends what libpq still holds. A statement larger than the socket buffer
 * (a 300 KB document) does not leave in one go, and PostgreSQL answers
 * nothing until it has all of it: so while data remains the connection
 * also waits for writability, and flushes again then (libpq's
 * non-blocking contract). Returns false when the connection was lost.
 */
static bool dbc_flush(db_conn_t *c)
{
    int rc = PQflush(c->pg);
    if (rc < 0) {
        dbc_lost(c, PQerrorMessage(c->pg));
        return false;
    }
    short want = EV_READ | EV_PERSIST | (rc == 1 ? EV_WRITE : 0);
    if (want != c->io_what)
        dbc_watch(c, want, dbc_readable);
    return c->pg != NULL;
}

/*
 * The connect deadline. libpq applies connect_timeout only in its blocking
 * PQconnectdb; with PQconnectPoll the time is ours. Each host an attempt
 * reaches, and then each statement it prepares (the LISTEN of the
 * listener), must answer within the conninfo's connect_timeout (10 s
 * without one): a server that accepts TCP and never answers no longer
 * holds the connection for ever. db_hosts.h says why an attempt that timed
 * out makes the next one start at the following host.
 */
static void connect_deadline(db_conn_t *c)
{
    int ms = c->pool->hosts.timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->deadline, &tv);
}

/* Follows libpq along the host list: each new host gets the whole deadline. */
static void track_host(db_conn_t *c)
{
    int pos = db_hosts_position(&c->pool->hosts, c->host_first, c->host_pos, PQhost(c->pg),
                                PQport(c->pg));
    if (pos >= 0 && pos != c->host_pos) {
        c->host_pos = pos;
        connect_deadline(c);
    }
}

static void attempt_timed_out(db_conn_t *c)
{
    char host[300];
    const char *name = PQhost(c->pg), *port = PQport(c->pg);
    log_warn("db_connect_timeout",
             "worker=%u pool=%s db_conn=%d host=%s port=%s phase=%s timeout_ms=%d", c->pool->worker,
             c->pool->name, c->index, log_quote(host, sizeof host, name ? name : ""),
             port ? port : "", dbc_state_names[c->state], c->pool->hosts.timeout_ms);
    if (c->pool->hosts.count > 1)
        c->host_first = (c->host_first + c->host_pos + 1) % c->pool->hosts.count;
    dbc_lost(c, "connect deadline passed");
}

static void dbc_send_prepare(db_conn_t *c)
{
    const stmt_def_t *def = stmt_def((stmt_id_t)c->prepare_next);
    if (!PQsendPrepare(c->pg, def->name, def->sql, def->nparams, NULL)) {
        dbc_lost(c, PQerrorMessage(c->pg));
        return;
    }
    connect_deadline(c);
    dbc_flush(c);
}

static void dbc_send_current(db_conn_t *c)
{
    db_query_t *q = c->current;
    const stmt_def_t *def = stmt_def(q->stmt);
    if (!PQsendQueryPrepared(c->pg, def->name, q->nparams, (const char *const *)q->values,
                             NULL, NULL, 0)) {
        dbc_lost(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->pool->statement_timeout_ms > 0) {
        int ms = c->pool->statement_timeout_ms + DEADLINE_GRACE_MS;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(c->deadline, &tv);
    }
    dbc_flush(c);
}

/*
 * A statement outlived statement_timeout and the grace after it: the server
 * did not cancel it (a stopped backend, a lost network, a message it never
 * received whole). Its caller gets DEADLINE_EXCEEDED, and the connection is
 * closed and made anew, which ends the backend's part too (libpq has no
 * non-blocking cancel before PostgreSQL 17; closing is the cancel).
 */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    db_conn_t *c = arg;
    if (c->state == DBC_CONNECTING || c->state == DBC_PREPARING) {
        attempt_timed_out(c);
        return;
    }
    db_query_t *q = c->current;
    if (!q) {
        if (c->state == DBC_BUSY)
            dbc_lost(c, "standby probe unanswered");
        return;
    }
    c->current = NULL;
    log_warn("db_statement_timeout", "worker=%u pool=%s db_conn=%d statement=%s timeout_ms=%d",
             c->pool->worker, c->pool->name, c->index, stmt_def(q->stmt)->name,
             c->pool->statement_timeout_ms + DEADLINE_GRACE_MS);
    query_fail(c->pool, q, BRANCHLINE__V1__STATUS__CODE__DEADLINE_EXCEEDED, "database statement timed out");
    dbc_lost(c, "statement deadline passed");
}

/* The caller sees "internal database error"; the log keeps what happened
 * (the SQLSTATE and PostgreSQL's message) for whoever fixes the bug. */
static void log_internal_error(const db_conn_t *c, const db_query_t *q, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    const stmt_def_t *def = stmt_def(q->stmt);
    char msg[600], where[600];
    log_error("db_internal_error",
              "worker=%u pool=%s db_conn=%d statement=%s sqlstate=%s message=%s context=%s",
              c->pool->worker, c->pool->name, c->index, def ? def->name : "?", state ? state : "none",
              log_quote(msg, sizeof msg, primary ? primary : ""),
              log_quote(where, sizeof where, context ? context : ""));
}

/*
 * Failback of a read pool. libpq picks a node (prefer-standby) only when it
 * connects, so after a failover a read pool stays on the promoted node.
 * Each connection knows its node from the server's in_hot_standby, which
 * libpq keeps from the server's reports: one at connection start and, after
 * a promotion, one with the next statement's answer (PostgreSQL reports the
 * change only then). An idle connection on a standby is therefore probed
 * with an empty statement once a period; an idle connection on a primary
 * for a period is closed and connected again, one at a time per pool, so
 * libpq can pick a standby that came back meanwhile.
 */
static void dbc_note_node(db_conn_t *c)
{
    const char *hot_standby = PQparameterStatus(c->pg, "in_hot_standby");
    node_t node = !hot_standby                       ? NODE_UNKNOWN
                  : strcmp(hot_standby, "off") == 0 ? NODE_PRIMARY
                  : strcmp(hot_standby, "on") == 0  ? NODE_STANDBY
                                                    : NODE_UNKNOWN;
    uint64_t now = now_ms();
    if (node == NODE_PRIMARY && c->node != NODE_PRIMARY) {
        c->primary_since_ms = now;
        if (c->node == NODE_STANDBY)
            log_info("db_standby_promoted", "worker=%u pool=%s db_conn=%d", c->pool->worker,
                     c->pool->name, c->index);
    }
    c->node = node;
    c->checked_ms = now;
}

static void failback_deadline(db_conn_t *c)
{
    struct timeval tv = {FAILBACK_DEADLINE_MS / 1000, (FAILBACK_DEADLINE_MS % 1000) * 1000};
    evtimer_add(c->deadline, &tv);
}

/* An empty statement: its answer carries in_hot_standby's news. */
static void dbc_probe(db_conn_t *c)
{
    dbc_set_state(c, DBC_BUSY, "standby probe");
    if (!PQsendQuery(c->pg, "")) {
        dbc_lost(c, PQerrorMessage(c->pg));
        return;
    }
    failback_deadline(c);
    dbc_flush(c);
}

/* Closes an idle connection and connects again; until it is ready (or
 * lost) it counts as up, so queries wait for it instead of failing. */
static void dbc_renew(db_conn_t *c)
{
    db_pool_t *pool = c->pool;
    log_debug("db_failback", "worker=%u pool=%s db_conn=%d on_primary_ms=%llu", pool->worker,
             pool->name, c->index, (unsigned long long)(now_ms() - c->primary_since_ms));
    metrics_db_failback();
    if (c->io) {
        event_free(c->io);
        c->io = NULL;
    }
    c->io_what = 0;
    PQclear(c->last);
    c->last = NULL;
    PQfinish(c->pg);
    c->pg = NULL;
    c->node = NODE_UNKNOWN;
    c->renewing = true;
    dbc_connect(c); /* within the connect deadline, like any attempt */
}

/* A renewed connection is ready: on a primary again, the next renewal of
 * the pool waits a period. */
static void renewal_done(db_conn_t *c)
{
    if (!c->renewing)
        return;
    c->renewing = false;
    /* Info when it reached a standby; without one, it is the routine of every period. */
    log_emit(c->node == NODE_PRIMARY ? LOG_DEBUG : LOG_INFO, "db_failback_ready",
             "worker=%u pool=%s db_conn=%d node=%s", c->pool->worker, c->pool->name, c->index,
             node_names[c->node]);
    if (c->node == NODE_PRIMARY)
        c->pool->next_renewal_ms = now_ms() + c->pool->failback_ms;
}

/* One renewal at a time per pool. */
static bool pool_renewing(const db_pool_t *pool)
{
    for (int i = 0; i < pool->size; i++)
        if (pool->conns[i].renewing)
            return true;
    return false;
}

/* Only idle connections, and only while nothing waits for one: a probe or
 * a renewal never delays a query that is already there. */
static void failback_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    db_pool_t *pool = arg;
    if (pool->queue.queued > 0)
        return;
    uint64_t now = now_ms();
    db_conn_t *due = NULL;
    for (int i = 0; i < pool->size; i++) {
        db_conn_t *c = &pool->conns[i];
        if (c->state != DBC_IDLE)
            continue;
        if (c->node == NODE_STANDBY && now - c->checked_ms >= pool->failback_ms)
            dbc_probe(c);
        else if (c->node == NODE_PRIMARY && now - c->primary_since_ms >= pool->failback_ms &&
                 (!due || c->primary_since_ms < due->primary_since_ms))
            due = c;
    }
    if (due && !pool_renewing(pool) && now >= pool->next_renewal_ms)
        dbc_renew(due);
}

/* One statement (prepare, query or probe) has produced all its results. */
static void dbc_complete(db_conn_t *c)
{
    PGresult *res = c->last;
    c->last = NULL;
    dbc_note_node(c);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (c->state == DBC_PREPARING && c->listener) {
        PQclear(res);
        if (!ok) {
            dbc_lost(c, "LISTEN failed");
            return;
        }
        evtimer_del(c->deadline);
        c->backoff_ms = BACKOFF_MIN_MS;
        dbc_set_state(c, DBC_LISTENING, "ready");
        c->pool->notify(c->pool->notify_arg, NULL, NULL);
        return;
    }
    if (c->state == DBC_PREPARING) {
        if (!ok && PQstatus(c->pg) != CONNECTION_OK) {
            PQclear(res);
            dbc_lost(c, PQerrorMessage(c->pg));
            return;
        }
        if (!ok) {
            /* A statement the schema cannot back (a binary newer than its
             * migrations): that one operation answers UNIMPLEMENTED, the
             * others keep working. */
            char why[512];
            log_error("db_prepare_failed", "worker=%u db_conn=%d statement=%s error=%s",
                      c->pool->worker, c->index, stmt_def(c->prepare_next)->name,
                      log_quote(why, sizeof why, res ? PQresultErrorMessage(res) : "no result"));
        }
        PQclear(res);
        if (++c->prepare_next < stmt_count()) {
            dbc_send_prepare(c);
            return;
        }
        evtimer_del(c->deadline);
        c->backoff_ms = BACKOFF_MIN_MS;
        dbc_set_state(c, DBC_IDLE, "ready");
        renewal_done(c);
        dbc_pump(c->pool);
        return;
    }
    db_query_t *q = c->current;
    c->current = NULL;
    evtimer_del(c->deadline);
    dbc_set_state(c, DBC_IDLE, NULL);
    if (!q) {
        /* A standby probe answered (dbc_note_node read its news). */
        if (PQstatus(c->pg) != CONNECTION_OK) {
            PQclear(res);
            dbc_lost(c, PQerrorMessage(c->pg));
            return;
        }
        PQclear(res);
        dbc_pump(c->pool);
        return;
    }
    db_result_t out = {BRANCHLINE__V1__STATUS__CODE__OK, "", "", res};
    metrics_db_query(c->pool->name, res, ok);
    if (!ok) {
        out.code = db_map_error(res, &out.message, &out.field);
        if (out.code == BRANCHLINE__V1__STATUS__CODE__INTERNAL)
            log_internal_error(c, q, res);
    }
    q->cb(q->arg, &out);
    query_free(q);
    PQclear(res);
    dbc_pump(c->pool);
}

static void dbc_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    db_conn_t *c = arg;
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
        dbc_lost(c, PQerrorMessage(c->pg));
        return;
    }
    if (!dbc_flush(c))
        return;
    for (PGnotify *n; c->listener && c->pg && (n = PQnotifies(c->pg)) != NULL; PQfreemem(n))
        c->pool->notify(c->pool->notify_arg, n->relname, n->extra);
    while (c->pg && (c->state == DBC_PREPARING || c->state == DBC_BUSY) && !PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (!res) {
            dbc_complete(c);
            continue;
        }
        /* Keep the last result; an error result wins over later ones. */
        if (c->last && PQresultStatus(c->last) == PGRES_FATAL_ERROR)
            PQclear(res);
        else {
            PQclear(c->last);
            c->last = res;
        }
    }
}

static void dbc_connect_step(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    db_conn_t *c = arg;
    PostgresPollingStatusType polled = PQconnectPoll(c->pg);
    track_host(c);
    switch (polled) {
    case PGRES_POLLING_READING:
        dbc_watch(c, EV_READ, dbc_connect_step);
        return;
    case PGRES_POLLING_WRITING:
        dbc_watch(c, EV_WRITE, dbc_connect_step);
        return;
    case PGRES_POLLING_OK:
        break;
    default:
        dbc_lost(c, PQerrorMessage(c->pg));
        return;
    }
    if (PQsetnonblocking(c->pg, 1) != 0) {
        dbc_lost(c, PQerrorMessage(c->pg));
        return;
    }
    dbc_note_node(c);
    dbc_set_state(c, DBC_PREPARING, NULL);
    c->prepare_next = 0;
    connect_deadline(c); /* the LISTEN's */
    dbc_watch(c, EV_READ | EV_PERSIST, dbc_readable);
    if (!c->io)
        return;
    if (c->listener) {
        char sql[512] = "";
        char copy[256];
        snprintf(copy, sizeof copy, "%s", c->pool->channels);
        char *save = NULL;
        for (char *ch = strtok_r(copy, ",", &save); ch; ch = strtok_r(NULL, ",", &save)) {
            strncat(sql, "LISTEN ", sizeof sql - strlen(sql) - 1);
            strncat(sql, ch, sizeof sql - strlen(sql) - 1);
            strncat(sql, ";", sizeof sql - strlen(sql) - 1);
        }
        if (!PQsendQuery(c->pg, sql))
            dbc_lost(c, PQerrorMessage(c->pg));
        else
            dbc_flush(c);
        return;
    }
    dbc_send_prepare(c);
}

/* Notices go to the statement that raised them when it asked for them;
 * libpq calls this while it parses input, inside dbc_readable. */
static void notice_route(void *arg, const PGresult *res)
{
    db_conn_t *c = arg;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    db_query_t *q = c->state == DBC_BUSY ? c->current : NULL;
    if (q && q->notice && state && message) {
        q->notice(q->arg, state, message);
        return;
    }
    log_debug("db_notice", "worker=%u db_conn=%d sqlstate=%s message_len=%zu", c->pool->worker,
              c->index, state ? state : "-", message ? strlen(message) : 0);
}

/* statement_timeout travels in the startup packet (no round trip of its
 * own); it comes before the conninfo, so an `options` there wins. A read
 * pool's sessions are read-only the same way: a function that writes fails
 * there (25006) instead of writing on whichever node the pool reached. */
static void dbc_connect(db_conn_t *c)
{
    char options[96];
    snprintf(options, sizeof options, "-c statement_timeout=%d%s", c->pool->statement_timeout_ms,
             c->pool->read_only ? " -c default_transaction_read_only=on" : "");
    /* Keywords after dbname (the conninfo) override it: the rotated host list. */
    const char *keys[6] = {"options", "dbname"};
    const char *values[6] = {options, c->pool->conninfo};
    char hosts[1024];
    db_hosts_rotated(&c->pool->hosts, c->host_first, keys + 2, values + 2, hosts, sizeof hosts);
    c->pg = PQconnectStartParams(keys, values, 1);
    dbc_set_state(c, DBC_CONNECTING, NULL);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        dbc_lost(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        return;
    }
    c->host_pos = 0;
    connect_deadline(c);
    track_host(c);
    PQsetNoticeReceiver(c->pg, notice_route, c);
    dbc_watch(c, EV_WRITE, dbc_connect_step);
}

static void dbc_pump(db_pool_t *pool)
{
    for (int i = 0; i < pool->size && pool->queue.queued > 0; i++) {
        db_conn_t *c = &pool->conns[i];
        if (c->state != DBC_IDLE)
            continue;
        db_query_t *q = db_queue_pop(&pool->queue);
        c->current = q;
        dbc_set_state(c, DBC_BUSY, NULL);
        dbc_send_current(c);
    }
}

void db_submit(db_pool_t *pool, const void *source, stmt_id_t stmt, int nparams,
               const char *const *values, db_callback_t cb, void *arg)
{
    db_submit_notices(pool, source, stmt, nparams, values, cb, NULL, arg);
}

void db_submit_notices(db_pool_t *pool, const void *source, stmt_id_t stmt, int nparams,
                       const char *const *values, db_callback_t cb, db_notice_fn notice, void *arg)
{
    db_query_t *q = calloc(1, sizeof *q);
    if (q) {
        q->source = source;
        q->cb = cb;
        q->notice = notice;
        q->arg = arg;
        q->stmt = stmt;
        q->values = calloc((size_t)nparams + 1, sizeof *q->values);
    }
    if (!q || !q->values) {
        db_result_t res = {BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "out of memory", "", NULL};
        free(q);
        cb(arg, &res);
        return;
    }
    for (int i = 0; i < nparams; i++, q->nparams++) {
        if (values[i] && !(q->values[i] = strdup(values[i]))) {
            query_fail(pool, q, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
    }
    if (db_pool_up(pool) == 0) {
        query_fail(pool, q, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "database unavailable");
        return;
    }
    switch (db_queue_push(&pool->queue, q)) {
    case DBQ_OK:
        dbc_pump(pool);
        return;
    case DBQ_FULL:
        query_fail(pool, q, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "database queue full");
        return;
    case DBQ_SOURCE_FULL:
        query_fail(pool, q, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED,
                   "too many requests of this connection waiting for the database; retry later");
        return;
    case DBQ_NO_MEMORY:
        query_fail(pool, q, BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
}

db_pool_t *db_pool_new(struct event_base *base, const db_pool_config_t *cfg, unsigned worker_index)
{
    db_pool_t *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    const char *conninfo = cfg->conninfo;
    int size = cfg->size;
    pool->base = base;
    pool->size = size;
    db_queue_init(&pool->queue, cfg->queue_max, cfg->queue_per_source);
    pool->statement_timeout_ms = cfg->statement_timeout_ms;
    pool->name = cfg->name ? cfg->name : "primary";
    pool->read_only = cfg->read_only;
    pool->worker = worker_index;
    pool->failback_ms = cfg->failback_s > 0 ? (uint64_t)cfg->failback_s * 1000u : 0;
    if (pool->failback_ms && !(pool->failback = event_new(base, -1, EV_PERSIST, failback_tick, pool)))
        goto fail;
    pool->conninfo = strdup(conninfo);
    pool->conns = calloc((size_t)size + 1, sizeof *pool->conns);
    if (!pool->conninfo || !pool->conns || db_hosts_init(&pool->hosts, conninfo) != 0)
        goto fail;
    for (int i = 0; i <= size; i++) {
        db_conn_t *c = &pool->conns[i];
        c->pool = pool;
        c->index = i;
        c->state = DBC_DOWN;
        c->backoff_ms = BACKOFF_MIN_MS;
        c->retry = evtimer_new(base, retry_cb, c);
        c->deadline = evtimer_new(base, deadline_cb, c);
        if (!c->retry || !c->deadline)
            goto fail;
    }
    return pool;
fail:
    db_pool_free(pool);
    return NULL;
}

void db_pool_start(db_pool_t *pool)
{
    for (int i = 0; i < pool->size + (pool->channels != NULL); i++)
        dbc_connect(&pool->conns[i]);
    if (pool->failback) {
        struct timeval tv = {FAILBACK_TICK_MS / 1000, (FAILBACK_TICK_MS % 1000) * 1000};
        evtimer_add(pool->failback, &tv);
    }
}

void db_pool_poll_notifies(db_pool_t *pool)
{
    db_conn_t *c = &pool->conns[pool->size];
    if (c->state == DBC_LISTENING)
        dbc_readable(-1, 0, c);
}

int db_pool_listen(db_pool_t *pool, const char *channels, db_notify_fn fn, void *arg)
{
    pool->channels = strdup(channels);
    if (!pool->channels)
        return -1;
    pool->notify = fn;
    pool->notify_arg = arg;
    pool->conns[pool->size].listener = true;
    return 0;
}

void db_pool_free(db_pool_t *pool)
{
    if (!pool)
        return;
    fail_queue(pool, "server shutting down");
    for (int i = 0; pool->conns && i <= pool->size; i++) {
        db_conn_t *c = &pool->conns[i];
        if (c->current)
            query_fail(pool, c->current, BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "server shutting down");
        if (c->io)
            event_free(c->io);
        if (c->retry)
            event_free(c->retry);
        if (c->deadline)
            event_free(c->deadline);
        PQclear(c->last);
        PQfinish(c->pg);
    }
    if (pool->failback)
        event_free(pool->failback);
    free(pool->conns);
    free(pool->channels);
    free(pool->conninfo);
    db_hosts_free(&pool->hosts);
    free(pool);
}

status_code_t db_map_sqlstate(const char *state, const char *primary, const char *column,
                              const char **message, const char **field)
{
    *field = column ? column : "";
    *message = "internal database error";
    if (!state)
        return BRANCHLINE__V1__STATUS__CODE__INTERNAL;
    /* Our own functions raise SQLSTATE BLnnn, nnn being the status code. */
    if (state[0] == 'B' && state[1] == 'L') {
        int code = atoi(state + 2);
        *message = primary ? primary : "rejected";
        if (code > 0 && code <= BRANCHLINE__V1__STATUS__CODE__UNAUTHENTICATED)
            return (status_code_t)code;
        return BRANCHLINE__V1__STATUS__CODE__INTERNAL;
    }
    /*
     * Only conditions that a correct daemon and schema still meet: a race
     * between two writers (a key taken, a row gone, a conflict), the
     * database's limits and availability. A data exception (class 22, an
     * integer overflow say) or any other constraint violation is input our
     * validation let through, that is our bug: INTERNAL, not the caller's
     * INVALID_ARGUMENT with no field to name.
     */
    static const struct { const char *prefix; status_code_t code; const char *message; } map[] = {
        {"23505", BRANCHLINE__V1__STATUS__CODE__ALREADY_EXISTS, "already exists"},
        {"23503", BRANCHLINE__V1__STATUS__CODE__FAILED_PRECONDITION, "still referenced or missing reference"},
        {"40", BRANCHLINE__V1__STATUS__CODE__ABORTED, "transaction conflict, retry"},
        {"57014", BRANCHLINE__V1__STATUS__CODE__DEADLINE_EXCEEDED, "statement timed out"},
        /* An operation on the read pool (read-only sessions) whose function writes. */
        {"25006", BRANCHLINE__V1__STATUS__CODE__INTERNAL, "a read-only database session refused a write"},
        {"26000", BRANCHLINE__V1__STATUS__CODE__UNIMPLEMENTED, "operation not available in this database schema"},
        {"57P", BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "database shutting down"},
        {"08", BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE, "database connection failure"},
        {"42501", BRANCHLINE__V1__STATUS__CODE__PERMISSION_DENIED, "permission denied"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strncmp(state, map[i].prefix, strlen(map[i].prefix)) == 0) {
            *message = map[i].message;
            return map[i].code;
        }
    }
    *field = ""; /* a column of ours, not a request field */
    return BRANCHLINE__V1__STATUS__CODE__INTERNAL;
}

status_code_t db_map_error(const PGresult *res, const char **message, const char **field)
{
    return db_map_sqlstate(res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL,
                           res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL,
                           res ? PQresultErrorField(res, PG_DIAG_COLUMN_NAME) : NULL, message, field);
}
