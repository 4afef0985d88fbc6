/*
 * Connection settings: flags override the environment (BRANCHLINE_SERVER,
 * BRANCHLINE_CA, BRANCHLINE_CERT, BRANCHLINE_KEY), which overrides the config
 * file $XDG_CONFIG_HOME/branchline/config, else ~/.config/branchline/config
 * (INI: keys server, ca, cert, key at the top or in [default]; relative paths
 * are relative to the file's folder).
 */
#ifndef BRANCHCTL_SETTINGS_H
#define BRANCHCTL_SETTINGS_H

#include <stddef.h>

#define SETTINGS_DEFAULT_SERVER "127.0.0.1:7443"

/* Values of the global flags as given on the command line; NULL when absent. */
typedef struct {
    const char *server;
    const char *ca;
    const char *cert;
    const char *key;
    const char *output;
    const char *timeout;
    const char *columns;
} settings_flags_t;

typedef struct {
    char *server;  /* all strings owned */
    char *ca;
    char *cert;    /* NULL: no client certificate */
    char *key;     /* NULL: the key is in cert */
    int timeout_ms;
} settings_t;

/*
 * Resolves and checks the settings (a CA is set; the files are readable).
 * 0, or -1 with a message for a usage error in err; s is released either way
 * on failure.
 */
int settings_resolve(settings_t *s, const settings_flags_t *flags, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void settings_release(settings_t *s);

#endif
