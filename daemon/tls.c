#include "tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "status.h"
#include "tls_tickets.h"

/* Mozilla intermediate (TLS 1.2 part). */
static const char intermediate_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

void tls_error_text(char *err, size_t errlen)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(err, errlen, "unknown TLS error");
        return;
    }
    ERR_error_string_n(e, err, errlen);
    ERR_clear_error();
}

/* Mozilla intermediate's groups, and only those: X448, secp521r1 and the
 * ffdhe groups cost up to a hundred times X25519's CPU, and the key exchange
 * happens before any client certificate is checked. */
static const char groups[] = "X25519:prime256v1:secp384r1";

static const char tls13_suites[] =
    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384";

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)arg;
    static const unsigned char ours[] = "\x0c" BL_ALPN;
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* offered ALPN, but not ours */
    *out = selected;
    /* Called after the session to resume (if any) was accepted. */
    tls_tickets_hello_done(ssl);
    return SSL_TLSEXT_ERR_OK;
}

static int ctx_configure(SSL_CTX *ctx, const config_t *cfg, char *err, size_t errlen)
{
    const char *what = NULL;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        what = "min protocol";
    else if (!SSL_CTX_set_cipher_list(ctx, intermediate_ciphers))
        what = "cipher list";
    else if (!SSL_CTX_set1_groups_list(ctx, groups))
        what = "groups";
    else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
        what = cfg->tls_cert;
    else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1)
        what = cfg->tls_key;
    else if (SSL_CTX_check_private_key(ctx) != 1)
        what = "tls_key does not match tls_cert";
    else if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1)
        what = cfg->tls_ca;
    if (what) {
        char detail[256];
        tls_error_text(detail, sizeof detail);
        snprintf(err, errlen, "%s: %s", what, detail);
        return -1;
    }
    if (cfg->tls_crl[0]) {
        /* Revoked client certificates then fail verification in the handshake. */
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
        if (!lookup || X509_load_crl_file(lookup, cfg->tls_crl, X509_FILETYPE_PEM) <= 0) {
            char detail[256];
            tls_error_text(detail, sizeof detail);
            snprintf(err, errlen, "%s: %s", cfg->tls_crl, detail);
            return -1;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_ca);
    if (names)
        SSL_CTX_set_client_CA_list(ctx, names);
    return 0;
}

/* Adds the bytes of file `path` (if given) to the digest. */
static int digest_file(EVP_MD_CTX *md, const char *path)
{
    if (!path || !path[0])
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char buf[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        rc = EVP_DigestUpdate(md, buf, n) == 1 ? 0 : -1;
    if (ferror(f))
        rc = -1;
    fclose(f);
    return rc;
}

/*
 * Sessions resume only under the same client CA and CRL: the session id
 * context is a digest of both files, so a ticket issued before either
 * changed is never accepted after (OpenSSL also refuses resumption without
 * a context when it verifies client certificates). The ticket keys outlive
 * a reload (tls_tickets.h): this context is what binds a ticket to the
 * trust it was made under.
 */
static int ctx_set_session_context(SSL_CTX *ctx, const config_t *cfg, char *err, size_t errlen)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = -1;
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && digest_file(md, cfg->tls_ca) == 0 &&
        digest_file(md, cfg->tls_crl) == 0 && EVP_DigestFinal_ex(md, digest, &len) == 1 &&
        SSL_CTX_set_session_id_context(ctx, digest, len < SSL_MAX_SID_CTX_LENGTH ? len : SSL_MAX_SID_CTX_LENGTH) == 1)
        rc = 0;
    EVP_MD_CTX_free(md);
    if (rc != 0)
        snprintf(err, errlen, "session id context from %s: cannot read or digest it", cfg->tls_ca);
    return rc;
}

SSL_CTX *tls_server_ctx_new(const config_t *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_error_text(err, errlen);
        return NULL;
    }
    if (ctx_configure(ctx, cfg, err, errlen) != 0 || ctx_set_session_context(ctx, cfg, err, errlen) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Idle connections then hold no read/write buffers: this is what lets one
     * daemon keep thousands of connections open. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* One read(2) takes whatever the socket holds (a client's whole flight,
     * a request's header and body) instead of a record header, then its
     * body: about half the read calls per connection and per request.
     * conn.c asks SSL_has_pending, which sees bytes read ahead. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_verify_depth(ctx, 4);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    /* Resumption by stateless tickets (TLS 1.2 and 1.3), encrypted with the
     * daemon's rotating keys (tls_tickets.c): no server-side cache to share
     * between workers, and one ticket per handshake is enough for a client
     * to reconnect. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (tls_tickets_attach(ctx, cfg->tls_ticket_key_period_s) != 0) {
        tls_error_text(err, errlen);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Mozilla intermediate's three TLS 1.3 suites, ChaCha20-Poly1305 first:
     * its cipher state is about 450 bytes smaller per connection than
     * AES-GCM's (which matters at 10,000 idle connections), and on our
     * small frames it costs no measurable CPU. */
    SSL_CTX_set_ciphersuites(ctx, tls13_suites);
    return ctx;
}

SSL_CTX *tls_http_ctx_new(const config_t *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_error_text(err, errlen);
        return NULL;
    }
    if (ctx_configure(ctx, cfg, err, errlen) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Scrapers and browsers bring no client certificate. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_ciphersuites(ctx, tls13_suites);
    return ctx;
}

int tls_peer_subject(SSL *ssl, char *out, size_t outlen)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
        return -1;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return -1;
    int rc = -1;
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int n = BIO_read(bio, out, (int)outlen - 1);
        if (n >= 0) {
            out[n] = '\0';
            rc = 0;
        }
    }
    BIO_free(bio);
    return rc;
}
