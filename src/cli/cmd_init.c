/*
 * medhub init: creates (or completes) a data directory: the directory itself (0700), the
 * server key used to hash device secrets, the device CA and server certificate (tls/), a
 * commented configuration template and the database at the current schema. Never
 * overwrites anything that exists.
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/datadir.h"
#include "core/err.h"
#include "security/ca.h"
#include "security/secret.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char init_help[] =
    "Usage: medhub init [--data-dir DIR] [--json]\n"
    "\n"
    "Creates a data directory for medhub, or completes one, without overwriting anything:\n"
    "  DIR/              mode 0700\n"
    "  DIR/server.key    random key that hashes device secrets (mode 0600)\n"
    "  DIR/tls/          device CA and server certificate for TLS (keys mode 0600)\n"
    "  DIR/medhub.conf   configuration template, every key commented out\n"
    "  DIR/medhub.db     the database, at the current schema\n"
    "\n"
    "Options:\n"
    "  --data-dir DIR   data directory (default: $MEDHUB_DATA_DIR, else ./medhub-data)\n"
    "  --set KEY=VALUE  override a configuration key (e.g. storage.path=/srv/medhub.db)\n"
    "  --json           print the result as JSON\n";

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int cli_init_data_dir(const struct cfg *cfg, struct init_result *res, char *err, size_t err_len)
{
    const char *dir = cfg->data_dir;
    memset(res, 0, sizeof(*res));
    int rc = datadir_create(dir, err, err_len);
    if (rc < 0)
        return rc;

    char path[CFG_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/server.key", dir);
    res->key_created = !file_exists(path);
    uint8_t key[SEC_KEY_LEN];
    rc = sec_server_key_load(dir, true, key, err, err_len);
    memset(key, 0, sizeof(key));
    if (rc < 0)
        return rc;

    struct sec_ca_result ca;
    rc = sec_ca_ensure_ex(dir, NULL, 0, &ca, err, err_len);
    if (rc < 0)
        return rc;
    res->ca_created = ca.ca_created || ca.server_created;

    snprintf(path, sizeof(path), "%s/medhub.conf", dir);
    if (!file_exists(path)) {
        FILE *f = fopen(path, "wx");
        if (!f) {
            rc = -errno;
            snprintf(err, err_len, "cannot create %s: %s", path, hx_strerror(rc));
            return rc;
        }
        cfg_write_template_for(f, dir);
        if (fclose(f) != 0) {
            rc = -errno;
            snprintf(err, err_len, "cannot write %s: %s", path, hx_strerror(rc));
            return rc;
        }
        res->config_created = true;
    }

    res->db_created = !file_exists(cfg->storage.path);
    struct store *st;
    rc = store_open(&st, &cfg->storage, STORE_OPEN_CREATE, err, err_len);
    if (rc < 0) {
        if (!*err)
            snprintf(err, err_len, "%s", hx_strerror(rc));
        return rc;
    }
    rc = store_schema_version(st, &res->schema_version);
    store_close(st);
    return rc;
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0}};
    struct cli_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(init_help, stdout);
            return CLI_EXIT_OK;
        }
        if (!cli_common_option(&o, c, optarg))
            return cli_usage_error("init", "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);

    struct cli_ctx ctx;
    int rc = cli_load_config(&ctx, &o);
    if (rc)
        return rc;
    struct init_result res;
    char err[512] = "";
    if (cli_init_data_dir(&ctx.cfg, &res, err, sizeof(err)) < 0)
        return cli_fail("%s", err);
    const char *dir = ctx.cfg.data_dir;
    bool db_new = res.db_created, key_new = res.key_created, conf_new = res.config_created;
    int version = res.schema_version;
    char conf[CFG_PATH_MAX + 32];
    snprintf(conf, sizeof(conf), "%s/medhub.conf", dir);

    char abs[PATH_MAX];
    if (!realpath(dir, abs))
        snprintf(abs, sizeof(abs), "%s", dir);
    if (o.json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:b, s:b, s:b, s:b}", "data_dir", abs, "database",
                              ctx.cfg.storage.path, "schema_version", version, "database_created",
                              db_new, "server_key_created", key_new, "config_created", conf_new,
                              "tls_created", res.ca_created);
        cli_print_json(j);
        return CLI_EXIT_OK;
    }
    printf("%s %s\n",
           db_new || key_new || res.ca_created ? "initialised"
                                               : "already initialised, nothing changed:",
           abs);
    printf("  database    %s (schema %d%s)\n", ctx.cfg.storage.path, version,
           db_new ? ", new" : "");
    printf("  server key  %s/server.key%s\n", abs, key_new ? " (new)" : "");
    printf("  tls         %s/tls/ (device CA, server certificate)%s\n", abs,
           res.ca_created ? " (new)" : "");
    printf("  config      %s%s\n", conf, conf_new ? " (template: every key commented out)" : "");
    if (db_new)
        printf("\nNext: medhub patient add --data-dir %s --mrn MRN --name NAME\n"
               "      medhub serve --data-dir %s\n",
               dir, dir);
    return CLI_EXIT_OK;
}
