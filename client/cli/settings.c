#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "blclient.h"

#define TIMEOUT_MAX_MS 86400000L

enum { KEY_SERVER, KEY_CA, KEY_CERT, KEY_KEY, KEY_COUNT };

static const struct {
    const char *name;  /* in the config file */
    const char *env;
    int is_path;
} KEYS[KEY_COUNT] = {
    [KEY_SERVER] = {"server", "BRANCHLINE_SERVER", 0},
    [KEY_CA] = {"ca", "BRANCHLINE_CA", 1},
    [KEY_CERT] = {"cert", "BRANCHLINE_CERT", 1},
    [KEY_KEY] = {"key", "BRANCHLINE_KEY", 1},
};

static char **slot(settings_t *s, int key)
{
    switch (key) {
    case KEY_SERVER: return &s->server;
    case KEY_CA: return &s->ca;
    case KEY_CERT: return &s->cert;
    default: return &s->key;
    }
}

static const char *flag_value(const settings_flags_t *flags, int key)
{
    switch (key) {
    case KEY_SERVER: return flags->server;
    case KEY_CA: return flags->ca;
    case KEY_CERT: return flags->cert;
    default: return flags->key;
    }
}

/* Replaces a setting with a copy of value; "" unsets it. 0, or -1 out of memory. */
static int set_value(settings_t *s, int key, const char *dir, const char *value)
{
    char *copy = NULL;
    if (value[0] && KEYS[key].is_path && dir && value[0] != '/') {
        if (asprintf(&copy, "%s/%s", dir, value) < 0)
            return -1;
    } else if (value[0] && !(copy = strdup(value))) {
        return -1;
    }
    free(*slot(s, key));
    *slot(s, key) = copy;
    return 0;
}

typedef struct {
    settings_t *s;
    const char *dir;  /* the config file's folder */
    char err[160];
} config_ctx_t;

static int on_config(void *user, const char *section, const char *name, const char *value)
{
    config_ctx_t *ctx = user;
    if (section[0] != '\0' && strcmp(section, "default") != 0)
        return 1;  /* other sections are for other profiles */
    for (int key = 0; key < KEY_COUNT; key++) {
        if (strcmp(name, KEYS[key].name) != 0)
            continue;
        if (set_value(ctx->s, key, ctx->dir, value) == 0)
            return 1;
        snprintf(ctx->err, sizeof ctx->err, "out of memory");
        return 0;
    }
    snprintf(ctx->err, sizeof ctx->err, "unknown key '%s' (known: server, ca, cert, key)", name);
    return 0;
}

/* $XDG_CONFIG_HOME/branchline/config or ~/.config/branchline/config; NULL if neither. */
static char *config_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char *path = NULL;
    int rc = -1;
    if (xdg && xdg[0] == '/')  /* the XDG spec says to ignore relative paths */
        rc = asprintf(&path, "%s/branchline/config", xdg);
    else if (home && home[0])
        rc = asprintf(&path, "%s/.config/branchline/config", home);
    return rc < 0 ? NULL : path;
}

static int read_config(settings_t *s, char *err, size_t errlen)
{
    int rc = -1;
    char *path = config_path(), *dir = NULL;
    FILE *f = NULL;
    config_ctx_t ctx = {.s = s};
    if (!path)
        return 0;
    f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = 0;
        else
            snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        goto out;
    }
    dir = strdup(path);
    if (!dir) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    *strrchr(dir, '/') = '\0';
    ctx.dir = dir;
    int line = ini_parse_file(f, on_config, &ctx);
    if (line != 0) {
        snprintf(err, errlen, "config file %s line %d: %s", path, line,
                 line < 0 ? "out of memory" : ctx.err[0] ? ctx.err : "syntax error");
        goto out;
    }
    rc = 0;
out:
    if (f)
        fclose(f);
    free(dir);
    free(path);
    return rc;
}

static int parse_timeout(const char *text, int *timeout_ms)
{
    char *end = NULL;
    errno = 0;
    long ms = strtol(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || errno || ms < 1 || ms > TIMEOUT_MAX_MS)
        return -1;
    *timeout_ms = (int)ms;
    return 0;
}

static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
    if (!path || access(path, R_OK) == 0)
        return 0;
    snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
    return -1;
}

static int check(const settings_t *s, char *err, size_t errlen)
{
    if (blc_check_server(s->server, err, errlen) < 0)
        return -1;
    if (!s->ca) {
        snprintf(err, errlen, "no CA certificate: use --ca FILE, BRANCHLINE_CA, or 'ca' "
                 "in $XDG_CONFIG_HOME/branchline/config");
        return -1;
    }
    if (s->key && !s->cert) {
        snprintf(err, errlen, "a client key needs a client certificate (--cert)");
        return -1;
    }
    if (check_readable("CA file", s->ca, err, errlen) < 0 ||
        check_readable("client certificate", s->cert, err, errlen) < 0 ||
        check_readable("client key", s->key, err, errlen) < 0)
        return -1;
    return 0;
}

int settings_resolve(settings_t *s, const settings_flags_t *flags, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);  /* timeout_ms 0: the library's default */
    if (read_config(s, err, errlen) < 0)
        goto fail;
    for (int key = 0; key < KEY_COUNT; key++) {
        const char *env = getenv(KEYS[key].env);
        const char *value = flag_value(flags, key);
        if (!value && env && env[0])
            value = env;
        if (value && set_value(s, key, NULL, value) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (!s->server && set_value(s, KEY_SERVER, NULL, SETTINGS_DEFAULT_SERVER) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (flags->timeout && parse_timeout(flags->timeout, &s->timeout_ms) < 0) {
        snprintf(err, errlen, "invalid --timeout '%s': milliseconds, 1 to %ld",
                 flags->timeout, TIMEOUT_MAX_MS);
        goto fail;
    }
    if (check(s, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    settings_release(s);
    return -1;
}

void settings_release(settings_t *s)
{
    free(s->server);
    free(s->ca);
    free(s->cert);
    free(s->key);
    s->server = s->ca = s->cert = s->key = NULL;
}
