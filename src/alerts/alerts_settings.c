/*
 * From stored rule settings (and the device list) to a plan the engine applies in one go.
 * Scopes: "global" keys apply to every patient's config first (protocol before the others);
 * "patient" keys (scope id = MRN) apply on top for that patient; "global" also holds
 * escalation.SEVERITY and nodata_grace_ms; "kind" holds nodata_interval (seconds) per device
 * kind. A setting that does not parse is counted and logged, never fatal: the CLI validates
 * before storing, so this only happens after a downgrade.
 * Thread: any (alerts__plan_build uses only its store connection), except
 * alerts__plan_apply (loop).
 */
#include "alerts/alerts_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

struct settings {
    struct rule_setting *v;
    size_t n, cap;
};

static int collect_setting(void *arg, const struct rule_setting *s)
{
    struct settings *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->v = hx_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = *s;
    return 0;
}

/* Applies the settings of (scope, scope_id) to c: "protocol" first, then the others. */
static void apply_scope(const struct settings *l, const char *scope, const char *scope_id,
                        struct rules_patient_config *c, uint32_t *n_bad)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < l->n; i++) {
            const struct rule_setting *s = &l->v[i];
            if (strcmp(s->scope, scope) != 0 || strcmp(s->scope_id, scope_id) != 0)
                continue;
            bool proto = strcmp(s->key, "protocol") == 0;
            if ((pass == 0) != proto || strncmp(s->key, "escalation.", 11) == 0 ||
                strcmp(s->key, "nodata_grace_ms") == 0)
                continue;
            char err[160];
            if (rules_config_apply(c, s->key, s->value, err, sizeof(err)) < 0) {
                (*n_bad)++;
                log_warn(NULL, "alerts", "rule setting ignored", "scope=%s key=%s err=\"%s\"",
                         scope, s->key, err);
            }
        }
    }
}

struct dev_list {
    struct device *v;
    size_t n, cap;
};

static int collect_device(void *arg, const struct device *d)
{
    struct dev_list *l = arg;
    if (d->status != DEV_STATUS_ACTIVE)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = hx_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = *d;
    return 0;
}

int alerts__plan_build(struct store *st, int64_t now_us, struct alerts__plan *out)
{
    memset(out, 0, sizeof(*out));
    struct settings l = {0};
    int rc = store_rule_setting_list(st, collect_setting, &l);
    if (rc < 0) {
        free(l.v);
        return rc;
    }
    rules_config_defaults(&out->dflt, RULES_PROTO_ADULT_WARD);
    apply_scope(&l, "global", "", &out->dflt, &out->n_bad);
    for (int s = 0; s <= ALERT_SEV_CRITICAL; s++)
        rules_escalation_defaults(&out->esc[s], s);
    out->grace_ms = 1000;
    for (size_t i = 0; i < l.n; i++) {
        const struct rule_setting *s = &l.v[i];
        char err[160] = "";
        if (strcmp(s->scope, "global") == 0 && strncmp(s->key, "escalation.", 11) == 0) {
            int sev = alert_severity_parse(s->key + 11);
            if (!sev || rules_escalation_parse(&out->esc[sev], s->value, err, sizeof(err)) < 0)
                out->n_bad++;
        } else if (strcmp(s->scope, "global") == 0 && strcmp(s->key, "nodata_grace_ms") == 0) {
            out->grace_ms = (uint32_t)strtoul(s->value, NULL, 10);
        } else if (strcmp(s->scope, "patient") == 0) {
            bool seen = false;
            for (size_t k = 0; k < i; k++)
                seen = seen || (strcmp(l.v[k].scope, "patient") == 0 &&
                                strcmp(l.v[k].scope_id, s->scope_id) == 0);
            if (seen)
                continue;
            struct patient p;
            if (store_patient_get_by_mrn(st, s->scope_id, &p) < 0) {
                out->n_bad++;
                continue;
            }
            out->patients =
                hx_xrealloc(out->patients, (out->n_patients + 1) * sizeof(*out->patients));
            struct alerts__patient_cfg *pc = &out->patients[out->n_patients++];
            pc->patient_id = p.id;
            pc->cfg = out->dflt;
            apply_scope(&l, "patient", s->scope_id, &pc->cfg, &out->n_bad);
        }
    }

    /* Devices to watch: active, assigned now, of a kind with an expected interval. */
    struct dev_list dl = {0};
    rc = store_device_list(st, collect_device, &dl);
    for (size_t i = 0; rc == 0 && i < dl.n; i++) {
        const struct device *d = &dl.v[i];
        uint32_t interval = rules_kind_interval_s(d->kind);
        for (size_t k = 0; k < l.n; k++)
            if (strcmp(l.v[k].scope, "kind") == 0 && strcmp(l.v[k].scope_id, d->kind) == 0 &&
                strcmp(l.v[k].key, "nodata_interval") == 0)
                interval = (uint32_t)strtoul(l.v[k].value, NULL, 10);
        int64_t patient = 0;
        if (store_device_patient_at(st, d->id, now_us, &patient) < 0 || !patient)
            interval = 0; /* an unassigned device is nobody's missing data */
        out->devices = hx_xrealloc(out->devices, (out->n_devices + 1) * sizeof(*out->devices));
        out->devices[out->n_devices++] = (struct alerts__watch){
            .device_id = d->id,
            .patient_id = patient,
            .interval_s = interval,
            .last_seen_us = d->last_seen_us,
        };
    }
    free(dl.v);
    free(l.v);
    return rc;
}

void alerts__plan_apply(struct alerts *a, const struct alerts__plan *p, bool settings,
                        int64_t now_us)
{
    struct rules_engine *e = a->engine;
    if (settings) { /* a new config restarts every rule's persistence: only when it changed */
        rules_engine_set_default_config(e, &p->dflt);
        rules_engine_clear_patient_configs(e);
        for (size_t i = 0; i < p->n_patients; i++)
            rules_engine_set_patient_config(e, p->patients[i].patient_id, &p->patients[i].cfg);
        for (int s = ALERT_SEV_INFO; s <= ALERT_SEV_CRITICAL; s++)
            rules_engine_set_escalation(e, s, &p->esc[s]);
        rules_engine_set_nodata_grace(e, p->grace_ms);
    }
    for (size_t i = 0; i < p->n_devices; i++) {
        const struct alerts__watch *w = &p->devices[i];
        rules_engine_watch_device(e, w->device_id, w->patient_id, w->interval_s, w->last_seen_us,
                                  now_us);
    }
    alerts__rearm(a);
}

void alerts__plan_release(struct alerts__plan *p)
{
    free(p->patients);
    free(p->devices);
    memset(p, 0, sizeof(*p));
}
