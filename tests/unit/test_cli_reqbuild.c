/* branchctl's requests from command lines: what a command line puts on the
 * wire, and the usage errors that name the argument (no daemon). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"
#include "commands.h"
#include "org_call.h"
#include "output.h"
#include "reqbuild.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- requests from argv ---- */

static const cli_t CLI = {.out = {OUTPUT_TABLE, NULL, false}};

/* Builds the request of the command line argv (words first); *req NULL on failure. */
static int build(int argc, char **argv, Branchline__V1__Request **req)
{
    int used = 0;
    args_t args;
    *req = NULL;
    const command_t *cmd = commands_find(argc, argv, &used);
    assert_non_null(cmd);
    assert_non_null(cmd->op);
    int rc = args_parse(&CLI, cmd, argc - used, argv + used, &args);
    if (rc == 0)
        rc = org_build(&CLI, cmd, cmd->op, &args, req);
    return rc;
}

/* Packs and unpacks req, so what is checked is what goes on the wire. */
static Branchline__V1__Request *wire(Branchline__V1__Request *req)
{
    size_t len = branchline__v1__request__get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    branchline__v1__request__pack(req, buf);
    Branchline__V1__Request *back = branchline__v1__request__unpack(NULL, len, buf);
    free(buf);
    reqbuild_free(req);
    assert_non_null(back);
    return back;
}

#define BUILD(req, ...)                                                     \
    do {                                                                    \
        char *argv_[] = {__VA_ARGS__};                                      \
        assert_int_equal(build((int)COUNT(argv_), argv_, &(req)), 0);      \
        (req) = wire(req);                                                  \
    } while (0)

#define BUILD_FAILS(...)                                                    \
    do {                                                                    \
        char *argv_[] = {__VA_ARGS__};                                      \
        Branchline__V1__Request *req_;                                      \
        assert_int_equal(build((int)COUNT(argv_), argv_, &req_), BLC_EXIT_USAGE); \
        assert_null(req_);                                                  \
    } while (0)

static void test_build_unit_add(void **state)
{
    (void)state;
    Branchline__V1__Request *r;
    BUILD(r, "unit", "add", "east/shanghai", "--kind", "city", "--name=上海", "--opened",
          "2026-01-05");
    assert_int_equal(r->op_case, BRANCHLINE__V1__REQUEST__OP_UNIT_ADD);
    assert_string_equal(r->unit_add->path, "east/shanghai");
    assert_string_equal(r->unit_add->kind, "city");
    assert_string_equal(r->unit_add->name, "上海");
    assert_string_equal(r->unit_add->opened_on, "2026-01-05");
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "unit", "add", "--name", "-", "--kind", "branch", "--", "-odd");
    assert_string_equal(r->unit_add->path, "-odd");
    assert_string_equal(r->unit_add->name, "-");
    assert_string_equal(r->unit_add->opened_on, "");
    branchline__v1__request__free_unpacked(r, NULL);
}

static void test_build_constants(void **state)
{
    (void)state;
    Branchline__V1__Request *r;
    BUILD(r, "principal", "disable", "CN=bob");
    assert_int_equal(r->op_case, BRANCHLINE__V1__REQUEST__OP_PRINCIPAL_SET_ENABLED);
    assert_string_equal(r->principal_set_enabled->subject, "CN=bob");
    assert_false(r->principal_set_enabled->enabled);
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "principal", "enable", "CN=bob");
    assert_true(r->principal_set_enabled->enabled);
    branchline__v1__request__free_unpacked(r, NULL);

    const char *const statuses[][2] = {{"close", "closed"}, {"pause", "paused"},
                                       {"activate", "active"}};
    for (size_t i = 0; i < COUNT(statuses); i++) {
        BUILD(r, "unit", (char *)statuses[i][0], "east");
        assert_int_equal(r->op_case, BRANCHLINE__V1__REQUEST__OP_UNIT_SET_STATUS);
        assert_string_equal(r->unit_set_status->path, "east");
        assert_string_equal(r->unit_set_status->status, statuses[i][1]);
        branchline__v1__request__free_unpacked(r, NULL);
    }
}

static void test_build_integers(void **state)
{
    (void)state;
    Branchline__V1__Request *r;
    BUILD(r, "unit", "tree", "east", "--depth", "2");
    assert_int_equal(r->op_case, BRANCHLINE__V1__REQUEST__OP_UNIT_LIST);
    assert_string_equal(r->unit_list->under, "east");
    assert_int_equal(r->unit_list->depth, 2);
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "staff", "move", "9007199254740993", "--dept", "/", "--function", "sales",
          "--supervisor", "12");
    assert_int_equal(r->staff_move->id, 9007199254740993);
    assert_int_equal(r->staff_move->supervisor_id, 12);
    assert_string_equal(r->staff_move->path, "/");
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "position", "set", "east", "promotion", "promoter", "--planned", "3");
    assert_string_equal(r->position_set->function, "promotion");
    assert_string_equal(r->position_set->role, "promoter");
    assert_int_equal(r->position_set->planned, 3);
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD_FAILS("unit", "tree", "--depth", "2x");
    BUILD_FAILS("unit", "tree", "--depth", "2147483648");
    BUILD_FAILS("unit", "tree", "--depth", " 2");
    BUILD_FAILS("staff", "move", "+3", "--dept", "/", "--function", "sales");
    BUILD_FAILS("audit", "--limit", "");
}

static void test_integer_errors_name_the_argument(void **state)
{
    (void)state;
    char err[256];
    long long n;
    assert_int_equal(args_integer("--depth", "x1", 0, 9, &n, err, sizeof err), -1);
    assert_string_equal(err, "invalid --depth 'x1': not an integer");
    assert_int_equal(args_integer("ID", "10", 0, 9, &n, err, sizeof err), -1);
    assert_string_equal(err, "invalid ID '10': out of range 0 to 9");
    assert_int_equal(args_integer("ID", "-9", -9, 9, &n, err, sizeof err), 0);
    assert_int_equal(n, -9);
}

static void test_build_reorg(void **state)
{
    (void)state;
    Branchline__V1__Request *r;
    BUILD(r, "reorg", "plan", "--decentralize", "promotion,customer_service", "--to", "region");
    assert_int_equal(r->op_case, BRANCHLINE__V1__REQUEST__OP_REORG_PLAN);
    assert_string_equal(r->reorg_plan->mode, "decentralize");
    assert_string_equal(r->reorg_plan->functions, "promotion,customer_service");
    assert_string_equal(r->reorg_plan->to_kind, "region");
    assert_string_equal(r->reorg_plan->at, "");
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "reorg", "plan", "--centralize", "sales", "--at", "east");
    assert_string_equal(r->reorg_plan->mode, "centralize");
    assert_string_equal(r->reorg_plan->at, "east");
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD_FAILS("reorg", "plan");
    BUILD_FAILS("reorg", "plan", "--centralize", "sales", "--decentralize", "sales");
}

static void test_build_leads(void **state)
{
    (void)state;
    Branchline__V1__Request *r;
    BUILD(r, "lead", "add", "--external-id", "web-1", "--project", "loans", "--channel", "search",
          "--origin", "east", "--name", "张伟", "--phone", "138", "--email", "z@x.cn", "--note", "n");
    assert_int_equal(r->op_case, BRANCHLINE__V1__REQUEST__OP_LEAD_ADD);
    const Branchline__V1__LeadAddRequest *add = r->lead_add;
    assert_string_equal(add->external_id, "web-1");
    assert_string_equal(add->project, "loans");
    assert_string_equal(add->channel, "search");
    assert_string_equal(add->origin, "east");
    assert_string_equal(add->name, "张伟");
    assert_string_equal(add->phone, "138");
    assert_string_equal(add->email, "z@x.cn");
    assert_string_equal(add->note, "n");
    branchline__v1__request__free_unpacked(r, NULL);

    const struct {
        const char *word;
        Branchline__V1__Request__OpCase op;
    } transitions[] = {
        {"contact", BRANCHLINE__V1__REQUEST__OP_LEAD_CONTACT},
        {"win", BRANCHLINE__V1__REQUEST__OP_LEAD_WIN},
        {"lose", BRANCHLINE__V1__REQUEST__OP_LEAD_LOSE},
    };
    for (size_t i = 0; i < COUNT(transitions); i++) {
        BUILD(r, "lead", (char *)transitions[i].word, "42", "--note", "called");
        assert_int_equal(r->op_case, transitions[i].op);
        /* The three share LeadTransitionRequest, so any of the union's members reads it. */
        assert_int_equal(r->lead_contact->id, 42);
        assert_string_equal(r->lead_contact->note, "called");
        branchline__v1__request__free_unpacked(r, NULL);
    }

    BUILD(r, "lead", "list", "--status", "waiting", "--limit", "100", "--after", "5000");
    assert_int_equal(r->op_case, BRANCHLINE__V1__REQUEST__OP_LEAD_LIST);
    assert_string_equal(r->lead_list->status, "waiting");
    assert_int_equal(r->lead_list->limit, 100);
    assert_int_equal(r->lead_list->after, 5000);
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "lead", "reassign", "7", "--to", "east/minhang", "--reason", "moved");
    assert_int_equal(r->lead_reassign->id, 7);
    assert_string_equal(r->lead_reassign->to, "east/minhang");
    assert_string_equal(r->lead_reassign->reason, "moved");
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "lead", "stats", "--under", "east", "--period", "week");
    assert_string_equal(r->lead_stats->under, "east");
    assert_string_equal(r->lead_stats->period, "week");
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "lead", "purge", "--before", "2025-01-01");
    assert_string_equal(r->lead_purge->before, "2025-01-01");
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "lead", "watch", "--branch", "east/pudong");
    assert_int_equal(r->op_case, BRANCHLINE__V1__REQUEST__OP_LEAD_WATCH);
    assert_string_equal(r->lead_watch->branch, "east/pudong");
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "policy", "set", "project_lead", "--at", "east", "--project", "loans",
          "--lead-branch", "east/pudong", "--sla-minutes", "30", "--max-reallocations", "2");
    const Branchline__V1__PolicySetRequest *p = r->policy_set;
    assert_string_equal(p->policy, "project_lead");
    assert_string_equal(p->at, "east");
    assert_string_equal(p->project, "loans");
    assert_string_equal(p->lead_branch, "east/pudong");
    assert_int_equal(p->sla_minutes, 30);
    assert_int_equal(p->max_reallocations, 2);
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD(r, "cap", "set", "east/pudong", "--per-day", "40", "--per-week", "180");
    assert_string_equal(r->cap_set->branch, "east/pudong");
    assert_int_equal(r->cap_set->per_day, 40);
    assert_int_equal(r->cap_set->per_week, 180);
    branchline__v1__request__free_unpacked(r, NULL);

    BUILD_FAILS("lead", "add", "--external-id", "w", "--project", "loans");  /* --channel */
    BUILD_FAILS("lead", "show", "abc");
    BUILD_FAILS("lead", "show");
    BUILD_FAILS("lead", "contact", "1", "2");
    BUILD_FAILS("lead", "reassign", "7", "--to", "east/minhang");            /* --reason */
    BUILD_FAILS("lead", "list", "--limit", "2147483648");
    BUILD_FAILS("lead", "purge");
    BUILD_FAILS("lead", "import");                                           /* FILE */
    BUILD_FAILS("policy", "set", "--at", "east");                            /* POLICY */
    BUILD_FAILS("cap", "set", "east/pudong", "--per-day", "many");
}

static void test_usage_errors(void **state)
{
    (void)state;
    BUILD_FAILS("unit", "add", "east", "--kind", "city");              /* missing --name */
    BUILD_FAILS("unit", "add", "east", "--kind", "city", "--name", ""); /* empty */
    BUILD_FAILS("unit", "add", "east", "--kind", "city", "--name", "x", "--nmae", "y");
    BUILD_FAILS("unit", "add", "east", "--kind", "city", "--name", "x", "extra");
    BUILD_FAILS("unit", "add", "east", "--kind", "city", "--name", "x", "--name", "y");
    BUILD_FAILS("unit", "add", "east", "--name", "x", "--kind");        /* value missing */
    BUILD_FAILS("dept", "add", "east");                                 /* FUNCTION missing */
    BUILD_FAILS("tenant", "list", "acme");
}

/* Every row resolves: its op is a Request field, its parameters and
 * constants name fields of that message, its result is in Response, its
 * default columns are fields of that result; and every organization and
 * lead operation (fields 20 to 105) has a command. */
static void test_every_row_resolves(void **state)
{
    (void)state;
    char err[256];
    COMMANDS_FOREACH(group, cmd) {
        assert_non_null(cmd->summary);
        assert_non_null(cmd->example);
        assert_non_null(cmd->run);
        for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++)
            assert_non_null(cmd->params[i].help);
        if (!cmd->op)
            continue;
        ProtobufCMessage *m = NULL;
        Branchline__V1__Request *req = reqbuild_new(cmd->op, &m);
        assert_non_null(req);
        assert_non_null(reqbuild_result_descriptor(cmd->op));
        for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++)
            if (cmd->params[i].field)
                assert_non_null(protobuf_c_message_descriptor_get_field_by_name(
                    m->descriptor, cmd->params[i].field));
        args_t none = {{NULL}};
        assert_int_equal(reqbuild_fill(cmd, &none, m, err, sizeof err), REQBUILD_OK);
        output_opts_t defaults = {OUTPUT_TABLE, cmd->columns, false};
        if (output_check_columns(&defaults, reqbuild_result_descriptor(cmd->op), err,
                                 sizeof err) < 0)
            fail_msg("%s: %s", cmd->op, err);
        reqbuild_free(req);
    }
    const ProtobufCMessageDescriptor *d = &branchline__v1__request__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const char *op = d->fields[i].name;
        /* reorg apply sends reorg_apply itself, after its row's reorg_plan */
        bool found = d->fields[i].id < 20 || d->fields[i].id > 105 ||
                     strcmp(op, "reorg_apply") == 0;
        COMMANDS_FOREACH(group, cmd)
            found = found || (cmd->op && strcmp(cmd->op, op) == 0);
        if (!found)
            fail_msg("no command sends %s", op);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_unit_add),
        cmocka_unit_test(test_build_constants),
        cmocka_unit_test(test_build_integers),
        cmocka_unit_test(test_integer_errors_name_the_argument),
        cmocka_unit_test(test_build_reorg),
        cmocka_unit_test(test_build_leads),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_every_row_resolves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
