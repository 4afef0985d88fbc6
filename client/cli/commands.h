/*
 * The command table: each row names a command by its words ({"unit",
 * "add"}), its handler, its parameters and its help. A command that sends
 * one request names the Request op field (.op) and maps its parameters to
 * that message's fields, so most commands are a row and the generic handler
 * cmd_org; usage lines and help are generated from the same row.
 */
#ifndef BRANCHCTL_COMMANDS_H
#define BRANCHCTL_COMMANDS_H

#include <stddef.h>

#include "output.h"
#include "settings.h"

#define COMMAND_WORDS_MAX 3
#define COMMAND_PARAMS_MAX 8
#define COMMAND_CONSTS_MAX 2

/* What every handler gets: the global flags, unresolved until it connects. */
typedef struct {
    settings_flags_t flags;
    output_opts_t out;
} cli_t;

enum {
    PARAM_REQUIRED = 1 << 0,  /* must be given, and not as "" */
    PARAM_ONE_OF = 1 << 1,    /* exactly one of the command's ONE_OF parameters must be given */
    PARAM_SWITCH = 1 << 2,    /* a flag without a value ("--yes"); its value reads "true" */
    PARAM_REPEAT = 1 << 3,    /* a flag that may be given again; each value is one more item */
};

/*
 * A positional argument ("PATH") or a flag ("--kind"), told apart by the
 * leading '-'. Positionals are taken in the order of the row.
 */
typedef struct {
    const char *name;
    const char *meta;   /* a flag's value in usage ("KIND"); NULL otherwise */
    const char *field;  /* request field it sets; NULL when only the handler reads it */
    const char *sets;   /* "field=value" also set when the parameter is given, or NULL */
    unsigned opts;      /* PARAM_* */
    const char *help;   /* one line */
} param_t;

#define ARG(name, field, help) {(name), NULL, (field), NULL, PARAM_REQUIRED, (help)}
#define ARG_OPT(name, field, help) {(name), NULL, (field), NULL, 0, (help)}
#define FLAG_REQ(name, meta, field, help) {(name), (meta), (field), NULL, PARAM_REQUIRED, (help)}
#define FLAG(name, meta, field, help) {(name), (meta), (field), NULL, 0, (help)}
#define FLAG_MANY(name, meta, field, help) {(name), (meta), (field), NULL, PARAM_REPEAT, (help)}
#define SWITCH(name, help) {(name), NULL, NULL, NULL, PARAM_SWITCH, (help)}

typedef struct command command_t;

/* Runs a command with the arguments after its words; returns the exit code. */
typedef int (*command_fn)(const cli_t *cli, const command_t *cmd, int argc, char **argv);

struct command {
    const char *words[COMMAND_WORDS_MAX];  /* NULL-terminated when shorter */
    command_fn run;
    const char *op;       /* Request op field name the command sends, or NULL */
    const char *summary;  /* one line */
    param_t params[COMMAND_PARAMS_MAX];      /* positionals first, then flags */
    const char *consts[COMMAND_CONSTS_MAX];  /* "field=value" always set */
    const char *example;
    const char *columns;  /* table columns without --columns ("id,status"), or NULL: all */
    const char *details;  /* more help after the flags, wrapped lines ending in '\n', or NULL */
    const char *progress; /* a spinner's label on a terminal while the daemon works, or NULL */
};

/* Tables end with a row whose words[0] is NULL. */
typedef struct {
    const char *title;  /* heading in branchctl --help */
    const command_t *rows;
} command_group_t;

/* Every group, ending with {NULL, NULL}. */
extern const command_group_t COMMAND_GROUPS[];

/* The organization commands (cmd_org.c). */
extern const command_t ORG_COMMANDS[];

/* Leads, allocation policies and caps (cmd_lead.c). */
extern const command_t LEAD_COMMANDS[];

/* Organization files: export, apply, diff (cmd_doc.c). */
extern const command_t DOC_COMMANDS[];

/* Planning and evaluation: kpi, staffing, whatif, support suggest, report (cmd_plan.c). */
extern const command_t PLAN_COMMANDS[];
/* Channel sources of web intake (cmd_source.c). */
extern const command_t SOURCE_COMMANDS[];

/* The config file's contexts (cmd_config.c). */
extern const command_t CONFIG_COMMANDS[];

/* The whole command line, as main() (run.c); the exit code. */
int cli_main(int argc, char **argv);

#define COMMANDS_FOREACH(group, cmd)                                      \
    for (const command_group_t *group = COMMAND_GROUPS; group->rows; group++) \
        for (const command_t *cmd = group->rows; cmd->words[0]; cmd++)

/* cli with cmd's default columns in place of --columns when that was not given. */
cli_t command_cli(const cli_t *cli, const command_t *cmd);

/* The command with the most leading words of argv; *used is how many. NULL if none. */
const command_t *commands_find(int argc, char **argv, int *used);

/* How many leading words of argv start the words of some command (a group such as "server"). */
int commands_prefix_len(int argc, char **argv);

int command_word_count(const command_t *cmd);

/* Joins words with spaces into buf, truncating to fit. */
void commands_join(int n, const char *const *words, char *buf, size_t len);

/* True when cmd's words begin with the n words in argv. */
int command_has_prefix(const command_t *cmd, int n, char **argv);

/* "branchctl unit add PATH --kind KIND [--opened DATE]", from the row; truncated to fit. */
void command_usage(const command_t *cmd, char *buf, size_t len);

/* "--kind KIND", "PATH" or "--yes": how a parameter is written. */
void param_display(const param_t *p, char *buf, size_t len);

static inline int param_is_flag(const param_t *p)
{
    return p->name[0] == '-';
}

/* Prints an error with a Status.Code and returns the exit code for it. */
int cli_fail(const cli_t *cli, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints a usage error, then cmd's usage when cmd is not NULL; returns BLC_EXIT_USAGE. */
int cli_usage_error(const cli_t *cli, const command_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Handlers, one file per group. */
int cmd_help(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_ping(const cli_t *cli, const command_t *cmd, int argc, char **argv);
/* One request built from the row, its result printed through its descriptor. */
int cmd_org(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_unit_tree(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_audit(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_reorg_plan(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_reorg_apply(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_lead_list(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_lead_purge(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_lead_import(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_lead_watch(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_kpi(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_report(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_completion(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_shell(const cli_t *cli, const command_t *cmd, int argc, char **argv);

#endif
