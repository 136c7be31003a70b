/*
 * medhub rules show|set|unset|protocols: the clinical rule settings (care protocols,
 * per-patient overrides, device-kind intervals, escalation). Settings are validated here
 * with the same parser the daemon uses, stored (all of one command in one transaction, each
 * with its audit entry: rules.set, rules.unset), and picked up by the running daemon within a
 * second or two. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "domain/codes.h"
#include "rules/news2.h"
#include "rules/protocol.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char group_help[] =
    "Usage: medhub rules COMMAND [options]\n\n"
    "Clinical rule settings: each patient follows a care protocol (adult_ward by default)\n"
    "with its threshold rules, NEWS2, trends and forecasts; settings override them for\n"
    "everyone (--global), one patient (--patient MRN) or one device kind (--kind KIND).\n"
    "See docs/rules.md for every key.\n";

static const char show_help[] =
    "Usage: medhub rules show [--patient MRN] [--data-dir DIR] [--json]\n\n"
    "Without --patient: every stored setting. With --patient: the rules in force for that\n"
    "patient (protocol defaults, then global settings, then the patient's own).\n";

static const char set_help[] =
    "Usage: medhub rules set (--global | --patient MRN | --kind KIND) KEY=VALUE...\n"
    "                        [--by NAME] [--data-dir DIR]\n\n"
    "Stores settings, checked first. Examples:\n"
    "  medhub rules set --patient MRN7 protocol=copd spo2.low=88:medium,85:high\n"
    "  medhub rules set --patient MRN7 spo2_scale=2\n"
    "  medhub rules set --global escalation.high=0:primary_nurse,300:charge_nurse;repeat=300\n"
    "  medhub rules set --kind oximeter nodata_interval=120\n"
    "Keys: protocol, spo2_scale, news2, news2_min_band, news2_fresh, CODE.low, CODE.high,\n"
    "CODE.persist, CODE.hysteresis, weight_gain_3d, weight_gain_1d, glucose_fall,\n"
    "forecast_horizon, schedule.weight|bp|glucose|spo2; global only: escalation.SEVERITY,\n"
    "nodata_grace_ms; kind only: nodata_interval.\n";

static const char unset_help[] =
    "Usage: medhub rules unset (--global | --patient MRN | --kind KIND) KEY... [--data-dir DIR]\n\n"
    "Removes settings: the protocol's default applies again.\n";

static const char protocols_help[] = "Usage: medhub rules protocols [--json]\n\n"
                                     "Lists the care protocols and their threshold rules.\n";

struct scope_args {
    const char *scope;    /* "global", "patient", "kind" */
    const char *scope_id; /* MRN or kind */
    const char *by;
    const char *patient; /* show --patient */
};

static int parse(const char *cmd, const char *help, int argc, char **argv, struct cli_opts *o,
                 struct scope_args *s)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"global", no_argument, NULL, 'g'},
        {"patient", required_argument, NULL, 'p'},
        {"kind", required_argument, NULL, 'k'},
        {"by", required_argument, NULL, 'b'},
        {0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_HELP:
            fputs(help, stdout);
            return -1;
        case 'g':
            s->scope = "global", s->scope_id = "";
            break;
        case 'p':
            s->scope = "patient", s->scope_id = optarg, s->patient = optarg;
            break;
        case 'k':
            if (!dev_kind_is_valid(optarg))
                return cli_usage_error(cmd, "unknown device kind '%s'", optarg);
            s->scope = "kind", s->scope_id = optarg;
            break;
        case 'b':
            s->by = optarg;
            break;
        default:
            if (!cli_common_option(o, c, optarg))
                return cli_usage_error(cmd, "unknown option");
        }
    }
    return 0;
}

/* Checks KEY=VALUE for scope (err explains). */
static int validate(const char *scope, const char *key, const char *value, char *err,
                    size_t err_len)
{
    if (strcmp(scope, "kind") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        if (strcmp(key, "nodata_interval") != 0) {
            snprintf(err, err_len, "a kind takes nodata_interval only, not '%s'", key);
            return HX_EINVAL;
        }
        if (!*value || *end || v < 0 || v > 30 * 86400) {
            snprintf(err, err_len, "nodata_interval: seconds, 0 (not watched) to 2592000");
            return HX_EINVAL;
        }
        return 0;
    }
    if (strncmp(key, "escalation.", 11) == 0 || strcmp(key, "nodata_grace_ms") == 0) {
        if (strcmp(scope, "global") != 0) {
            snprintf(err, err_len, "%s is a --global setting", key);
            return HX_EINVAL;
        }
        if (key[0] == 'n') {
            char *end;
            long v = strtol(value, &end, 10);
            if (!*value || *end || v < 0 || v > 3600000) {
                snprintf(err, err_len, "nodata_grace_ms: 0 to 3600000");
                return HX_EINVAL;
            }
            return 0;
        }
        if (!alert_severity_parse(key + 11)) {
            snprintf(err, err_len, "unknown severity in '%s' (info, low, medium, high, critical)",
                     key);
            return HX_EINVAL;
        }
        struct rules_escalation e;
        return rules_escalation_parse(&e, value, err, err_len);
    }
    struct rules_patient_config c;
    rules_config_defaults(&c, RULES_PROTO_ADULT_WARD);
    return rules_config_apply(&c, key, value, err, err_len);
}

/* Checks the scope; OUT: *patient_id (may be NULL) the patient's id for --patient, else 0. */
static int check_scope(struct cli_ctx *ctx, const char *cmd, const struct scope_args *s,
                       int64_t *patient_id)
{
    if (patient_id)
        *patient_id = 0;
    if (!s->scope)
        return cli_usage_error(cmd, "say where: --global, --patient MRN or --kind KIND");
    if (strcmp(s->scope, "patient") == 0) {
        struct patient p;
        int rc = store_patient_get_by_mrn(ctx->st, s->scope_id, &p);
        if (rc < 0)
            return rc == HX_ENOTFOUND ? cli_fail("no patient with MRN '%s'", s->scope_id)
                                      : cli_store_fail("reading the patient", rc);
        if (patient_id)
            *patient_id = p.id;
    }
    return 0;
}

/* Appends the audit entry of one setting change inside the open transaction. The object is
 * scope:id:key, with the patient's internal id rather than the MRN. */
static int audit_setting(struct cli_ctx *ctx, const struct rule_setting *r, int64_t patient_id,
                         bool unset, const char *claimed_by)
{
    char obj[AUDIT_OBJID_MAX], pid[24];
    snprintf(pid, sizeof(pid), "%lld", (long long)patient_id);
    snprintf(obj, sizeof(obj), "%.15s:%.63s:%.63s", r->scope, patient_id ? pid : r->scope_id,
             r->key);
    char *details =
        cli_details(json_pack("{s:s, s:s, s:s*, s:s*}", "scope", r->scope, "key", r->key, "value",
                              unset ? NULL : r->value, "by", claimed_by));
    struct audit_entry e = {.action = unset ? "rules.unset" : "rules.set",
                            .patient_id = patient_id,
                            .object_type = "rule_setting",
                            .object_id = obj,
                            .details = details};
    int rc = cli_audit(ctx, &e);
    free(details);
    return rc;
}

static int rules_set(int argc, char **argv, bool unset)
{
    const char *cmd = unset ? "rules unset" : "rules set";
    struct cli_opts o = {0};
    struct scope_args s = {0};
    int rc = parse(cmd, unset ? unset_help : set_help, argc, argv, &o, &s);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (optind >= argc)
        return cli_usage_error(cmd, unset ? "expected KEY..." : "expected KEY=VALUE...");
    if (!s.scope)
        return cli_usage_error(cmd, "say where: --global, --patient MRN or --kind KIND");
    struct rule_setting set[32];
    int n = 0;
    for (int i = optind; i < argc; i++) {
        if (n == 32)
            return cli_usage_error(cmd, "at most 32 settings at once");
        struct rule_setting *r = &set[n++];
        memset(r, 0, sizeof(*r));
        const char *eq = strchr(argv[i], '=');
        if (unset == (eq != NULL))
            return cli_usage_error(cmd, unset ? "'%s': expected KEY" : "'%s': expected KEY=VALUE",
                                   argv[i]);
        size_t kl = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        if (kl == 0 || kl >= sizeof(r->key) || (eq && strlen(eq + 1) >= sizeof(r->value)))
            return cli_usage_error(cmd, "'%s': key or value too long", argv[i]);
        memcpy(r->key, argv[i], kl);
        if (eq) {
            snprintf(r->value, sizeof(r->value), "%s", eq + 1);
            char err[200];
            if (validate(s.scope, r->key, r->value, err, sizeof(err)) < 0)
                return cli_usage_error(cmd, "%s", err);
        }
        snprintf(r->scope, sizeof(r->scope), "%s", s.scope);
        snprintf(r->scope_id, sizeof(r->scope_id), "%s", s.scope_id);
        const char *by = s.by ? s.by : getenv("USER");
        snprintf(r->updated_by, sizeof(r->updated_by), "%s", by ? by : "cli");
    }
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, 0)))
        return rc;
    int64_t patient_id = 0;
    if ((rc = check_scope(&ctx, cmd, &s, &patient_id))) {
        cli_close(&ctx);
        return rc;
    }
    /* All of them or none, each with its audit entry. */
    int i = 0;
    rc = store_begin(ctx.st);
    for (; rc == 0 && i < n; i++) {
        set[i].updated_us = hx_time_now_us();
        rc = store_rule_setting_set(ctx.st, &set[i]);
        if (rc == 0)
            rc = audit_setting(&ctx, &set[i], patient_id, unset, s.by);
        if (rc < 0)
            break;
    }
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    if (rc == HX_ENOTFOUND && unset)
        return cli_fail("no setting '%s' for %s %s", set[i].key, s.scope, s.scope_id);
    if (rc < 0)
        return cli_store_fail("storing the setting", rc);
    for (i = 0; i < n; i++)
        printf("%s %s%s%s%s%s\n", unset ? "removed" : "set", s.scope, s.scope_id[0] ? " " : "",
               s.scope_id, " ", set[i].key);
    return CLI_EXIT_OK;
}

static int rules_set_cmd(int argc, char **argv)
{
    return rules_set(argc, argv, false);
}

static int rules_unset_cmd(int argc, char **argv)
{
    return rules_set(argc, argv, true);
}

struct show_ctx {
    json_t *arr;
    struct table *t;
    const char *patient; /* only this patient's and global ones, or NULL for all */
    struct rules_patient_config *cfg;
    int pass; /* apply: 0 global protocol, 1 global rest, 2 patient protocol, 3 patient rest */
};

static int show_one(void *arg, const struct rule_setting *r)
{
    struct show_ctx *s = arg;
    if (s->cfg) {
        bool global = strcmp(r->scope, "global") == 0;
        bool mine = strcmp(r->scope, "patient") == 0 && strcmp(r->scope_id, s->patient) == 0;
        bool proto = strcmp(r->key, "protocol") == 0;
        bool want = (s->pass < 2 ? global : mine) && (s->pass % 2 == 0) == proto &&
                    strncmp(r->key, "escalation.", 11) != 0 &&
                    strcmp(r->key, "nodata_grace_ms") != 0;
        char err[160];
        if (want)
            rules_config_apply(s->cfg, r->key, r->value, err, sizeof(err));
        return 0;
    }
    char when[40];
    cli_format_time(r->updated_us, when, sizeof(when));
    if (s->arr) {
        json_array_append_new(s->arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "scope", r->scope,
                                                "scope_id", r->scope_id, "key", r->key, "value",
                                                r->value, "updated", when, "by", r->updated_by));
        return 0;
    }
    const char *cells[] = {r->scope,     r->scope_id[0] ? r->scope_id : "-", r->key, r->value, when,
                           r->updated_by};
    table_add(s->t, cells);
    return 0;
}

static void threshold_text(const struct rules_threshold *t, char *buf, size_t cap)
{
    int n = 0;
    for (int i = 0; i < t->n_tiers && n >= 0 && (size_t)n < cap; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%s%s %g %s", i ? ", " : "",
                      t->dir == RULES_LOW ? "<" : ">", t->limit[i],
                      alert_severity_name(t->severity[i]));
    if (n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " (persist %us/%u readings, hysteresis %g)",
                 t->persist_s, t->persist_n, t->hysteresis);
}

static json_t *config_json(const struct rules_patient_config *c)
{
    json_t *th = json_array();
    for (size_t i = 0; i < c->n_thresholds; i++) {
        const struct rules_threshold *t = &c->thresholds[i];
        if (!t->n_tiers)
            continue;
        const struct obs_code *oc = obs_code_get(t->code);
        json_t *tiers = json_array();
        for (int k = 0; k < t->n_tiers; k++)
            json_array_append_new(tiers, json_pack("{s:f, s:s}", "limit", t->limit[k], "severity",
                                                   alert_severity_name(t->severity[k])));
        json_array_append_new(
            th, json_pack("{s:s, s:s, s:o, s:f, s:i, s:i}", "code", oc ? oc->senml_name : "?",
                          "direction", t->dir == RULES_LOW ? "low" : "high", "tiers", tiers,
                          "hysteresis", t->hysteresis, "persist_s", (int)t->persist_s,
                          "persist_readings", (int)t->persist_n));
    }
    return json_pack(
        "{s:s, s:i, s:b, s:s, s:i, s:o, s:f, s:f, s:f, s:i}", "protocol",
        rules_protocol_name(c->protocol), "spo2_scale", c->spo2_scale, "news2", c->news2_enabled,
        "news2_min_band", rules_news2_band_name((enum rules_news2_band)c->news2_min_band),
        "news2_fresh_s", (int)c->news2_fresh_s, "thresholds", th, "weight_gain_3d_kg",
        c->weight_gain_3d_kg, "weight_gain_1d_kg", c->weight_gain_1d_kg, "glucose_fall_per_min",
        c->glucose_fall_per_min, "forecast_horizon_s", (int)c->forecast_horizon_s);
}

static void print_config(const struct rules_patient_config *c)
{
    printf("protocol        %s\n", rules_protocol_name(c->protocol));
    printf("NEWS2           %s, SpO2 scale %u, alerts from the %s band, components fresh within "
           "%u s\n",
           c->news2_enabled ? "on" : "off", c->spo2_scale,
           rules_news2_band_name((enum rules_news2_band)c->news2_min_band), c->news2_fresh_s);
    for (size_t i = 0; i < c->n_thresholds; i++) {
        const struct rules_threshold *t = &c->thresholds[i];
        if (!t->n_tiers)
            continue;
        const struct obs_code *oc = obs_code_get(t->code);
        char text[256];
        threshold_text(t, text, sizeof(text));
        printf("%-15s %s\n", oc ? oc->senml_name : "?", text);
    }
    if (c->weight_gain_3d_kg > 0 || c->weight_gain_1d_kg > 0)
        printf("weight trend    > %.1f kg in 3 days, > %.1f kg in 1 day\n", c->weight_gain_3d_kg,
               c->weight_gain_1d_kg);
    if (c->glucose_fall_per_min > 0)
        printf("glucose trend   falling > %.1f mg/dL per min\n", c->glucose_fall_per_min);
    printf("forecasts       %s\n", c->forecast_horizon_s ? "on" : "off");
}

static int rules_show(int argc, char **argv)
{
    struct cli_opts o = {0};
    struct scope_args s = {0};
    int rc = parse("rules show", show_help, argc, argv, &o, &s);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, STORE_OPEN_READONLY)))
        return rc;
    if (s.patient) {
        if ((rc = check_scope(&ctx, "rules show", &s, NULL))) {
            cli_close(&ctx);
            return rc;
        }
        struct rules_patient_config c;
        rules_config_defaults(&c, RULES_PROTO_ADULT_WARD);
        struct show_ctx sc = {.patient = s.patient, .cfg = &c};
        for (sc.pass = 0; sc.pass < 4 && rc == 0; sc.pass++)
            rc = store_rule_setting_list(ctx.st, show_one, &sc);
        cli_close(&ctx);
        if (rc < 0)
            return cli_store_fail("reading the settings", rc);
        if (o.json)
            cli_print_json(config_json(&c));
        else
            print_config(&c);
        return CLI_EXIT_OK;
    }
    static const char *const headers[] = {"SCOPE", "FOR", "KEY", "VALUE", "SET", "BY"};
    struct table t;
    table_init(&t, 6, headers);
    struct show_ctx sc = {.arr = o.json ? json_array() : NULL, .t = &t};
    rc = store_rule_setting_list(ctx.st, show_one, &sc);
    cli_close(&ctx);
    return cli_finish_listing(rc, sc.arr, &t, "reading the settings",
                              "no settings: every patient follows adult_ward");
}

static int rules_protocols(int argc, char **argv)
{
    struct cli_opts o = {0};
    struct scope_args s = {0};
    int rc = parse("rules protocols", protocols_help, argc, argv, &o, &s);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    json_t *arr = o.json ? json_array() : NULL;
    for (int p = 0; p < RULES_PROTO__COUNT; p++) {
        struct rules_patient_config c;
        rules_config_defaults(&c, p);
        if (arr) {
            json_array_append_new(arr, config_json(&c));
        } else {
            print_config(&c);
            printf("\n");
        }
    }
    if (arr)
        cli_print_json(arr);
    return CLI_EXIT_OK;
}

int cmd_rules(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"show", "stored settings, or the rules in force for a patient", rules_show},
        {"set", "store settings (checked first)", rules_set_cmd},
        {"unset", "remove settings", rules_unset_cmd},
        {"protocols", "the care protocols and their rules", rules_protocols},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("rules", group_help, subs, argc, argv);
}
