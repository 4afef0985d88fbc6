#include "metrics_core.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn_state.h"
#include "metrics.h"
#include "status.h"

#define STATUS_CODES 17        /* gRPC codes 0..16 */
#define ROUTE_LABELS_MAX 40

static const double request_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,   5,     10};
static const double sweep_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30};

static const char *const conn_states[] = {"handshake", "open", "closing"};
static const char *const handshake_reasons[] = {"timeout", "no_certificate", "identity_limit",
                                                "rate_limited", "shutdown", "tls_error"};
static const char *const frame_reasons[] = {"empty_frame", "frame_too_large", "undecodable", "other"};
static const char *const pool_states[] = {"in_use", "idle"};
static const char *const pool_names[] = {"primary", "read"};
static const char *const policies[] = {"weighted", "least_loaded", "performance", "project_lead",
                                       "other"};
static const char *const queue_reasons[] = {"no_customer_service", "no_branch_handles_project",
                                            "all_capped", "sla_exhausted", "other"};
static const char *const http_codes[] = {"2xx", "3xx", "4xx", "5xx"};
static const char *const versions[] = {BRANCHLINE_VERSION};

/* Built at registration from the operations, the status enum and the routes. */
static const char **operations;   /* dispatch names, then "unknown" */
static size_t noperations;
static const char *codes[STATUS_CODES];
static const char *routes[ROUTE_LABELS_MAX];
static size_t nroutes;

static struct {
    metric_t *requests, *duration, *conns_open, *conns, *handshakes, *resumptions, *handshake_failures,
        *frames_refused, *pool_conns, *pool_waiting, *db_queries, *db_errors, *db_reconnects,
        *read_on_primary, *read_failbacks, *listen_losses, *cache_hits, *cache_misses, *cache_invalidations, *leads_allocated,
        *leads_queued, *sla_reallocations, *sweep_duration, *rate_limited, *http_requests,
        *start_time, *build_info;
} M;

static metric_t *reg(metric_type_t type, const char *name, const char *help, const char *label,
                     const char *const *values, size_t count, bool *ok)
{
    metric_label_t l = {label, values, count};
    metric_t *m = metrics_register(type, name, help, &l, label ? 1 : 0, NULL, 0);
    if (!m)
        *ok = false;
    return m;
}

int metrics_core_register(const char *const *ops, size_t nops, const char *const *route_names,
                          size_t nroute_names)
{
    operations = calloc(nops + 1, sizeof *operations);
    if (!operations)
        return -1;
    for (size_t i = 0; i < nops; i++)
        operations[i] = ops[i];
    operations[nops] = "unknown";
    noperations = nops + 1;
    for (int i = 0; i < STATUS_CODES; i++)
        codes[i] = status_code_name(i);
    /* Routes registered later count as "other". */
    for (nroutes = 0; nroutes < nroute_names && nroutes < ROUTE_LABELS_MAX - 2; nroutes++)
        routes[nroutes] = route_names[nroutes];
    routes[nroutes++] = "unmatched";
    routes[nroutes++] = "other";

    bool ok = true;
    metric_label_t rl[2] = {{"operation", operations, noperations}, {"code", codes, STATUS_CODES}};
    M.requests = metrics_register(METRIC_COUNTER, "branchline_requests_total",
                                  "Protocol requests answered, by operation and status code.", rl,
                                  2, NULL, 0);
    M.duration = metrics_register(METRIC_HISTOGRAM, "branchline_request_duration_seconds",
                                  "Time from a request's arrival to its answer, by operation.", rl,
                                  1, request_buckets, sizeof request_buckets / sizeof *request_buckets);
    ok = M.requests && M.duration;
    M.conns_open = reg(METRIC_GAUGE, "branchline_connections_open", "Client connections open.",
                       NULL, NULL, 0, &ok);
    M.conns = reg(METRIC_GAUGE, "branchline_connections", "Client connections by state.", "state",
                  conn_states, 3, &ok);
    M.handshakes = reg(METRIC_COUNTER, "branchline_tls_handshakes_total",
                       "TLS handshakes completed with a verified client certificate.", NULL, NULL, 0, &ok);
    M.resumptions = reg(METRIC_COUNTER, "branchline_tls_resumptions_total",
                        "Of those handshakes, the ones that resumed a session by ticket.", NULL, NULL, 0, &ok);
    M.handshake_failures = reg(METRIC_COUNTER, "branchline_tls_handshake_failures_total",
                               "Connections closed before their handshake completed, by reason.",
                               "reason", handshake_reasons, 6, &ok);
    M.frames_refused = reg(METRIC_COUNTER, "branchline_frames_refused_total",
                           "Frames refused before dispatch, by reason.", "reason", frame_reasons, 4, &ok);
    /* pool: "primary" (db_conninfo), "read" (db_read_conninfo; 0 without). */
    metric_label_t pl[2] = {{"pool", pool_names, 2}, {"state", pool_states, 2}};
    M.pool_conns = metrics_register(METRIC_GAUGE, "branchline_db_pool_connections",
                                    "Database connections of the pools, by pool and state "
                                    "(published every 0.5 s).", pl, 2, NULL, 0);
    M.pool_waiting = metrics_register(METRIC_GAUGE, "branchline_db_pool_waiting",
                                      "Queries waiting for a free database connection, by pool.",
                                      pl, 1, NULL, 0);
    M.db_queries = metrics_register(METRIC_COUNTER, "branchline_db_queries_total",
                                    "Statements run on the database, by pool.", pl, 1, NULL, 0);
    M.db_errors = metrics_register(METRIC_COUNTER, "branchline_db_errors_total",
                                   "Queries that failed for a reason of the database, not of the API "
                                   "(connection lost or unavailable, SQL errors other than BLnnn), by pool.",
                                   pl, 1, NULL, 0);
    M.db_reconnects = metrics_register(METRIC_COUNTER, "branchline_db_reconnects_total",
                                       "Database connections lost and scheduled to reconnect, by pool.",
                                       pl, 1, NULL, 0);
    ok = ok && M.pool_conns && M.pool_waiting && M.db_queries && M.db_errors && M.db_reconnects;
    M.read_on_primary = reg(METRIC_GAUGE, "branchline_db_read_pool_on_primary",
                            "Read pool connections whose server is a primary, not a standby "
                            "(in_hot_standby as of each connection's last statement; published every 0.5 s).",
                            NULL, NULL, 0, &ok);
    M.read_failbacks = reg(METRIC_COUNTER, "branchline_db_read_pool_failbacks_total",
                           "Idle read pool connections closed and made anew after db_read_failback_s "
                           "on a primary, so that they may reach a standby.", NULL, NULL, 0, &ok);
    M.listen_losses = reg(METRIC_COUNTER, "branchline_db_listen_losses_total",
                          "Times the LISTEN connection was lost (notifications went unheard).",
                          NULL, NULL, 0, &ok);
    M.cache_hits = reg(METRIC_COUNTER, "branchline_cache_hits_total",
                       "Organization reads answered from the cache.", NULL, NULL, 0, &ok);
    M.cache_misses = reg(METRIC_COUNTER, "branchline_cache_misses_total",
                         "Cacheable organization reads that went to the database.", NULL, NULL, 0, &ok);
    M.cache_invalidations = reg(METRIC_COUNTER, "branchline_cache_invalidations_total",
                                "Cache invalidations (a tenant's organization changed).", NULL,
                                NULL, 0, &ok);
    M.leads_allocated = reg(METRIC_COUNTER, "branchline_leads_allocated_total",
                            "Leads allocated to a branch on intake, by policy (imports count as other).",
                            "policy", policies, 5, &ok);
    M.leads_queued = reg(METRIC_COUNTER, "branchline_leads_queued_total",
                         "Leads left unroutable or waiting on intake, by reason.", "reason",
                         queue_reasons, 5, &ok);
    M.sla_reallocations = reg(METRIC_COUNTER, "branchline_sla_reallocations_total",
                              "Overdue leads moved on by the sweep.", NULL, NULL, 0, &ok);
    M.sweep_duration = metrics_register(METRIC_HISTOGRAM, "branchline_sweep_duration_seconds",
                                        "Time one sweep of overdue and waiting leads took.", NULL,
                                        0, sweep_buckets, sizeof sweep_buckets / sizeof *sweep_buckets);
    ok = ok && M.sweep_duration;
    M.rate_limited = reg(METRIC_COUNTER, "branchline_rate_limited_requests_total",
                         "Requests refused by their tenant's rate limit.", NULL, NULL, 0, &ok);
    metric_label_t hl[2] = {{"route", routes, nroutes}, {"code", http_codes, 4}};
    M.http_requests = metrics_register(METRIC_COUNTER, "branchline_http_requests_total",
                                       "HTTP requests answered, by route and status class.", hl, 2,
                                       NULL, 0);
    ok = ok && M.http_requests;
    M.start_time = reg(METRIC_GAUGE, "branchline_process_start_time_seconds",
                       "When the daemon started, in seconds since the Unix epoch.", NULL, NULL, 0, &ok);
    M.build_info = reg(METRIC_GAUGE, "branchline_build_info", "The daemon's version (always 1).",
                       "version", versions, 1, &ok);
    return ok ? 0 : -1;
}

int metrics_core_start(unsigned workers)
{
    /* A slot per worker, one for the main thread, one to spare. */
    if (metrics_start(workers + 2) != 0)
        return -1;
    metrics_set(M.start_time, 0, (int64_t)time(NULL));
    metrics_set(M.build_info, 0, 1);
    return 0;
}

void metrics_core_free(void)
{
    metrics_free();
    free(operations);
    operations = NULL;
    memset(&M, 0, sizeof M);
}

static void count_leads(const Branchline__V1__Response *resp)
{
    if (resp->result_case == BRANCHLINE__V1__RESPONSE__RESULT_LEAD_ADD && resp->lead_add) {
        const Branchline__V1__Lead *l = resp->lead_add;
        if (!l->created)
            return;
        if (strcmp(l->status, "allocated") == 0)
            metrics_add(M.leads_allocated, metrics_label_index(M.leads_allocated, 0, l->policy), 1);
        else if (strcmp(l->status, "unroutable") == 0 || strcmp(l->status, "waiting") == 0)
            metrics_add(M.leads_queued, metrics_label_index(M.leads_queued, 0, l->reason), 1);
    } else if (resp->result_case == BRANCHLINE__V1__RESPONSE__RESULT_LEAD_IMPORT && resp->lead_import) {
        for (size_t i = 0; i < resp->lead_import->n_items; i++) {
            const Branchline__V1__LeadImportRow *row = resp->lead_import->items[i];
            if (strcmp(row->result, "created") != 0)
                continue;
            if (strcmp(row->status, "allocated") == 0)
                metrics_add(M.leads_allocated, metrics_label_index(M.leads_allocated, 0, "other"), 1);
            else if (strcmp(row->status, "unroutable") == 0 || strcmp(row->status, "waiting") == 0)
                metrics_add(M.leads_queued, metrics_label_index(M.leads_queued, 0, row->reason), 1);
        }
    }
}

void metrics_request_done(const char *op_name, int code, const Branchline__V1__Response *resp,
                          double seconds)
{
    if (!operations)
        return;
    /* dispatch gave the request its table row's name: the same pointer. */
    size_t op = noperations - 1;
    for (size_t i = 0; i + 1 < noperations; i++)
        if (operations[i] == op_name)
            op = i;
    size_t c = code >= 0 && code < STATUS_CODES ? (size_t)code : 2 /* UNKNOWN */;
    metrics_add(M.requests, metrics_series(M.requests, op, c), 1);
    metrics_observe(M.duration, metrics_series(M.duration, op, 0), seconds);
    if (code == 0)
        count_leads(resp);
}

static size_t handshake_reason(const char *reason)
{
    static const struct {
        const char *close_reason;
        const char *label;
    } map[] = {{"handshake_timeout", "timeout"},
               {"no_verified_certificate", "no_certificate"},
               {"max_connections_per_identity", "identity_limit"},
               {"handshake_rate_limited", "rate_limited"},
               {"shutdown", "shutdown"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (reason && strcmp(reason, map[i].close_reason) == 0)
            return metrics_label_index(M.handshake_failures, 0, map[i].label);
    return metrics_label_index(M.handshake_failures, 0, "tls_error");
}

void metrics_conn_state(int from, int to, const char *reason)
{
    if (from >= 0)
        metrics_add(M.conns, (size_t)from, -1);
    if (to >= 0)
        metrics_add(M.conns, (size_t)to, 1);
    if (from < 0)
        metrics_add(M.conns_open, 0, 1);
    if (to < 0)
        metrics_add(M.conns_open, 0, -1);
    if (from == CONN_HANDSHAKE && to == CONN_OPEN)
        metrics_add(M.handshakes, 0, 1);
    if (from == CONN_HANDSHAKE && to < 0)
        metrics_add(M.handshake_failures, handshake_reason(reason), 1);
}

void metrics_frame_refused(const char *reason)
{
    metrics_add(M.frames_refused, metrics_label_index(M.frames_refused, 0, reason), 1);
}

void metrics_rate_limited(void)
{
    metrics_add(M.rate_limited, 0, 1);
}

void metrics_tls_handshake(bool resumed)
{
    if (resumed)
        metrics_add(M.resumptions, 0, 1);
}

void metrics_handshake_rate_limited(void)
{
    metrics_add(M.handshake_failures, handshake_reason("handshake_rate_limited"), 1);
}

void metrics_db_query(const char *pool, const PGresult *res, bool ok)
{
    size_t p = metrics_label_index(M.db_queries, 0, pool);
    metrics_add(M.db_queries, p, 1);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* BLnnn is the API refusing a request, not the database failing. */
    if (!ok && !(state && state[0] == 'B' && state[1] == 'L'))
        metrics_add(M.db_errors, p, 1);
}

void metrics_db_unavailable(const char *pool)
{
    metrics_add(M.db_errors, metrics_label_index(M.db_errors, 0, pool), 1);
}

void metrics_db_lost(const char *pool, bool was_listening)
{
    metrics_add(M.db_reconnects, metrics_label_index(M.db_reconnects, 0, pool), 1);
    if (was_listening)
        metrics_add(M.listen_losses, 0, 1);
}

void metrics_db_failback(void)
{
    metrics_add(M.read_failbacks, 0, 1);
}

void metrics_read_pool_on_primary(int n)
{
    metrics_set(M.read_on_primary, 0, n);
}

void metrics_sweep_done(double seconds)
{
    metrics_observe(M.sweep_duration, 0, seconds);
}

void metrics_sla_reallocated(int n)
{
    if (n > 0)
        metrics_add(M.sla_reallocations, 0, n);
}

void metrics_http_request(const char *route, int code)
{
    size_t cls = code >= 200 && code < 600 ? (size_t)(code / 100 - 2) : 3;
    size_t r = metrics_label_index(M.http_requests, 0, route);
    metrics_add(M.http_requests, metrics_series(M.http_requests, r, cls), 1);
}

void metrics_pool_state(const char *pool, int busy, int idle, int waiting)
{
    size_t p = metrics_label_index(M.pool_conns, 0, pool);
    metrics_set(M.pool_conns, metrics_series(M.pool_conns, p, metrics_label_index(M.pool_conns, 1, "in_use")), busy);
    metrics_set(M.pool_conns, metrics_series(M.pool_conns, p, metrics_label_index(M.pool_conns, 1, "idle")), idle);
    metrics_set(M.pool_waiting, metrics_label_index(M.pool_waiting, 0, pool), waiting);
}

void metrics_cache_state(uint64_t hits, uint64_t misses, uint64_t invalidations)
{
    /* Each worker's cache counts on its own: its slot holds its totals. */
    metrics_set(M.cache_hits, 0, (int64_t)hits);
    metrics_set(M.cache_misses, 0, (int64_t)misses);
    metrics_set(M.cache_invalidations, 0, (int64_t)invalidations);
}
