/*
 * The configuration files, over arbitrary bytes: branchd's INI file
 * (config_load_file, which sets each option through config_set, then
 * config_validate) and branchctl's settings file (settings_resolve reads
 * $XDG_CONFIG_HOME/branchline/config and then checks the server address it
 * found; settings_contexts lists its contexts; settings_use_context rewrites
 * its current-context line). All read files by path, so each input is
 * written to one temp file that all read.
 *
 * Invariants: a failure always says why, a loaded configuration keeps its
 * numbers inside their bounds, a context made current is the one the file
 * then selects, and nothing leaks either way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "settings.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static char dir[64];
static char path[128];

static void cleanup(void)
{
    unlink(path);
    char sub[96];
    snprintf(sub, sizeof sub, "%s/branchline", dir);
    rmdir(sub);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_DEBUG); /* run.sh closes the target's stderr */
    /* Memory-backed when possible: a file rewritten per input is the cost. */
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz_config.XXXXXX", tmp);
    CHECK(mkdtemp(dir) != NULL);
    char sub[96];
    snprintf(sub, sizeof sub, "%s/branchline", dir);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(path, sizeof path, "%s/config", sub);
    atexit(cleanup);
    /* Only the file may speak: no settings from this environment. */
    setenv("XDG_CONFIG_HOME", dir, 1);
    unsetenv("BRANCHLINE_SERVER");
    unsetenv("BRANCHLINE_CA");
    unsetenv("BRANCHLINE_CERT");
    unsetenv("BRANCHLINE_KEY");
    unsetenv("BRANCHLINE_TENANT");
    unsetenv("BRANCHLINE_CONTEXT");
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    /* A new file rather than a truncated one: ext4 flushes a file that was
     * truncated and rewritten when it is closed. */
    unlink(path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, size, f) == size);
    CHECK(fclose(f) == 0);
}

static void check_daemon_config(void)
{
    char err[512] = "";
    config_t *cfg = config_new();
    CHECK(cfg != NULL);
    if (config_load_file(cfg, path, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
    } else {
        CHECK(cfg->listen_port >= 0 && cfg->listen_port <= 65535);
        CHECK(cfg->max_frame_size >= 64 && cfg->max_frame_size <= 67108864);
        CHECK(cfg->workers >= 0 && cfg->workers <= 256);
        CHECK(cfg->listen_address && cfg->db_conninfo && cfg->log_level);
        err[0] = '\0';
        if (config_validate(cfg, 1, err, sizeof err) != 0)
            CHECK(err[0] != '\0');
        config_log(cfg);
    }
    config_free(cfg);
}

static void check_cli_settings(void)
{
    settings_flags_t flags;
    settings_t s;
    char err[512] = "";
    memset(&flags, 0, sizeof flags);
    if (settings_resolve(&s, &flags, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
        CHECK(!s.server && !s.ca && !s.cert && !s.key && !s.tenant);
        return;
    }
    CHECK(s.server && s.ca);
    settings_release(&s);
}

/* The name of the context settings_contexts marks current, or NULL; *first:
 * the first context's name. Both owned by the caller. */
static char *current_context(char **first)
{
    settings_flags_t flags;
    char err[512] = "";
    memset(&flags, 0, sizeof flags);
    *first = NULL;
    json_t *list = settings_contexts(&flags, err, sizeof err);
    if (!list) {
        CHECK(err[0] != '\0');
        return NULL;
    }
    char *current = NULL;
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row) {
        const char *name = json_string_value(json_object_get(row, "name"));
        const char *mark = json_string_value(json_object_get(row, "current"));
        CHECK(name && mark);
        if (i == 0)
            CHECK((*first = strdup(name)) != NULL);
        if (strcmp(mark, "*") == 0) {
            CHECK(current == NULL); /* one current context at most */
            CHECK((current = strdup(name)) != NULL);
        }
    }
    json_decref(list);
    return current;
}

/* Makes the first context current: afterwards the file must select it. */
static void check_use_context(void)
{
    char *first = NULL;
    free(current_context(&first));
    if (!first)
        return;
    char err[512] = "";
    if (settings_use_context(first, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
    } else {
        char *again = NULL;
        char *now = current_context(&again);
        CHECK(now && strcmp(now, first) == 0);
        free(now);
        free(again);
    }
    free(first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    check_daemon_config();
    check_cli_settings();
    check_use_context(); /* last: it rewrites the file */
    return 0;
}
