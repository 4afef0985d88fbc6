#include "blc_session.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static int digest_bytes(EVP_MD_CTX *md, const void *p, size_t n)
{
    return EVP_DigestUpdate(md, p, n) == 1 ? 0 : -1;
}

static int digest_file(EVP_MD_CTX *md, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char buf[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        rc = digest_bytes(md, buf, n);
    if (ferror(f))
        rc = -1;
    fclose(f);
    return rc;
}

/* The client certificate's DER, or nothing for a client without one. */
static int digest_client_cert(EVP_MD_CTX *md, SSL_CTX *ctx)
{
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    if (!cert)
        return digest_bytes(md, "", 1);
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len <= 0)
        return -1;
    int rc = digest_bytes(md, der, (size_t)len);
    OPENSSL_free(der);
    return rc;
}

int blc_session_path(const char *dir, const char *server, SSL_CTX *ctx, const char *ca_file,
                     char path[BLC_SESSION_PATH_MAX])
{
    static const char domain[] = "branchline tls session v1";
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = -1;
    /* Each part ends with a NUL, so no two lists of parts digest alike. */
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && digest_bytes(md, domain, sizeof domain) == 0 &&
        digest_bytes(md, server, strlen(server) + 1) == 0 && digest_client_cert(md, ctx) == 0 &&
        digest_bytes(md, "", 1) == 0 && digest_file(md, ca_file) == 0 &&
        EVP_DigestFinal_ex(md, sum, &len) == 1)
        rc = 0;
    EVP_MD_CTX_free(md);
    if (rc != 0)
        return -1;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", sum[i]);
    int n = snprintf(path, BLC_SESSION_PATH_MAX, "%s/%s.pem", dir, hex);
    return n > 0 && n < BLC_SESSION_PATH_MAX ? 0 : -1;
}

/* The directory of path, made 0700 with whatever folders above it are
 * missing (the client's configuration folder may not exist yet). 0 or -1. */
static int make_dir_of(const char *path)
{
    char dir[BLC_SESSION_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return -1;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char end = *p;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = end;
            if (!end)
                return 0;
        }
    }
}

/* Writes sess to path through a private temporary file and a rename, so
 * that a reader (another run at the same time) sees the old or the new. */
static void save(const char *path, SSL_SESSION *sess)
{
    char tmp[BLC_SESSION_PATH_MAX + 16];
    if (make_dir_of(path) != 0 || snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return;
    int fd = mkstemp(tmp); /* 0600 */
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return;
    }
    int ok = fchmod(fd, 0600) == 0 && PEM_write_SSL_SESSION(f, sess) == 1;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

/* OpenSSL hands every new session here (TLS 1.3: a ticket after the
 * handshake, read with the first answer). 0: we keep no reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    const char *path = SSL_get_app_data(ssl);
    if (path && SSL_SESSION_is_resumable(sess))
        save(path, sess);
    return 0;
}

void blc_session_ctx_init(SSL_CTX *ctx)
{
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
}

/* The saved session, if the file is a regular file of ours closed to
 * group and others; NULL otherwise. */
static SSL_SESSION *load(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return NULL;
    }
    SSL_SESSION *sess = PEM_read_SSL_SESSION(f, NULL, NULL, NULL);
    fclose(f);
    if (!sess)
        ERR_clear_error(); /* a damaged file: a full handshake replaces it */
    return sess;
}

bool blc_session_use(SSL *ssl, const char *path)
{
    SSL_set_app_data(ssl, (void *)path);
    SSL_SESSION *sess = load(path);
    bool offered = sess && SSL_SESSION_is_resumable(sess) && SSL_set_session(ssl, sess) == 1;
    SSL_SESSION_free(sess);
    return offered;
}

void blc_session_forget(const char *path)
{
    if (path && path[0])
        unlink(path);
}
