/*
 * Progress of org_apply over the wire: with OrgApplyRequest.progress the
 * daemon forwards the SQL function's progress notices as Progress responses
 * (more = true) while the transaction runs, then the result; without it the
 * answer is one response, as before. A refused document still ends with its
 * error; a client that leaves in the middle does not stop the apply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

#define CITIES 20
#define BRANCHES 100  /* per city */
#define UNITS (1 + CITIES + CITIES * BRANCHES)

static fx_t fx;

typedef struct {
    int frames;
    int ticks;
    int64_t last_done;
    int64_t total;
    bool monotonic;
    bool saw_units;
} seen_t;

static void count(void *arg, const Branchline__V1__Progress *p)
{
    seen_t *s = arg;
    if (!p) {
        s->ticks++;
        return;
    }
    if (s->frames > 0 && (p->done < s->last_done || p->total != s->total))
        s->monotonic = false;
    s->frames++;
    s->last_done = p->done;
    s->total = p->total;
    s->saw_units = s->saw_units || strcmp(p->phase, "units") == 0;
}

/* A document of one region with CITIES cities of BRANCHES branches each,
 * the last one of kind last_kind. City codes start with the region's, so
 * that no city of one region looks moved from another (matched by code). */
static char *document(const char *region, const char *last_kind)
{
    size_t cap = 128 + (size_t)UNITS * 96, used = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    used += (size_t)snprintf(doc + used, cap - used,
                             "{\"version\":1,\"units\":[{\"path\":\"%s\",\"kind\":\"region\",\"name\":\"R\"}",
                             region);
    for (int c = 0; c < CITIES; c++) {
        used += (size_t)snprintf(doc + used, cap - used,
                                 ",{\"path\":\"%s/%sc%d\",\"kind\":\"city\",\"name\":\"City %d\"}",
                                 region, region, c, c);
        for (int b = 0; b < BRANCHES; b++) {
            bool last = c == CITIES - 1 && b == BRANCHES - 1;
            used += (size_t)snprintf(doc + used, cap - used,
                                     ",{\"path\":\"%s/%sc%d/b%d\",\"kind\":\"%s\",\"name\":\"Branch %d\"}",
                                     region, region, c, b, last ? last_kind : "branch", b);
        }
    }
    snprintf(doc + used, cap - used, "]}");
    return doc;
}

static void apply_init(Branchline__V1__Request *req, Branchline__V1__OrgApplyRequest *apply,
                       char *doc, bool progress)
{
    branchline__v1__request__init(req);
    branchline__v1__org_apply_request__init(apply);
    apply->document_json = doc;
    apply->progress = progress;
    req->op_case = BRANCHLINE__V1__REQUEST__OP_ORG_APPLY;
    req->org_apply = apply;
}

/* Applies document(region, last_kind), dry or not, with or without the
 * progress flag; with seen, through blc_call_progress (ticks every tick_ms,
 * 0: none), counting what arrives there; without, a plain blc_call. */
static Branchline__V1__Response *apply_document(blc_t *c, const char *region, const char *last_kind,
                                                bool progress, bool dry_run, int tick_ms, seen_t *seen)
{
    Branchline__V1__Request req;
    Branchline__V1__OrgApplyRequest apply;
    char *doc = document(region, last_kind);
    apply_init(&req, &apply, doc, progress);
    apply.dry_run = dry_run;
    Branchline__V1__Response *r;
    if (seen) {
        *seen = (seen_t){.monotonic = true};
        r = blc_call_progress(c, &req, tick_ms, count, seen);
    } else {
        r = blc_call(c, &req);
    }
    free(doc);
    assert_non_null(r);
    return r;
}

static size_t units_under(blc_t *c, const char *under)
{
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__UnitListRequest list = BRANCHLINE__V1__UNIT_LIST_REQUEST__INIT;
    list.under = (char *)under;
    req.op_case = BRANCHLINE__V1__REQUEST__OP_UNIT_LIST;
    req.unit_list = &list;
    Branchline__V1__Response *r = blc_call(c, &req);
    assert_non_null(r);
    size_t n = FX_CODE(r) == 0 ? r->unit_list->n_items : 0;
    branchline__v1__response__free_unpacked(r, NULL);
    return n;
}

static void test_tenant(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "carol");
    Branchline__V1__Request req = BRANCHLINE__V1__REQUEST__INIT;
    Branchline__V1__TenantCreateRequest t = BRANCHLINE__V1__TENANT_CREATE_REQUEST__INIT;
    t.code = "big";
    t.name = "Big";
    t.admin_subject = "CN=alice";
    req.op_case = BRANCHLINE__V1__REQUEST__OP_TENANT_CREATE;
    req.tenant_create = &t;
    Branchline__V1__Response *r = blc_call(c, &req);
    assert_non_null(r);
    assert_int_equal(FX_CODE(r), 0);
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
}

/* Progress asked for: Progress responses with more = true, counting up to
 * the total, about a hundred at most, then the result. */
static void test_progress_frames_then_result(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    seen_t seen;
    Branchline__V1__Response *r = apply_document(c, "east", "branch", true, false, 0, &seen);
    assert_int_equal(FX_CODE(r), 0);
    assert_false(r->more);
    assert_int_equal(r->result_case, BRANCHLINE__V1__RESPONSE__RESULT_ORG_APPLY);
    assert_int_equal(r->org_apply->n_items, UNITS);
    assert_true(seen.frames >= 10);
    assert_true(seen.frames <= 120);
    assert_true(seen.monotonic);
    assert_true(seen.saw_units);
    assert_int_equal(seen.total, 3 * UNITS);  /* checked once, applied in two passes */
    assert_int_equal(seen.last_done, seen.total);
    assert_int_equal(seen.ticks, 0);
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
}

/* Without the flag the answer is the result alone, as before there was progress. */
static void test_no_flag_one_response(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    seen_t seen;
    Branchline__V1__Response *r = apply_document(c, "east", "branch", false, true, 0, &seen);
    assert_int_equal(FX_CODE(r), 0);
    assert_int_equal(seen.frames, 0);
    branchline__v1__response__free_unpacked(r, NULL);
    /* and a plain blc_call gets that one response */
    r = apply_document(c, "east", "branch", false, true, 0, NULL);
    assert_false(r->more);
    assert_int_equal(r->result_case, BRANCHLINE__V1__RESPONSE__RESULT_ORG_APPLY);
    branchline__v1__response__free_unpacked(r, NULL);
    fx_assert_ping(c);
    blc_free(c);
}

/* A document refused in the middle of the apply: progress, then the error,
 * and nothing of it applied. */
static void test_refused_after_progress(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    seen_t seen;
    /* east/eastc19/b99 exists as a branch */
    Branchline__V1__Response *r = apply_document(c, "east", "city", true, false, 50, &seen);
    assert_int_equal(FX_CODE(r), BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT);
    assert_false(r->more);
    assert_int_equal(r->result_case, BRANCHLINE__V1__RESPONSE__RESULT__NOT_SET);
    assert_string_equal(r->status->field, "units[2020].kind");
    assert_true(seen.frames >= 2);
    assert_true(seen.saw_units);
    branchline__v1__response__free_unpacked(r, NULL);
    fx_assert_ping(c);
    blc_free(c);
}

/* The client leaves after the first Progress: the apply still commits, and
 * the daemon serves on. */
static void test_client_leaves_during_apply(void **state)
{
    (void)state;
    blc_t *c = fx_connect_ok(&fx, "alice");
    Branchline__V1__Request req;
    Branchline__V1__OrgApplyRequest apply;
    char *doc = document("west", "branch");
    apply_init(&req, &apply, doc, true);
    assert_int_equal(blc_send(c, &req), 0);
    Branchline__V1__Response *r = blc_recv(c);
    assert_non_null(r);
    assert_true(r->more);
    assert_int_equal(r->result_case, BRANCHLINE__V1__RESPONSE__RESULT_PROGRESS);
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
    free(doc);
    char line[128];  /* the request's log line once detached: conn=0 */
    snprintf(line, sizeof line, "conn=0 request=%llu op=org_apply status=OK",
             (unsigned long long)req.id);
    assert_true(fx_log_wait(&fx, line, 120000));
    c = fx_connect_ok(&fx, "alice");
    assert_int_equal(units_under(c, "west"), UNITS);
    blc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tenant),
        cmocka_unit_test(test_progress_frames_then_result),
        cmocka_unit_test(test_no_flag_one_response),
        cmocka_unit_test(test_refused_after_progress),
        cmocka_unit_test(test_client_leaves_during_apply),
    };
    char cmd[2048], out[4096];
    if (fx_init(&fx, "progress", false) != 0 || fx_start(&fx, NULL) != 0) {
        fx_cleanup(&fx, true);
        return 1;
    }
    snprintf(cmd, sizeof cmd, "'%s' bootstrap-operator --subject CN=carol --conninfo '%s'",
             fx_bin("BRANCHD_BIN"), fx.owner_conninfo);
    if (fx_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "bootstrap-operator failed: %s\n", out);
        fx_cleanup(&fx, true);
        return 1;
    }
    int failed = cmocka_run_group_tests_name("progress", tests, NULL, NULL);
    failed += fx_cleanup(&fx, failed != 0);
    return failed;
}
