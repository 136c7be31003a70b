/*
 * Technical alerts about devices: no data (a watched device silent for its interval plus a
 * grace, whether connected or not), disconnected (for longer than RULES__DISCONNECT_GRACE),
 * low battery and weak signal. All event-driven: a reading only records its time; the "no
 * data" deadline is checked, and moved on, when it fires. Thread: loop.
 */
#include "core/mem.h"
#include "rules/engine_int.h"

#include <math.h>
#include <stdio.h>

/* A device may drop off briefly (a roaming patient, a Wi-Fi handover) before it matters. */
#define RULES__DISCONNECT_GRACE_US (60 * INT64_C(1000000))
#define BATTERY_LOW                20    /* % : low */
#define BATTERY_CRIT               10    /* % : medium */
#define BATTERY_CLEARED            25    /* % : back above this resolves */
#define RSSI_WEAK                  (-90) /* dBm */
#define RSSI_CLEARED               (-85)

static struct rules__device *device(struct rules_engine *e, int64_t id)
{
    struct rules__device *d = hx_idmap_get(&e->devices, id);
    if (!d) {
        d = hx_xcalloc(1, sizeof(*d));
        d->id = id;
        d->connected = true; /* until the gateway says otherwise */
        rules__timer_init(&d->nodata, RULES__T_NODATA, d);
        rules__timer_init(&d->discon, RULES__T_DISCONNECT, d);
        hx_idmap_put(&e->devices, id, d);
        e->stats.devices++;
    }
    return d;
}

static int64_t nodata_due(const struct rules_engine *e, const struct rules__device *d)
{
    return d->last_data_us + (int64_t)d->interval_s * 1000000 + e->nodata_grace_us;
}

static void raise_tech(struct rules_engine *e, const struct rules__device *d, const char *rule,
                       int sev, double value, const char *title, int64_t now)
{
    struct rules__change c = {
        .cls = ALERT_CLASS_TECHNICAL,
        .owner = d->id,
        .patient_id = d->patient_id,
        .device_id = d->id,
        .rule = rule,
        .severity = sev,
        .value = value,
        .worse_is_lower = true,
        .at = now,
        .title = title,
    };
    rules__raise(e, &c);
}

void rules_engine_watch_device(struct rules_engine *e, int64_t device_id, int64_t patient_id,
                               uint32_t interval_s, int64_t last_data_us, int64_t now_us)
{
    struct rules__device *d = device(e, device_id);
    d->patient_id = patient_id;
    d->interval_s = interval_s;
    if (last_data_us > d->last_data_us)
        d->last_data_us = last_data_us;
    if (!d->last_data_us)
        d->last_data_us = now_us;
    if (!interval_s) {
        rules__timer_cancel(e, &d->nodata);
        rules__clear(e, ALERT_CLASS_TECHNICAL, d->id, "nodata", now_us);
        d->silent = false;
    } else if (!d->silent) {
        rules__timer_set(e, &d->nodata, nodata_due(e, d));
    }
}

void rules__device_data(struct rules_engine *e, int64_t device_id, int64_t now)
{
    struct rules__device *d = hx_idmap_get(&e->devices, device_id);
    if (!d)
        return;
    d->last_data_us = now;
    if (d->silent) {
        /* It had gone silent: the alert resolves and the watch starts again. */
        d->silent = false;
        rules__clear(e, ALERT_CLASS_TECHNICAL, d->id, "nodata", now);
        if (d->interval_s)
            rules__timer_set(e, &d->nodata, nodata_due(e, d));
    }
}

void rules__device_timer(struct rules_engine *e, struct rules__timer *t, int64_t now)
{
    struct rules__device *d = t->owner;
    if (t->kind == RULES__T_DISCONNECT) {
        if (!d->connected)
            raise_tech(e, d, "disconnected", ALERT_SEV_LOW, NAN, "Device disconnected", now);
        return;
    }
    if (!d->interval_s)
        return;
    int64_t due = nodata_due(e, d);
    if (due > now) { /* data came meanwhile: look again later */
        rules__timer_set(e, t, due);
        return;
    }
    char title[ALERT_TITLE_MAX];
    snprintf(title, sizeof(title), "No data for over %u s", d->interval_s);
    raise_tech(e, d, "nodata", ALERT_SEV_MEDIUM, NAN, title, now);
    d->silent = true;
    /* Re-armed by the next reading (rules__device_data). */
}

void rules_engine_presence(struct rules_engine *e, int64_t device_id, bool connected,
                           int64_t now_us)
{
    struct rules__device *d = device(e, device_id);
    d->connected = connected;
    if (connected) {
        rules__timer_cancel(e, &d->discon);
        rules__clear(e, ALERT_CLASS_TECHNICAL, d->id, "disconnected", now_us);
    } else {
        rules__timer_set(e, &d->discon, now_us + RULES__DISCONNECT_GRACE_US);
    }
}

void rules_engine_status(struct rules_engine *e, int64_t device_id, int battery_pct, int rssi_dbm,
                         int64_t now_us)
{
    struct rules__device *d = device(e, device_id);
    if (battery_pct >= 0) {
        if (battery_pct < BATTERY_LOW) {
            char title[ALERT_TITLE_MAX];
            snprintf(title, sizeof(title), "Battery low: %d %%", battery_pct);
            raise_tech(e, d, "battery",
                       battery_pct < BATTERY_CRIT ? ALERT_SEV_MEDIUM : ALERT_SEV_LOW, battery_pct,
                       title, now_us);
        } else if (battery_pct > BATTERY_CLEARED) {
            rules__clear(e, ALERT_CLASS_TECHNICAL, d->id, "battery", now_us);
        }
    }
    if (rssi_dbm != 0) {
        if (rssi_dbm < RSSI_WEAK) {
            char title[ALERT_TITLE_MAX];
            snprintf(title, sizeof(title), "Signal weak: %d dBm", rssi_dbm);
            raise_tech(e, d, "signal", ALERT_SEV_LOW, rssi_dbm, title, now_us);
        } else if (rssi_dbm > RSSI_CLEARED) {
            rules__clear(e, ALERT_CLASS_TECHNICAL, d->id, "signal", now_us);
        }
    }
}

void rules__device_silent(struct rules_engine *e, int64_t device_id)
{
    struct rules__device *d = device(e, device_id);
    d->silent = true;
    rules__timer_cancel(e, &d->nodata);
}
