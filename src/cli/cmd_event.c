/*
 * medhub event list: device events (pill taken, dose missed, button, fall, connection lost)
 * newest first, for one device, one patient or all, as a table or JSON. JSON output streams
 * row by row. An event's text may be PHI (a medication label): it is printed for the
 * operator who asked, never logged.
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct list_state {
    bool json;                /* --json: stream a JSON array */
    struct cli_names devices; /* device uids */
    struct cli_names mrns;    /* patient MRNs */
    struct table t;           /* table output, printed at the end */
    size_t n;                 /* events listed */
};

static int list_row(void *arg, const struct dev_event *e)
{
    struct list_state *s = arg;
    const char *dev = cli_name_of(&s->devices, e->device_id);
    const char *mrn = cli_name_of(&s->mrns, e->patient_id);
    const char *type = dev_event_name(e->type);
    if (s->json) {
        char when[40];
        hx_time_format_rfc3339(e->time_us, when, sizeof(when));
        json_t *value = e->has_text ? json_string(e->text) : json_boolean(e->flag);
        json_t *j = json_pack("{s:s, s:s, s:s?, s:s?, s:o}", "time", when, "type", type, "device",
                              dev, "patient", mrn, "value", value ? value : json_null());
        char *text = j ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
        if (!text) {
            json_decref(j);
            return -ENOMEM;
        }
        printf("%s  %s", s->n ? ",\n" : "", text);
        free(text);
        json_decref(j);
    } else {
        char shown[40];
        cli_format_time(e->time_us, shown, sizeof(shown));
        const char *cells[] = {shown, type, e->has_text ? e->text : (e->flag ? "true" : "false"),
                               dev ? dev : "", mrn ? mrn : "(unassigned)"};
        table_add(&s->t, cells);
    }
    s->n++;
    return 0;
}

/* Parses --limit: a positive integer. */
static int parse_limit(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || !*s || s[0] == '-' || v == 0 || v > SIZE_MAX)
        return cli_usage_error("event list", "--limit '%s': expected a positive number", s);
    *out = (size_t)v;
    return 0;
}

static const char list_help[] =
    "Usage: medhub event list [--device ID] [--patient MRN] [--since TIME] [--until TIME]\n"
    "                         [--limit N] [--json] [--data-dir DIR]\n"
    "\n"
    "Prints device events (pill_taken, dose_missed, button, fall, connection_lost), newest\n"
    "first: every device's, or one device's, or those attributed to one patient (the patient\n"
    "assigned to the device when the event happened).\n"
    "\n"
    "  --device ID     only this device's events\n"
    "  --patient MRN   only events attributed to this patient\n"
    "  --since TIME    from TIME, inclusive (default: all); --until TIME: before TIME\n"
    "                  TIME is RFC 3339 (2026-11-24T08:00:00Z), a date (2026-11-24), 'now'\n"
    "                  or relative to now (-90s, -15m, -8h, -7d)\n"
    "  --limit N       at most N events (the newest N)\n"
    "  --json          an array of {time, type, device, patient, value}: time is RFC 3339\n"
    "                  UTC with microseconds, patient the MRN or null (device unassigned),\n"
    "                  value true/false or the event's text\n";

static int event_list(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"device", required_argument, NULL, 'd'},
        {"patient", required_argument, NULL, 'p'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"limit", required_argument, NULL, 'l'},
        {0},
    };
    struct cli_opts o = {0};
    const char *uid = NULL, *mrn = NULL;
    int64_t since = INT64_MIN, until = INT64_MAX;
    size_t limit = 0;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_HELP:
            fputs(list_help, stdout);
            return CLI_EXIT_OK;
        case 'd':
            uid = optarg;
            break;
        case 'p':
            mrn = optarg;
            break;
        case 's':
            if ((rc = cli_parse_time("event list", "since", optarg, &since)))
                return rc;
            break;
        case 'u':
            if ((rc = cli_parse_time("event list", "until", optarg, &until)))
                return rc;
            break;
        case 'l':
            if ((rc = parse_limit(optarg, &limit)))
                return rc;
            break;
        default:
            if (!cli_common_option(&o, c, optarg))
                return cli_usage_error("event list", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("event list", "unexpected argument '%s'", argv[optind]);
    if (since >= until)
        return cli_usage_error("event list", "--since must be before --until");

    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, STORE_OPEN_READONLY)))
        return rc;
    struct device d = {0};
    struct patient p = {0};
    int src = uid ? store_device_get(ctx.st, uid, &d) : 0;
    if (src == HX_ENOTFOUND) {
        cli_close(&ctx);
        return cli_fail("no device with ID '%s'", uid);
    }
    if (src == 0 && mrn && (src = store_patient_get_by_mrn(ctx.st, mrn, &p)) == HX_ENOTFOUND) {
        cli_close(&ctx);
        return cli_fail("no patient with MRN '%s'", mrn);
    }
    if (src < 0) {
        cli_close(&ctx);
        return cli_store_fail("reading the device or patient", src);
    }

    struct list_state s = {
        .json = o.json, .devices = {.st = ctx.st}, .mrns = {.st = ctx.st, .patients = true}};
    static const char *const headers[] = {"TIME", "EVENT", "VALUE", "DEVICE", "PATIENT"};
    table_init(&s.t, 5, headers);
    if (s.json)
        fputs("[\n", stdout);
    src = store_event_list(ctx.st, d.id, p.id, since, until, limit, list_row, &s);
    cli_close(&ctx);
    if (s.json)
        fputs(s.n ? "\n]\n" : "]\n", stdout);
    if (src < 0) {
        table_release(&s.t);
        return cli_store_fail("listing events", src);
    }
    if (!s.json) {
        if (s.n)
            table_print(&s.t, stdout);
        else
            fprintf(stderr, "no events\n");
    }
    table_release(&s.t);
    return CLI_EXIT_OK;
}

int cmd_event(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"list", "print device events, newest first", event_list},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("event", "Usage: medhub event COMMAND [OPTIONS]", subs, argc, argv);
}
