/*
 * Integration-test fixture: a fresh database per test program (created and
 * migrated with the real `branchd migrate`), a real branchd on a free port,
 * and client connections over real mutual TLS. The PostgreSQL server and the
 * certificates come from tests/run.sh through BRANCHLINE_TEST_* variables.
 */
#ifndef BRANCHLINE_TEST_FIXTURE_H
#define BRANCHLINE_TEST_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#include "blclient.h"

typedef struct {
    char name[64];
    char dir[256];            /* private temp dir: config, log, port file */
    char dbname[96];
    char admin_conninfo[512]; /* superuser, on the test database */
    char app_conninfo[512];   /* the daemon's role, on the test database */
    char owner_conninfo[512]; /* branchline_owner: owns the database, runs migrate */
    char log_path[320];
    pid_t pid;
    int port;
    bool owns_db;             /* false for a second daemon on another's database */
} fx_t;

/* Creates the temp dir and the database, and migrates it unless `empty`. */
int fx_init(fx_t *fx, const char *name, bool empty);

/* A second daemon's fixture on the same database (own dir, log, port). */
int fx_init_sibling(fx_t *fx, const fx_t *of, const char *name);

/* Starts branchd; `extra` is more config lines ("key = value\n"). Waits until it listens. */
int fx_start(fx_t *fx, const char *extra);

/* Sends `sig`, waits up to timeout_ms; returns the exit status, or -1. */
int fx_stop(fx_t *fx, int sig, int timeout_ms);

/* Stops the daemon (if running), prints its log when `show_log` or when the
 * daemon did not exit cleanly (a sanitizer report, a crash), drops the
 * database. Returns 0, or 1 when the daemon's exit was not clean. */
int fx_cleanup(fx_t *fx, bool show_log);

void fx_print_log(const fx_t *fx);

/* Whether the daemon's log contains `needle` within timeout_ms (it logs
 * some events just after the client has seen their effect). */
bool fx_log_wait(const fx_t *fx, const char *needle, int timeout_ms);

/* Whether the daemon's log contains `needle`. */
bool fx_log_contains(const fx_t *fx, const char *needle);

/* Client over mTLS with certs/NAME.crt from BRANCHLINE_TEST_CERTS; NULL name = no certificate. */
blc_t *fx_connect(const fx_t *fx, const char *cert_name, char *err, size_t errlen);
/* Same, with a certificate from the unrelated CA (BRANCHLINE_TEST_CERTS_OTHER). */
blc_t *fx_connect_other_ca(const fx_t *fx, const char *cert_name, char *err, size_t errlen);

/* Plain TCP socket to the daemon. */
int fx_tcp_connect(const fx_t *fx);

/* Runs SQL as the superuser on the test database; 0 or -1. */
int fx_sql(const fx_t *fx, const char *sql);

/* Runs a shell command, capturing up to outlen-1 bytes of stdout+stderr; returns exit status. */
int fx_run(const char *cmd, char *out, size_t outlen);

/* Path of a binary under test: BRANCHD_BIN, BRANCHCTL_BIN. */
const char *fx_bin(const char *env_name);

/* Milliseconds on a monotonic clock. */
long long fx_now_ms(void);

/* For cmocka tests: a connection as cert_name, or the test fails. */
blc_t *fx_connect_ok(const fx_t *fx, const char *cert_name);

/* For cmocka tests: a ping on c is answered OK, or the test fails. */
void fx_assert_ping(blc_t *c);

/* The status code of a response; 0 (OK) when it carries none. */
#define FX_CODE(r) ((r)->status ? (int)(r)->status->code : 0)

/* A ping request; free nothing (static storage is not used). */
void fx_ping_init(Branchline__V1__Request *req, Branchline__V1__PingRequest *ping, uint32_t delay_ms);

/* A whoami request in req (id 0), its body in *who. */
void fx_whoami_init(Branchline__V1__Request *req, Branchline__V1__WhoAmIRequest *who);

#endif
