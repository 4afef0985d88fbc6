/*
 * check_sql_sync DIR: fails when the pgbench scripts in DIR (tests/bench/sql)
 * drift from the statements branchd runs. For every blbench scenario with a
 * script, the script's one SQL statement, with each top-level argument's value
 * replaced by $1, $2, ... (named notation kept), must equal the statement the daemon prepares for
 * the scenario's operation (from its own dispatch table and registry), and
 * its first argument must be :subject. Every .sql file in DIR must belong to
 * a scenario.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_scenario.h"
#include "db_statements.h"
#include "dispatch.h"

#define SQL_MAX 8192

/* The SQL of a pgbench script: lines that are neither meta-commands nor
 * comments, joined with single spaces. */
static int script_sql(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    size_t n = 0;
    if (!f)
        return -1;
    out[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " \t");
        if (*p == '\\' || strncmp(p, "--", 2) == 0)
            continue;
        for (; *p && n + 2 < outlen; p++) {
            bool space = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
            if (space && (n == 0 || out[n - 1] == ' '))
                continue;
            out[n++] = space ? ' ' : *p;
        }
    }
    fclose(f);
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    return 0;
}

/* The ')' closing the '(' at open, skipping quoted text; NULL if none. */
static const char *closing(const char *open)
{
    int depth = 0;
    bool quoted = false;
    for (const char *p = open; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        else if (!quoted && *p == '(')
            depth++;
        else if (!quoted && *p == ')' && --depth == 0)
            return p;
    }
    return NULL;
}

/* The end of the top-level argument that starts at p: its ',' or end. */
static const char *arg_end(const char *p, const char *end)
{
    int depth = 0;
    bool quoted = false;
    for (; p < end; p++) {
        if (*p == '\'')
            quoted = !quoted;
        else if (!quoted && *p == '(')
            depth++;
        else if (!quoted && *p == ')')
            depth--;
        else if (!quoted && depth == 0 && *p == ',')
            break;
    }
    return p;
}

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

/* "p_x => value" -> name length (value in *value); 0 for a positional one. */
static size_t arg_name(char *arg, char **value)
{
    size_t n = strspn(arg, "abcdefghijklmnopqrstuvwxyz_0123456789");
    char *after = arg + n + strspn(arg + n, " ");
    if (n > 0 && strncmp(after, "=>", 2) == 0) {
        *value = trim(after + 2);
        return n;
    }
    *value = arg;
    return 0;
}

/* "SELECT ... api.f(p_subject => :subject, p_x => x) ...;" ->
 * "SELECT ... api.f(p_subject => $1, p_x => $2) ..." (names kept, values
 * numbered, as branchd binds them). */
static int normalize(const char *sql, char *out, size_t outlen, char *why, size_t whylen)
{
    char arg[SQL_MAX];
    size_t len = strlen(sql);
    const char *call = strstr(sql, "api.");
    const char *open = call ? call + 4 + strspn(call + 4, "abcdefghijklmnopqrstuvwxyz_0123456789") : NULL;
    const char *close = open && *open == '(' ? closing(open) : NULL;
    if (!close || len < 1 || strchr(sql, ';') != sql + len - 1) {
        snprintf(why, whylen, "expected one statement calling api.<op>(...), ending in ';': '%s'", sql);
        return -1;
    }
    int w = snprintf(out, outlen, "%.*s", (int)(open + 1 - sql), sql);
    const char *p = open + 1;
    for (int i = 1; w > 0 && (size_t)w < outlen; i++) {
        const char *e = arg_end(p, close);
        snprintf(arg, sizeof arg, "%.*s", (int)(e - p), p);
        char *a = trim(arg), *value;
        size_t name = arg_name(a, &value);
        if (i == 1 && strcmp(value, ":subject") != 0) {
            snprintf(why, whylen, "the first argument must be :subject (the certificate subject): '%s'", sql);
            return -1;
        }
        w += snprintf(out + w, outlen - (size_t)w, "%s%.*s%s$%d", i > 1 ? ", " : "", (int)name, a,
                      name ? " => " : "", i);
        if (e >= close)
            break;
        p = e + 1;
    }
    if (w > 0 && (size_t)w < outlen)
        w += snprintf(out + w, outlen - (size_t)w, "%.*s", (int)(sql + len - 1 - close), close);
    return w > 0 && (size_t)w < outlen ? 0 : -1;
}

static const char *daemon_sql(Branchline__V1__Request__OpCase op)
{
    const dispatch_entry_t *e = dispatch_lookup(op);
    if (!e || !e->sql || e->stmt < 0)
        return NULL;
    return stmt_def(e->stmt)->sql;
}

static int check_scenario(const char *dir, const scen_def_t *s)
{
    char path[1024], sql[SQL_MAX], norm[SQL_MAX], why[SQL_MAX + 128];
    const char *want = daemon_sql(s->op);
    snprintf(path, sizeof path, "%s/%s", dir, s->script);
    if (!want) {
        fprintf(stderr, "FAIL %s: branchd serves operation %d without an SQL statement\n", s->name, s->op);
        return 1;
    }
    if (script_sql(path, sql, sizeof sql) < 0) {
        fprintf(stderr, "FAIL %s: cannot read %s\n", s->name, path);
        return 1;
    }
    if (normalize(sql, norm, sizeof norm, why, sizeof why) < 0) {
        fprintf(stderr, "FAIL %s (%s): %s\n", s->name, s->script, why);
        return 1;
    }
    if (strcmp(norm, want) != 0) {
        fprintf(stderr, "FAIL %s (%s): the script runs\n  %s\nbut branchd runs\n  %s\n",
                s->name, s->script, norm, want);
        return 1;
    }
    printf("ok %s: %s\n", s->name, want);
    return 0;
}

static bool is_scenario_script(const char *name)
{
    for (int i = 0; i < SCEN_COUNT; i++)
        if (scen_defs[i].script && strcmp(scen_defs[i].script, name) == 0)
            return true;
    return false;
}

static int check_no_strays(const char *dir)
{
    DIR *d = opendir(dir);
    int failures = 0;
    if (!d) {
        fprintf(stderr, "FAIL cannot open %s\n", dir);
        return 1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0 && !is_scenario_script(e->d_name)) {
            fprintf(stderr, "FAIL %s/%s belongs to no blbench scenario\n", dir, e->d_name);
            failures++;
        }
    }
    closedir(d);
    return failures;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: check_sql_sync DIR\n");
        return 2;
    }
    if (dispatch_init() != 0) {
        fprintf(stderr, "FAIL dispatch_init\n");
        return 1;
    }
    int failures = check_no_strays(argv[1]);
    for (int i = 0; i < SCEN_COUNT; i++)
        if (scen_defs[i].script)
            failures += check_scenario(argv[1], &scen_defs[i]);
    stmt_registry_free();
    return failures ? 1 : 0;
}
