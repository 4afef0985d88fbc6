/*
 * The authorization matrix: every operation of the protocol, called as every
 * kind of caller (operator, admin, unit_admin, branch, viewer, a disabled
 * principal, a certificate with no principal) against a target inside the
 * caller's scope, one outside it in the same tenant, and one in another
 * tenant. The roles each operation allows are read from where the decision
 * is made: the auth(p_subject, '<op>', '{roles}') call of its SQL function
 * api.<op>, in the database under test; an operation the daemon serves
 * without SQL (ping, server_info, cancel) answers any certificate. An
 * operation of branchline.proto without a row in the table below, or whose
 * function has no such call, fails the test.
 *
 * Rules checked (README, "Authorization matrix"):
 *   no or disabled principal          -> UNAUTHENTICATED
 *   role not allowed by the table     -> PERMISSION_DENIED
 *   allowed, target inside the scope  -> neither of those
 *   allowed, target outside the scope -> PERMISSION_DENIED (admin: allowed)
 *   allowed, target in another tenant -> NOT_FOUND, as for a missing one
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dispatch.h"
#include "fixture.h"
#include "reqbuild.h"

#define CODE(r) ((r)->status ? (int)(r)->status->code : 0)
enum { C_OK = 0, C_NOT_FOUND = 5, C_DENIED = 7, C_UNAUTH = 16 };

typedef struct {
    const char *op;
    const char *in;     /* fields for a target inside every scoped caller's scope */
    const char *out;    /* same tenant, outside the scoped callers' scope; NULL: no target */
    const char *other;  /* another tenant's target; NULL: no target */
} op_case_t;

/* {id_in}/{id_out}/{id_other}: leads; {staff_in}...: staff; {role}: caller. */
static const op_case_t cases[] = {
    {"ping", "", NULL, NULL},
    {"server_info", "", NULL, NULL},
    {"cancel", "", NULL, NULL},
    {"tenant_create", "code=t{role};name=T;admin_subject=CN=nobody{role}", NULL, NULL},
    {"tenant_list", "", NULL, NULL},
    {"principal_add", "subject=CN=p{role};role=viewer;scope_path=east", NULL, NULL},
    {"principal_list", "", NULL, NULL},
    {"principal_set_enabled", "subject=CN=erin;enabled=true", NULL, NULL},
    {"whoami", "", NULL, NULL},
    {"unit_add", "path=east/b1/x{role};kind=branch;name=X", "path=north/x{role};kind=branch;name=X",
     "path=rwest/x{role};kind=branch;name=X"},
    {"unit_rename", "path=east/b1;name=B1", "path=north/b2;name=B2", "path=rwest/rb;name=R"},
    {"unit_move", "path=east/b1;to=east", "path=north/b2;to=north", "path=rwest/rb;to=rwest"},
    {"unit_set_status", "path=east/b1;status=active", "path=north/b2;status=active",
     "path=rwest/rb;status=active"},
    {"unit_delete", "path=east/b1", "path=north/b2", "path=rwest/rb"},
    {"unit_show", "path=east/b1", "path=north/b2", "path=rwest/rb"},
    {"unit_list", "under=east/b1", "under=north", "under=rwest"},
    {"dept_add", "path=east/b1;function=sales", "path=north/b2;function=sales", "path=rwest/rb;function=sales"},
    {"dept_remove", "path=east/b1;function=support", "path=north/b2;function=support",
     "path=rwest/rb;function=support"},
    {"dept_list", "under=east/b1", "under=north", "under=rwest"},
    {"serving", "path=east/b1", "path=north/b2", "path=rwest/rb"},
    {"shape", "path=east/b1", "path=north", "path=rwest"},
    {"support_assign", "branch=east/b1;reason=r", "branch=north/b2;reason=r", "branch=rwest/rb;reason=r"},
    {"support_end", "branch=east/b1", "branch=north/b2", "branch=rwest/rb"},
    {"support_list", "", NULL, NULL},
    {"position_set", "path=east/b1;function=sales;role=salesperson;planned=2",
     "path=north/b2;function=sales;role=salesperson;planned=2",
     "path=rwest/rb;function=sales;role=salesperson;planned=2"},
    {"staff_add", "name=S;role=salesperson;path=east/b1;function=sales",
     "name=S;role=salesperson;path=north/b2;function=sales",
     "name=S;role=salesperson;path=rwest/rb;function=sales"},
    {"staff_move", "id={staff_in};path=east/b1;function=sales", "id={staff_out};path=north/b2;function=sales",
     "id={staff_other};path=east/b1;function=sales"},
    {"staff_leave", "id={staff_in};status=on_leave", "id={staff_out};status=on_leave",
     "id={staff_other};status=on_leave"},
    {"staff_list", "under=east/b1", "under=north", "under=rwest"},
    {"staffing_check", "path=east/b1", "path=north", "path=rwest"},
    {"project_add", "code=pj{role};name=P", NULL, NULL},
    {"project_list", "", NULL, NULL},
    {"project_assign", "branch=east/b1;project=p1;capacity=1", "branch=north/b2;project=p2;capacity=1",
     "branch=rwest/rb;project=p1;capacity=1"},
    {"project_unassign", "branch=east/b1;project=p2", "branch=north/b2;project=p1",
     "branch=rwest/rb;project=p1"},
    {"reorg_plan", "mode=centralize;functions=promotion", NULL, NULL},
    {"reorg_apply", "plan_json={}", NULL, NULL},
    {"audit_list", "target=east/b1", NULL, NULL},
    {"lead_add", "external_id=in{role};project=p1;channel=search;origin=east/b1",
     "external_id=out{role};project=p2;channel=search;origin=north/b2",
     "external_id=ot{role};project=p1;channel=search;origin=rwest/rb"},
    {"lead_import", "first_line=1", NULL, NULL},
    {"lead_list", "branch=east/b1", "branch=north/b2", "branch=rwest/rb"},
    {"lead_show", "id={lead_in}", "id={lead_out}", "id={lead_other}"},
    {"lead_contact", "id={lead_in}", "id={lead_out}", "id={lead_other}"},
    {"lead_win", "id={lead_in}", "id={lead_out}", "id={lead_other}"},
    {"lead_lose", "id={lead_in}", "id={lead_out}", "id={lead_other}"},
    {"lead_reassign", "id={lead_in};to=east/b1;reason=r", "id={lead_out};to=north/b2;reason=r",
     "id={lead_other};to=east/b1;reason=r"},
    {"lead_history", "id={lead_in}", "id={lead_out}", "id={lead_other}"},
    {"lead_explain", "id={lead_in}", "id={lead_out}", "id={lead_other}"},
    {"lead_stats", "under=east/b1", "under=north", "under=rwest"},
    {"lead_purge", "before=2000-01-01", NULL, NULL},
    {"policy_set", "at=east/b1;policy=weighted", "at=north/b2;policy=weighted", "at=rwest/rb;policy=weighted"},
    {"policy_show", "", NULL, NULL},
    {"policy_unset", "at=east/b1", "at=north/b2", "at=rwest/rb"},
    {"cap_set", "branch=east/b1;per_day=100", "branch=north/b2;per_day=100", "branch=rwest/rb;per_day=100"},
    {"cap_unset", "branch=east/b1", "branch=north/b2", "branch=rwest/rb"},
    {"cap_list", "under=east/b1", "under=north", "under=rwest"},
    {"position_list", "under=east/b1", "under=north", "under=rwest"},
    {"lead_watch", "branch=east/b1", "branch=north/b2", "branch=rwest/rb"},
    {"org_export", "path=east/b1", "path=north", "path=rwest"},
    {"org_apply", "document_json={\"version\":1};dry_run=true", NULL, NULL},
    {"kpi", "under=east/b1", "under=north", "under=rwest"},
    {"staffing_erlang", "leads_per_hour=10;handle_minutes=5;answer_within=20;service_level=0.8", NULL, NULL},
    {"staffing_recommend", "path=east/b1", "path=north", "path=rwest"},
    {"whatif", "mode=centralize;functions=promotion", NULL, NULL},
    {"support_suggest", "", NULL, NULL},
    {"source_add", "name=sa-{role};channel=search;origin=east/b1", "name=sb-{role};channel=search;origin=north/b2",
     "name=sc-{role};channel=search;origin=rwest/rb"},
    {"source_list", "", NULL, NULL},
    {"source_rotate", "name=sin", "name=sout", "name=soth"},
    {"source_disable", "name=sin", "name=sout", "name=soth"},
};

typedef struct {
    const char *cert;
    const char *role;   /* a role, or "disabled" / "none" (no principal) */
    bool scoped;        /* the role holds a subtree or a branch */
} caller_t;

static const caller_t callers[] = {
    {"carol", "operator", false},
    {"alice", "admin", false},
    {"frank", "unit_admin", true},
    {"dave", "branch", true},
    {"erin", "viewer", true},
    {"grace", "disabled", false},
    {"heidi", "none", false},
};

static fx_t fx;
static char vars[8][32];    /* lead_in lead_out lead_other staff_in staff_out staff_other */
static const char *var_names[] = {"lead_in", "lead_out", "lead_other", "staff_in", "staff_out", "staff_other"};

static blc_t *connect_as(const char *cert)
{
    char err[512];
    blc_t *c = fx_connect(&fx, cert, err, sizeof err);
    if (!c)
        fail_msg("connect as %s: %s", cert, err);
    return c;
}

static void expand(const char *in, const char *role, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < outlen;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
            const char *val = strcmp(name, "role") == 0 ? role : "";
            for (size_t i = 0; i < sizeof var_names / sizeof *var_names; i++)
                if (strcmp(name, var_names[i]) == 0)
                    val = vars[i];
            n += (size_t)snprintf(out + n, outlen - n, "%s", val);
            p = end + 1;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

/* Calls op with "k=v;k=v" fields; returns the status code (-1: no answer). */
static int call(blc_t *c, const char *op, const char *fields, const char *role, char *first_value,
                size_t fvlen)
{
    ProtobufCMessage *m = NULL;
    Branchline__V1__Request *req = reqbuild_new(op, &m);
    assert_non_null(req);
    char expanded[512], err[256];
    expand(fields, role, expanded, sizeof expanded);
    char *save = NULL;
    for (char *kv = strtok_r(expanded, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        if (reqbuild_set(m, kv, eq + 1, kv, err, sizeof err) != REQBUILD_OK)
            fail_msg("%s: %s", op, err);
    }
    Branchline__V1__Response *r = blc_call(c, req);
    int code = r ? CODE(r) : -1;
    if (r && first_value && code == 0) {
        const ProtobufCMessage *res = reqbuild_result(r);
        const ProtobufCFieldDescriptor *f =
            res ? protobuf_c_message_descriptor_get_field_by_name(res->descriptor, "id") : NULL;
        if (f)
            snprintf(first_value, fvlen, "%lld", (long long)*(const int64_t *)((const char *)res + f->offset));
    }
    bool stream = r && r->more;
    uint64_t id = req->id;
    if (r)
        branchline__v1__response__free_unpacked(r, NULL);
    reqbuild_free(req);
    if (stream) { /* lead_watch opened: cancel it and read its end */
        Branchline__V1__Request cancel = BRANCHLINE__V1__REQUEST__INIT;
        Branchline__V1__CancelRequest cr = BRANCHLINE__V1__CANCEL_REQUEST__INIT;
        cr.target_id = id;
        cancel.op_case = BRANCHLINE__V1__REQUEST__OP_CANCEL;
        cancel.cancel = &cr;
        assert_int_equal(blc_send(c, &cancel), 0);
        for (int i = 0; i < 2; i++) {
            Branchline__V1__Response *x = blc_recv(c);
            assert_non_null(x);
            branchline__v1__response__free_unpacked(x, NULL);
        }
    }
    return code;
}

static void setup_org(void)
{
    blc_t *op = connect_as("carol"), *a = connect_as("alice"), *b = connect_as("bob");
    static const char *const acme[][2] = {
        {"tenant_create", "code=acme;name=Acme;admin_subject=CN=alice"},
        {"tenant_create", "code=rival;name=Rival;admin_subject=CN=bob"},
    };
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(call(op, acme[i][0], acme[i][1], "", NULL, 0), 0);
    static const char *const steps[][2] = {
        {"unit_add", "path=east;kind=region;name=East"},
        {"unit_add", "path=east/b1;kind=branch;name=B1"},
        {"unit_add", "path=north;kind=region;name=North"},
        {"unit_add", "path=north/b2;kind=branch;name=B2"},
        {"dept_add", "path=/;function=customer_service"},
        {"dept_add", "path=east/b1;function=sales"},
        {"dept_add", "path=north/b2;function=sales"},
        {"project_add", "code=p1;name=P1"},
        {"project_add", "code=p2;name=P2"},
        {"project_assign", "branch=east/b1;project=p1;capacity=1"},
        {"project_assign", "branch=north/b2;project=p2;capacity=1"},
        {"principal_add", "subject=CN=frank;role=unit_admin;scope_path=east"},
        {"principal_add", "subject=CN=dave;role=branch;scope_path=east/b1"},
        {"principal_add", "subject=CN=erin;role=viewer;scope_path=east/b1"},
        {"principal_add", "subject=CN=grace;role=viewer;scope_path=east"},
        {"principal_set_enabled", "subject=CN=grace;enabled=false"},
        {"source_add", "name=sin;channel=search;origin=east/b1"},
        {"source_add", "name=sout;channel=search;origin=north/b2"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        if (call(a, steps[i][0], steps[i][1], "", NULL, 0) != 0)
            fail_msg("setup step %s %s failed", steps[i][0], steps[i][1]);
    static const char *const rival[][2] = {
        {"unit_add", "path=rwest;kind=region;name=RW"},
        {"unit_add", "path=rwest/rb;kind=branch;name=RB"},
        {"dept_add", "path=/;function=customer_service"},
        {"dept_add", "path=rwest/rb;function=sales"},
        {"project_add", "code=p1;name=P1"},
        {"project_assign", "branch=rwest/rb;project=p1;capacity=1"},
        {"source_add", "name=soth;channel=search;origin=rwest/rb"},
    };
    for (size_t i = 0; i < sizeof rival / sizeof *rival; i++)
        if (call(b, rival[i][0], rival[i][1], "", NULL, 0) != 0)
            fail_msg("rival step %s %s failed", rival[i][0], rival[i][1]);
    assert_int_equal(call(a, "lead_add", "external_id=L1;project=p1;channel=search;origin=east/b1", "",
                          vars[0], sizeof vars[0]), 0);
    assert_int_equal(call(a, "lead_add", "external_id=L2;project=p2;channel=search;origin=north/b2", "",
                          vars[1], sizeof vars[1]), 0);
    assert_int_equal(call(b, "lead_add", "external_id=L3;project=p1;channel=search;origin=rwest/rb", "",
                          vars[2], sizeof vars[2]), 0);
    assert_int_equal(call(a, "staff_add", "name=S1;role=salesperson;path=east/b1;function=sales", "",
                          vars[3], sizeof vars[3]), 0);
    assert_int_equal(call(a, "staff_add", "name=S2;role=salesperson;path=north/b2;function=sales", "",
                          vars[4], sizeof vars[4]), 0);
    assert_int_equal(call(b, "staff_add", "name=S3;role=salesperson;path=rwest/rb;function=sales", "",
                          vars[5], sizeof vars[5]), 0);
    blc_free(op);
    blc_free(a);
    blc_free(b);
}

static const op_case_t *case_for(const char *op)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (strcmp(cases[i].op, op) == 0)
            return &cases[i];
    return NULL;
}

static void test_every_operation_has_a_dispatch_row_and_a_case(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &branchline__v1__request__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        if (!dispatch_lookup((Branchline__V1__Request__OpCase)f->id))
            fail_msg("operation %s has no dispatch row", f->name);
        if (!case_for(f->name))
            fail_msg("operation %s has no row in the authorization matrix test", f->name);
    }
}

/* The roles of each API function, as its auth(...) call lists them. */
static PGresult *sql_roles;

static void read_sql_roles(void)
{
    PGconn *pg = PQconnectdb(fx.admin_conninfo);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    sql_roles = PQexec(pg,
                       "SELECT p.proname, (regexp_match(p.prosrc,"
                       " 'auth\\(p_subject,\\s*''\\w+'',\\s*''\\{([a-z_,]*)\\}''\\)'))[1]"
                       " FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace");
    assert_int_equal(PQresultStatus(sql_roles), PGRES_TUPLES_OK);
    PQfinish(pg);
}

/* Whether op answers any certificate (the daemon serves it without SQL);
 * else *roles is the list its API function allows, "a,b". */
static bool is_public(const char *op, const char **roles)
{
    unsigned n;
    const dispatch_entry_t *table = dispatch_table(&n);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(table[i].name, op) == 0 && !table[i].sql)
            return true;
    for (int row = 0; row < PQntuples(sql_roles); row++) {
        if (strcmp(PQgetvalue(sql_roles, row, 0), op) != 0)
            continue;
        if (PQgetisnull(sql_roles, row, 1))
            fail_msg("api.%s has no auth(p_subject, '...', '{roles}') call", op);
        *roles = PQgetvalue(sql_roles, row, 1);
        return false;
    }
    fail_msg("operation %s has no function api.%s", op, op);
    return false;
}

static bool role_in(const char *role, const char *roles)
{
    size_t n = strlen(role);
    for (const char *p = roles; (p = strstr(p, role)) != NULL; p += n)
        if ((p == roles || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static int failures;
static FILE *matrix_out; /* BLTEST_MATRIX_OUT: the observed matrix as Markdown */

static void expect(const char *op, const caller_t *who, const char *target, int got, bool want_denied,
                   bool want_not_found)
{
    bool ok;
    const char *want;
    if (want_not_found) {
        ok = got == C_NOT_FOUND;
        want = "NOT_FOUND";
    } else if (want_denied) {
        int denial = (strcmp(who->role, "disabled") == 0 || strcmp(who->role, "none") == 0) ? C_UNAUTH : C_DENIED;
        ok = got == denial;
        want = denial == C_UNAUTH ? "UNAUTHENTICATED" : "PERMISSION_DENIED";
    } else {
        ok = got >= 0 && got != C_DENIED && got != C_UNAUTH;
        want = "allowed";
    }
    if (matrix_out)
        fprintf(matrix_out, "| %s | %s | %s | %s |\n", op, who->role, target,
                got < 0 ? "no answer" : status_code_name(got));
    if (!ok) {
        fprintf(stderr, "MISMATCH %s as %s on %s target: got %s, want %s\n", op, who->role, target,
                got < 0 ? "no answer" : status_code_name(got), want);
        failures++;
    }
}

static void test_matrix(void **state)
{
    (void)state;
    setup_org();
    read_sql_roles();
    const char *path = getenv("BLTEST_MATRIX_OUT");
    if (path && (matrix_out = fopen(path, "w")))
        fprintf(matrix_out,
                "# Authorization matrix, as observed\n\n"
                "Every operation, called by every kind of caller against a target inside its "
                "scope (`in`), outside it in the same tenant (`out`) and in another tenant "
                "(`other-tenant`). Generated by `tests/integration/test_authz.c` (run it with "
                "`BLTEST_MATRIX_OUT=FILE`), which also asserts the rules in the README; the "
                "roles per operation are read from each API function's `auth(...)` call.\n\n"
                "| operation | caller | target | status |\n|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof callers / sizeof *callers; k++) {
        const caller_t *who = &callers[k];
        blc_t *c = connect_as(who->cert);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            const op_case_t *oc = &cases[i];
            const char *roles = "";
            bool allowed = is_public(oc->op, &roles) || role_in(who->role, roles);
            expect(oc->op, who, "in", call(c, oc->op, oc->in, who->role, NULL, 0), !allowed, false);
            if (oc->out)
                expect(oc->op, who, "out", call(c, oc->op, oc->out, who->role, NULL, 0),
                       !allowed || who->scoped, false);
            if (oc->other)
                expect(oc->op, who, "other-tenant", call(c, oc->op, oc->other, who->role, NULL, 0),
                       !allowed, allowed && strcmp(who->role, "operator") != 0);
        }
        blc_free(c);
    }
    if (matrix_out)
        fclose(matrix_out);
    PQclear(sql_roles);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_operation_has_a_dispatch_row_and_a_case),
        cmocka_unit_test(test_matrix),
    };
    if (fx_init(&fx, "authz", false) != 0 || fx_start(&fx, "tenant_rate_limit = 0\n") != 0) {
        fx_cleanup(&fx, true);
        return 1;
    }
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' bootstrap-operator --subject CN=carol --conninfo '%s'",
             fx_bin("BRANCHD_BIN"), fx.owner_conninfo);
    if (fx_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "bootstrap-operator: %s\n", out);
        fx_cleanup(&fx, true);
        return 1;
    }
    int failed = cmocka_run_group_tests_name("authz", tests, NULL, NULL);
    failed += fx_cleanup(&fx, failed != 0);
    return failed;
}
