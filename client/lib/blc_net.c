#include "blc_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "blclient.h"

int64_t blc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int port_valid(const char *port)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(port, &end, 10);
    return port[0] >= '0' && port[0] <= '9' && *end == '\0' && !errno && n >= 1 && n <= 65535;
}

int blc_net_split(const char *server, char host[BLC_HOST_MAX],
                  char port[BLC_PORT_MAX], char *err, size_t errlen)
{
    const char *h = server, *p = BLC_DEFAULT_PORT, *rest;
    size_t hlen;
    if (server[0] == '[') {
        const char *close = strchr(server, ']');
        if (!close) {
            snprintf(err, errlen, "invalid server address '%s': missing ']'", server);
            return -1;
        }
        h = server + 1;
        hlen = (size_t)(close - h);
        rest = close + 1;
    } else {
        const char *colon = strchr(server, ':');
        if (colon && strchr(colon + 1, ':')) {
            snprintf(err, errlen, "invalid server address '%s': write IPv6 addresses "
                     "in brackets, as [::1]:7443", server);
            return -1;
        }
        hlen = colon ? (size_t)(colon - server) : strlen(server);
        rest = server + hlen;
    }
    if (rest[0] == ':')
        p = rest + 1;
    else if (rest[0] != '\0') {
        snprintf(err, errlen, "invalid server address '%s'", server);
        return -1;
    }
    if (hlen == 0 || hlen >= BLC_HOST_MAX) {
        snprintf(err, errlen, "invalid server address '%s': %s host", server,
                 hlen ? "overlong" : "empty");
        return -1;
    }
    if (strlen(p) >= BLC_PORT_MAX || !port_valid(p)) {
        snprintf(err, errlen, "invalid server address '%s': port must be 1-65535", server);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(port, p);
    return 0;
}

int blc_net_is_ip(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

int blc_net_wait(int fd, short events, int wake_fd, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - blc_now_ms();
        if (left < 0)
            left = 0;
        bool capped = deadline_ms != BLC_NET_NO_DEADLINE && left > INT_MAX;
        int timeout = deadline_ms == BLC_NET_NO_DEADLINE ? -1 : capped ? INT_MAX : (int)left;
        struct pollfd pfd[2] = {{.fd = fd, .events = events}, {.fd = wake_fd, .events = POLLIN}};
        int rc = poll(pfd, wake_fd >= 0 ? 2 : 1, timeout);
        if (rc > 0)
            return pfd[0].revents ? 1 : BLC_NET_WOKEN;
        if (rc == 0 && !capped)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

static int connect_one(const struct addrinfo *ai, int64_t deadline_ms, int *why)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    if (fd < 0)
        goto fail;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            goto fail;
        int ready = blc_net_wait(fd, POLLOUT, -1, deadline_ms);
        if (ready <= 0) {
            if (ready == 0)
                errno = ETIMEDOUT;
            goto fail;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            goto fail;
        if (soerr) {
            errno = soerr;
            goto fail;
        }
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        goto fail;
    return fd;
fail:
    *why = errno;
    if (fd >= 0)
        close(fd);
    return -1;
}

int blc_net_connect(const char *host, const char *port, int64_t deadline_ms,
                    char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    int fd = -1, why = 0;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        if (blc_now_ms() >= deadline_ms) {
            why = ETIMEDOUT;
            break;
        }
        fd = connect_one(ai, deadline_ms, &why);
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "%s", why == ETIMEDOUT ? "connect timed out" : strerror(why));
    return fd;
}
