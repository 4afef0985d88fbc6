#include "blc_tls.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "blc_net.h"
#include "blc_session.h"

/* Text of the oldest queued OpenSSL error (usually the cause); clears the queue. */
static void openssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (reason)
        snprintf(buf, len, "%s", reason);
    else if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown TLS error");
    ERR_clear_error();
}

/* A library must not stop to prompt on the terminal for a key's passphrase. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf, (void)size, (void)rwflag, (void)userdata;
    return 0;
}

static int load_client_cert(SSL_CTX *ctx, const blc_options_t *opts, char *err, size_t errlen)
{
    char why[200];
    const char *key = opts->key_file ? opts->key_file : opts->cert_file;
    if (!opts->cert_file) {
        if (!opts->key_file)
            return 0;
        snprintf(err, errlen, "client key %s given without a certificate", opts->key_file);
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, opts->cert_file) != 1) {
        openssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot load client certificate %s: %s", opts->cert_file, why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        openssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot load client key %s: %s", key, why);
        return -1;
    }
    return 0;
}

static int set_alpn(SSL_CTX *ctx)
{
    unsigned char wire[1 + sizeof BL_ALPN];
    wire[0] = (unsigned char)strlen(BL_ALPN);
    memcpy(wire + 1, BL_ALPN, wire[0]);
    /* Unlike most of OpenSSL, 0 means success here. */
    return SSL_CTX_set_alpn_protos(ctx, wire, 1u + wire[0]) == 0 ? 0 : -1;
}

SSL_CTX *blc_tls_ctx_new(const blc_options_t *opts, char *err, size_t errlen)
{
    char why[200];
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        openssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot create TLS context: %s", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
    /* Frames carry their length, so a truncated stream is detected without close_notify. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
    if (SSL_CTX_load_verify_locations(ctx, opts->ca_file, NULL) != 1) {
        openssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot load CA file %s: %s", opts->ca_file, why);
        goto fail;
    }
    if (load_client_cert(ctx, opts, err, errlen) < 0)
        goto fail;
    if (set_alpn(ctx) < 0) {
        snprintf(err, errlen, "cannot set ALPN");
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static int expect_host(SSL *ssl, const char *host)
{
    if (blc_net_is_ip(host))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1)
        return -1;
    return 0;
}

static int check_alpn(SSL *ssl, char *err, size_t errlen)
{
    const unsigned char *proto = NULL;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);
    if (len == strlen(BL_ALPN) && memcmp(proto, BL_ALPN, len) == 0)
        return 0;
    if (len == 0)
        snprintf(err, errlen, "server did not negotiate ALPN protocol %s", BL_ALPN);
    else
        snprintf(err, errlen, "server chose ALPN protocol '%.*s', not %s", (int)len,
                 (const char *)proto, BL_ALPN);
    return -1;
}

/*
 * OpenSSL writes with write(2), which raises SIGPIPE on a closed connection.
 * Around each call SIGPIPE is blocked for this thread and one raised by the
 * call is discarded, so the library never changes process-wide state.
 */
typedef struct {
    sigset_t old_mask;
    bool was_pending;
} sigpipe_guard_t;

static void sigpipe_block(sigpipe_guard_t *guard)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    guard->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &guard->old_mask);
}

static void sigpipe_restore(const sigpipe_guard_t *guard)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    if (!guard->was_pending && sigismember(&pending, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &guard->old_mask, NULL);
}

static int call(SSL *ssl, blc_tls_op_t op, void *buf, int n)
{
    sigpipe_guard_t guard;
    int rc;
    ERR_clear_error();
    errno = 0;
    sigpipe_block(&guard);
    switch (op) {
    case BLC_TLS_CONNECT: rc = SSL_connect(ssl); break;
    case BLC_TLS_READ: rc = SSL_read(ssl, buf, n); break;
    case BLC_TLS_WRITE: rc = SSL_write(ssl, buf, n); break;
    default: rc = SSL_shutdown(ssl) >= 0 ? 1 : -1; break;  /* 0: sent, peer's not seen */
    }
    sigpipe_restore(&guard);
    return rc;
}

/* Why a call failed, for errors other than "wants to read/write". */
static blc_tls_outcome_t describe(SSL *ssl, int error, char *why, size_t whylen)
{
    int saved_errno = errno;
    if (error == SSL_ERROR_ZERO_RETURN) {
        snprintf(why, whylen, "connection closed by server");
        return BLC_TLS_EOF;
    }
    if (error == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
        snprintf(why, whylen, "%s", saved_errno ? strerror(saved_errno) : "connection closed by server");
        return BLC_TLS_FAILED;
    }
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        snprintf(why, whylen, "server certificate rejected: %s",
                 X509_verify_cert_error_string(verify));
        ERR_clear_error();
    } else {
        openssl_reason(why, whylen);
    }
    return BLC_TLS_FAILED;
}

blc_tls_outcome_t blc_tls_io(SSL *ssl, int fd, blc_tls_op_t op, void *buf, int n, int wake_fd,
                             int64_t deadline_ms, int *done, char *why, size_t whylen)
{
    *done = 0;
    for (;;) {
        int rc = call(ssl, op, buf, n);
        if (rc > 0) {
            *done = rc;
            return BLC_TLS_OK;
        }
        int error = SSL_get_error(ssl, rc);
        short events = error == SSL_ERROR_WANT_READ ? POLLIN
                     : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!events)
            return describe(ssl, error, why, whylen);
        int ready = blc_net_wait(fd, events, wake_fd, deadline_ms);
        if (ready == 0) {
            snprintf(why, whylen, "timed out");
            return BLC_TLS_TIMEOUT;
        }
        if (ready == BLC_NET_WOKEN) {
            snprintf(why, whylen, "interrupted");
            return BLC_TLS_WOKEN;
        }
        if (ready < 0) {
            snprintf(why, whylen, "poll: %s", strerror(errno));
            return BLC_TLS_FAILED;
        }
    }
}

SSL *blc_tls_handshake(SSL_CTX *ctx, int fd, const char *host, const char *session_path,
                       int64_t deadline_ms, char *err, size_t errlen)
{
    int done;
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || expect_host(ssl, host) < 0) {
        openssl_reason(err, errlen);
        goto fail;
    }
    bool offered = session_path && blc_session_use(ssl, session_path);
    if (blc_tls_io(ssl, fd, BLC_TLS_CONNECT, NULL, 0, -1, deadline_ms, &done, err, errlen) !=
        BLC_TLS_OK)
        goto fail;
    if (check_alpn(ssl, err, errlen) < 0)
        goto fail;
    /* A refused session stays refused; the server's new ticket replaces it
     * once it comes (TLS 1.3: with the first answer). */
    if (offered && SSL_session_reused(ssl) != 1)
        blc_session_forget(session_path);
    return ssl;
fail:
    if (session_path)
        blc_session_forget(session_path);
    SSL_free(ssl);
    return NULL;
}
