/*
 * The server: worker threads, each with its own event loop, listener
 * (SO_REUSEPORT, so the kernel spreads connections over the workers) and
 * database pool. Nothing is shared between workers but the configuration,
 * the TLS context and a few atomic counters.
 */
#ifndef BRANCHD_SERVER_H
#define BRANCHD_SERVER_H

#include <openssl/ssl.h>

#include "worker.h"

/* Binds every worker's listener and creates its loop; does not start threads.
 * Takes ownership of ssl_ctx on success. */
server_t *server_new(const config_t *cfg, SSL_CTX *ssl_ctx, char *err, size_t errlen);

/* A new SSL object for an accepted connection, from the current context. */
SSL *server_new_ssl(server_t *srv);

/* Replaces the TLS context (reload): new handshakes use it, open
 * connections keep theirs. Takes ownership of ctx. */
void server_swap_tls(server_t *srv, SSL_CTX *ctx);
int server_start(server_t *srv, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Asks every worker to stop accepting and drain; safe from any thread. */
void server_stop(server_t *srv);
/* Waits for every worker thread to finish. */
void server_join(server_t *srv);
void server_free(server_t *srv);

#endif
