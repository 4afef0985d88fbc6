/*
 * The organization commands: one row each. A row names the Request op it
 * sends and maps its positionals and flags to that message's fields (see
 * commands.h); the daemon answers with the message of the same name in
 * Response, which output.c prints through its descriptor. Vocabularies in
 * the help texts are the daemon's (sql/003_organization.sql); the daemon
 * validates them and names the field it refuses.
 */
#include <jansson.h>

#include "commands.h"
#include "org_call.h"
#include "output.h"
#include "pbjson.h"
#include "tree.h"

#define KINDS "group, region, product_line, city or branch"
#define FUNCTIONS "promotion, customer_service, sales or support"
#define STAFF_ROLES "manager, supervisor, planner, technician, content_creator, promoter, " \
                    "consultant, salesperson or editor"

/* reorg plan's target, also accepted by reorg apply --yes. */
#define REORG_TARGET                                                                      \
    {"--centralize", "FUNCS", "functions", "mode=centralize", PARAM_ONE_OF,              \
     "comma-separated functions to serve from one unit (--at)"},                          \
    FLAG("--at", "PATH", "at", "with --centralize: that unit (default: the group)"),      \
    {"--decentralize", "FUNCS", "functions", "mode=decentralize", PARAM_ONE_OF,          \
     "comma-separated functions to serve from every unit of one kind (--to)"},            \
    FLAG("--to", "KIND", "to_kind", "with --decentralize: that kind, e.g. region")

const command_t ORG_COMMANDS[] = {
    /* ---- tenants and principals ---- */
    {
        .words = {"tenant", "create"}, .run = cmd_org, .op = "tenant_create",
        .summary = "Create a tenant with its group and first admin (operators)",
        .params = {
            ARG("CODE", "code", "lower-case slug naming the tenant"),
            FLAG_REQ("--name", "NAME", "name", "the company's name"),
            FLAG_REQ("--admin-subject", "SUBJECT", "admin_subject",
                     "certificate subject of the first admin, e.g. CN=alice"),
            FLAG("--timezone", "TZ", "timezone", "IANA time zone for daily and weekly periods "
                 "(default UTC)"),
        },
        .example = "branchctl tenant create acme --name 'Acme 集团' --admin-subject CN=alice "
                   "--timezone Asia/Shanghai",
    },
    {
        .words = {"tenant", "list"}, .run = cmd_org, .op = "tenant_list",
        .summary = "List the tenants (operators)",
        .example = "branchctl tenant list -o json",
    },
    {
        .words = {"principal", "add"}, .run = cmd_org, .op = "principal_add",
        .summary = "Allow a certificate subject to call the daemon, with a role",
        .params = {
            FLAG_REQ("--subject", "SUBJECT", "subject", "certificate subject, e.g. CN=bob"),
            FLAG_REQ("--role", "ROLE", "role", "admin, unit_admin, branch or viewer"),
            FLAG("--scope", "PATH", "scope_path", "the unit a unit_admin, branch or viewer "
                 "is limited to"),
        },
        .example = "branchctl principal add --subject CN=bob --role branch --scope east/shanghai/pudong",
    },
    {
        .words = {"principal", "list"}, .run = cmd_org, .op = "principal_list",
        .summary = "List the principals of your tenant",
        .example = "branchctl principal list --columns subject,role,scope_path,enabled",
    },
    {
        .words = {"principal", "disable"}, .run = cmd_org, .op = "principal_set_enabled",
        .summary = "Refuse a principal from its next request on",
        .params = {ARG("SUBJECT", "subject", "certificate subject, e.g. CN=bob")},
        .consts = {"enabled=false"},
        .example = "branchctl principal disable CN=bob",
    },
    {
        .words = {"principal", "enable"}, .run = cmd_org, .op = "principal_set_enabled",
        .summary = "Allow a disabled principal again",
        .params = {ARG("SUBJECT", "subject", "certificate subject, e.g. CN=bob")},
        .consts = {"enabled=true"},
        .example = "branchctl principal enable CN=bob",
    },
    {
        .words = {"whoami"}, .run = cmd_org, .op = "whoami",
        .summary = "Show the principal your certificate maps to",
        .example = "branchctl whoami",
    },

    /* ---- the hierarchy ---- */
    {
        .words = {"unit", "add"}, .run = cmd_org, .op = "unit_add",
        .summary = "Add a unit under an existing one",
        .params = {
            ARG("PATH", "path", "the new unit's path: its parent's path, '/', its code"),
            FLAG_REQ("--kind", "KIND", "kind", KINDS),
            FLAG_REQ("--name", "NAME", "name", "display name, any UTF-8"),
            FLAG("--opened", "DATE", "opened_on", "opening date YYYY-MM-DD (default today)"),
        },
        .example = "branchctl unit add east/shanghai --kind city --name 上海",
    },
    {
        .words = {"unit", "rename"}, .run = cmd_org, .op = "unit_rename",
        .summary = "Change a unit's display name",
        .params = {
            ARG("PATH", "path", "the unit"),
            FLAG_REQ("--name", "NAME", "name", "new display name"),
        },
        .example = "branchctl unit rename east/shanghai --name '上海分公司'",
    },
    {
        .words = {"unit", "move"}, .run = cmd_org, .op = "unit_move",
        .summary = "Move a unit and its subtree under another parent",
        .params = {
            ARG("PATH", "path", "the unit"),
            FLAG_REQ("--to", "NEWPARENT", "to", "path of the new parent"),
        },
        .example = "branchctl unit move east/hangzhou --to south",
    },
    {
        .words = {"unit", "close"}, .run = cmd_org, .op = "unit_set_status",
        .summary = "Mark a unit closed",
        .params = {ARG("PATH", "path", "the unit")},
        .consts = {"status=closed"},
        .example = "branchctl unit close east/shanghai/pudong",
    },
    {
        .words = {"unit", "pause"}, .run = cmd_org, .op = "unit_set_status",
        .summary = "Mark a unit paused",
        .params = {ARG("PATH", "path", "the unit")},
        .consts = {"status=paused"},
        .example = "branchctl unit pause east/shanghai/pudong",
    },
    {
        .words = {"unit", "activate"}, .run = cmd_org, .op = "unit_set_status",
        .summary = "Mark a paused or closed unit active again",
        .params = {ARG("PATH", "path", "the unit")},
        .consts = {"status=active"},
        .example = "branchctl unit activate east/shanghai/pudong",
    },
    {
        .words = {"unit", "delete"}, .run = cmd_org, .op = "unit_delete",
        .summary = "Delete a unit that has no children, departments, staff or leads",
        .params = {ARG("PATH", "path", "the unit")},
        .example = "branchctl unit delete east/shanghai/pudong",
    },
    {
        .words = {"unit", "show"}, .run = cmd_org, .op = "unit_show",
        .summary = "Show one unit",
        .params = {ARG("PATH", "path", "the unit; / is the group")},
        .example = "branchctl unit show east/shanghai",
    },
    {
        .words = {"unit", "tree"}, .run = cmd_unit_tree, .op = "unit_list",
        .summary = "Show the hierarchy as an indented tree",
        .params = {
            ARG_OPT("PATH", "under", "root of the tree (default: the group)"),
            FLAG("--depth", "N", "depth", "levels below PATH to show (default: all)"),
        },
        .example = "branchctl unit tree east --depth 2",
    },
    {
        .words = {"unit", "list"}, .run = cmd_org, .op = "unit_list",
        .summary = "List units, by kind and subtree",
        .params = {
            FLAG("--kind", "KIND", "kind", KINDS),
            FLAG("--under", "PATH", "under", "only this unit's subtree"),
            FLAG("--depth", "N", "depth", "levels below --under (default: all)"),
        },
        .example = "branchctl unit list --kind branch --under east",
    },

    /* ---- departments ---- */
    {
        .words = {"dept", "add"}, .run = cmd_org, .op = "dept_add",
        .summary = "Host a function's department at a unit",
        .params = {
            ARG("PATH", "path", "the unit hosting it"),
            ARG("FUNCTION", "function", FUNCTIONS),
            FLAG("--name", "NAME", "name", "display name (default from the unit and function)"),
        },
        .example = "branchctl dept add east customer_service --name '华东客服中心'",
    },
    {
        .words = {"dept", "remove"}, .run = cmd_org, .op = "dept_remove",
        .summary = "Remove a department that has no active staff",
        .params = {
            ARG("PATH", "path", "the unit hosting it"),
            ARG("FUNCTION", "function", FUNCTIONS),
        },
        .example = "branchctl dept remove east customer_service",
    },
    {
        .words = {"dept", "list"}, .run = cmd_org, .op = "dept_list",
        .summary = "List departments with their staff and planned headcount",
        .params = {FLAG("--under", "PATH", "under", "only departments in this subtree")},
        .example = "branchctl dept list --under east",
    },
    {
        .words = {"serving"}, .run = cmd_org, .op = "serving",
        .summary = "Show the unit serving each branch for each function",
        .params = {ARG_OPT("PATH", "path", "only branches under this unit")},
        .example = "branchctl serving east",
    },
    {
        .words = {"shape"}, .run = cmd_org, .op = "shape",
        .summary = "Classify the organization's shape, with the reasons",
        .params = {ARG_OPT("PATH", "path", "classify this subtree only")},
        .example = "branchctl shape",
    },
    {
        .words = {"support", "assign"}, .run = cmd_org, .op = "support_assign",
        .summary = "Have the group support unit help a new or weak branch",
        .params = {
            ARG("BRANCH", "branch", "path of the branch"),
            FLAG_REQ("--reason", "TEXT", "reason", "why it needs support"),
            FLAG("--until", "DATE", "until", "last day YYYY-MM-DD (default: until ended)"),
        },
        .example = "branchctl support assign east/shanghai/pudong --reason 'new branch' --until 2027-03-31",
    },
    {
        .words = {"support", "list"}, .run = cmd_org, .op = "support_list",
        .summary = "List support assignments",
        .example = "branchctl support list",
    },
    {
        .words = {"support", "end"}, .run = cmd_org, .op = "support_end",
        .summary = "End a branch's support assignment",
        .params = {ARG("BRANCH", "branch", "path of the branch")},
        .example = "branchctl support end east/shanghai/pudong",
    },

    /* ---- staffing ---- */
    {
        .words = {"position", "set"}, .run = cmd_org, .op = "position_set",
        .summary = "Set the planned headcount of a role in a department",
        .params = {
            ARG("PATH", "path", "the unit hosting the department"),
            ARG("FUNCTION", "function", FUNCTIONS),
            ARG("ROLE", "role", STAFF_ROLES),
            FLAG_REQ("--planned", "N", "planned", "planned headcount"),
        },
        .example = "branchctl position set east promotion promoter --planned 3",
    },
    {
        .words = {"position", "list"}, .run = cmd_org, .op = "position_list",
        .summary = "List the planned headcount and the active staff of each role, by department",
        .params = {
            FLAG("--under", "PATH", "under", "only departments in this subtree (default: your "
                 "scope)"),
            FLAG("--function", "FUNCTION", "function", FUNCTIONS),
        },
        .example = "branchctl position list --under east --function promotion",
        .columns = "dept_path,function,role,planned,actual",
    },
    {
        .words = {"staff", "add"}, .run = cmd_org, .op = "staff_add",
        .summary = "Add a person to a department",
        .params = {
            ARG("NAME", "name", "the person's name"),
            FLAG_REQ("--role", "ROLE", "role", STAFF_ROLES),
            FLAG_REQ("--dept", "PATH", "path", "the unit hosting the department"),
            FLAG_REQ("--function", "FUNCTION", "function", "the department's function"),
            FLAG("--supervisor", "ID", "supervisor_id", "staff id of their supervisor"),
            FLAG("--start", "DATE", "start_date", "first day YYYY-MM-DD (default today)"),
        },
        .example = "branchctl staff add 王芳 --role promoter --dept east --function promotion --supervisor 12",
    },
    {
        .words = {"staff", "move"}, .run = cmd_org, .op = "staff_move",
        .summary = "Move a person to another department, keeping their role",
        .params = {
            ARG("ID", "id", "staff id"),
            FLAG_REQ("--dept", "PATH", "path", "the unit hosting the new department"),
            FLAG_REQ("--function", "FUNCTION", "function", "the new department's function"),
            FLAG("--supervisor", "ID", "supervisor_id", "staff id of their new supervisor"),
        },
        .example = "branchctl staff move 42 --dept / --function customer_service",
    },
    {
        .words = {"staff", "leave"}, .run = cmd_org, .op = "staff_leave",
        .summary = "Record that a person left or went on leave",
        .params = {
            ARG("ID", "id", "staff id"),
            FLAG("--status", "STATUS", "status", "left (default) or on_leave"),
        },
        .example = "branchctl staff leave 42 --status on_leave",
    },
    {
        .words = {"staff", "list"}, .run = cmd_org, .op = "staff_list",
        .summary = "List people, by subtree and function",
        .params = {
            FLAG("--under", "PATH", "under", "only departments in this subtree"),
            FLAG("--function", "FUNCTION", "function", FUNCTIONS),
        },
        .example = "branchctl staff list --under east --function sales",
    },
    {
        .words = {"staffing", "check"}, .run = cmd_org, .op = "staffing_check",
        .summary = "Check departments against the staffing rules",
        .params = {ARG_OPT("PATH", "path", "only departments in this subtree")},
        .example = "branchctl staffing check east",
    },

    /* ---- projects ---- */
    {
        .words = {"project", "add"}, .run = cmd_org, .op = "project_add",
        .summary = "Add a project (a product or business line)",
        .params = {
            ARG("CODE", "code", "lower-case slug"),
            FLAG_REQ("--name", "NAME", "name", "display name"),
        },
        .example = "branchctl project add loans --name '个人贷款'",
    },
    {
        .words = {"project", "list"}, .run = cmd_org, .op = "project_list",
        .summary = "List projects and how many branches handle each",
        .example = "branchctl project list",
    },
    {
        .words = {"project", "assign"}, .run = cmd_org, .op = "project_assign",
        .summary = "Let a branch handle a project, with a capacity",
        .params = {
            ARG("BRANCH", "branch", "path of the branch"),
            ARG("PROJECT", "project", "project code"),
            FLAG("--capacity", "N", "capacity", "leads per day it can work "
                 "(default: from its active salespeople)"),
        },
        .example = "branchctl project assign east/shanghai/pudong loans --capacity 40",
    },
    {
        .words = {"project", "unassign"}, .run = cmd_org, .op = "project_unassign",
        .summary = "Stop a branch handling a project",
        .params = {
            ARG("BRANCH", "branch", "path of the branch"),
            ARG("PROJECT", "project", "project code"),
        },
        .example = "branchctl project unassign east/shanghai/pudong loans",
    },

    /* ---- reorganization and audit ---- */
    {
        .words = {"reorg", "plan"}, .run = cmd_reorg_plan, .op = "reorg_plan",
        .summary = "Plan centralizing or decentralizing functions",
        .params = {REORG_TARGET},
        .example = "branchctl reorg plan --centralize promotion,customer_service -o json > plan.json",
    },
    {
        /* The flags build a reorg_plan request; apply then sends the plan's plan_json. */
        .words = {"reorg", "apply"}, .run = cmd_reorg_apply, .op = "reorg_plan",
        .summary = "Apply a plan in one transaction, or plan and apply (--yes)",
        .params = {
            {"PLANFILE", NULL, NULL, NULL, PARAM_ONE_OF, "a plan from reorg plan -o json"},
            SWITCH("--yes", "plan with the flags below and apply at once"),
            REORG_TARGET,
        },
        .example = "branchctl reorg apply plan.json",
    },
    {
        .words = {"audit"}, .run = cmd_audit, .op = "audit_list",
        .summary = "Show the audit trail of changes",
        .params = {
            FLAG("--since", "TIME", "since", "from this time on (ISO-8601, e.g. 2026-11-01T00:00:00Z)"),
            FLAG("--target", "PATH", "target", "changes to this target (a unit: its subtree, "
                 "under its earlier paths too)"),
            FLAG("--principal", "SUBJECT", "principal", "changes made by this subject"),
            FLAG("--limit", "N", "limit", "at most N entries"),
        },
        .example = "branchctl audit --target east --limit 20",
        .details = "With -o json or yaml, each entry's before and after are the objects\n"
                   "themselves (null when there is none); the table shows them as JSON text.\n",
    },
    {{NULL}},
};

static int present_tree(const cli_t *cli, const Branchline__V1__Request *req,
                        const ProtobufCMessage *result)
{
    (void)req;
    json_t *roots = tree_build((const Branchline__V1__UnitList *)result);
    int rc = roots && output_tree(stdout, &cli->out, roots) == 0 ? 0 : org_no_memory(cli);
    json_decref(roots);
    return rc;
}

int cmd_org(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    return org_run(cli, cmd, argc, argv, org_present_result);
}

/* JSON text as the value it encodes; null for "" (no such side). */
static json_t *nested(const json_t *text)
{
    const char *s = json_string_value(text);
    json_t *v = s && s[0] ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

/* In JSON and YAML, an entry's before and after nest as objects. */
static int present_audit(const cli_t *cli, const Branchline__V1__Request *req,
                         const ProtobufCMessage *result)
{
    if (cli->out.format != OUTPUT_JSON && cli->out.format != OUTPUT_YAML)
        return org_present_result(cli, req, result);
    json_t *list = pbjson_message(result);
    json_t *items = list ? json_object_get(list, "items") : NULL;
    size_t i;
    json_t *e;
    int ok = items != NULL;
    json_array_foreach(items, i, e) {
        ok = ok && json_object_set_new(e, "before", nested(json_object_get(e, "before_json"))) == 0 &&
             json_object_set_new(e, "after", nested(json_object_get(e, "after_json"))) == 0 &&
             json_object_del(e, "before_json") == 0 && json_object_del(e, "after_json") == 0;
    }
    static const char *const no_columns[] = {NULL};
    int rc = ok && output_list(stdout, &cli->out, items, no_columns) == 0 ? 0 : org_no_memory(cli);
    json_decref(list);
    return rc;
}

int cmd_audit(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    return org_run(cli, cmd, argc, argv, present_audit);
}

int cmd_unit_tree(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    return org_run(cli, cmd, argc, argv, present_tree);
}
