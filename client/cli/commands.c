#include "commands.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "blclient.h"

static const command_t BASE_COMMANDS[] = {
    {
        .words = {"ping"},
        .run = cmd_ping,
        .summary = "Check that branchd answers and print the round-trip time",
        .params = {
            FLAG("--count", "N", NULL, "send N pings pipelined on one connection (default 1)"),
            FLAG("--delay", "MS", NULL,
                 "ask the daemon to wait MS milliseconds before each answer (at most 10000)"),
        },
        .example = "branchctl ping --count 10",
    },
    {
        .words = {"server", "info"},
        .run = cmd_org,
        .op = "server_info",
        .summary = "Show the daemon's version, database schema and how it sees you",
        .example = "branchctl -o json server info",
    },
    {
        .words = {"completion"},
        .run = cmd_completion,
        .summary = "Print a shell completion script (bash or zsh)",
        .params = {ARG("SHELL", NULL, "bash or zsh")},
        .example = "source <(branchctl completion bash)",
        .details = "Completes commands, flags, flag values with fixed choices, files, and unit\n"
                   "paths (asked from the daemon: branchctl unit list, with the settings in\n"
                   "force). Installed by cmake --install as\n"
                   "share/bash-completion/completions/branchctl.\n",
    },
    {
        .words = {"shell"},
        .run = cmd_shell,
        .summary = "Run commands interactively, with line editing and history",
        .example = "branchctl --context prod shell",
        .details = "Each line is a branchctl command line without 'branchctl' (quotes as in a\n"
                   "shell: 'a b', \"a b\", a\\ b); the global flags given to shell apply to\n"
                   "every line unless the line gives its own. History is kept in\n"
                   "~/.branchctl_history. 'exit', 'quit' or Ctrl-D ends the shell. With\n"
                   "standard input not a terminal, lines are read without a prompt.\n",
    },
    {
        .words = {"help"},
        .run = cmd_help,
        .summary = "Show help for all commands or for one",
        .params = {ARG_OPT("COMMAND", NULL, "a command or a group of them, e.g. 'unit add'")},
        .example = "branchctl help server info",
    },
    {{NULL}},
};

const command_group_t COMMAND_GROUPS[] = {
    {"Commands", BASE_COMMANDS},
    {"Organization", ORG_COMMANDS},
    {"Leads", LEAD_COMMANDS},
    {"Planning and evaluation", PLAN_COMMANDS},
    {"Organization files", DOC_COMMANDS},
    {"Web intake sources", SOURCE_COMMANDS},
    {"Configuration", CONFIG_COMMANDS},
    {NULL, NULL},
};

cli_t command_cli(const cli_t *cli, const command_t *cmd)
{
    cli_t view = *cli;
    if (!view.out.columns)
        view.out.columns = cmd->columns;
    return view;
}

int command_word_count(const command_t *cmd)
{
    int n = 0;
    while (n < COMMAND_WORDS_MAX && cmd->words[n])
        n++;
    return n;
}

int command_has_prefix(const command_t *cmd, int n, char **argv)
{
    if (n > command_word_count(cmd))
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(cmd->words[i], argv[i]) != 0)
            return 0;
    return 1;
}

void commands_join(int n, const char *const *words, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used + 1 < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? " " : "", words[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

const command_t *commands_find(int argc, char **argv, int *used)
{
    const command_t *best = NULL;
    *used = 0;
    COMMANDS_FOREACH(group, cmd) {
        int n = command_word_count(cmd);
        if (n <= argc && n > *used && command_has_prefix(cmd, n, argv)) {
            best = cmd;
            *used = n;
        }
    }
    return best;
}

int commands_prefix_len(int argc, char **argv)
{
    int best = 0;
    COMMANDS_FOREACH(group, cmd)
        for (int n = best + 1; n <= argc && command_has_prefix(cmd, n, argv); n++)
            best = n;
    return best;
}

void param_display(const param_t *p, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", p->name, p->meta ? " " : "", p->meta ? p->meta : "");
}

/* Appends text to buf at *used, truncating at len. */
static void append(char *buf, size_t len, size_t *used, const char *text)
{
    int w = snprintf(buf + *used, len - *used, "%s", text);
    if (w > 0)
        *used += (size_t)w < len - *used ? (size_t)w : len - *used - 1;
}

/* "(PLANFILE | --centralize FUNCS | --decentralize FUNCS)": the ONE_OF parameters. */
static void append_one_of(const command_t *cmd, char *buf, size_t len, size_t *used)
{
    char shown[64];
    bool first = true;
    for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++) {
        if (!(cmd->params[i].opts & PARAM_ONE_OF))
            continue;
        param_display(&cmd->params[i], shown, sizeof shown);
        append(buf, len, used, first ? " (" : " | ");
        append(buf, len, used, shown);
        first = false;
    }
    append(buf, len, used, ")");
}

void command_usage(const command_t *cmd, char *buf, size_t len)
{
    char shown[64];
    size_t used = 0;
    bool one_of_done = false;
    buf[0] = '\0';
    append(buf, len, &used, "branchctl");
    for (int i = 0; i < command_word_count(cmd); i++) {
        append(buf, len, &used, " ");
        append(buf, len, &used, cmd->words[i]);
    }
    for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++) {
        const param_t *p = &cmd->params[i];
        if (p->opts & PARAM_ONE_OF) {
            if (!one_of_done)
                append_one_of(cmd, buf, len, &used);
            one_of_done = true;
            continue;
        }
        bool required = p->opts & PARAM_REQUIRED;
        param_display(p, shown, sizeof shown);
        append(buf, len, &used, required ? " " : " [");
        append(buf, len, &used, shown);
        if (!required)
            append(buf, len, &used, "]");
        if (p->opts & PARAM_REPEAT)
            append(buf, len, &used, "...");
    }
}

int cli_fail(const cli_t *cli, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    output_error(&cli->out, code, msg, NULL);
    return blc_exit_code(code);
}

int cli_usage_error(const cli_t *cli, const command_t *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    output_error(&cli->out, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, msg, NULL);
    if (cmd) {
        char usage[512];
        command_usage(cmd, usage, sizeof usage);
        output_usage_hint(cli->out.format, usage);
    }
    return BLC_EXIT_USAGE;
}
