/*
 * Private to the rules engine (engine*.c): the engine, patient and device state, the timer
 * heap and the alert bookkeeping the files share. Thread: loop.
 */
#ifndef MEDHUB_RULES_ENGINE_INT_H
#define MEDHUB_RULES_ENGINE_INT_H

#include "core/idmap.h"
#include "domain/codes.h"
#include "rules/engine.h"
#include "rules/trend.h"

/* What a timer is for. */
enum rules__timer_kind {
    RULES__T_ESCALATION = 0, /* owner: struct rules__alert */
    RULES__T_NODATA = 1,     /* owner: struct rules__device */
    RULES__T_DISCONNECT = 2, /* owner: struct rules__device */
    RULES__T_SCHEDULE = 3,   /* owner: struct rules__patient; slot in `slot` */
};

#define RULES__NOT_IN_HEAP UINT32_MAX

/* A deadline in the engine's min-heap, embedded in its owner. */
struct rules__timer {
    int64_t due;       /* absolute time, us */
    uint32_t heap_idx; /* position in the heap, RULES__NOT_IN_HEAP when not armed */
    uint8_t kind;      /* enum rules__timer_kind */
    uint8_t slot;      /* RULES__T_SCHEDULE: which schedule */
    void *owner;       /* the struct it is embedded in */
};

/* An open alert with the engine's own bookkeeping. */
struct rules__alert {
    struct alert a;          /* what the sink sees */
    int64_t owner;           /* patient id (physiological) or device id (technical) */
    uint64_t key;            /* hash of (class, owner, rule) in by_key */
    struct rules__timer esc; /* next escalation */
    uint32_t esc_repeats;    /* repeats sent after the last tier */
    int64_t reported_us;
    struct rules__patient *patient; /* the patient it belongs to (counts its open alerts),
                                     * NULL for a device's alert */     /* last time the sink heard about it */
};

/* Latest value of one code for a patient. */
struct rules__latest {
    double v;   /* canonical unit */
    int64_t t;  /* effective time, 0 = none */
    int64_t rx; /* received time */
};

/* Persistence state of one threshold rule for one patient. */
struct rules__pending {
    int64_t since; /* effective time of the first abnormal reading in the run, 0 = none */
    uint32_t n;    /* consecutive abnormal readings */
};

#define RULES__SCHEDULES 4

struct rules__patient {
    int64_t id;
    struct rules_patient_config *own;                 /* owned, NULL = the default config */
    struct rules__latest latest[OBS_CODE__COUNT];     /* per code */
    struct rules__pending pend[RULES_THRESHOLDS_MAX]; /* per threshold of the config */
    uint32_t cfg_gen;                                 /* config generation pend[] belongs to */
    uint32_t n_open;                                  /* open alerts it owns */
    uint8_t news2_below;                              /* complete scores below the alert band */
    bool news2_dirty;                                 /* a component changed in this batch */
    int64_t news2_rx;                                 /* receive time of that component */
    struct rules_series weight;                       /* daily weights, for the HF trend */
    struct rules_series glucose;                  /* glucose (meter or CGM), for the fall rate */
    struct rules_holt holt[RULES_THRESHOLDS_MAX]; /* per threshold code, for forecasts */
    uint8_t predicted[RULES_THRESHOLDS_MAX];      /* consecutive readings predicting a crossing */
    struct rules__timer sched[RULES__SCHEDULES];  /* missed-measurement deadlines */
};

struct rules__device {
    int64_t id;
    int64_t patient_id;         /* assigned patient, 0 = none */
    uint32_t interval_s;        /* expected reporting interval, 0 = not watched */
    int64_t last_data_us;       /* last reading (or start of watching) */
    bool connected;             /* per the gateway */
    bool silent;                /* its "no data" alert is raised */
    struct rules__timer nodata; /* last_data + interval + grace */
    struct rules__timer discon; /* disconnect + grace */
};

struct rules_engine {
    struct rules_sink sink;                              /* copy */
    int64_t next_id;                                     /* next alert id */
    struct rules_patient_config dflt;                    /* default config */
    uint32_t cfg_gen;                                    /* bumped when any config changes */
    struct rules_escalation esc[ALERT_SEV_CRITICAL + 1]; /* per severity */
    uint32_t nodata_grace_us;                            /* after the interval */
    struct hx_idmap patients;                            /* id -> struct rules__patient */
    struct hx_idmap devices;                             /* id -> struct rules__device */
    struct hx_idmap alerts;                              /* id -> struct rules__alert (open) */
    struct hx_idmap by_key;                              /* key -> struct rules__alert (open) */
    struct rules__timer **heap;                          /* min-heap by due */
    uint32_t n_heap, cap_heap;                           /* ... */
    struct rules__patient **dirty; /* patients whose NEWS2 must be recomputed */
    uint32_t n_dirty, cap_dirty;   /* ... */
    struct rules_stats stats;      /* counters */
};

/* engine_timer.c */
void rules__timer_init(struct rules__timer *t, uint8_t kind, void *owner);
/* Arms (or moves) t to due. */
void rules__timer_set(struct rules_engine *e, struct rules__timer *t, int64_t due);
void rules__timer_cancel(struct rules_engine *e, struct rules__timer *t);
/* The earliest armed timer, or NULL. */
struct rules__timer *rules__timer_peek(const struct rules_engine *e);

/* engine_alert.c */
/* Hash key of (class, owner, rule). */
uint64_t rules__key(int cls, int64_t owner, const char *rule);
struct rules__alert *rules__find(const struct rules_engine *e, int cls, int64_t owner,
                                 const char *rule);
/* What a raise or an update says. value: the reading (NAN when none); rx: its receive time. */
struct rules__change {
    int cls;                        /* enum alert_class */
    int64_t owner;                  /* patient or device id */
    int64_t patient_id;             /* for the alert */
    int64_t device_id;              /* for the alert, 0 when none */
    const char *rule;               /* rule key */
    int severity;                   /* enum alert_severity */
    uint16_t code;                  /* code, 0 when none */
    double value;                   /* the reading, NAN when none */
    bool worse_is_lower;            /* worst value is the lowest (a LOW threshold) */
    int64_t at;                     /* now */
    int64_t rx;                     /* receive time of the reading behind it, 0 when none */
    const char *title;              /* for people */
    const char *detail;             /* more, may be NULL */
    struct rules__patient *patient; /* owner when a patient owns it, else NULL */
};
/* Raises the alert of (cls, owner, rule), or updates it when open (count, values, a higher
 * severity re-plans escalation). Returns the alert. */
struct rules__alert *rules__raise(struct rules_engine *e, const struct rules__change *c);
/* Resolves a (automatically when who is "auto"). Frees it. */
void rules__resolve(struct rules_engine *e, struct rules__alert *a, const char *who,
                    const char *note, int64_t now);
/* Resolves the open alert of (cls, owner, rule) automatically, if any. */
void rules__clear(struct rules_engine *e, int cls, int64_t owner, const char *rule, int64_t now);
/* The escalation timer of a fired. */
void rules__escalate(struct rules_engine *e, struct rules__alert *a, int64_t now);

/* engine_device.c */
void rules__device_timer(struct rules_engine *e, struct rules__timer *t, int64_t now);
/* A reading from device_id arrived (its nodata alert, if any, resolves). */
void rules__device_data(struct rules_engine *e, int64_t device_id, int64_t now);
/* A "no data" alert of device_id was restored: its next reading resolves it. */
void rules__device_silent(struct rules_engine *e, int64_t device_id);

/* engine.c */
struct rules__patient *rules__patient(struct rules_engine *e, int64_t id);
const struct rules_patient_config *rules__config(const struct rules_engine *e,
                                                 const struct rules__patient *p);
void rules__schedule_timer(struct rules_engine *e, struct rules__timer *t, int64_t now);

#endif
