/*
 * Connection settings: flags override the environment (BRANCHLINE_SERVER,
 * BRANCHLINE_CA, BRANCHLINE_CERT, BRANCHLINE_KEY), which overrides the config
 * file $XDG_CONFIG_HOME/branchline/config, else ~/.config/branchline/config.
 *
 * The file is INI: keys server, ca, cert, key and tenant at the top or in
 * [default], and named contexts in sections [context NAME] with the same
 * keys; "current-context = NAME" at the top picks one (branchctl config
 * use-context writes it). --context NAME, else BRANCHLINE_CONTEXT, else
 * current-context selects the context, whose keys override the top ones.
 * Relative paths in the file are relative to its folder. A private key
 * file that its group or others may access is refused.
 *
 * TLS sessions are kept in the folder "sessions" beside the config file
 * (0700, one 0600 file per server, certificate and CA), so that the next
 * run resumes instead of making a full handshake;
 * BRANCHLINE_SESSION_CACHE=off turns that off.
 */
#ifndef BRANCHCTL_SETTINGS_H
#define BRANCHCTL_SETTINGS_H

#include <stddef.h>

#include <jansson.h>

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
    const char *context;
    const char *color;    /* not a setting: output colour, passed on by branchctl shell */
} settings_flags_t;

typedef struct {
    char *server;  /* all strings owned */
    char *ca;
    char *cert;    /* NULL: no client certificate */
    char *key;     /* NULL: the key is in cert */
    char *tenant;  /* the context's tenant (for operators), or NULL */
    char *session_dir; /* TLS sessions kept between runs: "sessions" beside the config
                          file; NULL when BRANCHLINE_SESSION_CACHE=off or no HOME */
    int timeout_ms;
} settings_t;

/*
 * Resolves and checks the settings (a CA is set; the files are readable;
 * the private key is not open to group or others). 0, or -1 with a message
 * for a usage error in err; s is released either way on failure.
 */
int settings_resolve(settings_t *s, const settings_flags_t *flags, char *err, size_t errlen)
    __attribute__((warn_unused_result));

void settings_release(settings_t *s);

/* 0 when path (a private key) is open to nobody but its owner, else -1 with why in err. */
int settings_check_key_mode(const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * The contexts of the config file, in file order, as objects {current,
 * name, server, ca, cert, key, tenant} ("" for what a context leaves out;
 * current is "*" for the selected one); [] without a file. NULL with err.
 */
json_t *settings_contexts(const settings_flags_t *flags, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Writes current-context = name into the config file; the context must exist. 0, or -1 with err. */
int settings_use_context(const char *name, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
