/*
 * OpenSSL for the client library: context set-up, the handshake, and every
 * call on the session, each waiting with poll() on the non-blocking socket.
 */
#ifndef BRANCHLINE_BLC_TLS_H
#define BRANCHLINE_BLC_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "blclient.h"

/* TLS 1.2+, server verification against opts->ca_file, ALPN, client certificate. */
SSL_CTX *blc_tls_ctx_new(const blc_options_t *opts, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Handshake on a connected non-blocking socket, until the deadline; checks
 * the certificate against host (a name or an IP literal) and the ALPN result.
 * With session_path (see blc_session.h; it must outlive the session), offers
 * the session saved there and saves the new ones. Returns the session, or
 * NULL with the reason in err.
 */
SSL *blc_tls_handshake(SSL_CTX *ctx, int fd, const char *host, const char *session_path,
                       int64_t deadline_ms, char *err, size_t errlen) __attribute__((warn_unused_result));

typedef enum {
    BLC_TLS_OK,
    BLC_TLS_TIMEOUT,  /* the deadline passed; a read may be retried */
    BLC_TLS_WOKEN,    /* wake_fd became readable; a read may be retried */
    BLC_TLS_EOF,      /* the server ended the stream */
    BLC_TLS_FAILED,   /* the session is unusable */
} blc_tls_outcome_t;

typedef enum {
    BLC_TLS_CONNECT,
    BLC_TLS_READ,
    BLC_TLS_WRITE,
    BLC_TLS_SHUTDOWN,  /* sends close_notify; does not wait for the server's */
} blc_tls_op_t;

/*
 * Runs one OpenSSL call on the session's non-blocking socket, waiting with
 * poll() whenever OpenSSL wants to read or write, until the deadline (a past
 * deadline still does what needs no waiting) or until wake_fd (-1: none)
 * becomes readable. READ and WRITE move up to n bytes of buf (WRITE all of
 * them); *done is the count. Anything but BLC_TLS_OK comes with the reason
 * in why.
 */
blc_tls_outcome_t blc_tls_io(SSL *ssl, int fd, blc_tls_op_t op, void *buf, int n, int wake_fd,
                             int64_t deadline_ms, int *done, char *why, size_t whylen);

#endif
