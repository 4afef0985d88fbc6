/*
 * branchd configuration: one declarative option table (config.c) drives the
 * INI file parser, the command-line flags, validation and --help.
 */
#ifndef BRANCHD_CONFIG_H
#define BRANCHD_CONFIG_H

#include <stdio.h>

typedef struct {
    char *listen_address;
    int listen_port;
    char *port_file;
    char *tls_cert;
    char *tls_key;
    char *tls_ca;
    char *tls_crl;
    char *db_conninfo;
    char *db_read_conninfo;     /* "": no read pool, every statement on db_conninfo */
    char *migrate_conninfo;
    int workers;
    int db_pool_size;
    int db_read_pool_size;
    int db_read_failback_s;     /* read pool back to a standby after a failover; 0: off */
    int db_queue_max;
    int db_queue_per_conn;
    int db_statement_timeout_ms;
    int db_startup_timeout_ms;
    int max_frame_size;
    int max_connections;
    int max_inflight_per_conn;
    int max_connections_per_identity;
    int tenant_rate_limit;
    int tenant_rate_burst;
    int handshake_rate_per_addr;
    int handshake_burst_per_addr;
    int tls_ticket_key_period_s;
    int handshake_timeout_ms;
    int frame_timeout_ms;
    int idle_timeout_ms;
    int shutdown_timeout_ms;
    int cache_mb;
    int sweep_interval_ms;
    int sweep_batch;
    char *log_level;
    char *log_format;
    char *http_address;
    int http_port;
    char *http_port_file;
    int http_tls;
    int http_max_body_bytes;
    int http_max_inflight;
    int http_timeout_ms;
    char *intake_address;
    int intake_port;
    char *intake_port_file;
    int intake_max_body_bytes;
    int intake_timeout_ms;
    int intake_rate_per_address;
    int intake_rate_per_source;
    int intake_burst;
    int intake_max_inflight_per_address;
    char *intake_honeypot_field;
    char *intake_spool_path;
    int intake_spool_max_kb;
    int intake_spool_max_age_s;
} config_t;

/* A config holding every default. */
config_t *config_new(void);
void config_free(config_t *cfg);

/* Sets one option by name ("listen_port") from text; 0, or -1 with err. */
int config_set(config_t *cfg, const char *name, const char *value, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads an INI file (keys at top level or in [branchd]); 0 or -1 with err. */
int config_load_file(config_t *cfg, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Checks what single options cannot: required files, consistency. */
int config_validate(const config_t *cfg, int need_tls, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * For a reload: every option whose value differs between `cur` and `next`
 * is reported to fn(name, reloadable, arg); one that cannot change without
 * a restart gets cur's value back in next, so next is what will be in effect.
 * 0, or -1 when memory runs out.
 */
int config_merge_reload(config_t *next, const config_t *cur,
                        void (*fn)(const char *name, int reloadable, void *arg), void *arg)
    __attribute__((warn_unused_result));

/* Prints one line per option: flag, default, description. */
void config_print_options(FILE *out);

/* Logs the effective configuration, one event. */
void config_log(const config_t *cfg);

#endif
