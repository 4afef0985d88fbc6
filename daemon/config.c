#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

typedef enum { OPT_STRING, OPT_INT } opt_type_t;

typedef struct {
    const char *name;
    opt_type_t type;
    size_t offset;
    const char *default_value;
    long min, max;  /* OPT_INT bounds */
    const char *help;
} option_t;

#define STR(field, def, help) {#field, OPT_STRING, offsetof(config_t, field), def, 0, 0, help}
#define INT(field, def, lo, hi, help) {#field, OPT_INT, offsetof(config_t, field), def, lo, hi, help}

static const option_t options[] = {
    STR(listen_address, "127.0.0.1", "address to listen on (IPv4 or IPv6 literal)"),
    INT(listen_port, "7443", 0, 65535, "TCP port; 0 picks a free one (see port_file)"),
    STR(port_file, "", "file the daemon writes its listening port to once ready"),
    STR(tls_cert, "", "server certificate chain (PEM)"),
    STR(tls_key, "", "server private key (PEM)"),
    STR(tls_ca, "", "CA bundle that client certificates must chain to (PEM)"),
    STR(tls_crl, "", "certificate revocation list(s) of the client CA (PEM); reloaded on SIGHUP"),
    STR(db_conninfo, "dbname=branchline", "libpq connection string of the daemon's role"),
    STR(db_read_conninfo, "", "libpq connection string of an optional read-only pool (e.g. a standby, target_session_attrs=prefer-standby) for lead list, lead stats and org export; none = all on db_conninfo"),
    STR(migrate_conninfo, "", "libpq connection string of the owner role for `migrate` (default: db_conninfo)"),
    INT(workers, "0", 0, 256, "worker threads, each with its own event loop; 0 = one per core"),
    INT(db_pool_size, "2", 1, 64, "database connections per worker"),
    INT(db_read_pool_size, "2", 1, 64, "read pool connections per worker (with db_read_conninfo)"),
    INT(db_read_failback_s, "30", 0, 86400, "an idle read pool connection on a primary this long is made anew, so it may reach a standby (after a failover); 0 = never"),
    INT(db_queue_max, "4096", 1, 1000000, "requests a worker queues while its database connections are busy"),
    INT(db_queue_per_conn, "64", 1, 1000000, "of those, requests of one client connection; beyond: RESOURCE_EXHAUSTED"),
    INT(db_statement_timeout_ms, "60000", 0, 86400000, "deadline of every database statement (statement_timeout, then the daemon's own); 0 = none"),
    INT(db_startup_timeout_ms, "30000", 0, 3600000, "how long start-up waits for the database"),
    INT(max_frame_size, "1048576", 64, 67108864, "largest frame accepted, in bytes"),
    INT(max_connections, "20000", 1, 1000000, "client connections held at once"),
    INT(max_inflight_per_conn, "256", 1, 65536, "requests in flight per connection before reading pauses"),
    INT(max_connections_per_identity, "1000", 1, 1000000, "connections one certificate subject may hold at once"),
    INT(tenant_rate_limit, "20000", 0, 10000000, "requests per second per tenant, all workers together; 0 = unlimited"),
    INT(tenant_rate_burst, "40000", 1, 10000000, "requests a tenant may send at once above its rate"),
    INT(handshake_rate_per_addr, "200", 0, 10000000, "new TLS handshakes per second from one source address, all workers together; 0 = unlimited"),
    INT(handshake_burst_per_addr, "1000", 1, 10000000, "handshakes one address may start at once above its rate"),
    INT(tls_ticket_key_period_s, "3600", 1, 604800, "TLS session tickets: a new key every this many seconds (and on SIGHUP); the old key still resumes for one more period"),
    INT(handshake_timeout_ms, "10000", 100, 600000, "TLS handshake must finish within this"),
    INT(frame_timeout_ms, "10000", 100, 600000, "a started frame must arrive whole within this"),
    INT(idle_timeout_ms, "300000", 1000, 86400000, "a connection with nothing in flight is closed after this"),
    INT(shutdown_timeout_ms, "10000", 0, 600000, "on SIGTERM, how long in-flight requests may take"),
    INT(cache_mb, "64", 0, 65536, "memory for cached organization reads, all workers together; 0 = no cache"),
    INT(sweep_interval_ms, "5000", 0, 3600000, "how often overdue and waiting leads are swept; 0 = never"),
    INT(sweep_batch, "500", 1, 100000, "leads one sweep handles at most"),
    STR(log_level, "info", "debug, info, warn or error"),
    STR(log_format, "text", "text (key=value) or json (one object a line)"),
    STR(http_address, "127.0.0.1", "address of the HTTP listener (/metrics, /livez, /readyz)"),
    INT(http_port, "-1", -1, 65535, "HTTP port; -1 = no HTTP listener, 0 = a free one (see http_port_file)"),
    STR(http_port_file, "", "file the daemon writes its HTTP port to once ready"),
    INT(http_tls, "0", 0, 1, "1 = HTTPS with tls_cert and tls_key (no client certificate asked)"),
    INT(http_max_body_bytes, "65536", 0, 16777216, "largest HTTP request body accepted (413 beyond)"),
    INT(http_max_inflight, "256", 1, 100000, "HTTP requests a worker serves at once (503 beyond)"),
    INT(http_timeout_ms, "10000", 1000, 600000, "an HTTP request must arrive whole within this"),
    STR(intake_address, "127.0.0.1", "address of the public web intake listener (HTTPS, POST /v1/intake/{token})"),
    INT(intake_port, "-1", -1, 65535, "web intake port; -1 = off, 0 = a free one (see intake_port_file)"),
    STR(intake_port_file, "", "file the daemon writes its web intake port to once ready"),
    INT(intake_max_body_bytes, "16384", 256, 1048576, "largest web intake body (413 beyond)"),
    INT(intake_timeout_ms, "5000", 500, 600000, "a web intake request must arrive whole (headers and body) within this"),
    INT(intake_rate_per_address, "30", 1, 1000000, "web intake requests per minute per client address (429 beyond)"),
    INT(intake_rate_per_source, "600", 1, 10000000, "web intake requests per minute per source (429 beyond)"),
    INT(intake_burst, "10", 1, 100000, "web intake requests an address or a source may make at once above its rate"),
    INT(intake_max_inflight_per_address, "4", 1, 10000, "web intake requests one address may have in flight (429 beyond)"),
    STR(intake_honeypot_field, "homepage", "a form field hidden from people: a submission that fills it is spam"),
    STR(intake_spool_path, "", "where web intake submissions wait while the database is down; \"\" = no spool (503)"),
    INT(intake_spool_max_kb, "65536", 1, 67108864, "largest spool in KiB; beyond it submissions get 503"),
    INT(intake_spool_max_age_s, "86400", 1, 31536000, "when the oldest spooled submission is this old, new ones get 503"),
};
#define OPTION_COUNT (sizeof options / sizeof options[0])

static const option_t *option_find(const char *name)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

int config_set(config_t *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    const option_t *opt = option_find(name);
    if (!opt) {
        snprintf(err, errlen, "unknown option '%s'", name);
        return -1;
    }
    void *slot = (char *)cfg + opt->offset;
    if (opt->type == OPT_STRING) {
        char *copy = strdup(value);
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(*(char **)slot);
        *(char **)slot = copy;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0') {
        snprintf(err, errlen, "option '%s': '%s' is not an integer", name, value);
        return -1;
    }
    if (v < opt->min || v > opt->max) {
        snprintf(err, errlen, "option '%s': %ld is outside %ld..%ld", name, v, opt->min, opt->max);
        return -1;
    }
    *(int *)slot = (int)v;
    return 0;
}

config_t *config_new(void)
{
    config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    char err[128];
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (config_set(cfg, options[i].name, options[i].default_value, err, sizeof err) != 0) {
            config_free(cfg);
            return NULL;
        }
    }
    return cfg;
}

void config_free(config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].type == OPT_STRING)
            free(*(char **)((char *)cfg + options[i].offset));
    free(cfg);
}

typedef struct {
    config_t *cfg;
    char *err;
    size_t errlen;
    int failed;
} ini_ctx_t;

static int ini_on_entry(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *ctx = user;
    if (section[0] != '\0' && strcmp(section, "branchd") != 0)
        return 1; /* other programs' sections are theirs */
    if (ctx->failed)
        return 0;
    if (config_set(ctx->cfg, name, value, ctx->err, ctx->errlen) != 0) {
        ctx->failed = 1;
        return 0;
    }
    return 1;
}

int config_load_file(config_t *cfg, const char *path, char *err, size_t errlen)
{
    char inner[256] = "";
    ini_ctx_t ctx = {cfg, inner, sizeof inner, 0};
    int rc = ini_parse(path, ini_on_entry, &ctx);
    if (rc == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s:%d: %s", path, rc, inner[0] ? inner : "syntax error");
        return -1;
    }
    return 0;
}

/* What a SIGHUP can change: everything read afresh on use, or re-applied by
 * reload.c. Any other option (listeners, threads, pools, the database,
 * memory sizes, and whatever is added without being listed here) needs a
 * restart. */
static const char *const reloadable_options[] = {
    "tls_cert", "tls_key", "tls_ca", "tls_crl", "max_frame_size", "max_connections",
    "max_inflight_per_conn", "tenant_rate_limit", "tenant_rate_burst", "handshake_timeout_ms",
    "tls_ticket_key_period_s",
    "frame_timeout_ms", "idle_timeout_ms", "shutdown_timeout_ms", "sweep_interval_ms",
    "sweep_batch", "log_level", "log_format", "http_max_body_bytes", "http_max_inflight",
    "http_timeout_ms",
};

static int option_reloadable(const char *name)
{
    for (size_t i = 0; i < sizeof reloadable_options / sizeof *reloadable_options; i++)
        if (strcmp(reloadable_options[i], name) == 0)
            return 1;
    return 0;
}

int config_merge_reload(config_t *next, const config_t *cur,
                        void (*fn)(const char *name, int reloadable, void *arg), void *arg)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_t *o = &options[i];
        void *a = (char *)next + o->offset;
        const void *b = (const char *)cur + o->offset;
        bool same = o->type == OPT_STRING ? strcmp(*(char **)a, *(char *const *)b) == 0
                                          : *(int *)a == *(const int *)b;
        if (same)
            continue;
        int reloadable = option_reloadable(o->name);
        /* Turning the sweep on or off starts or stops a timer: a restart. */
        if (strcmp(o->name, "sweep_interval_ms") == 0 && (*(int *)a == 0) != (*(const int *)b == 0))
            reloadable = 0;
        fn(o->name, reloadable, arg);
        if (reloadable)
            continue;
        if (o->type == OPT_INT) {
            *(int *)a = *(const int *)b;
        } else {
            char *copy = strdup(*(char *const *)b);
            if (!copy)
                return -1;
            free(*(char **)a);
            *(char **)a = copy;
        }
    }
    return 0;
}

static int readable(const char *what, const char *path, char *err, size_t errlen)
{
    if (path[0] == '\0') {
        snprintf(err, errlen, "option '%s' is required", what);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "option '%s': cannot read %s: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

int config_validate(const config_t *cfg, int need_tls, char *err, size_t errlen)
{
    log_level_t level;
    if (log_level_parse(cfg->log_level, &level) != 0) {
        snprintf(err, errlen, "option 'log_level': '%s' is not debug, info, warn or error", cfg->log_level);
        return -1;
    }
    log_format_t format;
    if (log_format_parse(cfg->log_format, &format) != 0) {
        snprintf(err, errlen, "option 'log_format': '%s' is not text or json", cfg->log_format);
        return -1;
    }
    if (!need_tls)
        return 0;
    if (readable("tls_cert", cfg->tls_cert, err, errlen) ||
        readable("tls_key", cfg->tls_key, err, errlen) ||
        readable("tls_ca", cfg->tls_ca, err, errlen) ||
        (cfg->tls_crl[0] && readable("tls_crl", cfg->tls_crl, err, errlen)))
        return -1;
    return 0;
}

void config_print_options(FILE *out)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", options[i].name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-28s %s (default: %s)\n", flag, options[i].help,
                options[i].default_value[0] ? options[i].default_value : "none");
    }
}

void config_log(const config_t *cfg)
{
    log_info("config", "listen=%s:%d workers=%d db_pool_size=%d read_pool=%s max_connections=%d "
             "max_frame_size=%d handshake_timeout_ms=%d frame_timeout_ms=%d idle_timeout_ms=%d",
             cfg->listen_address, cfg->listen_port, cfg->workers, cfg->db_pool_size,
             cfg->db_read_conninfo[0] ? "on" : "off",
             cfg->max_connections, cfg->max_frame_size, cfg->handshake_timeout_ms,
             cfg->frame_timeout_ms, cfg->idle_timeout_ms);
}
