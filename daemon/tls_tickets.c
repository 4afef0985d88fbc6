#include "tls_tickets.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "clock.h"

/* The RFC 5077 layout OpenSSL expects: a 16-byte name, AES-256-CBC for
 * the session, HMAC-SHA256 over the ticket. */
typedef struct {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    uint64_t until_us; /* current: encrypts until then; previous: decrypts until then */
    bool set;
} ticket_key_t;

/* SSL ex_data slot: set on a connection whose ticket was of the previous
 * key (it gets a new ticket). */
static int renew_index = -1;
static pthread_once_t renew_once = PTHREAD_ONCE_INIT;

static void renew_index_new(void)
{
    renew_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static struct {
    pthread_mutex_t lock;
    ticket_key_t current, previous;
    uint64_t period_us;
    unsigned long generation;
} keys = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void key_wipe(ticket_key_t *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

/* Under the lock: the current key becomes the previous one (decrypting
 * until retire_us) and a new random key the current. -1 when the random
 * generator fails (the old keys then stay). */
static int rotate_locked(uint64_t now_us, uint64_t retire_us)
{
    ticket_key_t next = {.set = true, .until_us = now_us + keys.period_us};
    if (RAND_priv_bytes(next.name, sizeof next.name) != 1 || RAND_priv_bytes(next.aes, sizeof next.aes) != 1 ||
        RAND_priv_bytes(next.hmac, sizeof next.hmac) != 1) {
        key_wipe(&next);
        return -1;
    }
    key_wipe(&keys.previous);
    if (keys.current.set && now_us < retire_us) {
        keys.previous = keys.current;
        keys.previous.until_us = retire_us;
    }
    keys.current = next;
    keys.generation++;
    OPENSSL_cleanse(&next, sizeof next);
    return 0;
}

/* Under the lock: keys past their time rotate or go. Rotation happens on
 * the first handshake after a key's period, but its times count from when
 * the period ended: a key encrypts for one period from its creation and
 * decrypts for one more, however quiet the daemon was. */
static int age_locked(uint64_t now_us)
{
    if (keys.previous.set && now_us >= keys.previous.until_us)
        key_wipe(&keys.previous);
    if (!keys.current.set || now_us >= keys.current.until_us)
        return rotate_locked(now_us, keys.current.until_us + keys.period_us);
    return 0;
}

static int mac_init(EVP_MAC_CTX *hctx, unsigned char *key, size_t len)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, len),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket key callback. enc: fill in the name, IV, cipher and MAC
 * of a new ticket (1, or -1 on failure). Decrypt: 1 for the current key,
 * 2 for the previous one (accepted, and a new ticket is issued), 0 for a
 * key unknown or retired (a full handshake follows).
 */
static int ticket_key_cb(SSL *ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    ticket_key_t k;
    int rc;
    pthread_mutex_lock(&keys.lock);
    if (age_locked(clock_mono_us()) != 0) {
        pthread_mutex_unlock(&keys.lock);
        return enc ? -1 : 0;
    }
    if (enc) {
        k = keys.current;
        rc = 1;
    } else if (memcmp(name, keys.current.name, sizeof keys.current.name) == 0) {
        k = keys.current;
        rc = 1;
    } else if (keys.previous.set && memcmp(name, keys.previous.name, sizeof keys.previous.name) == 0) {
        k = keys.previous;
        rc = 2;
        if (renew_index >= 0)
            SSL_set_ex_data(ssl, renew_index, (void *)1);
    } else {
        pthread_mutex_unlock(&keys.lock);
        return 0;
    }
    pthread_mutex_unlock(&keys.lock);
    const EVP_CIPHER *aes = EVP_aes_256_cbc();
    if (enc) {
        memcpy(name, k.name, sizeof k.name);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1 ||
            EVP_EncryptInit_ex(cctx, aes, NULL, k.aes, iv) != 1 || mac_init(hctx, k.hmac, sizeof k.hmac) != 0)
            rc = -1;
    } else if (mac_init(hctx, k.hmac, sizeof k.hmac) != 0 || EVP_DecryptInit_ex(cctx, aes, NULL, k.aes, iv) != 1) {
        rc = -1;
    }
    key_wipe(&k);
    return rc;
}

void tls_tickets_hello_done(SSL *ssl)
{
    if (SSL_session_reused(ssl) == 1 && (renew_index < 0 || !SSL_get_ex_data(ssl, renew_index)))
        SSL_set_num_tickets(ssl, 0);
}

int tls_tickets_attach(SSL_CTX *ctx, int period_s)
{
    pthread_once(&renew_once, renew_index_new);
    uint64_t period_us = (uint64_t)(period_s > 0 ? period_s : 1) * 1000000u;
    pthread_mutex_lock(&keys.lock);
    /* A new period takes effect for the keys made from now on. */
    keys.period_us = period_us;
    int rc = age_locked(clock_mono_us());
    pthread_mutex_unlock(&keys.lock);
    if (rc != 0)
        return -1;
    /* The ticket's lifetime (also the hint sent to clients): a ticket is
     * never older than the key that still decrypts it. */
    SSL_CTX_set_timeout(ctx, (long)(period_s > 0 ? period_s : 1));
    return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb) == 1 ? 0 : -1;
}

void tls_tickets_rotate(void)
{
    pthread_mutex_lock(&keys.lock);
    uint64_t now_us = clock_mono_us();
    (void)rotate_locked(now_us, now_us + keys.period_us); /* on failure the old key stays */
    pthread_mutex_unlock(&keys.lock);
}

unsigned long tls_tickets_generation(void)
{
    pthread_mutex_lock(&keys.lock);
    unsigned long g = keys.generation;
    pthread_mutex_unlock(&keys.lock);
    return g;
}

void tls_tickets_wipe(void)
{
    pthread_mutex_lock(&keys.lock);
    key_wipe(&keys.current);
    key_wipe(&keys.previous);
    pthread_mutex_unlock(&keys.lock);
}
