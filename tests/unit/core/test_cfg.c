/*
 * Unit tests for src/core/cfg.c: defaults, the file, the environment and --set in order of
 * precedence, every error path (each message must name the source, line, key, bad value and
 * what is expected), cfg_print masking, the reference table and the template.
 * Files live in a mkdtemp directory removed at the end. Thread: main.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/cfg.h"
#include "core/err.h"
#include "core/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per-test state: a heap cfg (it is ~30 KB), the message buffer and a temp dir. */
struct fx {
    struct cfg *cfg;
    char err[1024];
    char dir[64];
};

static int setup(void **state)
{
    struct fx *fx = hx_xcalloc(1, sizeof(*fx));
    fx->cfg = hx_xcalloc(1, sizeof(*fx->cfg));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/medhub-test-cfg-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        return -1;
    free(fx->cfg);
    free(fx);
    return 0;
}

/* Loads text as file "t.conf" with data dir /data, env and --set as given. */
static int load_full(struct fx *fx, const char *text, char *const *env, const char *const *sets,
                     int n_sets)
{
    struct cfg_sources src = {
        .data_dir = "/data", .env = env, .overrides = sets, .n_overrides = n_sets};
    return cfg_load_string(fx->cfg, text, strlen(text), "t.conf", &src, fx->err, sizeof(fx->err));
}

static int load_text(struct fx *fx, const char *text)
{
    return load_full(fx, text, NULL, NULL, 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

#define expect_has(hay, needle)                                                                    \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("expected '%s' in '%s'", (needle), (hay));                                    \
    } while (0)

#define expect_lacks(hay, needle)                                                                  \
    do {                                                                                           \
        if (strstr((hay), (needle)))                                                               \
            fail_msg("did not expect '%s' in '%s'", (needle), (hay));                              \
    } while (0)

/* Every error message is one line. */
#define expect_error(fx, rc, needle)                                                               \
    do {                                                                                           \
        assert_int_equal((rc), HX_ECONFIG);                                                        \
        assert_null(strchr((fx)->err, '\n'));                                                      \
        expect_has((fx)->err, (needle));                                                           \
    } while (0)

/* Keys in the table. */
#define N_TEST_KEYS 52

/* Index of key "section.name" in cfg->origin, found through cfg_print's order. */
static int origin_index(const char *section, const char *name)
{
    static const char *const order[] = {
        "mqtt.listen",
        "mqtt.tls_listen",
        "mqtt.insecure",
        "mqtt.max_packet_bytes",
        "mqtt.max_connections",
        "mqtt.connect_timeout_ms",
        "mqtt.publish_rate",
        "http.listen",
        "http.tls_listen",
        "http.insecure",
        "http.max_connections",
        "http.max_header_bytes",
        "http.max_headers",
        "http.max_body_bytes",
        "http.header_timeout_ms",
        "http.body_timeout_ms",
        "http.idle_timeout_ms",
        "http.write_queue_bytes",
        "http.stream_queue_bytes",
        "http.web_root",
        "hl7.listen",
        "hl7.insecure",
        "storage.backend",
        "storage.path",
        "storage.sync",
        "storage.batch_max",
        "storage.queue_max",
        "storage.busy_timeout_ms",
        "storage.postgres_url",
        "tls.cert",
        "tls.key",
        "tls.client_ca",
        "webhook.timeout_ms",
        "webhook.backoff_initial_ms",
        "webhook.backoff_max_ms",
        "webhook.expire_s",
        "webhook.ca_file",
        "audit.checkpoint_entries",
        "audit.checkpoint_interval_s",
        "audit.anchor_file",
        "auth.session_idle_s",
        "auth.session_absolute_s",
        "auth.mfa_roles",
        "auth.login_ticket_s",
        "auth.throttle_free",
        "auth.throttle_max_delay_s",
        "auth.lockout_failures",
        "auth.lockout_s",
        "auth.address_throttle_free",
        "auth.break_glass_default_min",
        "auth.break_glass_max_min",
        "log.level",
    };
    char want[64];
    snprintf(want, sizeof(want), "%s.%s", section, name);
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (strcmp(order[i], want) == 0)
            return (int)i;
    fail_msg("no key %s", want);
    return -1;
}

#define ORIGIN(fx, s, n) ((fx)->cfg->origin[origin_index((s), (n))])

static char *print_cfg(const struct cfg *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    cfg_print(cfg, f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static char *template_for(const char *data_dir)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    if (data_dir)
        cfg_write_template_for(f, data_dir);
    else
        cfg_write_template(f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* ---- Defaults and sources --------------------------------------------------------------- */

static void test_cfg_defaults(void **state)
{
    struct fx *fx = *state;
    struct cfg_sources src = {.data_dir = fx->dir}; /* empty dir: no medhub.conf */
    assert_int_equal(cfg_load(fx->cfg, &src, fx->err, sizeof(fx->err)), 0);
    const struct cfg *c = fx->cfg;
    char want[256];
    assert_string_equal(c->data_dir, fx->dir);
    assert_true(c->mqtt.listen.is_set);
    assert_string_equal(c->mqtt.listen.host, "127.0.0.1");
    assert_int_equal(c->mqtt.listen.port, 1883);
    assert_true(c->mqtt.listen.is_loopback);
    assert_string_equal(c->mqtt.tls_listen.host, "0.0.0.0");
    assert_int_equal(c->mqtt.tls_listen.port, 8883);
    assert_false(c->mqtt.tls_listen.is_loopback);
    assert_false(c->mqtt.insecure);
    assert_int_equal(c->mqtt_limits.max_packet_bytes, 262144);
    assert_int_equal(c->mqtt_limits.max_connections, 10000);
    assert_int_equal(c->mqtt_limits.connect_timeout_ms, 10000);
    assert_int_equal(c->mqtt_limits.publish_rate, 50);
    assert_string_equal(c->http.listen.host, "127.0.0.1");
    assert_int_equal(c->http.listen.port, 8080);
    assert_int_equal(c->http.tls_listen.port, 8443);
    assert_false(c->http.insecure);
    assert_int_equal(c->hl7.listen.port, 2575);
    assert_false(c->hl7.tls_listen.is_set);
    assert_false(c->hl7.insecure);
    assert_int_equal(c->storage.backend, CFG_BACKEND_SQLITE);
    snprintf(want, sizeof(want), "%s/medhub.db", fx->dir);
    assert_string_equal(c->storage.path, want);
    assert_int_equal(c->storage.sync, CFG_SYNC_FULL);
    assert_int_equal(c->storage.batch_max, 65536);
    assert_int_equal(c->storage.queue_max, 131072);
    assert_int_equal(c->storage.busy_timeout_ms, 5000);
    assert_string_equal(c->storage.postgres_url, "");
    snprintf(want, sizeof(want), "%s/tls/server.crt", fx->dir);
    assert_string_equal(c->tls.cert, want);
    snprintf(want, sizeof(want), "%s/tls/server.key", fx->dir);
    assert_string_equal(c->tls.key, want);
    snprintf(want, sizeof(want), "%s/tls/device-ca.crt", fx->dir);
    assert_string_equal(c->tls.client_ca, want);
    assert_int_equal(c->webhook.timeout_ms, 5000);
    assert_int_equal(c->webhook.backoff_initial_ms, 1000);
    assert_int_equal(c->webhook.backoff_max_ms, 300000);
    assert_int_equal(c->webhook.expire_s, 86400);
    assert_string_equal(c->webhook.ca_file, "");
    assert_int_equal(c->audit.checkpoint_entries, 1000);
    assert_int_equal(c->audit.checkpoint_interval_s, 3600);
    snprintf(want, sizeof(want), "%s/audit-anchors.log", fx->dir);
    assert_string_equal(c->audit.anchor_file, want);
    assert_int_equal(c->log.level, LOG_INFO);
    assert_int_equal(c->http_opts.max_connections, 10000);
    assert_int_equal(c->http_opts.max_header_bytes, 16384);
    assert_int_equal(c->http_opts.max_headers, 64);
    assert_int_equal(c->http_opts.max_body_bytes, 1048576);
    assert_int_equal(c->http_opts.header_timeout_ms, 10000);
    assert_int_equal(c->http_opts.body_timeout_ms, 30000);
    assert_int_equal(c->http_opts.idle_timeout_ms, 60000);
    assert_int_equal(c->http_opts.write_queue_bytes, 4194304);
    assert_int_equal(c->http_opts.stream_queue_bytes, 262144);
    assert_string_equal(c->http_opts.web_root, "");
    for (int i = 0; i < N_TEST_KEYS; i++)
        assert_string_equal(c->origin[i], "default");
}

static void test_cfg_data_dir_sources(void **state)
{
    struct fx *fx = *state;
    /* No sources at all: ./medhub-data. */
    assert_int_equal(cfg_load_string(fx->cfg, "", 0, NULL, NULL, fx->err, sizeof(fx->err)), 0);
    assert_string_equal(fx->cfg->data_dir, "./medhub-data");
    assert_string_equal(fx->cfg->storage.path, "./medhub-data/medhub.db");
    /* MEDHUB_DATA_DIR from the environment array (not getenv), trailing slash. */
    char *env[] = {"MEDHUB_DATA_DIR=/srv/medhub/", NULL};
    struct cfg_sources src = {.env = env};
    assert_int_equal(cfg_load_string(fx->cfg, "", 0, NULL, &src, fx->err, sizeof(fx->err)), 0);
    assert_string_equal(fx->cfg->data_dir, "/srv/medhub/");
    assert_string_equal(fx->cfg->storage.path, "/srv/medhub/medhub.db");
    /* The explicit data dir wins over the environment. */
    src.data_dir = "/explicit";
    assert_int_equal(cfg_load_string(fx->cfg, "", 0, NULL, &src, fx->err, sizeof(fx->err)), 0);
    assert_string_equal(fx->cfg->tls.cert, "/explicit/tls/server.crt");
}

static void test_cfg_data_dir_errors(void **state)
{
    struct fx *fx = *state;
    struct cfg_sources src = {.data_dir = ""};
    int rc = cfg_load_string(fx->cfg, "", 0, NULL, &src, fx->err, sizeof(fx->err));
    expect_error(fx, rc, "--data-dir: data directory '': expected a directory path");
    char *long_dir = hx_xmalloc(CFG_PATH_MAX);
    memset(long_dir, 'd', CFG_PATH_MAX - 10);
    long_dir[CFG_PATH_MAX - 10] = '\0';
    src.data_dir = long_dir;
    rc = cfg_load_string(fx->cfg, "", 0, NULL, &src, fx->err, sizeof(fx->err));
    expect_error(fx, rc, "--data-dir: data directory 'ddd");
    expect_has(fx->err, "too long (4086 bytes); expected at most");
    free(long_dir);
    char *env[] = {"MEDHUB_DATA_DIR=", NULL};
    struct cfg_sources src2 = {.env = env};
    rc = cfg_load_string(fx->cfg, "", 0, NULL, &src2, fx->err, sizeof(fx->err));
    expect_error(fx, rc, "environment MEDHUB_DATA_DIR: data directory ''");
}

static void test_cfg_file_values(void **state)
{
    struct fx *fx = *state;
    const char *text = "; a comment\n"
                       "# another comment\n"
                       "[mqtt]\n"
                       "listen = 127.0.0.2:1884\n"
                       "tls_listen = 10.0.0.1:18883\n"
                       "insecure = yes\n"
                       "[http]\n"
                       "listen = 127.0.0.1:18080\n"
                       "tls_listen =\n"
                       "insecure = off\n"
                       "[hl7]\n"
                       "listen =\n"
                       "insecure = 1\n"
                       "[storage]\n"
                       "backend = sqlite\n"
                       "path = /var/lib/medhub/db.sqlite\n"
                       "sync = normal\n"
                       "batch_max = 100000\n"
                       "queue_max = 1\n"
                       "busy_timeout_ms = 0\n"
                       "postgres_url = postgres://u:p@h/db\n"
                       "[tls]\n"
                       "cert = relative/cert.pem\n"
                       "key = /k.pem\n"
                       "client_ca = /ca.pem\n"
                       "[log]\n"
                       "level = debug\n";
    assert_int_equal(load_text(fx, text), 0);
    const struct cfg *c = fx->cfg;
    assert_string_equal(c->mqtt.listen.host, "127.0.0.2");
    assert_int_equal(c->mqtt.listen.port, 1884);
    assert_true(c->mqtt.listen.is_loopback);
    assert_string_equal(c->mqtt.tls_listen.host, "10.0.0.1");
    assert_true(c->mqtt.insecure);
    assert_int_equal(c->http.listen.port, 18080);
    assert_false(c->http.tls_listen.is_set); /* empty disables */
    assert_false(c->http.insecure);
    assert_false(c->hl7.listen.is_set);
    assert_true(c->hl7.insecure);
    assert_string_equal(c->storage.path, "/var/lib/medhub/db.sqlite");
    assert_int_equal(c->storage.sync, CFG_SYNC_NORMAL);
    assert_int_equal(c->storage.batch_max, 100000);
    assert_int_equal(c->storage.queue_max, 1);
    assert_int_equal(c->storage.busy_timeout_ms, 0);
    assert_string_equal(c->storage.postgres_url, "postgres://u:p@h/db");
    assert_string_equal(c->tls.cert, "relative/cert.pem"); /* used as given */
    assert_string_equal(c->tls.key, "/k.pem");
    assert_string_equal(c->tls.client_ca, "/ca.pem");
    assert_int_equal(c->log.level, LOG_DEBUG);
    assert_string_equal(ORIGIN(fx, "mqtt", "listen"), "t.conf:4");
    assert_string_equal(ORIGIN(fx, "log", "level"), "t.conf:27");
}

static void test_cfg_file_syntax_details(void **state)
{
    struct fx *fx = *state;
    /* BOM, CRLF, indentation (not a continuation), inline comments, duplicates. */
    const char *text = "\xef\xbb\xbf[storage]\r\n"
                       "    sync = normal\r\n"
                       "\tbatch_max = 10 ; inline comment\r\n"
                       "   \r\n"
                       "    ; indented comment\n"
                       "queue_max = 5\n"
                       "queue_max = 6\n"
                       "postgres_url = a;b\n"
                       "[log]\n"
                       "level: warn\n";
    assert_int_equal(load_text(fx, text), 0);
    assert_int_equal(fx->cfg->storage.sync, CFG_SYNC_NORMAL);
    assert_int_equal(fx->cfg->storage.batch_max, 10);
    assert_int_equal(fx->cfg->storage.queue_max, 6); /* last wins */
    assert_string_equal(ORIGIN(fx, "storage", "queue_max"), "t.conf:7");
    assert_string_equal(fx->cfg->storage.postgres_url, "a;b"); /* ';' needs a space before */
    assert_int_equal(fx->cfg->log.level, LOG_WARN);
    /* A long comment line is fine; an empty file is fine. */
    char *long_comment = hx_xmalloc(1200);
    memset(long_comment, 'c', 1100);
    long_comment[0] = ';';
    snprintf(long_comment + 1100, 100, "\n[log]\nlevel = error\n");
    assert_int_equal(load_text(fx, long_comment), 0);
    assert_int_equal(fx->cfg->log.level, LOG_ERROR);
    assert_string_equal(ORIGIN(fx, "log", "level"), "t.conf:3");
    free(long_comment);
    assert_int_equal(load_text(fx, ""), 0);
}

static void test_cfg_default_file_and_required(void **state)
{
    struct fx *fx = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/medhub.conf", fx->dir);
    write_file(path, "[storage]\nsync = normal\n");
    struct cfg_sources src = {.data_dir = fx->dir};
    assert_int_equal(cfg_load(fx->cfg, &src, fx->err, sizeof(fx->err)), 0);
    assert_int_equal(fx->cfg->storage.sync, CFG_SYNC_NORMAL);
    char want[300];
    snprintf(want, sizeof(want), "%s:2", path);
    assert_string_equal(ORIGIN(fx, "storage", "sync"), want);

    /* A named file that is missing is an error; the default one is not. */
    char missing[256];
    snprintf(missing, sizeof(missing), "%s/nope.conf", fx->dir);
    struct cfg_sources named = {.data_dir = fx->dir, .file = missing, .file_required = true};
    int rc = cfg_load(fx->cfg, &named, fx->err, sizeof(fx->err));
    assert_int_equal(rc, -ENOENT);
    expect_has(fx->err, missing);
    expect_has(fx->err, "No such file or directory");
    named.file_required = false;
    assert_int_equal(cfg_load(fx->cfg, &named, fx->err, sizeof(fx->err)), 0);

    /* MEDHUB_CONFIG names the file (and makes it required). */
    char env_entry[300];
    snprintf(env_entry, sizeof(env_entry), "MEDHUB_CONFIG=%s", missing);
    char *env[] = {env_entry, NULL};
    struct cfg_sources by_env = {.data_dir = fx->dir, .env = env};
    rc = cfg_load(fx->cfg, &by_env, fx->err, sizeof(fx->err));
    assert_int_equal(rc, -ENOENT);
    expect_has(fx->err, "MEDHUB_CONFIG");
    snprintf(env_entry, sizeof(env_entry), "MEDHUB_CONFIG=%s", path);
    assert_int_equal(cfg_load(fx->cfg, &by_env, fx->err, sizeof(fx->err)), 0);
    assert_int_equal(fx->cfg->storage.sync, CFG_SYNC_NORMAL);
}

static void test_cfg_unreadable_file(void **state)
{
    struct fx *fx = *state;
    /* A directory opens but cannot be read: -EISDIR, whoever runs the test (root too). */
    struct cfg_sources src = {.data_dir = fx->dir, .file = fx->dir, .file_required = true};
    int rc = cfg_load(fx->cfg, &src, fx->err, sizeof(fx->err));
    assert_int_equal(rc, -EISDIR);
    expect_has(fx->err, fx->dir);
    expect_has(fx->err, "cannot read the configuration file");
    expect_has(fx->err, "Is a directory");
}

static void test_cfg_file_errors_in_real_file(void **state)
{
    struct fx *fx = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/bad.conf", fx->dir);
    write_file(path, "[storage]\n\nsync = fsync\n");
    struct cfg_sources src = {.data_dir = fx->dir, .file = path, .file_required = true};
    int rc = cfg_load(fx->cfg, &src, fx->err, sizeof(fx->err));
    char want[400];
    snprintf(want, sizeof(want), "%s:3: [storage] sync = 'fsync': expected one of full, normal",
             path);
    assert_int_equal(rc, HX_ECONFIG);
    assert_string_equal(fx->err, want);
}

static void test_cfg_file_too_big(void **state)
{
    struct fx *fx = *state;
    size_t n = CFG_FILE_MAX + 1;
    char *big = hx_xmalloc(n + 1);
    memset(big, '\n', n);
    big[n] = '\0';
    struct cfg_sources src = {.data_dir = "/data"};
    int rc = cfg_load_string(fx->cfg, big, n, "big.conf", &src, fx->err, sizeof(fx->err));
    expect_error(fx, rc, "big.conf: file is 1048577 bytes; expected at most 1048576");
    char path[256];
    snprintf(path, sizeof(path), "%s/big.conf", fx->dir);
    write_file(path, big);
    struct cfg_sources fsrc = {.data_dir = fx->dir, .file = path, .file_required = true};
    rc = cfg_load(fx->cfg, &fsrc, fx->err, sizeof(fx->err));
    expect_error(fx, rc, "file is larger than 1048576 bytes");
    expect_has(fx->err, path);
    free(big);
}

static void test_cfg_env_over_file(void **state)
{
    struct fx *fx = *state;
    char *env[] = {"PATH=/usr/bin",
                   "MEDHUB_STORAGE_SYNC=normal",
                   "MEDHUB_STORAGE_BATCH_MAX=77",
                   "MEDHUB_DATA_DIR=/ignored-by-scan",
                   "MEDHUB_CONFIG=",
                   "medhub_storage_sync=lowercase-is-not-ours",
                   "MEDHUB_NO_EQUALS_SIGN",
                   NULL};
    assert_int_equal(
        load_full(fx, "[storage]\nsync = full\nbatch_max = 5\nqueue_max = 9\n", env, NULL, 0), 0);
    assert_int_equal(fx->cfg->storage.sync, CFG_SYNC_NORMAL);
    assert_int_equal(fx->cfg->storage.batch_max, 77);
    assert_int_equal(fx->cfg->storage.queue_max, 9);
    assert_string_equal(ORIGIN(fx, "storage", "sync"), "env MEDHUB_STORAGE_SYNC");
    assert_string_equal(ORIGIN(fx, "storage", "queue_max"), "t.conf:4");
    assert_string_equal(fx->cfg->data_dir, "/data"); /* src->data_dir wins */
}

static void test_cfg_set_over_env(void **state)
{
    struct fx *fx = *state;
    char *env[] = {"MEDHUB_STORAGE_SYNC=normal", "MEDHUB_LOG_LEVEL=warn", NULL};
    const char *sets[] = {"storage.sync=full", "http.listen=127.0.0.1:9999",
                          "storage.postgres_url=x=y"};
    assert_int_equal(load_full(fx, "[storage]\nsync = normal\n", env, sets, 3), 0);
    assert_int_equal(fx->cfg->storage.sync, CFG_SYNC_FULL);
    assert_int_equal(fx->cfg->log.level, LOG_WARN);
    assert_int_equal(fx->cfg->http.listen.port, 9999);
    assert_string_equal(fx->cfg->storage.postgres_url, "x=y"); /* split at the first '=' */
    assert_string_equal(ORIGIN(fx, "storage", "sync"), "--set");
    assert_string_equal(ORIGIN(fx, "log", "level"), "env MEDHUB_LOG_LEVEL");
    assert_string_equal(ORIGIN(fx, "mqtt", "listen"), "default");
}

/* ---- Error paths: file ------------------------------------------------------------------ */

static void test_cfg_error_unknown_section(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[mqtt]\nlisten = 127.0.0.1:1\n[mqqt]\nlisten = 127.0.0.1:1883\n");
    expect_error(fx, rc, "t.conf:3: [mqqt]: unknown section; did you mean [mqtt]?");
    rc = load_text(fx, "\n[nonsense]\n");
    expect_error(fx, rc,
                 "t.conf:2: [nonsense]: unknown section; expected one of mqtt, http, hl7, "
                 "storage, tls, webhook, audit, auth, log");
    rc = load_text(fx, "[foo]\n"); /* 2 edits from "log", but too short to suggest it */
    expect_error(fx, rc, "t.conf:1: [foo]: unknown section; expected one of mqtt");
    rc = load_text(fx, "[lgo]\n"); /* swapped neighbours count as one edit */
    expect_error(fx, rc, "t.conf:1: [lgo]: unknown section; did you mean [log]?");
    rc = load_text(fx, "[STORAGE]\nsync = full\n");
    expect_error(fx, rc, "t.conf:1: [STORAGE]: unknown section; did you mean [storage]?");
}

static void test_cfg_error_unknown_key(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[storage]\nsnyc = normal\n");
    expect_error(fx, rc, "t.conf:2: [storage] snyc = 'normal': unknown key; did you mean 'sync'?");
    rc = load_text(fx, "[storage]\n\n\nflavour = vanilla\n");
    expect_error(fx, rc,
                 "t.conf:4: [storage] flavour = 'vanilla': unknown key; expected one of "
                 "backend, path, sync, batch_max, queue_max, busy_timeout_ms, postgres_url");
    rc = load_text(fx, "[mqtt]\ntls_listn = 127.0.0.1:1\n");
    expect_error(fx, rc, "did you mean 'tls_listen'?");
    rc = load_text(fx, "sync = full\n");
    expect_error(fx, rc, "t.conf:1: sync = 'full': key outside any section");
    /* A line without '=' whose words contain ':' reads as "key: value". */
    rc = load_text(fx, "[mqtt]\nlisten 127.0.0.1:1883\n");
    expect_error(fx, rc, "t.conf:2: [mqtt] listen 127.0.0.1 = '1883': unknown key");
}

static void test_cfg_error_bad_bool(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[mqtt]\ninsecure = maybe\n");
    expect_error(fx, rc,
                 "t.conf:2: [mqtt] insecure = 'maybe': expected true or false (or yes/no, "
                 "on/off, 1/0)");
    static const char *const yes[] = {"true", "TRUE", "yes", "on", "1"};
    static const char *const no[] = {"false", "False", "no", "off", "0"};
    for (size_t i = 0; i < 5; i++) {
        char text[64];
        snprintf(text, sizeof(text), "[http]\ninsecure = %s\n", yes[i]);
        assert_int_equal(load_text(fx, text), 0);
        assert_true(fx->cfg->http.insecure);
        snprintf(text, sizeof(text), "[http]\ninsecure = %s\n", no[i]);
        assert_int_equal(load_text(fx, text), 0);
        assert_false(fx->cfg->http.insecure);
    }
    rc = load_text(fx, "[hl7]\ninsecure =\n");
    expect_error(fx, rc, "t.conf:2: [hl7] insecure = '': expected true or false");
}

static void test_cfg_error_bad_integer(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[storage]\nbatch_max = 12x\n");
    expect_error(fx, rc,
                 "t.conf:2: [storage] batch_max = '12x': expected an integer from 1 to 1000000");
    rc = load_text(fx, "[storage]\nbatch_max = -1\n");
    expect_error(fx, rc, "[storage] batch_max = '-1': expected an integer from 1 to 1000000");
    rc = load_text(fx, "[storage]\nbatch_max =\n");
    expect_error(fx, rc, "[storage] batch_max = '': expected an integer");
    rc = load_text(fx, "[storage]\nbatch_max = 0\n");
    expect_error(fx, rc,
                 "t.conf:2: [storage] batch_max = '0': out of range; expected an integer from 1 "
                 "to 1000000");
    rc = load_text(fx, "[storage]\nbatch_max = 1000001\n");
    expect_error(fx, rc, "batch_max = '1000001': out of range");
    rc = load_text(fx, "[storage]\nqueue_max = 99999999999999999999999\n");
    expect_error(fx, rc,
                 "queue_max = '99999999999999999999999': out of range; expected an "
                 "integer from 1 to 10000000");
    rc = load_text(fx, "[storage]\nbusy_timeout_ms = 600001\n");
    expect_error(fx, rc,
                 "busy_timeout_ms = '600001': out of range; expected an integer from 0 "
                 "to 600000");
    assert_int_equal(load_text(fx, "[storage]\nbusy_timeout_ms = 600000\nqueue_max=10000000\n"), 0);
    assert_int_equal(fx->cfg->storage.busy_timeout_ms, 600000);
    assert_int_equal(fx->cfg->storage.queue_max, 10000000);
}

static void test_cfg_webhook_keys(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(load_text(fx, "[webhook]\ntimeout_ms = 250\nbackoff_initial_ms = 10\n"
                                   "backoff_max_ms = 10\nexpire_s = 1\nca_file = /etc/ca.pem\n"),
                     0);
    assert_int_equal(fx->cfg->webhook.timeout_ms, 250);
    assert_int_equal(fx->cfg->webhook.backoff_initial_ms, 10);
    assert_int_equal(fx->cfg->webhook.backoff_max_ms, 10);
    assert_int_equal(fx->cfg->webhook.expire_s, 1);
    assert_string_equal(fx->cfg->webhook.ca_file, "/etc/ca.pem");
    /* An empty ca_file is allowed (system store only); other paths still need a value. */
    assert_int_equal(load_text(fx, "[webhook]\nca_file =\n"), 0);
    assert_string_equal(fx->cfg->webhook.ca_file, "");
    int rc = load_text(fx, "[tls]\ncert =\n");
    expect_error(fx, rc, "[tls] cert = '': expected a file path");
    rc = load_text(fx, "[webhook]\ntimeout_ms = 99\n");
    expect_error(fx, rc, "t.conf:2: [webhook] timeout_ms = '99': out of range");
    /* The backoff range is checked whole; the error blames the value that was set. */
    rc = load_text(fx, "[webhook]\nbackoff_max_ms = 500\n");
    expect_error(fx, rc,
                 "t.conf:2: [webhook] backoff_max_ms = '500': expected at least "
                 "backoff_initial_ms (1000)");
    const char *sets[] = {"webhook.backoff_initial_ms=400000"};
    rc = load_full(fx, "", NULL, sets, 1);
    expect_error(fx, rc,
                 "--set webhook.backoff_initial_ms: [webhook] backoff_initial_ms = '400000': "
                 "expected at most backoff_max_ms (300000)");
}

static void test_cfg_error_bad_enum(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[storage]\nsync = fsync\n");
    expect_error(fx, rc, "t.conf:2: [storage] sync = 'fsync': expected one of full, normal");
    rc = load_text(fx, "[storage]\nbackend = mysql\n");
    expect_error(fx, rc, "t.conf:2: [storage] backend = 'mysql': expected one of sqlite, postgres");
    rc = load_text(fx, "[log]\nlevel = verbose\n");
    expect_error(fx, rc,
                 "t.conf:2: [log] level = 'verbose': expected one of error, warn, info, debug");
    rc = load_text(fx, "[storage]\nsync = FULL\n"); /* enum names are case-sensitive */
    expect_error(fx, rc, "sync = 'FULL': expected one of full, normal");
}

static void test_cfg_error_bad_address(void **state)
{
    static const char *const bad[] = {
        "example.com:1883", /* no DNS */
        "127.0.0.1",        /* no port */
        "127.0.0.1:",       /* empty port */
        "127.0.0.1:65536",  /* port too big */
        "127.0.0.1:123456", /* too many digits */
        "127.0.0.1:-1",     /* sign */
        "127.0.0.1:0x50",   /* hex */
        ":1883",            /* no host */
        "::1:1883",         /* IPv6 without brackets */
        "[::1]1883",        /* no colon after ']' */
        "[::1",             /* no ']' */
        "[]:1883",          /* empty brackets */
        "[127.0.0.1]:1883", /* IPv4 in brackets */
        "[fe80::1%eth0]:1", /* zone ids are not numeric */
        "256.1.1.1:80",     /* bad octet */
        "1.2.3:80",         /* short IPv4 */
        " 127.0.0.1:80x",   /* junk */
    };
    struct fx *fx = *state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128], want[128];
        snprintf(text, sizeof(text), "[mqtt]\ntls_listen = %s\n", bad[i]);
        int rc = load_text(fx, text);
        snprintf(want, sizeof(want),
                 "t.conf:2: [mqtt] tls_listen = '%s': ", bad[i][0] == ' ' ? bad[i] + 1 : bad[i]);
        expect_error(fx, rc, want);
        expect_has(fx->err, "expected HOST:PORT with a numeric IPv4 address, a [bracketed] IPv6 "
                            "address or localhost, and a port from 0 to 65535");
    }
}

static void test_cfg_address_forms(void **state)
{
    struct fx *fx = *state;
    /* localhost maps to 127.0.0.1 and counts as loopback. */
    assert_int_equal(load_text(fx, "[mqtt]\nlisten = localhost:1883\n[http]\nlisten = "
                                   "LocalHost:8080\n"),
                     0);
    assert_string_equal(fx->cfg->mqtt.listen.host, "127.0.0.1");
    assert_true(fx->cfg->mqtt.listen.is_loopback);
    assert_string_equal(fx->cfg->http.listen.host, "127.0.0.1");
    /* IPv6 literals: ::1 is loopback, :: is a wildcard. */
    assert_int_equal(load_text(fx, "[mqtt]\nlisten = [::1]:1883\ntls_listen = [::]:8883\n"), 0);
    assert_string_equal(fx->cfg->mqtt.listen.host, "::1");
    assert_int_equal(fx->cfg->mqtt.listen.port, 1883);
    assert_true(fx->cfg->mqtt.listen.is_loopback);
    assert_string_equal(fx->cfg->mqtt.tls_listen.host, "::");
    assert_false(fx->cfg->mqtt.tls_listen.is_loopback);
    assert_int_equal(load_text(fx, "[hl7]\nlisten = [::ffff:127.0.0.1]:2575\n"), 0);
    assert_true(fx->cfg->hl7.listen.is_loopback);
    assert_int_equal(load_text(fx, "[hl7]\nlisten = 127.255.0.9:2575\n"), 0);
    assert_true(fx->cfg->hl7.listen.is_loopback);
    /* Port 0 asks the OS for a port; two such listeners do not conflict. */
    assert_int_equal(load_text(fx, "[mqtt]\nlisten = 127.0.0.1:0\n[http]\nlisten = "
                                   "127.0.0.1:0\n"),
                     0);
    assert_true(fx->cfg->mqtt.listen.is_set);
    assert_int_equal(fx->cfg->mqtt.listen.port, 0);
    assert_int_equal(fx->cfg->http.listen.port, 0);
    assert_int_equal(load_text(fx, "[mqtt]\ntls_listen = 0.0.0.0:65535\n"), 0);
    assert_int_equal(fx->cfg->mqtt.tls_listen.port, 65535);
    assert_int_equal(load_text(fx, "[mqtt]\nlisten = [::1]:0\n"), 0);
    char *out = print_cfg(fx->cfg);
    expect_has(out, "listen = [::1]:0 ");
    free(out);
}

static void test_cfg_error_port_conflict(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[http]\nlisten = 127.0.0.1:1883\n");
    expect_error(fx, rc,
                 "t.conf:2: [http] listen = '127.0.0.1:1883': port also used by [mqtt] listen = "
                 "'127.0.0.1:1883'; expected a different port");
    rc = load_text(fx, "[http]\ntls_listen = 127.0.0.1:8883\n"); /* wildcard 0.0.0.0:8883 */
    expect_error(fx, rc, "port also used by [mqtt] tls_listen = '0.0.0.0:8883'");
    /* Different addresses on the same port are fine. */
    assert_int_equal(load_text(fx, "[http]\nlisten = 127.0.0.2:1883\n"), 0);
}

static void test_cfg_error_loopback_rule(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[mqtt]\nlisten = 0.0.0.0:1883\n");
    expect_error(fx, rc,
                 "t.conf:2: [mqtt] listen = '0.0.0.0:1883': plain (non-TLS) listeners must be on "
                 "loopback; use tls_listen, or set insecure = true (flagged by the compliance "
                 "report)");
    /* insecure in the file, before or after listen: accepted. */
    assert_int_equal(load_text(fx, "[mqtt]\ninsecure = true\nlisten = 0.0.0.0:1883\n"), 0);
    assert_int_equal(load_text(fx, "[mqtt]\nlisten = 0.0.0.0:1883\ninsecure = true\n"), 0);
    assert_true(fx->cfg->mqtt.insecure);
    /* The final merged insecure counts: the environment turns it on... */
    char *env_on[] = {"MEDHUB_HTTP_INSECURE=on", NULL};
    assert_int_equal(load_full(fx, "[http]\nlisten = 192.0.2.1:8080\n", env_on, NULL, 0), 0);
    /* ...and --set turns it off again; the error names the listen value's source. */
    const char *off[] = {"http.insecure=false"};
    rc = load_full(fx, "[http]\nlisten = 192.0.2.1:8080\n", env_on, off, 1);
    expect_error(fx, rc, "t.conf:2: [http] listen = '192.0.2.1:8080': plain (non-TLS) listeners");
    char *env_listen[] = {"MEDHUB_MQTT_LISTEN=10.1.2.3:1883", NULL};
    rc = load_full(fx, "", env_listen, NULL, 0);
    expect_error(fx, rc,
                 "environment MEDHUB_MQTT_LISTEN: [mqtt] listen = '10.1.2.3:1883': plain "
                 "(non-TLS) listeners must be on loopback");
    const char *set_listen[] = {"hl7.listen=[2001:db8::1]:2575"};
    rc = load_full(fx, "", NULL, set_listen, 1);
    expect_error(fx, rc,
                 "--set hl7.listen: [hl7] listen = '[2001:db8::1]:2575': plain (non-TLS) "
                 "listeners must be on loopback; set insecure = true (flagged by the compliance "
                 "report)");
    /* TLS listeners may be anywhere; a disabled plain listener is fine. */
    assert_int_equal(load_text(fx, "[mqtt]\ntls_listen = 192.0.2.1:8883\nlisten =\n"), 0);
}

static void test_cfg_error_postgres_refused(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[storage]\nbackend = postgres\n");
    expect_error(fx, rc,
                 "t.conf:2: [storage] backend = 'postgres': postgres backend is not available in "
                 "this build; use sqlite");
    /* Refused on the merged result: a higher source can put sqlite back. */
    char *env[] = {"MEDHUB_STORAGE_BACKEND=sqlite", NULL};
    assert_int_equal(load_full(fx, "[storage]\nbackend = postgres\n", env, NULL, 0), 0);
    const char *sets[] = {"storage.backend=postgres"};
    rc = load_full(fx, "", NULL, sets, 1);
    expect_error(fx, rc, "--set storage.backend: [storage] backend = 'postgres': postgres backend");
}

static void test_cfg_error_syntax(void **state)
{
    struct fx *fx = *state;
    int rc = load_text(fx, "[storage\nsync = full\n");
    expect_error(fx, rc, "t.conf:1: '[storage': expected ']' to close the section name");
    rc = load_text(fx, "[storage]\n\njust some words\n");
    expect_error(fx, rc,
                 "t.conf:3: [storage] 'just some words': expected 'key = value', a [section] "
                 "header or a comment");
    rc = load_text(fx, "[stor ;age]\n"); /* ']' inside an inline comment does not count */
    expect_error(fx, rc, "t.conf:1: '[stor ;age]': expected ']' to close the section name");
    rc = load_text(fx, "[storage]\nsync = full\n[tls]\ncert = a\x01\n");
    assert_int_equal(rc, 0); /* control bytes are allowed in values... */
    rc = load_text(fx, "[storage]\nsync = fu\x01ll\n");
    expect_error(fx, rc, "sync = 'fu?ll'"); /* ...but are never echoed raw */
    static const char nul[] = "[storage]\nsync = full\0junk\n";
    struct cfg_sources src = {.data_dir = "/data"};
    rc = cfg_load_string(fx->cfg, nul, sizeof(nul) - 1, "t.conf", &src, fx->err, sizeof(fx->err));
    expect_error(fx, rc, "t.conf:2: [storage] 'sync = full?junk': line contains a NUL byte");
}

static void test_cfg_error_long_line(void **state)
{
    struct fx *fx = *state;
    char text[512];
    char path[300];
    memset(path, 'p', 250);
    path[0] = '/';
    path[250] = '\0';
    snprintf(text, sizeof(text), "[storage]\npath = %s\n", path);
    int rc = load_text(fx, text);
    expect_error(fx, rc, "t.conf:2: [storage] 'path = /ppp");
    expect_has(fx->err, "line is 257 bytes long; expected at most 199 (set longer values through "
                        "the environment or --set)");
    /* The same value through the environment is fine. */
    char env_entry[320];
    snprintf(env_entry, sizeof(env_entry), "MEDHUB_STORAGE_PATH=%s", path);
    char *env[] = {env_entry, NULL};
    assert_int_equal(load_full(fx, "", env, NULL, 0), 0);
    assert_string_equal(fx->cfg->storage.path, path);
}

static void test_cfg_error_value_too_long(void **state)
{
    struct fx *fx = *state;
    size_t n = CFG_PATH_MAX + 100;
    char *entry = hx_xmalloc(n + 32);
    int k = snprintf(entry, n + 32, "MEDHUB_TLS_CERT=");
    memset(entry + k, 'x', n);
    entry[k + n] = '\0';
    char *env[] = {entry, NULL};
    int rc = load_full(fx, "", env, NULL, 0);
    expect_error(fx, rc, "environment MEDHUB_TLS_CERT: [tls] cert = 'xxxx");
    expect_has(fx->err, "...': too long (4196 bytes); expected at most 4095 bytes");
    /* Exactly at the limit is fine. */
    entry[k + CFG_PATH_MAX - 1] = '\0';
    assert_int_equal(load_full(fx, "", env, NULL, 0), 0);
    assert_int_equal(strlen(fx->cfg->tls.cert), CFG_PATH_MAX - 1);
    /* Secrets are masked even in error messages. */
    k = snprintf(entry, n + 32, "MEDHUB_STORAGE_POSTGRES_URL=postgres://user:hunter2@");
    memset(entry + k, 'h', 1100);
    entry[k + 1100] = '\0';
    rc = load_full(fx, "", env, NULL, 0);
    expect_error(fx, rc, "[storage] postgres_url = '********': too long");
    expect_lacks(fx->err, "hunter2");
    free(entry);
    /* An empty path is refused. */
    rc = load_text(fx, "[tls]\nkey =\n");
    expect_error(fx, rc, "t.conf:2: [tls] key = '': expected a file path");
}

/* ---- Error paths: environment and --set ------------------------------------------------- */

static void test_cfg_error_env(void **state)
{
    struct fx *fx = *state;
    char *unknown[] = {"MEDHUB_FOO_BAR=1", NULL};
    int rc = load_full(fx, "", unknown, NULL, 0);
    expect_error(fx, rc,
                 "environment MEDHUB_FOO_BAR: unknown key; expected MEDHUB_<SECTION>_<KEY>, "
                 "e.g. MEDHUB_STORAGE_SYNC");
    char *typo[] = {"MEDHUB_STORAGE_SNYC=normal", NULL};
    rc = load_full(fx, "", typo, NULL, 0);
    expect_error(fx, rc,
                 "environment MEDHUB_STORAGE_SNYC: unknown key; did you mean MEDHUB_STORAGE_SYNC?");
    char *bad[] = {"MEDHUB_STORAGE_SYNC=fsync", NULL};
    rc = load_full(fx, "", bad, NULL, 0);
    expect_error(fx, rc,
                 "environment MEDHUB_STORAGE_SYNC: [storage] sync = 'fsync': expected one of "
                 "full, normal");
    char *bare[] = {"MEDHUB_=1", NULL};
    rc = load_full(fx, "", bare, NULL, 0);
    expect_error(fx, rc, "environment MEDHUB_: unknown key");
    char *addr[] = {"MEDHUB_HTTP_TLS_LISTEN=nowhere", NULL};
    rc = load_full(fx, "", addr, NULL, 0);
    expect_error(fx, rc,
                 "environment MEDHUB_HTTP_TLS_LISTEN: [http] tls_listen = 'nowhere': "
                 "missing ':PORT'; expected HOST:PORT");
}

static void test_cfg_error_set(void **state)
{
    struct fx *fx = *state;
    const char *no_eq[] = {"storage.sync"};
    int rc = load_full(fx, "", NULL, no_eq, 1);
    expect_error(fx, rc,
                 "--set 'storage.sync': expected section.key=value, e.g. "
                 "storage.sync=normal");
    const char *no_dot[] = {"sync=normal"};
    rc = load_full(fx, "", NULL, no_dot, 1);
    expect_error(fx, rc, "--set 'sync=normal': expected section.key=value");
    const char *sec[] = {"storag.sync=normal"};
    rc = load_full(fx, "", NULL, sec, 1);
    expect_error(fx, rc,
                 "--set storag.sync: [storag] sync: unknown section; did you mean "
                 "[storage]?");
    const char *key[] = {"storage.snyc=normal"};
    rc = load_full(fx, "", NULL, key, 1);
    expect_error(fx, rc,
                 "--set storage.snyc: [storage] snyc = 'normal': unknown key; did you "
                 "mean 'sync'?");
    const char *val[] = {"log.level=loud"};
    rc = load_full(fx, "", NULL, val, 1);
    expect_error(fx, rc,
                 "--set log.level: [log] level = 'loud': expected one of error, warn, "
                 "info, debug");
    const char *uint[] = {"storage.batch_max=0"};
    rc = load_full(fx, "", NULL, uint, 1);
    expect_error(fx, rc, "--set storage.batch_max: [storage] batch_max = '0': out of range");
    /* NULL entries are skipped; an error buffer is optional. */
    const char *with_null[] = {NULL, "storage.sync=normal"};
    struct cfg_sources src = {.data_dir = "/d", .overrides = with_null, .n_overrides = 2};
    assert_int_equal(cfg_load_string(fx->cfg, "", 0, NULL, &src, NULL, 0), 0);
    assert_int_equal(fx->cfg->storage.sync, CFG_SYNC_NORMAL);
    assert_int_equal(cfg_load_string(fx->cfg, "[x]", 3, NULL, &src, NULL, 0), HX_ECONFIG);
}

static void test_cfg_first_error_wins(void **state)
{
    struct fx *fx = *state;
    char *env[] = {"MEDHUB_FOO=1", NULL};
    const char *sets[] = {"bad"};
    int rc = load_full(fx, "[storage]\nsync = bad\nbatch_max = bad\n", env, sets, 1);
    expect_error(fx, rc, "t.conf:2: [storage] sync = 'bad'");
}

/* ---- Origins, printing, reference, template --------------------------------------------- */

static void test_cfg_origin_long_file_name(void **state)
{
    struct fx *fx = *state;
    char name[300];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    memcpy(name + sizeof(name) - 7, "/t.cnf", 7);
    static const char text[] = "[log]\nlevel = warn\n";
    struct cfg_sources src = {.data_dir = "/d"};
    assert_int_equal(
        cfg_load_string(fx->cfg, text, sizeof(text) - 1, name, &src, fx->err, sizeof(fx->err)), 0);
    const char *o = ORIGIN(fx, "log", "level");
    assert_true(strlen(o) < sizeof(fx->cfg->origin[0]));
    assert_int_equal(strncmp(o, "...", 3), 0);
    expect_has(o, "nnn/t.cnf:2");
    /* The error message keeps the full name. */
    int rc =
        cfg_load_string(fx->cfg, "[log]\nlevel = x\n", 16, name, &src, fx->err, sizeof(fx->err));
    expect_error(fx, rc, name);
}

static void test_cfg_print_masks_secrets(void **state)
{
    struct fx *fx = *state;
    char *env[] = {"MEDHUB_STORAGE_POSTGRES_URL=postgres://u:hunter2@db/medhub",
                   "MEDHUB_STORAGE_SYNC=normal", NULL};
    const char *sets[] = {"log.level=debug"};
    assert_int_equal(load_full(fx, "[mqtt]\n\nlisten = 127.0.0.1:1999\n", env, sets, 1), 0);
    char *out = print_cfg(fx->cfg);
    expect_lacks(out, "hunter2");
    expect_has(out, "postgres_url = ********");
    expect_has(out, "; from env MEDHUB_STORAGE_POSTGRES_URL\n");
    expect_has(out, "[mqtt]\nlisten = 127.0.0.1:1999");
    expect_has(out, "; from t.conf:3\n");
    expect_has(out, "sync = normal");
    expect_has(out, "; from env MEDHUB_STORAGE_SYNC\n");
    expect_has(out, "level = debug");
    expect_has(out, "; from --set\n");
    expect_has(out, "batch_max = 65536");
    expect_has(out, "path = /data/medhub.db");
    free(out);
    /* An empty secret stays empty. */
    assert_int_equal(load_text(fx, ""), 0);
    out = print_cfg(fx->cfg);
    expect_has(out, "postgres_url = ");
    expect_lacks(out, "********");
    /* Every value line has an origin comment after at least three spaces. */
    int lines = 0;
    for (char *p = strstr(out, " = "); p; p = strstr(p + 1, " = ")) {
        char *eol = strchr(p, '\n');
        assert_non_null(eol);
        char *from = strstr(p, "   ; from default");
        assert_true(from && from < eol);
        lines++;
    }
    assert_int_equal(lines, N_TEST_KEYS);
    free(out);
}

static void test_cfg_print_reparses(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(load_text(fx, "[mqtt]\nlisten = [::1]:1\n[http]\ntls_listen =\n[storage]\n"
                                   "sync = normal\n[log]\nlevel = error\n"),
                     0);
    struct cfg *first = hx_xmalloc(sizeof(*first));
    memcpy(first, fx->cfg, sizeof(*first));
    char *out = print_cfg(first);
    assert_int_equal(load_text(fx, out), 0);
    assert_memory_equal(first, fx->cfg, offsetof(struct cfg, origin));
    free(out);
    free(first);
}

static void test_cfg_reference(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    cfg_print_reference(f);
    assert_int_equal(fclose(f), 0);
    expect_has(buf, "| Key | Type | Default | Description | Environment variable |\n");
    expect_has(buf, "| `storage.sync` | one of full, normal | `full` |");
    expect_has(buf, "| `MEDHUB_STORAGE_SYNC` |\n");
    expect_has(buf, "| `storage.batch_max` | integer 1..1000000 | `65536` |");
    expect_has(buf, "| `storage.path` | path | `<data-dir>/medhub.db` |");
    expect_has(buf, "| `storage.postgres_url` | string | (empty) |");
    expect_has(buf, "Secret");
    expect_has(buf, "| `mqtt.listen` | address | `127.0.0.1:1883` |");
    expect_has(buf, "| `log.level` | one of error, warn, info, debug | `info` |");
    expect_has(buf, "| `webhook.ca_file` | path or empty | (empty) |");
    expect_has(buf, "| `webhook.timeout_ms` | integer 100..120000 | `5000` |");
    expect_has(buf, "| `auth.mfa_roles` | comma-separated, any of admin, clinician, nurse, "
                    "facilities, security, auditor, patient, integration | "
                    "`admin,clinician,nurse,facilities,security,auditor` |");
    expect_has(buf, "| `auth.session_idle_s` | integer 60..86400 | `900` |");
    int rows = 0;
    for (char *p = buf; (p = strstr(p, "\n| `")); p++)
        rows++;
    assert_int_equal(rows, N_TEST_KEYS);
    free(buf);
}

static void test_cfg_template_parses_to_defaults(void **state)
{
    struct fx *fx = *state;
    struct cfg *defaults = hx_xmalloc(sizeof(*defaults));
    struct cfg_sources src = {.data_dir = "/data"};
    assert_int_equal(cfg_load_string(defaults, "", 0, NULL, &src, fx->err, sizeof(fx->err)), 0);

    /* As written: everything is a comment, so the result is the defaults. */
    char *tpl = template_for(NULL);
    assert_int_equal(load_text(fx, tpl), 0);
    assert_memory_equal(defaults, fx->cfg, offsetof(struct cfg, origin));
    for (int i = 0; i < N_TEST_KEYS; i++)
        assert_string_equal(fx->cfg->origin[i], "default");
    expect_has(tpl, ";path = <data-dir>/medhub.db\n");
    expect_has(tpl, ";listen = 127.0.0.1:1883\n");
    expect_has(tpl, "MEDHUB_STORAGE_SYNC");
    free(tpl);

    /* For a data dir: uncommenting every key line still gives the defaults. */
    tpl = template_for("/data");
    int keys = 0;
    for (char *p = tpl; *p; p++) {
        if ((p == tpl || p[-1] == '\n') && p[0] == ';' && p[1] != ' ' && p[1] != '\n') {
            p[0] = ' ';
            keys++;
        }
    }
    assert_int_equal(keys, N_TEST_KEYS);
    assert_int_equal(load_text(fx, tpl), 0);
    assert_memory_equal(defaults, fx->cfg, offsetof(struct cfg, origin));
    expect_has(ORIGIN(fx, "storage", "path"), "t.conf:");
    free(tpl);
    free(defaults);
}

static void test_cfg_template_lines_fit(void **state)
{
    (void)state;
    /* Every template line fits in a config line, so `medhub init` output always parses. */
    char *tpl = template_for(NULL);
    for (char *line = tpl; *line;) {
        char *eol = strchr(line, '\n');
        assert_non_null(eol);
        assert_true(eol - line <= 100);
        line = eol + 1;
    }
    free(tpl);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_cfg_defaults),
        T(test_cfg_data_dir_sources),
        T(test_cfg_data_dir_errors),
        T(test_cfg_file_values),
        T(test_cfg_file_syntax_details),
        T(test_cfg_default_file_and_required),
        T(test_cfg_unreadable_file),
        T(test_cfg_file_errors_in_real_file),
        T(test_cfg_file_too_big),
        T(test_cfg_env_over_file),
        T(test_cfg_set_over_env),
        T(test_cfg_error_unknown_section),
        T(test_cfg_error_unknown_key),
        T(test_cfg_error_bad_bool),
        T(test_cfg_error_bad_integer),
        T(test_cfg_error_bad_enum),
        T(test_cfg_webhook_keys),
        T(test_cfg_error_bad_address),
        T(test_cfg_address_forms),
        T(test_cfg_error_port_conflict),
        T(test_cfg_error_loopback_rule),
        T(test_cfg_error_postgres_refused),
        T(test_cfg_error_syntax),
        T(test_cfg_error_long_line),
        T(test_cfg_error_value_too_long),
        T(test_cfg_error_env),
        T(test_cfg_error_set),
        T(test_cfg_first_error_wins),
        T(test_cfg_origin_long_file_name),
        T(test_cfg_print_masks_secrets),
        T(test_cfg_print_reparses),
        T(test_cfg_reference),
        T(test_cfg_template_parses_to_defaults),
        T(test_cfg_template_lines_fit),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
