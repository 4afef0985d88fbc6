#include "help.h"

#include "blclient.h"

static const char GLOBAL_FLAGS[] =
    "Global flags (before or after the command):\n"
    "  --server HOST:PORT   daemon address; IPv6 as [::1]:7443 (default " SETTINGS_DEFAULT_SERVER ")\n"
    "  --ca FILE            CA certificate that signed the daemon's certificate (required)\n"
    "  --cert FILE          client certificate (PEM)\n"
    "  --key FILE           client private key (PEM; default: read from --cert)\n"
    "  -o, --output FORMAT  table (default) or json\n"
    "  --timeout MS         limit for connecting, the TLS handshake and each answer\n"
    "                       (default 30000)\n"
    "  -h, --help           show help; after a command, that command's\n"
    "  --version            show the version\n";

static const char SETTINGS[] =
    "Settings: flags override the environment (BRANCHLINE_SERVER, BRANCHLINE_CA,\n"
    "BRANCHLINE_CERT, BRANCHLINE_KEY), which overrides the config file\n"
    "$XDG_CONFIG_HOME/branchline/config, else ~/.config/branchline/config\n"
    "(INI: keys server, ca, cert, key at the top or under [default]; relative\n"
    "paths there are relative to the file's folder).\n";

static const char EXIT_CODES[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  server error (INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED, any other)\n"
    "  2  usage error (bad flags or local settings)\n"
    "  3  cannot connect, TLS failure, UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED\n"
    "  4  request rejected (INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE,\n"
    "     ALREADY_EXISTS, ABORTED)\n"
    "  5  NOT_FOUND\n"
    "  6  PERMISSION_DENIED or UNAUTHENTICATED\n"
    "  7  RESOURCE_EXHAUSTED\n"
    " 10  (reserved) changes pending\n";

static void put_summary(FILE *out, const command_t *cmd)
{
    char name[64];
    commands_join(command_word_count(cmd), cmd->words, name, sizeof name);
    fprintf(out, "  %-14s  %s\n", name, cmd->summary);
}

void help_global(FILE *out)
{
    fprintf(out, "branchctl %s: command-line client for the Branchline daemon\n\n"
                 "usage: branchctl [FLAGS] COMMAND [COMMAND FLAGS]\n\nCommands:\n",
            BRANCHLINE_VERSION);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        put_summary(out, &COMMANDS[i]);
    fprintf(out, "\n%s\n%s\n%s", GLOBAL_FLAGS, SETTINGS, EXIT_CODES);
}

void help_command(FILE *out, const command_t *cmd)
{
    fprintf(out, "usage: %s\n\n%s.\n", cmd->usage, cmd->summary);
    if (cmd->flags)
        fprintf(out, "\nFlags:\n%s", cmd->flags);
    fprintf(out, "\nExample:\n  %s\n\nSee 'branchctl --help' for global flags and exit codes.\n",
            cmd->example);
}

void help_group(FILE *out, int n, char **words)
{
    char group[128];
    commands_join(n, (const char *const *)words, group, sizeof group);
    fprintf(out, "usage: branchctl %s SUBCOMMAND\n\nCommands:\n", group);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (command_has_prefix(&COMMANDS[i], n, words))
            put_summary(out, &COMMANDS[i]);
}

int cmd_help(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    (void)cmd;
    int used = 0;
    if (argc == 0) {
        help_global(stdout);
        return BLC_EXIT_OK;
    }
    const command_t *target = commands_find(argc, argv, &used);
    if (target && used == argc) {
        help_command(stdout, target);
        return BLC_EXIT_OK;
    }
    int prefix = commands_prefix_len(argc, argv);
    if (!target && prefix == argc) {
        help_group(stdout, prefix, argv);
        return BLC_EXIT_OK;
    }
    char name[128];
    commands_join(argc, (const char *const *)argv, name, sizeof name);
    return cli_usage_error(cli, cmd, "no command '%s'", name);
}
