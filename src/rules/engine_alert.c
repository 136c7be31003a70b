/*
 * Alert episodes: one open alert per (class, owner, rule). Raising an open alert updates it
 * (count, current and worst value, a higher severity); it moves raised -> acknowledged ->
 * resolved, automatically resolved when its condition clears, and a new episode starts after
 * that. Escalation: the severity's policy notifies tier 0 at once (with the raise), the next
 * tiers at their delays after the raise, then repeats the last tier until someone
 * acknowledges. Every transition goes to the sink. Thread: loop.
 */
#include "core/err.h"
#include "core/mem.h"
#include "rules/engine_int.h"

#include <math.h>

/* How often an open alert's count and current value reach the sink without other change. */
#define RULES__REPORT_EVERY_US INT64_C(1000000)
#include <stdio.h>
#include <string.h>

uint64_t rules__key(int cls, int64_t owner, const char *rule)
{
    uint64_t h = UINT64_C(1469598103934665603) ^ (uint64_t)cls;
    for (const char *p = rule; *p; p++)
        h = (h ^ (uint8_t)*p) * UINT64_C(1099511628211);
    h ^= (uint64_t)owner * UINT64_C(0x9E3779B97F4A7C15);
    h ^= h >> 29;
    return h ? h : 1; /* 0 is a valid key for hx_idmap, but keep it distinct anyway */
}

struct rules__alert *rules__find(const struct rules_engine *e, int cls, int64_t owner,
                                 const char *rule)
{
    struct rules__alert *a = hx_idmap_get(&e->by_key, (int64_t)rules__key(cls, owner, rule));
    /* A 64-bit collision between two open alerts is not expected; check anyway. */
    return a && a->owner == owner && a->a.cls == cls && strcmp(a->a.rule, rule) == 0 ? a : NULL;
}

static void emit(struct rules_engine *e, const struct rules__alert *a, enum alert_event ev,
                 const char *who, const char *target)
{
    if (e->sink.changed)
        e->sink.changed(e->sink.arg, &a->a, ev, who, target);
}

/* Plans the next escalation of a from its severity's policy, or cancels it. */
static void plan(struct rules_engine *e, struct rules__alert *a)
{
    const struct rules_escalation *p = &e->esc[a->a.severity];
    int64_t due = 0;
    if (a->a.state == ALERT_RAISED && p->n_tiers) {
        if (a->a.tier < p->n_tiers)
            due = a->a.raised_us + (int64_t)p->after_s[a->a.tier] * 1000000;
        else if (p->repeat_s)
            due = a->a.raised_us + (int64_t)p->after_s[p->n_tiers - 1] * 1000000 +
                  (int64_t)(a->esc_repeats + 1) * p->repeat_s * 1000000;
    }
    a->a.next_escalation_us = due;
    if (due)
        rules__timer_set(e, &a->esc, due);
    else
        rules__timer_cancel(e, &a->esc);
}

void rules__escalate(struct rules_engine *e, struct rules__alert *a, int64_t now)
{
    const struct rules_escalation *p = &e->esc[a->a.severity];
    if (a->a.state != ALERT_RAISED || p->n_tiers == 0) {
        plan(e, a);
        return;
    }
    const char *target;
    if (a->a.tier < p->n_tiers) {
        target = p->target[a->a.tier];
        a->a.tier++;
    } else {
        target = p->target[p->n_tiers - 1];
        a->esc_repeats++;
    }
    a->a.updated_us = now;
    e->stats.escalations++;
    plan(e, a);
    emit(e, a, ALERT_EV_ESCALATED, NULL, target);
}

static void set_text(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

struct rules__alert *rules__raise(struct rules_engine *e, const struct rules__change *c)
{
    struct rules__alert *a = rules__find(e, c->cls, c->owner, c->rule);
    if (a) {
        bool changed = false, rose = false;
        a->a.count++;
        a->a.current_value = c->value;
        if (!isnan(c->value) &&
            (isnan(a->a.worst_value) ||
             (c->worse_is_lower ? c->value < a->a.worst_value : c->value > a->a.worst_value))) {
            a->a.worst_value = c->value;
            changed = true;
        }
        if (c->severity > a->a.severity) {
            a->a.severity = (uint8_t)c->severity;
            rose = a->a.state == ALERT_RAISED;
            set_text(a->a.title, sizeof(a->a.title), c->title);
            set_text(a->a.detail, sizeof(a->a.detail), c->detail);
            changed = true;
        }
        /* Count and current value alone are reported at most once a second. */
        if (changed || c->at - a->reported_us >= RULES__REPORT_EVERY_US) {
            a->reported_us = c->at;
            a->a.updated_us = c->at;
            a->a.trigger_received_us = c->rx;
            if (rose) /* the new severity's tiers, counted from the raise, apply now */
                plan(e, a);
            emit(e, a, ALERT_EV_UPDATED, NULL, NULL);
            if (rose && a->a.next_escalation_us && a->a.next_escalation_us <= c->at)
                rules__escalate(e, a, c->at);
        }
        return a;
    }
    a = hx_xcalloc(1, sizeof(*a));
    a->a.id = e->next_id++;
    a->a.patient_id = c->patient_id;
    a->a.device_id = c->device_id;
    set_text(a->a.rule, sizeof(a->a.rule), c->rule);
    a->a.cls = (uint8_t)c->cls;
    a->a.severity = (uint8_t)c->severity;
    a->a.state = ALERT_RAISED;
    a->a.code = c->code;
    set_text(a->a.title, sizeof(a->a.title), c->title);
    set_text(a->a.detail, sizeof(a->a.detail), c->detail);
    a->a.first_value = a->a.worst_value = a->a.current_value = c->value;
    a->a.count = 1;
    a->a.raised_us = a->a.updated_us = a->reported_us = c->at;
    a->a.trigger_received_us = c->rx;
    a->owner = c->owner;
    a->patient = c->patient;
    if (a->patient)
        a->patient->n_open++;
    a->key = rules__key(c->cls, c->owner, c->rule);
    rules__timer_init(&a->esc, RULES__T_ESCALATION, a);
    hx_idmap_put(&e->alerts, a->a.id, a);
    hx_idmap_put(&e->by_key, (int64_t)a->key, a);
    e->stats.raised++;
    e->stats.open++;
    /* Tier 0 is told with the raise when it is due at once. */
    const struct rules_escalation *p = &e->esc[a->a.severity];
    const char *target = NULL;
    if (p->n_tiers && p->after_s[0] == 0) {
        target = p->target[0];
        a->a.tier = 1;
    }
    plan(e, a);
    emit(e, a, ALERT_EV_RAISED, NULL, target);
    return a;
}

static void forget(struct rules_engine *e, struct rules__alert *a)
{
    if (a->patient)
        a->patient->n_open--;
    rules__timer_cancel(e, &a->esc);
    hx_idmap_del(&e->alerts, a->a.id, a);
    hx_idmap_del(&e->by_key, (int64_t)a->key, a);
    e->stats.open--;
    free(a);
}

void rules__resolve(struct rules_engine *e, struct rules__alert *a, const char *who,
                    const char *note, int64_t now)
{
    if (a->a.state == ALERT_ACKED)
        e->stats.acked--;
    a->a.state = ALERT_RESOLVED;
    a->a.resolved_us = now;
    a->a.updated_us = now;
    a->a.next_escalation_us = 0;
    set_text(a->a.resolved_by, sizeof(a->a.resolved_by), who);
    set_text(a->a.note, sizeof(a->a.note), note);
    e->stats.resolved++;
    emit(e, a, ALERT_EV_RESOLVED, who, NULL);
    forget(e, a);
}

void rules__clear(struct rules_engine *e, int cls, int64_t owner, const char *rule, int64_t now)
{
    struct rules__alert *a = rules__find(e, cls, owner, rule);
    if (a)
        rules__resolve(e, a, "auto", "", now);
}

int rules_engine_ack(struct rules_engine *e, int64_t alert_id, const char *who, int64_t now_us)
{
    struct rules__alert *a = hx_idmap_get(&e->alerts, alert_id);
    if (!a)
        return HX_ENOTFOUND;
    if (a->a.state != ALERT_RAISED)
        return HX_EINVAL;
    a->a.state = ALERT_ACKED;
    e->stats.acked++;
    a->a.acked_us = now_us;
    a->a.updated_us = now_us;
    set_text(a->a.acked_by, sizeof(a->a.acked_by), who);
    plan(e, a); /* cancels the escalation */
    emit(e, a, ALERT_EV_ACKED, who, NULL);
    return 0;
}

int rules_engine_resolve(struct rules_engine *e, int64_t alert_id, const char *who,
                         const char *note, int64_t now_us)
{
    struct rules__alert *a = hx_idmap_get(&e->alerts, alert_id);
    if (!a)
        return HX_ENOTFOUND;
    rules__resolve(e, a, who, note, now_us);
    return 0;
}

int rules_engine_escalate(struct rules_engine *e, int64_t alert_id, const char *who, int64_t now_us)
{
    struct rules__alert *a = hx_idmap_get(&e->alerts, alert_id);
    if (!a || a->a.state == ALERT_RESOLVED)
        return HX_ENOTFOUND;
    const struct rules_escalation *p = &e->esc[a->a.severity];
    const char *target = "manual";
    if (p->n_tiers) {
        target = p->target[a->a.tier < p->n_tiers ? a->a.tier : p->n_tiers - 1];
        if (a->a.tier < p->n_tiers)
            a->a.tier++;
    }
    a->a.updated_us = now_us;
    e->stats.escalations++;
    plan(e, a);
    emit(e, a, ALERT_EV_ESCALATED, who, target);
    return 0;
}

void rules_engine_restore(struct rules_engine *e, const struct alert *in, int64_t now_us)
{
    if (in->state == ALERT_RESOLVED || hx_idmap_get(&e->alerts, in->id))
        return;
    struct rules__alert *a = hx_xcalloc(1, sizeof(*a));
    a->a = *in;
    a->owner = in->cls == ALERT_CLASS_TECHNICAL && in->device_id ? in->device_id : in->patient_id;
    a->key = rules__key(in->cls, a->owner, in->rule);
    rules__timer_init(&a->esc, RULES__T_ESCALATION, a);
    if (rules__find(e, in->cls, a->owner, in->rule)) { /* two open episodes: keep the first */
        free(a);
        return;
    }
    hx_idmap_put(&e->alerts, a->a.id, a);
    hx_idmap_put(&e->by_key, (int64_t)a->key, a);
    if (in->cls == ALERT_CLASS_TECHNICAL && strcmp(in->rule, "nodata") == 0 && in->device_id)
        rules__device_silent(e, in->device_id);
    if (a->owner == in->patient_id && in->patient_id) {
        a->patient = rules__patient(e, in->patient_id);
        a->patient->n_open++;
    }
    if (in->id >= e->next_id)
        e->next_id = in->id + 1;
    e->stats.open++;
    if (a->a.state == ALERT_ACKED)
        e->stats.acked++;
    /* Repeats already sent are not known exactly: count them from the stored deadline. */
    const struct rules_escalation *p = &e->esc[a->a.severity];
    if (a->a.state == ALERT_RAISED && p->n_tiers && a->a.tier >= p->n_tiers && p->repeat_s &&
        in->next_escalation_us) {
        int64_t last = a->a.raised_us + (int64_t)p->after_s[p->n_tiers - 1] * 1000000;
        int64_t k = (in->next_escalation_us - last) / ((int64_t)p->repeat_s * 1000000);
        a->esc_repeats = k > 0 ? (uint32_t)(k - 1) : 0;
    }
    plan(e, a);
    (void)now_us; /* an overdue escalation fires at the first tick */
}

const struct alert *rules_engine_alert(const struct rules_engine *e, int64_t id)
{
    const struct rules__alert *a = hx_idmap_get(&e->alerts, id);
    return a ? &a->a : NULL;
}

const struct alert *rules_engine_find(const struct rules_engine *e, int64_t patient_id,
                                      const char *rule)
{
    const struct rules__alert *a = rules__find(e, ALERT_CLASS_PHYSIOLOGICAL, patient_id, rule);
    if (!a)
        a = rules__find(e, ALERT_CLASS_TECHNICAL, patient_id, rule);
    return a ? &a->a : NULL;
}
