/*
 * Domain records: the device kind list, status and event type names, and the validators
 * for user-facing identifiers (MRN, device uid, birth date). Inputs here are NUL-terminated
 * strings that the caller already copied out of the wire, so bounded str* use is fine.
 * Layer: domain (pure, no I/O). Thread: any; all tables are const.
 */
#include "domain/model.h"

#include "core/err.h"

#include <stddef.h>
#include <string.h>

const char *const dev_kind_names[] = {
    "monitor",     /* bedside multi-parameter monitor */
    "patch",       /* wearable ECG / vitals patch */
    "bp_cuff",     /* non-invasive blood pressure cuff */
    "scale",       /* body weight scale */
    "oximeter",    /* pulse oximeter */
    "cgm",         /* continuous glucose monitor */
    "glucometer",  /* capillary blood glucose meter */
    "thermometer", /* body thermometer */
    "pill_bottle", /* smart medication container (adherence) */
    "knee_sensor", /* rehabilitation range-of-motion sensor */
    "gateway",     /* BLE/HL7 gateway forwarding for other devices */
    "env_sensor",  /* room environment (temperature, humidity, pressure) */
    "asset_tag",   /* RTLS asset tag */
    NULL,
};

bool dev_kind_is_valid(const char *kind)
{
    if (kind == NULL)
        return false;
    for (size_t i = 0; dev_kind_names[i] != NULL; i++) {
        if (strcmp(kind, dev_kind_names[i]) == 0)
            return true;
    }
    return false;
}

const char *dev_status_name(enum dev_status s)
{
    switch (s) {
    case DEV_STATUS_ACTIVE:
        return "active";
    case DEV_STATUS_DISABLED:
        return "disabled";
    case DEV_STATUS_QUARANTINED:
        return "quarantined";
    }
    return "unknown";
}

int dev_status_parse(const char *s, enum dev_status *out)
{
    static const enum dev_status all[] = {DEV_STATUS_ACTIVE, DEV_STATUS_DISABLED,
                                          DEV_STATUS_QUARANTINED};

    if (s == NULL)
        return HX_EINVAL;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(s, dev_status_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return HX_EINVAL;
}

const char *dev_event_name(enum dev_event_type t)
{
    switch (t) {
    case DEV_EVENT_PILL_TAKEN:
        return "pill_taken";
    case DEV_EVENT_DOSE_MISSED:
        return "dose_missed";
    case DEV_EVENT_BUTTON:
        return "button";
    case DEV_EVENT_FALL:
        return "fall";
    case DEV_EVENT_CONNECTION_LOST:
        return "connection_lost";
    }
    return "unknown";
}

bool dev_event_type_is_valid(int t)
{
    return t >= DEV_EVENT_PILL_TAKEN && t <= DEV_EVENT_TYPE_MAX;
}

/* FHIR R4 Observation.status (value set observation-status). */
const char *obs_status_name(enum obs_status s)
{
    switch (s) {
    case OBS_STATUS_FINAL:
        return "final";
    case OBS_STATUS_PRELIMINARY:
        return "preliminary";
    case OBS_STATUS_AMENDED:
        return "amended";
    case OBS_STATUS_ENTERED_IN_ERROR:
        return "entered-in-error";
    }
    return "unknown"; /* also a FHIR status code, so a bad value still serializes validly */
}

int pat_mrn_validate(const char *mrn)
{
    if (mrn == NULL)
        return HX_EINVAL;
    size_t len = strnlen(mrn, PAT_MRN_MAX);
    if (len == 0 || len >= PAT_MRN_MAX)
        return HX_EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)mrn[i];
        if (c < 0x20 || c > 0x7e) /* controls, DEL and anything non-ASCII */
            return HX_EINVAL;
    }
    if (mrn[0] == ' ' || mrn[len - 1] == ' ')
        return HX_EINVAL;
    return 0;
}

static bool is_uid_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int dev_uid_validate(const char *uid)
{
    if (uid == NULL)
        return HX_EINVAL;
    size_t len = strnlen(uid, DEV_ID_MAX);
    if (len == 0 || len >= DEV_ID_MAX)
        return HX_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (!is_uid_char((unsigned char)uid[i]))
            return HX_EINVAL;
    }
    /* The uid becomes a URL path segment (/api/v1/devices/<uid>, /fhir/Device/<uid>) and an
     * MQTT topic level; "." and ".." would be rewritten by URL normalization. */
    if (strcmp(uid, ".") == 0 || strcmp(uid, "..") == 0)
        return HX_EINVAL;
    return 0;
}

static bool is_leap_year(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Parses n ASCII digits; false on anything else. */
static bool parse_digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* FHIR R4 date, full precision (YYYY-MM-DD), proleptic Gregorian calendar. */
int pat_birth_date_validate(const char *date)
{
    static const unsigned char days_in_month[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, m, d;

    if (date == NULL || strnlen(date, 11) != 10)
        return HX_EINVAL;
    if (date[4] != '-' || date[7] != '-')
        return HX_EINVAL;
    if (!parse_digits(date, 4, &y) || !parse_digits(date + 5, 2, &m) ||
        !parse_digits(date + 8, 2, &d))
        return HX_EINVAL;
    if (y == 0 || m < 1 || m > 12 || d < 1) /* FHIR dates have no year 0000 */
        return HX_EINVAL;
    unsigned max_day = days_in_month[m - 1] + (m == 2 && is_leap_year(y) ? 1u : 0u);
    if (d > max_day)
        return HX_EINVAL;
    return 0;
}
