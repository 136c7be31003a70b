/*
 * Observation code tables: every vital sign medhub understands, with its LOINC code, canonical
 * UCUM unit, SenML names, IEEE 11073 MDC code and plausible physiological range.
 * Pure data and lookups, no I/O. Thread: any (tables are immutable).
 *
 * enum obs_code_id values are PERSISTED (the store keeps the number): never renumber or reuse
 * one; append new codes before OBS_CODE__COUNT.
 */
#ifndef MEDHUB_DOMAIN_CODES_H
#define MEDHUB_DOMAIN_CODES_H

#include "core/slice.h"

#include <stdbool.h>
#include <stdint.h>

enum obs_code_id {
    OBS_CODE_NONE = 0,
    OBS_CODE_HEART_RATE = 1,          /* 8867-4 /min */
    OBS_CODE_HEART_RATE_ECG = 2,      /* 76282-3 /min */
    OBS_CODE_PULSE_RATE = 3,          /* 8889-8 /min (pulse oximeter) */
    OBS_CODE_RESP_RATE = 4,           /* 9279-1 /min */
    OBS_CODE_SPO2 = 5,                /* 2708-6 % */
    OBS_CODE_BP_SYS = 6,              /* 8480-6 mm[Hg] */
    OBS_CODE_BP_DIA = 7,              /* 8462-4 mm[Hg] */
    OBS_CODE_BP_MEAN = 8,             /* 8478-0 mm[Hg] */
    OBS_CODE_TEMPERATURE = 9,         /* 8310-5 Cel */
    OBS_CODE_WEIGHT = 10,             /* 29463-7 kg */
    OBS_CODE_HEIGHT = 11,             /* 8302-2 cm */
    OBS_CODE_BMI = 12,                /* 39156-5 kg/m2 */
    OBS_CODE_GLUCOSE = 13,            /* 41653-7 mg/dL, capillary (meter) */
    OBS_CODE_GLUCOSE_MOLAR = 14,      /* 14743-9 mmol/L, capillary (meter) */
    OBS_CODE_GLUCOSE_CGM = 15,        /* 99504-3 mg/dL, interstitial (CGM) */
    OBS_CODE_GLUCOSE_CGM_MOLAR = 16,  /* 105272-9 mmol/L, interstitial (CGM) */
    OBS_CODE_STEPS = 17,              /* 55423-8 {steps} */
    OBS_CODE_SLEEP = 18,              /* 93832-4 h */
    OBS_CODE_PERFUSION_INDEX = 19,    /* 61006-3 % */
    OBS_CODE_HEART_RATE_RESTING = 20, /* 40443-4 /min */
    OBS_CODE_CONSCIOUSNESS = 21,      /* 67775-7 {ACVPU}: 1 A, 2 C (new confusion), 3 V, 4 P, 5 U */
    OBS_CODE_O2_FLOW = 22,            /* 3151-8 L/min: supplemental oxygen, 0 = room air */
    OBS_CODE__COUNT
};

struct obs_code {
    enum obs_code_id id;     /* stable persisted number */
    const char *loinc;       /* LOINC code, e.g. "8867-4" */
    const char *display;     /* LOINC display name, e.g. "Heart rate" */
    const char *ucum;        /* canonical UCUM unit every stored value is in, e.g. "/min" */
    const char *unit_label;  /* what a person reads, e.g. "bpm", "mmHg", "°C" */
    const char *senml_name;  /* friendly SenML name, e.g. "heart_rate" */
    const char *senml_alias; /* short SenML alias, e.g. "hr", or NULL */
    uint32_t mdc;            /* IEEE 11073-10101 32-bit MDC code, 0 when none is known */
    const char *mdc_ref;     /* MDC reference id, e.g. "MDC_ECG_HEART_RATE", or NULL */
    double min;              /* lowest plausible value, canonical unit, inclusive */
    double max;              /* highest plausible value, canonical unit, inclusive */
    bool is_vital_sign;      /* belongs to the FHIR vital-signs category */
    const char *loinc_also;  /* extra LOINC coding FHIR expects next to loinc (REFERENCE 1.1:
                              * SpO2 also 59408-5, ECG/oximeter rates also 8867-4), or NULL */
};

/* Returns the entry for id, or NULL when id is not a known code. */
const struct obs_code *obs_code_get(int id);

/* Looks up by LOINC code ("8867-4"). Also accepts a few alternative LOINC codes for the same
 * quantity (59408-5 -> SpO2, 76536-2 -> mean BP, site-specific body temperatures -> 8310-5).
 * OUT: *out borrows the static table. Returns 0 or HX_EUNKNOWN_CODE. */
int obs_code_by_loinc(struct slice loinc, const struct obs_code **out);

/* Looks up a SenML record name after base-name resolution: a friendly name ("heart_rate"), its
 * alias ("hr"), the slash forms of REFERENCE 3.4 ("bp/sys"), or a name ending in a URN
 * ("urn:loinc:8867-4", "urn:mdc:149530"); anything before the last '/' that precedes the
 * name (a device prefix from "bn") is ignored. A ':' before the name is accepted as that
 * separator too, as in the RFC 8428 examples ("urn:dev:ow:10e2073a01080063:temp"). Names are
 * case-sensitive (RFC 8428); the "urn:loinc:"/"urn:mdc:" prefixes are not (RFC 8141).
 * A name containing a LOINC/MDC URN is decided by that URN alone.
 * OUT: *out borrows the static table. Returns 0 or HX_EUNKNOWN_CODE. */
int obs_code_by_name(struct slice name, const struct obs_code **out);

/* Looks up by 32-bit MDC code. Also accepts the alternative MDC codes of REFERENCE 1.1 for the
 * same quantity (MDC_PULS_RATE_NON_INV, invasive arterial pressures, site-specific
 * temperatures, impedance/airway respiration rates, plasma-calibrated capillary glucose).
 * Where a molar glucose entry shares its MDC code with the mass one, the mass-concentration
 * entry is returned (the unit then converts). OUT: *out borrows the static table.
 * Returns 0 or HX_EUNKNOWN_CODE. */
int obs_code_by_mdc(uint32_t mdc, const struct obs_code **out);

/* True when value (canonical unit) lies within the code's plausible range, bounds inclusive.
 * False for NaN, infinities and a NULL c. */
bool obs_code_is_plausible(const struct obs_code *c, double value);

#endif
