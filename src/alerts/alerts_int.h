/*
 * Private to src/alerts/: the service object, the rule plan built from the stored settings,
 * and the functions the files share. Thread: loop, except where noted.
 */
#ifndef MEDHUB_ALERTS_ALERTS_INT_H
#define MEDHUB_ALERTS_ALERTS_INT_H

#include "alerts/alerts.h"
#include "core/hist.h"
#include "rules/engine.h"
#include "store/store.h"

#include <stdbool.h>

/* Everything the stored settings and the device list say, built off the loop and applied
 * on it in one go (alerts_settings.c). */
struct alerts__patient_cfg {
    int64_t patient_id;
    struct rules_patient_config cfg;
};
struct alerts__watch {
    int64_t device_id;
    int64_t patient_id;
    uint32_t interval_s;
    int64_t last_seen_us;
};
struct alerts__plan {
    struct rules_patient_config dflt;     /* global settings applied */
    struct alerts__patient_cfg *patients; /* per-patient configs */
    size_t n_patients;
    struct rules_escalation esc[ALERT_SEV_CRITICAL + 1]; /* per severity */
    uint32_t grace_ms;                                   /* nodata grace */
    struct alerts__watch *devices;                       /* devices to watch */
    size_t n_devices;
    uint32_t n_bad; /* settings that did not parse */
};

/* One transition waiting to be written. */
struct alerts__pending {
    struct alert a;
    struct alert_transition t;
};

struct alerts {
    uv_loop_t *loop;
    struct cfg_store cfg;        /* copy */
    struct registry *reg;        /* borrowed */
    struct ingest *ig;           /* borrowed */
    struct webhooks *webhooks;   /* borrowed, may be NULL */
    struct rules_engine *engine; /* owned */
    uv_timer_t timer;            /* the engine's earliest deadline */
    int64_t armed_due;           /* the deadline the timer is armed for, INT64_MAX for none */
    uv_timer_t poll_timer;       /* actions, settings, devices */
    bool stopping;
    alerts_listener_fn *listener;
    void *listener_arg;
    /* Persistence (alerts_persist.c). */
    struct store_writer *writer;   /* borrowed: runs the persist jobs */
    struct alerts__pending *queue; /* waiting for the next job */
    size_t n_queue, cap_queue;
    bool pbusy; /* a persist job is in flight */
    /* Poll rounds (alerts_poll.c). */
    struct store *rst;         /* the poll worker's connection */
    bool rbusy;                /* a round is in flight */
    uint32_t rounds;           /* rounds started */
    int64_t action_after;      /* highest action id seen */
    struct alert_action *done; /* applied actions to record */
    size_t n_done, cap_done;
    int64_t settings_newest, settings_count; /* fingerprint of the applied settings */
    /* Counters. */
    struct hx_hist raise_lat;   /* us */
    struct hx_hist persist_lat; /* us */
    uint64_t persisted, persist_failed, actions;
};

/* alerts_settings.c (any thread: uses only st). Builds the plan from st at now_us. Returns 0
 * or a store error. */
int alerts__plan_build(struct store *st, int64_t now_us, struct alerts__plan *out);
/* Applies the devices to watch, and the settings too when settings is true. */
void alerts__plan_apply(struct alerts *a, const struct alerts__plan *p, bool settings,
                        int64_t now_us);
void alerts__plan_release(struct alerts__plan *p);

/* alerts_persist.c */
void alerts__persist(struct alerts *a, const struct alert *al, enum alert_event ev, const char *who,
                     const char *target);
/* Starts a job for whatever is queued, unless one runs. */
void alerts__persist_kick(struct alerts *a);

/* alerts_poll.c */
void alerts__poll_start(struct alerts *a);
void alerts__poll_kick(struct alerts *a);

/* alerts.c */
void alerts__rearm(struct alerts *a);

#endif
