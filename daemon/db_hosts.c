#include "db_hosts.h"

#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int items_in(const char *list)
{
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    return n;
}

static void items_free(char **items, int n)
{
    for (int i = 0; items && i < n; i++)
        free(items[i]);
    free(items);
}

/* Splits a comma-separated list as libpq does (no escapes, empty entries kept). */
static char **items_split(const char *list, int n)
{
    char **items = calloc((size_t)n, sizeof *items);
    if (!items)
        return NULL;
    const char *p = list;
    for (int i = 0; i < n; i++) {
        size_t len = strcspn(p, ",");
        if (!(items[i] = strndup(p, len))) {
            items_free(items, n);
            return NULL;
        }
        p += len + (p[len] == ',');
    }
    return items;
}

/* libpq's meaning: whole seconds, at most 0 is "wait forever", below 2 is 2. */
static int timeout_from(const char *value)
{
    if (!value || !*value)
        return DB_CONNECT_TIMEOUT_DEFAULT_MS;
    char *end;
    errno = 0;
    long s = strtol(value, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || *end || s <= 0)
        return DB_CONNECT_TIMEOUT_DEFAULT_MS;
    if (s > INT_MAX / 1000)
        s = INT_MAX / 1000;
    int ms = (int)s * 1000;
    return ms < DB_CONNECT_TIMEOUT_MIN_MS ? DB_CONNECT_TIMEOUT_MIN_MS : ms;
}

PGconn *db_connect_blocking(const char *conninfo)
{
    /* Keywords after dbname (the conninfo) override it: its own connect_timeout wins. */
    static const char *const keys[] = {"connect_timeout", "dbname", NULL};
    char seconds[16];
    snprintf(seconds, sizeof seconds, "%d", timeout_from(getenv("PGCONNECT_TIMEOUT")) / 1000);
    const char *const values[] = {seconds, conninfo, NULL};
    return PQconnectdbParams(keys, values, 1);
}

int db_hosts_init(db_hosts_t *h, const char *conninfo)
{
    memset(h, 0, sizeof *h);
    /* libpq's environment default; the conninfo's own wins (below). */
    h->timeout_ms = timeout_from(getenv("PGCONNECT_TIMEOUT"));
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        /* err NULL: out of memory; else libpq reports it again when connecting */
        bool oom = err == NULL;
        PQfreemem(err);
        return oom ? -1 : 0;
    }
    const char *host = NULL, *hostaddr = NULL, *port = NULL;
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "connect_timeout") == 0)
            h->timeout_ms = timeout_from(o->val);
    }
    int rc = 0;
    int n = host ? items_in(host) : hostaddr ? items_in(hostaddr) : 0;
    /* Lists libpq would refuse, or a single host: nothing to rotate. */
    if (n < 2 || (host && hostaddr && items_in(hostaddr) != n) ||
        (port && items_in(port) != n && items_in(port) != 1))
        goto out;
    h->count = n;
    if ((host && !(h->host = items_split(host, n))) ||
        (hostaddr && !(h->hostaddr = items_split(hostaddr, n))) ||
        (port && items_in(port) == n && !(h->port = items_split(port, n)))) {
        db_hosts_free(h);
        rc = -1;
    }
out:
    PQconninfoFree(opts);
    return rc;
}

void db_hosts_free(db_hosts_t *h)
{
    items_free(h->host, h->count);
    items_free(h->hostaddr, h->count);
    items_free(h->port, h->count);
    h->host = h->hostaddr = h->port = NULL;
    h->count = 0;
}

/* Writes items from `first` on, wrapping, comma-separated; false when it does not fit. */
static bool join_rotated(char **items, int n, int first, char *buf, size_t buflen, size_t *used)
{
    for (int i = 0; i < n; i++) {
        const char *item = items[(first + i) % n];
        size_t len = strlen(item);
        if (*used + len + 2 > buflen)
            return false;
        memcpy(buf + *used, item, len);
        *used += len;
        buf[(*used)++] = i + 1 < n ? ',' : '\0';
    }
    return true;
}

int db_hosts_rotated(const db_hosts_t *h, int first, const char **keys, const char **values,
                     char *buf, size_t buflen)
{
    if (h->count < 2 || first % h->count == 0)
        return 0;
    first %= h->count;
    char **const lists[] = {h->host, h->hostaddr, h->port};
    static const char *const names[] = {"host", "hostaddr", "port"};
    int added = 0;
    size_t used = 0;
    for (int k = 0; k < 3; k++) {
        if (!lists[k])
            continue;
        size_t start = used;
        if (!join_rotated(lists[k], h->count, first, buf, buflen, &used))
            return 0;
        keys[added] = names[k];
        values[added++] = buf + start;
    }
    return added;
}

/* Whether entry i is the host libpq reports: PQhost() is the host name, or
 * the address when no name was given; PQport() is filled in by libpq. */
static bool entry_is(const db_hosts_t *h, int i, const char *host, const char *port)
{
    const char *name = h->host && h->host[i][0]           ? h->host[i]
                       : h->hostaddr && h->hostaddr[i][0] ? h->hostaddr[i]
                                                          : "";
    if (name[0] && strcmp(name, host ? host : "") != 0)
        return false;
    return !h->port || !h->port[i][0] || strcmp(h->port[i], port ? port : "") == 0;
}

int db_hosts_position(const db_hosts_t *h, int first, int from, const char *host, const char *port)
{
    if (h->count < 2)
        return -1;
    from = from < 0 ? 0 : from % h->count;
    for (int k = 0; k < h->count; k++) {
        int pos = (from + k) % h->count; /* from `from` to the end, then from the start */
        if (entry_is(h, (first + pos) % h->count, host, port))
            return pos;
    }
    return -1;
}
