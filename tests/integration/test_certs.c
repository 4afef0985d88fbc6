/*
 * Certificates refused at the handshake: expired, from another CA, revoked
 * by the configured CRL; and a CRL or client CA change applied by SIGHUP
 * without a restart, while established connections keep working and
 * sessions of before the change no longer resume.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "frame.h"

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

/* How many times the daemon has logged a reload so far. */
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

/* SIGHUP, then waits for this reload's own log line (an earlier test's
 * reload is already in the log). */
static bool reload(void)
{
    int before = reloads();
    if (kill(fx.pid, SIGHUP) != 0)
        return false;
    for (long long end = fx_now_ms() + 5000; fx_now_ms() < end; usleep(20 * 1000))
        if (reloads() > before)
            return true;
    return false;
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

/*
 * A whoami over a mutual-TLS connection as dir/name (TLS `version`) offering
 * `offer` (or no session): whether it was answered (a whole response, an
 * error included: erin has no principal), whether the session was resumed,
 * the session to offer next time (its ticket arrives with the first answer)
 * in *keep when given, and the subject whoami answered (or "") in `subject`
 * when given.
 */
static bool whoami_session(const char *dir, const char *name, int version, SSL_SESSION *offer,
                           SSL_SESSION **keep, bool *reused, char *subject, size_t subjectlen)
{
    char path[600];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
    snprintf(path, sizeof path, "%s/ca.crt", getenv("BRANCHLINE_TEST_CERTS"));
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, path, NULL), 1);
    snprintf(path, sizeof path, "%s/%s.crt", dir, name);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, path), 1);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM), 1);
    int fd = fx_tcp_connect(&fx);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    SSL_set_fd(ssl, fd);
    if (offer)
        assert_int_equal(SSL_set_session(ssl, offer), 1);
    bool answered = false;
    Branchline__V1__Request req;
    Branchline__V1__WhoAmIRequest who;
    fx_whoami_init(&req, &who);
    req.id = 1;
    uint8_t frame[64], in[4096];
    size_t len = branchline__v1__request__get_packed_size(&req);
    frame_put_header(frame, (uint32_t)len);
    branchline__v1__request__pack(&req, frame + FRAME_HEADER_SIZE);
    if (subject)
        subject[0] = '\0';
    if (SSL_connect(ssl) == 1 && SSL_write(ssl, frame, (int)(len + FRAME_HEADER_SIZE)) > 0) {
        int got = 0, n;
        size_t want = FRAME_HEADER_SIZE;
        while ((size_t)got < want && (n = SSL_read(ssl, in + got, (int)sizeof in - got)) > 0) {
            got += n;
            if ((size_t)got >= FRAME_HEADER_SIZE)
                want = FRAME_HEADER_SIZE + ((size_t)in[0] << 24 | (size_t)in[1] << 16 |
                                            (size_t)in[2] << 8 | in[3]);
        }
        Branchline__V1__Response *r =
            (size_t)got >= want && want <= sizeof in
                ? branchline__v1__response__unpack(NULL, want - FRAME_HEADER_SIZE, in + FRAME_HEADER_SIZE)
                : NULL;
        answered = r != NULL;
        if (r && subject && r->result_case == BRANCHLINE__V1__RESPONSE__RESULT_WHOAMI && r->whoami)
            snprintf(subject, subjectlen, "%s", r->whoami->subject);
        if (r)
            branchline__v1__response__free_unpacked(r, NULL);
    }
    *reused = SSL_session_reused(ssl) == 1;
    if (keep)
        *keep = answered ? SSL_get1_session(ssl) : NULL;
    if (answered)
        SSL_shutdown(ssl); /* without close_notify OpenSSL marks the session not resumable */
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    return answered;
}

static bool ping_session(const char *dir, const char *name, int version, SSL_SESSION *offer,
                         SSL_SESSION **keep, bool *reused)
{
    return whoami_session(dir, name, version, offer, keep, reused, NULL, 0);
}

/*
 * TLS 1.2 and 1.3 sessions resume (a ticket of the first connection), and
 * a resumed session is still the certificate's: server_info's peer is its
 * subject (tests/integration/tls_audit.sh checks that over the wire). Once
 * the CRL changes and is reloaded, no ticket of before resumes, and the
 * revoked certificate is refused.
 */
static void test_resumption_until_the_crl_changes(void **state)
{
    (void)state;
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    SSL_SESSION *sessions[2] = {NULL, NULL};
    bool reused = true;
    for (int i = 0; i < 2; i++) {
        assert_true(ping_session(certs, "erin", versions[i], NULL, &sessions[i], &reused));
        assert_false(reused);
        assert_non_null(sessions[i]);
        SSL_SESSION *again = NULL;
        assert_true(ping_session(certs, "erin", versions[i], sessions[i], &again, &reused));
        assert_true(reused);
        SSL_SESSION_free(again);
    }
    char args[1024];
    snprintf(args, sizeof args, "crl '%s' '%s' '%s/erin.crt'", certs, fx.dir, certs);
    assert_int_equal(run_pki(args), 0);
    assert_true(reload());
    for (int i = 0; i < 2; i++) {
        assert_false(ping_session(certs, "erin", versions[i], sessions[i], NULL, &reused));
        assert_false(reused);
        SSL_SESSION_free(sessions[i]);
    }
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
    assert_true(reload());
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

/* Appends `line` to the daemon's configuration (a later line wins). */
static void config_append(const char *line)
{
    char conf[600];
    snprintf(conf, sizeof conf, "%s/branchd.conf", fx.dir);
    FILE *f = fopen(conf, "a");
    assert_non_null(f);
    fprintf(f, "%s\n", line);
    fclose(f);
}

/* Concatenates the client CA files `a` and `b` into `out`. */
static void write_bundle(const char *out, const char *a, const char *b)
{
    char cmd[2048], text[512];
    snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", a, b, out);
    assert_int_equal(fx_run(cmd, text, sizeof text), 0);
}

/*
 * The client CA changes on SIGHUP. heidi (a principal here) resumes TLS 1.2
 * and 1.3 sessions and whoami over a resumed session answers her subject
 * (the identity comes from the session's certificate). Then the CA file
 * becomes a bundle of the same CA and another: her old sessions are not
 * resumed (a full handshake, which her certificate still passes) and new
 * ones resume again as her. Then the CA file is the other CA alone: her
 * sessions of before are refused, and so is a full handshake.
 */
static void test_resumption_until_the_ca_changes(void **state)
{
    (void)state;
    const char *certs = getenv("BRANCHLINE_TEST_CERTS");
    const char *other = getenv("BRANCHLINE_TEST_CERTS_OTHER");
    assert_int_equal(fx_sql(&fx, "SELECT api.bootstrap_operator('CN=heidi')"), 0);
    static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    SSL_SESSION *sessions[2] = {NULL, NULL};
    char subject[256], path[600], ca[600], other_ca[600], line[700];
    bool reused = true;
    for (int i = 0; i < 2; i++) {
        assert_true(whoami_session(certs, "heidi", versions[i], NULL, &sessions[i], &reused,
                                   subject, sizeof subject));
        assert_false(reused);
        assert_string_equal(subject, "CN=heidi");
        SSL_SESSION *again = NULL;
        assert_true(whoami_session(certs, "heidi", versions[i], sessions[i], &again, &reused,
                                   subject, sizeof subject));
        assert_true(reused);
        assert_string_equal(subject, "CN=heidi");
        SSL_SESSION_free(again);
    }

    snprintf(ca, sizeof ca, "%s/ca.crt", certs);
    snprintf(other_ca, sizeof other_ca, "%s/ca.crt", other);
    snprintf(path, sizeof path, "%s/ca-bundle.crt", fx.dir);
    write_bundle(path, ca, other_ca);
    snprintf(line, sizeof line, "tls_ca = %s", path);
    config_append(line);
    assert_true(reload());
    for (int i = 0; i < 2; i++) {
        SSL_SESSION *fresh = NULL;
        assert_true(whoami_session(certs, "heidi", versions[i], sessions[i], &fresh, &reused,
                                   subject, sizeof subject));
        assert_false(reused); /* a ticket of the old trust store: full handshake */
        assert_string_equal(subject, "CN=heidi");
        SSL_SESSION_free(sessions[i]);
        sessions[i] = fresh;
        assert_true(whoami_session(certs, "heidi", versions[i], sessions[i], NULL, &reused,
                                   subject, sizeof subject));
        assert_true(reused);
        assert_string_equal(subject, "CN=heidi");
    }

    snprintf(line, sizeof line, "tls_ca = %s", other_ca);
    config_append(line);
    assert_true(reload());
    for (int i = 0; i < 2; i++) {
        assert_false(whoami_session(certs, "heidi", versions[i], sessions[i], NULL, &reused,
                                    subject, sizeof subject));
        assert_false(reused);
        assert_false(whoami_session(certs, "heidi", versions[i], NULL, NULL, &reused, subject,
                                    sizeof subject));
        SSL_SESSION_free(sessions[i]);
    }

    snprintf(line, sizeof line, "tls_ca = %s", ca); /* as before, for the next test */
    config_append(line);
    assert_true(reload());
    assert_true(answered(certs, "heidi"));
}

static void test_bad_reload_keeps_serving(void **state)
{
    (void)state;
    config_append("tls_cert = /nonexistent.crt");
    assert_int_equal(kill(fx.pid, SIGHUP), 0);
    assert_true(fx_log_wait(&fx, "event=reload_failed", 3000));
    assert_true(answered(getenv("BRANCHLINE_TEST_CERTS"), "heidi"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expired_certificate_refused),
        cmocka_unit_test(test_other_ca_refused),
        cmocka_unit_test(test_resumption_until_the_crl_changes),
        cmocka_unit_test(test_revoked_certificate_refused_and_reload),
        cmocka_unit_test(test_resumption_until_the_ca_changes),
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
