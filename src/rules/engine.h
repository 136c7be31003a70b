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

enum rules_alert_state {
    RULES_ALERT_RAISED = 0,
    RULES_ALERT_ACKED = 1,
    RULES_ALERT_RESOLVED = 2,
};

enum rules_alert_class {
    RULES_CLASS_PHYSIOLOGICAL = 0, /* the patient */
    RULES_CLASS_TECHNICAL = 1,     /* the device or the data */
};

/* What happened to an alert (the sink's ev). */
enum rules_event {
    RULES_EV_RAISED = 0,
    RULES_EV_UPDATED = 1,   /* new worst/current value, count, or a higher severity */
    RULES_EV_ESCALATED = 2, /* an escalation tier (or a repeat) is due: notify its target */
    RULES_EV_ACKED = 3,
    RULES_EV_RESOLVED = 4,
};

#define RULES_RULE_MAX   48
#define RULES_TITLE_MAX  96
#define RULES_DETAIL_MAX 192
#define RULES_WHO_MAX    64
#define RULES_NOTE_MAX   256

/* One alert episode. */
struct rules_alert {
    int64_t id;                      /* unique, rising */
    int64_t patient_id;              /* 0 for a device not assigned to anyone */
    int64_t device_id;               /* the device (technical alerts), else 0 */
    char rule[RULES_RULE_MAX];       /* rule key: "threshold.spo2.low", "news2", "nodata", ... */
    uint8_t cls;                     /* enum rules_alert_class */
    uint8_t severity;                /* enum rules_severity; may rise within the episode */
    uint8_t state;                   /* enum rules_alert_state */
    uint8_t tier;                    /* escalation tiers notified so far */
    uint16_t code;                   /* enum obs_code_id, 0 when not about one code */
    char title[RULES_TITLE_MAX];     /* for people: "SpO2 low: 87 %" */
    char detail[RULES_DETAIL_MAX];   /* more: the NEWS2 breakdown, the trend, the forecast */
    double first_value;              /* value that raised it (NAN when none) */
    double worst_value;              /* furthest out so far */
    double current_value;            /* latest */
    uint32_t count;                  /* abnormal readings in the episode */
    int64_t raised_us;               /* when raised */
    int64_t updated_us;              /* last change */
    int64_t acked_us;                /* 0 until acknowledged */
    char acked_by[RULES_WHO_MAX];    /* who acknowledged */
    int64_t resolved_us;             /* 0 until resolved */
    char resolved_by[RULES_WHO_MAX]; /* "auto" or who */
    char note[RULES_NOTE_MAX];       /* the resolver's note */
    int64_t next_escalation_us;      /* 0 when nothing is due */
    int64_t trigger_received_us;     /* receive time of the reading behind the last change
                                      * (latency measurement), 0 when none */
};

/* The sink: called for every transition, synchronously. a is valid during the call only.
 * who: the user for ACKED/RESOLVED ("auto" for automatic resolution); target: the
 * escalation target for ESCALATED, else NULL. */
struct rules_sink {
    void (*changed)(void *arg, const struct rules_alert *a, enum rules_event ev, const char *who,
                    const char *target);
    void *arg;
};

struct rules_stats {
    uint64_t readings;    /* readings evaluated */
    uint64_t raised;      /* alerts raised */
    uint64_t resolved;    /* alerts resolved (auto or manual) */
    uint64_t escalations; /* escalation notifications */
    uint32_t open;        /* alerts raised or acknowledged now */
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
void rules_engine_restore(struct rules_engine *e, const struct rules_alert *a, int64_t now_us);

/* People's actions. Return 0, HX_ENOTFOUND (no such open alert) or HX_EINVAL (acking an
 * alert already acknowledged). */
int rules_engine_ack(struct rules_engine *e, int64_t alert_id, const char *who, int64_t now_us);
int rules_engine_resolve(struct rules_engine *e, int64_t alert_id, const char *who,
                         const char *note, int64_t now_us);

/* The earliest deadline (escalation, no data, schedule), INT64_MAX when none. */
int64_t rules_engine_next_due(const struct rules_engine *e);
/* Runs every deadline <= now_us. */
void rules_engine_tick(struct rules_engine *e, int64_t now_us);

/* An open alert by id, or NULL. Borrowed until the next call into the engine. */
const struct rules_alert *rules_engine_alert(const struct rules_engine *e, int64_t id);
/* The open alert of (patient, rule), or NULL. */
const struct rules_alert *rules_engine_find(const struct rules_engine *e, int64_t patient_id,
                                            const char *rule);

void rules_engine_get_stats(const struct rules_engine *e, struct rules_stats *out);

#endif
