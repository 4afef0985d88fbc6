/* Server-side TLS: the SSL_CTX every worker shares, and peer identity. */
#ifndef BRANCHD_TLS_H
#define BRANCHD_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "config.h"

/*
 * TLS 1.2 minimum (1.3 preferred), Mozilla "intermediate" ciphers, no
 * compression, no renegotiation, client certificates required and verified
 * against tls_ca, ALPN "branchline/1".
 */
SSL_CTX *tls_server_ctx_new(const config_t *cfg, char *err, size_t errlen);

/* The same certificate, key, protocols and ciphers for the HTTP listener
 * (http_tls), without client certificates or ALPN. */
SSL_CTX *tls_http_ctx_new(const config_t *cfg, char *err, size_t errlen);

/* The verified peer certificate's subject in RFC 2253 form ("CN=alice"). */
int tls_peer_subject(SSL *ssl, char *out, size_t outlen) __attribute__((warn_unused_result));

/* Fills err with OpenSSL's queued errors (clearing them). */
void tls_error_text(char *err, size_t errlen);

#endif
