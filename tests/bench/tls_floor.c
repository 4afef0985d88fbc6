/*
 * tls_floor: what OpenSSL alone costs the server for one mutual-TLS 1.3
 * handshake on this machine, with branchd's settings (X25519,
 * ChaCha20-Poly1305, ECDSA certificates, client certificate verified, one
 * stateless ticket). Client and server run in one thread over a memory BIO
 * pair, so no socket, kernel or event loop is counted; only the server's
 * calls are timed (thread CPU time). Prints
 *   tls_floor full_us=... resumed_us=... resumed_no_ticket_us=...
 * the server's CPU microseconds per handshake: full, resumed with a new
 * ticket, and resumed without one (what branchd does with the current key).
 *
 * usage: tls_floor SERVER_CERT SERVER_KEY CA CLIENT_CERT CLIENT_KEY [N]
 */
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Server CPU seconds spent so far. */
static double server_s;

#define TIMED(call) do { double t0_ = thread_cpu_s(); call; server_s += thread_cpu_s() - t0_; } while (0)

/* One connection: handshake, one record each way, close. Returns the
 * client's session for the next one (NULL on failure); *reused says
 * whether this one resumed. */
static SSL_SESSION *one(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *offer, int *reused)
{
    SSL *c = SSL_new(cctx), *s = NULL;
    BIO *cb = NULL, *sb = NULL;
    SSL_SESSION *next = NULL;
    char buf[64];
    TIMED(s = SSL_new(sctx));
    if (!c || !s || BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
        goto out;
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (offer)
        SSL_set_session(c, offer);
    int sdone = 0;
    for (int i = 0; i < 20 && !(sdone == 1 && SSL_is_init_finished(c)); i++) {
        SSL_do_handshake(c);
        TIMED(sdone = SSL_do_handshake(s));
    }
    if (sdone != 1 || SSL_write(c, "ping", 4) != 4)
        goto out;
    int n = 0;
    TIMED(n = SSL_read(s, buf, sizeof buf); SSL_write(s, "pong", 4));
    if (n != 4 || SSL_read(c, buf, sizeof buf) != 4) /* the ticket arrives with it */
        goto out;
    *reused = SSL_session_reused(c);
    next = SSL_get1_session(c);
    SSL_shutdown(c);
    TIMED(SSL_shutdown(s));
out:
    TIMED(SSL_free(s));
    SSL_free(c);
    return next;
}

static SSL_CTX *server_ctx(char **argv)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1 ||
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"floor", 5) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:prime256v1:secp384r1") != 1 ||
        SSL_CTX_set_ciphersuites(ctx, "TLS_CHACHA20_POLY1305_SHA256") != 1)
        return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

/* Runs n connections (offering the last session when resume; tickets
 * after the first: `tickets`) and returns the server's microseconds per
 * handshake, or -1 if one failed or did not resume as it should. */
static double run(SSL_CTX *sctx, SSL_CTX *cctx, int n, int resume, int tickets)
{
    int reused = 0;
    SSL_CTX_set_num_tickets(sctx, 1);
    SSL_SESSION *sess = one(sctx, cctx, NULL, &reused);
    SSL_CTX_set_num_tickets(sctx, (size_t)tickets);
    server_s = 0;
    for (int i = 0; sess && i < n; i++) {
        SSL_SESSION *next = one(sctx, cctx, resume ? sess : NULL, &reused);
        if (!next || reused != resume) {
            SSL_SESSION_free(next);
            SSL_SESSION_free(sess);
            return -1;
        }
        if (resume && SSL_SESSION_is_resumable(next)) {
            SSL_SESSION_free(sess);
            sess = next;
        } else {
            SSL_SESSION_free(next); /* no new ticket: the old one again */
        }
    }
    SSL_SESSION_free(sess);
    return server_s * 1e6 / n;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: tls_floor SERVER_CERT SERVER_KEY CA CLIENT_CERT CLIENT_KEY [N]\n");
        return 2;
    }
    int n = argc > 6 ? atoi(argv[6]) : 500;
    SSL_CTX *sctx = server_ctx(argv), *cctx = SSL_CTX_new(TLS_client_method());
    if (!sctx || !cctx || SSL_CTX_use_certificate_chain_file(cctx, argv[4]) != 1 ||
        SSL_CTX_use_PrivateKey_file(cctx, argv[5], SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(cctx, argv[3], NULL) != 1 || n < 1) {
        fprintf(stderr, "tls_floor: cannot set up the TLS contexts\n");
        return 1;
    }
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    double full = run(sctx, cctx, n, 0, 1), resumed = run(sctx, cctx, n, 1, 1), quiet = run(sctx, cctx, n, 1, 0);
    printf("tls_floor full_us=%.1f resumed_us=%.1f resumed_no_ticket_us=%.1f handshakes=%d\n", full, resumed,
           quiet, n);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return full > 0 && resumed > 0 && quiet > 0 ? 0 : 1;
}
