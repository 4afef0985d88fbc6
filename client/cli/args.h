/*
 * A command's arguments, parsed against its row's parameters: positionals
 * in order, flags as "--name VALUE" or "--name=VALUE", switches alone, and
 * "--" ending the flags. Global flags were taken out before (main.c).
 */
#ifndef BRANCHCTL_ARGS_H
#define BRANCHCTL_ARGS_H

#include "commands.h"

#define ARGS_REPEAT_MAX 16

typedef struct {
    /* By parameter index: the argument given, "true" for a switch, NULL if absent. */
    const char *values[COMMAND_PARAMS_MAX];
    /* A PARAM_REPEAT flag's values after the first, in the order given. */
    const char *more[COMMAND_PARAMS_MAX][ARGS_REPEAT_MAX];
    int n_more[COMMAND_PARAMS_MAX];
} args_t;

/*
 * Fills a from argv. 0, or prints a usage error naming the argument
 * (unknown flag, missing value or required parameter, one given twice,
 * ONE_OF broken) and returns BLC_EXIT_USAGE.
 */
int args_parse(const cli_t *cli, const command_t *cmd, int argc, char **argv, args_t *a)
    __attribute__((warn_unused_result));

/* The value of the parameter named name ("--count", "PATH"), or NULL. */
const char *args_get(const command_t *cmd, const args_t *a, const char *name);

/*
 * Strict integer parsing: an optional '-' and digits, nothing else, within
 * [min, max]. 0, or -1 with "invalid NAME 'text': not an integer" or "...:
 * out of range MIN to MAX" in err (name as the user typed it: "--depth", "ID").
 */
int args_integer(const char *name, const char *text, long long min, long long max,
                 long long *out, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * The integer value of parameter name, or def when it was not given. 0, or
 * prints the usage error and returns BLC_EXIT_USAGE.
 */
int args_get_integer(const cli_t *cli, const command_t *cmd, const args_t *a, const char *name,
                     long long min, long long max, long long def, long long *out)
    __attribute__((warn_unused_result));

/*
 * Matches argv[*i] against "--name VALUE" or "--name=VALUE" (and short, such
 * as "-o", when not NULL). 1 on a match (*value set, *i on the value's
 * argument), 0 when argv[*i] is another argument, -1 when the value is missing.
 */
int args_flag_value(int argc, char **argv, int *i, const char *name, const char *short_name,
                    const char **value);

#endif
