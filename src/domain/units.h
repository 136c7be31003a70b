/*
 * Unit conversion between the units devices send (SenML, UCUM and a few common non-standard
 * spellings) and each code's canonical UCUM unit. Pure functions. Thread: any.
 * An unknown unit, or one that does not measure what the code measures, is HX_EUNIT: never a
 * silent default.
 */
#ifndef MEDHUB_DOMAIN_UNITS_H
#define MEDHUB_DOMAIN_UNITS_H

#include "core/slice.h"
#include "domain/codes.h"

enum units_flags {
    UNITS_NONCONFORMANT = 1u << 0,   /* unit is neither SenML-registered nor UCUM ("mmHg", "bpm") */
    UNITS_NOT_SENML = 1u << 1,       /* valid UCUM but not a registered SenML unit ("mg/dL") */
    UNITS_SENML_SECONDARY = 1u << 2, /* an RFC 8798 secondary unit ("cm", "h", "mg/l"): only
                                      * valid when the pack enables secondary units (REFERENCE
                                      * 3.3); the caller decides whether to accept it */
};

/* Converts value in unit to c's canonical UCUM unit. An empty unit means "already canonical"
 * (flags 0). Units are case-sensitive (UCUM c/s, SenML). The value is not range-checked and
 * NaN/infinity pass through: plausibility is obs_code_is_plausible's job.
 * OUT: *out the converted value; *flags (may be NULL) a set of enum units_flags.
 * Returns 0 or HX_EUNIT (with *out and *flags untouched), also for a NULL c. */
int units_to_canonical(const struct obs_code *c, struct slice unit, double value, double *out,
                       unsigned *flags);

/* Converts value between two units of the same quantity ("[degF]" -> "Cel", "[lb_av]" ->
 * "kg", "mg/dL" -> "mmol/L" for glucose, and the reverses), using the same table as
 * units_to_canonical. Both units must be non-empty. Returns 0 or HX_EUNIT (*out untouched). */
int units_convert(struct slice from, struct slice to, double value, double *out);

/* Glucose: mmol/L = mg/dL / UNITS_GLUCOSE_MGDL_PER_MMOLL (REFERENCE 1.1). */
#define UNITS_GLUCOSE_MGDL_PER_MMOLL 18.016

#endif
