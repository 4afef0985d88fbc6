#include "help.h"

#include <stdbool.h>
#include <string.h>

#include "blclient.h"

static const char GLOBAL_FLAGS[] =
    "Global flags (before or after the command):\n"
    "  --server HOST:PORT   daemon address; IPv6 as [::1]:7443 (default " SETTINGS_DEFAULT_SERVER ")\n"
    "  --ca FILE            CA certificate that signed the daemon's certificate (required)\n"
    "  --cert FILE          client certificate (PEM)\n"
    "  --key FILE           client private key (PEM; default: read from --cert);\n"
    "                       refused when its group or others may read it\n"
    "  --context NAME       use this context of the config file\n"
    "  -o, --output FORMAT  table (default), json, yaml or csv\n"
    "  --columns A,B,...    table and csv output: only these fields, in this order\n"
    "  --no-headers         table and csv output: no header line\n"
    "  --color WHEN         colour in tables and error lines: auto (the default: when\n"
    "                       writing to a terminal and NO_COLOR is not set), always or\n"
    "                       never; never in json, yaml or csv\n"
    "  --timeout MS         limit for connecting, the TLS handshake and each answer\n"
    "                       (default 30000)\n"
    "  -h, --help           show help; after a command, that command's\n"
    "  --version            show the version\n";

static const char OUTPUT[] =
    "Output: a list prints as a table, one column per field, headed by the field\n"
    "names in upper case; a single object as 'field  value' lines. Columns line up\n"
    "by display width (Chinese characters take two), an empty value shows as '-'.\n"
    "With -o json a list is an array of objects and a single object an object, with\n"
    "the protocol's field names; --columns does not apply. -o yaml prints the same\n"
    "value as YAML. -o csv prints RFC 4180 CSV (CRLF line ends): a header line of\n"
    "field names, then one record per row. Errors go to stderr as\n"
    "'branchctl: CODE: message (field: name)', or as a JSON object with -o json.\n"
    "On a terminal (see --color) headers are bold, lead statuses coloured (won\n"
    "green, lost and unroutable red, waiting yellow, allocated cyan), apply and\n"
    "diff mark created +, changed and moved ~, closed and deleted - in green,\n"
    "yellow and red, and errors are red. Long operations (apply, diff, lead import,\n"
    "lead stats) show their progress on stderr when it is a terminal, and erase it\n"
    "when done; a pipe or a file never gets any of it.\n";

static const char SETTINGS[] =
    "Settings: flags override the environment (BRANCHLINE_SERVER, BRANCHLINE_CA,\n"
    "BRANCHLINE_CERT, BRANCHLINE_KEY), which overrides the config file\n"
    "$XDG_CONFIG_HOME/branchline/config, else ~/.config/branchline/config\n"
    "(INI: keys server, ca, cert, key, tenant at the top or under [default];\n"
    "named contexts in sections [context NAME] with the same keys; relative\n"
    "paths there are relative to the file's folder). The context is --context,\n"
    "else BRANCHLINE_CONTEXT, else the file's 'current-context = NAME' (which\n"
    "'branchctl config use-context NAME' writes); its keys override the top ones.\n";

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
    " 10  changes pending (apply --dry-run, diff)\n";

/* Width of the widest command name, for the summary column. */
static int name_width(void)
{
    char name[64];
    int width = 0;
    COMMANDS_FOREACH(group, cmd) {
        commands_join(command_word_count(cmd), cmd->words, name, sizeof name);
        if ((int)strlen(name) > width)
            width = (int)strlen(name);
    }
    return width;
}

static void put_summary(FILE *out, const command_t *cmd, int width)
{
    char name[64];
    commands_join(command_word_count(cmd), cmd->words, name, sizeof name);
    fprintf(out, "  %-*s  %s\n", width, name, cmd->summary);
}

void help_global(FILE *out)
{
    int width = name_width();
    fprintf(out, "branchctl %s: command-line client for the Branchline daemon\n\n"
                 "usage: branchctl [FLAGS] COMMAND [ARGUMENTS] [COMMAND FLAGS]\n",
            BRANCHLINE_VERSION);
    for (const command_group_t *group = COMMAND_GROUPS; group->rows; group++) {
        fprintf(out, "\n%s:\n", group->title);
        for (const command_t *cmd = group->rows; cmd->words[0]; cmd++)
            put_summary(out, cmd, width);
    }
    fprintf(out, "\nRun 'branchctl COMMAND --help' for a command's arguments and an example.\n"
                 "\n%s\n%s\n%s\n%s", GLOBAL_FLAGS, OUTPUT, SETTINGS, EXIT_CODES);
}

#define HELP_WIDTH 79

/* text from column indent on, wrapped at spaces before HELP_WIDTH. */
static void put_wrapped(FILE *out, const char *text, int indent)
{
    int col = indent;
    while (*text) {
        int word = (int)strcspn(text, " ");
        if (col > indent && col + 1 + word > HELP_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(text, 1, (size_t)word, out);
        col += word;
        text += word;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}

/* The positionals (flags false) or the flags of cmd, under a heading; nothing if none. */
static void put_params(FILE *out, const command_t *cmd, bool flags, const char *heading)
{
    char shown[64];
    int width = 0;
    for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++) {
        param_display(&cmd->params[i], shown, sizeof shown);
        if (param_is_flag(&cmd->params[i]) == flags && (int)strlen(shown) > width)
            width = (int)strlen(shown);
    }
    if (width == 0)
        return;
    fprintf(out, "\n%s:\n", heading);
    for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++) {
        if (param_is_flag(&cmd->params[i]) != flags)
            continue;
        param_display(&cmd->params[i], shown, sizeof shown);
        fprintf(out, "  %-*s  ", width, shown);
        put_wrapped(out, cmd->params[i].help, width + 4);
    }
}

void help_command(FILE *out, const command_t *cmd)
{
    char usage[512];
    command_usage(cmd, usage, sizeof usage);
    fprintf(out, "usage: %s\n\n%s.\n", usage, cmd->summary);
    put_params(out, cmd, false, "Arguments");
    put_params(out, cmd, true, "Flags");
    if (cmd->details)
        fprintf(out, "\n%s", cmd->details);
    fprintf(out, "\nExample:\n  %s\n\nSee 'branchctl --help' for global flags, output and exit codes.\n",
            cmd->example);
}

void help_group(FILE *out, int n, char **words)
{
    char group[128];
    int width = name_width();
    commands_join(n, (const char *const *)words, group, sizeof group);
    fprintf(out, "usage: branchctl %s SUBCOMMAND\n\nCommands:\n", group);
    COMMANDS_FOREACH(g, cmd)
        if (command_has_prefix(cmd, n, words))
            put_summary(out, cmd, width);
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
