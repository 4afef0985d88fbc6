/*
 * branchctl completion bash: a completion script generated from the command
 * table, so that every command, flag and choice the table knows completes,
 * and nothing else. Unit paths come from the daemon (unit list) when a
 * parameter is a path (PATH, BRANCH, NEWPARENT); FILE and PLANFILE complete
 * files; KIND, FUNCTION, ROLE and the like complete their vocabularies.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "blclient.h"
#include "commands.h"

/* Global flags that take a value, and their completions. */
static const char *const GLOBAL_VALUE_FLAGS[] = {"--server", "--ca", "--cert", "--key", "-o", "--output",
                                                 "--timeout", "--columns", "--context", "--color",
                                                 NULL};
static const char GLOBAL_SWITCHES[] = "--help --version --no-headers";

/* The completion function for a parameter's value, by its meta or name. */
static const char *completer(const char *what)
{
    static const struct {
        const char *what;
        const char *fn;
    } map[] = {
        {"PATH", "_branchctl_units"}, {"BRANCH", "_branchctl_units"}, {"NEWPARENT", "_branchctl_units"},
        {"FILE", "_branchctl_files"}, {"PLANFILE", "_branchctl_files"},
        {"KIND", "_branchctl_words 'group region product_line city branch'"},
        {"FUNCTION", "_branchctl_words 'promotion customer_service sales support'"},
        {"ROLE", "_branchctl_words 'manager supervisor planner technician content_creator promoter "
                 "consultant salesperson editor admin unit_admin branch viewer'"},
        {"STATUS", "_branchctl_words 'left on_leave'"},
        {"POLICY", "_branchctl_words 'weighted least_loaded performance project_lead'"},
        {"C", "_branchctl_words 'search brand_zone forum social email referral website content other'"},
        {"S", "_branchctl_words 'allocated contacted won lost unroutable waiting'"},
        {"day|week|month", "_branchctl_words 'day week month'"},
        {"SHELL", "_branchctl_words 'bash zsh'"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].what, what) == 0)
            return map[i].fn;
    return ":";
}

static void put_prelude(FILE *out)
{
    fputs("_branchctl_words() { COMPREPLY=($(compgen -W \"$1\" -- \"$cur\")); }\n"
          "_branchctl_files() { COMPREPLY=($(compgen -f -- \"$cur\")); compopt -o filenames 2>/dev/null; }\n"
          "_branchctl_units() {\n"
          "    local paths\n"
          "    paths=$(\"${COMP_WORDS[0]}\" ${_branchctl_ctx:+--context \"$_branchctl_ctx\"} -o csv --no-headers \\\n"
          "            --columns path unit list 2>/dev/null | tr -d '\\r')\n"
          "    COMPREPLY=($(compgen -W \"$paths\" -- \"$cur\"))\n"
          "}\n", out);
}

/* "|unit|unit add|...|": every command and every prefix of one. */
static void put_known(FILE *out)
{
    char name[128];
    fputs("_branchctl_known='|", out);
    COMMANDS_FOREACH(group, cmd)
        for (int n = 1; n <= command_word_count(cmd); n++) {
            commands_join(n, cmd->words, name, sizeof name);
            fprintf(out, "%s|", name);
        }
    fputs("'\n", out);
}

/* The words that may follow the n words of prefix (argv), each once. */
static void put_next_words(FILE *out, int n, char **prefix)
{
    const char *seen[256];
    size_t nseen = 0;
    COMMANDS_FOREACH(group, cmd) {
        if (command_word_count(cmd) <= n || !command_has_prefix(cmd, n, prefix))
            continue;
        bool dup = false;
        for (size_t i = 0; i < nseen; i++)
            dup |= strcmp(seen[i], cmd->words[n]) == 0;
        if (dup || nseen == sizeof seen / sizeof seen[0])
            continue;
        seen[nseen++] = cmd->words[n];
        fprintf(out, "%s%s", nseen > 1 ? " " : "", cmd->words[n]);
    }
}

/* The case of one command: its flags' values, its flags, its positionals. */
static void put_command(FILE *out, const command_t *cmd)
{
    char name[128];
    commands_join(command_word_count(cmd), cmd->words, name, sizeof name);
    fprintf(out, "    '%s')\n        case $prev in\n", name);
    for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++) {
        const param_t *p = &cmd->params[i];
        if (param_is_flag(p) && p->meta)
            fprintf(out, "        %s) %s; return ;;\n", p->name, completer(p->meta));
    }
    fputs("        esac\n        if [[ $cur == -* ]]; then _branchctl_words '--help", out);
    for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++)
        if (param_is_flag(&cmd->params[i]))
            fprintf(out, " %s", cmd->params[i].name);
    fputs("'; return; fi\n        case $npos in\n", out);
    int k = 0;
    for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++)
        if (!param_is_flag(&cmd->params[i]))
            fprintf(out, "        %d) %s ;;\n", k++, completer(cmd->params[i].name));
    fputs("        esac ;;\n", out);
}

static void put_groups(FILE *out)
{
    char *prefix[COMMAND_WORDS_MAX];
    char name[128];
    fputs("    '') _branchctl_words '", out);
    put_next_words(out, 0, prefix);
    fputs("' ;;\n", out);
    /* A group (a prefix that is no command itself) lists what follows it. */
    COMMANDS_FOREACH(group, cmd)
        for (int n = 1; n < command_word_count(cmd); n++) {
            int used = 0;
            for (int i = 0; i < n; i++)
                prefix[i] = (char *)cmd->words[i];
            if (commands_find(n, prefix, &used) && used == n)
                continue;
            /* first command of the group only: one case per group */
            bool first = true;
            COMMANDS_FOREACH(g2, c2) {
                if (c2 == cmd)
                    break;
                if (command_word_count(c2) > n && command_has_prefix(c2, n, prefix))
                    first = false;
            }
            if (!first)
                continue;
            commands_join(n, cmd->words, name, sizeof name);
            fprintf(out, "    '%s') _branchctl_words '", name);
            put_next_words(out, n, prefix);
            fputs("' ;;\n", out);
        }
}

static void put_function(FILE *out)
{
    fputs("_branchctl() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    local cmd='' npos=0 i w _branchctl_ctx=''\n"
          "    COMPREPLY=()\n"
          "    case $prev in\n"
          "    --ca|--cert|--key) _branchctl_files; return ;;\n"
          "    -o|--output) _branchctl_words 'table json yaml csv'; return ;;\n"
          "    --color) _branchctl_words 'auto always never'; return ;;\n"
          "    --context) _branchctl_words \"$(\"${COMP_WORDS[0]}\" -o csv --no-headers config get-contexts 2>/dev/null | cut -d, -f2)\"; return ;;\n"
          "    --server|--timeout|--columns) return ;;\n"
          "    esac\n"
          "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
          "        w=${COMP_WORDS[i]}\n"
          "        case $w in\n", out);
    fputs("        ", out);
    for (int i = 0; GLOBAL_VALUE_FLAGS[i]; i++)
        fprintf(out, "%s%s", i ? "|" : "", GLOBAL_VALUE_FLAGS[i]);
    fputs(")\n"
          "            [[ $w == --context ]] && _branchctl_ctx=${COMP_WORDS[i+1]}\n"
          "            ((i++)) ;;\n"
          "        -*) [[ ${COMP_WORDS[i+1]} != -* && $w != --*=* && $_branchctl_switches != *\" $w \"* ]] && ((i++)) ;;\n"
          "        *)\n"
          "            if [[ $npos == 0 && $_branchctl_known == *\"|${cmd:+$cmd }$w|\"* ]]; then\n"
          "                cmd=${cmd:+$cmd }$w\n"
          "            else\n"
          "                npos=$((npos + 1))\n"
          "            fi ;;\n"
          "        esac\n"
          "    done\n"
          "    if [[ $cur == -* && -z $cmd ]]; then\n"
          "        _branchctl_words '", out);
    for (int i = 0; GLOBAL_VALUE_FLAGS[i]; i++)
        fprintf(out, "%s ", GLOBAL_VALUE_FLAGS[i]);
    fprintf(out, "%s'\n        return\n    fi\n    case $cmd in\n", GLOBAL_SWITCHES);
    put_groups(out);
    COMMANDS_FOREACH(group, cmd)
        put_command(out, cmd);
    fputs("    esac\n}\n", out);
}

/* " --yes --prune ... ": every switch, which takes no value. */
static void put_switches(FILE *out)
{
    fprintf(out, "_branchctl_switches=' %s ", GLOBAL_SWITCHES);
    COMMANDS_FOREACH(group, cmd)
        for (int i = 0; i < COMMAND_PARAMS_MAX && cmd->params[i].name; i++)
            if (cmd->params[i].opts & PARAM_SWITCH)
                fprintf(out, "%s ", cmd->params[i].name);
    fputs("'\n", out);
}

int cmd_completion(const cli_t *cli, const command_t *cmd, int argc, char **argv)
{
    args_t args;
    int rc = args_parse(cli, cmd, argc, argv, &args);
    if (rc != 0)
        return rc;
    const char *shell = args_get(cmd, &args, "SHELL");
    if (strcmp(shell, "bash") != 0 && strcmp(shell, "zsh") != 0)
        return cli_usage_error(cli, cmd, "SHELL must be bash or zsh");
    printf("# %s completion for branchctl, generated by 'branchctl completion %s'.\n"
           "# Load it with: source <(branchctl completion %s)\n",
           shell, shell, shell);
    /* zsh runs the bash functions through its bash emulation (compgen,
     * complete, COMP_WORDS), so both shells share one script. */
    if (strcmp(shell, "zsh") == 0)
        fputs("autoload -U +X compinit && compinit -u\n"
              "autoload -U +X bashcompinit && bashcompinit\n",
              stdout);
    put_prelude(stdout);
    put_known(stdout);
    put_switches(stdout);
    put_function(stdout);
    fputs("complete -F _branchctl branchctl\n", stdout);
    return BLC_EXIT_OK;
}
