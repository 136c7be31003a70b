/*
 * medhub init: creates (or completes) a data directory: the directory itself (0700), the
 * server key used to hash device secrets, the device CA and server certificate (tls/), a
 * commented configuration template, the database at the current schema and, when there is
 * no administrator yet, the first one (one-time password and TOTP secret printed once).
 * Never overwrites anything that exists.
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "cli/cmd_user_int.h"
#include "core/datadir.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "security/ca.h"
#include "security/secret.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char init_help[] =
    "Usage: medhub init [--data-dir DIR] [--admin NAME] [--json]\n"
    "\n"
    "Creates a data directory for medhub, or completes one, without overwriting anything:\n"
    "  DIR/              mode 0700\n"
    "  DIR/server.key    random key that hashes device secrets (mode 0600)\n"
    "  DIR/tls/          device CA and server certificate for TLS (keys mode 0600)\n"
    "  DIR/medhub.conf   configuration template, every key commented out\n"
    "  DIR/medhub.db     the database, at the current schema\n"
    "and, when the database has no admin user, the first one (named admin unless --admin\n"
    "NAME): its one-time password and TOTP secret (with the otpauth:// URI) are printed\n"
    "ONCE. Log in with them and change the password (docs/security.md).\n"
    "\n"
    "Options:\n"
    "  --data-dir DIR   data directory (default: $MEDHUB_DATA_DIR, else ./medhub-data)\n"
    "  --admin NAME     name of the first administrator (default admin)\n"
    "  --set KEY=VALUE  override a configuration key (e.g. storage.path=/srv/medhub.db)\n"
    "  --json           print the result as JSON; \"admin\" is {\"name\", \"password\",\n"
    "                   \"totp_secret\", \"otpauth_uri\"} when one was created, else null\n";

/* Creates the first admin when the database has no admin user (disabled ones count: an
 * administrator disabled on purpose is not replaced behind anyone's back).
 * OUT: *created, c (release it). Returns an exit status. */
static int ensure_admin(struct cli_ctx *ctx, const char *name, bool *created,
                        struct cli_new_creds *c)
{
    *created = false;
    memset(c, 0, sizeof(*c));
    char err[512] = "";
    int rc = store_open(&ctx->st, &ctx->cfg.storage, 0, err, sizeof(err));
    if (rc < 0)
        return cli_fail("%s", *err ? err : hx_strerror(rc));
    int64_t n = 0;
    if ((rc = store_user_count_role(ctx->st, "admin", true, &n)) < 0) {
        cli_close(ctx);
        return cli_store_fail("looking for an administrator", rc);
    }
    if (n > 0) {
        cli_close(ctx);
        return CLI_EXIT_OK;
    }
    uint8_t key[SEC_KEY_LEN];
    if ((rc = cli_server_key(ctx, key))) {
        cli_close(ctx);
        return rc;
    }
    struct store_user u = {0};
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.role, sizeof(u.role), "admin");
    snprintf(u.display_name, sizeof(u.display_name), "first administrator");
    rc = cli_user_prepare(ctx, key, &u, NULL, true, c);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc == 0 && (rc = store_user_add(ctx->st, &u)) < 0) {
        cli_creds_release(c);
        rc = rc == HX_EEXIST ? cli_fail("a user named '%s' exists but is not an admin; choose "
                                        "another name with --admin",
                                        name)
                             : cli_store_fail("adding the first administrator", rc);
    }
    OPENSSL_cleanse(&u, sizeof(u));
    cli_close(ctx);
    *created = rc == 0;
    return rc;
}

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
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS, {"admin", required_argument, NULL, 'a'}, {0}};
    struct cli_opts o = {0};
    const char *admin = "admin";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(init_help, stdout);
            return CLI_EXIT_OK;
        }
        if (c == 'a') {
            admin = optarg;
            continue;
        }
        if (!cli_common_option(&o, c, optarg))
            return cli_usage_error("init", "unknown option");
    }
    if (optind < argc)
        return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
    if (!cli_user_name_is_valid(admin))
        return cli_usage_error(
            "init", "--admin '%s': expected 1-63 characters of A-Z a-z 0-9 . _ - @", admin);

    struct cli_ctx ctx;
    int rc = cli_load_config(&ctx, &o);
    if (rc)
        return rc;
    struct init_result res;
    char err[512] = "";
    if (cli_init_data_dir(&ctx.cfg, &res, err, sizeof(err)) < 0)
        return cli_fail("%s", err);
    bool admin_new = false;
    struct cli_new_creds creds;
    if ((rc = ensure_admin(&ctx, admin, &admin_new, &creds)))
        return rc;
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
        json_t *ja = json_null();
        if (admin_new) {
            ja = json_pack("{s:s}", "name", admin);
            cli_creds_json(ja, &creds);
        }
        json_object_set_new(j, "admin", ja);
        cli_print_json(j);
        cli_creds_release(&creds);
        return CLI_EXIT_OK;
    }
    printf("%s %s\n",
           db_new || key_new || res.ca_created || admin_new
               ? "initialised"
               : "already initialised, nothing changed:",
           abs);
    printf("  database    %s (schema %d%s)\n", ctx.cfg.storage.path, version,
           db_new ? ", new" : "");
    printf("  server key  %s/server.key%s\n", abs, key_new ? " (new)" : "");
    printf("  tls         %s/tls/ (device CA, server certificate)%s\n", abs,
           res.ca_created ? " (new)" : "");
    printf("  config      %s%s\n", conf, conf_new ? " (template: every key commented out)" : "");
    if (admin_new) {
        printf("\nFirst administrator: %s\n", admin);
        cli_creds_print(&creds);
        cli_creds_release(&creds);
    }
    if (db_new)
        printf("\nNext: medhub patient add --data-dir %s --mrn MRN --name NAME\n"
               "      medhub serve --data-dir %s\n",
               dir, dir);
    return CLI_EXIT_OK;
}
