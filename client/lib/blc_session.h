/*
 * TLS sessions kept between processes (blc_options_t.session_dir): a
 * short-lived client such as branchctl resumes the session of its previous
 * run instead of making a full handshake (the daemon's CPU is mostly the
 * handshake's public-key operations).
 *
 * One file per server, client certificate and CA file: its name is a
 * SHA-256 of the server string, the client certificate (DER) and the CA
 * file's bytes, so a session is never offered with another certificate, to
 * another server, or after the CA changed (a resumed session skips the
 * server certificate's check). The file holds the session's secret: it is
 * written 0600 in a 0700 directory, replaced atomically, and read only when
 * it is a regular file of ours that nobody else may read.
 */
#ifndef BRANCHLINE_BLC_SESSION_H
#define BRANCHLINE_BLC_SESSION_H

#include <stdbool.h>

#include <openssl/ssl.h>

#define BLC_SESSION_PATH_MAX 4096

/* Lets ctx hand new sessions (tickets) to blc_session_save. */
void blc_session_ctx_init(SSL_CTX *ctx);

/*
 * The cache file of (server, ctx's client certificate, ca_file) in dir, in
 * path. -1 when it cannot be named (the CA file unreadable, a path too long).
 */
int blc_session_path(const char *dir, const char *server, SSL_CTX *ctx, const char *ca_file,
                     char path[BLC_SESSION_PATH_MAX]) __attribute__((warn_unused_result));

/*
 * Before the handshake: offers the session saved at path (if any and safe
 * to read), and has every new session of ssl saved there. path must live
 * as long as ssl. True when a session is offered.
 */
bool blc_session_use(SSL *ssl, const char *path);

/* The saved session is of no use any more: the server did not resume it
 * (its key retired, the CA or CRL changed) or the handshake failed. */
void blc_session_forget(const char *path);

#endif
