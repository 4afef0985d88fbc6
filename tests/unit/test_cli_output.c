/*
 * Unit tests for branchctl without a daemon: display width and table
 * alignment with Chinese text, JSON output through descriptors, the unit
 * tree, the reorg plan file, streamed rows, help generated from the
 * command rows; YAML and CSV output, and YAML input with the lines of its
 * locations (yamlconv). Requests built from argv: test_cli_reqbuild.c.
 */
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
#include "help.h"
#include "org_call.h"
#include "output.h"
#include "reqbuild.h"
#include "textwidth.h"
#include "tree.h"
#include "yamlconv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- capturing output ---- */

typedef struct {
    FILE *f;
    char *text;
    size_t len;
} capture_t;

static FILE *capture_open(capture_t *c)
{
    memset(c, 0, sizeof *c);
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
    return c->f;
}

/* Closes the stream, compares what was written with want, frees it. */
static void capture_expect(capture_t *c, const char *want)
{
    assert_int_equal(fclose(c->f), 0);
    assert_string_equal(c->text, want);
    free(c->text);
}

/* ---- fixtures ---- */

static Branchline__V1__Unit unit(const char *path, const char *code, const char *name,
                                 const char *kind, const char *status, const char *parent,
                                 int depth)
{
    Branchline__V1__Unit u = BRANCHLINE__V1__UNIT__INIT;
    u.path = (char *)path;
    u.code = (char *)code;
    u.name = (char *)name;
    u.kind = (char *)kind;
    u.status = (char *)status;
    u.parent_path = (char *)parent;
    u.depth = depth;
    return u;
}

static Branchline__V1__UnitList unit_list(Branchline__V1__Unit *units, Branchline__V1__Unit **ptrs,
                                          size_t n)
{
    Branchline__V1__UnitList list = BRANCHLINE__V1__UNIT_LIST__INIT;
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &units[i];
    list.n_items = n;
    list.items = ptrs;
    return list;
}

static const output_opts_t TABLE = {OUTPUT_TABLE, NULL, false};
static const output_opts_t JSON = {OUTPUT_JSON, NULL, false};

/* ---- display width ---- */

static void test_text_width(void **state)
{
    (void)state;
    assert_int_equal(text_width(""), 0);
    assert_int_equal(text_width("pudong"), 6);
    assert_int_equal(text_width("上海"), 4);                /* CJK ideographs: 2 each */
    assert_int_equal(text_width("Acme 集团"), 9);
    assert_int_equal(text_width("ｶﾀｶﾅ"), 4);                /* halfwidth katakana: 1 each */
    assert_int_equal(text_width("ＡＢ"), 4);                /* fullwidth forms: 2 each */
    assert_int_equal(text_width("서울"), 4);                /* Hangul */
    assert_int_equal(text_width("e\xcc\x81"), 1);           /* e + combining acute */
    assert_int_equal(text_width("caf\xc3\xa9"), 4);         /* precomposed é */
    assert_int_equal(text_width("a\x1b[2Jb"), 6);           /* ESC prints as '?' */
    assert_int_equal(text_width("\xff\xfe"), 2);            /* invalid bytes: '?' each */
    assert_int_equal(text_width("\xe4\xb8"), 2);            /* truncated sequence */
    assert_int_equal(text_width("\xc0\xaf"), 2);            /* overlong '/' */
    assert_int_equal(text_width("\xf0\x9f\x98\x80"), 2);    /* emoji */
}

/* ---- tables ---- */

static void test_table_aligns_cjk(void **state)
{
    (void)state;
    Branchline__V1__Unit units[] = {
        unit("east", "east", "华东区", "region", "active", "/", 1),
        unit("east/pudong", "pudong", "上海浦东新区", "branch", "paused", "east", 2),
        unit("x", "x", "Xi'an", "city", "", "/", 1),
    };
    Branchline__V1__Unit *ptrs[COUNT(units)];
    Branchline__V1__UnitList list = unit_list(units, ptrs, COUNT(units));
    output_opts_t o = {OUTPUT_TABLE, "code,NAME,kind,status", false};
    capture_t c;
    assert_int_equal(output_result(capture_open(&c), &o, &list.base), 0);
    capture_expect(&c,
                   "CODE    NAME          KIND    STATUS\n"
                   "east    华东区        region  active\n"
                   "pudong  上海浦东新区  branch  paused\n"
                   "x       Xi'an         city    -\n");
    o.no_headers = true;
    o.columns = "name,code";
    assert_int_equal(output_result(capture_open(&c), &o, &list.base), 0);
    capture_expect(&c,
                   "华东区        east\n"
                   "上海浦东新区  pudong\n"
                   "Xi'an         x\n");
}

static void test_table_every_field_and_empty_list(void **state)
{
    (void)state;
    Branchline__V1__Project p = BRANCHLINE__V1__PROJECT__INIT;
    Branchline__V1__Project *items[] = {&p};
    Branchline__V1__ProjectList list = BRANCHLINE__V1__PROJECT_LIST__INIT;
    capture_t c;
    assert_int_equal(output_result(capture_open(&c), &TABLE, &list.base), 0);
    capture_expect(&c, "ID  CODE  NAME  BRANCHES\n");
    p.id = 12;
    p.code = "loans";
    p.name = "个人贷款\t";  /* a tab from the server prints as '?' */
    p.branches = 3;
    list.n_items = 1;
    list.items = items;
    assert_int_equal(output_result(capture_open(&c), &TABLE, &list.base), 0);
    capture_expect(&c,
                   "ID  CODE   NAME       BRANCHES\n"
                   "12  loans  个人贷款?  3\n");
}

static void test_columns_checked(void **state)
{
    (void)state;
    char err[512];
    output_opts_t o = {OUTPUT_TABLE, "branch_path,SALES", false};
    assert_int_equal(output_check_columns(&o, &branchline__v1__serving_list__descriptor, err,
                                          sizeof err), 0);
    o.columns = "branch_path,nope";
    assert_int_equal(output_check_columns(&o, &branchline__v1__serving_list__descriptor, err,
                                          sizeof err), -1);
    assert_non_null(strstr(err, "unknown column 'nope'"));
    assert_non_null(strstr(err, "customer_service"));
    o.columns = "";
    assert_int_equal(output_check_columns(&o, &branchline__v1__unit__descriptor, err,
                                          sizeof err), -1);
    o.columns = "path,";
    assert_int_equal(output_check_columns(&o, &branchline__v1__unit__descriptor, err,
                                          sizeof err), -1);
}

static Branchline__V1__Principal principal(void)
{
    Branchline__V1__Principal p = BRANCHLINE__V1__PRINCIPAL__INIT;
    p.id = 9007199254740993;  /* 2^53 + 1: must not pass through a double */
    p.subject = "CN=王芳";
    p.role = "branch";
    p.scope_path = "east/pudong";
    p.enabled = 0;
    p.tenant_code = "acme";
    return p;
}

static void test_single_object(void **state)
{
    (void)state;
    Branchline__V1__Principal p = principal();
    capture_t c;
    assert_int_equal(output_result(capture_open(&c), &TABLE, &p.base), 0);
    capture_expect(&c,
                   "id           9007199254740993\n"
                   "subject      CN=王芳\n"
                   "role         branch\n"
                   "scope_path   east/pudong\n"
                   "enabled      false\n"
                   "tenant_code  acme\n"
                   "created_at   -\n");
    output_opts_t o = {OUTPUT_TABLE, "enabled,subject", false};
    assert_int_equal(output_result(capture_open(&c), &o, &p.base), 0);
    capture_expect(&c, "enabled  false\nsubject  CN=王芳\n");
    assert_int_equal(output_result(capture_open(&c), &JSON, &p.base), 0);
    capture_expect(&c, "{\"id\":9007199254740993,\"subject\":\"CN=王芳\",\"role\":\"branch\","
                       "\"scope_path\":\"east/pudong\",\"enabled\":false,\"tenant_code\":\"acme\","
                       "\"created_at\":\"\"}\n");
}

static void test_list_json(void **state)
{
    (void)state;
    Branchline__V1__Project a = BRANCHLINE__V1__PROJECT__INIT, b = a;
    Branchline__V1__Project *items[] = {&a, &b};
    Branchline__V1__ProjectList list = BRANCHLINE__V1__PROJECT_LIST__INIT;
    a.id = 1;
    a.code = "loans";
    a.name = "个人贷款";
    a.branches = 2;
    b.id = 2;
    b.code = "bad";
    b.name = "\xff";  /* not UTF-8: still valid JSON */
    list.n_items = 2;
    list.items = items;
    output_opts_t o = {OUTPUT_JSON, "code", true};  /* --columns does not apply to JSON */
    capture_t c;
    assert_int_equal(output_result(capture_open(&c), &o, &list.base), 0);
    capture_expect(&c, "[{\"id\":1,\"code\":\"loans\",\"name\":\"个人贷款\",\"branches\":2},"
                       "{\"id\":2,\"code\":\"bad\",\"name\":\"?\",\"branches\":0}]\n");
    list.n_items = 0;
    assert_int_equal(output_result(capture_open(&c), &JSON, &list.base), 0);
    capture_expect(&c, "[]\n");
}

/* ---- unit tree ---- */

static Branchline__V1__Unit TREE_UNITS[] = {
    {PROTOBUF_C_MESSAGE_INIT(&branchline__v1__unit__descriptor), 1, "/", "acme", "Acme 集团",
     "group", "active", "", "", 0, 2},
    {PROTOBUF_C_MESSAGE_INIT(&branchline__v1__unit__descriptor), 2, "east", "east", "华东",
     "region", "active", "", "/", 1, 1},
    {PROTOBUF_C_MESSAGE_INIT(&branchline__v1__unit__descriptor), 3, "east/shanghai", "shanghai",
     "上海", "city", "active", "", "east", 2, 1},
    {PROTOBUF_C_MESSAGE_INIT(&branchline__v1__unit__descriptor), 4, "/east/shanghai/pudong/",
     "pudong", "浦东", "branch", "paused", "", "/east/shanghai/", 3, 0},
    {PROTOBUF_C_MESSAGE_INIT(&branchline__v1__unit__descriptor), 5, "north", "north", "North",
     "region", "active", "", "", 1, 0},
};

static void test_tree_table(void **state)
{
    (void)state;
    Branchline__V1__Unit *ptrs[COUNT(TREE_UNITS)];
    Branchline__V1__UnitList list = unit_list(TREE_UNITS, ptrs, COUNT(TREE_UNITS));
    json_t *roots = tree_build(&list);
    assert_non_null(roots);
    capture_t c;
    assert_int_equal(output_tree(capture_open(&c), &TABLE, roots), 0);
    capture_expect(&c,
                   "CODE          NAME       KIND    STATUS\n"
                   "acme          Acme 集团  group   active\n"
                   "  east        华东       region  active\n"
                   "    shanghai  上海       city    active\n"
                   "      pudong  浦东       branch  paused\n"
                   "  north       North      region  active\n");
    output_opts_t o = {OUTPUT_TABLE, "name,id", true};
    assert_int_equal(output_tree(capture_open(&c), &o, roots), 0);
    capture_expect(&c,
                   "Acme 集团   1\n"
                   "  华东      2\n"
                   "    上海    3\n"
                   "      浦东  4\n"
                   "  North     5\n");
    json_decref(roots);
}

static void test_tree_json(void **state)
{
    (void)state;
    Branchline__V1__Unit *ptrs[COUNT(TREE_UNITS)];
    Branchline__V1__UnitList list = unit_list(TREE_UNITS, ptrs, COUNT(TREE_UNITS));
    json_t *roots = tree_build(&list);
    capture_t c;
    assert_int_equal(output_tree(capture_open(&c), &JSON, roots), 0);
    assert_int_equal(fclose(c.f), 0);
    json_decref(roots);

    json_error_t error;
    json_t *doc = json_loads(c.text, 0, &error);
    free(c.text);
    assert_non_null(doc);
    assert_int_equal(json_array_size(doc), 1);
    json_t *group = json_array_get(doc, 0);
    assert_string_equal(json_string_value(json_object_get(group, "name")), "Acme 集团");
    json_t *kids = json_object_get(group, "children");
    assert_int_equal(json_array_size(kids), 2);
    json_t *east = json_array_get(kids, 0);
    json_t *shanghai = json_array_get(json_object_get(east, "children"), 0);
    json_t *pudong = json_array_get(json_object_get(shanghai, "children"), 0);
    assert_string_equal(json_string_value(json_object_get(pudong, "code")), "pudong");
    assert_int_equal(json_array_size(json_object_get(pudong, "children")), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 1), "code")),
                        "north");
    json_decref(doc);
}

/* Without PATH itself in the answer its children are the roots; a unit listed
 * before its parent cannot be linked under it, so no answer makes a cycle. */
static void test_tree_roots(void **state)
{
    (void)state;
    Branchline__V1__Unit units[] = {
        unit("a/b", "b", "B", "city", "active", "a/c", 2),
        unit("a/c", "c", "C", "city", "active", "a/b", 2),
        unit("a/c/d", "d", "D", "branch", "active", "a/c", 3),
    };
    Branchline__V1__Unit *ptrs[COUNT(units)];
    Branchline__V1__UnitList list = unit_list(units, ptrs, COUNT(units));
    json_t *roots = tree_build(&list);
    assert_non_null(roots);
    assert_int_equal(json_array_size(roots), 1);
    json_t *b = json_array_get(roots, 0);
    json_t *c = json_array_get(json_object_get(b, "children"), 0);
    json_t *d = json_array_get(json_object_get(c, "children"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "code")), "c");
    assert_string_equal(json_string_value(json_object_get(d, "code")), "d");
    assert_int_equal(json_array_size(json_object_get(d, "children")), 0);
    json_decref(roots);
}

/* ---- reorg plan ---- */

static void test_reorg_plan_output(void **state)
{
    (void)state;
    Branchline__V1__ReorgPlan plan = BRANCHLINE__V1__REORG_PLAN__INIT;
    plan.version = 7;
    plan.plan_json = "{\"version\":7,\"open\":[{\"unit\":\"/\",\"function\":\"sales\"}]}";
    plan.summary = "open 1 department\n\x1b[31mclose 0\n";
    capture_t c;
    assert_int_equal(output_reorg_plan(capture_open(&c), &JSON, &plan), 0);
    capture_expect(&c, "{\"version\":7,\"open\":[{\"unit\":\"/\",\"function\":\"sales\"}]}\n");
    assert_int_equal(output_reorg_plan(capture_open(&c), &TABLE, &plan), 0);
    capture_expect(&c, "open 1 department\n?[31mclose 0\n");
}

/* ---- streamed rows (lead watch) ---- */

static Branchline__V1__Lead lead(int64_t id, const char *project, const char *status,
                                 const char *branch)
{
    Branchline__V1__Lead l = BRANCHLINE__V1__LEAD__INIT;
    l.id = id;
    l.project = (char *)project;
    l.status = (char *)status;
    l.branch_path = (char *)branch;
    return l;
}

static void test_stream_rows(void **state)
{
    (void)state;
    capture_t c;
    Branchline__V1__Lead a = lead(7, "loans", "allocated", "east/pudong");
    Branchline__V1__Lead b = lead(1042, "贷款", "waiting", "");
    output_opts_t table = {OUTPUT_TABLE, "id,project,status,branch_path", false};
    output_stream_t *st = output_stream_new(&table, &branchline__v1__lead__descriptor);
    assert_non_null(st);
    FILE *out = capture_open(&c);
    assert_int_equal(output_stream_row(out, st, &a.base), 0);
    assert_int_equal(output_stream_row(out, st, &b.base), 0);
    output_stream_free(st);
    /* The header comes with the first row; a wider value widens its column from then on. */
    capture_expect(&c, "ID  PROJECT  STATUS     BRANCH_PATH\n"
                       "7   loans    allocated  east/pudong\n"
                       "1042  贷款     waiting    -\n");

    output_opts_t bare = {OUTPUT_TABLE, "id,status", true};
    st = output_stream_new(&bare, &branchline__v1__lead__descriptor);
    out = capture_open(&c);
    assert_int_equal(output_stream_row(out, st, &a.base), 0);
    output_stream_free(st);
    capture_expect(&c, "7  allocated\n");

    st = output_stream_new(&JSON, &branchline__v1__lead__descriptor);
    out = capture_open(&c);
    assert_int_equal(output_stream_row(out, st, &a.base), 0);
    assert_int_equal(output_stream_row(out, st, &b.base), 0);
    output_stream_free(st);
    assert_int_equal(fclose(c.f), 0);
    /* JSON Lines: one whole object per line. */
    char *second = strchr(c.text, '\n');
    assert_non_null(second);
    static const char first[] = "{\"id\":7,\"external_id\":\"\",\"project\":\"loans\",";
    assert_memory_equal(c.text, first, sizeof first - 1);
    assert_memory_equal(second + 1, "{\"id\":1042,", 11);
    assert_string_equal(strchr(second + 1, '\n'), "\n");
    free(c.text);
    output_stream_free(NULL);
}

static void test_usage_line(void **state)
{
    (void)state;
    char usage[256];
    int used;
    char *words[] = {"reorg", "apply"};
    command_usage(commands_find(2, words, &used), usage, sizeof usage);
    assert_string_equal(usage, "branchctl reorg apply (PLANFILE | --centralize FUNCS | "
                               "--decentralize FUNCS) [--yes] [--at PATH] [--to KIND]");
    char *add[] = {"unit", "add"};
    command_usage(commands_find(2, add, &used), usage, sizeof usage);
    assert_string_equal(usage, "branchctl unit add PATH --kind KIND --name NAME [--opened DATE]");
}

/* branchctl help lists the lead commands under their own heading, and lead
 * import documents its exit codes. */
static void test_help(void **state)
{
    (void)state;
    capture_t c;
    help_global(capture_open(&c));
    assert_int_equal(fclose(c.f), 0);
    const char *leads = strstr(c.text, "\nLeads:\n");
    assert_non_null(leads);
    for (const command_t *cmd = LEAD_COMMANDS; cmd->words[0]; cmd++) {
        char name[64];
        commands_join(command_word_count(cmd), cmd->words, name, sizeof name);
        const char *at = strstr(leads, name);
        if (!at)
            fail_msg("help lists no %s under Leads", name);
        assert_non_null(strstr(at, cmd->summary));
    }
    free(c.text);

    int used;
    char *words[] = {"lead", "import"};
    help_command(capture_open(&c), commands_find(2, words, &used));
    assert_int_equal(fclose(c.f), 0);
    assert_non_null(strstr(c.text, "usage: branchctl lead import FILE\n"));
    assert_non_null(strstr(c.text, "4 when some\nrows were rejected"));
    assert_non_null(strstr(c.text, "Example:\n  branchctl lead import leads.csv\n"));
    free(c.text);
}

/* ---- colour ---- */

static Branchline__V1__OrgChange change(const char *action, const char *kind, const char *key,
                                        const char *detail)
{
    Branchline__V1__OrgChange ch = BRANCHLINE__V1__ORG_CHANGE__INIT;
    ch.action = (char *)action;
    ch.kind = (char *)kind;
    ch.key = (char *)key;
    ch.detail = (char *)detail;
    return ch;
}

/* --color always: bold headers, actions coloured with their marks, and the
 * columns aligned on the visible text (CJK included). */
static void test_colour_aligned(void **state)
{
    (void)state;
    Branchline__V1__OrgChange changes[] = {
        change("created", "unit", "east/上海", "city 上海"),
        change("left_alone", "unit", "north", "not in the document"),
        change("deleted", "department", "east:sales", "-"),
        change("changed", "unit", "west", "name a -> b"),
    };
    Branchline__V1__OrgChange *ptrs[COUNT(changes)];
    for (size_t i = 0; i < COUNT(changes); i++)
        ptrs[i] = &changes[i];
    Branchline__V1__OrgApplyResult res = BRANCHLINE__V1__ORG_APPLY_RESULT__INIT;
    res.items = ptrs;
    res.n_items = COUNT(ptrs);
    output_opts_t o = {OUTPUT_TABLE, "action,key,kind", false, OUTPUT_COLOUR_ALWAYS};
    capture_t c;
    assert_int_equal(output_result(capture_open(&c), &o, &res.base), 0);
    capture_expect(&c,
                   "\033[1mACTION\033[0m        \033[1mKEY\033[0m         \033[1mKIND\033[0m\n"
                   "\033[32m+ created\033[0m     east/上海   unit\n"
                   "  left_alone  north       unit\n"
                   "\033[31m- deleted\033[0m     east:sales  department\n"
                   "\033[33m~ changed\033[0m     west        unit\n");
    /* never, and auto on a stream that is not a terminal: the plain table */
    static const char plain[] =
        "ACTION      KEY         KIND\n"
        "created     east/上海   unit\n"
        "left_alone  north       unit\n"
        "deleted     east:sales  department\n"
        "changed     west        unit\n";
    o.colour = OUTPUT_COLOUR_NEVER;
    assert_int_equal(output_result(capture_open(&c), &o, &res.base), 0);
    capture_expect(&c, plain);
    o.colour = OUTPUT_COLOUR_AUTO;
    assert_int_equal(output_result(capture_open(&c), &o, &res.base), 0);
    capture_expect(&c, plain);
}

/* Lead statuses in a table, a single object and a stream; NO_COLOR, never
 * and the formats other than table print no escape at all. */
static void test_colour_statuses(void **state)
{
    (void)state;
    Branchline__V1__Lead leads[4];
    Branchline__V1__Lead *ptrs[4];
    static const char *const statuses[] = {"won", "lost", "waiting", "contacted"};
    for (size_t i = 0; i < 4; i++) {
        branchline__v1__lead__init(&leads[i]);
        leads[i].id = (int64_t)i + 1;
        leads[i].status = (char *)statuses[i];
        ptrs[i] = &leads[i];
    }
    Branchline__V1__LeadList list = BRANCHLINE__V1__LEAD_LIST__INIT;
    list.items = ptrs;
    list.n_items = 4;
    output_opts_t o = {OUTPUT_TABLE, "id,status", true, OUTPUT_COLOUR_ALWAYS};
    capture_t c;
    assert_int_equal(output_result(capture_open(&c), &o, &list.base), 0);
    capture_expect(&c,
                   "1  \033[32mwon\033[0m\n"
                   "2  \033[31mlost\033[0m\n"
                   "3  \033[33mwaiting\033[0m\n"
                   "4  contacted\n");
    o.columns = "status";
    assert_int_equal(output_result(capture_open(&c), &o, &leads[1].base), 0);
    capture_expect(&c, "status  \033[31mlost\033[0m\n");
    output_stream_t *st = output_stream_new(&o, &branchline__v1__lead__descriptor);
    assert_non_null(st);
    assert_int_equal(output_stream_row(capture_open(&c), st, &leads[2].base), 0);
    capture_expect(&c, "\033[33mwaiting\033[0m\n");
    output_stream_free(st);

    setenv("NO_COLOR", "1", 1);
    assert_false(output_colour_on(&(output_opts_t){OUTPUT_TABLE, NULL, false, OUTPUT_COLOUR_AUTO}, stdout));
    assert_true(output_colour_on(&(output_opts_t){OUTPUT_TABLE, NULL, false, OUTPUT_COLOUR_ALWAYS}, stdout));
    unsetenv("NO_COLOR");
    output_format_t formats[] = {OUTPUT_JSON, OUTPUT_YAML, OUTPUT_CSV};
    for (size_t f = 0; f < COUNT(formats); f++) {
        output_opts_t other = {formats[f], NULL, false, OUTPUT_COLOUR_ALWAYS};
        assert_false(output_colour_on(&other, stdout));
        assert_int_equal(output_result(capture_open(&c), &other, &list.base), 0);
        assert_int_equal(fclose(c.f), 0);
        assert_null(strchr(c.text, '\033'));
        free(c.text);
    }
    o.colour = OUTPUT_COLOUR_NEVER;
    assert_false(output_colour_on(&o, stdout));
}

static void test_colour_parse(void **state)
{
    (void)state;
    output_colour_t colour;
    assert_int_equal(output_colour_parse(NULL, &colour), 0);
    assert_int_equal(colour, OUTPUT_COLOUR_AUTO);
    assert_int_equal(output_colour_parse("always", &colour), 0);
    assert_int_equal(colour, OUTPUT_COLOUR_ALWAYS);
    assert_int_equal(output_colour_parse("never", &colour), 0);
    assert_int_equal(colour, OUTPUT_COLOUR_NEVER);
    assert_int_equal(output_colour_parse("yes", &colour), -1);
}

/* ---- yaml and csv ---- */

static void test_yaml_reads_scalars_by_the_core_schema(void **state)
{
    (void)state;
    static const char text[] =
        "version: 1\n"
        "units:\n"
        "- path: east\n"
        "  opened_on: 2026-11-22\n"
        "  name: '123'\n"
        "  code: yes\n"
        "  cap: {per_day: 40, per_week: ~}\n"
        "  ratio: 0.5\n"
        "  ok: true\n";
    char err[256];
    json_t *lines = NULL;
    json_t *v = yamlconv_parse(text, sizeof text - 1, &lines, err, sizeof err);
    assert_non_null(v);
    char *dumped = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(dumped, "{\"version\":1,\"units\":[{\"path\":\"east\",\"opened_on\":\"2026-11-22\","
                                "\"name\":\"123\",\"code\":\"yes\",\"cap\":{\"per_day\":40,\"per_week\":null},"
                                "\"ratio\":0.5,\"ok\":true}]}");
    free(dumped);
    assert_int_equal(json_integer_value(json_object_get(lines, "units[0].cap.per_day")), 7);
    assert_int_equal(json_integer_value(json_object_get(lines, "units[0]")), 3);
    json_decref(v);
    json_decref(lines);
}

static void test_yaml_refuses_with_the_line(void **state)
{
    (void)state;
    char err[256];
    static const char dup[] = "a: 1\nb: 2\na: 3\n";
    assert_null(yamlconv_parse(dup, sizeof dup - 1, NULL, err, sizeof err));
    assert_string_equal(err, "line 3: duplicate key 'a'");
    static const char broken[] = "a: [1, 2\n";
    assert_null(yamlconv_parse(broken, sizeof broken - 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "line 2"));
    static const char loop[] = "a: &x [*x]\n";
    json_t *v = yamlconv_parse(loop, sizeof loop - 1, NULL, err, sizeof err);
    if (v)  /* libyaml may refuse a recursive alias itself */
        fail_msg("a recursive alias was read");
}

static void test_yaml_writes_what_yaml_11_readers_read_back(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:[], s:b, s:s}", "path", "east/上海", "date",
                          "2026-11-22", "word", "yes", "number", "1.5", "empty", "", "n", 3, "real", 2.0,
                          "list", "flag", 1, "colon", "a: b");
    capture_t c;
    assert_int_equal(yamlconv_emit(capture_open(&c), v), 0);
    capture_expect(&c,
                   "path: east/上海\n"
                   "date: '2026-11-22'\n"
                   "word: 'yes'\n"
                   "number: '1.5'\n"
                   "empty: ''\n"
                   "'n': 3\n"  /* YAML 1.1 reads a bare n as false */
                   "real: 2.0\n"
                   "list: []\n"
                   "flag: true\n"
                   "colon: 'a: b'\n");
    json_decref(v);
}

static void test_csv_output(void **state)
{
    (void)state;
    Branchline__V1__Project a = BRANCHLINE__V1__PROJECT__INIT, b = BRANCHLINE__V1__PROJECT__INIT;
    Branchline__V1__Project *items[] = {&a, &b};
    Branchline__V1__ProjectList list = BRANCHLINE__V1__PROJECT_LIST__INIT;
    a.id = 1;
    a.code = "loans";
    a.name = "个人贷款, \"VIP\"";
    b.id = 2;
    b.code = "two\nlines";
    b.name = "";
    list.n_items = 2;
    list.items = items;
    output_opts_t csv = {OUTPUT_CSV, NULL, false};
    capture_t c;
    assert_int_equal(output_result(capture_open(&c), &csv, &list.base), 0);
    capture_expect(&c,
                   "id,code,name,branches\r\n"
                   "1,loans,\"个人贷款, \"\"VIP\"\"\",0\r\n"
                   "2,\"two\nlines\",,0\r\n");
    output_opts_t picked = {OUTPUT_CSV, "name,id", true};
    assert_int_equal(output_result(capture_open(&c), &picked, &a.base), 0);
    capture_expect(&c, "\"个人贷款, \"\"VIP\"\"\",1\r\n");
    output_opts_t yaml = {OUTPUT_YAML, NULL, false};
    assert_int_equal(output_result(capture_open(&c), &yaml, &list.base), 0);
    capture_expect(&c,
                   "- id: 1\n"
                   "  code: loans\n"
                   "  name: 个人贷款, \"VIP\"\n"
                   "  branches: 0\n"
                   "- id: 2\n"
                   "  code: 'two\n\n    lines'\n"
                   "  name: ''\n"
                   "  branches: 0\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_width),
        cmocka_unit_test(test_table_aligns_cjk),
        cmocka_unit_test(test_table_every_field_and_empty_list),
        cmocka_unit_test(test_columns_checked),
        cmocka_unit_test(test_single_object),
        cmocka_unit_test(test_list_json),
        cmocka_unit_test(test_tree_table),
        cmocka_unit_test(test_tree_json),
        cmocka_unit_test(test_tree_roots),
        cmocka_unit_test(test_reorg_plan_output),
        cmocka_unit_test(test_stream_rows),
        cmocka_unit_test(test_yaml_reads_scalars_by_the_core_schema),
        cmocka_unit_test(test_yaml_refuses_with_the_line),
        cmocka_unit_test(test_yaml_writes_what_yaml_11_readers_read_back),
        cmocka_unit_test(test_csv_output),
        cmocka_unit_test(test_usage_line),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_colour_aligned),
        cmocka_unit_test(test_colour_statuses),
        cmocka_unit_test(test_colour_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
