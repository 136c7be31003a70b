/*
 * Care protocols and rule settings: the threshold rules of each default protocol (adult ward,
 * home heart failure, COPD, diabetes), the settings that override them per patient, the
 * expected reporting interval of each device kind, and the escalation policy of each
 * severity. Pure data and parsing: no I/O, no globals beyond constant tables.
 * Settings are key = value text (`medhub rules set`), see docs/rules.md. Thread: any.
 */
#ifndef MEDHUB_RULES_PROTOCOL_H
#define MEDHUB_RULES_PROTOCOL_H

#include "domain/alert.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which side of the limit is abnormal. */
enum rules_dir {
    RULES_LOW = 0,  /* value < limit */
    RULES_HIGH = 1, /* value > limit */
};

#define RULES_TIERS_MAX 3

/* One threshold rule: a code and a direction, with up to three limits of rising severity
 * (tier 0 is the mildest). Raised when a value passes tier 0's limit for persist_s seconds
 * or persist_n consecutive readings, whichever comes first; cleared when a value is back
 * past tier 0's limit by hysteresis. */
struct rules_threshold {
    uint16_t code;                     /* enum obs_code_id */
    uint8_t dir;                       /* enum rules_dir */
    uint8_t n_tiers;                   /* 1..RULES_TIERS_MAX; 0 = rule disabled */
    double limit[RULES_TIERS_MAX];     /* canonical unit; each tier further out than the last */
    uint8_t severity[RULES_TIERS_MAX]; /* enum alert_severity, rising */
    double hysteresis;                 /* clears at limit[0] + (LOW) or - (HIGH) this */
    uint32_t persist_s;                /* seconds the condition must hold (0 = not used) */
    uint32_t persist_n;                /* consecutive abnormal readings (0 = not used) */
};

/* Care protocols. */
enum rules_protocol_id {
    RULES_PROTO_ADULT_WARD = 0,
    RULES_PROTO_HOME_HF = 1,
    RULES_PROTO_COPD = 2,
    RULES_PROTO_DIABETES = 3,
    RULES_PROTO__COUNT
};

#define RULES_THRESHOLDS_MAX 16

/* Escalation: who is told when, per severity. */
#define RULES_ESC_TIERS_MAX 4
struct rules_escalation {
    uint8_t n_tiers;                       /* 0 = notify once, never escalate */
    uint32_t after_s[RULES_ESC_TIERS_MAX]; /* since raised, rising; tier 0 is usually 0 */
    char target[RULES_ESC_TIERS_MAX][32];  /* "primary_nurse", "charge_nurse", ... */
    uint32_t repeat_s;                     /* after the last tier, again every repeat_s;
                                            * 0 = no repeat */
};

/* Everything that decides how one patient is evaluated. */
struct rules_patient_config {
    uint8_t protocol;                                        /* enum rules_protocol_id */
    uint8_t spo2_scale;                                      /* 1 or 2 (NEWS2) */
    uint8_t news2_min_band;                                  /* enum rules_news2_band raising */
    bool news2_enabled;                                      /* NEWS2 alerts on */
    uint32_t news2_fresh_s;                                  /* components older are stale */
    size_t n_thresholds;                                     /* entries in thresholds */
    struct rules_threshold thresholds[RULES_THRESHOLDS_MAX]; /* active rules */
    double weight_gain_3d_kg;                                /* HF: > this in 3 days (0 = off) */
    double weight_gain_1d_kg;                                /* HF: > this in 1 day (0 = off) */
    double glucose_fall_per_min; /* > this mg/dL/min falling (0 = off) */
    uint32_t forecast_horizon_s; /* predicted alerts (0 = off) */
    int16_t schedule_minute[4];  /* missed-measurement deadlines,
                                  * minutes after local midnight,
                                  * -1 = none: weight, bp, glucose,
                                  * spo2 */
};

/* Name ("adult_ward", "home_hf", "copd", "diabetes"); NULL when out of range. */
const char *rules_protocol_name(int id);
/* Returns the id, or -1 when unknown. */
int rules_protocol_parse(const char *name);

/* Fills cfg with the defaults of protocol id (a valid id). */
void rules_config_defaults(struct rules_patient_config *cfg, int protocol);

/*
 * Applies one setting to cfg. Keys (docs/rules.md):
 *   protocol=NAME (resets to that protocol's defaults first: apply it before the others),
 *   spo2_scale=1|2, news2=on|off, news2_min_band=low|low-medium|medium|high,
 *   news2_fresh=SECONDS, CODE.low|CODE.high=LIMIT[:SEVERITY][,LIMIT:SEVERITY...] or off
 *   (CODE is a SenML name such as spo2 or heart_rate), CODE.persist=SECONDS[/READINGS],
 *   CODE.hysteresis=X, weight_gain_3d=KG, weight_gain_1d=KG, glucose_fall=MGDL_PER_MIN,
 *   forecast_horizon=SECONDS, schedule.weight|bp|glucose|spo2=HH:MM or off.
 * Returns 0, or HX_EINVAL with a one-line reason in err.
 */
int rules_config_apply(struct rules_patient_config *cfg, const char *key, const char *value,
                       char *err, size_t err_len);

/* The threshold rule of (code, dir) in cfg, or NULL. */
const struct rules_threshold *rules_config_threshold(const struct rules_patient_config *cfg,
                                                     int code, int dir);

/* Default expected reporting interval of a device kind, seconds (0 = not watched). */
uint32_t rules_kind_interval_s(const char *kind);

/* Default escalation policy of a severity. */
void rules_escalation_defaults(struct rules_escalation *e, int severity);
/* Parses "SECONDS:TARGET,SECONDS:TARGET...[;repeat=SECONDS]" or "none". Returns 0 or
 * HX_EINVAL with err. */
int rules_escalation_parse(struct rules_escalation *e, const char *value, char *err,
                           size_t err_len);

#endif
