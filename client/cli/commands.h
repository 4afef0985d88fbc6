/*
 * The command table: each row names a command by its words ({"server",
 * "info"}), its handler and its help. Adding a command is adding a row and a
 * handler in the file of its group (cmd_<group>.c).
 */
#ifndef BRANCHCTL_COMMANDS_H
#define BRANCHCTL_COMMANDS_H

#include <stddef.h>

#include "output.h"
#include "settings.h"

#define COMMAND_WORDS_MAX 3

/* What every handler gets: the global flags, unresolved until it connects. */
typedef struct {
    settings_flags_t flags;
    output_format_t format;
} cli_t;

typedef struct command command_t;

/* Runs a command with the arguments after its words; returns the exit code. */
typedef int (*command_fn)(const cli_t *cli, const command_t *cmd, int argc, char **argv);

struct command {
    const char *words[COMMAND_WORDS_MAX];  /* NULL-terminated when shorter */
    command_fn run;
    const char *summary;  /* one line */
    const char *usage;    /* "branchctl ping [--count N]" */
    const char *flags;    /* flag help lines, or NULL */
    const char *example;
};

extern const command_t COMMANDS[];
extern const size_t COMMAND_COUNT;

/* The command with the most leading words of argv; *used is how many. NULL if none. */
const command_t *commands_find(int argc, char **argv, int *used);

/* How many leading words of argv start the words of some command (a group such as "server"). */
int commands_prefix_len(int argc, char **argv);

int command_word_count(const command_t *cmd);

/* Joins words with spaces into buf, truncating to fit. */
void commands_join(int n, const char *const *words, char *buf, size_t len);

/* True when cmd's words begin with the n words in argv. */
int command_has_prefix(const command_t *cmd, int n, char **argv);

/*
 * Matches argv[*i] against "--name VALUE" or "--name=VALUE" (and short, such
 * as "-o", when not NULL). 1 on a match (*value set, *i on the value's
 * argument), 0 when argv[*i] is another argument, -1 when the value is missing.
 */
int args_flag_value(int argc, char **argv, int *i, const char *name, const char *short_name,
                    const char **value);

/* Prints an error with a Status.Code and returns the exit code for it. */
int cli_fail(const cli_t *cli, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints a usage error, then cmd's usage when cmd is not NULL; returns BLC_EXIT_USAGE. */
int cli_usage_error(const cli_t *cli, const command_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Handlers, one file per group. */
int cmd_help(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_ping(const cli_t *cli, const command_t *cmd, int argc, char **argv);
int cmd_server_info(const cli_t *cli, const command_t *cmd, int argc, char **argv);

#endif
