/* Addresses, TCP connect and waiting on a socket, for the client library. */
#ifndef BRANCHLINE_BLC_NET_H
#define BRANCHLINE_BLC_NET_H

#include <stddef.h>
#include <stdint.h>

#define BLC_HOST_MAX 256
#define BLC_PORT_MAX 6

/*
 * Splits "host:port", "[v6]:port", "host" or "[v6]" into host (brackets
 * removed) and port. 0, or -1 with a message in err.
 */
int blc_net_split(const char *server, char host[BLC_HOST_MAX],
                  char port[BLC_PORT_MAX], char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* True when host is an IPv4 or IPv6 literal (no brackets). */
int blc_net_is_ip(const char *host);

/*
 * Resolves host and connects to the first address that answers before the
 * deadline. Returns a non-blocking socket with TCP_NODELAY, or -1 with the
 * reason in err.
 */
int blc_net_connect(const char *host, const char *port, int64_t deadline_ms,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

/* A deadline that never passes. */
#define BLC_NET_NO_DEADLINE INT64_MAX

/* blc_net_wait's answer when wake_fd became readable first. */
#define BLC_NET_WOKEN 2

/*
 * poll() for events on fd, and for input on wake_fd unless it is -1, until
 * the deadline: 1 fd ready, BLC_NET_WOKEN, 0 timed out, -1 error (errno).
 * Signals that interrupt the wait do not end it.
 */
int blc_net_wait(int fd, short events, int wake_fd, int64_t deadline_ms);

#endif
