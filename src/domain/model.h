/*
 * Domain records: patient, device, device-to-patient assignment, observation and device
 * event. Plain structs with fixed-size text fields so they can be copied across threads
 * without ownership questions. Pure, no I/O. Thread: any.
 */
#ifndef MEDHUB_DOMAIN_MODEL_H
#define MEDHUB_DOMAIN_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define PAT_MRN_MAX  64
#define PAT_NAME_MAX 128
#define PAT_WARD_MAX 64
#define DEV_ID_MAX   64
#define DEV_KIND_MAX 32
#define DEV_TEXT_MAX 64
#define DEV_HASH_HEX 65 /* 64 hex digits of HMAC-SHA-256 + NUL */

struct patient {
    int64_t id;                  /* internal surrogate id (safe to log) */
    char mrn[PAT_MRN_MAX];       /* medical record number (PHI) */
    char name[PAT_NAME_MAX];     /* full name (PHI) */
    char birth_date[11];         /* YYYY-MM-DD or "" (PHI) */
    char ward[PAT_WARD_MAX];     /* ward or care team, "" when none */
    char location[PAT_WARD_MAX]; /* bed or home, "" when none */
    int64_t created_us;          /* when the record was created */
};

enum dev_status {
    DEV_STATUS_ACTIVE = 0,      /* may connect and send data */
    DEV_STATUS_DISABLED = 1,    /* refused at connect */
    DEV_STATUS_QUARANTINED = 2, /* refused at connect, flagged for security review */
};

struct device {
    int64_t id;                     /* internal surrogate id */
    char uid[DEV_ID_MAX];           /* external device id (MQTT client id / username) */
    char kind[DEV_KIND_MAX];        /* one of dev_kind_names */
    char model[DEV_TEXT_MAX];       /* manufacturer model, "" when unknown */
    char firmware[DEV_TEXT_MAX];    /* firmware version last reported, "" when unknown */
    char secret_hash[DEV_HASH_HEX]; /* hex HMAC-SHA-256 of the secret, "" for cert-only */
    enum dev_status status;         /* lifecycle state */
    int64_t last_seen_us;           /* last contact, 0 when never */
    int battery_pct;                /* last reported battery %, -1 when unknown */
    int64_t created_us;             /* when the record was created */
    int64_t connected_us;           /* last MQTT connect, 0 when never (schema v2) */
    int64_t disconnected_us;        /* last MQTT disconnect, 0 when never (schema v2) */
    int rssi_dbm;                   /* last reported signal strength, 0 when unknown (v2) */
};

struct assignment {
    int64_t device_id;  /* internal device id */
    int64_t patient_id; /* internal patient id */
    int64_t start_us;   /* inclusive */
    int64_t end_us;     /* exclusive; 0 while the assignment is open */
};

enum obs_status {
    OBS_STATUS_FINAL = 0,            /* FHIR final */
    OBS_STATUS_PRELIMINARY = 1,      /* FHIR preliminary */
    OBS_STATUS_AMENDED = 2,          /* FHIR amended */
    OBS_STATUS_ENTERED_IN_ERROR = 3, /* FHIR entered-in-error */
};

/* One normalized reading. value is always in the code's canonical UCUM unit. */
struct obs {
    uint64_t seq;         /* writer sequence number, assigned at enqueue (0 before) */
    int64_t patient_id;   /* attributed patient, 0 when the device was unassigned */
    int64_t device_id;    /* internal device id, 0 for manual entries */
    int64_t effective_us; /* when it was measured */
    int64_t received_us;  /* when medhub received it */
    double value;         /* in obs_code_get(code)->ucum */
    uint16_t code;        /* enum obs_code_id */
    uint8_t status;       /* enum obs_status */
};

/* What a device reported happening (events topic). The numbers are persisted (events.type):
 * never renumber. */
enum dev_event_type {
    DEV_EVENT_PILL_TAKEN = 1,  /* "pill_taken": flag, or text = compartment/medication */
    DEV_EVENT_DOSE_MISSED = 2, /* "dose_missed": flag, or text = schedule label */
    DEV_EVENT_BUTTON = 3,      /* "button": text = button id ("sos", "call"), or flag */
    DEV_EVENT_FALL = 4,        /* "fall": flag only (true detected, false cleared) */
    /* "connection_lost": flag (true = the device lost its connection), or text = cause;
     * meant as a device's MQTT Will message, see docs/senml.md. */
    DEV_EVENT_CONNECTION_LOST = 5,
};
/* Highest enum dev_event_type value. */
#define DEV_EVENT_TYPE_MAX DEV_EVENT_CONNECTION_LOST
/* Event text buffer: 1..63 printable ASCII bytes plus NUL. */
#define DEV_EVENT_TEXT_MAX 64

/* One device event, attributed like an observation. Stored once per (device, type, time). */
struct dev_event {
    int64_t device_id;             /* internal device id */
    int64_t patient_id;            /* patient assigned at time_us, 0 when unassigned */
    int64_t time_us;               /* when it happened */
    int64_t received_us;           /* when medhub received it */
    enum dev_event_type type;      /* which event */
    bool has_text;                 /* the value is text, else flag */
    bool flag;                     /* the boolean value when !has_text */
    char text[DEV_EVENT_TEXT_MAX]; /* the text value when has_text (may be PHI: never log it) */
};

/* Device kinds, NULL-terminated. */
extern const char *const dev_kind_names[];
/* True when kind is exactly one of dev_kind_names (case-sensitive); false for NULL. */
bool dev_kind_is_valid(const char *kind);
/* Static name ("active", "disabled", "quarantined"); "unknown" for an out-of-range value. */
const char *dev_status_name(enum dev_status s);
/* Exact, case-sensitive inverse of dev_status_name. OUT: *out, untouched on error.
 * Returns 0 or HX_EINVAL (also for NULL s). */
int dev_status_parse(const char *s, enum dev_status *out);
/* Static name of an event type ("pill_taken"); "unknown" for an out-of-range value. */
const char *dev_event_name(enum dev_event_type t);
/* True for the values of enum dev_event_type. */
bool dev_event_type_is_valid(int t);
/* FHIR R4 Observation.status code ("final", "preliminary", "amended", "entered-in-error");
 * "unknown" for an out-of-range value. */
const char *obs_status_name(enum obs_status s);

/* Validates user-facing text fields. Return 0 or HX_EINVAL (also for NULL). Thread: any. */
/* 1..63 printable ASCII (0x20..0x7e), no leading or trailing space. */
int pat_mrn_validate(const char *mrn);
/* [A-Za-z0-9._-]{1,63}, no MQTT wildcards or '/'; "." and ".." are refused too because the
 * uid is a URL path segment. */
int dev_uid_validate(const char *uid);
/* YYYY-MM-DD, a real proleptic-Gregorian date (leap years), year 0001..9999; may lie in the
 * future. "" (unknown birth date in struct patient) is HX_EINVAL: callers check for it first. */
int pat_birth_date_validate(const char *date);

#endif
