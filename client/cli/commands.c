#include "commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "blclient.h"

const command_t COMMANDS[] = {
    {
        .words = {"ping"},
        .run = cmd_ping,
        .summary = "Check that branchd answers and print the round-trip time",
        .usage = "branchctl ping [--count N]",
        .flags = "  --count N   send N pings pipelined on one connection (default 1)\n",
        .example = "branchctl ping --count 10",
    },
    {
        .words = {"server", "info"},
        .run = cmd_server_info,
        .summary = "Show the daemon's version, database schema and how it sees you",
        .usage = "branchctl server info",
        .example = "branchctl -o json server info",
    },
    {
        .words = {"help"},
        .run = cmd_help,
        .summary = "Show help for all commands or for one",
        .usage = "branchctl help [COMMAND]",
        .example = "branchctl help server info",
    },
};

const size_t COMMAND_COUNT = sizeof COMMANDS / sizeof COMMANDS[0];

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
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        int n = command_word_count(&COMMANDS[i]);
        if (n <= argc && n > *used && command_has_prefix(&COMMANDS[i], n, argv)) {
            best = &COMMANDS[i];
            *used = n;
        }
    }
    return best;
}

int commands_prefix_len(int argc, char **argv)
{
    int best = 0;
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        for (int n = best + 1; n <= argc && command_has_prefix(&COMMANDS[i], n, argv); n++)
            best = n;
    return best;
}

int args_flag_value(int argc, char **argv, int *i, const char *name, const char *short_name,
                    const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) == 0 && arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (strcmp(arg, name) != 0 && !(short_name && strcmp(arg, short_name) == 0))
        return 0;
    /* "--server --ca x" is a forgotten value, not a server named "--ca". */
    if (*i + 1 >= argc || argv[*i + 1][0] == '-')
        return -1;
    *value = argv[++*i];
    return 1;
}

int cli_fail(const cli_t *cli, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    output_error(cli->format, code, msg, NULL);
    return blc_exit_code(code);
}

int cli_usage_error(const cli_t *cli, const command_t *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    output_error(cli->format, BRANCHLINE__V1__STATUS__CODE__INVALID_ARGUMENT, msg, NULL);
    if (cmd)
        output_usage_hint(cli->format, cmd->usage);
    return BLC_EXIT_USAGE;
}
