/*
 * branchctl's command line: global flags, then dispatch through the command
 * table. Global flags may come before or after the command; everything else
 * is left, in order, for the command to parse. main() is this; so is each
 * line of branchctl shell.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "blclient.h"
#include "commands.h"
#include "help.h"
#include "output.h"

typedef struct {
    char **rest;  /* arguments that are not global flags, in order */
    int nrest;
    bool help;
    bool version;
    const char *missing;  /* a global flag given without its value */
} cmdline_t;

/* 1: argv[*i] was a global flag (stored); 0: it was not; -1: its value is missing. */
static int take_global_flag(int argc, char **argv, int *i, settings_flags_t *flags)
{
    const struct {
        const char *name;
        const char *short_name;
        const char **dst;
    } table[] = {
        {"--server", NULL, &flags->server},
        {"--ca", NULL, &flags->ca},
        {"--cert", NULL, &flags->cert},
        {"--key", NULL, &flags->key},
        {"--output", "-o", &flags->output},
        {"--timeout", NULL, &flags->timeout},
        {"--columns", NULL, &flags->columns},
        {"--context", NULL, &flags->context},
        {"--color", NULL, &flags->color},
    };
    for (size_t f = 0; f < sizeof table / sizeof table[0]; f++) {
        int m = args_flag_value(argc, argv, i, table[f].name, table[f].short_name, table[f].dst);
        if (m != 0)
            return m;
    }
    return 0;
}

static int parse_args(int argc, char **argv, cli_t *cli, cmdline_t *a)
{
    a->rest = calloc((size_t)argc, sizeof *a->rest);
    if (!a->rest) {
        fprintf(stderr, "branchctl: out of memory\n");
        return BLC_EXIT_SERVER;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            a->help = true;
            continue;
        }
        if (strcmp(argv[i], "--version") == 0) {
            a->version = true;
            continue;
        }
        if (strcmp(argv[i], "--no-headers") == 0) {
            cli->out.no_headers = true;
            continue;
        }
        int m = take_global_flag(argc, argv, &i, &cli->flags);
        if (m < 0 && !a->missing)
            a->missing = argv[i];
        else if (m == 0)
            a->rest[a->nrest++] = argv[i];
    }
    cli->out.columns = cli->flags.columns;
    if (output_format_parse(cli->flags.output, &cli->out.format) < 0)
        return cli_usage_error(cli, NULL, "unknown output format '%s' (use table, json, yaml or csv)",
                               cli->flags.output);
    if (output_colour_parse(cli->flags.color, &cli->out.colour) < 0)
        return cli_usage_error(cli, NULL, "unknown --color '%s' (use auto, always or never)",
                               cli->flags.color);
    if (a->missing)
        return cli_usage_error(cli, NULL, "%s needs a value", a->missing);
    return 0;
}

/* The words name no command, but begin some ("server" or "server nope"). */
static int group_error(const cli_t *cli, const cmdline_t *a, int prefix)
{
    char words[128];
    if (a->help) {
        help_group(stdout, prefix, a->rest);
        return BLC_EXIT_OK;
    }
    bool missing = prefix == a->nrest || a->rest[prefix][0] == '-';
    commands_join(missing ? prefix : prefix + 1, (const char *const *)a->rest, words, sizeof words);
    int rc = cli_usage_error(cli, NULL, missing ? "'%s' needs a subcommand" : "no command '%s'",
                             words);
    if (cli->out.format == OUTPUT_TABLE)
        help_group(stderr, prefix, a->rest);
    return rc;
}

static int dispatch(const cli_t *cli, const cmdline_t *a)
{
    if (a->version)
        return output_version(cli->out.format) < 0 ? BLC_EXIT_SERVER : BLC_EXIT_OK;
    if (a->nrest == 0) {
        help_global(a->help ? stdout : stderr);
        return a->help ? BLC_EXIT_OK : BLC_EXIT_USAGE;
    }
    if (a->rest[0][0] == '-')
        return cli_usage_error(cli, NULL, "unknown flag '%s' (see branchctl --help)", a->rest[0]);
    int used = 0;
    const command_t *cmd = commands_find(a->nrest, a->rest, &used);
    if (cmd && a->help) {
        help_command(stdout, cmd);
        return BLC_EXIT_OK;
    }
    if (cmd)
        return cmd->run(cli, cmd, a->nrest - used, a->rest + used);
    int prefix = commands_prefix_len(a->nrest, a->rest);
    if (prefix > 0)
        return group_error(cli, a, prefix);
    return cli_usage_error(cli, NULL, "no command '%s' (see branchctl --help)", a->rest[0]);
}

int cli_main(int argc, char **argv)
{
    cli_t cli = {0};
    cmdline_t args = {0};
    int rc = parse_args(argc, argv, &cli, &args);
    if (rc == 0)
        rc = dispatch(&cli, &args);
    free(args.rest);
    if (fflush(stdout) != 0 && rc == BLC_EXIT_OK)
        rc = cli_fail(&cli, BRANCHLINE__V1__STATUS__CODE__INTERNAL, "cannot write the output");
    return rc;
}
