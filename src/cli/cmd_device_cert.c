/*
 * medhub device cert ID: issues a TLS client certificate (CN = device id) for an enrolled
 * device from the device CA in <data-dir>/tls/ (created on first use), and writes ID.crt,
 * ID.key (0600) and ca.crt into an output directory without overwriting anything; recorded
 * in the audit trail as device.cert. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "security/ca.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char cert_help[] =
    "Usage: medhub device cert ID [--out DIR] [--data-dir DIR] [--json]\n"
    "\n"
    "Issues a TLS client certificate for an enrolled device, signed by the device CA in\n"
    "DATA-DIR/tls/device-ca.crt (created, with the server certificate, if missing), and\n"
    "writes into DIR (default: the current directory):\n"
    "  ID.crt   the device certificate: CN = ID, clientAuth, valid for 1 year\n"
    "  ID.key   its private key (mode 0600): install it on the device, then delete this copy\n"
    "  ca.crt   the device CA certificate, so that the device can verify the server\n"
    "Existing files are never overwritten (an identical ca.crt is kept).\n"
    "The device then connects to the TLS listener presenting this certificate, with ID as\n"
    "its MQTT username.\n"
    "\n"
    "Options:\n"
    "  --out DIR        where to write the files (must exist)\n"
    "  --data-dir DIR   data directory (default: $MEDHUB_DATA_DIR, else ./medhub-data)\n"
    "  --json           print {\"id\", \"cert\", \"key\", \"ca\"}\n";

int device_cert_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"out", required_argument, NULL, 'o'},
        {0},
    };
    struct cli_opts o = {0};
    const char *out = ".";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(cert_help, stdout);
            return CLI_EXIT_OK;
        }
        if (c == 'o') {
            out = optarg;
            continue;
        }
        if (!cli_common_option(&o, c, optarg))
            return cli_usage_error("device cert", "unknown option");
    }
    if (optind != argc - 1)
        return cli_usage_error("device cert", "expected exactly one device ID");
    const char *id = argv[optind];
    if (dev_uid_validate(id) < 0)
        return cli_usage_error("device cert",
                               "device ID '%s': expected 1-63 characters of A-Z a-z 0-9 . _ -", id);

    char out_abs[PATH_MAX];
    struct stat sb;
    if (stat(out, &sb) < 0 || !S_ISDIR(sb.st_mode) || !realpath(out, out_abs))
        return cli_fail("output directory '%s' does not exist", out);

    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &o, 0)))
        return rc;
    struct device d;
    rc = store_device_get(ctx.st, id, &d);
    if (rc < 0) {
        cli_close(&ctx);
        return rc == HX_ENOTFOUND
                   ? cli_fail("no device with ID '%s' (see 'medhub device list')", id)
                   : cli_store_fail("reading the device", rc);
    }

    char err[1024] = "";
    char crt[PATH_MAX + 80], key[PATH_MAX + 80], ca[PATH_MAX + 80];
    if (sec_ca_ensure(ctx.cfg.data_dir, NULL, 0, err, sizeof(err)) < 0 ||
        sec_ca_issue_device_ex(ctx.cfg.data_dir, id, out_abs, crt, key, ca, sizeof(crt), err,
                               sizeof(err)) < 0) {
        cli_close(&ctx);
        return cli_fail("%s", err);
    }
    /* A credential was issued: recorded once it exists (no data row changes with it). */
    char *details = cli_details(json_pack("{s:i}", "days", SEC_DEVICE_DAYS));
    struct audit_entry e = {
        .action = "device.cert", .object_type = "device", .object_id = d.uid, .details = details};
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = cli_audit(&ctx, &e);
    rc = cli_end(&ctx, rc);
    free(details);
    cli_close(&ctx);
    if (rc < 0)
        return cli_fail("the certificate was issued but could not be recorded in the audit "
                        "trail: %s",
                        hx_strerror(rc));
    if (o.json) {
        cli_print_json(
            json_pack("{s:s, s:s, s:s, s:s}", "id", id, "cert", crt, "key", key, "ca", ca));
        return CLI_EXIT_OK;
    }
    printf("issued a client certificate for device %s (valid for %d days)\n", id, SEC_DEVICE_DAYS);
    printf("  certificate  %s\n", crt);
    printf("  key          %s (install on the device, then delete this copy)\n", key);
    printf("  CA           %s\n", ca);
    return CLI_EXIT_OK;
}
