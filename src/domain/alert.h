/*
 * Alert records: one clinical or technical alert episode as the rules engine raises it, the
 * store keeps it and the CLI, REST API and web pages show it. Plain data. Thread: any.
 */
#ifndef MEDHUB_DOMAIN_ALERT_H
#define MEDHUB_DOMAIN_ALERT_H

#include <stdint.h>

/* Alert severity, lowest first. */
enum alert_severity {
    ALERT_SEV_NONE = 0,
    ALERT_SEV_INFO = 1,
    ALERT_SEV_LOW = 2,
    ALERT_SEV_MEDIUM = 3,
    ALERT_SEV_HIGH = 4,
    ALERT_SEV_CRITICAL = 5,
};

/* "info" .. "critical" ("none" for 0, "?" otherwise). */
const char *alert_severity_name(int sev);
/* Parses a severity name. Returns it, or ALERT_SEV_NONE when unknown. */
int alert_severity_parse(const char *name);

enum alert_state {
    ALERT_RAISED = 0,
    ALERT_ACKED = 1,
    ALERT_RESOLVED = 2,
};

enum alert_class {
    ALERT_CLASS_PHYSIOLOGICAL = 0, /* the patient */
    ALERT_CLASS_TECHNICAL = 1,     /* the device or the data */
};

/* What happened to an alert (the sink's ev). */
enum alert_event {
    ALERT_EV_RAISED = 0,
    ALERT_EV_UPDATED = 1,   /* new worst/current value, count, or a higher severity */
    ALERT_EV_ESCALATED = 2, /* an escalation tier (or a repeat) is due: notify its target */
    ALERT_EV_ACKED = 3,
    ALERT_EV_RESOLVED = 4,
};

#define ALERT_RULE_MAX   48
#define ALERT_TITLE_MAX  96
#define ALERT_DETAIL_MAX 192
#define ALERT_WHO_MAX    64
#define ALERT_NOTE_MAX   256

/* One alert episode. */
struct alert {
    int64_t id;                      /* unique, rising */
    int64_t patient_id;              /* 0 for a device not assigned to anyone */
    int64_t device_id;               /* the device (technical alerts), else 0 */
    char rule[ALERT_RULE_MAX];       /* rule key: "threshold.spo2.low", "news2", "nodata", ... */
    uint8_t cls;                     /* enum alert_class */
    uint8_t severity;                /* enum alert_severity; may rise within the episode */
    uint8_t state;                   /* enum alert_state */
    uint8_t tier;                    /* escalation tiers notified so far */
    uint16_t code;                   /* enum obs_code_id, 0 when not about one code */
    char title[ALERT_TITLE_MAX];     /* for people: "SpO2 low: 87 %" */
    char detail[ALERT_DETAIL_MAX];   /* more: the NEWS2 breakdown, the trend, the forecast */
    double first_value;              /* value that raised it (NAN when none) */
    double worst_value;              /* furthest out so far */
    double current_value;            /* latest */
    uint32_t count;                  /* abnormal readings in the episode */
    int64_t raised_us;               /* when raised */
    int64_t updated_us;              /* last change */
    int64_t acked_us;                /* 0 until acknowledged */
    char acked_by[ALERT_WHO_MAX];    /* who acknowledged */
    int64_t resolved_us;             /* 0 until resolved */
    char resolved_by[ALERT_WHO_MAX]; /* "auto" or who */
    char note[ALERT_NOTE_MAX];       /* the resolver's note */
    int64_t next_escalation_us;      /* 0 when nothing is due */
    int64_t trigger_received_us;     /* receive time of the reading behind the last change
                                      * (latency measurement), 0 when none */
};

/* One transition of an alert, as kept in its history. */
struct alert_transition {
    int64_t alert_id;              /* whose */
    int64_t at_us;                 /* when */
    uint8_t event;                 /* enum alert_event */
    uint8_t severity;              /* the alert's severity then */
    char who[ALERT_WHO_MAX];       /* the user (ack, resolve), "auto", or the escalation target */
    char detail[ALERT_DETAIL_MAX]; /* the title then, or the note */
};

/* What a person asked for (`medhub alert ack|resolve`, the REST API): written by the CLI or the
 * API, applied by the daemon, which owns alert state. */
enum alert_action_kind {
    ALERT_ACTION_ACK = 1,
    ALERT_ACTION_RESOLVE = 2,
    ALERT_ACTION_ESCALATE = 3, /* escalate by hand: notify the next tier now */
};

struct alert_action {
    int64_t id;                /* assigned when stored */
    int64_t alert_id;          /* which alert */
    uint8_t action;            /* enum alert_action_kind */
    char who[ALERT_WHO_MAX];   /* the user */
    char note[ALERT_NOTE_MAX]; /* resolve note */
    int64_t created_us;        /* when asked */
    int64_t applied_us;        /* when the daemon applied it, 0 = not yet */
    int result;                /* 0, or the negative error the daemon met */
};

/* Names for people and JSON: "raised", "acknowledged", "resolved"; "physiological",
 * "technical"; "raised", "updated", "escalated", "acknowledged", "resolved" ("?" otherwise). */
const char *alert_state_name(int state);
const char *alert_class_name(int cls);
const char *alert_event_name(int ev);

#endif
