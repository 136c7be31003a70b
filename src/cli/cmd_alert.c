/*
 * medhub alert list|show|ack|resolve: alert episodes as the daemon's rules raised them.
 * ack and resolve queue an action that the running daemon applies (it owns alert state and
 * escalation) and wait for its result; the request is recorded in the audit trail
 * (alert.ack, alert.resolve) with the queued action. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char group_help[] =
    "Usage: medhub alert COMMAND [options]\n\n"
    "Alerts raised by the clinical rules (thresholds, NEWS2, trends, forecasts) and the\n"
    "technical ones (no data, disconnected, battery, signal, missed measurement).\n";

static const char list_help[] =
    "Usage: medhub alert list [--state open|raised|acknowledged|resolved|all] [--patient MRN]\n"
    "                         [--limit N] [--data-dir DIR] [--json]\n\n"
    "Lists alerts, newest first (default: open ones, that is raised or acknowledged; limit\n"
    "100). --json prints an array of {\"id\", \"patient\", \"device\", \"rule\", \"class\",\n"
    "\"severity\", \"state\", \"title\", \"detail\", \"value\", \"worst\", \"count\", \"raised\",\n"
    "\"updated\", \"acknowledged\", \"acknowledged_by\", \"resolved\", \"resolved_by\", "
    "\"note\"}.\n";

static const char show_help[] =
    "Usage: medhub alert show ID [--data-dir DIR] [--json]\n\n"
    "One alert and its history: every transition, who and when (--json adds \"history\").\n";

static const char ack_help[] =
    "Usage: medhub alert ack ID [--by NAME] [--wait S] [--data-dir DIR] [--json]\n\n"
    "Acknowledges a raised alert: someone is on it, escalation stops. The running daemon\n"
    "applies it (within a second); this waits up to --wait seconds (default 5) for the\n"
    "result. --by defaults to the login name.\n";

static const char resolve_help[] =
    "Usage: medhub alert resolve ID --note TEXT [--by NAME] [--wait S] [--data-dir DIR]\n"
    "                            [--json]\n\n"
    "Resolves an open alert by hand, with a note saying why. A new episode starts if the\n"
    "condition is still there at the next reading.\n";

static json_t *alert_json(const struct alert *a, struct cli_names *mrns, struct cli_names *devs)
{
    char raised[40], updated[40], acked[40] = "", resolved[40] = "";
    hx_time_format_rfc3339(a->raised_us, raised, sizeof(raised));
    hx_time_format_rfc3339(a->updated_us, updated, sizeof(updated));
    if (a->acked_us)
        hx_time_format_rfc3339(a->acked_us, acked, sizeof(acked));
    if (a->resolved_us)
        hx_time_format_rfc3339(a->resolved_us, resolved, sizeof(resolved));
    json_t *j = json_pack(
        "{s:I, s:s?, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:s, s:s, s:s?, s:s?, "
        "s:s?, s:s?, s:s?}",
        "id", (json_int_t)a->id, "patient", cli_name_of(mrns, a->patient_id), "device",
        cli_name_of(devs, a->device_id), "rule", a->rule, "class", alert_class_name(a->cls),
        "severity", alert_severity_name(a->severity), "state", alert_state_name(a->state), "title",
        a->title, "detail", a->detail, "value",
        isnan(a->current_value) ? json_null() : json_real(a->current_value), "worst",
        isnan(a->worst_value) ? json_null() : json_real(a->worst_value), "count", (int)a->count,
        "raised", raised, "updated", updated, "acknowledged", acked[0] ? acked : NULL,
        "acknowledged_by", a->acked_by[0] ? a->acked_by : NULL, "resolved",
        resolved[0] ? resolved : NULL, "resolved_by", a->resolved_by[0] ? a->resolved_by : NULL,
        "note", a->note[0] ? a->note : NULL);
    return j;
}

struct list_ctx {
    json_t *arr;
    struct table *t;
    struct cli_names mrns, devs;
};

static int list_one(void *arg, const struct alert *a)
{
    struct list_ctx *l = arg;
    if (l->arr) {
        json_array_append_new(l->arr, alert_json(a, &l->mrns, &l->devs));
        return 0;
    }
    char id[24], when[40];
    snprintf(id, sizeof(id), "%lld", (long long)a->id);
    cli_format_time(a->raised_us, when, sizeof(when));
    const char *who = cli_name_of(&l->mrns, a->patient_id);
    const char *dev = cli_name_of(&l->devs, a->device_id);
    const char *cells[] = {id,
                           alert_severity_name(a->severity),
                           alert_state_name(a->state),
                           who ? who : "-",
                           dev ? dev : "-",
                           a->title,
                           when};
    table_add(l->t, cells);
    return 0;
}

static int parse_common(const char *cmd, const char *help, int argc, char **argv,
                        struct cli_opts *o, const struct option *extra, size_t n_extra,
                        int (*on)(void *arg, int c, const char *optarg), void *arg)
{
    struct option opts[16] = {CLI_COMMON_OPTIONS};
    size_t n = 0;
    while (opts[n].name)
        n++;
    for (size_t i = 0; i < n_extra && n < 15; i++)
        opts[n++] = extra[i];
    opts[n] = (struct option){0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (c >= 'a' && c <= 'z') {
            int rc = on(arg, c, optarg);
            if (rc)
                return rc;
            continue;
        }
        if (!cli_common_option(o, c, optarg))
            return cli_usage_error(cmd, "unknown option");
    }
    return 0;
}

struct list_args {
    unsigned states;
    const char *patient;
    long limit;
};

static int list_opt(void *arg, int c, const char *v)
{
    struct list_args *a = arg;
    if (c == 's') {
        static const struct {
            const char *name;
            unsigned set;
        } m[] = {{"open", (1u << ALERT_RAISED) | (1u << ALERT_ACKED)},
                 {"raised", 1u << ALERT_RAISED},
                 {"acknowledged", 1u << ALERT_ACKED},
                 {"resolved", 1u << ALERT_RESOLVED},
                 {"all", 0}};
        for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
            if (strcmp(v, m[i].name) == 0) {
                a->states = m[i].set;
                return 0;
            }
        }
        return cli_usage_error("alert list",
                               "--state: open, raised, acknowledged, resolved or all");
    }
    if (c == 'p')
        a->patient = v;
    if (c == 'l') {
        char *end;
        a->limit = strtol(v, &end, 10);
        if (!*v || *end || a->limit < 1)
            return cli_usage_error("alert list", "--limit: a positive number");
    }
    return 0;
}

static int alert_list(int argc, char **argv)
{
    static const struct option extra[] = {{"state", required_argument, NULL, 's'},
                                          {"patient", required_argument, NULL, 'p'},
                                          {"limit", required_argument, NULL, 'l'}};
    struct cli_opts o = {0};
    struct list_args la = {.states = (1u << ALERT_RAISED) | (1u << ALERT_ACKED), .limit = 100};
    int rc = parse_common("alert list", list_help, argc, argv, &o, extra, 3, list_opt, &la);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (optind != argc)
        return cli_usage_error("alert list", "unexpected argument '%s'", argv[optind]);
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, STORE_OPEN_READONLY)))
        return rc;
    struct store_alert_filter f = {.states = la.states, .limit = (size_t)la.limit};
    if (la.patient) {
        struct patient p;
        if ((rc = store_patient_get_by_mrn(ctx.st, la.patient, &p)) < 0) {
            cli_close(&ctx);
            return rc == HX_ENOTFOUND ? cli_fail("no patient with MRN '%s'", la.patient)
                                      : cli_store_fail("reading the patient", rc);
        }
        f.patient_id = p.id;
    }
    static const char *const headers[] = {"ID",     "SEVERITY", "STATE", "PATIENT",
                                          "DEVICE", "ALERT",    "RAISED"};
    struct table t;
    table_init(&t, 7, headers);
    struct list_ctx l = {.arr = o.json ? json_array() : NULL, .t = &t};
    l.mrns = (struct cli_names){.st = ctx.st, .patients = true};
    l.devs = (struct cli_names){.st = ctx.st};
    rc = store_alert_list(ctx.st, &f, list_one, &l);
    cli_close(&ctx);
    return cli_finish_listing(rc, l.arr, &t, "listing alerts", "no alerts");
}

static int parse_id(const char *cmd, int argc, char **argv, int64_t *id)
{
    if (optind != argc - 1)
        return cli_usage_error(cmd, "expected exactly one alert ID");
    char *end;
    long long v = strtoll(argv[optind], &end, 10);
    if (!*argv[optind] || *end || v <= 0)
        return cli_usage_error(cmd, "alert ID '%s': expected a positive number", argv[optind]);
    *id = v;
    return 0;
}

static int history_one(void *arg, const struct alert_transition *t)
{
    json_t *arr = arg;
    char when[40];
    hx_time_format_rfc3339(t->at_us, when, sizeof(when));
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", when, "event",
                                         alert_event_name(t->event), "severity",
                                         alert_severity_name(t->severity), "who", t->who, "detail",
                                         t->detail));
    return 0;
}

static int noop_opt(void *arg, int c, const char *v)
{
    (void)arg, (void)c, (void)v;
    return 0;
}

static int alert_show(int argc, char **argv)
{
    struct cli_opts o = {0};
    int rc = parse_common("alert show", show_help, argc, argv, &o, NULL, 0, noop_opt, NULL);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    int64_t id;
    if ((rc = parse_id("alert show", argc, argv, &id)))
        return rc;
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, STORE_OPEN_READONLY)))
        return rc;
    struct alert a;
    rc = store_alert_get(ctx.st, id, &a);
    json_t *hist = json_array();
    if (rc == 0)
        rc = store_alert_transitions(ctx.st, id, history_one, hist);
    struct cli_names mrns = {.st = ctx.st, .patients = true}, devs = {.st = ctx.st};
    json_t *j = rc == 0 ? alert_json(&a, &mrns, &devs) : NULL;
    cli_close(&ctx);
    if (rc < 0) {
        json_decref(hist);
        return rc == HX_ENOTFOUND ? cli_fail("no alert %lld", (long long)id)
                                  : cli_store_fail("reading the alert", rc);
    }
    json_object_set_new(j, "history", hist);
    if (o.json) {
        cli_print_json(j);
        return CLI_EXIT_OK;
    }
    printf("alert %lld  %s  %s  %s\n", (long long)a.id, alert_severity_name(a.severity),
           alert_state_name(a.state), a.title);
    if (a.detail[0])
        printf("  %s\n", a.detail);
    size_t i;
    json_t *h;
    json_array_foreach(hist, i, h)
    {
        printf("  %s  %-12s %-8s %s %s\n", json_string_value(json_object_get(h, "time")),
               json_string_value(json_object_get(h, "event")),
               json_string_value(json_object_get(h, "severity")),
               json_string_value(json_object_get(h, "who")),
               json_string_value(json_object_get(h, "detail")));
    }
    json_decref(j);
    return CLI_EXIT_OK;
}

struct act_args {
    const char *by;
    const char *note;
    long wait_s;
};

static int act_opt(void *arg, int c, const char *v)
{
    struct act_args *a = arg;
    if (c == 'b')
        a->by = v;
    else if (c == 'n')
        a->note = v;
    else if (c == 'w') {
        char *end;
        a->wait_s = strtol(v, &end, 10);
        if (!*v || *end || a->wait_s < 0 || a->wait_s > 3600)
            return cli_usage_error("alert", "--wait: 0 to 3600 seconds");
    }
    return 0;
}

static int act(int argc, char **argv, bool resolve)
{
    const char *cmd = resolve ? "alert resolve" : "alert ack";
    static const struct option extra[] = {{"by", required_argument, NULL, 'b'},
                                          {"note", required_argument, NULL, 'n'},
                                          {"wait", required_argument, NULL, 'w'}};
    struct cli_opts o = {0};
    struct act_args aa = {.wait_s = 5};
    int rc = parse_common(cmd, resolve ? resolve_help : ack_help, argc, argv, &o, extra, 3, act_opt,
                          &aa);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    int64_t id;
    if ((rc = parse_id(cmd, argc, argv, &id)))
        return rc;
    if (resolve && (!aa.note || !aa.note[0]))
        return cli_usage_error(cmd, "--note is required: say why it is resolved");
    const char *by = aa.by ? aa.by : getenv("USER");
    struct alert_action x = {.alert_id = id,
                             .action = resolve ? ALERT_ACTION_RESOLVE : ALERT_ACTION_ACK};
    snprintf(x.who, sizeof(x.who), "%s", by && *by ? by : "cli");
    snprintf(x.note, sizeof(x.note), "%s", aa.note ? aa.note : "");
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, 0)))
        return rc;
    struct alert a;
    if ((rc = store_alert_get(ctx.st, id, &a)) < 0) {
        cli_close(&ctx);
        return rc == HX_ENOTFOUND ? cli_fail("no alert %lld", (long long)id)
                                  : cli_store_fail("reading the alert", rc);
    }
    if (a.state == ALERT_RESOLVED) {
        cli_close(&ctx);
        return cli_fail("alert %lld is already resolved", (long long)id);
    }
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_alert_action_add(ctx.st, &x);
    if (rc == 0) {
        /* The request, when it is made; the daemon records the transition it applies
         * (alert.acknowledged, alert.resolved). The note is free text: not recorded. */
        char aid[24];
        snprintf(aid, sizeof(aid), "%lld", (long long)id);
        char *details =
            cli_details(json_pack("{s:s, s:I}", "by", x.who, "action_id", (json_int_t)x.id));
        struct audit_entry e = {.action = resolve ? "alert.resolve" : "alert.ack",
                                .patient_id = a.patient_id,
                                .object_type = "alert",
                                .object_id = aid,
                                .details = details};
        rc = cli_audit(&ctx, &e);
        free(details);
    }
    if ((rc = cli_end(&ctx, rc)) < 0) {
        cli_close(&ctx);
        return cli_store_fail("queueing the action", rc);
    }
    int64_t deadline = hx_time_now_us() + aa.wait_s * 1000000;
    struct alert_action now = x;
    while ((rc = store_alert_action_get(ctx.st, x.id, &now)) == 0 && !now.applied_us &&
           hx_time_now_us() < deadline) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cli_close(&ctx);
    if (rc < 0)
        return cli_store_fail("reading the action back", rc);
    const char *what = resolve ? "resolved" : "acknowledged";
    if (o.json) {
        cli_print_json(json_pack("{s:I, s:s, s:s, s:b, s:s?}", "id", (json_int_t)id, "action",
                                 resolve ? "resolve" : "ack", "by", x.who, "applied",
                                 now.applied_us != 0, "error",
                                 now.applied_us && now.result ? hx_strerror(now.result) : NULL));
    } else if (!now.applied_us) {
        printf("alert %lld: queued; the daemon has not applied it yet (is medhub serve "
               "running?)\n",
               (long long)id);
    } else if (now.result == HX_EINVAL) {
        printf("alert %lld was already acknowledged\n", (long long)id);
    } else if (now.result) {
        return cli_fail("alert %lld: %s", (long long)id,
                        now.result == HX_ENOTFOUND ? "not open any more" : hx_strerror(now.result));
    } else {
        printf("alert %lld %s by %s\n", (long long)id, what, x.who);
    }
    return now.applied_us && now.result && now.result != HX_EINVAL ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int alert_ack(int argc, char **argv)
{
    return act(argc, argv, false);
}

static int alert_resolve(int argc, char **argv)
{
    return act(argc, argv, true);
}

int cmd_alert(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"list", "list alerts (open ones by default)", alert_list},
        {"show", "one alert and its history", alert_show},
        {"ack", "acknowledge an alert (stops escalation)", alert_ack},
        {"resolve", "resolve an alert by hand, with a note", alert_resolve},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("alert", group_help, subs, argc, argv);
}
