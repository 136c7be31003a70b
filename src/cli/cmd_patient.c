/*
 * medhub patient add|list|show: patient records on the data directory; add is recorded in the
 * audit trail (patient.create) in the same transaction. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "domain/codes.h"

#include <getopt.h>
#include <string.h>

static int copy_field(const char *cmd, const char *opt, char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return cli_usage_error(cmd, "--%s is too long (at most %zu characters)", opt, cap - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)src[i] < 0x20)
            return cli_usage_error(cmd, "--%s must not contain control characters", opt);
    memcpy(dst, src, n + 1);
    return 0;
}

static json_t *patient_json(const struct patient *p)
{
    char created[40];
    cli_format_time(p->created_us, created, sizeof(created));
    return json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "id", (json_int_t)p->id, "mrn",
                     p->mrn, "name", p->name, "birth_date", *p->birth_date ? p->birth_date : NULL,
                     "ward", *p->ward ? p->ward : NULL, "location",
                     *p->location ? p->location : NULL, "created", created);
}

static const char add_help[] =
    "Usage: medhub patient add --mrn MRN --name NAME [--birth-date YYYY-MM-DD] [--ward WARD]\n"
    "                          [--location BED] [--data-dir DIR] [--json]\n"
    "\n"
    "Adds a patient. The MRN (medical record number) must be unique. Recorded in the audit\n"
    "trail as patient.create (medhub audit list).\n";

static int patient_add(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"mrn", required_argument, NULL, 'm'},
        {"name", required_argument, NULL, 'n'},
        {"birth-date", required_argument, NULL, 'b'},
        {"ward", required_argument, NULL, 'w'},
        {"location", required_argument, NULL, 'l'},
        {0},
    };
    struct cli_opts o = {0};
    struct patient p = {0};
    const char *mrn = NULL, *name = NULL;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_HELP:
            fputs(add_help, stdout);
            return CLI_EXIT_OK;
        case 'm':
            mrn = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'b':
            if (pat_birth_date_validate(optarg) < 0)
                return cli_usage_error(
                    "patient add", "--birth-date '%s': expected a real date as YYYY-MM-DD", optarg);
            snprintf(p.birth_date, sizeof(p.birth_date), "%s", optarg);
            break;
        case 'w':
            if ((rc = copy_field("patient add", "ward", p.ward, sizeof(p.ward), optarg)))
                return rc;
            break;
        case 'l':
            if ((rc =
                     copy_field("patient add", "location", p.location, sizeof(p.location), optarg)))
                return rc;
            break;
        default:
            if (!cli_common_option(&o, c, optarg))
                return cli_usage_error("patient add", "unknown option");
        }
    }
    if (!mrn || !name)
        return cli_usage_error("patient add", "--mrn and --name are required");
    if (pat_mrn_validate(mrn) < 0)
        return cli_usage_error("patient add",
                               "--mrn: expected 1 to 63 printable characters without leading "
                               "or trailing spaces");
    if (!*name)
        return cli_usage_error("patient add", "--name must not be empty");
    snprintf(p.mrn, sizeof(p.mrn), "%s", mrn);
    if ((rc = copy_field("patient add", "name", p.name, sizeof(p.name), name)))
        return rc;

    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, 0)))
        return rc;
    int src = store_begin(ctx.st);
    if (src == 0)
        src = store_patient_add(ctx.st, &p);
    if (src == 0) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)p.id);
        struct audit_entry e = {.action = "patient.create",
                                .patient_id = p.id,
                                .object_type = "patient",
                                .object_id = id};
        src = cli_audit(&ctx, &e);
    }
    src = cli_end(&ctx, src);
    cli_close(&ctx);
    if (src == HX_EEXIST)
        return cli_fail("a patient with MRN '%s' already exists", p.mrn);
    if (src < 0)
        return cli_store_fail("adding the patient", src);
    if (o.json)
        cli_print_json(patient_json(&p));
    else
        printf("added patient %s (id %lld)\n", p.mrn, (long long)p.id);
    return CLI_EXIT_OK;
}

struct list_state {
    bool json;
    json_t *arr;
    struct table t;
};

static int list_one(void *arg, const struct patient *p)
{
    struct list_state *s = arg;
    if (s->json) {
        json_array_append_new(s->arr, patient_json(p));
        return 0;
    }
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)p->id);
    const char *cells[] = {p->mrn, p->name, p->birth_date, p->ward, p->location, id};
    table_add(&s->t, cells);
    return 0;
}

static const char list_help[] = "Usage: medhub patient list [--ward WARD] [--data-dir DIR] "
                                "[--json]\n\nLists patients, ordered by ward, location and "
                                "name.\n";

static int patient_list(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS, {"ward", required_argument, NULL, 'w'}, {0}};
    struct cli_opts o = {0};
    const char *ward = NULL;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(list_help, stdout);
            return CLI_EXIT_OK;
        }
        if (c == 'w')
            ward = optarg;
        else if (!cli_common_option(&o, c, optarg))
            return cli_usage_error("patient list", "unknown option");
    }
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, STORE_OPEN_READONLY)))
        return rc;
    static const char *const headers[] = {"MRN", "NAME", "BORN", "WARD", "LOCATION", "ID"};
    struct list_state s = {.json = o.json, .arr = o.json ? json_array() : NULL};
    table_init(&s.t, 6, headers);
    int src = store_patient_list(ctx.st, ward, list_one, &s);
    cli_close(&ctx);
    if (src < 0) {
        table_release(&s.t);
        json_decref(s.arr);
        return cli_store_fail("listing patients", src);
    }
    if (o.json)
        cli_print_json(s.arr);
    else if (s.t.n_rows == 0)
        printf("no patients%s%s\n", ward ? " in ward " : "", ward ? ward : "");
    else
        table_print(&s.t, stdout);
    table_release(&s.t);
    return CLI_EXIT_OK;
}

struct show_state {
    struct store *st;
    bool json;
    json_t *devices;
    json_t *latest;
    struct table devs;
    struct table obs;
};

static const char show_help[] =
    "Usage: medhub patient show MRN [--data-dir DIR] [--json]\n\n"
    "Shows a patient, the devices assigned now and the latest reading of each code.\n";

struct dev_filter {
    struct show_state *s;
    int64_t patient_id;
    int64_t now;
};

static int collect_device(void *arg, const struct device *d)
{
    struct dev_filter *f = arg;
    int64_t pid = 0;
    if (store_device_patient_at(f->s->st, d->id, f->now, &pid) < 0 || pid != f->patient_id)
        return 0;
    if (f->s->json) {
        json_array_append_new(f->s->devices,
                              json_pack("{s:s, s:s, s:s}", "id", d->uid, "kind", d->kind, "status",
                                        dev_status_name(d->status)));
    } else {
        const char *cells[] = {d->uid, d->kind, dev_status_name(d->status)};
        table_add(&f->s->devs, cells);
    }
    return 0;
}

static int collect_latest(void *arg, const struct obs *ob)
{
    struct show_state *s = arg;
    const struct obs_code *code = obs_code_get(ob->code);
    char when[40], val[32];
    cli_format_time(ob->effective_us, when, sizeof(when));
    snprintf(val, sizeof(val), "%g", ob->value);
    if (s->json) {
        json_array_append_new(s->latest, json_pack("{s:s, s:s, s:f, s:s, s:s}", "code",
                                                   code ? code->loinc : "?", "name",
                                                   code ? code->display : "?", "value", ob->value,
                                                   "unit", code ? code->ucum : "", "time", when));
    } else {
        char v[64];
        snprintf(v, sizeof(v), "%s %s", val, code ? code->unit_label : "");
        const char *cells[] = {code ? code->display : "?", v, when, code ? code->loinc : "?"};
        table_add(&s->obs, cells);
    }
    return 0;
}

static int patient_show(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0}};
    struct cli_opts o = {0};
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(show_help, stdout);
            return CLI_EXIT_OK;
        }
        if (!cli_common_option(&o, c, optarg))
            return cli_usage_error("patient show", "unknown option");
    }
    if (optind != argc - 1)
        return cli_usage_error("patient show", "expected exactly one MRN");
    const char *mrn = argv[optind];

    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, STORE_OPEN_READONLY)))
        return rc;
    struct patient p;
    int src = store_patient_get_by_mrn(ctx.st, mrn, &p);
    if (src < 0) {
        cli_close(&ctx);
        return src == HX_ENOTFOUND ? cli_fail("no patient with MRN '%s'", mrn)
                                   : cli_store_fail("reading the patient", src);
    }
    struct show_state s = {.st = ctx.st, .json = o.json};
    static const char *const dh[] = {"DEVICE", "KIND", "STATUS"};
    static const char *const oh[] = {"MEASUREMENT", "VALUE", "TIME", "LOINC"};
    table_init(&s.devs, 3, dh);
    table_init(&s.obs, 4, oh);
    if (o.json) {
        s.devices = json_array();
        s.latest = json_array();
    }
    struct dev_filter f = {.s = &s, .patient_id = p.id, .now = hx_time_now_us()};
    src = store_device_list(ctx.st, collect_device, &f);
    if (src >= 0)
        src = store_obs_latest(ctx.st, p.id, collect_latest, &s);
    cli_close(&ctx);
    if (src < 0) {
        table_release(&s.devs);
        table_release(&s.obs);
        json_decref(s.devices);
        json_decref(s.latest);
        return cli_store_fail("reading the patient", src);
    }
    if (o.json) {
        json_t *j = patient_json(&p);
        json_object_set_new(j, "devices", s.devices);
        json_object_set_new(j, "latest", s.latest);
        cli_print_json(j);
    } else {
        printf("%s  %s\n", p.mrn, p.name);
        printf("  born      %s\n", *p.birth_date ? p.birth_date : "-");
        printf("  ward      %s\n", *p.ward ? p.ward : "-");
        printf("  location  %s\n", *p.location ? p.location : "-");
        printf("\nDevices assigned now:\n");
        if (s.devs.n_rows)
            table_print(&s.devs, stdout);
        else
            printf("  none\n");
        printf("\nLatest readings:\n");
        if (s.obs.n_rows)
            table_print(&s.obs, stdout);
        else
            printf("  none\n");
    }
    table_release(&s.devs);
    table_release(&s.obs);
    return CLI_EXIT_OK;
}

int cmd_patient(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"add", "add a patient", patient_add},
        {"list", "list patients", patient_list},
        {"show", "show a patient with devices and latest readings", patient_show},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("patient", "Usage: medhub patient COMMAND [OPTIONS]", subs, argc, argv);
}
