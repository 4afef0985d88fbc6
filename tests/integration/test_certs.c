/*
 * Certificates refused at the handshake: expired, from another CA, revoked
 * by the configured CRL; and a CRL change applied by SIGHUP without a
 * restart, while established connections keep working.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

static fx_t fx;
static char pki[512];

static blc_t *connect_from(const char *dir, const char *name)
{
    char server[64], ca[512], cert[512], key[512], err[512];
    snprintf(server, sizeof server, "127.0.0.1:%d", fx.port);
    snprintf(ca, sizeof ca, "%s/ca.crt", getenv("BRANCHLINE_TEST_CERTS"));
    snprintf(cert, sizeof cert, "%s/%s.crt", dir, name);
    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    blc_options_t o = {server, ca, cert, key, 5000};
    return blc_connect(&o, err, sizeof err);
}

/* Whether a ping through this certificate gets an answer. */
static bool answered(const char *dir, const char *name)
{
    blc_t *c = connect_from(dir, name);
    if (!c)
        return false;
    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    Branchline__V1__Response *r = blc_call(c, &req);
    bool ok = r != NULL;
    if (r)
        branchline__v1__response__free_unpacked(r, NULL);
    blc_free(c);
    return ok;
}

static int run_pki(const char *args)
{
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s", pki, args);
    int rc = fx_run(cmd, out, sizeof out);
    if (rc != 0)
        fprintf(stderr, "pki.sh %s: %s\n", args, out);
    return rc;
}

static void test_expired_certificate_refused(void **state)
{
    (void)state;
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    char args[1024];
    snprintf(args, sizeof args, "expired '%s' '%s' oldtimer", certs, fx.dir);
    assert_int_equal(run_pki(args), 0);
    assert_false(answered(fx.dir, "oldtimer"));
    assert_true(fx_log_wait(&fx, "certificate has expired", 3000));
    assert_true(answered(certs, "alice"));
}

static void test_other_ca_refused(void **state)
{
    (void)state;
    assert_false(answered(getenv("BRANCHLINE_TEST_CERTS_OTHER"), "mallory"));
}

static void test_revoked_certificate_refused_and_reload(void **state)
{
    (void)state;
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    /* The daemon started with a CRL revoking frank. */
    assert_false(answered(certs, "frank"));
    assert_true(fx_log_wait(&fx, "certificate revoked", 3000));
    assert_true(answered(certs, "grace"));

    blc_t *established = connect_from(certs, "grace");
    assert_non_null(established);
    char args[1024];
    snprintf(args, sizeof args, "crl '%s' '%s' '%s/grace.crt'", certs, fx.dir, certs);
    assert_int_equal(run_pki(args), 0);
    assert_int_equal(kill(fx.pid, SIGHUP), 0);
    assert_true(fx_log_wait(&fx, "event=reloaded", 3000));
    assert_false(answered(certs, "grace"));      /* new handshakes see the new CRL */
    assert_false(answered(certs, "frank"));
    assert_true(answered(certs, "heidi"));

    Branchline__V1__Request req;
    Branchline__V1__PingRequest ping;
    fx_ping_init(&req, &ping, 0);
    Branchline__V1__Response *r = blc_call(established, &req);
    assert_non_null(r); /* an open connection is not cut by a reload */
    branchline__v1__response__free_unpacked(r, NULL);
    blc_free(established);
}

static void test_bad_reload_keeps_serving(void **state)
{
    (void)state;
    char conf[600];
    snprintf(conf, sizeof conf, "%s/branchd.conf", fx.dir);
    FILE *f = fopen(conf, "a");
    assert_non_null(f);
    fprintf(f, "tls_cert = /nonexistent.crt\n");
    fclose(f);
    assert_int_equal(kill(fx.pid, SIGHUP), 0);
    assert_true(fx_log_wait(&fx, "event=reload_failed", 3000));
    assert_true(answered(getenv("BRANCHLINE_TEST_CERTS"), "heidi"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expired_certificate_refused),
        cmocka_unit_test(test_other_ca_refused),
        cmocka_unit_test(test_revoked_certificate_refused_and_reload),
        cmocka_unit_test(test_bad_reload_keeps_serving),
    };
    snprintf(pki, sizeof pki, "%s", getenv("BLTEST_PKI") ? getenv("BLTEST_PKI") : "pki.sh");
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    if (fx_init(&fx, "certs", false) != 0)
        return 1;
    char args[1024], extra[1200];
    snprintf(args, sizeof args, "crl '%s' '%s' '%s/frank.crt'", certs, fx.dir, certs);
    snprintf(extra, sizeof extra, "tls_crl = %s/crl.pem\n", fx.dir);
    if (run_pki(args) != 0 || fx_start(&fx, extra) != 0) {
        fx_cleanup(&fx, true);
        return 1;
    }
    int failed = cmocka_run_group_tests_name("certs", tests, NULL, NULL);
    failed += fx_cleanup(&fx, failed != 0);
    return failed;
}
