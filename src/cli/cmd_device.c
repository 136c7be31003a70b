/*
 * medhub device add|list|show|assign|unassign|disable|enable: device enrolment and
 * assignment on the data directory. `device add` generates a 256-bit secret, prints it once
 * and stores only its keyed hash (HMAC-SHA-256 with the server key). Every change is recorded
 * in the audit trail in its own transaction (device.create, device.assign, device.unassign,
 * device.disable, device.enable). Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "security/secret.h"

#include <getopt.h>
#include <string.h>

/* Parses the options shared by the device subcommands. OUT: *id the positional device id
 * (required when need_id). Returns 0, or an exit code on --help/usage error. */
struct dev_args {
    struct cli_opts o;
    const char *id;
    const char *kind;
    const char *model;
    const char *patient;
    const char *at;
};

static int parse_dev_args(const char *cmd, const char *help, int argc, char **argv,
                          struct dev_args *a, bool need_id, const char *extra)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"kind", required_argument, NULL, 'k'},
        {"model", required_argument, NULL, 'm'},
        {"patient", required_argument, NULL, 'p'},
        {"at", required_argument, NULL, 't'},
        {0},
    };
    int c;
    memset(a, 0, sizeof(*a));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *name = c == 'k' ? "kind" : c == 'm' ? "model" : c == 'p' ? "patient" : "at";
        if (c == CLI_OPT_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (c == 'k' || c == 'm' || c == 'p' || c == 't') {
            if (!strstr(extra, name))
                return cli_usage_error(cmd, "--%s is not an option of this command", name);
            if (c == 'k')
                a->kind = optarg;
            else if (c == 'm')
                a->model = optarg;
            else if (c == 'p')
                a->patient = optarg;
            else
                a->at = optarg;
            continue;
        }
        if (!cli_common_option(&a->o, c, optarg))
            return cli_usage_error(cmd, "unknown option");
    }
    if (need_id) {
        if (optind != argc - 1)
            return cli_usage_error(cmd, "expected exactly one device ID");
        a->id = argv[optind];
    } else if (optind < argc) {
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    return 0;
}

/* Runs parse_dev_args and maps its -1 (help printed) to exit 0. */
#define PARSE_OR_RETURN(...)                                                                       \
    do {                                                                                           \
        int prc_ = parse_dev_args(__VA_ARGS__);                                                    \
        if (prc_ < 0)                                                                              \
            return CLI_EXIT_OK;                                                                    \
        if (prc_ > 0)                                                                              \
            return prc_;                                                                           \
    } while (0)

static int load_device(struct cli_ctx *ctx, const char *uid, struct device *d)
{
    int rc = store_device_get(ctx->st, uid, d);
    if (rc == HX_ENOTFOUND)
        return cli_fail("no device with ID '%s' (see 'medhub device list')", uid);
    if (rc < 0)
        return cli_store_fail("reading the device", rc);
    return 0;
}

static int load_patient(struct cli_ctx *ctx, const char *mrn, struct patient *p)
{
    int rc = store_patient_get_by_mrn(ctx->st, mrn, p);
    if (rc == HX_ENOTFOUND)
        return cli_fail("no patient with MRN '%s' (see 'medhub patient list')", mrn);
    if (rc < 0)
        return cli_store_fail("reading the patient", rc);
    return 0;
}

/* Appends the audit entry of a change to device d inside the open transaction (patient_id 0
 * when none; details taken, may be NULL). */
static int audit_device(struct cli_ctx *ctx, const char *action, const struct device *d,
                        int64_t patient_id, json_t *details)
{
    char *text = cli_details(details);
    struct audit_entry e = {.action = action,
                            .patient_id = patient_id,
                            .object_type = "device",
                            .object_id = d->uid,
                            .details = text};
    int rc = cli_audit(ctx, &e);
    free(text);
    return rc;
}

static int resolve_at(const char *cmd, const char *at, int64_t *out)
{
    *out = hx_time_now_us();
    return at ? cli_parse_time(cmd, "at", at, out) : 0;
}

static const char add_help[] =
    "Usage: medhub device add ID --kind KIND [--model MODEL] [--patient MRN] [--data-dir DIR]\n"
    "                         [--json]\n"
    "\n"
    "Enrols a device and prints its secret ONCE: put it into the device now. medhub keeps\n"
    "only a keyed hash, so a lost secret cannot be shown again (enrol the device anew).\n"
    "The device authenticates with MQTT username = ID and password = the secret.\n"
    "\n"
    "ID     1-63 characters of A-Z a-z 0-9 . _ -\n"
    "KIND   monitor, patch, bp_cuff, scale, oximeter, cgm, glucometer, thermometer,\n"
    "       pill_bottle, knee_sensor, gateway, env_sensor, asset_tag\n"
    "--patient MRN  assign the device to this patient from now on\n";

static int device_add(int argc, char **argv)
{
    struct dev_args a;
    PARSE_OR_RETURN("device add", add_help, argc, argv, &a, true, "kind model patient");
    if (dev_uid_validate(a.id) < 0)
        return cli_usage_error(
            "device add", "device ID '%s': expected 1-63 characters of A-Z a-z 0-9 . _ -", a.id);
    if (!a.kind)
        return cli_usage_error("device add", "--kind is required");
    if (!dev_kind_is_valid(a.kind))
        return cli_usage_error("device add",
                               "--kind '%s': expected one of monitor, patch, bp_cuff, scale, "
                               "oximeter, cgm, glucometer, thermometer, pill_bottle, "
                               "knee_sensor, gateway, env_sensor, asset_tag",
                               a.kind);
    struct device d = {.status = DEV_STATUS_ACTIVE, .battery_pct = -1};
    snprintf(d.uid, sizeof(d.uid), "%s", a.id);
    snprintf(d.kind, sizeof(d.kind), "%s", a.kind);
    if (a.model) {
        if (strlen(a.model) >= sizeof(d.model))
            return cli_usage_error("device add", "--model is too long");
        snprintf(d.model, sizeof(d.model), "%s", a.model);
    }

    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    char err[512];
    uint8_t key[SEC_KEY_LEN];
    if (sec_server_key_load(ctx.cfg.data_dir, false, key, err, sizeof(err)) < 0) {
        cli_close(&ctx);
        return cli_fail("%s", err);
    }
    struct patient p = {0};
    if (a.patient && (rc = load_patient(&ctx, a.patient, &p))) {
        cli_close(&ctx);
        return rc;
    }
    char secret[SEC_SECRET_STR];
    if ((rc = sec_secret_generate(secret)) < 0) {
        cli_close(&ctx);
        return cli_fail("cannot generate a secret: %s", hx_strerror(rc));
    }
    sec_secret_hash(key, secret, strlen(secret), d.secret_hash);
    memset(key, 0, sizeof(key));
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_device_add(ctx.st, &d);
    if (rc == 0 && a.patient)
        rc = store_device_assign(ctx.st, d.id, p.id, hx_time_now_us());
    if (rc == 0)
        rc = audit_device(
            &ctx, "device.create", &d, a.patient ? p.id : 0,
            json_pack("{s:s, s:s*}", "kind", d.kind, "model", *d.model ? d.model : NULL));
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    if (rc == HX_EEXIST)
        return cli_fail("a device with ID '%s' already exists", d.uid);
    if (rc < 0)
        return cli_store_fail("adding the device", rc);
    if (a.o.json) {
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s?, s:s}", "id", d.uid, "secret", secret,
                                 "kind", d.kind, "patient", a.patient, "status", "active"));
    } else {
        printf("added device %s (%s)%s%s\n", d.uid, d.kind, a.patient ? ", assigned to " : "",
               a.patient ? a.patient : "");
        printf("secret: %s\n", secret);
        printf("This secret is shown once. medhub stores only a keyed hash of it.\n");
    }
    memset(secret, 0, sizeof(secret));
    return CLI_EXIT_OK;
}

static json_t *device_json(const struct device *d)
{
    char seen[40] = "", created[40];
    if (d->last_seen_us)
        cli_format_time(d->last_seen_us, seen, sizeof(seen));
    cli_format_time(d->created_us, created, sizeof(created));
    json_t *j = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s?, s:s}", "id", d->uid, "kind", d->kind,
                          "model", *d->model ? d->model : NULL, "firmware",
                          *d->firmware ? d->firmware : NULL, "status", dev_status_name(d->status),
                          "last_seen", *seen ? seen : NULL, "created", created);
    json_object_set_new(j, "battery_pct",
                        d->battery_pct >= 0 ? json_integer(d->battery_pct) : json_null());
    json_object_set_new(j, "rssi_dbm", d->rssi_dbm ? json_integer(d->rssi_dbm) : json_null());
    /* Presence reported by the MQTT gateway: last connect and disconnect. */
    const int64_t when[2] = {d->connected_us, d->disconnected_us};
    const char *const keys[2] = {"connected", "disconnected"};
    for (int i = 0; i < 2; i++) {
        char t[40];
        if (when[i])
            cli_format_time(when[i], t, sizeof(t));
        json_object_set_new(j, keys[i], when[i] ? json_string(t) : json_null());
    }
    return j;
}

struct dev_list_state {
    struct store *st;
    bool json;
    json_t *arr;
    struct table t;
    int64_t now;
};

/* The MRN of the patient a device is assigned to now, or "" (buf >= PAT_MRN_MAX). */
static void current_mrn(struct store *st, int64_t device_id, int64_t now, char *buf, size_t len)
{
    int64_t pid = 0;
    struct patient p;
    buf[0] = '\0';
    if (store_device_patient_at(st, device_id, now, &pid) == 0 && pid &&
        store_patient_get(st, pid, &p) == 0)
        snprintf(buf, len, "%s", p.mrn);
}

static int list_one(void *arg, const struct device *d)
{
    struct dev_list_state *s = arg;
    char mrn[PAT_MRN_MAX];
    current_mrn(s->st, d->id, s->now, mrn, sizeof(mrn));
    if (s->json) {
        json_t *j = device_json(d);
        json_object_set_new(j, "patient", *mrn ? json_string(mrn) : json_null());
        json_array_append_new(s->arr, j);
        return 0;
    }
    char seen[40] = "never", battery[16] = "-";
    if (d->last_seen_us)
        cli_format_time(d->last_seen_us, seen, sizeof(seen));
    if (d->battery_pct >= 0)
        snprintf(battery, sizeof(battery), "%d%%", d->battery_pct);
    const char *cells[] = {d->uid,           d->kind, dev_status_name(d->status),
                           *mrn ? mrn : "-", battery, seen};
    table_add(&s->t, cells);
    return 0;
}

static const char list_help[] = "Usage: medhub device list [--data-dir DIR] [--json]\n\n"
                                "Lists devices with their status and current patient.\n";

static int device_list(int argc, char **argv)
{
    struct dev_args a;
    PARSE_OR_RETURN("device list", list_help, argc, argv, &a, false, "");
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    static const char *const headers[] = {"ID",      "KIND",    "STATUS",
                                          "PATIENT", "BATTERY", "LAST SEEN"};
    struct dev_list_state s = {.st = ctx.st, .json = a.o.json, .now = hx_time_now_us()};
    if (s.json)
        s.arr = json_array();
    table_init(&s.t, 6, headers);
    rc = store_device_list(ctx.st, list_one, &s);
    cli_close(&ctx);
    if (rc < 0) {
        table_release(&s.t);
        json_decref(s.arr);
        return cli_store_fail("listing devices", rc);
    }
    if (s.json)
        cli_print_json(s.arr);
    else if (!s.t.n_rows)
        printf("no devices\n");
    else
        table_print(&s.t, stdout);
    table_release(&s.t);
    return CLI_EXIT_OK;
}

struct hist_state {
    struct store *st;
    json_t *arr;
    struct table t;
};

static int hist_one(void *arg, const struct assignment *as)
{
    struct hist_state *s = arg;
    struct patient p;
    char from[40], until[40] = "";
    const char *mrn = store_patient_get(s->st, as->patient_id, &p) == 0 ? p.mrn : "?";
    cli_format_time(as->start_us, from, sizeof(from));
    if (as->end_us)
        cli_format_time(as->end_us, until, sizeof(until));
    if (s->arr) {
        json_array_append_new(s->arr, json_pack("{s:s, s:s, s:s?}", "patient", mrn, "from", from,
                                                "until", as->end_us ? until : NULL));
    } else {
        const char *cells[] = {mrn, from, as->end_us ? until : "(now)"};
        table_add(&s->t, cells);
    }
    return 0;
}

static const char show_help[] = "Usage: medhub device show ID [--data-dir DIR] [--json]\n\n"
                                "Shows a device and its assignment history.\n";

static int device_show(int argc, char **argv)
{
    struct dev_args a;
    PARSE_OR_RETURN("device show", show_help, argc, argv, &a, true, "");
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    struct device d;
    if ((rc = load_device(&ctx, a.id, &d))) {
        cli_close(&ctx);
        return rc;
    }
    static const char *const headers[] = {"PATIENT", "FROM", "UNTIL"};
    struct hist_state s = {.st = ctx.st, .arr = a.o.json ? json_array() : NULL};
    table_init(&s.t, 3, headers);
    rc = store_assignment_list(ctx.st, d.id, hist_one, &s);
    cli_close(&ctx);
    if (rc < 0) {
        table_release(&s.t);
        json_decref(s.arr);
        return cli_store_fail("reading assignments", rc);
    }
    if (a.o.json) {
        json_t *j = device_json(&d);
        json_object_set_new(j, "assignments", s.arr);
        cli_print_json(j);
    } else {
        char seen[40] = "never";
        if (d.last_seen_us)
            cli_format_time(d.last_seen_us, seen, sizeof(seen));
        printf("%s  (%s)\n", d.uid, d.kind);
        printf("  status     %s\n", dev_status_name(d.status));
        printf("  model      %s\n", *d.model ? d.model : "-");
        printf("  firmware   %s\n", *d.firmware ? d.firmware : "-");
        if (d.battery_pct >= 0)
            printf("  battery    %d%%\n", d.battery_pct);
        else
            printf("  battery    -\n");
        printf("  last seen  %s\n", seen);
        printf("\nAssignments:\n");
        if (s.t.n_rows)
            table_print(&s.t, stdout);
        else
            printf("  none\n");
    }
    table_release(&s.t);
    return CLI_EXIT_OK;
}

static const char assign_help[] =
    "Usage: medhub device assign ID --patient MRN [--at TIME] [--data-dir DIR]\n\n"
    "Assigns the device to a patient from TIME (default now); readings taken from then on\n"
    "belong to that patient. Any current assignment of the device ends at TIME.\n";

static int device_assign(int argc, char **argv)
{
    struct dev_args a;
    PARSE_OR_RETURN("device assign", assign_help, argc, argv, &a, true, "patient at");
    if (!a.patient)
        return cli_usage_error("device assign", "--patient is required");
    int64_t at;
    int rc;
    if ((rc = resolve_at("device assign", a.at, &at)))
        return rc;
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    struct device d;
    struct patient p;
    if ((rc = load_device(&ctx, a.id, &d)) || (rc = load_patient(&ctx, a.patient, &p))) {
        cli_close(&ctx);
        return rc;
    }
    char when[40];
    hx_time_format_rfc3339(at, when, sizeof(when));
    int src = store_begin(ctx.st);
    if (src == 0)
        src = store_device_assign(ctx.st, d.id, p.id, at);
    if (src == 0)
        src = audit_device(&ctx, "device.assign", &d, p.id, json_pack("{s:s}", "at", when));
    src = cli_end(&ctx, src);
    cli_close(&ctx);
    if (src < 0)
        return cli_store_fail("assigning the device", src);
    if (!a.o.json)
        printf("device %s assigned to %s\n", d.uid, p.mrn);
    else
        cli_print_json(json_pack("{s:s, s:s}", "id", d.uid, "patient", p.mrn));
    return CLI_EXIT_OK;
}

static const char unassign_help[] =
    "Usage: medhub device unassign ID [--at TIME] [--data-dir DIR]\n\n"
    "Ends the device's current assignment at TIME (default now).\n";

static int device_unassign(int argc, char **argv)
{
    struct dev_args a;
    PARSE_OR_RETURN("device unassign", unassign_help, argc, argv, &a, true, "at");
    int64_t at;
    int rc;
    if ((rc = resolve_at("device unassign", a.at, &at)))
        return rc;
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    struct device d;
    if ((rc = load_device(&ctx, a.id, &d))) {
        cli_close(&ctx);
        return rc;
    }
    char when[40];
    hx_time_format_rfc3339(at, when, sizeof(when));
    int64_t pid = 0;
    int src = store_begin(ctx.st);
    if (src == 0)
        src = store_device_patient_at(ctx.st, d.id, at, &pid); /* whose assignment ends */
    if (src == 0)
        src = store_device_unassign(ctx.st, d.id, at);
    if (src == 0)
        src = audit_device(&ctx, "device.unassign", &d, pid, json_pack("{s:s}", "at", when));
    src = cli_end(&ctx, src);
    cli_close(&ctx);
    if (src == HX_ENOTFOUND)
        return cli_fail("device '%s' is not assigned to anyone", d.uid);
    if (src < 0)
        return cli_store_fail("unassigning the device", src);
    if (!a.o.json)
        printf("device %s unassigned\n", d.uid);
    else
        cli_print_json(json_pack("{s:s, s:n}", "id", d.uid, "patient"));
    return CLI_EXIT_OK;
}

static int set_status(const char *cmd, const char *help, int argc, char **argv,
                      enum dev_status status)
{
    struct dev_args a;
    PARSE_OR_RETURN(cmd, help, argc, argv, &a, true, "");
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    struct device d;
    if ((rc = load_device(&ctx, a.id, &d))) {
        cli_close(&ctx);
        return rc;
    }
    int src = store_begin(ctx.st);
    if (src == 0)
        src = store_device_set_status(ctx.st, d.id, status);
    if (src == 0)
        src = audit_device(&ctx, status == DEV_STATUS_DISABLED ? "device.disable" : "device.enable",
                           &d, 0,
                           json_pack("{s:s, s:s}", "from", dev_status_name(d.status), "to",
                                     dev_status_name(status)));
    src = cli_end(&ctx, src);
    cli_close(&ctx);
    if (src < 0)
        return cli_store_fail("changing the device status", src);
    if (a.o.json)
        cli_print_json(json_pack("{s:s, s:s}", "id", d.uid, "status", dev_status_name(status)));
    else
        printf("device %s is now %s\n", d.uid, dev_status_name(status));
    return CLI_EXIT_OK;
}

static int device_disable(int argc, char **argv)
{
    return set_status("device disable",
                      "Usage: medhub device disable ID [--data-dir DIR] [--json]\n\n"
                      "Disables a device: it can no longer connect or send data.\n",
                      argc, argv, DEV_STATUS_DISABLED);
}

static int device_enable(int argc, char **argv)
{
    return set_status("device enable",
                      "Usage: medhub device enable ID [--data-dir DIR] [--json]\n\n"
                      "Re-enables a disabled or quarantined device.\n",
                      argc, argv, DEV_STATUS_ACTIVE);
}

int cmd_device(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"add", "enrol a device (prints its secret once)", device_add},
        {"list", "list devices", device_list},
        {"show", "show a device and its assignments", device_show},
        {"assign", "assign a device to a patient", device_assign},
        {"unassign", "end a device's current assignment", device_unassign},
        {"disable", "stop a device from connecting", device_disable},
        {"enable", "allow a disabled device again", device_enable},
        {"cert", "issue a TLS client certificate for a device", device_cert_cmd},
        {"send", "send a command to a device (delivered over MQTT)", device_send_cmd},
        {"commands", "list the commands sent to a device", device_commands_cmd},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("device", "Usage: medhub device COMMAND [OPTIONS]", subs, argc, argv);
}
