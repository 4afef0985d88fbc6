/*
 * branchctl shell: a prompt (libedit) whose lines are branchctl command
 * lines, run by the same code as the command line (cli_main), each on its
 * own connection, with the shell's global flags in front.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "args.h"
#include "blclient.h"
#include "commands.h"

#define WORDS_MAX 256
#define HISTORY_MAX 1000

/*
 * Splits line into words in place, as a shell would for plain words, 'single'
 * and "double" quotes and backslash escapes. The word count, or -1 with err
 * for an unterminated quote or too many words.
 */
static int split_words(char *line, char **words, const char **err)
{
    int n = 0;
    char *in = line, *out = line;
    for (;;) {
        while (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r')
            in++;
        if (!*in)
            return n;
        if (n == WORDS_MAX) {
            *err = "too many words";
            return -1;
        }
        words[n++] = out;
        char quote = 0;
        for (; *in && (quote || (*in != ' ' && *in != '\t' && *in != '\n' && *in != '\r')); in++) {
            if (quote && *in == quote)
                quote = 0;
            else if (!quote && (*in == '\'' || *in == '"'))
                quote = *in;
            else if (*in == '\\' && quote != '\'' && in[1])
                *out++ = *++in;
            else
                *out++ = *in;
        }
        if (quote) {
            *err = "unterminated quote";
            return -1;
        }
        if (*in)
            in++;
        *out++ = '\0';
    }
}

/* The shell's global flags, to put in front of every line. */
static int global_args(const cli_t *cli, char **argv)
{
    const struct {
        const char *name;
        const char *value;
    } flags[] = {
        {"--server", cli->flags.server}, {"--ca", cli->flags.ca}, {"--cert", cli->flags.cert},
        {"--key", cli->flags.key}, {"--output", cli->flags.output}, {"--timeout", cli->flags.timeout},
        {"--columns", cli->flags.columns}, {"--context", cli->flags.context},
        {"--color", cli->flags.color},
    };
    int n = 0;
    argv[n++] = "branchctl";
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!flags[i].value)
            continue;
        argv[n++] = (char *)flags[i].name;
        argv[n++] = (char *)flags[i].value;
    }
    if (cli->out.no_headers)
        argv[n++] = "--no-headers";
    return n;
}

/* ~/.branchctl_history, or NULL. */
static char *history_path(void)
{
    const char *home = getenv("HOME");
    char *path = NULL;
    if (!home || !home[0] || asprintf(&path, "%s/.branchctl_history", home) < 0)
        return NULL;
    return path;
}

/* The next line, or NULL at the end: with a prompt on a terminal, else plainly. */
static char *next_line(bool tty)
{
    if (tty)
        return readline("branchctl> ");
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, stdin) < 0) {
        free(line);
        return NULL;
    }
    return line;
}

/* Runs one line; the exit code of its command (0 for an empty line). */
static int run_line(const cli_t *cli, char *line, bool *quit)
{
    char *argv[WORDS_MAX * 2 + 24];
    const char *err = NULL;
    int base = global_args(cli, argv);
    int n = split_words(line, argv + base, &err);
    if (n < 0)
        return cli_usage_error(cli, NULL, "%s", err);
    if (n == 0)
        return 0;
    if (strcmp(argv[base], "exit") == 0 || strcmp(argv[base], "quit") == 0) {
        *quit = true;
        return 0;
    }
    if (strcmp(argv[base], "shell") == 0)
        return cli_usage_error(cli, NULL, "already in the shell");
    argv[base + n] = NULL;
    int rc = cli_main(base + n, argv);
    fflush(stdout);
    return rc;
}

int cmd_shell(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    args_t args;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc != 0)
        return rc;
    bool tty = isatty(STDIN_FILENO);
    char *hist = tty ? history_path() : NULL;
    if (hist) {
        using_history();
        stifle_history(HISTORY_MAX);
        read_history(hist);
    }
    bool quit = false;
    char *line;
    while (!quit && (line = next_line(tty))) {
        if (tty && line[strspn(line, " \t")])
            add_history(line);
        rc = run_line(cli, line, &quit);
        if (tty && rc != 0)
            fprintf(stderr, "(exit %d)\n", rc);
        free(line);
    }
    if (tty && !line)
        fputc('\n', stdout);
    if (hist && write_history(hist) != 0)
        fprintf(stderr, "branchctl: cannot write history %s: %s\n", hist, strerror(errno));
    free(hist);
    /* Piped: the last command's code, so that a script can tell. */
    return tty ? BLC_EXIT_OK : rc;
}
