/*
 * TLS session ticket keys: one set for the whole daemon (every worker and
 * every TLS context a reload builds), so that a ticket stays good across a
 * SIGHUP that changes nothing a session depends on.
 *
 * A key encrypts new tickets for one period, then only decrypts them for
 * one more period (the ticket is renewed with the current key); after that
 * its tickets are refused and the client makes a full handshake. A ticket's
 * lifetime is one period too. SIGHUP starts a new key at once (the old one
 * still decrypts for a period). Keys are random (RAND_priv_bytes), live in
 * memory only and are wiped when replaced.
 *
 * What a ticket may resume is bounded elsewhere: the session id context
 * (tls.c) is a digest of the client CA and the CRL, so a ticket made under
 * another CA or CRL never resumes, whatever its key.
 */
#ifndef BRANCHD_TLS_TICKETS_H
#define BRANCHD_TLS_TICKETS_H

#include <openssl/ssl.h>

/* Encrypts and decrypts ctx's tickets with the daemon's keys, which
 * rotate every period_s seconds (also the lifetime of a ticket).
 * 0, or -1 (OpenSSL's error queue says why). */
int tls_tickets_attach(SSL_CTX *ctx, int period_s) __attribute__((warn_unused_result));

/*
 * Once the ClientHello is processed (tls.c's ALPN callback): a session
 * resumed with the current key gets no new ticket. The client keeps
 * offering the one it has until it expires (one period) or its key is
 * retired; issuing a ticket (the session, client certificate included,
 * serialized and encrypted) is about a third of a resumed handshake's CPU.
 * A ticket of the previous key is renewed as usual.
 */
void tls_tickets_hello_done(SSL *ssl);

/* SIGHUP: a new key encrypts from now on; the current one still decrypts
 * for one period. */
void tls_tickets_rotate(void);

/* Rotations so far (a new key each), for logs and tests. */
unsigned long tls_tickets_generation(void);

/* Wipes the keys (at exit). */
void tls_tickets_wipe(void);

#endif
