/*
 * blbench: a load generator for branchd on the client library. See usage()
 * and tests/bench/run.sh, which compares it with pgbench running the same SQL.
 */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_handshake.h"
#include "bench_idle.h"
#include "bench_load.h"
#include "bench_report.h"

#define EXIT_SETUP 1
#define EXIT_USAGE 2
#define EXIT_FAILURES 3
#define IDLE_STEPS_MAX 8
#define IDLE_SETTLE_S 1

typedef struct {
    load_config_t load;
    scen_params_t params;
    const char *json;
    int idle[IDLE_STEPS_MAX];
    int n_idle;
    pid_t pid;
    bool handshake;   /* --scenario handshake: connect, ping once, close, again */
    long pause_ms;    /* handshake: each thread's pause between connections */
} options_t;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: blbench --server HOST:PORT --ca FILE --cert FILE --key FILE --scenario NAME\n"
        "               [--connections C] [--depth D] [--threads T]\n"
        "               [--duration S | --requests N] [--warmup S] [--timeout-ms MS]\n"
        "               [--json FILE] [--param KEY=VALUE]... [--idle N[,N...] --pid PID]\n"
        "\n"
        "scenarios: ping, tree (serving of a region), leads (lead list of a branch),\n"
        "  alloc (one lead_add), alloc-batch (lead_import of `batch` leads),\n"
        "  mixed (reads, mix_alloc%% alloc), handshake (each thread: connect, one ping,\n"
        "  close, again; --session-dir DIR resumes sessions kept there; --pause-ms MS\n"
        "  waits that long between a thread's connections, as a script's runs do)\n"
        "C connections (default 8) over T threads (default: cores), D requests in flight\n"
        "on each (default 1); a warm-up (default 1 s) then --duration S (default 10) or\n"
        "--requests N. Prints one key=value line: rps (OK answers/s), items_per_s (leads/s),\n"
        "p50/p99/p999/max latency in ms, errors by status code. --json appends the same\n"
        "as one JSON object per line.\n"
        "--param: regions=20 cities=10 branches=50 (per region, per city), projects=50,\n"
        "  batch=100, mix_alloc=10, leads_limit=50, tag=PREFIX (of external ids)\n"
        "--idle 100,10000 --pid PID: before each load, hold that many idle connections\n"
        "  (opening or closing connections; handshake and one ping each) and print the\n"
        "  RSS of process PID (the daemon). --pid alone: the daemon's CPU time in the\n"
        "  window, per request (and per handshake) on a daemon_cpu line.\n"
        "Exit: 0 all answers OK, 3 some failed, 1 could not run, 2 usage.\n");
}

static int parse_double(const char *s, double min, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || v < min || v > 1e6)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_idle(options_t *o, const char *list)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    o->n_idle = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long n;
        if (o->n_idle == IDLE_STEPS_MAX || parse_int(tok, 0, 1000000, &n) < 0)
            return -1;
        o->idle[o->n_idle++] = (int)n;
    }
    return o->n_idle ? 0 : -1;
}

enum { OPT_SERVER = 256, OPT_CA, OPT_CERT, OPT_KEY, OPT_SCENARIO, OPT_CONNECTIONS, OPT_DEPTH,
       OPT_THREADS, OPT_DURATION, OPT_REQUESTS, OPT_WARMUP, OPT_TIMEOUT, OPT_JSON, OPT_PARAM,
       OPT_IDLE, OPT_PID, OPT_SESSION_DIR, OPT_PAUSE, OPT_HELP };

static const struct option long_opts[] = {
    {"server", required_argument, NULL, OPT_SERVER}, {"ca", required_argument, NULL, OPT_CA},
    {"cert", required_argument, NULL, OPT_CERT}, {"key", required_argument, NULL, OPT_KEY},
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"depth", required_argument, NULL, OPT_DEPTH}, {"threads", required_argument, NULL, OPT_THREADS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT}, {"json", required_argument, NULL, OPT_JSON},
    {"param", required_argument, NULL, OPT_PARAM}, {"idle", required_argument, NULL, OPT_IDLE},
    {"pid", required_argument, NULL, OPT_PID}, {"session-dir", required_argument, NULL, OPT_SESSION_DIR},
    {"pause-ms", required_argument, NULL, OPT_PAUSE}, {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const char *option_name(int opt)
{
    for (const struct option *lo = long_opts; lo->name; lo++)
        if (lo->val == opt)
            return lo->name;
    return "?";
}

/* One option into o; 0, or -1 with the complaint in err. */
static int apply_option(options_t *o, int opt, const char *arg, char *err, size_t errlen)
{
    long n = 0;
    load_config_t *l = &o->load;
    int rc = 0;
    switch (opt) {
    case OPT_SERVER: l->conn.server = arg; break;
    case OPT_CA: l->conn.ca_file = arg; break;
    case OPT_CERT: l->conn.cert_file = arg; break;
    case OPT_KEY: l->conn.key_file = arg; break;
    case OPT_JSON: o->json = arg; break;
    case OPT_SCENARIO:
        o->handshake = strcmp(arg, "handshake") == 0;
        rc = o->handshake ? (int)SCEN_PING : scen_lookup(arg);
        l->kind = (scen_kind_t)rc;
        break;
    case OPT_SESSION_DIR: l->conn.session_dir = arg; break;
    case OPT_CONNECTIONS: rc = parse_int(arg, 1, 1000000, &n); l->connections = (int)n; break;
    case OPT_DEPTH: rc = parse_int(arg, 1, LOAD_DEPTH_MAX, &n); l->depth = (int)n; break;
    case OPT_THREADS: rc = parse_int(arg, 1, 1024, &n); l->threads = (int)n; break;
    case OPT_TIMEOUT: rc = parse_int(arg, 1, 3600000, &n); l->conn.timeout_ms = (int)n; break;
    case OPT_PID: rc = parse_int(arg, 1, INT_MAX, &n); o->pid = (pid_t)n; break;
    case OPT_PAUSE: rc = parse_int(arg, 0, 60000, &o->pause_ms); break;
    case OPT_DURATION: rc = parse_double(arg, 0.1, &l->duration_s); break;
    case OPT_WARMUP: rc = parse_double(arg, 0, &l->warmup_s); break;
    case OPT_REQUESTS:
        rc = parse_int(arg, 1, LONG_MAX, &n);
        l->requests = (uint64_t)n;
        break;
    case OPT_IDLE: rc = parse_idle(o, arg); break;
    case OPT_PARAM: return scen_param_set(&o->params, arg, err, errlen);
    default: rc = -1; break;
    }
    if (rc < 0)
        snprintf(err, errlen, "invalid value for --%s: '%s'", option_name(opt), arg);
    return rc < 0 ? -1 : 0;
}

static int check_options(options_t *o, char *err, size_t errlen)
{
    load_config_t *l = &o->load;
    if (!l->conn.server || !l->conn.ca_file || !l->conn.cert_file || (int)l->kind < 0) {
        snprintf(err, errlen, "--server, --ca, --cert and --scenario are required");
        return -1;
    }
    if (o->pause_ms && !o->handshake) {
        snprintf(err, errlen, "--pause-ms is for --scenario handshake");
        return -1;
    }
    if (o->n_idle && !o->pid) {
        snprintf(err, errlen, "--idle needs --pid (the daemon whose memory is measured)");
        return -1;
    }
    l->daemon_pid = o->pid; /* its CPU per request is reported too */
    if (l->requests)
        l->duration_s = 0;
    else if (l->duration_s == 0)
        l->duration_s = 10;
    if (l->threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        l->threads = cores > 0 ? (int)cores : 1;
    }
    if (l->threads > l->connections)
        l->threads = l->connections;
    return 0;
}

static int parse_options(options_t *o, int argc, char **argv)
{
    char err[300];
    *o = (options_t){.load = {.kind = (scen_kind_t)-1, .connections = 8, .depth = 1,
                              .warmup_s = 1, .conn = {.timeout_ms = 10000}}};
    scen_params_default(&o->params);
    o->load.params = &o->params;
    int opt;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            usage(stdout);
            exit(0);
        }
        if (opt == '?' || apply_option(o, opt, optarg, err, sizeof err) < 0) {
            if (opt != '?')
                fprintf(stderr, "blbench: %s\n", err);
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc || check_options(o, err, sizeof err) < 0) {
        fprintf(stderr, "blbench: %s\n", optind < argc ? "unexpected arguments" : err);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* One load, reported; the exit status it deserves. */
static int run_one(const options_t *o, const report_extra_t *extra, int n_extra)
{
    char err[300];
    load_result_t *r = malloc(sizeof *r);
    if (!r || load_run(&o->load, r, err, sizeof err) < 0) {
        fprintf(stderr, "blbench: %s\n", r ? err : "out of memory");
        free(r);
        return EXIT_SETUP;
    }
    report_text(stdout, &o->load, r, extra, n_extra);
    fflush(stdout);
    if (o->json && report_json(o->json, &o->load, r, extra, n_extra) < 0)
        fprintf(stderr, "blbench: cannot write %s\n", o->json);
    int rc = report_failures(r) ? EXIT_FAILURES : 0;
    free(r);
    return rc;
}

static void settle(void)
{
    struct timespec ts = {IDLE_SETTLE_S, 0};
    nanosleep(&ts, NULL);
}

/* For each step: grow or shrink the idle set, read the daemon's RSS, run the load. */
static int run_idle(const options_t *o)
{
    idle_set_t set = {0};
    char err[300];
    int rc = 0;
    long limit = idle_raise_nofile();
    for (int i = 0; i < o->n_idle && rc != EXIT_SETUP; i++) {
        idle_shrink(&set, o->idle[i]);
        if (idle_grow(&set, o->idle[i], &o->load.conn, o->load.threads * 4, err, sizeof err) < 0) {
            fprintf(stderr, "blbench: idle connections: %d of %d open (fd limit %ld): %s\n",
                    set.n, o->idle[i], limit, err);
            rc = EXIT_SETUP;
            break;
        }
        settle();
        report_extra_t extra[] = {{"idle", set.n}, {"rss_kib", idle_rss_kib(o->pid)}};
        int step = run_one(o, extra, 2);
        if (step)
            rc = step;
    }
    idle_close(&set);
    return rc;
}

static int run_handshakes(const options_t *o)
{
    char err[300];
    hs_config_t cfg = {o->load.conn, o->load.threads, o->load.warmup_s,
                       o->load.duration_s > 0 ? o->load.duration_s : 10, o->pid, (int)o->pause_ms};
    hs_result_t r;
    if (hs_run(&cfg, &r, err, sizeof err) < 0) {
        fprintf(stderr, "blbench: %s\n", err);
        return EXIT_SETUP;
    }
    hs_report(stdout, &r);
    return r.failed ? EXIT_FAILURES : 0;
}

int main(int argc, char **argv)
{
    options_t o;
    if (parse_options(&o, argc, argv) < 0)
        return EXIT_USAGE;
    if (o.n_idle)
        return run_idle(&o);
    if (o.handshake)
        return run_handshakes(&o);
    idle_raise_nofile();
    return run_one(&o, NULL, 0);
}
