/*
 * tls_idle_floor: the memory one idle mutual-TLS 1.3 connection costs a
 * bare libevent + OpenSSL server on this machine, the floor for branchd's
 * memory per idle connection. The server (this process, one thread) holds
 * each connection in a libevent OpenSSL bufferevent with branchd's TLS
 * settings (X25519, ChaCha20-Poly1305, ECDSA certificates, the client
 * certificate verified, one stateless ticket, SSL_MODE_RELEASE_BUFFERS)
 * and echoes one message on it; a child process is the client. Its RSS is
 * read at FEW and at N connections, as blbench --idle reads branchd's:
 *   tls_idle_floor conns=N rss_kib_few=... rss_kib_many=... rss_per_conn_kib=...
 *
 * usage: tls_idle_floor SERVER_CERT SERVER_KEY CA CLIENT_CERT CLIENT_KEY [N [FEW]]
 */
#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static SSL_CTX *server_ctx;
static long rss_kib[2];
static int marks;

static long rss_now_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Echoes what the client sends (its one ping), as branchd answers one. */
static void echo_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr, int len, void *arg)
{
    (void)addr;
    (void)len;
    (void)arg;
    SSL *ssl = SSL_new(server_ctx);
    struct bufferevent *bev = ssl ? bufferevent_openssl_socket_new(evconnlistener_get_base(l), fd, ssl,
                                                                  BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)
                                  : NULL;
    if (!bev) {
        SSL_free(ssl);
        close(fd);
        return;
    }
    bufferevent_setcb(bev, echo_cb, NULL, event_cb, NULL);
    bufferevent_enable(bev, EV_READ);
}

/* The client says "measure now" with a byte; the answer lets it go on. */
static void mark_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct event_base *base = arg;
    char b;
    if (read(fd, &b, 1) != 1) {
        event_base_loopbreak(base);
        return;
    }
    rss_kib[marks++] = rss_now_kib();
    if (marks == 2 || write(fd, "k", 1) != 1)
        event_base_loopbreak(base);
}

static SSL_CTX *make_server_ctx(char **argv)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
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

/* One client connection: handshake, one ping echoed. The SSL is kept open. */
static SSL *client_connect(SSL_CTX *cctx, const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    SSL *ssl = SSL_new(cctx);
    char buf[8];
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1 || SSL_write(ssl, "ping", 4) != 4 ||
        SSL_read(ssl, buf, sizeof buf) != 4) {
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    return ssl;
}

/* The child: FEW connections, mark, up to N, mark, then wait to be killed. */
static int client(char **argv, const struct sockaddr_in *sa, int n, int few, int mark_fd)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    if (!cctx || SSL_CTX_use_certificate_chain_file(cctx, argv[4]) != 1 ||
        SSL_CTX_use_PrivateKey_file(cctx, argv[5], SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(cctx, argv[3], NULL) != 1)
        return 1;
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    SSL **held = calloc((size_t)n, sizeof *held);
    char ack;
    for (int i = 0; held && i < n; i++) {
        if (!(held[i] = client_connect(cctx, sa))) {
            fprintf(stderr, "tls_idle_floor: connection %d failed\n", i + 1);
            return 1;
        }
        if (i + 1 == few && (write(mark_fd, "m", 1) != 1 || read(mark_fd, &ack, 1) != 1))
            return 1;
        if (i + 1 == n && write(mark_fd, "m", 1) != 1)
            return 1;
    }
    pause();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: tls_idle_floor SERVER_CERT SERVER_KEY CA CLIENT_CERT CLIENT_KEY [N [FEW]]\n");
        return 2;
    }
    int n = argc > 6 ? atoi(argv[6]) : 2000, few = argc > 7 ? atoi(argv[7]) : 100;
    if (few < 1 || n <= few) {
        fprintf(stderr, "tls_idle_floor: need N > FEW >= 1\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct event_base *base = event_base_new();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof sa;
    struct evconnlistener *l = NULL;
    int pair[2];
    if (!(server_ctx = make_server_ctx(argv)) || !base ||
        !(l = evconnlistener_new_bind(base, accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                      (struct sockaddr *)&sa, sizeof sa)) ||
        getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sa, &salen) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
        fprintf(stderr, "tls_idle_floor: cannot set up the server\n");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        close(pair[0]);
        _exit(client(argv, &sa, n, few, pair[1]));
    }
    close(pair[1]);
    struct event *mark = event_new(base, pair[0], EV_READ | EV_PERSIST, mark_cb, base);
    event_add(mark, NULL);
    event_base_dispatch(base);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    if (marks < 2) {
        fprintf(stderr, "tls_idle_floor: the client stopped before %d connections\n", n);
        return 1;
    }
    printf("tls_idle_floor conns=%d rss_kib_few=%ld rss_kib_many=%ld rss_per_conn_kib=%.1f\n", n, rss_kib[0],
           rss_kib[1], (double)(rss_kib[1] - rss_kib[0]) / (n - few));
    return 0;
}
