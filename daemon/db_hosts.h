/*
 * A connection string's hosts, as the database pool's connection attempts
 * need them (db.c). libpq applies connect_timeout only in its blocking
 * connect; with PQconnectPoll the pool keeps the time itself, so this
 * reads the deadline from the conninfo. And libpq always tries a
 * multi-host list (host=a,b) from its first entry: a first host that
 * accepts TCP and never answers would hold every attempt, so an attempt
 * that timed out on one host starts the next one at the host after it,
 * the lists (host, hostaddr, port) rotated together. Everything else in
 * the conninfo, target_session_attrs first, is left to libpq.
 */
#ifndef BRANCHD_DB_HOSTS_H
#define BRANCHD_DB_HOSTS_H

#include <libpq-fe.h>
#include <stddef.h>

/* Without connect_timeout (or with 0, libpq's "forever"). */
#define DB_CONNECT_TIMEOUT_DEFAULT_MS 10000
/* libpq's own minimum for connect_timeout: 2 s. */
#define DB_CONNECT_TIMEOUT_MIN_MS 2000

typedef struct {
    int count;          /* entries of the host list; below 2 nothing rotates */
    char **host;        /* count entries ("" where empty), or NULL when not given */
    char **hostaddr;    /* the same */
    char **port;        /* count entries, or NULL when not given or one for all */
    int timeout_ms;     /* each host's deadline */
} db_hosts_t;

/* Reads conninfo (key=value or URI); its connect_timeout, else the
 * environment's PGCONNECT_TIMEOUT, as libpq. A conninfo libpq cannot parse
 * gives no list and that deadline (connecting then reports the error).
 * 0, or -1 when memory runs out. */
int db_hosts_init(db_hosts_t *h, const char *conninfo) __attribute__((warn_unused_result));
void db_hosts_free(db_hosts_t *h);

/*
 * The connection keywords that start the list at entry `first` (0 is the
 * conninfo's own order): appends up to 3 keys and values (host, hostaddr,
 * port: those the conninfo gave) to keys/values, the values written into
 * buf. Returns how many were appended; 0 when there is nothing to rotate,
 * or the lists do not fit in buf (the conninfo's own order then).
 */
int db_hosts_rotated(const db_hosts_t *h, int first, const char **keys, const char **values,
                     char *buf, size_t buflen);

/*
 * The position (0 is entry `first`) in the list that starts at `first` of
 * the host libpq is on, from PQhost() and PQport(): the first that fits at
 * or after position `from`, else from the start; -1 when none does.
 */
int db_hosts_position(const db_hosts_t *h, int first, int from, const char *host, const char *port);

/*
 * The blocking connect of start-up's checks and of the migrate commands:
 * libpq's PQconnectdb, which applies connect_timeout itself, with the same
 * default as the pools' attempts when neither the conninfo nor
 * PGCONNECT_TIMEOUT sets one (libpq would wait for a silent server for
 * ever). PQfinish the result, as PQconnectdb's.
 */
PGconn *db_connect_blocking(const char *conninfo);

#endif
