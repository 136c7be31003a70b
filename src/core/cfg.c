/*
 * Configuration loader. The key table below declares every key; the defaults, the INI file
 * (libinih, fed line by line by our own reader so we know each line number), the environment
 * (MEDHUB_<SECTION>_<KEY>), the --set overrides, whole-config validation, cfg_print, the
 * Markdown reference and the commented template are all driven by it.
 * Layer: core. No global mutable state: a load keeps everything in a struct load on the
 * caller's stack. Thread: any (in practice main, before other threads start).
 */
#include "core/cfg.h"
#include "core/err.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- The key table ---------------------------------------------------------------------- */

enum key_type {
    KT_STRING,   /* free text (length-checked) */
    KT_PATH,     /* a non-empty file path (empty allowed with KF_EMPTY_OK), used as given */
    KT_ADDR,     /* HOST:PORT listen address, empty disables */
    KT_BOOL,     /* true/false, yes/no, on/off, 1/0 */
    KT_UINT,     /* decimal uint32_t within [min, max] */
    KT_ENUM,     /* one of choices[], stored as int index */
    KT_LOGLEVEL, /* log_level_parse() names, stored as enum log_level */
    KT_SET,      /* comma-separated subset of choices[], stored as unsigned (1u << index) */
};

enum key_flags {
    KF_SECRET = 1u << 0,         /* masked in cfg_print and in error messages */
    KF_IN_DATA_DIR = 1u << 1,    /* the default is relative to the data dir */
    KF_PLAIN_LISTENER = 1u << 2, /* loopback only unless <section>.insecure is true */
    KF_EMPTY_OK = 1u << 3,       /* KT_PATH: empty means "none" */
};

struct key_def {
    const char *section;        /* "storage" */
    const char *name;           /* "sync" */
    enum key_type type;         /* how the value parses and prints */
    size_t offset;              /* offsetof the field in struct cfg */
    size_t size;                /* sizeof the field (buffer size for strings) */
    const char *def;            /* default, parsed like any other value */
    uint32_t min;               /* KT_UINT lower bound */
    uint32_t max;               /* KT_UINT upper bound */
    const char *const *choices; /* KT_ENUM/KT_LOGLEVEL/KT_SET: NULL-terminated, index = value */
    unsigned flags;             /* enum key_flags */
    const char *help;           /* one sentence for the reference, the template and --help */
};

static const char *const backend_names[] = {"sqlite", "postgres", NULL};
static const char *const sync_names[] = {"full", "normal", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
/* Role names in the order of enum rbac_role after RBAC_ROLE_NONE (security/rbac.h asserts
 * it): auth.mfa_roles bit i is role i + 1. */
static const char *const role_names[] = {"admin",      "clinician",   "nurse",
                                         "facilities", "security",    "auditor",
                                         "patient",    "integration", NULL};

/* Enum fields are written and read as int through memcpy. */
_Static_assert(sizeof(enum cfg_backend) == sizeof(int), "enum cfg_backend is not int-sized");
_Static_assert(sizeof(enum cfg_sync) == sizeof(int), "enum cfg_sync is not int-sized");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum log_level is not int-sized");
_Static_assert(CFG_BACKEND_SQLITE == 0 && CFG_BACKEND_POSTGRES == 1, "backend_names order");
_Static_assert(CFG_SYNC_FULL == 0 && CFG_SYNC_NORMAL == 1, "sync_names order");
_Static_assert(LOG_ERROR == 0 && LOG_DEBUG == 3, "level_names order");

#define AT(m) .offset = offsetof(struct cfg, m), .size = sizeof(((struct cfg *)0)->m)

#define LISTEN_HELP(what)                                                                          \
    "Plain (non-TLS) " what " listener, HOST:PORT; loopback only unless insecure = true; "         \
    "empty disables it."
#define INSECURE_HELP                                                                              \
    "Allow the plain listener on a non-loopback address (flagged by the compliance report)."

/* Grouped by section, in the order cfg_print and the docs show them. */
static const struct key_def keys[] = {
    {.section = "mqtt",
     .name = "listen",
     .type = KT_ADDR,
     AT(mqtt.listen),
     .def = "127.0.0.1:1883",
     .flags = KF_PLAIN_LISTENER,
     .help = LISTEN_HELP("MQTT")},
    {.section = "mqtt",
     .name = "tls_listen",
     .type = KT_ADDR,
     AT(mqtt.tls_listen),
     .def = "0.0.0.0:8883",
     .help = "MQTT over TLS listener for devices, HOST:PORT; empty "
             "disables it."},
    {.section = "mqtt",
     .name = "insecure",
     .type = KT_BOOL,
     AT(mqtt.insecure),
     .def = "false",
     .help = INSECURE_HELP},
    {.section = "mqtt",
     .name = "max_packet_bytes",
     .type = KT_UINT,
     AT(mqtt_limits.max_packet_bytes),
     .def = "262144",
     .min = 1024,
     .max = 16777216,
     .help = "Largest MQTT packet a device may send, fixed header included; larger ones close "
             "the connection (MQTT 5: DISCONNECT 0x95)."},
    {.section = "mqtt",
     .name = "max_connections",
     .type = KT_UINT,
     AT(mqtt_limits.max_connections),
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .help = "Most device connections per MQTT listener; more are closed at once."},
    {.section = "mqtt",
     .name = "connect_timeout_ms",
     .type = KT_UINT,
     AT(mqtt_limits.connect_timeout_ms),
     .def = "10000",
     .min = 100,
     .max = 600000,
     .help = "Time a new connection has to send CONNECT (after the TLS handshake), in "
             "milliseconds."},
    {.section = "mqtt",
     .name = "publish_rate",
     .type = KT_UINT,
     AT(mqtt_limits.publish_rate),
     .def = "50",
     .min = 1,
     .max = 1000000,
     .help = "PUBLISH packets per second per device (token bucket, bursts of twice this); "
             "excess is refused (MQTT 5: PUBACK 0x96) or disconnected (3.1.1)."},
    {.section = "http",
     .name = "listen",
     .type = KT_ADDR,
     AT(http.listen),
     .def = "127.0.0.1:8080",
     .flags = KF_PLAIN_LISTENER,
     .help = LISTEN_HELP("HTTP (web UI, REST, FHIR)")},
    {.section = "http",
     .name = "tls_listen",
     .type = KT_ADDR,
     AT(http.tls_listen),
     .def = "0.0.0.0:8443",
     .help = "HTTPS listener, HOST:PORT; empty disables it."},
    {.section = "http",
     .name = "insecure",
     .type = KT_BOOL,
     AT(http.insecure),
     .def = "false",
     .help = INSECURE_HELP},
    {.section = "http",
     .name = "max_connections",
     .type = KT_UINT,
     AT(http_opts.max_connections),
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .help = "Most connections per HTTP listener; more are closed at once."},
    {.section = "http",
     .name = "max_header_bytes",
     .type = KT_UINT,
     AT(http_opts.max_header_bytes),
     .def = "16384",
     .min = 1024,
     .max = 65536,
     .help = "Largest request header section (request line and header fields, as sent); "
             "larger requests get 431 (414 when the request target alone is too long)."},
    {.section = "http",
     .name = "max_headers",
     .type = KT_UINT,
     AT(http_opts.max_headers),
     .def = "64",
     .min = 8,
     .max = 1024,
     .help = "Most header fields in one request; more get 431."},
    {.section = "http",
     .name = "max_body_bytes",
     .type = KT_UINT,
     AT(http_opts.max_body_bytes),
     .def = "1048576",
     .min = 1024,
     .max = 268435456,
     .help = "Largest request body, after chunked decoding; larger requests get 413."},
    {.section = "http",
     .name = "header_timeout_ms",
     .type = KT_UINT,
     AT(http_opts.header_timeout_ms),
     .def = "10000",
     .min = 100,
     .max = 600000,
     .help = "Time a request has to deliver its whole header section, from its first byte "
             "(or from the accept for a new connection), in milliseconds; slower clients get "
             "408 and are closed."},
    {.section = "http",
     .name = "body_timeout_ms",
     .type = KT_UINT,
     AT(http_opts.body_timeout_ms),
     .def = "30000",
     .min = 100,
     .max = 3600000,
     .help = "Time a request has to deliver its whole body once its headers are in, in "
             "milliseconds; slower clients get 408 and are closed."},
    {.section = "http",
     .name = "idle_timeout_ms",
     .type = KT_UINT,
     AT(http_opts.idle_timeout_ms),
     .def = "60000",
     .min = 100,
     .max = 3600000,
     .help = "How long a kept-alive connection may wait for its next request, in "
             "milliseconds, before it is closed."},
    {.section = "http",
     .name = "write_queue_bytes",
     .type = KT_UINT,
     AT(http_opts.write_queue_bytes),
     .def = "4194304",
     .min = 1048576,
     .max = 268435456,
     .help = "Most response bytes queued unsent per connection; larger responses leave in "
             "pieces as the client reads."},
    {.section = "http",
     .name = "stream_queue_bytes",
     .type = KT_UINT,
     AT(http_opts.stream_queue_bytes),
     .def = "262144",
     .min = 4096,
     .max = 67108864,
     .help = "Unsent bytes beyond which a live stream (server-sent events) counts as "
             "congested and drops its client."},
    {.section = "http",
     .name = "web_root",
     .type = KT_PATH,
     AT(http_opts.web_root),
     .def = "",
     .flags = KF_EMPTY_OK,
     .help = "Directory of the web UI's static files; empty finds web/ next to the executable "
             "(../web from build/medhub, ../share/medhub/web when installed)."},
    {.section = "hl7",
     .name = "listen",
     .type = KT_ADDR,
     AT(hl7.listen),
     .def = "127.0.0.1:2575",
     .flags = KF_PLAIN_LISTENER,
     .help = LISTEN_HELP("HL7 v2 MLLP")},
    {.section = "hl7",
     .name = "insecure",
     .type = KT_BOOL,
     AT(hl7.insecure),
     .def = "false",
     .help = INSECURE_HELP},
    {.section = "storage",
     .name = "backend",
     .type = KT_ENUM,
     AT(storage.backend),
     .def = "sqlite",
     .choices = backend_names,
     .help = "Storage engine; only sqlite is available in this build."},
    {.section = "storage",
     .name = "path",
     .type = KT_PATH,
     AT(storage.path),
     .def = "medhub.db",
     .flags = KF_IN_DATA_DIR,
     .help = "SQLite database file."},
    {.section = "storage",
     .name = "sync",
     .type = KT_ENUM,
     AT(storage.sync),
     .def = "full",
     .choices = sync_names,
     .help = "full: fsync every commit (survives power loss); normal: survives a process crash "
             "only."},
    {.section = "storage",
     .name = "batch_max",
     .type = KT_UINT,
     AT(storage.batch_max),
     .def = "65536",
     .min = 1,
     .max = 1000000,
     .help = "Most rows written in one group commit (bench/README.md: 65536 reaches ~390k "
             "rows/s with sync = full)."},
    {.section = "storage",
     .name = "queue_max",
     .type = KT_UINT,
     AT(storage.queue_max),
     .def = "131072",
     .min = 1,
     .max = 10000000,
     .help = "Rows waiting for the writer before producers are told to back off."},
    {.section = "storage",
     .name = "busy_timeout_ms",
     .type = KT_UINT,
     AT(storage.busy_timeout_ms),
     .def = "5000",
     .min = 0,
     .max = 600000,
     .help = "How long to wait for another process's database lock, in milliseconds."},
    {.section = "storage",
     .name = "postgres_url",
     .type = KT_STRING,
     AT(storage.postgres_url),
     .def = "",
     .flags = KF_SECRET,
     .help = "PostgreSQL connection URL for backend = postgres (not available yet)."},
    {.section = "tls",
     .name = "cert",
     .type = KT_PATH,
     AT(tls.cert),
     .def = "tls/server.crt",
     .flags = KF_IN_DATA_DIR,
     .help = "Server certificate chain (PEM); generated when absent."},
    {.section = "tls",
     .name = "key",
     .type = KT_PATH,
     AT(tls.key),
     .def = "tls/server.key",
     .flags = KF_IN_DATA_DIR,
     .help = "Server private key (PEM); generated when absent."},
    {.section = "tls",
     .name = "client_ca",
     .type = KT_PATH,
     AT(tls.client_ca),
     .def = "tls/device-ca.crt",
     .flags = KF_IN_DATA_DIR,
     .help = "CA that signs device client certificates (PEM); generated when absent."},
    {.section = "webhook",
     .name = "timeout_ms",
     .type = KT_UINT,
     AT(webhook.timeout_ms),
     .def = "5000",
     .min = 100,
     .max = 120000,
     .help = "Longest a webhook delivery attempt may take (connect, TLS handshake, request and "
             "response), in milliseconds; slower attempts count as failed."},
    {.section = "webhook",
     .name = "backoff_initial_ms",
     .type = KT_UINT,
     AT(webhook.backoff_initial_ms),
     .def = "1000",
     .min = 10,
     .max = 3600000,
     .help = "Wait before retrying a failed webhook delivery the first time, in milliseconds; "
             "doubles after each failure (with jitter) up to backoff_max_ms."},
    {.section = "webhook",
     .name = "backoff_max_ms",
     .type = KT_UINT,
     AT(webhook.backoff_max_ms),
     .def = "300000",
     .min = 10,
     .max = 86400000,
     .help = "Longest wait between two attempts of a webhook delivery, in milliseconds; at "
             "least backoff_initial_ms."},
    {.section = "webhook",
     .name = "expire_s",
     .type = KT_UINT,
     AT(webhook.expire_s),
     .def = "86400",
     .min = 1,
     .max = 31536000,
     .help = "A webhook delivery not acknowledged this many seconds after it was created is "
             "given up and moved to the dead-letter list (medhub webhook deliveries --state "
             "dead)."},
    {.section = "webhook",
     .name = "ca_file",
     .type = KT_PATH,
     AT(webhook.ca_file),
     .def = "",
     .flags = KF_EMPTY_OK,
     .help = "Extra CA certificates (PEM) trusted for https webhook receivers, in addition to "
             "the system CA store; empty trusts the system store only."},
    {.section = "audit",
     .name = "checkpoint_entries",
     .type = KT_UINT,
     AT(audit.checkpoint_entries),
     .def = "1000",
     .min = 0,
     .max = 100000000,
     .help = "Write an audit checkpoint (the chain head, to the log and the anchor file) after "
             "this many audit entries; 0 only by time."},
    {.section = "audit",
     .name = "checkpoint_interval_s",
     .type = KT_UINT,
     AT(audit.checkpoint_interval_s),
     .def = "3600",
     .min = 0,
     .max = 31536000,
     .help = "Write an audit checkpoint at least this often (seconds) while audit entries are "
             "appended; 0 only by count."},
    {.section = "audit",
     .name = "anchor_file",
     .type = KT_PATH,
     AT(audit.anchor_file),
     .def = "audit-anchors.log",
     .flags = KF_IN_DATA_DIR | KF_EMPTY_OK,
     .help = "Append-only file (fsynced) that receives every audit checkpoint line; ship it "
             "off the machine; empty for none."},
    {.section = "auth",
     .name = "session_idle_s",
     .type = KT_UINT,
     AT(auth.session_idle_s),
     .def = "900",
     .min = 60,
     .max = 86400,
     .help = "A login session with no request for this many seconds ends (automatic logoff, "
             "HIPAA 164.312(a)(2)(iii))."},
    {.section = "auth",
     .name = "session_absolute_s",
     .type = KT_UINT,
     AT(auth.session_absolute_s),
     .def = "43200",
     .min = 300,
     .max = 604800,
     .help = "A login session ends this many seconds after login, however active (one shift)."},
    {.section = "auth",
     .name = "mfa_roles",
     .type = KT_SET,
     AT(auth.mfa_roles),
     .def = "admin,clinician,nurse,facilities,security,auditor",
     .choices = role_names,
     .help = "Roles whose users must log in with a second factor (TOTP); a user of another "
             "role uses it once enrolled."},
    {.section = "auth",
     .name = "login_ticket_s",
     .type = KT_UINT,
     AT(auth.login_ticket_s),
     .def = "300",
     .min = 30,
     .max = 3600,
     .help = "Seconds a login has, after the password was accepted, to present the second "
             "factor (or enrol one)."},
    {.section = "auth",
     .name = "throttle_free",
     .type = KT_UINT,
     AT(auth.throttle_free),
     .def = "3",
     .min = 0,
     .max = 100,
     .help = "Failed logins of one account without delay; each further failure doubles the "
             "wait before the next attempt, from 1 s up to throttle_max_delay_s."},
    {.section = "auth",
     .name = "throttle_max_delay_s",
     .type = KT_UINT,
     AT(auth.throttle_max_delay_s),
     .def = "900",
     .min = 1,
     .max = 86400,
     .help = "Longest wait imposed between two login attempts of one account or address."},
    {.section = "auth",
     .name = "lockout_failures",
     .type = KT_UINT,
     AT(auth.lockout_failures),
     .def = "10",
     .min = 0,
     .max = 1000,
     .help = "Consecutive failed logins that lock an account for lockout_s (0: never lock); "
             "medhub user unlock ends a lockout."},
    {.section = "auth",
     .name = "lockout_s",
     .type = KT_UINT,
     AT(auth.lockout_s),
     .def = "900",
     .min = 1,
     .max = 86400,
     .help = "How long a locked account stays locked, in seconds."},
    {.section = "auth",
     .name = "address_throttle_free",
     .type = KT_UINT,
     AT(auth.address_throttle_free),
     .def = "20",
     .min = 0,
     .max = 100000,
     .help = "Failed logins from one client address, over any accounts, without delay (a "
             "ward shares one address behind NAT); then the wait doubles as for accounts."},
    {.section = "auth",
     .name = "break_glass_default_min",
     .type = KT_UINT,
     AT(auth.break_glass_default_min),
     .def = "60",
     .min = 1,
     .max = 240,
     .help = "Minutes an emergency (break-glass) access grant lasts unless asked otherwise."},
    {.section = "auth",
     .name = "break_glass_max_min",
     .type = KT_UINT,
     AT(auth.break_glass_max_min),
     .def = "240",
     .min = 1,
     .max = 240,
     .help = "Longest emergency (break-glass) access grant, in minutes."},
    {.section = "log",
     .name = "level",
     .type = KT_LOGLEVEL,
     AT(log.level),
     .def = "info",
     .choices = level_names,
     .help = "Log threshold: lines less severe than this level are dropped."},
};

#define N_KEYS HX_ARRAY_LEN(keys)
_Static_assert(HX_ARRAY_LEN(keys) <= HX_ARRAY_LEN(((struct cfg *)0)->origin),
               "struct cfg origin[] is too small for the key table");

/* Not keys: read by cfg_load itself, skipped by the environment scan. */
static const char *const env_not_keys[] = {"MEDHUB_DATA_DIR", "MEDHUB_CONFIG"};

#define ENV_PREFIX      "MEDHUB_"
#define DEFAULT_DATADIR "./medhub-data"
#define CONF_NAME       "medhub.conf"
#define SECRET_MASK     "********"
#define NAME_MAX_LEN    64 /* longest section, key or env name we ever need to hold */
#define QUOTE_MAX       80 /* bytes of a bad value quoted in an error message */

/* ---- Load state ------------------------------------------------------------------------- */

enum origin_kind {
    ORIGIN_DEFAULT,
    ORIGIN_FILE,
    ORIGIN_ENV,
    ORIGIN_SET,
};

struct load {
    struct cfg *cfg;
    const struct cfg_sources *src;
    char *err;      /* caller's message buffer */
    size_t err_len; /* its size */
    int rc;         /* first error; later errors are dropped */
    /* Per key: where its current value came from, for whole-config checks. */
    enum origin_kind kind[N_KEYS];
    int line[N_KEYS];
    /* The file being parsed. */
    const char *file;           /* name for messages */
    const char *pos;            /* next unread byte */
    const char *end;            /* one past the last byte */
    int lineno;                 /* line the reader returned last (1-based) */
    char section[NAME_MAX_LEN]; /* last section header the reader saw ("" before any) */
};

static void fail(struct load *ld, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error and its message; later calls do nothing. */
static void fail(struct load *ld, int rc, const char *fmt, ...)
{
    if (ld->rc)
        return;
    ld->rc = rc;
    if (ld->err && ld->err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err, ld->err_len, fmt, ap);
        va_end(ap);
    }
}

/* Copies n bytes of s for quoting in a one-line message: control bytes become '?', and long
 * values are cut with "..." (the message says what is wrong; the full value is the user's). */
static void quote(const char *s, size_t n, char *out, size_t out_len)
{
    size_t o = 0;
    bool cut = n > QUOTE_MAX;
    if (cut)
        n = QUOTE_MAX;
    for (size_t i = 0; i < n && o + 1 < out_len; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (cut && o + 4 < out_len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static void quote_value(const struct key_def *k, const char *v, char *out, size_t out_len)
{
    if ((k->flags & KF_SECRET) && *v)
        quote(SECRET_MASK, strlen(SECRET_MASK), out, out_len);
    else
        quote(v, strlen(v), out, out_len);
}

/* ---- Table lookups and suggestions ------------------------------------------------------ */

static bool name_eq(const char *name, const char *s, size_t len)
{
    return strlen(name) == len && memcmp(name, s, len) == 0;
}

static bool is_section(const char *s, size_t len)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (name_eq(keys[i].section, s, len))
            return true;
    return false;
}

static const struct key_def *find_key(const char *section, const char *name, size_t name_len)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && name_eq(keys[i].name, name, name_len))
            return &keys[i];
    return NULL;
}

static size_t key_index(const struct key_def *k)
{
    return (size_t)(k - keys);
}

/* MEDHUB_<SECTION>_<KEY>, upper case. */
static void env_name(const struct key_def *k, char *out, size_t out_len)
{
    snprintf(out, out_len, ENV_PREFIX "%s_%s", k->section, k->name);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

/* Case-insensitive edit distance (optimal string alignment: insertions, deletions,
 * substitutions and swaps of neighbours each cost 1, so "snyc" is 1 from "sync"), or a large
 * number when either side is too long to be a plausible typo, which keeps the work bounded
 * on fuzzed input. */
static size_t edit_distance(const char *a, size_t a_len, const char *b)
{
    size_t b_len = strlen(b);
    if (a_len > NAME_MAX_LEN || b_len > NAME_MAX_LEN)
        return SIZE_MAX;
    size_t rows[3][NAME_MAX_LEN + 1]; /* i - 2, i - 1, i (mod 3) */
    for (size_t j = 0; j <= b_len; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= a_len; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i + 2) % 3], *prev2 = rows[(i + 1) % 3];
        int ca = tolower((unsigned char)a[i - 1]);
        cur[0] = i;
        for (size_t j = 1; j <= b_len; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca == cb ? 0 : 1);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[a_len % 3][b_len];
}

/* The closest candidate worth suggesting. A candidate qualifies within distance 2, and
 * short ones within half their length, so "foo" does not suggest "log". */
struct suggest {
    size_t dist;      /* best distance so far */
    const char *best; /* best candidate so far */
};

static void suggest_try(struct suggest *sg, const char *s, size_t len, const char *cand)
{
    size_t cand_len = strlen(cand);
    size_t limit = cand_len / 2 < 2 ? cand_len / 2 : 2;
    if ((len > cand_len ? len - cand_len : cand_len - len) > limit)
        return; /* the length difference alone is too many edits */
    size_t d = edit_distance(s, len, cand);
    if (d <= limit && d < sg->dist) {
        sg->dist = d;
        sg->best = cand;
    }
}

/* Writes "mqtt, http, ..." (sections) or "listen, tls_listen, ..." (keys of section). */
static void list_names(const char *section, char *out, size_t out_len)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *name;
        if (section) {
            if (strcmp(keys[i].section, section) != 0)
                continue;
            name = keys[i].name;
        } else {
            if (i > 0 && strcmp(keys[i - 1].section, keys[i].section) == 0)
                continue;
            name = keys[i].section;
        }
        int n = snprintf(out + o, out_len - o, "%s%s", o ? ", " : "", name);
        if (n < 0 || (size_t)n >= out_len - o)
            return;
        o += (size_t)n;
    }
}

/* Fails with "WHERE: [section]: unknown section; did you mean [x]? / expected one of ...". */
static void fail_unknown_section(struct load *ld, const char *where, const char *s, size_t len,
                                 const char *detail)
{
    struct suggest sg = {SIZE_MAX, NULL};
    for (size_t i = 0; i < N_KEYS; i++)
        suggest_try(&sg, s, len, keys[i].section);
    char q[QUOTE_MAX + 8], list[256];
    quote(s, len, q, sizeof(q));
    list_names(NULL, list, sizeof(list));
    if (sg.best)
        fail(ld, HX_ECONFIG, "%s: [%s]%s: unknown section; did you mean [%s]?", where, q, detail,
             sg.best);
    else
        fail(ld, HX_ECONFIG, "%s: [%s]%s: unknown section; expected one of %s", where, q, detail,
             list);
}

/* Fails with "WHERE: [section] name = 'value': unknown key; did you mean 'x'?". */
static void fail_unknown_key(struct load *ld, const char *where, const char *section,
                             const char *name, size_t name_len, const char *value)
{
    struct suggest sg = {SIZE_MAX, NULL};
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0)
            suggest_try(&sg, name, name_len, keys[i].name);
    char qn[QUOTE_MAX + 8], qv[QUOTE_MAX + 8], list[256];
    quote(name, name_len, qn, sizeof(qn));
    quote(value, strlen(value), qv, sizeof(qv));
    list_names(section, list, sizeof(list));
    if (sg.best)
        fail(ld, HX_ECONFIG, "%s: [%s] %s = '%s': unknown key; did you mean '%s'?", where, section,
             qn, qv, sg.best);
    else
        fail(ld, HX_ECONFIG, "%s: [%s] %s = '%s': unknown key; expected one of %s", where, section,
             qn, qv, list);
}

/* ---- Value parsers: each fills the field or explains what it expected in why ------------ */

#define ADDR_EXPECTED                                                                              \
    "expected HOST:PORT with a numeric IPv4 address, a [bracketed] IPv6 address or localhost, "    \
    "and a port from 0 to 65535 (empty disables the listener)"

static bool ipv6_is_loopback(const struct in6_addr *a)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (IN6_IS_ADDR_LOOPBACK(a))
        return true;
    return memcmp(a->s6_addr, v4mapped, sizeof(v4mapped)) == 0 && a->s6_addr[12] == 127;
}

static int parse_addr(const char *v, struct cfg_addr *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    if (!*v)
        return 0; /* disabled */
    const char *host, *port;
    size_t host_len;
    bool v6 = v[0] == '[';
    if (v6) {
        const char *close = strchr(v, ']');
        if (!close || close[1] != ':') {
            snprintf(why, why_len, "missing ']:PORT'; " ADDR_EXPECTED);
            return HX_ECONFIG;
        }
        host = v + 1;
        host_len = (size_t)(close - host);
        port = close + 2;
    } else {
        const char *colon = strrchr(v, ':');
        if (!colon) {
            snprintf(why, why_len, "missing ':PORT'; " ADDR_EXPECTED);
            return HX_ECONFIG;
        }
        host = v;
        host_len = (size_t)(colon - v);
        port = colon + 1;
        if (memchr(host, ':', host_len)) {
            snprintf(why, why_len, "an IPv6 address needs brackets; " ADDR_EXPECTED);
            return HX_ECONFIG;
        }
    }
    if (host_len == 0 || host_len >= sizeof(out->host)) {
        snprintf(why, why_len, "%s; " ADDR_EXPECTED, host_len ? "host too long" : "missing host");
        return HX_ECONFIG;
    }
    size_t port_len = strlen(port);
    unsigned long pv = 0;
    bool port_ok = port_len >= 1 && port_len <= 5;
    for (size_t i = 0; port_ok && i < port_len; i++) {
        if (!isdigit((unsigned char)port[i]))
            port_ok = false;
        else
            pv = pv * 10 + (unsigned long)(port[i] - '0');
    }
    if (!port_ok || pv > 65535) {
        snprintf(why, why_len, "bad port; " ADDR_EXPECTED);
        return HX_ECONFIG;
    }
    char h[CFG_HOST_MAX];
    memcpy(h, host, host_len);
    h[host_len] = '\0';
    if (!v6 && strcasecmp(h, "localhost") == 0) {
        snprintf(out->host, sizeof(out->host), "127.0.0.1");
        out->is_loopback = true;
    } else if (v6) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, h, &a6) != 1) {
            snprintf(why, why_len, "not a numeric IPv6 address; " ADDR_EXPECTED);
            return HX_ECONFIG;
        }
        memcpy(out->host, h, host_len + 1);
        out->is_loopback = ipv6_is_loopback(&a6);
    } else {
        struct in_addr a4;
        if (inet_pton(AF_INET, h, &a4) != 1) {
            snprintf(why, why_len,
                     "host is not a numeric IPv4 address or localhost; " ADDR_EXPECTED);
            return HX_ECONFIG;
        }
        memcpy(out->host, h, host_len + 1);
        out->is_loopback = (ntohl(a4.s_addr) >> 24) == 127;
    }
    out->port = (uint16_t)pv;
    out->is_set = true;
    return 0;
}

static int parse_bool(const char *v, bool *out, char *why, size_t why_len)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < HX_ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    snprintf(why, why_len, "expected true or false (or yes/no, on/off, 1/0)");
    return HX_ECONFIG;
}

static int parse_uint(const struct key_def *k, const char *v, uint32_t *out, char *why,
                      size_t why_len)
{
    uint64_t n = 0;
    bool big = false;
    if (!*v)
        goto bad;
    for (const char *p = v; *p; p++) {
        if (!isdigit((unsigned char)*p))
            goto bad;
        if (!big) {
            n = n * 10 + (uint64_t)(*p - '0');
            big = n > UINT32_MAX;
        }
    }
    if (big || n < k->min || n > k->max) {
        snprintf(why, why_len, "out of range; expected an integer from %" PRIu32 " to %" PRIu32,
                 k->min, k->max);
        return HX_ECONFIG;
    }
    *out = (uint32_t)n;
    return 0;
bad:
    snprintf(why, why_len, "expected an integer from %" PRIu32 " to %" PRIu32, k->min, k->max);
    return HX_ECONFIG;
}

static void list_choices(const char *const *choices, char *out, size_t out_len)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; choices[i]; i++) {
        int n = snprintf(out + o, out_len - o, "%s%s", i ? ", " : "", choices[i]);
        if (n < 0 || (size_t)n >= out_len - o)
            return;
        o += (size_t)n;
    }
}

static int parse_choice(const struct key_def *k, const char *v, int *out, char *why, size_t why_len)
{
    if (k->type == KT_LOGLEVEL) {
        enum log_level lv;
        if (log_level_parse(v, &lv) == 0) {
            *out = (int)lv;
            return 0;
        }
    } else {
        for (int i = 0; k->choices[i]; i++) {
            if (strcmp(v, k->choices[i]) == 0) {
                *out = i;
                return 0;
            }
        }
    }
    char list[128];
    list_choices(k->choices, list, sizeof(list));
    snprintf(why, why_len, "expected one of %s", list);
    return HX_ECONFIG;
}

/* A comma-separated list of choices (spaces around items ignored, empty allowed) into a
 * mask of (1u << index). */
static int parse_set(const struct key_def *k, const char *v, unsigned *out, char *why,
                     size_t why_len)
{
    unsigned mask = 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        size_t n = (size_t)(p - start);
        while (n > 0 && start[n - 1] == ' ')
            n--;
        if (n == 0)
            continue;
        int hit = -1;
        for (int i = 0; k->choices[i]; i++)
            if (strlen(k->choices[i]) == n && strncmp(start, k->choices[i], n) == 0)
                hit = i;
        if (hit < 0) {
            char list[160];
            list_choices(k->choices, list, sizeof(list));
            snprintf(why, why_len, "'%.*s' is not one of %s", (int)(n < 64 ? n : 64), start, list);
            return HX_ECONFIG;
        }
        mask |= 1u << hit;
    }
    *out = mask;
    return 0;
}

/* Parses v for key k and, only on success, stores it in cfg. On failure writes what was
 * expected into why and returns HX_ECONFIG. */
static int key_parse_store(struct cfg *cfg, const struct key_def *k, const char *v, char *why,
                           size_t why_len)
{
    char *field = (char *)cfg + k->offset;
    size_t len = strlen(v);
    int rc;
    switch (k->type) {
    case KT_PATH:
        if (len == 0 && !(k->flags & KF_EMPTY_OK)) {
            snprintf(why, why_len, "expected a file path");
            return HX_ECONFIG;
        }
        /* fall through */
    case KT_STRING:
        if (len >= k->size) {
            snprintf(why, why_len, "too long (%zu bytes); expected at most %zu bytes", len,
                     k->size - 1);
            return HX_ECONFIG;
        }
        memcpy(field, v, len + 1);
        return 0;
    case KT_ADDR: {
        struct cfg_addr a;
        assert(k->size == sizeof(a));
        rc = parse_addr(v, &a, why, why_len);
        if (rc == 0)
            memcpy(field, &a, sizeof(a));
        return rc;
    }
    case KT_BOOL: {
        bool b;
        assert(k->size == sizeof(b));
        rc = parse_bool(v, &b, why, why_len);
        if (rc == 0)
            memcpy(field, &b, sizeof(b));
        return rc;
    }
    case KT_UINT: {
        uint32_t n;
        assert(k->size == sizeof(n));
        rc = parse_uint(k, v, &n, why, why_len);
        if (rc == 0)
            memcpy(field, &n, sizeof(n));
        return rc;
    }
    case KT_ENUM:
    case KT_LOGLEVEL: {
        int i;
        assert(k->size == sizeof(i));
        rc = parse_choice(k, v, &i, why, why_len);
        if (rc == 0)
            memcpy(field, &i, sizeof(i));
        return rc;
    }
    case KT_SET: {
        unsigned mask;
        assert(k->size == sizeof(mask));
        rc = parse_set(k, v, &mask, why, why_len);
        if (rc == 0)
            memcpy(field, &mask, sizeof(mask));
        return rc;
    }
    }
    snprintf(why, why_len, "internal error: unknown key type");
    return HX_ECONFIG;
}

/* Formats key k's current value as it would be written in the file (secrets unmasked). */
static void key_format(const struct cfg *cfg, const struct key_def *k, char *out, size_t out_len)
{
    const char *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case KT_STRING:
    case KT_PATH:
        snprintf(out, out_len, "%s", field);
        return;
    case KT_ADDR: {
        struct cfg_addr a;
        memcpy(&a, field, sizeof(a));
        if (!a.is_set)
            snprintf(out, out_len, "%s", "");
        else if (strchr(a.host, ':'))
            snprintf(out, out_len, "[%s]:%u", a.host, (unsigned)a.port);
        else
            snprintf(out, out_len, "%s:%u", a.host, (unsigned)a.port);
        return;
    }
    case KT_BOOL: {
        bool b;
        memcpy(&b, field, sizeof(b));
        snprintf(out, out_len, "%s", b ? "true" : "false");
        return;
    }
    case KT_UINT: {
        uint32_t n;
        memcpy(&n, field, sizeof(n));
        snprintf(out, out_len, "%" PRIu32, n);
        return;
    }
    case KT_ENUM:
    case KT_LOGLEVEL: {
        int i;
        memcpy(&i, field, sizeof(i));
        const char *name = "?";
        for (int j = 0; k->choices[j]; j++)
            if (j == i)
                name = k->choices[j];
        snprintf(out, out_len, "%s", name);
        return;
    }
    case KT_SET: {
        unsigned mask;
        memcpy(&mask, field, sizeof(mask));
        size_t o = 0;
        out[0] = '\0';
        for (int j = 0; k->choices[j]; j++) {
            if (!(mask & (1u << j)))
                continue;
            int n = snprintf(out + o, out_len - o, "%s%s", o ? "," : "", k->choices[j]);
            if (n < 0 || (size_t)n >= out_len - o)
                return;
            o += (size_t)n;
        }
        return;
    }
    }
    snprintf(out, out_len, "?");
}

/* ---- Applying values from each source --------------------------------------------------- */

/* Writes the short origin ("FILE:LINE" keeps its tail when long) into cfg->origin[i]. */
static void set_origin(struct load *ld, size_t i, enum origin_kind kind, int line)
{
    char *o = ld->cfg->origin[i];
    size_t cap = sizeof(ld->cfg->origin[i]);
    ld->kind[i] = kind;
    ld->line[i] = line;
    switch (kind) {
    case ORIGIN_DEFAULT:
        snprintf(o, cap, "default");
        return;
    case ORIGIN_ENV: {
        char env[NAME_MAX_LEN];
        env_name(&keys[i], env, sizeof(env));
        snprintf(o, cap, "env %s", env);
        return;
    }
    case ORIGIN_SET:
        snprintf(o, cap, "--set");
        return;
    case ORIGIN_FILE: {
        char num[16];
        int n = snprintf(num, sizeof(num), ":%d", line);
        size_t num_len = n > 0 && (size_t)n < sizeof(num) ? (size_t)n : 0;
        size_t name_len = strlen(ld->file);
        const char *name = ld->file;
        size_t o_len = 0;
        if (name_len + num_len >= cap) {
            size_t keep = cap - 1 - num_len - 3;
            memcpy(o, "...", 3);
            o_len = 3;
            name += name_len - keep;
            name_len = keep;
        }
        memcpy(o + o_len, name, name_len);
        memcpy(o + o_len + name_len, num, num_len);
        o[o_len + name_len + num_len] = '\0';
        return;
    }
    }
}

/* Formats where key i's value came from, as error messages name it. */
static void origin_where(const struct load *ld, size_t i, char *out, size_t out_len)
{
    char env[NAME_MAX_LEN];
    switch (ld->kind[i]) {
    case ORIGIN_FILE:
        snprintf(out, out_len, "%s:%d", ld->file, ld->line[i]);
        return;
    case ORIGIN_ENV:
        env_name(&keys[i], env, sizeof(env));
        snprintf(out, out_len, "environment %s", env);
        return;
    case ORIGIN_SET:
        snprintf(out, out_len, "--set %s.%s", keys[i].section, keys[i].name);
        return;
    case ORIGIN_DEFAULT:
        break;
    }
    snprintf(out, out_len, "default");
}

/* Parses and stores one value, recording its origin; fails with a one-line message. */
static int apply(struct load *ld, const struct key_def *k, const char *v, const char *where,
                 enum origin_kind kind, int line)
{
    char why[512];
    if (key_parse_store(ld->cfg, k, v, why, sizeof(why)) < 0) {
        char q[QUOTE_MAX + 8];
        quote_value(k, v, q, sizeof(q));
        fail(ld, HX_ECONFIG, "%s: [%s] %s = '%s': %s", where, k->section, k->name, q, why);
        return ld->rc;
    }
    set_origin(ld, key_index(k), kind, line);
    return 0;
}

/* Joins dir and rel with exactly one '/'. Returns false when it does not fit. */
static bool path_join(const char *dir, const char *rel, char *out, size_t out_len)
{
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    int n = snprintf(out, out_len, "%s%s%s", dir, slash ? "" : "/", rel);
    return n >= 0 && (size_t)n < out_len;
}

static const char *env_get(const struct load *ld, const char *name)
{
    size_t len = strlen(name);
    for (char *const *e = ld->src->env; e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

static int resolve_data_dir(struct load *ld)
{
    const char *dir = ld->src->data_dir, *where = "--data-dir";
    if (!dir) {
        dir = env_get(ld, "MEDHUB_DATA_DIR");
        where = "environment MEDHUB_DATA_DIR";
    }
    if (!dir) {
        dir = DEFAULT_DATADIR;
        where = "default";
    }
    /* Leave room for the longest default under it ("/tls/device-ca.crt"). */
    size_t room = 0;
    for (size_t i = 0; i < N_KEYS; i++)
        if ((keys[i].flags & KF_IN_DATA_DIR) && strlen(keys[i].def) + 1 > room)
            room = strlen(keys[i].def) + 1;
    if (strlen(CONF_NAME) + 1 > room)
        room = strlen(CONF_NAME) + 1;
    size_t len = strlen(dir);
    char q[QUOTE_MAX + 8];
    quote(dir, len, q, sizeof(q));
    if (len == 0) {
        fail(ld, HX_ECONFIG, "%s: data directory '': expected a directory path", where);
        return ld->rc;
    }
    if (len + room >= sizeof(ld->cfg->data_dir)) {
        fail(ld, HX_ECONFIG,
             "%s: data directory '%s': too long (%zu bytes); expected at most %zu bytes", where, q,
             len, sizeof(ld->cfg->data_dir) - 1 - room);
        return ld->rc;
    }
    memcpy(ld->cfg->data_dir, dir, len + 1);
    return 0;
}

static int apply_defaults(struct load *ld)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        char buf[CFG_PATH_MAX];
        const char *v = k->def;
        if (k->flags & KF_IN_DATA_DIR) {
            /* resolve_data_dir left room for every default. */
            if (HX_UNLIKELY_BUG(!path_join(ld->cfg->data_dir, k->def, buf, sizeof(buf))))
                return HX_ECONFIG;
            v = buf;
        }
        int rc = apply(ld, k, v, "default", ORIGIN_DEFAULT, 0);
        if (HX_UNLIKELY_BUG(rc < 0))
            return rc;
    }
    return 0;
}

/* ---- The file: our line reader in front of libinih -------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Like inih's find_chars_or_comment: the first char of chars, or a ';' that follows
 * whitespace (an inline comment), or the end. */
static const char *find_or_comment(const char *s, const char *chars)
{
    bool was_space = false;
    while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s) != 0;
        s++;
    }
    return s;
}

/* Where the reader is, as "FILE:LINE". */
static void file_where(const struct load *ld, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s:%d", ld->file, ld->lineno);
}

/* Fails for a line that inih would reject or misread, naming the section and, when the line
 * looks like "key = value", the key and value. */
static void fail_line(struct load *ld, const char *text, size_t len, const char *problem)
{
    char where[CFG_PATH_MAX + 32], q[QUOTE_MAX + 8], sec[NAME_MAX_LEN + 4] = "";
    file_where(ld, where, sizeof(where));
    quote(text, len, q, sizeof(q));
    if (*ld->section)
        snprintf(sec, sizeof(sec), "[%s] ", ld->section);
    fail(ld, HX_ECONFIG, "%s: %s'%s': %s", where, sec, q, problem);
}

/* Checks one line (leading whitespace already skipped, NUL-terminated) the way inih will read
 * it, so that syntax errors carry the section and line text. Returns false after failing. */
static bool check_line(struct load *ld, const char *s, size_t len)
{
    if (len == 0 || *s == ';' || *s == '#')
        return true;
    if (*s == '[') {
        const char *close = find_or_comment(s + 1, "]");
        if (*close != ']') {
            fail_line(ld, s, len, "expected ']' to close the section name");
            return false;
        }
        size_t name_len = (size_t)(close - (s + 1));
        if (!is_section(s + 1, name_len)) {
            char where[CFG_PATH_MAX + 32];
            file_where(ld, where, sizeof(where));
            fail_unknown_section(ld, where, s + 1, name_len, "");
            return false;
        }
        memcpy(ld->section, s + 1, name_len);
        ld->section[name_len] = '\0';
        return true;
    }
    const char *sep = find_or_comment(s, "=:");
    if (*sep != '=' && *sep != ':') {
        fail_line(ld, s, len, "expected 'key = value', a [section] header or a comment");
        return false;
    }
    return true;
}

/* ini_reader: hands inih one line at a time so that ld->lineno is the line of every handler
 * call. Stops (returns NULL) at the end or once an error has been recorded. */
static char *reader(char *str, int num, void *stream)
{
    struct load *ld = stream;
    if (ld->rc || ld->pos >= ld->end)
        return NULL;
    const char *start = ld->pos;
    const char *nl = memchr(start, '\n', (size_t)(ld->end - start));
    const char *eol = nl ? nl : ld->end;
    ld->pos = nl ? nl + 1 : ld->end;
    ld->lineno++;
    if (memchr(start, '\0', (size_t)(eol - start))) {
        fail_line(ld, start, (size_t)(eol - start), "line contains a NUL byte; expected text");
        return NULL;
    }
    /* Skipping indentation ourselves keeps inih from reading an indented line as a
     * continuation of the previous value. */
    while (start < eol && is_blank(*start))
        start++;
    size_t len = (size_t)(eol - start);
    if (num <= 1)
        return NULL;
    size_t cap = (size_t)num - 1;
    if (len > cap) {
        if (*start == ';' || *start == '#') {
            len = 1; /* a long comment: inih only needs to see that it is one */
        } else {
            char problem[160];
            snprintf(problem, sizeof(problem),
                     "line is %zu bytes long; expected at most %zu (set longer values through "
                     "the environment or --set)",
                     len, cap);
            fail_line(ld, start, len, problem);
            return NULL;
        }
    }
    memcpy(str, start, len);
    str[len] = '\0';
    if (!check_line(ld, str, len))
        return NULL;
    return str;
}

/* ini_handler: one "key = value" line of the file. Returns nonzero to continue. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct load *ld = user;
    if (ld->rc)
        return 0;
    char where[CFG_PATH_MAX + 32];
    file_where(ld, where, sizeof(where));
    if (!*section) {
        char qn[QUOTE_MAX + 8], qv[QUOTE_MAX + 8];
        quote(name, strlen(name), qn, sizeof(qn));
        quote(value, strlen(value), qv, sizeof(qv));
        fail(ld, HX_ECONFIG,
             "%s: %s = '%s': key outside any section; expected a [section] "
             "header first",
             where, qn, qv);
        return 0;
    }
    if (!is_section(section, strlen(section))) {
        fail_unknown_section(ld, where, section, strlen(section), "");
        return 0;
    }
    const struct key_def *k = find_key(section, name, strlen(name));
    if (!k) {
        fail_unknown_key(ld, where, section, name, strlen(name), value);
        return 0;
    }
    /* A key given twice in the file keeps the last value, as in most INI readers. */
    return apply(ld, k, value, where, ORIGIN_FILE, ld->lineno) == 0;
}

static int parse_text(struct load *ld, const char *name, const char *text, size_t len)
{
    ld->file = name;
    if (len > CFG_FILE_MAX) {
        fail(ld, HX_ECONFIG, "%s: file is %zu bytes; expected at most %d", name, len, CFG_FILE_MAX);
        return ld->rc;
    }
    ld->pos = text;
    ld->end = text + len;
    ld->lineno = 0;
    ld->section[0] = '\0';
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        ld->pos += 3; /* UTF-8 byte order mark */
    int rc = ini_parse_stream(reader, ld, handler, ld);
    if (ld->rc)
        return ld->rc;
    if (rc > 0) {
        /* Our reader checks everything inih rejects, so this is only a fallback. */
        fail(ld, HX_ECONFIG,
             "%s:%d: syntax error; expected 'key = value', a [section] header "
             "or a comment",
             name, rc);
    } else if (rc < 0) {
        fail(ld, -ENOMEM, "%s: out of memory while parsing", name);
    }
    return ld->rc;
}

/* Reads the whole file into a new buffer. *text is NULL when the file is absent and that is
 * allowed. */
static int read_file(struct load *ld, const char *path, bool required, const char *named_by,
                     char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        if (rc == -ENOENT && !required)
            return 0;
        fail(ld, rc, "%s: cannot read the configuration file%s: %s", path, named_by,
             hx_strerror(rc));
        return rc;
    }
    void *p;
    int rc = hx_try_alloc(&p, CFG_FILE_MAX + 1, CFG_FILE_MAX + 1);
    if (rc < 0) {
        fail(ld, rc, "%s: cannot read the configuration file: %s", path, hx_strerror(rc));
        goto out_close;
    }
    char *buf = p;
    size_t n = 0;
    while (n <= CFG_FILE_MAX) {
        ssize_t r = read(fd, buf + n, CFG_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            fail(ld, rc, "%s: cannot read the configuration file: %s", path, hx_strerror(rc));
            goto out_free;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > CFG_FILE_MAX) {
        fail(ld, HX_ECONFIG, "%s: file is larger than %d bytes; expected a configuration file",
             path, CFG_FILE_MAX);
        rc = ld->rc;
        goto out_free;
    }
    *text = buf;
    *len = n;
    goto out_close;
out_free:
    free(buf);
out_close:
    close(fd);
    return rc;
}

static int load_file(struct load *ld)
{
    const char *path = ld->src->file;
    bool required = ld->src->file_required;
    const char *named_by = "";
    if (!path) {
        path = env_get(ld, "MEDHUB_CONFIG");
        if (path && *path) {
            required = true;
            named_by = " (named by MEDHUB_CONFIG)";
        } else {
            path = NULL;
        }
    }
    char def_path[CFG_PATH_MAX];
    if (!path) {
        /* resolve_data_dir left room for the file name. */
        if (HX_UNLIKELY_BUG(!path_join(ld->cfg->data_dir, CONF_NAME, def_path, sizeof(def_path))))
            return HX_ECONFIG;
        path = def_path;
    }
    char *text;
    size_t len;
    int rc = read_file(ld, path, required, named_by, &text, &len);
    if (rc < 0 || !text)
        return rc;
    rc = parse_text(ld, path, text, len);
    free(text);
    return rc;
}

/* ---- Environment and --set -------------------------------------------------------------- */

static int load_env(struct load *ld)
{
    for (char *const *e = ld->src->env; e && *e; e++) {
        const char *entry = *e;
        if (strncmp(entry, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
            continue;
        const char *eq = strchr(entry, '=');
        if (!eq)
            continue;
        size_t name_len = (size_t)(eq - entry);
        bool skip = false;
        for (size_t i = 0; i < HX_ARRAY_LEN(env_not_keys); i++)
            skip = skip || name_eq(env_not_keys[i], entry, name_len);
        if (skip)
            continue;
        const struct key_def *k = NULL;
        struct suggest sg = {SIZE_MAX, NULL};
        char names[N_KEYS][NAME_MAX_LEN];
        for (size_t i = 0; i < N_KEYS && !k; i++) {
            env_name(&keys[i], names[i], sizeof(names[i]));
            if (name_eq(names[i], entry, name_len))
                k = &keys[i];
            else
                suggest_try(&sg, entry, name_len, names[i]);
        }
        if (!k) {
            char q[QUOTE_MAX + 8];
            quote(entry, name_len, q, sizeof(q));
            if (sg.best)
                fail(ld, HX_ECONFIG, "environment %s: unknown key; did you mean %s?", q, sg.best);
            else
                fail(ld, HX_ECONFIG,
                     "environment %s: unknown key; expected " ENV_PREFIX
                     "<SECTION>_<KEY>, e.g. " ENV_PREFIX "STORAGE_SYNC",
                     q);
            return ld->rc;
        }
        char where[NAME_MAX_LEN + 16];
        snprintf(where, sizeof(where), "environment %s", names[key_index(k)]);
        int rc = apply(ld, k, eq + 1, where, ORIGIN_ENV, 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_overrides(struct load *ld)
{
    for (int i = 0; i < ld->src->n_overrides; i++) {
        const char *s = ld->src->overrides ? ld->src->overrides[i] : NULL;
        if (!s)
            continue;
        const char *eq = strchr(s, '=');
        const char *dot = eq ? memchr(s, '.', (size_t)(eq - s)) : NULL;
        if (!dot) {
            char q[QUOTE_MAX + 8];
            quote(s, strlen(s), q, sizeof(q));
            fail(ld, HX_ECONFIG, "--set '%s': expected section.key=value, e.g. storage.sync=normal",
                 q);
            return ld->rc;
        }
        size_t sec_len = (size_t)(dot - s), name_len = (size_t)(eq - dot - 1);
        const char *name = dot + 1, *value = eq + 1;
        char where[2 * QUOTE_MAX + 32], qs[QUOTE_MAX + 8], qn[QUOTE_MAX + 8];
        quote(s, sec_len, qs, sizeof(qs));
        quote(name, name_len, qn, sizeof(qn));
        snprintf(where, sizeof(where), "--set %s.%s", qs, qn);
        if (!is_section(s, sec_len)) {
            char detail[QUOTE_MAX + 16];
            snprintf(detail, sizeof(detail), " %s", qn);
            fail_unknown_section(ld, where, s, sec_len, detail);
            return ld->rc;
        }
        char section[NAME_MAX_LEN];
        memcpy(section, s, sec_len); /* is_section: a table name, so short */
        section[sec_len] = '\0';
        const struct key_def *k = find_key(section, name, name_len);
        if (!k) {
            fail_unknown_key(ld, where, section, name, name_len, value);
            return ld->rc;
        }
        int rc = apply(ld, k, value, where, ORIGIN_SET, 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- Whole-config validation ------------------------------------------------------------ */

static const void *key_field(const struct cfg *cfg, const struct key_def *k)
{
    return (const char *)cfg + k->offset;
}

/* True when two enabled listen addresses would fight over a port. */
static bool addr_overlaps(const struct cfg_addr *a, const struct cfg_addr *b)
{
    if (!a->is_set || !b->is_set || a->port == 0 || a->port != b->port)
        return false;
    uint8_t ba[16], bb[16];
    bool a6 = strchr(a->host, ':') != NULL, b6 = strchr(b->host, ':') != NULL;
    static const uint8_t any[16];
    if (inet_pton(a6 ? AF_INET6 : AF_INET, a->host, ba) != 1 ||
        inet_pton(b6 ? AF_INET6 : AF_INET, b->host, bb) != 1)
        return true;
    bool a_any = memcmp(ba, any, a6 ? 16 : 4) == 0, b_any = memcmp(bb, any, b6 ? 16 : 4) == 0;
    if (a_any || b_any)
        return true; /* a wildcard (0.0.0.0 or [::]) takes the port on every address */
    return a6 == b6 && memcmp(ba, bb, a6 ? 16 : 4) == 0;
}

static int validate(struct load *ld)
{
    const struct cfg *cfg = ld->cfg;
    char where[CFG_PATH_MAX + 32], v[CFG_HOST_MAX + 16];

    if (cfg->storage.backend == CFG_BACKEND_POSTGRES) {
        const struct key_def *k = find_key("storage", "backend", strlen("backend"));
        origin_where(ld, key_index(k), where, sizeof(where));
        fail(ld, HX_ECONFIG,
             "%s: [storage] backend = 'postgres': postgres backend is not available in this "
             "build; use sqlite",
             where);
        return ld->rc;
    }

    if (cfg->webhook.backoff_initial_ms > cfg->webhook.backoff_max_ms) {
        /* Blame the value the user gave: backoff_max_ms unless it is still the default. */
        size_t imax = key_index(find_key("webhook", "backoff_max_ms", strlen("backoff_max_ms")));
        size_t iini =
            key_index(find_key("webhook", "backoff_initial_ms", strlen("backoff_initial_ms")));
        bool blame_max = ld->kind[imax] != ORIGIN_DEFAULT;
        origin_where(ld, blame_max ? imax : iini, where, sizeof(where));
        if (blame_max)
            fail(ld, HX_ECONFIG,
                 "%s: [webhook] backoff_max_ms = '%" PRIu32 "': expected at least "
                 "backoff_initial_ms (%" PRIu32 ")",
                 where, cfg->webhook.backoff_max_ms, cfg->webhook.backoff_initial_ms);
        else
            fail(ld, HX_ECONFIG,
                 "%s: [webhook] backoff_initial_ms = '%" PRIu32 "': expected at most "
                 "backoff_max_ms (%" PRIu32 ")",
                 where, cfg->webhook.backoff_initial_ms, cfg->webhook.backoff_max_ms);
        return ld->rc;
    }

    if (cfg->auth.break_glass_default_min > cfg->auth.break_glass_max_min) {
        size_t idef = key_index(
            find_key("auth", "break_glass_default_min", strlen("break_glass_default_min")));
        origin_where(ld, idef, where, sizeof(where));
        fail(ld, HX_ECONFIG,
             "%s: [auth] break_glass_default_min = '%" PRIu32 "': expected at most "
             "break_glass_max_min (%" PRIu32 ")",
             where, cfg->auth.break_glass_default_min, cfg->auth.break_glass_max_min);
        return ld->rc;
    }
    if (cfg->auth.session_idle_s > cfg->auth.session_absolute_s) {
        size_t idle = key_index(find_key("auth", "session_idle_s", strlen("session_idle_s")));
        origin_where(ld, idle, where, sizeof(where));
        fail(ld, HX_ECONFIG,
             "%s: [auth] session_idle_s = '%" PRIu32 "': expected at most session_absolute_s "
             "(%" PRIu32 ")",
             where, cfg->auth.session_idle_s, cfg->auth.session_absolute_s);
        return ld->rc;
    }

    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        if (!(k->flags & KF_PLAIN_LISTENER))
            continue;
        const struct cfg_addr *a = key_field(cfg, k);
        const struct key_def *ins = find_key(k->section, "insecure", strlen("insecure"));
        bool insecure = false;
        if (ins)
            memcpy(&insecure, key_field(cfg, ins), sizeof(insecure));
        if (!a->is_set || a->is_loopback || insecure)
            continue;
        bool has_tls = find_key(k->section, "tls_listen", strlen("tls_listen")) != NULL;
        origin_where(ld, i, where, sizeof(where));
        key_format(cfg, k, v, sizeof(v));
        fail(ld, HX_ECONFIG,
             "%s: [%s] %s = '%s': plain (non-TLS) listeners must be on loopback; %sset insecure "
             "= true (flagged by the compliance report)",
             where, k->section, k->name, v, has_tls ? "use tls_listen, or " : "");
        return ld->rc;
    }

    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].type != KT_ADDR)
            continue;
        for (size_t j = 0; j < i; j++) {
            if (keys[j].type != KT_ADDR ||
                !addr_overlaps(key_field(cfg, &keys[i]), key_field(cfg, &keys[j])))
                continue;
            char other[CFG_HOST_MAX + 16];
            origin_where(ld, i, where, sizeof(where));
            key_format(cfg, &keys[i], v, sizeof(v));
            key_format(cfg, &keys[j], other, sizeof(other));
            fail(ld, HX_ECONFIG,
                 "%s: [%s] %s = '%s': port also used by [%s] %s = '%s'; expected a different "
                 "port",
                 where, keys[i].section, keys[i].name, v, keys[j].section, keys[j].name, other);
            return ld->rc;
        }
    }
    return 0;
}

/* ---- Public API ------------------------------------------------------------------------- */

static int load(struct cfg *cfg, const struct cfg_sources *src, const char *text, size_t len,
                const char *name, char *err, size_t err_len)
{
    static const struct cfg_sources none;
    struct load ld = {.cfg = cfg, .src = src ? src : &none, .err = err, .err_len = err_len};
    if (err && err_len)
        err[0] = '\0';
    memset(cfg, 0, sizeof(*cfg));
    int rc = resolve_data_dir(&ld);
    if (rc == 0)
        rc = apply_defaults(&ld);
    if (rc == 0)
        rc = text ? parse_text(&ld, name ? name : "<string>", text, len) : load_file(&ld);
    if (rc == 0)
        rc = load_env(&ld);
    if (rc == 0)
        rc = load_overrides(&ld);
    if (rc == 0)
        rc = validate(&ld);
    return rc;
}

int cfg_load(struct cfg *cfg, const struct cfg_sources *src, char *err, size_t err_len)
{
    return load(cfg, src, NULL, 0, NULL, err, err_len);
}

int cfg_load_string(struct cfg *cfg, const char *text, size_t len, const char *name,
                    const struct cfg_sources *src, char *err, size_t err_len)
{
    return load(cfg, src, text ? text : "", text ? len : 0, name, err, err_len);
}

void cfg_print(const struct cfg *cfg, FILE *out)
{
    fprintf(out, "; medhub effective configuration\n");
    fprintf(out, "; data dir: %s (--data-dir, MEDHUB_DATA_DIR or ./medhub-data)\n", cfg->data_dir);
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        if (i == 0 || strcmp(keys[i - 1].section, k->section) != 0)
            fprintf(out, "\n[%s]\n", k->section);
        char v[CFG_PATH_MAX];
        key_format(cfg, k, v, sizeof(v));
        if ((k->flags & KF_SECRET) && *v)
            snprintf(v, sizeof(v), "%s", SECRET_MASK);
        int n = fprintf(out, "%s = %s", k->name, v);
        int pad = n >= 0 && n < 37 ? 40 - n : 3;
        fprintf(out, "%*s; from %s\n", pad, "", cfg->origin[i]);
    }
}

static void type_name(const struct key_def *k, char *out, size_t out_len)
{
    char list[128];
    switch (k->type) {
    case KT_STRING:
        snprintf(out, out_len, "string");
        return;
    case KT_PATH:
        snprintf(out, out_len, "%s", (k->flags & KF_EMPTY_OK) ? "path or empty" : "path");
        return;
    case KT_ADDR:
        snprintf(out, out_len, "address");
        return;
    case KT_BOOL:
        snprintf(out, out_len, "bool");
        return;
    case KT_UINT:
        snprintf(out, out_len, "integer %" PRIu32 "..%" PRIu32, k->min, k->max);
        return;
    case KT_ENUM:
    case KT_LOGLEVEL:
        list_choices(k->choices, list, sizeof(list));
        snprintf(out, out_len, "one of %s", list);
        return;
    case KT_SET:
        list_choices(k->choices, list, sizeof(list));
        snprintf(out, out_len, "comma-separated, any of %s", list);
        return;
    }
    snprintf(out, out_len, "?");
}

/* The default as documentation shows it; data_dir NULL shows "<data-dir>". */
static void default_text(const struct key_def *k, const char *data_dir, char *out, size_t out_len)
{
    if (!(k->flags & KF_IN_DATA_DIR))
        snprintf(out, out_len, "%s", k->def);
    else if (!data_dir || !path_join(data_dir, k->def, out, out_len))
        snprintf(out, out_len, "<data-dir>/%s", k->def);
}

void cfg_print_reference(FILE *out)
{
    fprintf(out, "| Key | Type | Default | Description | Environment variable |\n");
    fprintf(out, "|-----|------|---------|-------------|----------------------|\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        char type[160], def[CFG_PATH_MAX], env[NAME_MAX_LEN];
        type_name(k, type, sizeof(type));
        default_text(k, NULL, def, sizeof(def));
        env_name(k, env, sizeof(env));
        fprintf(out, "| `%s.%s` | %s | %s%s%s | %s%s | `%s` |\n", k->section, k->name, type,
                *def ? "`" : "", *def ? def : "(empty)", *def ? "`" : "", k->help,
                (k->flags & KF_SECRET) ? " Secret: printed as `********`." : "", env);
    }
}

/* Writes text as ';' comment lines of at most about 90 columns. */
static void write_comment(FILE *out, const char *text)
{
    const size_t width = 88;
    while (*text) {
        size_t n = strlen(text);
        if (n > width) {
            n = width;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = width;
        }
        fprintf(out, "; %.*s\n", (int)n, text);
        text += n;
        while (*text == ' ')
            text++;
    }
}

void cfg_write_template_for(FILE *out, const char *data_dir)
{
    write_comment(out, "medhub configuration file, written by `medhub init`.");
    fprintf(out, ";\n");
    write_comment(out,
                  "Every key is commented out and shows its built-in default: remove the "
                  "leading ';' to change a value. Precedence, lowest to highest: built-in "
                  "default, this file, environment MEDHUB_<SECTION>_<KEY>, --set "
                  "section.key=value. `medhub config print` shows the effective value of every key "
                  "and where it came from.");
    write_comment(out, "Plain (non-TLS) listeners must be on loopback unless insecure = true, "
                       "which the compliance report flags. An empty address disables a listener. "
                       "Paths are used as given; relative paths are relative to the working "
                       "directory.");
    if (!data_dir)
        write_comment(out, "<data-dir> stands for the data directory (--data-dir, "
                           "MEDHUB_DATA_DIR or ./medhub-data); write the full path if you set "
                           "one of those keys.");
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        if (i == 0 || strcmp(keys[i - 1].section, k->section) != 0)
            fprintf(out, "\n[%s]\n", k->section);
        char type[160], def[CFG_PATH_MAX], env[NAME_MAX_LEN], line[512];
        type_name(k, type, sizeof(type));
        default_text(k, data_dir, def, sizeof(def));
        env_name(k, env, sizeof(env));
        fprintf(out, "\n");
        write_comment(out, k->help);
        snprintf(line, sizeof(line), "Type: %s. Environment: %s.%s", type, env,
                 (k->flags & KF_SECRET) ? " Secret: prefer the environment to this file." : "");
        write_comment(out, line);
        fprintf(out, ";%s =%s%s\n", k->name, *def ? " " : "", def);
    }
}

void cfg_write_template(FILE *out)
{
    cfg_write_template_for(out, NULL);
}
