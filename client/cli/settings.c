#include "settings.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "blclient.h"

#define TIMEOUT_MAX_MS 86400000L
#define CONTEXT_PREFIX "context "
#define CURRENT_KEY "current-context"
#define SECTIONS_MAX 256

enum { KEY_SERVER, KEY_CA, KEY_CERT, KEY_KEY, KEY_TENANT, KEY_COUNT };

static const struct {
    const char *name;  /* in the config file */
    const char *env;
    int is_path;
} KEYS[KEY_COUNT] = {
    [KEY_SERVER] = {"server", "BRANCHLINE_SERVER", 0},
    [KEY_CA] = {"ca", "BRANCHLINE_CA", 1},
    [KEY_CERT] = {"cert", "BRANCHLINE_CERT", 1},
    [KEY_KEY] = {"key", "BRANCHLINE_KEY", 1},
    [KEY_TENANT] = {"tenant", "BRANCHLINE_TENANT", 0},
};

/* One section of the file: the top level and [default] (name NULL), or a context. */
typedef struct {
    char *name;
    char *value[KEY_COUNT];
} section_t;

typedef struct {
    char *path;
    char *dir;
    char *current;  /* current-context, or NULL */
    section_t sections[SECTIONS_MAX];  /* [0]: the top level */
    size_t n;
    char err[160];
} config_t;

static char **slot(settings_t *s, int key)
{
    switch (key) {
    case KEY_SERVER: return &s->server;
    case KEY_CA: return &s->ca;
    case KEY_CERT: return &s->cert;
    case KEY_KEY: return &s->key;
    default: return &s->tenant;
    }
}

static const char *flag_value(const settings_flags_t *flags, int key)
{
    switch (key) {
    case KEY_SERVER: return flags->server;
    case KEY_CA: return flags->ca;
    case KEY_CERT: return flags->cert;
    case KEY_KEY: return flags->key;
    default: return NULL;
    }
}

/* A copy of value, made absolute against dir when it is a path; "" is NULL. -1: out of memory. */
static int copy_value(char **dst, int key, const char *dir, const char *value)
{
    char *copy = NULL;
    if (value[0] && KEYS[key].is_path && dir && value[0] != '/') {
        if (asprintf(&copy, "%s/%s", dir, value) < 0)
            return -1;
    } else if (value[0] && !(copy = strdup(value))) {
        return -1;
    }
    free(*dst);
    *dst = copy;
    return 0;
}

/* ---- the config file ------------------------------------------------------------ */

static section_t *section_for(config_t *c, const char *name)
{
    if (name[0] == '\0' || strcmp(name, "default") == 0)
        return &c->sections[0];
    if (strncmp(name, CONTEXT_PREFIX, strlen(CONTEXT_PREFIX)) != 0)
        return NULL;  /* other sections are for other programs */
    name += strlen(CONTEXT_PREFIX);
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->sections[i].name, name) == 0)
            return &c->sections[i];
    if (c->n == SECTIONS_MAX || !(c->sections[c->n].name = strdup(name)))
        return NULL;
    return &c->sections[c->n++];
}

static int on_config(void *user, const char *section, const char *name, const char *value)
{
    config_t *c = user;
    if (section[0] == '\0' && (strcmp(name, CURRENT_KEY) == 0 || strcmp(name, "current_context") == 0)) {
        free(c->current);
        if ((c->current = strdup(value)))
            return 1;
        snprintf(c->err, sizeof c->err, "out of memory");
        return 0;
    }
    section_t *sec = section_for(c, section);
    if (!sec)
        return strncmp(section, CONTEXT_PREFIX, strlen(CONTEXT_PREFIX)) == 0 ? 0 : 1;
    for (int key = 0; key < KEY_COUNT; key++) {
        if (strcmp(name, KEYS[key].name) != 0)
            continue;
        if (copy_value(&sec->value[key], key, c->dir, value) == 0)
            return 1;
        snprintf(c->err, sizeof c->err, "out of memory");
        return 0;
    }
    snprintf(c->err, sizeof c->err, "unknown key '%s' (known: server, ca, cert, key, tenant%s)", name,
             section[0] ? "" : ", " CURRENT_KEY);
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

static void config_free(config_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->sections[i].name);
        for (int key = 0; key < KEY_COUNT; key++)
            free(c->sections[i].value[key]);
    }
    free(c->current);
    free(c->path);
    free(c->dir);
    free(c);
}

/* The file parsed (no file: no contexts). NULL with err. */
static config_t *config_read(char *err, size_t errlen)
{
    config_t *c = calloc(1, sizeof *c);
    FILE *f = NULL;
    if (!c || !(c->path = config_path()) || !(c->dir = strdup(c->path))) {
        snprintf(err, errlen, c && !c->path ? "no config file: neither XDG_CONFIG_HOME nor HOME is set"
                                            : "out of memory");
        goto fail;
    }
    *strrchr(c->dir, '/') = '\0';
    c->n = 1;
    if (!(f = fopen(c->path, "r"))) {
        if (errno == ENOENT || errno == ENOTDIR)
            return c;
        snprintf(err, errlen, "cannot read config file %s: %s", c->path, strerror(errno));
        goto fail;
    }
    int line = ini_parse_file(f, on_config, c);
    fclose(f);
    if (line != 0) {
        snprintf(err, errlen, "config file %s line %d: %s", c->path, line,
                 line < 0 ? "out of memory" : c->err[0] ? c->err : "syntax error (or too many contexts)");
        goto fail;
    }
    return c;
fail:
    if (c)
        config_free(c);
    return NULL;
}

static const section_t *context_named(const config_t *c, const char *name)
{
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->sections[i].name, name) == 0)
            return &c->sections[i];
    return NULL;
}

/* --context, else BRANCHLINE_CONTEXT, else current-context; NULL for none. */
static const char *selected_context(const config_t *c, const settings_flags_t *flags)
{
    const char *env = getenv("BRANCHLINE_CONTEXT");
    if (flags->context)
        return flags->context;
    if (env && env[0])
        return env;
    return c->current;
}

static void context_names(const config_t *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 1; i < c->n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i > 1 ? ", " : "", c->sections[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (c->n == 1)
        snprintf(buf, len, "none");
}

/* ---- resolving ------------------------------------------------------------------- */

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

int settings_check_key_mode(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot read client key %s: %s", path, strerror(errno));
        return -1;
    }
    if ((st.st_mode & 077) == 0)
        return 0;
    snprintf(err, errlen, "client key %s is open to its group or others (mode %04o): a private key must "
             "be readable by its owner only; run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
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
    /* Without --key the key is read from the certificate file. */
    const char *key = s->key ? s->key : s->cert;
    return key ? settings_check_key_mode(key, err, errlen) : 0;
}

/* The file's top level, then the selected context over it. */
static int apply_config(settings_t *s, const settings_flags_t *flags, char *err, size_t errlen)
{
    config_t *c = config_read(err, errlen);
    if (!c)
        return -1;
    const char *name = selected_context(c, flags);
    const section_t *ctx = name ? context_named(c, name) : NULL;
    int rc = 0;
    if (name && !ctx) {
        char names[256];
        context_names(c, names, sizeof names);
        snprintf(err, errlen, "no context '%s' in %s (contexts: %s)", name, c->path, names);
        rc = -1;
    }
    for (int key = 0; rc == 0 && key < KEY_COUNT; key++) {
        const char *v = ctx && ctx->value[key] ? ctx->value[key] : c->sections[0].value[key];
        if (v && copy_value(slot(s, key), key, NULL, v) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    config_free(c);
    return rc;
}

/* "sessions" beside the config file, unless BRANCHLINE_SESSION_CACHE=off. */
static int session_dir(settings_t *s, char *err, size_t errlen)
{
    const char *env = getenv("BRANCHLINE_SESSION_CACHE");
    if (env && strcmp(env, "off") == 0)
        return 0;
    if (env && env[0] && strcmp(env, "on") != 0) {
        snprintf(err, errlen, "invalid BRANCHLINE_SESSION_CACHE '%s': on or off", env);
        return -1;
    }
    char *path = config_path();
    if (!path)
        return 0; /* no HOME: nowhere to keep them */
    *strrchr(path, '/') = '\0';
    int rc = asprintf(&s->session_dir, "%s/sessions", path);
    free(path);
    if (rc < 0) {
        s->session_dir = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int settings_resolve(settings_t *s, const settings_flags_t *flags, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);  /* timeout_ms 0: the library's default */
    if (apply_config(s, flags, err, errlen) < 0)
        goto fail;
    for (int key = 0; key < KEY_COUNT; key++) {
        const char *env = getenv(KEYS[key].env);
        const char *value = flag_value(flags, key);
        if (!value && env && env[0])
            value = env;
        if (value && copy_value(slot(s, key), key, NULL, value) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (!s->server && copy_value(&s->server, KEY_SERVER, NULL, SETTINGS_DEFAULT_SERVER) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (flags->timeout && parse_timeout(flags->timeout, &s->timeout_ms) < 0) {
        snprintf(err, errlen, "invalid --timeout '%s': milliseconds, 1 to %ld",
                 flags->timeout, TIMEOUT_MAX_MS);
        goto fail;
    }
    if (check(s, err, errlen) < 0 || session_dir(s, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    settings_release(s);
    return -1;
}

void settings_release(settings_t *s)
{
    free(s->session_dir);
    s->session_dir = NULL;
    for (int key = 0; key < KEY_COUNT; key++) {
        free(*slot(s, key));
        *slot(s, key) = NULL;
    }
}

/* ---- config get-contexts, use-context ---------------------------------------------- */

json_t *settings_contexts(const settings_flags_t *flags, char *err, size_t errlen)
{
    config_t *c = config_read(err, errlen);
    json_t *list = c ? json_array() : NULL;
    if (!c)
        return NULL;
    const char *selected = selected_context(c, flags);
    for (size_t i = 1; list && i < c->n; i++) {
        const section_t *sec = &c->sections[i];
        json_t *row = json_pack("{s:s, s:s}", "current", selected && strcmp(selected, sec->name) == 0 ? "*" : "",
                                "name", sec->name);
        for (int key = 0; row && key < KEY_COUNT; key++)
            if (json_object_set_new(row, KEYS[key].name, json_string(sec->value[key] ? sec->value[key] : "")) != 0) {
                json_decref(row);
                row = NULL;
            }
        if (!row || json_array_append_new(list, row) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (!list)
        snprintf(err, errlen, "out of memory");
    config_free(c);
    return list;
}

/* The file with its current-context line replaced (or added first). NULL: out of memory. */
static char *with_current(const char *text, const char *name)
{
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    if (!m)
        return NULL;
    int done = 0, in_section = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        const char *line = p + strspn(p, " \t");
        in_section |= *line == '[';
        if (!done && !in_section &&
            (strncmp(line, CURRENT_KEY, strlen(CURRENT_KEY)) == 0 || strncmp(line, "current_context", 15) == 0)) {
            fprintf(m, "%s = %s\n", CURRENT_KEY, name);
            done = 1;
        } else {
            fwrite(p, 1, n, m);
            fputc('\n', m);
        }
        p += n + (p[n] == '\n');
    }
    fclose(m);
    if (done)
        return out;
    char *first = NULL;
    if (asprintf(&first, "%s = %s\n%s", CURRENT_KEY, name, out) < 0)
        first = NULL;
    free(out);
    return first;
}

/* Whether text, read as the config file, selects context name. with_current
 * knows the plain "current-context = x" line only; the INI grammar has other
 * ways to set the key (a continuation line, a later duplicate; a byte order
 * mark then starts the second line), and a name with spaces at its ends does
 * not read back. */
static bool selects(const char *text, const char *name)
{
    config_t *c = calloc(1, sizeof *c);
    bool ok = false;
    if (c) {
        c->n = 1;
        ok = ini_parse_string(text, on_config, c) == 0 && c->current && strcmp(c->current, name) == 0;
        config_free(c);
    }
    return ok;
}

int settings_use_context(const char *name, char *err, size_t errlen)
{
    config_t *c = config_read(err, errlen);
    char *text = NULL, *updated = NULL, *tmp = NULL;
    int rc = -1;
    if (!c)
        return -1;
    if (!context_named(c, name)) {
        char names[256];
        context_names(c, names, sizeof names);
        snprintf(err, errlen, "no context '%s' in %s (contexts: %s)", name, c->path, names);
        goto out;
    }
    FILE *f = fopen(c->path, "r");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", c->path, strerror(errno));
        if (f)
            fclose(f);
        goto out;
    }
    text = calloc(1, (size_t)st.st_size + 1);
    size_t got = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    /* with_current works on C strings: rewriting would drop all after a NUL byte. */
    if (text && got == (size_t)st.st_size && memchr(text, '\0', got)) {
        snprintf(err, errlen, "%s contains a NUL byte; not rewriting it", c->path);
        goto out;
    }
    if (!text || got != (size_t)st.st_size || !(updated = with_current(text, name)) ||
        asprintf(&tmp, "%s.tmp", c->path) < 0) {
        tmp = NULL;
        snprintf(err, errlen, "cannot read %s, or out of memory", c->path);
        goto out;
    }
    if (!selects(updated, name)) {
        snprintf(err, errlen, "cannot make '%s' current by rewriting %s: edit its current-context by hand",
                 name, c->path);
        goto out;
    }
    /* A new file renamed over the old one: a crash leaves one or the other whole. */
    f = fopen(tmp, "w");
    int ok = f && fchmod(fileno(f), st.st_mode & 07777) == 0 && fputs(updated, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, c->path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", c->path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(text);
    free(updated);
    free(tmp);
    config_free(c);
    return rc;
}
