#include "intake/intake.h"

#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "db.h"
#include "http.h"
#include "intake/decode.h"
#include "intake/limits.h"
#include "intake/source_metrics.h"
#include "intake/spool.h"
#include "intake/spool_writer.h"
#include "log.h"
#include "metrics.h"

#define LIMIT_SLOTS 16384
#define SIGNATURE_WINDOW_S 300
#define SPOOL_RETRY_AFTER_S 60
#define RETURN_URL_MAX 2048

/* api.web_intake's parameters, in order (sql/072_web_intake_api.sql). */
enum {
    P_TOKEN, P_FIELDS, P_KEY, P_RECEIVED, P_SIGNATURE, P_SIGNED, P_RETURN_URL, P_ORIGIN, P_SPAM, P_COUNT
};

static const char *const outcomes[] = {
    "created", "repeat", "spam", "queued", "invalid", "unauthenticated", "not_found",
    "rate_limited", "unsupported_type", "spool_full", "error",
};
static const metric_label_t outcome_label = {"outcome", outcomes, sizeof outcomes / sizeof *outcomes};

static struct {
    int stmt;
    char honeypot[64];
    intake_limits_t *limits;
    spool_t *spool;
    spool_writer_t *writer;
    intake_replay_t *replay;
    metric_t *requests;
    metric_t *spool_depth;
} intake;

/* One submission, from the request to its answer. */
typedef struct {
    http_req_t *req;
    const char *token;       /* the path's, owned by req: for the metrics */
    bool form;
    char address[64];
    bool entered;            /* holds one of the address's in-flight places */
    char received[24];
    char *values[P_COUNT];   /* owned: copies, NULL = SQL NULL */
} call_t;

static void count(const call_t *c, const char *outcome)
{
    source_metrics_count(c->token, outcome);
    metrics_add(intake.requests, metrics_series(intake.requests,
                                                metrics_label_index(intake.requests, 0, outcome), 0), 1);
}

static void call_free(call_t *c)
{
    if (!c)
        return;
    if (c->entered)
        intake_limits_leave(intake.limits, c->address);
    for (int i = 0; i < P_COUNT; i++)
        free(c->values[i]);
    free(c);
}

/* JSON answers for JSON posts, text for forms (a person reads it). */
static void answer(call_t *c, int code, const char *outcome, const char *field, const char *message)
{
    count(c, outcome);
    if (c->form) {
        http_reply_text(c->req, code, "%s%s%s\n", field && field[0] ? field : "", field && field[0] ? ": " : "",
                        message);
    } else {
        json_t *o = json_pack("{s:s, s:s, s:s}", "outcome", outcome, "field", field ? field : "", "message",
                              message);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        http_reply(c->req, code, "application/json", text ? text : "{}", text ? strlen(text) : 2);
        free(text);
        json_decref(o);
    }
    call_free(c);
}

static void answer_retry(call_t *c, int code, const char *outcome, int seconds, const char *message)
{
    char s[16];
    snprintf(s, sizeof s, "%d", seconds);
    http_req_add_header(c->req, "Retry-After", s);
    answer(c, code, outcome, "", message);
}

/* The accepted answer: 201 (created; a honeypot hit looks the same), 200
 * (a repeat), 202 (spooled). A form goes back to its return URL with ?status=. */
static void answer_ok(call_t *c, int code, const char *outcome, const char *reference, const char *status,
                      const char *return_url, const char *cors)
{
    const char *shown = strcmp(outcome, "spam") == 0 ? "created" : outcome;
    count(c, outcome);
    if (cors && cors[0])
        http_req_add_header(c->req, "Access-Control-Allow-Origin", cors);
    if (c->form && return_url && return_url[0]) {
        char location[RETURN_URL_MAX + 32];
        snprintf(location, sizeof location, "%s%cstatus=%s", return_url, strchr(return_url, '?') ? '&' : '?',
                 shown);
        http_req_add_header(c->req, "Location", location);
        http_reply_text(c->req, 303, "see %s\n", location);
    } else if (c->form) {
        http_reply_text(c->req, code, "Thank you: your request was received (%s).\n", shown);
    } else {
        json_t *o = json_pack("{s:s, s:s, s:s}", "outcome", shown, "reference", reference, "status", status);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        http_reply(c->req, code, "application/json", text ? text : "{}", text ? strlen(text) : 2);
        free(text);
        json_decref(o);
    }
    call_free(c);
}

/* The submission as one spool record: the statement's parameters. */
static char *spool_record(const call_t *c)
{
    json_t *a = json_array();
    for (int i = 0; a && i < P_COUNT; i++)
        json_array_append_new(a, c->values[i] ? json_string(c->values[i]) : json_null());
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

/* The writer thread wrote the record (or refused it): back on c's worker. */
static void spooled(spool_rc_t rc, bool cancelled, void *arg)
{
    call_t *c = arg;
    if (rc == SPOOL_OK && !cancelled) {
        intake_replay_kick(intake.replay);
        answer_ok(c, 202, "queued", "", "queued", NULL, NULL);
        return;
    }
    if (cancelled) {
        /* The daemon stops; a record written is replayed at the next start. */
        answer_retry(c, 503, "error", SPOOL_RETRY_AFTER_S, "the daemon is stopping; retry later");
        return;
    }
    log_warn("intake_spool_refused", "reason=%s depth=%llu", rc == SPOOL_FULL ? "full" : "write_failed",
             (unsigned long long)spool_depth(intake.spool));
    answer_retry(c, 503, "spool_full", SPOOL_RETRY_AFTER_S,
                 "the database is unavailable and the spool is full; retry later");
}

/* Hands the submission to the spool's writer thread: the fdatasync happens
 * there, and 202 is answered when it is done (spooled). */
static void to_spool(call_t *c)
{
    if (!intake.spool || !intake.writer) {
        answer_retry(c, 503, "error", SPOOL_RETRY_AFTER_S, "the database is unavailable; retry later");
        return;
    }
    char *record = spool_record(c);
    if (!record || spool_writer_append(intake.writer, http_req_worker(c->req)->base, record, strlen(record),
                                       strtoll(c->received, NULL, 10), (int64_t)time(NULL), spooled, c) != 0)
        answer_retry(c, 503, "error", SPOOL_RETRY_AFTER_S, "out of memory; retry later");
}

static void db_done(void *arg, const db_result_t *res)
{
    call_t *c = arg;
    switch (res->code) {
    case BRANCHLINE__V1__STATUS__CODE__OK: {
        const PGresult *r = res->result;
        if (PQntuples(r) != 1 || PQnfields(r) < 7) {
            answer(c, 500, "error", "", "unexpected answer from the database");
            return;
        }
        const char *outcome = PQgetvalue(r, 0, 0);
        source_metrics_learn(c->values[P_TOKEN], PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 1));
        log_info("intake", "peer=%s source=%s outcome=%s", c->address, PQgetvalue(r, 0, 1), outcome);
        answer_ok(c, strcmp(outcome, "repeat") == 0 ? 200 : 201, outcome, PQgetvalue(r, 0, 2),
                  PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5));
        return;
    }
    case BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE:
        to_spool(c);
        return;
    case BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT:
    case BRANCHLINE__V1__STATUS__CODE__FAILED_PRECONDITION:
    case BRANCHLINE__V1__STATUS__CODE__ALREADY_EXISTS:
        answer(c, 422, "invalid", res->field, res->message);
        return;
    case BRANCHLINE__V1__STATUS__CODE__UNAUTHENTICATED:
        answer(c, 401, "unauthenticated", res->field, res->message);
        return;
    case BRANCHLINE__V1__STATUS__CODE__NOT_FOUND:
        /* A project named by the form that does not exist is the form's
         * mistake; a token that names nothing is the address's. */
        if (strcmp(res->field, "token") == 0)
            answer(c, 404, "not_found", res->field, res->message);
        else
            answer(c, 422, "invalid", res->field, res->message);
        return;
    default:
        answer(c, 500, "error", "", "the submission could not be taken in; retry later");
        return;
    }
}

/* "sha256=..." with a timestamp header within the window, or neither. */
static bool signature_fresh(const char *timestamp, int64_t now)
{
    if (!timestamp || !timestamp[0] || strlen(timestamp) > 18)
        return false;
    for (const char *p = timestamp; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    int64_t t = strtoll(timestamp, NULL, 10);
    return t >= now - SIGNATURE_WINDOW_S && t <= now + SIGNATURE_WINDOW_S;
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? strdup(s) : NULL;
}

/* timestamp "." body: what a signature covers. */
static char *signed_text(const char *timestamp, const uint8_t *body, size_t len)
{
    size_t tlen = strlen(timestamp);
    char *s = malloc(tlen + 1 + len + 1);
    if (!s)
        return NULL;
    memcpy(s, timestamp, tlen);
    s[tlen] = '.';
    if (len)
        memcpy(s + tlen + 1, body, len);
    s[tlen + 1 + len] = '\0';
    return s;
}

/* Everything the database does not need to see: limits, type, body, signature age. */
static bool prepare(call_t *c, const char *token, int64_t now)
{
    intake_body_t kind;
    if (intake_body_kind(http_req_header(c->req, "Content-Type"), &kind) != 0) {
        answer(c, 415, "unsupported_type", "Content-Type",
               "send application/x-www-form-urlencoded or application/json (UTF-8)");
        return false;
    }
    c->form = kind == INTAKE_BODY_FORM;
    size_t len;
    const uint8_t *body = http_req_body(c->req, &len);
    intake_error_t err;
    json_t *fields = intake_decode(kind, body, len, &err);
    if (!fields) {
        answer(c, 422, "invalid", err.field, err.message);
        return false;
    }
    char return_url[RETURN_URL_MAX], bait[8];
    const char *back = intake_take_field(fields, "_return_url", return_url, sizeof return_url);
    bool spam = intake_take_field(fields, intake.honeypot, bait, sizeof bait) != NULL;
    const char *signature = http_req_header(c->req, "X-Branchline-Signature");
    const char *timestamp = http_req_header(c->req, "X-Branchline-Timestamp");
    if (signature && !signature_fresh(timestamp, now)) {
        json_decref(fields);
        answer(c, 401, "unauthenticated", "X-Branchline-Timestamp",
               "a signed request needs X-Branchline-Timestamp (seconds since the epoch) within 5 minutes of now");
        return false;
    }
    c->values[P_TOKEN] = strdup(token);
    c->values[P_FIELDS] = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
    c->values[P_KEY] = dup_or_null(http_req_header(c->req, "Idempotency-Key"));
    c->values[P_RECEIVED] = strdup(c->received);
    c->values[P_SIGNATURE] = dup_or_null(signature);
    c->values[P_SIGNED] = signature ? signed_text(timestamp, body, len) : NULL;
    c->values[P_RETURN_URL] = dup_or_null(back);
    c->values[P_ORIGIN] = dup_or_null(http_req_header(c->req, "Origin"));
    c->values[P_SPAM] = strdup(spam ? "true" : "false");
    json_decref(fields);
    if (!c->values[P_TOKEN] || !c->values[P_FIELDS] || !c->values[P_RECEIVED] || !c->values[P_SPAM] ||
        (signature && !c->values[P_SIGNED])) {
        answer(c, 500, "error", "", "out of memory");
        return false;
    }
    return true;
}

static void intake_post(http_req_t *req, void *arg)
{
    (void)arg;
    call_t *c = calloc(1, sizeof *c);
    if (!c) {
        http_reply_text(req, 503, "out of memory\n");
        return;
    }
    c->req = req;
    c->token = http_req_param(req, "token");
    const char *peer = http_req_peer(req);
    const char *colon = strrchr(peer, ':');
    snprintf(c->address, sizeof c->address, "%.*s", (int)(colon ? colon - peer : (long)strlen(peer)), peer);
    int64_t now = (int64_t)time(NULL);
    snprintf(c->received, sizeof c->received, "%lld", (long long)now);
    const char *token = http_req_param(req, "token");
    int retry;
    limit_rc_t lim = intake_limits_enter(intake.limits, c->address, token ? token : "",
                                         (int64_t)(clock_mono_us() / 1000), &retry);
    if (lim != LIMIT_OK) {
        answer_retry(c, 429, "rate_limited", retry,
                     lim == LIMIT_SOURCE_RATE ? "too many submissions to this source; retry later"
                     : lim == LIMIT_ADDRESS_RATE ? "too many submissions from this address; retry later"
                                                 : "too many submissions at once from this address");
        return;
    }
    c->entered = true;
    if (!prepare(c, token ? token : "", now))
        return;
    /* While older submissions wait in the spool, new ones queue behind them. */
    if (intake.spool && (spool_depth(intake.spool) > 0 || spool_writer_pending(intake.writer) > 0)) {
        to_spool(c);
        return;
    }
    /* Each submission takes its own turn in the fair queue. */
    db_submit(http_req_worker(req)->db, c, intake.stmt, P_COUNT, (const char *const *)c->values, db_done, c);
}

/* Browsers ask before a cross-origin JSON post. Any origin may ask: the
 * answer to the post itself names the origin only when the source lists it. */
static void intake_preflight(http_req_t *req, void *arg)
{
    (void)arg;
    const char *origin = http_req_header(req, "Origin");
    http_req_add_header(req, "Access-Control-Allow-Origin", origin && origin[0] ? origin : "*");
    http_req_add_header(req, "Access-Control-Allow-Methods", "POST");
    http_req_add_header(req, "Access-Control-Allow-Headers", "Content-Type, Idempotency-Key");
    http_req_add_header(req, "Access-Control-Max-Age", "600");
    http_reply(req, 204, "text/plain", "", 0);
}

int intake_init(const config_t *cfg, char *err, size_t errlen)
{
    if (cfg->intake_port < 0)
        return 0;
    snprintf(intake.honeypot, sizeof intake.honeypot, "%s", cfg->intake_honeypot_field);
    intake.stmt = stmt_register("web_intake",
                                "SELECT * FROM api.web_intake(p_token => $1, p_fields => $2::jsonb, "
                                "p_idempotency_key => $3, p_received_at => $4::bigint, p_signature => $5, "
                                "p_signed => $6, p_return_url => $7, p_origin => $8, p_spam => $9::boolean)",
                                P_COUNT);
    intake.limits = intake_limits_new(LIMIT_SLOTS, cfg->intake_rate_per_address, cfg->intake_rate_per_source,
                                      cfg->intake_burst, (unsigned)cfg->intake_max_inflight_per_address);
    intake.requests = metrics_register(METRIC_COUNTER, "branchline_intake_requests_total",
                                       "Web intake submissions by outcome.", &outcome_label, 1, NULL, 0);
    intake.spool_depth = metrics_register(METRIC_GAUGE, "branchline_intake_spool_depth",
                                          "Web intake submissions waiting in the spool for the database.",
                                          NULL, 0, NULL, 0);
    if (intake.stmt < 0 || !intake.limits || !intake.requests || !intake.spool_depth ||
        source_metrics_register(outcomes, sizeof outcomes / sizeof *outcomes) != 0 ||
        http_public_route_add("POST", "/v1/intake/{token}", intake_post, NULL) != 0 ||
        http_public_route_add("OPTIONS", "/v1/intake/{token}", intake_preflight, NULL) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cfg->intake_spool_path[0] &&
        !(intake.spool = spool_open(cfg->intake_spool_path, (uint64_t)cfg->intake_spool_max_kb << 10,
                                    cfg->intake_spool_max_age_s, err, errlen)))
        return -1;
    if (intake.spool && spool_depth(intake.spool) > 0)
        log_info("intake_spool", "path=%s waiting=%llu", cfg->intake_spool_path,
                 (unsigned long long)spool_depth(intake.spool));
    return 0;
}

int intake_start(server_t *srv)
{
    if (!intake.spool)
        return 0;
    if (!(intake.writer = spool_writer_new(intake.spool)))
        return -1;
    intake.replay = intake_replay_new(&srv->workers[0], intake.spool, intake.writer, intake.stmt);
    return intake.replay ? 0 : -1;
}

void intake_free(void)
{
    /* The writer first: what it delivers cancelled still finds the replayer. */
    spool_writer_free(intake.writer);
    intake_replay_free(intake.replay);
    source_metrics_free();
    spool_free(intake.spool);
    intake_limits_free(intake.limits);
    memset(&intake, 0, sizeof intake);
}

void intake_publish_depth(uint64_t depth)
{
    metrics_set(intake.spool_depth, 0, (int64_t)depth);
}
