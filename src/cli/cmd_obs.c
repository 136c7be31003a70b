/*
 * medhub obs query|add: observations of one patient, as a table, CSV or JSON; and a direct
 * way to record a reading (imports, corrections, tests). Query output streams row by row,
 * so a month of 1 Hz data does not have to fit in memory.
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "domain/codes.h"
#include "domain/units.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum out_format { FMT_TABLE, FMT_CSV, FMT_JSON };

/* Maps internal device ids to their external ids; a query touches few devices. */
struct dev_cache {
    struct store *st;
    int64_t ids[32];
    char uids[32][DEV_ID_MAX];
    int n;
};

static const char *dev_uid(struct dev_cache *c, int64_t id)
{
    if (id == 0)
        return "";
    for (int i = 0; i < c->n; i++)
        if (c->ids[i] == id)
            return c->uids[i];
    int slot = c->n < 32 ? c->n++ : (int)(id % 32);
    struct device d;
    c->ids[slot] = id;
    if (store_device_get_by_id(c->st, id, &d) == 0)
        snprintf(c->uids[slot], DEV_ID_MAX, "%s", d.uid);
    else
        snprintf(c->uids[slot], DEV_ID_MAX, "#%lld", (long long)id);
    return c->uids[slot];
}

struct query_state {
    enum out_format fmt;
    const char *mrn;
    struct dev_cache devs;
    struct table t;
    size_t n;
};

/* CSV field: quoted when it holds a comma, quote or newline (RFC 4180). */
static void csv_field(const char *s, FILE *out)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static int query_row(void *arg, const struct obs *o)
{
    struct query_state *s = arg;
    const struct obs_code *code = obs_code_get(o->code);
    const char *loinc = code ? code->loinc : "?";
    const char *ucum = code ? code->ucum : "";
    const char *dev = dev_uid(&s->devs, o->device_id);
    char when[40], val[32];
    hx_time_format_rfc3339(o->effective_us, when, sizeof(when));
    snprintf(val, sizeof(val), "%.10g", o->value);
    switch (s->fmt) {
    case FMT_JSON: {
        json_t *j =
            json_pack("{s:s, s:s, s:f, s:s, s:s?, s:s}", "time", when, "code", loinc, "value",
                      o->value, "unit", ucum, "device", *dev ? dev : NULL, "patient", s->mrn);
        char *text = json_dumps(j, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10) | JSON_COMPACT);
        printf("%s  %s", s->n ? ",\n" : "", text);
        free(text);
        json_decref(j);
        break;
    }
    case FMT_CSV:
        fputs(when, stdout);
        putchar(',');
        csv_field(loinc, stdout);
        printf(",%s,", val);
        csv_field(ucum, stdout);
        putchar(',');
        csv_field(dev, stdout);
        putchar(',');
        csv_field(s->mrn, stdout);
        putchar('\n');
        break;
    case FMT_TABLE: {
        char shown[40];
        cli_format_time(o->effective_us, shown, sizeof(shown));
        const char *cells[] = {shown, code ? code->display : "?", val, ucum,
                               loinc, *dev ? dev : "(manual)"};
        table_add(&s->t, cells);
        break;
    }
    }
    s->n++;
    return 0;
}

static int find_code(const char *cmd, const char *text, const struct obs_code **out)
{
    if (obs_code_by_loinc(slice_cstr(text), out) == 0 ||
        obs_code_by_name(slice_cstr(text), out) == 0)
        return 0;
    return cli_usage_error(cmd,
                           "--code '%s': unknown code; expected a LOINC code or name listed by "
                           "'medhub codes'",
                           text);
}

static const char query_help[] =
    "Usage: medhub obs query --patient MRN [--code CODE] [--since TIME] [--until TIME]\n"
    "                        [--limit N] [--format table|csv|json] [--data-dir DIR]\n"
    "\n"
    "Prints a patient's readings, oldest first.\n"
    "\n"
    "  --code CODE     a LOINC code (8867-4) or name (heart_rate); default every code\n"
    "  --since TIME    from TIME, inclusive (default: all); --until TIME: before TIME\n"
    "                  TIME is RFC 3339 (2026-11-24T08:00:00Z), a date (2026-11-24), 'now'\n"
    "                  or relative to now (-90s, -15m, -8h, -7d)\n"
    "  --limit N       at most N readings\n"
    "  --format F      table (default), csv, or json: an array of {time, code, value, unit,\n"
    "                  device, patient}; time is RFC 3339 UTC with microseconds, value is in\n"
    "                  the UCUM unit shown. --json is the same as --format json\n";

static int obs_query(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"patient", required_argument, NULL, 'p'},
        {"code", required_argument, NULL, 'c'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"limit", required_argument, NULL, 'l'},
        {"format", required_argument, NULL, 'f'},
        {0},
    };
    struct cli_opts o = {0};
    const char *mrn = NULL, *fmt = NULL;
    const struct obs_code *code = NULL;
    int64_t since = INT64_MIN, until = INT64_MAX;
    unsigned long long limit = 0;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_HELP:
            fputs(query_help, stdout);
            return CLI_EXIT_OK;
        case 'p':
            mrn = optarg;
            break;
        case 'c':
            if ((rc = find_code("obs query", optarg, &code)))
                return rc;
            break;
        case 's':
            if ((rc = cli_parse_time("obs query", "since", optarg, &since)))
                return rc;
            break;
        case 'u':
            if ((rc = cli_parse_time("obs query", "until", optarg, &until)))
                return rc;
            break;
        case 'l': {
            char *end;
            errno = 0;
            limit = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg || optarg[0] == '-' || limit == 0)
                return cli_usage_error("obs query", "--limit '%s': expected a positive number",
                                       optarg);
            break;
        }
        case 'f':
            fmt = optarg;
            break;
        default:
            if (!cli_common_option(&o, c, optarg))
                return cli_usage_error("obs query", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("obs query", "unexpected argument '%s'", argv[optind]);
    if (!mrn)
        return cli_usage_error("obs query", "--patient is required");
    enum out_format f = o.json ? FMT_JSON : FMT_TABLE;
    if (fmt) {
        if (strcmp(fmt, "table") == 0)
            f = FMT_TABLE;
        else if (strcmp(fmt, "csv") == 0)
            f = FMT_CSV;
        else if (strcmp(fmt, "json") == 0)
            f = FMT_JSON;
        else
            return cli_usage_error("obs query", "--format '%s': expected table, csv or json", fmt);
    }
    if (since >= until)
        return cli_usage_error("obs query", "--since must be before --until");

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
    struct query_state s = {.fmt = f, .mrn = p.mrn, .devs = {.st = ctx.st}};
    static const char *const headers[] = {"TIME", "MEASUREMENT", "VALUE",
                                          "UNIT", "LOINC",       "DEVICE"};
    table_init(&s.t, 6, headers);
    if (f == FMT_CSV)
        puts("time,code,value,unit,device,patient");
    else if (f == FMT_JSON)
        fputs("[\n", stdout);
    src = store_obs_range(ctx.st, p.id, code ? (int)code->id : 0, since, until, (size_t)limit,
                          query_row, &s);
    cli_close(&ctx);
    if (f == FMT_JSON)
        fputs(s.n ? "\n]\n" : "]\n", stdout);
    if (src < 0) {
        table_release(&s.t);
        return cli_store_fail("querying observations", src);
    }
    if (f == FMT_TABLE) {
        if (s.n)
            table_print(&s.t, stdout);
        else
            fprintf(stderr, "no readings\n");
    }
    table_release(&s.t);
    return CLI_EXIT_OK;
}

static const char add_help[] =
    "Usage: medhub obs add --patient MRN --code CODE --value V [--unit UNIT] [--time TIME]\n"
    "                      [--device ID] [--data-dir DIR] [--json]\n"
    "\n"
    "Records one reading directly in the store (imports, corrections, tests). The value is\n"
    "converted from UNIT (default: the code's UCUM unit, see 'medhub codes') and must be\n"
    "physiologically plausible. The same device, code and time recorded twice is stored once.\n";

static int obs_add(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"patient", required_argument, NULL, 'p'},
        {"code", required_argument, NULL, 'c'},
        {"value", required_argument, NULL, 'v'},
        {"unit", required_argument, NULL, 'u'},
        {"time", required_argument, NULL, 't'},
        {"device", required_argument, NULL, 'd'},
        {0},
    };
    struct cli_opts o = {0};
    const char *mrn = NULL, *value_text = NULL, *unit = "", *device = NULL;
    const struct obs_code *code = NULL;
    int64_t when = hx_time_now_us();
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_HELP:
            fputs(add_help, stdout);
            return CLI_EXIT_OK;
        case 'p':
            mrn = optarg;
            break;
        case 'c':
            if ((rc = find_code("obs add", optarg, &code)))
                return rc;
            break;
        case 'v':
            value_text = optarg;
            break;
        case 'u':
            unit = optarg;
            break;
        case 't':
            if ((rc = cli_parse_time("obs add", "time", optarg, &when)))
                return rc;
            break;
        case 'd':
            device = optarg;
            break;
        default:
            if (!cli_common_option(&o, c, optarg))
                return cli_usage_error("obs add", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("obs add", "unexpected argument '%s'", argv[optind]);
    if (!mrn || !code || !value_text)
        return cli_usage_error("obs add", "--patient, --code and --value are required");
    char *end;
    errno = 0;
    double raw = strtod(value_text, &end);
    if (errno || *end || !*value_text || !isfinite(raw))
        return cli_usage_error("obs add", "--value '%s': expected a number", value_text);
    double value;
    if (units_to_canonical(code, slice_cstr(unit), raw, &value, NULL) < 0)
        return cli_usage_error("obs add", "--unit '%s' cannot be converted to %s for %s", unit,
                               code->ucum, code->display);
    if (!obs_code_is_plausible(code, value))
        return cli_fail("%s %g %s is outside the plausible range %g-%g %s", code->display, value,
                        code->ucum, code->min, code->max, code->ucum);
    if (when > hx_time_now_us() + 5 * 60 * HX_USEC_PER_SEC)
        return cli_fail("--time is more than 5 minutes in the future");

    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, 0)))
        return rc;
    struct patient p;
    struct device d = {0};
    int src = store_patient_get_by_mrn(ctx.st, mrn, &p);
    if (src == 0 && device)
        src = store_device_get(ctx.st, device, &d);
    if (src < 0) {
        cli_close(&ctx);
        if (src == HX_ENOTFOUND)
            return device && *p.mrn ? cli_fail("no device with ID '%s'", device)
                                    : cli_fail("no patient with MRN '%s'", mrn);
        return cli_store_fail("reading the patient", src);
    }
    struct obs ob = {
        .patient_id = p.id,
        .device_id = d.id,
        .effective_us = when,
        .received_us = hx_time_now_us(),
        .value = value,
        .code = (uint16_t)code->id,
        .status = OBS_STATUS_FINAL,
    };
    size_t inserted = 0;
    src = store_begin(ctx.st);
    if (src == 0)
        src = store_obs_put_batch(ctx.st, &ob, 1, &inserted);
    if (src == 0 && inserted) {
        /* The reading's code and time, not its value. */
        char t[40];
        hx_time_format_rfc3339(when, t, sizeof(t));
        char *details = cli_details(
            json_pack("{s:s, s:s, s:s*}", "code", code->loinc, "time", t, "device", device));
        struct audit_entry e = {.action = "obs.create",
                                .patient_id = p.id,
                                .object_type = "observation",
                                .details = details};
        src = cli_audit(&ctx, &e);
        free(details);
    }
    src = cli_end(&ctx, src);
    cli_close(&ctx);
    if (src < 0)
        return cli_store_fail("storing the reading", src);
    char t[40];
    hx_time_format_rfc3339(when, t, sizeof(t));
    if (o.json)
        cli_print_json(json_pack("{s:s, s:s, s:f, s:s, s:s?, s:s, s:b}", "time", t, "code",
                                 code->loinc, "value", value, "unit", code->ucum, "device", device,
                                 "patient", p.mrn, "stored", inserted > 0));
    else if (inserted)
        printf("stored %s %g %s for %s at %s\n", code->display, value, code->ucum, p.mrn, t);
    else
        printf("already stored: the same reading (device, code, time) exists\n");
    return CLI_EXIT_OK;
}

int cmd_obs(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"query", "print a patient's readings", obs_query},
        {"add", "record one reading", obs_add},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("obs", "Usage: medhub obs COMMAND [OPTIONS]", subs, argc, argv);
}
