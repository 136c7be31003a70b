/*
 * The rules engine: evaluates every reading against the patient's threshold rules, NEWS2,
 * trends and forecasts, watches devices for missing data, and manages alert episodes
 * (raised -> acknowledged -> resolved, one per patient and rule at a time) and their
 * escalation. It holds its state in memory and does no I/O: every transition is reported to
 * a sink (the service persists and notifies), and time comes from the caller, so tests drive
 * it with a fake clock. Timers are deadlines in one min-heap: the caller asks for the next
 * one (rules_engine_next_due) and calls rules_engine_tick when it is reached.
 * Thread: one (the loop), every function.
 */
#ifndef MEDHUB_RULES_ENGINE_H
#define MEDHUB_RULES_ENGINE_H

#include "domain/model.h"
#include "rules/protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The sink: called for every transition, synchronously. a is valid during the call only.
 * who: the user for ACKED/RESOLVED ("auto" for automatic resolution); target: the
 * escalation target for ESCALATED, else NULL. */
struct rules_sink {
    void (*changed)(void *arg, const struct alert *a, enum alert_event ev, const char *who,
                    const char *target);
    void *arg;
};

struct rules_stats {
    uint64_t readings;    /* readings evaluated */
    uint64_t raised;      /* alerts raised */
    uint64_t resolved;    /* alerts resolved (auto or manual) */
    uint64_t escalations; /* escalation notifications */
    uint32_t open;        /* alerts raised or acknowledged now */
    uint32_t acked;       /* of which acknowledged */
    uint32_t patients;    /* patients with state */
    uint32_t devices;     /* devices watched */
};

struct rules_engine;

/* OUT: *out returns owned (rules_engine_free). next_id: the first alert id to use (one above
 * the highest stored). The sink is copied. */
void rules_engine_new(struct rules_engine **out, const struct rules_sink *sink, int64_t next_id);
void rules_engine_free(struct rules_engine *e);

/* Configuration (copied). A patient without its own config uses the default. Changing a
 * patient's config keeps open alerts; rules that no longer exist resolve at the next
 * reading of their code. */
void rules_engine_set_default_config(struct rules_engine *e, const struct rules_patient_config *c);
void rules_engine_set_patient_config(struct rules_engine *e, int64_t patient_id,
                                     const struct rules_patient_config *c);
/* Drops every patient-specific config (before re-applying the stored settings). */
void rules_engine_clear_patient_configs(struct rules_engine *e);
void rules_engine_set_escalation(struct rules_engine *e, int severity,
                                 const struct rules_escalation *p);
/* Extra time after a device's interval before "no data" (default 1000 ms). */
void rules_engine_set_nodata_grace(struct rules_engine *e, uint32_t grace_ms);

/* Readings entering the pipeline (attributed: patient_id set; received_us = arrival). */
void rules_engine_observe(struct rules_engine *e, const struct obs *o, size_t n, int64_t now_us);

/* Starts (or updates) watching a device: expected to report at least every interval_s
 * (0 stops watching it); last_data_us: its last reading (0 = none, counts from now). */
void rules_engine_watch_device(struct rules_engine *e, int64_t device_id, int64_t patient_id,
                               uint32_t interval_s, int64_t last_data_us, int64_t now_us);
/* Device presence and status from the gateway. battery < 0 / rssi 0 = not reported. */
void rules_engine_presence(struct rules_engine *e, int64_t device_id, bool connected,
                           int64_t now_us);
void rules_engine_status(struct rules_engine *e, int64_t device_id, int battery_pct, int rssi_dbm,
                         int64_t now_us);

/* Restores an open alert from the store after a restart (escalation re-armed from its
 * next_escalation_us). Call before any reading arrives. */
void rules_engine_restore(struct rules_engine *e, const struct alert *a, int64_t now_us);

/* People's actions. Return 0, HX_ENOTFOUND (no such open alert) or HX_EINVAL (acking an
 * alert already acknowledged). */
int rules_engine_ack(struct rules_engine *e, int64_t alert_id, const char *who, int64_t now_us);
int rules_engine_resolve(struct rules_engine *e, int64_t alert_id, const char *who,
                         const char *note, int64_t now_us);
/* Escalates an open alert by hand: notifies the next tier of its severity's policy at once
 * (the last one again when every tier was notified; "manual" when the policy has none) and
 * plans the following one. Returns 0 or HX_ENOTFOUND (no such open alert). */
int rules_engine_escalate(struct rules_engine *e, int64_t alert_id, const char *who,
                          int64_t now_us);

/* The earliest deadline (escalation, no data, schedule), INT64_MAX when none. */
int64_t rules_engine_next_due(const struct rules_engine *e);
/* Runs every deadline <= now_us. */
void rules_engine_tick(struct rules_engine *e, int64_t now_us);

/* An open alert by id, or NULL. Borrowed until the next call into the engine. */
const struct alert *rules_engine_alert(const struct rules_engine *e, int64_t id);
/* The open alert of (patient, rule), or NULL. */
const struct alert *rules_engine_find(const struct rules_engine *e, int64_t patient_id,
                                      const char *rule);

void rules_engine_get_stats(const struct rules_engine *e, struct rules_stats *out);

#endif
