/*
 * branchd: start-up, command line, signals. Serving itself lives in
 * server.c (threads, loops, wiring), conn.c (transport), session.c
 * (protocol) and dispatch.c.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db_check.h"
#include "db_statements.h"
#include "dispatch.h"
#include "handlers/sql_call.h"
#include "health.h"
#include "http.h"
#include "intake/intake.h"
#include "log.h"
#include "metrics_core.h"
#include "metrics_scrape.h"
#include "migrate.h"
#include "notify.h"
#include "reload.h"
#include "tls_tickets.h"
#include "server.h"
#include "tls.h"

typedef enum { MODE_SERVE, MODE_MIGRATE, MODE_BOOTSTRAP, MODE_CHECK_CONFIG } mode_t_;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: branchd [serve] [--config FILE] [--OPTION VALUE ...]\n"
            "       branchd migrate [--dry-run] [--config FILE] [--conninfo CONNINFO]\n"
            "       branchd bootstrap-operator --subject SUBJECT [--config FILE] [--conninfo CONNINFO]\n"
            "       branchd --check-config --config FILE\n"
            "       branchd --help | --version\n"
            "\n"
            "serve     run the daemon (the default)\n"
            "migrate   apply the table migrations built into this binary and re-create the api\n"
            "          functions, in one transaction (as the owner role); --dry-run prints what\n"
            "          it would do and changes nothing\n"
            "bootstrap-operator\n"
            "          create (or re-enable) a platform operator bound to a certificate subject\n"
            "\n"
            "Every option can be set in the INI file (key = value, top level or [branchd])\n"
            "and overridden on the command line as --key-with-dashes VALUE:\n");
    config_print_options(out);
    fprintf(out, "\nExit status: 0 on success, 1 on a runtime error, 2 on a usage or configuration error.\n");
}

/* Flag name "--listen-port" -> option name "listen_port". */
static void flag_to_option(const char *flag, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", flag + 2);
    for (char *p = out; *p; p++)
        if (*p == '-')
            *p = '_';
}

static char subject_arg[512];
static bool dry_run_arg;

static int parse_args(int argc, char **argv, config_t *cfg, mode_t_ *mode)
{
    char err[512];
    int i = 1;
    if (i < argc && strcmp(argv[i], "migrate") == 0) {
        *mode = MODE_MIGRATE;
        i++;
    } else if (i < argc && strcmp(argv[i], "bootstrap-operator") == 0) {
        *mode = MODE_BOOTSTRAP;
        i++;
    } else if (i < argc && strcmp(argv[i], "serve") == 0) {
        i++;
    }
    /* The file first, so that flags override it wherever they stand. */
    for (int j = i; j < argc - 1; j++) {
        if (strcmp(argv[j], "--config") == 0 && config_load_file(cfg, argv[j + 1], err, sizeof err) != 0) {
            fprintf(stderr, "branchd: %s\n", err);
            return -1;
        }
    }
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(arg, "--version") == 0) {
            printf("branchd %s (protocol %u, schema %d)\n", BRANCHLINE_VERSION, 1u,
                   migrate_expected_version());
            exit(0);
        }
        if (strcmp(arg, "--dry-run") == 0 && *mode == MODE_MIGRATE) {
            dry_run_arg = true;
            continue;
        }
        if (strcmp(arg, "--check-config") == 0) {
            *mode = MODE_CHECK_CONFIG;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "branchd: unexpected argument '%s' (see --help)\n", arg);
            return -1;
        }
        char name[128];
        const char *eq = strchr(arg, '=');
        const char *value;
        flag_to_option(arg, name, sizeof name);
        if (eq) {
            name[eq - arg - 2] = '\0';
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fprintf(stderr, "branchd: %s needs a value\n", arg);
            return -1;
        }
        if (strcmp(name, "config") == 0)
            continue;
        if (strcmp(name, "subject") == 0) {
            snprintf(subject_arg, sizeof subject_arg, "%s", value);
            continue;
        }
        if (strcmp(name, "conninfo") == 0)
            strcpy(name, "migrate_conninfo");
        if (config_set(cfg, name, value, err, sizeof err) != 0) {
            fprintf(stderr, "branchd: %s\n", err);
            return -1;
        }
    }
    return 0;
}

static int run_migrate(const config_t *cfg)
{
    const char *conninfo = cfg->migrate_conninfo[0] ? cfg->migrate_conninfo : cfg->db_conninfo;
    char err[1024];
    int applied = 0;
    if (migrate_run(conninfo, dry_run_arg, stdout, &applied, err, sizeof err) != 0) {
        fprintf(stderr, "branchd migrate: %s\n", err);
        return 1;
    }
    if (dry_run_arg)
        printf("branchd migrate --dry-run: %d migration(s) to apply, schema version %d; nothing "
               "was changed\n",
               applied, migrate_expected_version());
    else
        printf("branchd migrate: %d migration(s) applied, schema version %d, api re-created\n",
               applied, migrate_expected_version());
    return 0;
}

static int run_bootstrap(const config_t *cfg)
{
    const char *conninfo = cfg->migrate_conninfo[0] ? cfg->migrate_conninfo : cfg->db_conninfo;
    char err[1024];
    if (!subject_arg[0]) {
        fprintf(stderr, "branchd bootstrap-operator: --subject is required (e.g. --subject CN=ops)\n");
        return 2;
    }
    if (migrate_bootstrap_operator(conninfo, subject_arg, err, sizeof err) != 0) {
        fprintf(stderr, "branchd bootstrap-operator: %s\n", err);
        return 1;
    }
    printf("branchd bootstrap-operator: operator %s is enabled\n", subject_arg);
    return 0;
}

static int saved_argc;
static char **saved_argv;

typedef struct {
    server_t *srv;
    struct event_base *base;
} signal_ctx_t;

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    signal_ctx_t *sc = arg;
    log_info("signal", "signal=%d action=drain", (int)sig);
    notify_stopping("draining: finishing the requests in flight");
    server_stop(sc->srv);
    event_base_loopbreak(sc->base);
}

/* SIGHUP: the configuration file again (reload.c says what changes). */
static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    signal_ctx_t *sc = arg;
    char err[1024] = "the file or the command line does not parse (see the line before)";
    mode_t_ mode = MODE_SERVE;
    notify_reloading();
    config_t *cfg = config_new();
    if (!cfg || parse_args(saved_argc, saved_argv, cfg, &mode) != 0 ||
        config_validate(cfg, 1, err, sizeof err) != 0) {
        log_error("reload_failed", "reason=config error=\"%s\" hint=\"the old configuration stays\"",
                  cfg ? err : "out of memory");
        config_free(cfg);
        notify_ready("serving; the last reload failed, see the log");
        return;
    }
    if (reload_apply(sc->srv, cfg, err, sizeof err) != 0) {
        log_error("reload_failed", "reason=apply error=\"%s\" hint=\"the old configuration stays\"", err);
        notify_ready("serving; the last reload failed, see the log");
        return;
    }
    notify_ready("serving; configuration reloaded");
}

static int write_port_file(const char *path, int port)
{
    if (!path[0])
        return 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path); /* readers never see a half-written file */
}

/* Every connection is a descriptor: take all the kernel allows us. */
static void raise_fd_limit(const config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)cfg->max_connections + 1024;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("fd_limit", "error=cannot_raise");
    }
    if (rl.rlim_cur < want)
        log_warn("fd_limit", "limit=%llu max_connections=%d hint=\"raise LimitNOFILE or ulimit -n\"",
                 (unsigned long long)rl.rlim_cur, cfg->max_connections);
}

static int check_schema(const config_t *cfg)
{
    char err[1024];
    int version = 0, expected = migrate_expected_version();
    if (migrate_current_version(cfg->db_conninfo, cfg->db_startup_timeout_ms, &version, err,
                                sizeof err) != 0) {
        log_error("startup_failed", "reason=database error=\"%s\"", err);
        return -1;
    }
    if (version < expected) {
        log_error("startup_failed",
                  "reason=schema_too_old schema_version=%d expected=%d hint=\"run branchd migrate\"",
                  version, expected);
        return -1;
    }
    if (version > expected)
        log_warn("schema_newer", "schema_version=%d expected=%d", version, expected);
    return 0;
}

static int run_serve(const config_t *cfg)
{
    char err[1024];
    int rc = 1;
    SSL_CTX *ctx = NULL;
    server_t *srv = NULL;
    struct event_base *base = NULL;
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
    signal_ctx_t sc = {NULL, NULL};

    raise_fd_limit(cfg);
    if (check_schema(cfg) != 0)
        return 1;
    if (dispatch_init() != 0) {
        log_error("startup_failed", "reason=out_of_memory");
        return 1;
    }
    if (db_check_statements(cfg->db_conninfo, sql_call_check_result, err, sizeof err) != 0) {
        char quoted[1100];
        log_error("startup_failed", "reason=sql_contract error=%s", log_quote(quoted, sizeof quoted, err));
        return 1;
    }
    if (!(ctx = tls_server_ctx_new(cfg, err, sizeof err))) {
        log_error("startup_failed", "reason=tls error=\"%s\"", err);
        goto out;
    }
    if (http_tls_load(cfg, err, sizeof err) != 0) {
        log_error("startup_failed", "reason=http_tls error=\"%s\"", err);
        goto out;
    }
    if (intake_init(cfg, err, sizeof err) != 0) {
        log_error("startup_failed", "reason=intake error=\"%s\"", err);
        goto out;
    }
    if (health_routes_add() != 0 || metrics_scrape_init() != 0) {
        log_error("startup_failed", "reason=out_of_memory");
        goto out;
    }
    if (!(srv = server_new(cfg, ctx, err, sizeof err))) {
        log_error("startup_failed", "reason=listen error=\"%s\"", err);
        goto out;
    }
    ctx = NULL; /* the server owns it now */
    if (metrics_core_start(srv->nworkers) != 0 || reload_init(srv) != 0 || intake_start(srv) != 0) {
        log_error("startup_failed", "reason=out_of_memory");
        goto out;
    }
    srv->expected_schema_version = migrate_expected_version();
    base = event_base_new();
    sc.srv = srv;
    sc.base = base;
    sigterm = base ? evsignal_new(base, SIGTERM, on_stop_signal, &sc) : NULL;
    sigint = base ? evsignal_new(base, SIGINT, on_stop_signal, &sc) : NULL;
    sighup = base ? evsignal_new(base, SIGHUP, on_reload_signal, &sc) : NULL;
    if (!sigterm || !sigint || !sighup || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL) ||
        evsignal_add(sighup, NULL)) {
        log_error("startup_failed", "reason=signals");
        goto out;
    }
    if (server_start(srv, err, sizeof err) != 0) {
        log_error("startup_failed", "reason=threads error=\"%s\"", err);
        goto out;
    }
    /* port_file last: whoever waits for it finds the HTTP port too. */
    if (srv->http_port >= 0) {
        log_info("http_listening", "address=%s port=%d tls=%d", cfg->http_address, srv->http_port,
                 cfg->http_tls);
        if (write_port_file(cfg->http_port_file, srv->http_port) != 0)
            log_warn("port_file", "path=%s error=cannot_write", cfg->http_port_file);
    }
    if (http_public_port() >= 0) {
        log_info("intake_listening", "address=%s port=%d", cfg->intake_address, http_public_port());
        if (write_port_file(cfg->intake_port_file, http_public_port()) != 0)
            log_warn("port_file", "path=%s error=cannot_write", cfg->intake_port_file);
    }
    if (write_port_file(cfg->port_file, srv->port) != 0)
        log_warn("port_file", "path=%s error=cannot_write", cfg->port_file);
    if (notify_watchdog_start(base, srv) != 0) {
        log_error("startup_failed", "reason=watchdog");
        server_stop(srv);
        server_join(srv);
        goto out;
    }
    char status[256];
    snprintf(status, sizeof status, "serving on %s port %d with %u workers", cfg->listen_address,
             srv->port, srv->nworkers);
    notify_ready(status);
    /* The main thread only waits for signals; workers serve. SIGHUP
     * reloads; SIGTERM or SIGINT starts the drain and ends this loop. */
    event_base_dispatch(base);
    server_join(srv);
    log_info("stopped", "reason=signal");
    rc = 0;
out:
    notify_watchdog_stop();
    reload_free();
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sighup)
        event_free(sighup);
    if (base)
        event_base_free(base);
    /* Before the workers' loops and pools go: its timer lives on worker 0. */
    intake_free();
    server_free(srv);
    SSL_CTX_free(ctx);
    tls_tickets_wipe();
    http_shutdown();
    metrics_core_free();
    stmt_registry_free();
    return rc;
}

int main(int argc, char **argv)
{
    mode_t_ mode = MODE_SERVE;
    config_t *cfg = config_new();
    char err[1024];
    int rc = 2;
    if (!cfg) {
        fprintf(stderr, "branchd: out of memory\n");
        return 1;
    }
    saved_argc = argc;
    saved_argv = argv;
    if (parse_args(argc, argv, cfg, &mode) != 0)
        goto out;
    if (config_validate(cfg, mode == MODE_SERVE || mode == MODE_CHECK_CONFIG, err, sizeof err) != 0) {
        fprintf(stderr, "branchd: %s\n", err);
        goto out;
    }
    log_level_t level = LOG_INFO;
    log_format_t format = LOG_FORMAT_TEXT;
    (void)log_level_parse(cfg->log_level, &level);
    (void)log_format_parse(cfg->log_format, &format);
    log_set_level(level);
    log_set_format(format);
    log_detect_journal();
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    switch (mode) {
    case MODE_CHECK_CONFIG:
        printf("branchd: configuration ok\n");
        rc = 0;
        break;
    case MODE_MIGRATE:
        rc = run_migrate(cfg);
        break;
    case MODE_BOOTSTRAP:
        rc = run_bootstrap(cfg);
        break;
    case MODE_SERVE:
        config_log(cfg);
        rc = run_serve(cfg);
        break;
    }
out:
    config_free(cfg);
    return rc;
}
