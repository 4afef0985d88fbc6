#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *env_or_die(const char *name)
{
    const char *v = getenv(name);
    if (!v || !v[0]) {
        fprintf(stderr, "fixture: %s is not set: run the suite through tests/run.sh\n", name);
        exit(1);
    }
    return v;
}

const char *fx_bin(const char *env_name)
{
    return env_or_die(env_name);
}

long long fx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conninfo(char *out, size_t outlen, const char *user, const char *db)
{
    snprintf(out, outlen, "host=%s port=%s user=%s dbname=%s", env_or_die("BRANCHLINE_TEST_PGHOST"),
             env_or_die("BRANCHLINE_TEST_PGPORT"), user, db);
}

static int exec_on(const char *ci, const char *sql)
{
    PGconn *pg = PQconnectdb(ci);
    int rc = -1;
    if (PQstatus(pg) == CONNECTION_OK) {
        PGresult *res = PQexec(pg, sql);
        ExecStatusType st = PQresultStatus(res);
        rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
        if (rc != 0)
            fprintf(stderr, "fixture: %s: %s", sql, PQresultErrorMessage(res));
        PQclear(res);
    } else {
        fprintf(stderr, "fixture: connect: %s", PQerrorMessage(pg));
    }
    PQfinish(pg);
    return rc;
}

int fx_sql(const fx_t *fx, const char *sql)
{
    return exec_on(fx->admin_conninfo, sql);
}

int fx_run(const char *cmd, char *out, size_t outlen)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t n = out && outlen ? fread(out, 1, outlen - 1, p) : 0;
    if (out && outlen)
        out[n] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int fx_init(fx_t *fx, const char *name, bool empty)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->name, sizeof fx->name, "%s", name);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/bltest-%s-XXXXXX", name);
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->dbname, sizeof fx->dbname, "t_%s_%d", name, (int)getpid());
    snprintf(fx->log_path, sizeof fx->log_path, "%s/branchd.log", fx->dir);
    const char *super = env_or_die("BRANCHLINE_TEST_PGSUPER");
    char ci[512], sql[256];
    conninfo(ci, sizeof ci, super, "postgres");
    /* As deploy/lib/pg.sh's pg_owned_database: the schema's owner is no
     * superuser, so SECURITY DEFINER functions run without its powers. */
    snprintf(sql, sizeof sql, "CREATE DATABASE %s OWNER branchline_owner", fx->dbname);
    if (exec_on(ci, sql) != 0)
        return -1;
    fx->owns_db = true;
    conninfo(fx->admin_conninfo, sizeof fx->admin_conninfo, super, fx->dbname);
    conninfo(fx->app_conninfo, sizeof fx->app_conninfo, "branchd", fx->dbname);
    conninfo(fx->owner_conninfo, sizeof fx->owner_conninfo, "branchline_owner", fx->dbname);
    if (empty)
        return 0;
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' migrate --conninfo '%s'", fx_bin("BRANCHD_BIN"), fx->owner_conninfo);
    if (fx_run(cmd, out, sizeof out) != 0) {
        fprintf(stderr, "fixture: migrate failed:\n%s\n", out);
        return -1;
    }
    return 0;
}

int fx_init_sibling(fx_t *fx, const fx_t *of, const char *name)
{
    *fx = *of;
    fx->pid = 0;
    fx->port = 0;
    fx->owns_db = false;
    snprintf(fx->name, sizeof fx->name, "%s", name);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/bltest-%s-XXXXXX", name);
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->log_path, sizeof fx->log_path, "%s/branchd.log", fx->dir);
    return 0;
}

static int read_port(const char *path)
{
    FILE *f = fopen(path, "r");
    int port = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%d", &port) != 1)
        port = 0;
    fclose(f);
    return port;
}

int fx_start(fx_t *fx, const char *extra)
{
    const char *certs = env_or_die("BRANCHLINE_TEST_CERTS");
    char conf[320], portfile[320];
    snprintf(conf, sizeof conf, "%s/branchd.conf", fx->dir);
    snprintf(portfile, sizeof portfile, "%s/port", fx->dir);
    unlink(portfile);
    FILE *f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "listen_address = 127.0.0.1\nlisten_port = 0\nport_file = %s\n"
            "tls_cert = %s/server.crt\ntls_key = %s/server.key\ntls_ca = %s/ca.crt\n"
            "db_conninfo = %s\nworkers = 2\nlog_level = debug\ndb_startup_timeout_ms = 2000\n%s",
            portfile, certs, certs, certs, fx->app_conninfo, extra ? extra : "");
    fclose(f);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* A test that fails before its cleanup must not leave the daemon
         * running: it ends with the test process. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        FILE *log = freopen(fx->log_path, "a", stderr);
        (void)log;
        execl(fx_bin("BRANCHD_BIN"), "branchd", "--config", conf, (char *)NULL);
        _exit(127);
    }
    fx->pid = pid;
    for (long long deadline = fx_now_ms() + 15000; fx_now_ms() < deadline;) {
        if ((fx->port = read_port(portfile)) > 0)
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fx->pid = 0;
            return -1;
        }
        usleep(20 * 1000);
    }
    return -1;
}

int fx_stop(fx_t *fx, int sig, int timeout_ms)
{
    if (fx->pid <= 0)
        return -1;
    kill(fx->pid, sig);
    for (long long deadline = fx_now_ms() + timeout_ms; fx_now_ms() < deadline;) {
        int st;
        if (waitpid(fx->pid, &st, WNOHANG) == fx->pid) {
            fx->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10 * 1000);
    }
    kill(fx->pid, SIGKILL);
    waitpid(fx->pid, NULL, 0);
    fx->pid = 0;
    return -1;
}

void fx_print_log(const fx_t *fx)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tail -n 60 '%s' 1>&2", fx->log_path);
    fprintf(stderr, "---- branchd log (%s), last lines ----\n", fx->log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

bool fx_log_wait(const fx_t *fx, const char *needle, int timeout_ms)
{
    for (long long end = fx_now_ms() + timeout_ms;; usleep(20 * 1000)) {
        if (fx_log_contains(fx, needle))
            return true;
        if (fx_now_ms() >= end)
            return false;
    }
}

bool fx_log_contains(const fx_t *fx, const char *needle)
{
    FILE *f = fopen(fx->log_path, "r");
    char line[4096];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

int fx_cleanup(fx_t *fx, bool show_log)
{
    int rc = 0;
    if (fx->pid > 0 && fx_stop(fx, SIGTERM, 10000) != 0) {
        fprintf(stderr, "fixture: branchd did not exit cleanly on SIGTERM\n");
        rc = 1;
    }
    if (show_log || rc)
        fx_print_log(fx);
    if (fx->dbname[0] && fx->owns_db) {
        char ci[512], sql[256];
        conninfo(ci, sizeof ci, env_or_die("BRANCHLINE_TEST_PGSUPER"), "postgres");
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", fx->dbname);
        exec_on(ci, sql);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    if (fx->dir[0] && system(cmd) != 0)
        fprintf(stderr, "fixture: could not remove %s\n", fx->dir);
    return rc;
}

static blc_t *connect_with(const fx_t *fx, const char *dir, const char *ca_dir, const char *cert_name,
                           char *err, size_t errlen)
{
    char server[64], ca[300], cert[300], key[300];
    snprintf(server, sizeof server, "127.0.0.1:%d", fx->port);
    snprintf(ca, sizeof ca, "%s/ca.crt", ca_dir);
    snprintf(cert, sizeof cert, "%s/%s.crt", dir, cert_name ? cert_name : "");
    snprintf(key, sizeof key, "%s/%s.key", dir, cert_name ? cert_name : "");
    blc_options_t o = {server, ca, cert_name ? cert : NULL, cert_name ? key : NULL, 10000};
    return blc_connect(&o, err, errlen);
}

blc_t *fx_connect(const fx_t *fx, const char *cert_name, char *err, size_t errlen)
{
    const char *certs = env_or_die("BRANCHLINE_TEST_CERTS");
    return connect_with(fx, certs, certs, cert_name, err, errlen);
}

blc_t *fx_connect_other_ca(const fx_t *fx, const char *cert_name, char *err, size_t errlen)
{
    return connect_with(fx, env_or_die("BRANCHLINE_TEST_CERTS_OTHER"), env_or_die("BRANCHLINE_TEST_CERTS"),
                        cert_name, err, errlen);
}

int fx_tcp_connect(const fx_t *fx)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void fx_ping_init(Branchline__V1__Request *req, Branchline__V1__PingRequest *ping, uint32_t delay_ms)
{
    branchline__v1__request__init(req);
    branchline__v1__ping_request__init(ping);
    ping->delay_ms = delay_ms;
    req->op_case = BRANCHLINE__V1__REQUEST__OP_PING;
    req->ping = ping;
}

void fx_whoami_init(Branchline__V1__Request *req, Branchline__V1__WhoAmIRequest *who)
{
    branchline__v1__request__init(req);
    branchline__v1__who_am_irequest__init(who);
    req->op_case = BRANCHLINE__V1__REQUEST__OP_WHOAMI;
    req->whoami = who;
}

blc_t *fx_connect_ok(const fx_t *fx, const char *cert_name)
{
    char err[512];
    blc_t *c = fx_connect(fx, cert_name, err, sizeof err);
    if (!c)
        fail_msg("connect as %s: %s", cert_name, err);
    return c;
}

void fx_assert_ping(blc_t *c)
{
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    Branchline__V1__Response *r = blc_call(c, &req);
    assert_non_null(r);
    assert_int_equal(FX_CODE(r), 0);
    assert_int_equal(r->result_case, BRANCHLINE__V1__RESPONSE__RESULT_PING);
    assert_true(r->ping->server_time_unix_ms > 0);
    branchline__v1__response__free_unpacked(r, NULL);
}
