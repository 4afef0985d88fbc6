/* One connection to branchd for a command, and checking what comes back. */
#ifndef BRANCHCTL_SESSION_H
#define BRANCHCTL_SESSION_H

#include "blclient.h"
#include "commands.h"
#include "settings.h"

typedef struct {
    settings_t settings;
    blc_t *conn;
} session_t;

/*
 * Resolves the settings and connects. Returns 0, or prints the error and
 * returns the exit code (usage for settings, connect for the rest); on
 * failure nothing is left to close.
 */
int session_open(const cli_t *cli, session_t *s) __attribute__((warn_unused_result));

void session_close(session_t *s);

/*
 * 0 when r is a successful answer carrying the result `want`; otherwise
 * prints why and returns the exit code. r NULL reports the connection's error.
 */
int session_check(const cli_t *cli, const session_t *s, const Branchline__V1__Response *r,
                  Branchline__V1__Response__ResultCase want);

#endif
