#include "args.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blclient.h"

#define EACH_PARAM(cmd, k) for (int k = 0; k < COMMAND_PARAMS_MAX && (cmd)->params[k].name; k++)

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
    /* "--server --ca x" is a forgotten value, not a server named "--ca";
     * "-" alone is a value (standard input, or a name), and so is a
     * negative number ("--depth -1"), which the option's range refuses. */
    const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!next || (next[0] == '-' && next[1] != '\0' && !(next[1] >= '0' && next[1] <= '9')))
        return -1;
    *value = argv[++*i];
    return 1;
}

/*
 * 1: argv[*i] is parameter p (*value set, *i moved past a separate value);
 * 0: it is not; -1: its value is missing; -2: a switch was given a value.
 */
static int match_flag(const param_t *p, int argc, char **argv, int *i, const char **value)
{
    if (!(p->opts & PARAM_SWITCH))
        return args_flag_value(argc, argv, i, p->name, NULL, value);
    size_t len = strlen(p->name);
    *value = "true";
    if (strncmp(argv[*i], p->name, len) != 0)
        return 0;
    return argv[*i][len] == '\0' ? 1 : argv[*i][len] == '=' ? -2 : 0;
}

static int take_flag(const cli_t *cli, const command_t *cmd, int argc, char **argv, int *i,
                     args_t *a)
{
    const char *arg = argv[*i];
    EACH_PARAM(cmd, k) {
        const param_t *p = &cmd->params[k];
        const char *value = NULL;
        int m = param_is_flag(p) ? match_flag(p, argc, argv, i, &value) : 0;
        if (m == 0)
            continue;
        if (m < 0)
            return cli_usage_error(cli, cmd, m == -1 ? "%s needs a value" : "%s takes no value",
                                   p->name);
        if (a->values[k] && !(p->opts & PARAM_REPEAT))
            return cli_usage_error(cli, cmd, "%s given twice", p->name);
        if (!a->values[k]) {
            a->values[k] = value;
            return 0;
        }
        if (a->n_more[k] == ARGS_REPEAT_MAX)
            return cli_usage_error(cli, cmd, "%s given more than %d times", p->name,
                                   ARGS_REPEAT_MAX + 1);
        a->more[k][a->n_more[k]++] = value;
        return 0;
    }
    char name[64];
    commands_join(command_word_count(cmd), cmd->words, name, sizeof name);
    return cli_usage_error(cli, cmd, "unknown flag '%.*s' for '%s'", (int)strcspn(arg, "="), arg,
                           name);
}

/* Gives arg to the first positional parameter from *next on. */
static int take_positional(const cli_t *cli, const command_t *cmd, const char *arg, int *next,
                           args_t *a)
{
    for (int k = *next; k < COMMAND_PARAMS_MAX && cmd->params[k].name; k++) {
        if (param_is_flag(&cmd->params[k]))
            continue;
        a->values[k] = arg;
        *next = k + 1;
        return 0;
    }
    return cli_usage_error(cli, cmd, "unexpected argument '%s'", arg);
}

/* Exactly one ONE_OF parameter given, when the command has any. */
static int check_one_of(const cli_t *cli, const command_t *cmd, const args_t *a)
{
    const char *given[2] = {NULL, NULL};
    char names[256] = "";
    size_t used = 0;
    EACH_PARAM(cmd, k) {
        const param_t *p = &cmd->params[k];
        if (!(p->opts & PARAM_ONE_OF))
            continue;
        if (a->values[k] && !given[0])
            given[0] = p->name;
        else if (a->values[k] && !given[1])
            given[1] = p->name;
        int w = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", p->name);
        if (w > 0 && (size_t)w < sizeof names - used)
            used += (size_t)w;
    }
    if (used && !given[0])
        return cli_usage_error(cli, cmd, "missing one of %s", names);
    if (given[1])
        return cli_usage_error(cli, cmd, "%s and %s cannot be combined", given[0], given[1]);
    return 0;
}

static int check_given(const cli_t *cli, const command_t *cmd, const args_t *a)
{
    EACH_PARAM(cmd, k) {
        const param_t *p = &cmd->params[k];
        char shown[64];
        if (!(p->opts & PARAM_REQUIRED))
            continue;
        param_display(p, shown, sizeof shown);
        if (!a->values[k])
            return cli_usage_error(cli, cmd, "missing %s", shown);
        /* "" means "not given" on the wire. */
        if (!a->values[k][0])
            return cli_usage_error(cli, cmd, "%s must not be empty", p->name);
    }
    return check_one_of(cli, cmd, a);
}

int args_parse(const cli_t *cli, const command_t *cmd, int argc, char **argv, args_t *a)
{
    bool flags_done = false;
    int next = 0;
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        int rc;
        if (!flags_done && strcmp(argv[i], "--") == 0) {
            flags_done = true;
            continue;
        }
        /* "-" alone is a positional: standard input, for PLANFILE. */
        if (!flags_done && argv[i][0] == '-' && argv[i][1] != '\0')
            rc = take_flag(cli, cmd, argc, argv, &i, a);
        else
            rc = take_positional(cli, cmd, argv[i], &next, a);
        if (rc != 0)
            return rc;
    }
    return check_given(cli, cmd, a);
}

const char *args_get(const command_t *cmd, const args_t *a, const char *name)
{
    EACH_PARAM(cmd, k)
        if (strcmp(cmd->params[k].name, name) == 0)
            return a->values[k];
    return NULL;
}

int args_integer(const char *name, const char *text, long long min, long long max,
                 long long *out, char *err, size_t errlen)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (digits[0] < '0' || digits[0] > '9' || *end) {
        snprintf(err, errlen, "invalid %s '%s': not an integer", name, text);
        return -1;
    }
    if (errno || v < min || v > max) {
        snprintf(err, errlen, "invalid %s '%s': out of range %lld to %lld", name, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int args_get_integer(const cli_t *cli, const command_t *cmd, const args_t *a, const char *name,
                     long long min, long long max, long long def, long long *out)
{
    char err[256];
    const char *value = args_get(cmd, a, name);
    *out = def;
    if (value && args_integer(name, value, min, max, out, err, sizeof err) < 0)
        return cli_usage_error(cli, cmd, "%s", err);
    return 0;
}
