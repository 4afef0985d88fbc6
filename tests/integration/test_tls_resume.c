/*
 * TLS session resumption as clients use it (issue 18): the client library's
 * session cache (blc_options_t.session_dir, which branchctl points beside
 * its configuration), the daemon's rotating ticket keys, and what must
 * never resume: a session of another certificate, a ticket whose key was
 * retired, a revoked certificate's session once the CRL is reloaded.
 * (test_certs.c checks resumption with OpenSSL directly and a CRL change;
 * the CA change has its own test there.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

static fx_t fx;
static char pki[512];
static char cache[512]; /* the session folder the tests share */

/* A ping as `name` through the session cache in dir: whether it was
 * answered, and whether the connection resumed a session. */
static bool ping_cached(const char *dir, const char *name, bool *resumed)
{
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    char server[64], ca[512], cert[512], key[512], err[512];
    snprintf(server, sizeof server, "127.0.0.1:%d", fx.port);
    snprintf(ca, sizeof ca, "%s/ca.crt", certs);
    snprintf(cert, sizeof cert, "%s/%s.crt", certs, name);
    snprintf(key, sizeof key, "%s/%s.key", certs, name);
    blc_options_t o = {server, ca, cert, key, 5000, dir};
    *resumed = false;
    blc_t *c = blc_connect(&o, err, sizeof err);
    if (!c)
        return false;
    *resumed = blc_resumed(c);
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    Branchline__V1__Response *r = blc_call(c, &req); /* the TLS 1.3 ticket comes before it */
    bool ok = r != NULL;
    if (r)
        branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
    return ok;
}

/* The files of dir (sessions; no temporaries may be left). */
static int count_files(const char *dir, char *first, size_t firstlen)
{
    char cmd[700], out[4096];
    snprintf(cmd, sizeof cmd, "ls -A '%s'", dir);
    if (fx_run(cmd, out, sizeof out) != 0)
        return 0;
    int n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), n++)
        if (n == 0 && first)
            snprintf(first, firstlen, "%s/%s", dir, line);
    return n;
}

static int reloads(void)
{
    FILE *f = fopen(fx.log_path, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, "event=reloaded") != NULL;
    if (f)
        fclose(f);
    return n;
}

/* SIGHUP, then this reload's log line. */
static void reload(void)
{
    int before = reloads();
    assert_int_equal(kill(fx.pid, SIGHUP), 0);
    for (long long end = fx_now_ms() + 5000; fx_now_ms() < end; usleep(20 * 1000))
        if (reloads() > before)
            return;
    fail_msg("no reload logged");
}

static int copy(const char *from, const char *to)
{
    char cmd[2 * PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", from, to);
    return fx_run(cmd, NULL, 0);
}

/* The second connection resumes the first one's session, from a 0600 file
 * in a 0700 folder that the client made; the daemon logs it as resumed. */
static void test_cache_resumes(void **state)
{
    (void)state;
    bool resumed = true;
    char file[1024];
    assert_true(ping_cached(cache, "alice", &resumed));
    assert_false(resumed);
    assert_int_equal(count_files(cache, file, sizeof file), 1);
    struct stat st;
    assert_int_equal(stat(cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(ping_cached(cache, "alice", &resumed));
    assert_true(resumed);
    /* A resumption with the current key gets no new ticket: the client
     * keeps its file (a new one would come by rename: a new inode). */
    assert_int_equal(stat(file, &st), 0);
    ino_t ino = st.st_ino;
    for (int i = 0; i < 3; i++) {
        assert_true(ping_cached(cache, "alice", &resumed));
        assert_true(resumed);
    }
    assert_int_equal(stat(file, &st), 0);
    assert_true(st.st_ino == ino);
    assert_true(fx_log_wait(&fx, "subject=\"CN=alice\" tls=TLSv1.3 cipher=TLS_CHACHA20_POLY1305_SHA256 resumed=yes", 3000));
    assert_int_equal(count_files(cache, NULL, 0), 1); /* replaced, never a second file */
}

/* Another certificate never gets alice's session: its own file, a full
 * handshake first. */
static void test_other_certificate_does_not_resume(void **state)
{
    (void)state;
    bool resumed = true;
    assert_true(ping_cached(cache, "bob", &resumed));
    assert_false(resumed);
    assert_int_equal(count_files(cache, NULL, 0), 2);
    assert_true(ping_cached(cache, "bob", &resumed));
    assert_true(resumed);
    assert_true(fx_log_wait(&fx, "subject=\"CN=bob\" tls=TLSv1.3 cipher=TLS_CHACHA20_POLY1305_SHA256 resumed=yes", 3000));
}

/* A file nobody but its owner may read is the only kind offered. */
static void test_readable_cache_file_ignored(void **state)
{
    (void)state;
    char dir[600], file[1024];
    bool resumed = true;
    snprintf(dir, sizeof dir, "%s/open", fx.dir);
    assert_true(ping_cached(dir, "alice", &resumed));
    assert_int_equal(count_files(dir, file, sizeof file), 1);
    assert_int_equal(chmod(file, 0644), 0);
    assert_true(ping_cached(dir, "alice", &resumed));
    assert_false(resumed);
}

/* SIGHUP starts a new ticket key; tickets of the old one still resume for
 * a period. Two rotations retire it: a ticket kept from before both (the
 * client's own file was renewed meanwhile) makes a full handshake. */
static void test_rotation_keeps_the_previous_key_one_period(void **state)
{
    (void)state;
    char file[1024], kept[1100];
    bool resumed = false;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/carol-only", fx.dir);
    assert_true(ping_cached(dir, "carol", &resumed));
    assert_int_equal(count_files(dir, file, sizeof file), 1);
    snprintf(kept, sizeof kept, "%s/kept", fx.dir);
    assert_int_equal(copy(file, kept), 0);

    reload();
    assert_true(ping_cached(dir, "carol", &resumed));
    assert_true(resumed); /* the previous key, renewed with the new one */
    reload();
    assert_true(ping_cached(dir, "carol", &resumed));
    assert_true(resumed); /* the renewed ticket is of the key before this one */
    assert_int_equal(copy(kept, file), 0);
    assert_true(ping_cached(dir, "carol", &resumed));
    assert_false(resumed); /* its key was retired by the second rotation */
}

/* tls_ticket_key_period_s: a ticket older than the period does not resume. */
static void test_ticket_expires_with_the_period(void **state)
{
    (void)state;
    char conf[600], dir[600];
    snprintf(conf, sizeof conf, "%s/branchd.conf", fx.dir);
    snprintf(dir, sizeof dir, "%s/short", fx.dir);
    FILE *f = fopen(conf, "a");
    assert_non_null(f);
    fprintf(f, "tls_ticket_key_period_s = 3\n");
    fclose(f);
    reload();
    bool resumed = true;
    assert_true(ping_cached(dir, "dave", &resumed));
    assert_false(resumed);
    assert_true(ping_cached(dir, "dave", &resumed));
    assert_true(resumed);
    usleep(7000 * 1000); /* past both periods of the key */
    assert_true(ping_cached(dir, "dave", &resumed));
    assert_false(resumed);
}

/* A revoked certificate's cached session: once the CRL is reloaded it does
 * not resume, the certificate is refused, and the stale file is removed. */
static void test_revoked_certificate_never_resumes(void **state)
{
    (void)state;
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    char dir[600], file[1024], cmd[2048];
    bool resumed = false;
    snprintf(dir, sizeof dir, "%s/erin", fx.dir);
    assert_true(ping_cached(dir, "erin", &resumed));
    assert_true(ping_cached(dir, "erin", &resumed));
    assert_true(resumed);
    assert_int_equal(count_files(dir, file, sizeof file), 1);
    snprintf(cmd, sizeof cmd, "'%s' crl '%s' '%s' '%s/erin.crt'", pki, certs, fx.dir, certs);
    assert_int_equal(fx_run(cmd, NULL, 0), 0);
    reload();
    assert_false(ping_cached(dir, "erin", &resumed));
    assert_false(resumed);
    assert_true(fx_log_wait(&fx, "certificate revoked", 3000));
    assert_int_equal(count_files(dir, NULL, 0), 0);
    /* Others resume again after their first handshake under the new CRL. */
    assert_true(ping_cached(cache, "alice", &resumed));
    assert_true(ping_cached(cache, "alice", &resumed));
    assert_true(resumed);
}

/* branchctl keeps its sessions in "sessions" beside its configuration,
 * unless BRANCHLINE_SESSION_CACHE=off. */
static void test_branchctl_session_cache(void **state)
{
    (void)state;
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    char env[2048], cmd[3000], out[4096], xdg[600], sessions[700];
    snprintf(xdg, sizeof xdg, "%s/xdg", fx.dir);
    snprintf(sessions, sizeof sessions, "%s/branchline/sessions", xdg);
    snprintf(env, sizeof env,
             "XDG_CONFIG_HOME='%s' BRANCHLINE_SERVER=127.0.0.1:%d BRANCHLINE_CA='%s/ca.crt' "
             "BRANCHLINE_CERT='%s/heidi.crt' BRANCHLINE_KEY='%s/heidi.key'",
             xdg, fx.port, certs, certs, certs);
    snprintf(cmd, sizeof cmd, "env BRANCHLINE_SESSION_CACHE=off %s '%s' ping", env, fx_bin("BRANCHCTL_BIN"));
    assert_int_equal(fx_run(cmd, out, sizeof out), 0);
    assert_int_equal(count_files(sessions, NULL, 0), 0);
    snprintf(cmd, sizeof cmd, "env %s '%s' ping", env, fx_bin("BRANCHCTL_BIN"));
    assert_int_equal(fx_run(cmd, out, sizeof out), 0);
    assert_int_equal(count_files(sessions, NULL, 0), 1);
    assert_int_equal(fx_run(cmd, out, sizeof out), 0);
    assert_true(fx_log_wait(&fx, "subject=\"CN=heidi\" tls=TLSv1.3 cipher=TLS_CHACHA20_POLY1305_SHA256 resumed=yes", 3000));
    snprintf(cmd, sizeof cmd, "env BRANCHLINE_SESSION_CACHE=maybe %s '%s' ping", env, fx_bin("BRANCHCTL_BIN"));
    assert_int_equal(fx_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "BRANCHLINE_SESSION_CACHE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_resumes),
        cmocka_unit_test(test_other_certificate_does_not_resume),
        cmocka_unit_test(test_readable_cache_file_ignored),
        cmocka_unit_test(test_rotation_keeps_the_previous_key_one_period),
        cmocka_unit_test(test_branchctl_session_cache),
        cmocka_unit_test(test_revoked_certificate_never_resumes),
        cmocka_unit_test(test_ticket_expires_with_the_period),
    };
    snprintf(pki, sizeof pki, "%s", getenv("BLTEST_PKI") ? getenv("BLTEST_PKI") : "pki.sh");
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    if (fx_init(&fx, "tlsresume", false) != 0)
        return 1;
    char args[2048], extra[1200];
    snprintf(cache, sizeof cache, "%s/sessions", fx.dir);
    snprintf(args, sizeof args, "'%s' crl '%s' '%s'", pki, certs, fx.dir);
    snprintf(extra, sizeof extra, "tls_crl = %s/crl.pem\n", fx.dir);
    if (fx_run(args, NULL, 0) != 0 || fx_start(&fx, extra) != 0) {
        fx_cleanup(&fx, true);
        return 1;
    }
    int failed = cmocka_run_group_tests_name("tls_resume", tests, NULL, NULL);
    failed += fx_cleanup(&fx, failed != 0);
    return failed;
}
