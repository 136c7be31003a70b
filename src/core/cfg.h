/*
 * Configuration: one table declares every key (section, name, type, default, limits, help,
 * whether it is secret); the INI parser (libinih), the environment overrides
 * (MEDHUB_<SECTION>_<KEY>), the command-line overrides (--set section.key=value), the
 * --print-config output and docs/configuration.md are all driven by it.
 * Precedence, lowest to highest: built-in default, file, environment, command line.
 * The result is validated whole into an immutable struct cfg.
 * Thread: load on the main thread before starting others; the result is read-only afterwards.
 */
#ifndef MEDHUB_CORE_CFG_H
#define MEDHUB_CORE_CFG_H

#include "core/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_HOST_MAX 64
#define CFG_PATH_MAX 4096

/* A listen address. An empty value in the file disables the listener (is_set false). */
struct cfg_addr {
    bool is_set;             /* false when disabled */
    char host[CFG_HOST_MAX]; /* numeric IPv4/IPv6 literal ("localhost" becomes 127.0.0.1) */
    uint16_t port;           /* 0 asks the OS for a free port (tests) */
    bool is_loopback;        /* 127.0.0.0/8 or ::1 */
};

enum cfg_sync {
    CFG_SYNC_FULL = 0,   /* fsync every commit: survives power loss */
    CFG_SYNC_NORMAL = 1, /* no fsync of the WAL per commit: survives a process crash */
};

enum cfg_backend {
    CFG_BACKEND_SQLITE = 0,
    CFG_BACKEND_POSTGRES = 1, /* multi-node; not built yet, refused at validation */
};

struct cfg_store {
    enum cfg_backend backend; /* storage.backend */
    char path[CFG_PATH_MAX];  /* storage.path, default <data-dir>/medhub.db */
    enum cfg_sync sync;       /* storage.sync */
    uint32_t batch_max;       /* storage.batch_max: rows per group commit */
    uint32_t queue_max;       /* storage.queue_max: rows waiting before producers back off */
    uint32_t busy_timeout_ms; /* storage.busy_timeout_ms: wait for another process's lock */
    char postgres_url[1024];  /* storage.postgres_url (secret) */
};

struct cfg_listener {
    struct cfg_addr listen;     /* plain listener, loopback only unless insecure */
    struct cfg_addr tls_listen; /* TLS listener */
    bool insecure;              /* allow a plain listener on a non-loopback address */
};

/* [mqtt] gateway limits. */
struct cfg_mqtt_limits {
    uint32_t max_packet_bytes;   /* mqtt.max_packet_bytes: largest inbound packet, whole */
    uint32_t max_connections;    /* mqtt.max_connections: per listener */
    uint32_t connect_timeout_ms; /* mqtt.connect_timeout_ms: CONNECT deadline after accept */
    uint32_t publish_rate;       /* mqtt.publish_rate: PUBLISH per second per device */
};

/* [http] limits, timeouts and the web root (src/http/http.h, docs/http.md). */
struct cfg_http_opts {
    uint32_t max_connections;    /* http.max_connections: per listener */
    uint32_t max_header_bytes;   /* http.max_header_bytes: request line + header fields */
    uint32_t max_headers;        /* http.max_headers: header fields per request */
    uint32_t max_body_bytes;     /* http.max_body_bytes: request body */
    uint32_t header_timeout_ms;  /* http.header_timeout_ms: whole header section due */
    uint32_t body_timeout_ms;    /* http.body_timeout_ms: whole body due after the headers */
    uint32_t idle_timeout_ms;    /* http.idle_timeout_ms: keep-alive wait for the next request */
    uint32_t write_queue_bytes;  /* http.write_queue_bytes: unsent bytes per connection */
    uint32_t stream_queue_bytes; /* http.stream_queue_bytes: a stream is congested beyond this */
    char web_root[CFG_PATH_MAX]; /* http.web_root: "" finds web/ next to the executable */
};

/* [webhook] outbound notifications (src/notify/webhook.h). */
struct cfg_webhook {
    uint32_t timeout_ms;         /* webhook.timeout_ms: whole attempt (connect, TLS, response) */
    uint32_t backoff_initial_ms; /* webhook.backoff_initial_ms: wait after the first failure */
    uint32_t backoff_max_ms;     /* webhook.backoff_max_ms: the doubling stops here */
    uint32_t expire_s;           /* webhook.expire_s: undelivered this long after creation: dead */
    char ca_file[CFG_PATH_MAX];  /* webhook.ca_file: extra trusted CAs (PEM); "" for none */
};

/* [audit] the audit trail's checkpoints (src/security/audit.h, docs/audit.md). */
struct cfg_audit {
    uint32_t checkpoint_entries;    /* audit.checkpoint_entries: entries between checkpoints */
    uint32_t checkpoint_interval_s; /* audit.checkpoint_interval_s: longest gap, seconds */
    char anchor_file[CFG_PATH_MAX]; /* audit.anchor_file: append-only copy of checkpoints */
};

/* [auth] users, sessions and logins (src/security/auth.h, docs/security.md). */
struct cfg_auth {
    uint32_t session_idle_s;          /* auth.session_idle_s: automatic logoff after idling */
    uint32_t session_absolute_s;      /* auth.session_absolute_s: longest session */
    unsigned mfa_roles;               /* auth.mfa_roles: bit i = role i + 1 (enum rbac_role) */
    uint32_t login_ticket_s;          /* auth.login_ticket_s: time to present the 2nd factor */
    uint32_t throttle_free;           /* auth.throttle_free: free failures per account */
    uint32_t throttle_max_delay_s;    /* auth.throttle_max_delay_s: longest imposed wait */
    uint32_t lockout_failures;        /* auth.lockout_failures: failures that lock, 0 = never */
    uint32_t lockout_s;               /* auth.lockout_s: lock duration */
    uint32_t address_throttle_free;   /* auth.address_throttle_free: free failures per address */
    uint32_t break_glass_default_min; /* auth.break_glass_default_min */
    uint32_t break_glass_max_min;     /* auth.break_glass_max_min */
};

struct cfg {
    char data_dir[CFG_PATH_MAX];        /* from --data-dir, MEDHUB_DATA_DIR or ./medhub-data */
    struct cfg_listener mqtt;           /* [mqtt] */
    struct cfg_mqtt_limits mqtt_limits; /* [mqtt] limits */
    struct cfg_listener http;           /* [http] */
    struct cfg_http_opts http_opts;     /* [http] limits, timeouts, web root */
    struct cfg_listener hl7;            /* [hl7] (no tls_listen key yet, so hl7.tls_listen is unset:
                                         * MLLP over TLS comes later) */
    struct cfg_store storage;           /* [storage] */
    struct {
        char cert[CFG_PATH_MAX];      /* tls.cert, default <data-dir>/tls/server.crt */
        char key[CFG_PATH_MAX];       /* tls.key, default <data-dir>/tls/server.key */
        char client_ca[CFG_PATH_MAX]; /* tls.client_ca, default <data-dir>/tls/device-ca.crt */
    } tls;
    struct cfg_webhook webhook; /* [webhook] */
    struct cfg_audit audit;     /* [audit] */
    struct cfg_auth auth;       /* [auth] */
    struct {
        enum log_level level; /* log.level */
    } log;
    /* Where each key's value came from ("default", "FILE:LINE", "env MEDHUB_X", "--set"),
     * indexed like the key table; for --print-config. A long FILE keeps its tail ("..."). */
    char origin[64][96];
};

/* What to load. Every pointer is borrowed for the duration of cfg_load. */
struct cfg_sources {
    const char *data_dir;         /* NULL: MEDHUB_DATA_DIR from env, else "./medhub-data" */
    const char *file;             /* NULL: MEDHUB_CONFIG from env (then required), else
                                   * <data-dir>/medhub.conf if it exists */
    bool file_required;           /* true when the user named the file: missing is an error */
    char *const *env;             /* environ-style array, NULL-terminated; NULL for none */
    const char *const *overrides; /* "section.key=value" strings from --set */
    int n_overrides;              /* number of entries in overrides */
};

/* Largest configuration file (or cfg_load_string text) accepted, in bytes. */
#define CFG_FILE_MAX (1024 * 1024)

/* Loads and validates. On failure returns HX_ECONFIG, or -errno when the file cannot be read
 * (-ENOENT for a missing file that src->file_required or MEDHUB_CONFIG named), and writes one
 * line into err naming the file and line (or "environment MEDHUB_X" / "--set section.key"),
 * the section and key, the bad value in quotes and what is expected, e.g.
 *   /etc/medhub.conf:12: [storage] sync = 'fsync': expected one of full, normal
 * File syntax (libinih): "[section]" headers, "key = value" lines, comments starting with ';'
 * or '#' (also after a value, when the ';' follows a space). Leading whitespace is ignored, so
 * indented lines are ordinary lines: multi-line values are not supported. A key given twice in
 * the file keeps the last value. A line may be at most ini_max_line - 1 (199) bytes; longer
 * values (paths) must come from the environment or --set. A value longer than its field is an
 * error, never truncated. Paths are used as given (relative to the working directory); only the
 * built-in defaults live under the data dir. MEDHUB_DATA_DIR and MEDHUB_CONFIG are not keys;
 * any other MEDHUB_* variable that names no key is an error.
 * The plain-listener loopback rule and backend = postgres are checked once all sources are
 * merged, and the error names the source of the offending value.
 * cfg is left in an unspecified state on failure. err may be NULL when err_len is 0.
 * Thread: any (no global state); in practice main, before other threads start. */
int cfg_load(struct cfg *cfg, const struct cfg_sources *src, char *err, size_t err_len);

/* Same as cfg_load, but the file is the len bytes at text (need not be NUL-terminated) and
 * src->file is ignored; name stands for the file in messages and origins (NULL: "<string>").
 * Used by the fuzz target and tests. text is borrowed for the call. */
int cfg_load_string(struct cfg *cfg, const char *text, size_t len, const char *name,
                    const struct cfg_sources *src, char *err, size_t err_len);

/* Prints the effective configuration as INI with each value's origin as a comment
 * ("key = value   ; from FILE:LINE"); secret values print as "********" (or "" when unset).
 * Thread: any. */
void cfg_print(const struct cfg *cfg, FILE *out);

/* Prints the key reference (Markdown table: key, type, default, description, environment
 * variable) for docs/configuration.md. Thread: any. */
void cfg_print_reference(FILE *out);

/* Writes a commented default configuration file (used by `medhub init`): every key commented
 * out with its help and default; defaults under the data dir print as "<data-dir>/...".
 * Parsing the output as is yields the defaults. Thread: any. */
void cfg_write_template(FILE *out);

/* Same as cfg_write_template, but defaults under the data dir are written with data_dir
 * (borrowed; NULL behaves like cfg_write_template), so that uncommenting any line still
 * yields the default value. */
void cfg_write_template_for(FILE *out, const char *data_dir);

#endif
