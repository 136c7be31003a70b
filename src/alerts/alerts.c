/*
 * The alerting service's life and its hooks: start (load settings, restore open alerts,
 * watch devices), the reading and presence observers, the one libuv timer on the engine's
 * earliest deadline, the engine's sink (log, listener, webhooks, persistence, latency), stop.
 * Thread: loop.
 */
#include "alerts/alerts_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "ingest/pipeline.h"
#include "ingest/registry.h"
#include "notify/webhook.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

/* ---- notifications ------------------------------------------------------------------------ */

static json_t *alert_json(const struct alert *al, enum alert_event ev, const char *target)
{
    char raised[40];
    hx_time_format_rfc3339(al->raised_us, raised, sizeof(raised));
    json_t *j =
        json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "event",
                  alert_event_name(ev), "id", (json_int_t)al->id, "patient_id",
                  (json_int_t)al->patient_id, "device_id", (json_int_t)al->device_id, "rule",
                  al->rule, "class", alert_class_name(al->cls), "severity",
                  alert_severity_name(al->severity), "state", alert_state_name(al->state), "title",
                  al->title, "detail", al->detail, "count", (int)al->count, "raised", raised);
    json_object_set_new(j, "value",
                        isnan(al->current_value) ? json_null() : json_real(al->current_value));
    if (target)
        json_object_set_new(j, "notify", json_string(target));
    return j;
}

static void on_change(void *arg, const struct alert *al, enum alert_event ev, const char *who,
                      const char *target)
{
    struct alerts *a = arg;
    if (ev <= ALERT_EV_UPDATED && al->trigger_received_us) {
        int64_t now = hx_time_now_us();
        if (now >= al->trigger_received_us)
            hx_hist_record(&a->raise_lat, (uint64_t)(now - al->trigger_received_us));
    }
    alerts__persist(a, al, ev, who, target);
    /* Values and titles may be PHI: ids, rule and severity only. */
    if (ev != ALERT_EV_UPDATED || target)
        log_info(NULL, "alerts",
                 ev == ALERT_EV_RAISED      ? "alert raised"
                 : ev == ALERT_EV_UPDATED   ? "alert updated"
                 : ev == ALERT_EV_ESCALATED ? "alert escalated"
                 : ev == ALERT_EV_ACKED     ? "alert acknowledged"
                                            : "alert resolved",
                 "alert=%lld patient_id=%lld device_id=%lld rule=%s severity=%s notify=%s by=%s",
                 (long long)al->id, (long long)al->patient_id, (long long)al->device_id, al->rule,
                 alert_severity_name(al->severity), target ? target : "-", who ? who : "-");
    if (a->listener)
        a->listener(a->listener_arg, al, ev, target);
    if (a->webhooks && ev != ALERT_EV_UPDATED) {
        json_t *j = alert_json(al, ev, target);
        char *body = json_dumps(j, JSON_COMPACT);
        char event[32];
        snprintf(event, sizeof(event), "alert.%s", alert_event_name(ev));
        if (body)
            webhooks_notify(a->webhooks, event, al->id, al->severity, body);
        free(body);
        json_decref(j);
    }
}

/* ---- the engine's timer ------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    struct alerts *a = t->data;
    rules_engine_tick(a->engine, hx_time_now_us());
    alerts__rearm(a);
}

void alerts__rearm(struct alerts *a)
{
    if (a->stopping)
        return;
    int64_t due = rules_engine_next_due(a->engine);
    /* Called after every message: re-arm only when the earliest deadline moved. */
    if (due == a->armed_due && (due == INT64_MAX || uv_is_active((uv_handle_t *)&a->timer)))
        return;
    a->armed_due = due;
    if (due == INT64_MAX) {
        uv_timer_stop(&a->timer);
        return;
    }
    int64_t now = hx_time_now_us();
    uint64_t ms = due > now ? (uint64_t)((due - now + 999) / 1000) : 0;
    uv_timer_start(&a->timer, on_timer, ms, 0);
}

/* ---- observers ---------------------------------------------------------------------------- */

static void on_obs(void *arg, const struct obs *obs, size_t n, int64_t now_us)
{
    struct alerts *a = arg;
    rules_engine_observe(a->engine, obs, n, now_us);
    alerts__rearm(a);
}

static void on_presence(void *arg, int64_t device_id, bool connected, int64_t now_us)
{
    struct alerts *a = arg;
    rules_engine_presence(a->engine, device_id, connected, now_us);
    alerts__rearm(a);
}

static void on_status(void *arg, int64_t device_id, int battery_pct, int rssi_dbm, int64_t now_us)
{
    struct alerts *a = arg;
    rules_engine_status(a->engine, device_id, battery_pct, rssi_dbm, now_us);
    alerts__rearm(a);
}

/* ---- start and stop ----------------------------------------------------------------------- */

static int restore_one(void *arg, const struct alert *al)
{
    struct alerts *a = arg;
    rules_engine_restore(a->engine, al, hx_time_now_us());
    return 0;
}

int alerts_start(struct alerts **out, uv_loop_t *loop, const struct cfg *cfg,
                 struct store_writer *writer, struct registry *reg, struct ingest *ig,
                 struct webhooks *webhooks, char *err, size_t err_len)
{
    *out = NULL;
    struct store *st;
    int rc = store_open(&st, &cfg->storage, 0, err, err_len);
    if (rc < 0)
        return rc;
    int64_t max_id = 0;
    struct alerts__plan plan;
    rc = store_alert_max_id(st, &max_id);
    if (rc == 0)
        rc = alerts__plan_build(st, hx_time_now_us(), &plan);
    if (rc < 0) {
        snprintf(err, err_len, "loading alert settings: %s", hx_strerror(rc));
        store_close(st);
        return rc;
    }
    struct alerts *a = hx_xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->writer = writer;
    a->cfg = cfg->storage;
    a->reg = reg;
    a->ig = ig;
    a->webhooks = webhooks;
    struct rules_sink sink = {.changed = on_change, .arg = a};
    rules_engine_new(&a->engine, &sink, max_id + 1);
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    a->armed_due = INT64_MAX;
    int64_t now = hx_time_now_us();
    alerts__plan_apply(a, &plan, true, now);
    alerts__plan_release(&plan);
    /* Open alerts (raised or acknowledged) come back with their escalation. */
    struct store_alert_filter f = {.states = (1u << ALERT_RAISED) | (1u << ALERT_ACKED)};
    rc = store_alert_list(st, &f, restore_one, a);
    store_rule_settings_version(st, &a->settings_newest, &a->settings_count);
    store_close(st);
    if (rc < 0) {
        snprintf(err, err_len, "loading open alerts: %s", hx_strerror(rc));
        alerts_stop(a);
        *out = a;
        return rc;
    }
    struct rules_stats rs;
    rules_engine_get_stats(a->engine, &rs);
    log_info(NULL, "alerts", "alerting started", "open_alerts=%u watched_devices=%u", rs.open,
             rs.devices);
    (void)ingest_add_observer(ig, on_obs, a); /* the first observer: cannot be full */
    struct reg_observer ro = {.presence = on_presence, .status = on_status, .arg = a};
    reg_set_observer(reg, &ro);
    alerts__poll_start(a);
    a->rounds = 1; /* the plan was just built */
    alerts__rearm(a);
    *out = a;
    return 0;
}

void alerts_stop(struct alerts *a)
{
    if (!a || a->stopping)
        return;
    a->stopping = true;
    if (a->ig)
        ingest_remove_observer(a->ig, on_obs, a);
    if (a->reg)
        reg_set_observer(a->reg, NULL);
    uv_close((uv_handle_t *)&a->timer, NULL);
    if (uv_is_active((uv_handle_t *)&a->poll_timer) || a->poll_timer.loop)
        uv_close((uv_handle_t *)&a->poll_timer, NULL);
    alerts__persist_kick(a);
    alerts__poll_kick(a);
}

void alerts_free(struct alerts *a)
{
    if (!a)
        return;
    struct alerts_stats s;
    alerts_get_stats(a, &s);
    log_info(NULL, "alerts", "alerting stopped",
             "readings=%llu raised=%llu resolved=%llu escalations=%llu open=%u persisted=%llu "
             "persist_failed=%llu unwritten=%zu latency_samples=%llu raise_p50_us=%llu "
             "raise_p99_us=%llu raise_p999_us=%llu raise_max_us=%llu persist_p50_us=%llu "
             "persist_p99_us=%llu persist_p999_us=%llu persist_max_us=%llu",
             (unsigned long long)s.readings, (unsigned long long)s.raised,
             (unsigned long long)s.resolved, (unsigned long long)s.escalations, s.open,
             (unsigned long long)s.persisted, (unsigned long long)s.persist_failed, a->n_queue,
             (unsigned long long)s.latency_samples, (unsigned long long)s.raise_p50_us,
             (unsigned long long)s.raise_p99_us, (unsigned long long)s.raise_p999_us,
             (unsigned long long)s.raise_max_us, (unsigned long long)s.persist_p50_us,
             (unsigned long long)s.persist_p99_us, (unsigned long long)s.persist_p999_us,
             (unsigned long long)s.persist_max_us);
    rules_engine_free(a->engine);
    if (a->rst)
        store_close(a->rst);
    free(a->queue);
    free(a->done);
    free(a);
}

void alerts_set_listener(struct alerts *a, alerts_listener_fn *fn, void *arg)
{
    a->listener = fn;
    a->listener_arg = arg;
}

void alerts_get_stats(const struct alerts *a, struct alerts_stats *out)
{
    struct rules_stats rs;
    rules_engine_get_stats(a->engine, &rs);
    memset(out, 0, sizeof(*out));
    out->readings = rs.readings;
    out->raised = rs.raised;
    out->resolved = rs.resolved;
    out->escalations = rs.escalations;
    out->open = rs.open;
    out->acked = rs.acked;
    out->persisted = a->persisted;
    out->persist_failed = a->persist_failed;
    out->actions = a->actions;
    out->raise_p50_us = hx_hist_quantile(&a->raise_lat, 0.5);
    out->raise_p99_us = hx_hist_quantile(&a->raise_lat, 0.99);
    out->raise_p999_us = hx_hist_quantile(&a->raise_lat, 0.999);
    out->raise_max_us = a->raise_lat.max;
    out->persist_p50_us = hx_hist_quantile(&a->persist_lat, 0.5);
    out->persist_p99_us = hx_hist_quantile(&a->persist_lat, 0.99);
    out->persist_p999_us = hx_hist_quantile(&a->persist_lat, 0.999);
    out->persist_max_us = a->persist_lat.max;
    out->latency_samples = a->raise_lat.count;
}
