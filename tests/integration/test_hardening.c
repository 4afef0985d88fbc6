/*
 * Defects found by attacking branchd from outside (issue 13), each kept
 * fixed: strings with a NUL byte (libpq would cut them short) are refused
 * naming the field; an oversize note is refused before SQL; requests larger
 * than the database socket's buffer do not wedge a pool connection; every
 * statement has a deadline, kept by the server and, when the server cannot
 * answer, by the daemon; one connection's backlog of pipelined statements
 * does not hold another tenant's request behind it; one address cannot
 * start handshakes without bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "frame.h"

#define CODE(r) FX_CODE(r)
#define BIG (700 * 1024) /* well over a socket buffer, under max_frame_size */

static fx_t fx;

static void whoami_init(Branchline__V1__Request *req, Branchline__V1__WhoAmIRequest *w)
{
    branchline__v1__request__init(req);
    branchline__v1__who_am_irequest__init(w);
    req->op_case = BRANCHLINE__V1__REQUEST__OP_WHOAMI;
    req->whoami = w;
}

/* Calls req on c: the status code, and the field in `field` when given. */
static int call(blc_t *c, Branchline__V1__Request *req, char *field, size_t fieldlen)
{
    req->id = 0;
    Branchline__V1__Response *r = blc_call(c, req);
    if (!r)
        fail_msg("no answer: %s", blc_error(c));
    int code = CODE(r);
    if (field)
        snprintf(field, fieldlen, "%s", r->status ? r->status->field : "");
    branchline__v1__response__free_unpacked(r, NULL);
    return code;
}

static int whoami(blc_t *c)
{
    Branchline__V1__Request req;
    Branchline__V1__WhoAmIRequest w;
    whoami_init(&req, &w);
    return call(c, &req, NULL, 0);
}

/* Packs req with `marker` in one string, turns the marker's character at
 * `at` into a NUL byte on the wire (protobuf-c packs C strings, so it cannot
 * write one itself) and sends it. Returns the answer. */
static Branchline__V1__Response *send_with_nul(blc_t *c, Branchline__V1__Request *req,
                                               const char *marker, size_t at)
{
    req->id = blc_next_id(c);
    size_t len = branchline__v1__request__get_packed_size(req);
    uint8_t *buf = malloc(len + FRAME_HEADER_SIZE);
    assert_non_null(buf);
    frame_put_header(buf, (uint32_t)len);
    branchline__v1__request__pack(req, buf + FRAME_HEADER_SIZE);
    uint8_t *hit = memmem(buf, len + FRAME_HEADER_SIZE, marker, strlen(marker));
    assert_non_null(hit);
    hit[at] = '\0';
    assert_int_equal(blc_send_raw(c, buf, len + FRAME_HEADER_SIZE), 0);
    free(buf);
    Branchline__V1__Response *r = blc_recv(c);
    assert_non_null(r);
    assert_int_equal(r->id, req->id);
    return r;
}

static void assert_nul_refused(Branchline__V1__Response *r, const char *field)
{
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, field);
    assert_non_null(strstr(r->status->message, "NUL"));
    branchline__v1__response__free_unpacked(r, NULL);
}

static void lead_add_init(Branchline__V1__Request *req, Branchline__V1__LeadAddRequest *add,
                          char *external_id)
{
    branchline__v1__request__init(req);
    branchline__v1__lead_add_request__init(add);
    add->external_id = external_id;
    add->project = (char *)"p";
    add->channel = (char *)"search";
    add->phone = (char *)"13800000000";
    req->op_case = BRANCHLINE__V1__REQUEST__OP_LEAD_ADD;
    req->lead_add = add;
}

/* "dup\0one", "dup\0two" and "dup" used to be one lead three times, and
 * unit name "a\0b" was stored as "a". */
static void test_nul_in_strings_refused(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    Branchline__V1__Request req;
    Branchline__V1__LeadAddRequest add;
    lead_add_init(&req, &add, (char *)"dupXone");
    assert_nul_refused(send_with_nul(c, &req, "dupXone", 3), "external_id");
    lead_add_init(&req, &add, (char *)"dupXtwo");
    assert_nul_refused(send_with_nul(c, &req, "dupXtwo", 3), "external_id");

    Branchline__V1__UnitAddRequest unit = BRANCHLINE__V1__UNIT_ADD_REQUEST__INIT;
    branchline__v1__request__init(&req);
    unit.path = (char *)"nulunit";
    unit.kind = (char *)"region";
    unit.name = (char *)"aXb";
    req.op_case = BRANCHLINE__V1__REQUEST__OP_UNIT_ADD;
    req.unit_add = &unit;
    assert_nul_refused(send_with_nul(c, &req, "aXb", 1), "name");

    /* Inside a repeated message: the path names the row. */
    Branchline__V1__LeadInput rows[2] = {BRANCHLINE__V1__LEAD_INPUT__INIT, BRANCHLINE__V1__LEAD_INPUT__INIT};
    Branchline__V1__LeadInput *rowp[2] = {&rows[0], &rows[1]};
    Branchline__V1__LeadImportRequest import = BRANCHLINE__V1__LEAD_IMPORT_REQUEST__INIT;
    rows[0].external_id = (char *)"ok-row";
    rows[1].external_id = (char *)"bad-row";
    rows[1].name = (char *)"ZhangQSan";
    import.n_leads = 2;
    import.leads = rowp;
    branchline__v1__request__init(&req);
    req.op_case = BRANCHLINE__V1__REQUEST__OP_LEAD_IMPORT;
    req.lead_import = &import;
    assert_nul_refused(send_with_nul(c, &req, "ZhangQSan", 5), "leads[1].name");

    /* Nothing reached the database: the same strings without NUL are new. */
    char field[64];
    assert_int_equal(call(c, &req, field, sizeof field), 0);
    lead_add_init(&req, &add, (char *)"dup");
    Branchline__V1__Response *r = blc_call(c, &req);
    assert_non_null(r);
    assert_int_equal(CODE(r), 0);
    assert_true(r->lead_add->created);
    branchline__v1__response__free_unpacked(r, NULL);
    branchline__v1__request__init(&req);
    Branchline__V1__UnitShowRequest show = BRANCHLINE__V1__UNIT_SHOW_REQUEST__INIT;
    show.path = (char *)"nulunit";
    req.op_case = BRANCHLINE__V1__REQUEST__OP_UNIT_SHOW;
    req.unit_show = &show;
    assert_int_equal(call(c, &req, NULL, 0), BRANCHLINE__V1__STATUS__CODE__NOT_FOUND);
    blc_free(c);
}

/* A note is at most 2,000 characters: a 300 KB one is refused by the
 * daemon (its message, not the SQL function's). */
static void test_oversize_note_refused_before_sql(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    char *note = malloc(300 * 1024 + 1);
    assert_non_null(note);
    memset(note, 'n', 300 * 1024);
    note[300 * 1024] = '\0';
    Branchline__V1__Request req;
    Branchline__V1__LeadAddRequest add;
    lead_add_init(&req, &add, (char *)"long-note");
    add.note = note;
    Branchline__V1__Response *r = blc_call(c, &req);
    assert_non_null(r);
    assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->status->field, "note");
    assert_non_null(strstr(r->status->message, "longer than 2000 characters"));
    branchline__v1__response__free_unpacked(r, NULL);
    /* 2,000 characters of three bytes each are within the limit. */
    char *cjk = malloc(2000 * 3 + 1);
    assert_non_null(cjk);
    for (int i = 0; i < 2000; i++)
        memcpy(cjk + 3 * i, "\xe4\xb8\xad", 3);
    cjk[6000] = '\0';
    add.note = cjk;
    assert_int_equal(call(c, &req, NULL, 0), 0);
    free(cjk);
    free(note);
    blc_free(c);
}

static char *big_text(char fill)
{
    char *s = malloc(BIG + 1);
    assert_non_null(s);
    memset(s, fill, BIG);
    s[BIG] = '\0';
    return s;
}

/*
 * Statements larger than the database socket's buffer used to stay half
 * sent, wedging their pool connection for ever. 16 large org_apply requests
 * from a certificate without principal (refused by SQL, after all of it
 * arrived) and a large unit_add from the admin, on every pool connection at
 * once; then the admin's next request is answered.
 */
static void test_large_requests_do_not_wedge_the_pool(void **state)
{
    (void)state;
    enum { N = 16 };
    char *doc = malloc(BIG + 64);
    assert_non_null(doc);
    int used = snprintf(doc, BIG + 64, "{\"version\":1,\"units\":[],\"pad\":\"");
    memset(doc + used, 'x', BIG);
    snprintf(doc + used + BIG, 64, "\"}");
    blc_t *nobody[4];
    for (int i = 0; i < 4; i++) {
        nobody[i] = fx_connect_ok(&fx, "heidi");
        blc_set_timeout(nobody[i], 30000);
    }
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__OrgApplyRequest apply = BRANCHLINE__V1__ORG_APPLY_REQUEST__INIT;
    apply.document_json = doc;
    apply.dry_run = true;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_ORG_APPLY;
    req.org_apply = &apply;
    for (int i = 0; i < N; i++) {
        req.id = 0;
        assert_int_equal(blc_send(nobody[i % 4], &req), 0);
    }
    blc_t *admin = fx_connect_ok(&fx, "alice");
    blc_set_timeout(admin, 30000);
    char *name = big_text('u');
    Branchline__V1__UnitAddRequest unit = BRANCHLINE__V1__UNIT_ADD_REQUEST__INIT;
    unit.path = (char *)"big";
    unit.kind = (char *)"region";
    unit.name = name;
    Branchline__V1__Request add = BRANCHLINE__V1__REQUEST__INIT;
    add.op_case = BRANCHLINE__V1__REQUEST__OP_UNIT_ADD;
    add.unit_add = &unit;
    char field[64];
    assert_int_equal(call(admin, &add, field, sizeof field), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_string_equal(field, "name");
    for (int i = 0; i < N; i++) {
        Branchline__V1__Response *r = blc_recv(nobody[i % 4]);
        if (!r)
            fail_msg("large request %d unanswered: %s", i, blc_error(nobody[i % 4]));
        assert_int_equal(CODE(r), BRANCHLINE__V1__STATUS__CODE__UNAUTHENTICATED);
        branchline__v1__response__free_unpacked(r, NULL);
    }
    blc_set_timeout(admin, 5000);
    long long t0 = fx_now_ms();
    assert_int_equal(whoami(admin), 0);
    print_message("after %d large requests the admin's whoami took %lld ms\n", N + 1, fx_now_ms() - t0);
    for (int i = 0; i < 4; i++)
        blc_free(nobody[i]);
    blc_free(admin);
    free(name);
    free(doc);
}

/* The pids of the daemon's backends on the test database. */
static int daemon_backends(int *pids, int max)
{
    PGconn *pg = PQconnectdb(fx.admin_conninfo);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PGresult *res = PQexec(pg, "SELECT pid FROM pg_stat_activity "
                               "WHERE datname = current_database() AND usename = 'branchd'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    int n = PQntuples(res) < max ? PQntuples(res) : max;
    for (int i = 0; i < n; i++)
        pids[i] = atoi(PQgetvalue(res, i, 0));
    PQclear(res);
    PQfinish(pg);
    return n;
}

/* whoami's code once the pool has a connection again (UNAVAILABLE while the
 * one connection is being replaced: when the server's cancel comes late
 * on a loaded machine, the daemon's own deadline replaces it). */
static int answered_again(blc_t *c)
{
    int code = whoami(c);
    for (long long end = fx_now_ms() + 10000; code == BRANCHLINE__V1__STATUS__CODE__UNAVAILABLE &&
                                              fx_now_ms() < end;
         usleep(100 * 1000))
        code = whoami(c);
    return code;
}

/*
 * A deadline on every statement: statement_timeout cancels one that waits
 * on a lock; a backend that cannot answer at all (stopped) is given up by
 * the daemon a second later, which logs it and opens a new connection.
 */
static void test_statement_deadline(void **state)
{
    (void)state;
    fx_t dl;
    assert_int_equal(fx_init_sibling(&dl, &fx, "deadline"), 0);
    assert_int_equal(fx_start(&dl, "workers = 1\ndb_pool_size = 1\ndb_statement_timeout_ms = 500\n"), 0);
    char err[512];
    blc_t *c = fx_connect(&dl, "alice", err, sizeof err);
    assert_non_null(c);
    blc_set_timeout(c, 10000);
    assert_int_equal(answered_again(c), 0); /* the one database connection is up */

    PGconn *locker = PQconnectdb(fx.admin_conninfo);
    assert_int_equal(PQstatus(locker), CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN; LOCK TABLE branchline.principals IN ACCESS EXCLUSIVE MODE"));
    assert_int_equal(whoami(c), BRANCHLINE__V1__STATUS__CODE__DEADLINE_EXCEEDED);
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    assert_int_equal(answered_again(c), 0);

    int pids[16];
    int n = daemon_backends(pids, 16);
    assert_true(n > 0);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGSTOP);
    long long t0 = fx_now_ms();
    int code = whoami(c);
    long long waited = fx_now_ms() - t0;
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGCONT);
    print_message("stopped backend: %s after %lld ms\n", code ? "DEADLINE_EXCEEDED" : "answered", waited);
    bool logged = fx_log_wait(&dl, "db_statement_timeout", 3000);
    int again = answered_again(c);
    blc_free(c);
    int unclean = fx_cleanup(&dl, !(logged && again == 0));
    assert_int_equal(code, BRANCHLINE__V1__STATUS__CODE__DEADLINE_EXCEEDED);
    assert_true(logged);
    assert_int_equal(again, 0);
    assert_int_equal(unclean, 0);
}

static void lead_list_init(Branchline__V1__Request *req, Branchline__V1__LeadListRequest *list)
{
    branchline__v1__request__init(req);
    branchline__v1__lead_list_request__init(list);
    list->status = (char *)"unroutable";
    list->limit = 1000;
    req->op_case = BRANCHLINE__V1__REQUEST__OP_LEAD_LIST;
    req->lead_list = list;
}

/* Sends n lead_list requests pipelined on c; returns when all are written. */
static void send_lead_lists(blc_t *c, int n)
{
    Branchline__V1__Request req;
    Branchline__V1__LeadListRequest list;
    lead_list_init(&req, &list);
    for (int i = 0; i < n; i++) {
        req.id = 0;
        assert_int_equal(blc_queue(c, &req), 0);
    }
    assert_int_equal(blc_flush(c), 0);
}

/*
 * One connection of tenant acme pipelines 128 lead lists (a second or more
 * of database work on a worker with one database connection); tenant
 * rival's whoami, sent just after, waits for about one of them, not for all.
 */
static void test_fair_queue_between_tenants(void **state)
{
    (void)state;
    enum { N = 128 };
    fx_t fair;
    assert_int_equal(fx_init_sibling(&fair, &fx, "fair"), 0);
    assert_int_equal(fx_start(&fair, "workers = 1\ndb_pool_size = 1\ndb_queue_per_conn = 1000\n"
                                     "tenant_rate_limit = 0\n"), 0);
    char err[512];
    blc_t *hog = fx_connect(&fair, "alice", err, sizeof err);
    blc_t *other = fx_connect(&fair, "bob", err, sizeof err);
    assert_non_null(hog);
    assert_non_null(other);
    blc_set_timeout(hog, 120000);
    blc_set_timeout(other, 120000);
    assert_int_equal(answered_again(other), 0); /* the one database connection is up */
    long long t0 = fx_now_ms();
    assert_int_equal(whoami(other), 0);
    long long idle_ms = fx_now_ms() - t0;

    long long start = fx_now_ms();
    send_lead_lists(hog, N);
    usleep(50 * 1000); /* the backlog is queued before the other request arrives */
    t0 = fx_now_ms();
    assert_int_equal(whoami(other), 0);
    long long other_ms = fx_now_ms() - t0;
    for (int i = 0; i < N; i++) {
        Branchline__V1__Response *r = blc_recv(hog);
        assert_non_null(r);
        assert_int_equal(CODE(r), 0);
        assert_true(r->lead_list->n_items >= 300);
        branchline__v1__response__free_unpacked(r, NULL);
    }
    long long backlog_ms = fx_now_ms() - start;
    print_message("fair queue: whoami idle %lld ms, behind %d lead lists %lld ms; the lists took %lld ms "
                  "(%.1f ms each)\n", idle_ms, N, other_ms, backlog_ms, (double)backlog_ms / N);
    blc_free(hog);
    blc_free(other);
    int unclean = fx_cleanup(&fair, other_ms * 8 >= backlog_ms);
    /* A FIFO made the whoami wait for the whole backlog. */
    assert_true(other_ms * 8 < backlog_ms);
    assert_int_equal(unclean, 0);
}

/* Beyond db_queue_per_conn (64 by default) one connection's requests are
 * refused at once instead of queued. */
static void test_per_connection_queue_cap(void **state)
{
    (void)state;
    enum { N = 256 };
    blc_t *hog = fx_connect_ok(&fx, "alice");
    blc_set_timeout(hog, 120000);
    send_lead_lists(hog, N);
    int ok = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        Branchline__V1__Response *r = blc_recv(hog);
        assert_non_null(r);
        if (CODE(r) == 0)
            ok++;
        else if (CODE(r) == BRANCHLINE__V1__STATUS__CODE__RESOURCE_EXHAUSTED &&
                 strstr(r->status->message, "waiting for the database"))
            refused++;
        branchline__v1__response__free_unpacked(r, NULL);
    }
    print_message("per-connection cap: %d served, %d refused of %d\n", ok, refused, N);
    assert_int_equal(ok + refused, N);
    assert_true(ok >= 64);
    assert_true(refused > 0);
    fx_assert_ping(hog);
    blc_free(hog);
}

/* Whether a new connection as name gets a ping answered. */
static bool ping_answered(const fx_t *f, const char *name)
{
    char err[512];
    blc_t *c = fx_connect(f, name, err, sizeof err);
    if (!c)
        return false;
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    Branchline__V1__Response *r = blc_call(c, &req);
    bool ok = r != NULL;
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
    return ok;
}

/* New handshakes from one address beyond handshake_burst_per_addr, faster
 * than handshake_rate_per_addr, are closed before any TLS work; the bucket
 * fills again with time. */
static void test_handshake_rate_per_address(void **state)
{
    (void)state;
    enum { N = 20 };
    fx_t hs;
    assert_int_equal(fx_init_sibling(&hs, &fx, "handshakes"), 0);
    assert_int_equal(fx_start(&hs, "handshake_rate_per_addr = 2\nhandshake_burst_per_addr = 4\n"), 0);
    int answered = 0;
    for (int i = 0; i < N; i++)
        answered += ping_answered(&hs, "alice");
    bool logged = fx_log_wait(&hs, "event=handshake_refused", 3000);
    sleep(3); /* two handshakes a second come back */
    bool later = ping_answered(&hs, "alice");
    print_message("handshake rate: %d of %d connections answered at once; later: %s\n", answered, N,
                  later ? "answered" : "refused");
    int unclean = fx_cleanup(&hs, !(logged && later));
    assert_true(answered >= 1 && answered <= 8);
    assert_true(logged);
    assert_true(later);
    assert_int_equal(unclean, 0);
}

/* Tenants acme (admin alice) and rival (admin bob); acme has project p and
 * 300 unroutable leads (no branch yet). heidi has no principal. */
static int setup(void)
{
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' bootstrap-operator --subject CN=carol --conninfo '%s'",
             fx_bin("BRANCHD_BIN"), fx.owner_conninfo);
    if (fx_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "bootstrap-operator failed: %s\n", out);
        return -1;
    }
    char err[512];
    blc_t *op = fx_connect(&fx, "carol", err, sizeof err);
    blc_t *alice = NULL;
    int rc = -1;
    if (!op)
        goto out;
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__TenantCreateRequest tc = BRANCHLINE__V1__TENANT_CREATE_REQUEST__INIT;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_TENANT_CREATE;
    req.tenant_create = &tc;
    tc.code = (char *)"acme";
    tc.name = (char *)"Acme";
    tc.admin_subject = (char *)"CN=alice";
    if (call(op, &req, NULL, 0) != 0)
        goto out;
    tc.code = (char *)"rival";
    tc.name = (char *)"Rival";
    tc.admin_subject = (char *)"CN=bob";
    if (call(op, &req, NULL, 0) != 0 || !(alice = fx_connect(&fx, "alice", err, sizeof err)))
        goto out;
    Branchline__V1__ProjectAddRequest pa = BRANCHLINE__V1__PROJECT_ADD_REQUEST__INIT;
    pa.code = (char *)"p";
    pa.name = (char *)"P";
    branchline__v1__request__init(&req);
    req.op_case = BRANCHLINE__V1__REQUEST__OP_PROJECT_ADD;
    req.project_add = &pa;
    if (call(alice, &req, NULL, 0) != 0)
        goto out;
    enum { LEADS = 300 };
    static Branchline__V1__LeadInput rows[LEADS];
    static Branchline__V1__LeadInput *rowp[LEADS];
    static char ids[LEADS][16];
    for (int i = 0; i < LEADS; i++) {
        branchline__v1__lead_input__init(&rows[i]);
        snprintf(ids[i], sizeof ids[i], "seed-%d", i);
        rows[i].external_id = ids[i];
        rows[i].project = (char *)"p";
        rows[i].channel = (char *)"search";
        rows[i].name = (char *)"Seed";
        rowp[i] = &rows[i];
    }
    Branchline__V1__LeadImportRequest import = BRANCHLINE__V1__LEAD_IMPORT_REQUEST__INIT;
    import.n_leads = LEADS;
    import.leads = rowp;
    branchline__v1__request__init(&req);
    req.op_case = BRANCHLINE__V1__REQUEST__OP_LEAD_IMPORT;
    req.lead_import = &import;
    rc = call(alice, &req, NULL, 0) == 0 ? 0 : -1;
out:
    if (rc != 0)
        fprintf(stderr, "set-up failed\n");
    blc_free(alice);
    blc_free(op);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul_in_strings_refused),
        cmocka_unit_test(test_oversize_note_refused_before_sql),
        cmocka_unit_test(test_large_requests_do_not_wedge_the_pool),
        cmocka_unit_test(test_statement_deadline),
        cmocka_unit_test(test_fair_queue_between_tenants),
        cmocka_unit_test(test_per_connection_queue_cap),
        cmocka_unit_test(test_handshake_rate_per_address),
    };
    if (fx_init(&fx, "hardening", false) != 0 || fx_start(&fx, "tenant_rate_limit = 0\n") != 0 ||
        setup() != 0) {
        fx_cleanup(&fx, true);
        return 1;
    }
    int failed = cmocka_run_group_tests_name("hardening", tests, NULL, NULL);
    failed += fx_cleanup(&fx, failed != 0);
    return failed;
}
