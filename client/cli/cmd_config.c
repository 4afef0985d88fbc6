/*
 * The config file's named contexts (settings.h): list them, pick one. These
 * commands read and write the file only; they never connect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "blclient.h"
#include "commands.h"

#define CODE(name) BRANCHLINE__V1__STATUS__CODE__##name

static int cmd_get_contexts(const cli_t *cli, const command_t *cmd, int argc, char **argv);
static int cmd_use_context(const cli_t *cli, const command_t *cmd, int argc, char **argv);
static int cmd_current_context(const cli_t *cli, const command_t *cmd, int argc, char **argv);

static const char CONFIG_DETAILS[] =
    "The config file is $XDG_CONFIG_HOME/branchline/config (else\n"
    "~/.config/branchline/config), INI:\n"
    "\n"
    "  current-context = prod\n"
    "  [context prod]\n"
    "  server = branchline.example.com:7443\n"
    "  ca = ca.crt                 # relative to the file's folder\n"
    "  cert = alice.crt\n"
    "  key = alice.key             # mode 600: keys open to others are refused\n"
    "  [context ops]\n"
    "  server = 127.0.0.1:7443\n"
    "  ca = ca.crt\n"
    "  cert = ops.crt\n"
    "  key = ops.key\n"
    "  tenant = acme               # for operators: the tenant they mostly work on\n"
    "\n"
    "--context NAME, else BRANCHLINE_CONTEXT, else current-context picks the\n"
    "context; the environment (BRANCHLINE_SERVER, ...) overrides it and flags\n"
    "override both.\n";

const command_t CONFIG_COMMANDS[] = {
    {
        .words = {"config", "get-contexts"}, .run = cmd_get_contexts,
        .summary = "List the contexts of the config file; * marks the one in use",
        .example = "branchctl config get-contexts",
        .details = CONFIG_DETAILS,
    },
    {
        .words = {"config", "use-context"}, .run = cmd_use_context,
        .summary = "Make a context of the config file the one in use",
        .params = {ARG("NAME", NULL, "a context: a [context NAME] section of the file")},
        .example = "branchctl config use-context prod",
        .details = CONFIG_DETAILS,
    },
    {
        .words = {"config", "current-context"}, .run = cmd_current_context,
        .summary = "Print the name of the context in use",
        .example = "branchctl config current-context",
    },
    {{NULL}},
};

static int cmd_get_contexts(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    static const char *const columns[] = {"current", "name", "server", "ca", "cert", "key", "tenant", NULL};
    char err[512];
    args_t args;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc != 0)
        return rc;
    json_t *list = settings_contexts(&cli->flags, err, sizeof err);
    if (!list)
        return cli_usage_error(cli, NULL, "%s", err);
    rc = output_list(stdout, &cli->out, list, columns) < 0 ? cli_fail(cli, CODE(RESOURCE_EXHAUSTED), "out of memory") : 0;
    json_decref(list);
    return rc;
}

static int cmd_use_context(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    char err[512];
    args_t args;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc != 0)
        return rc;
    const char *name = args_get(cmd, &args, "NAME");
    if (settings_use_context(name, err, sizeof err) < 0)
        return cli_usage_error(cli, NULL, "%s", err);
    if (cli->out.format == OUTPUT_TABLE)
        printf("now using context %s\n", name);
    return BLC_EXIT_OK;
}

static int cmd_current_context(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    char err[512];
    args_t args;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc != 0)
        return rc;
    json_t *list = settings_contexts(&cli->flags, err, sizeof err);
    if (!list)
        return cli_usage_error(cli, NULL, "%s", err);
    size_t i;
    json_t *row;
    const char *current = NULL;
    json_array_foreach(list, i, row)
        if (strcmp(json_string_value(json_object_get(row, "current")), "*") == 0)
            current = json_string_value(json_object_get(row, "name"));
    if (current)
        printf("%s\n", current);
    else
        rc = cli_fail(cli, CODE(NOT_FOUND), "no context in use (see branchctl config get-contexts)");
    json_decref(list);
    return rc;
}
