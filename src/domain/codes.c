/*
 * Observation code table: one immutable entry per enum obs_code_id (LOINC, UCUM, SenML names,
 * IEEE 11073 MDC, plausible range) and the lookups by id, LOINC, SenML name and MDC code.
 * Sources: REFERENCE.md 1.1 (codes), 3.4 (SenML names), DESIGN.md "SenML record names".
 * Layer: domain (pure, no I/O, no allocation). Thread: any; every table is const, so there is
 * no shared mutable state.
 */
#include "domain/codes.h"

#include "core/err.h"
#include "domain/units.h"

#include <math.h>
#include <string.h>

/*
 * Plausible ranges are in the canonical unit, inclusive, and are meant to reject sensor
 * artefacts and unit mix-ups, not to flag clinical abnormality (rules do that). They are wide
 * enough for neonates and the extremes of adult physiology; real artefacts in the MIMIC-II
 * numerics (shared/data/vitals: HR 11.5, PULSE 272.8/277, RESP 0.9, SpO2 36/41.9) fall outside.
 */
static const struct obs_code code_table[OBS_CODE__COUNT] = {
    [OBS_CODE_HEART_RATE] =
        {
            .id = OBS_CODE_HEART_RATE,
            .loinc = "8867-4",
            .display = "Heart rate",
            .ucum = "/min",
            .unit_label = "bpm",
            .senml_name = "heart_rate",
            .senml_alias = "hr",
            /* Generic rate; the ECG-derived one (147842) has its own code below. */
            .mdc = 149522,
            .mdc_ref = "MDC_PULS_RATE",
            /* ECG monitors measure 15..300 (neonatal SVT reaches 300); below 20 is asystole
             * or lead-off, which alarms come from the monitor, not from a number. */
            .min = 20,
            .max = 300,
            .is_vital_sign = true,
        },
    [OBS_CODE_HEART_RATE_ECG] =
        {
            .id = OBS_CODE_HEART_RATE_ECG,
            .loinc = "76282-3",
            .display = "Heart rate.beat-to-beat by EKG",
            .ucum = "/min",
            .unit_label = "bpm",
            .senml_name = "heart_rate_ecg",
            .senml_alias = "hr_ecg",
            .mdc = 147842,
            .mdc_ref = "MDC_ECG_HEART_RATE",
            .min = 20, /* as heart rate */
            .max = 300,
            .is_vital_sign = true,
            .loinc_also = "8867-4",
        },
    [OBS_CODE_PULSE_RATE] =
        {
            .id = OBS_CODE_PULSE_RATE,
            .loinc = "8889-8",
            .display = "Heart rate by Pulse oximetry",
            .ucum = "/min",
            .unit_label = "bpm",
            .senml_name = "pulse_rate",
            .senml_alias = "pr",
            .mdc = 149530,
            .mdc_ref = "MDC_PULS_OXIM_PULS_RATE",
            /* Pulse oximeters specify 20..250 (Nellcor 20-250, Masimo SET 25-240); above that
             * is motion artefact (MIMIC s25047 PULSE 272.8 and 277 while HR was ~100). */
            .min = 20,
            .max = 250,
            .is_vital_sign = true,
            .loinc_also = "8867-4",
        },
    [OBS_CODE_RESP_RATE] =
        {
            .id = OBS_CODE_RESP_RATE,
            .loinc = "9279-1",
            .display = "Respiratory rate",
            .ucum = "/min",
            .unit_label = "breaths/min",
            .senml_name = "resp_rate",
            .senml_alias = "rr",
            .mdc = 151562,
            .mdc_ref = "MDC_RESP_RATE",
            /* Premature neonates breathe up to ~80; below 1 is apnoea or a lost impedance
             * signal (MIMIC s25047 RESP 0.9), which must not be stored as a rate. */
            .min = 1,
            .max = 80,
            .is_vital_sign = true,
        },
    [OBS_CODE_SPO2] =
        {
            .id = OBS_CODE_SPO2,
            .loinc = "2708-6",
            .display = "Oxygen saturation in Arterial blood",
            .ucum = "%",
            .unit_label = "%",
            .senml_name = "spo2",
            .senml_alias = NULL,
            .mdc = 150456,
            .mdc_ref = "MDC_PULS_OXIM_SAT_O2",
            /* Oximeters are calibrated 70..100 and unreliable below ~50; readings under 50
             * are probe-off artefacts in practice (MIMIC s25047 SpO2 36, 41.9, 42.9). */
            .min = 50,
            .max = 100,
            .is_vital_sign = true,
            .loinc_also = "59408-5",
        },
    [OBS_CODE_BP_SYS] =
        {
            .id = OBS_CODE_BP_SYS,
            .loinc = "8480-6",
            .display = "Systolic blood pressure",
            .ucum = "mm[Hg]",
            .unit_label = "mmHg",
            .senml_name = "bp_sys",
            .senml_alias = "bp/sys",
            .mdc = 150021,
            .mdc_ref = "MDC_PRESS_BLD_NONINV_SYS",
            /* Neonatal systolic can be ~40; cuffs top out at 280-300. */
            .min = 40,
            .max = 300,
            .is_vital_sign = true,
        },
    [OBS_CODE_BP_DIA] =
        {
            .id = OBS_CODE_BP_DIA,
            .loinc = "8462-4",
            .display = "Diastolic blood pressure",
            .ucum = "mm[Hg]",
            .unit_label = "mmHg",
            .senml_name = "bp_dia",
            .senml_alias = "bp/dia",
            .mdc = 150022,
            .mdc_ref = "MDC_PRESS_BLD_NONINV_DIA",
            .min = 10, /* neonatal/shocked patients go very low; cuff range ends near 200 */
            .max = 200,
            .is_vital_sign = true,
        },
    [OBS_CODE_BP_MEAN] =
        {
            .id = OBS_CODE_BP_MEAN,
            .loinc = "8478-0",
            .display = "Mean blood pressure",
            .ucum = "mm[Hg]",
            .unit_label = "mmHg",
            .senml_name = "bp_mean",
            .senml_alias = "bp/map",
            .mdc = 150023,
            .mdc_ref = "MDC_PRESS_BLD_NONINV_MEAN",
            .min = 20, /* between the diastolic and systolic bounds */
            .max = 250,
            .is_vital_sign = true,
        },
    [OBS_CODE_TEMPERATURE] =
        {
            .id = OBS_CODE_TEMPERATURE,
            .loinc = "8310-5",
            .display = "Body temperature",
            .ucum = "Cel",
            .unit_label = "°C",
            .senml_name = "temperature",
            .senml_alias = "temp",
            .mdc = 150364,
            .mdc_ref = "MDC_TEMP_BODY",
            /* Severe accidental hypothermia (<28) and lethal hyperthermia (>42) both occur
             * with a margin; outside 25..45 it is a room or skin reading, or Fahrenheit. */
            .min = 25,
            .max = 45,
            .is_vital_sign = true,
        },
    [OBS_CODE_WEIGHT] =
        {
            .id = OBS_CODE_WEIGHT,
            .loinc = "29463-7",
            .display = "Body weight",
            .ucum = "kg",
            .unit_label = "kg",
            .senml_name = "weight",
            .senml_alias = NULL,
            .mdc = 188736,
            .mdc_ref = "MDC_MASS_BODY_ACTUAL",
            .min = 0.3, /* extremely premature neonates (~300 g) */
            .max = 500, /* above the heaviest recorded humans; bariatric scales end near 450 */
            .is_vital_sign = true,
        },
    [OBS_CODE_HEIGHT] =
        {
            .id = OBS_CODE_HEIGHT,
            .loinc = "8302-2",
            .display = "Body height",
            .ucum = "cm",
            .unit_label = "cm",
            .senml_name = "height",
            .senml_alias = NULL,
            .mdc = 188740,
            .mdc_ref = "MDC_LEN_BODY_ACTUAL",
            .min = 20,  /* extremely premature neonates measure ~25 cm */
            .max = 280, /* tallest recorded human 272 cm */
            .is_vital_sign = true,
        },
    [OBS_CODE_BMI] =
        {
            .id = OBS_CODE_BMI,
            .loinc = "39156-5",
            .display = "Body mass index (BMI) [Ratio]",
            .ucum = "kg/m2",
            .unit_label = "kg/m²",
            .senml_name = "bmi",
            .senml_alias = NULL,
            .mdc = 188752,
            .mdc_ref = "MDC_RATIO_MASS_BODY_LEN_SQ",
            .min = 5,   /* neonates ~ 8-14; severe wasting ~ 10 */
            .max = 200, /* the heaviest recorded humans are near 190 */
            .is_vital_sign = true,
        },
    [OBS_CODE_GLUCOSE] =
        {
            .id = OBS_CODE_GLUCOSE,
            .loinc = "41653-7",
            .display = "Glucose [Mass/volume] in Capillary blood by Glucometer",
            .ucum = "mg/dL",
            .unit_label = "mg/dL",
            .senml_name = "glucose",
            .senml_alias = "glu",
            .mdc = 160184,
            .mdc_ref = "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD",
            /* Meters read ~10..600 ("LO"/"HI" beyond); hyperosmolar states exceed 1000 only
             * exceptionally, and below 10 the patient would not be sending readings. */
            .min = 10,
            .max = 1000,
            .is_vital_sign = false, /* FHIR category laboratory, not vital-signs */
        },
    [OBS_CODE_GLUCOSE_MOLAR] =
        {
            .id = OBS_CODE_GLUCOSE_MOLAR,
            .loinc = "14743-9",
            .display = "Glucose [Moles/volume] in Capillary blood by Glucometer",
            .ucum = "mmol/L",
            .unit_label = "mmol/L",
            .senml_name = "glucose_mmol",
            .senml_alias = "glu_mmol",
            .mdc = 160184, /* same quantity as mass glucose; by_mdc returns the mass entry */
            .mdc_ref = "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD",
            .min = 10 / UNITS_GLUCOSE_MGDL_PER_MMOLL, /* the mg/dL range, converted */
            .max = 1000 / UNITS_GLUCOSE_MGDL_PER_MMOLL,
            .is_vital_sign = false,
        },
    [OBS_CODE_GLUCOSE_CGM] =
        {
            .id = OBS_CODE_GLUCOSE_CGM,
            .loinc = "99504-3",
            .display = "Glucose [Mass/volume] in Interstitial fluid",
            .ucum = "mg/dL",
            .unit_label = "mg/dL",
            .senml_name = "glucose_cgm",
            .senml_alias = "cgm",
            .mdc = 160212,
            .mdc_ref = "MDC_CONC_GLU_ISF",
            /* CGM sensors clamp their output to 40..400 (Dexcom) or 40..500 (Libre); a value
             * outside 20..600 cannot come from a working sensor. */
            .min = 20,
            .max = 600,
            .is_vital_sign = false,
        },
    [OBS_CODE_GLUCOSE_CGM_MOLAR] =
        {
            .id = OBS_CODE_GLUCOSE_CGM_MOLAR,
            .loinc = "105272-9",
            .display = "Glucose [Moles/volume] in Interstitial fluid",
            .ucum = "mmol/L",
            .unit_label = "mmol/L",
            .senml_name = "glucose_cgm_mmol",
            .senml_alias = "cgm_mmol",
            .mdc = 160212, /* shared with the mass CGM entry, as for capillary glucose */
            .mdc_ref = "MDC_CONC_GLU_ISF",
            .min = 20 / UNITS_GLUCOSE_MGDL_PER_MMOLL,
            .max = 600 / UNITS_GLUCOSE_MGDL_PER_MMOLL,
            .is_vital_sign = false,
        },
    [OBS_CODE_STEPS] =
        {
            .id = OBS_CODE_STEPS,
            .loinc = "55423-8",
            .display = "Number of steps in unspecified time Pedometer",
            .ucum = "{steps}",
            .unit_label = "steps",
            .senml_name = "steps",
            .senml_alias = NULL,
            .mdc = 0, /* no verified 11073-10101 term (REFERENCE 1.1) */
            .mdc_ref = NULL,
            /* A count over the reporting period (at most a day in practice): ultra-marathon
             * days reach ~100k, so 300k catches counter garbage with a wide margin. */
            .min = 0,
            .max = 300000,
            .is_vital_sign = false, /* FHIR category activity */
        },
    [OBS_CODE_SLEEP] =
        {
            .id = OBS_CODE_SLEEP,
            .loinc = "93832-4",
            .display = "Sleep duration",
            .ucum = "h",
            .unit_label = "h",
            .senml_name = "sleep",
            .senml_alias = NULL,
            .mdc = 0, /* MDC_HF_ACT_SLEEP is an activity type, not a duration */
            .mdc_ref = NULL,
            .min = 0, /* per night or day: at most the whole 24 h */
            .max = 24,
            .is_vital_sign = false,
        },
    [OBS_CODE_PERFUSION_INDEX] =
        {
            .id = OBS_CODE_PERFUSION_INDEX,
            .loinc = "61006-3",
            .display = "Perfusion index Tissue by Pulse oximetry",
            .ucum = "%",
            .unit_label = "%",
            .senml_name = "perfusion_index",
            .senml_alias = "pi",
            .mdc = 150448,
            .mdc_ref = "MDC_PULS_OXIM_PERF_REL",
            .min = 0.02, /* the displayed range of oximeters that report PI (Masimo 0.02-20) */
            .max = 20,
            .is_vital_sign = false,
        },
    [OBS_CODE_HEART_RATE_RESTING] =
        {
            .id = OBS_CODE_HEART_RATE_RESTING,
            .loinc = "40443-4",
            .display = "Heart rate --resting",
            .ucum = "/min",
            .unit_label = "bpm",
            .senml_name = "resting_heart_rate",
            .senml_alias = "rhr",
            .mdc = 0, /* none in REFERENCE 1.1 */
            .mdc_ref = NULL,
            /* A daily wearable summary: athletes rest near 30, and a resting rate above 200
             * is an algorithm failure, not rest. */
            .min = 20,
            .max = 200,
            .is_vital_sign = false, /* a derived fitness summary, not a measured vital sign */
        },
    /* NEWS2's two observed (not measured) parameters, so that a nurse's entry or a bedside
     * monitor's record reaches the rules like any reading. */
    [OBS_CODE_CONSCIOUSNESS] =
        {
            .id = OBS_CODE_CONSCIOUSNESS,
            .loinc = "67775-7",
            .display = "Level of responsiveness",
            .ucum = "{ACVPU}",
            .unit_label = "ACVPU",
            .senml_name = "acvpu",
            .senml_alias = NULL,
            .mdc = 0,
            .mdc_ref = NULL,
            /* Coded 1 Alert, 2 new Confusion, 3 Voice, 4 Pain, 5 Unresponsive. */
            .min = 1,
            .max = 5,
            .is_vital_sign = false,
        },
    [OBS_CODE_O2_FLOW] =
        {
            .id = OBS_CODE_O2_FLOW,
            .loinc = "3151-8",
            .display = "Inhaled oxygen flow rate",
            .ucum = "L/min",
            .unit_label = "L/min",
            .senml_name = "o2_flow",
            .senml_alias = "o2",
            .mdc = 0,
            .mdc_ref = NULL,
            /* 0 is room air (NEWS2 "air"); high-flow nasal oxygen reaches 60 L/min. */
            .min = 0,
            .max = 60,
            .is_vital_sign = false,
        },
};

/* Alternative LOINC codes that identify the same quantity in the same canonical unit. */
static const struct {
    const char *loinc;
    enum obs_code_id id;
} loinc_alt[] = {
    {"59408-5", OBS_CODE_SPO2},       /* SpO2 by pulse oximetry (FHIR sends it with 2708-6) */
    {"76536-2", OBS_CODE_BP_MEAN},    /* mean BP by noninvasive */
    {"8331-1", OBS_CODE_TEMPERATURE}, /* oral */
    {"8333-7", OBS_CODE_TEMPERATURE}, /* tympanic */
    {"8328-7", OBS_CODE_TEMPERATURE}, /* axillary [verify] */
    {"8332-9", OBS_CODE_TEMPERATURE}, /* rectal [verify] */
};

/* Alternative MDC codes for the same quantity (REFERENCE 1.1). */
static const struct {
    uint32_t mdc;
    enum obs_code_id id;
} mdc_alt[] = {
    {149546, OBS_CODE_HEART_RATE},  /* MDC_PULS_RATE_NON_INV: pulse from an NIBP cuff */
    {150033, OBS_CODE_BP_SYS},      /* MDC_PRESS_BLD_ART_SYS: invasive arterial */
    {150034, OBS_CODE_BP_DIA},      /* MDC_PRESS_BLD_ART_DIA */
    {150035, OBS_CODE_BP_MEAN},     /* MDC_PRESS_BLD_ART_MEAN */
    {150344, OBS_CODE_TEMPERATURE}, /* MDC_TEMP, generic */
    {150392, OBS_CODE_TEMPERATURE}, /* MDC_TEMP_TYMP */
    {188424, OBS_CODE_TEMPERATURE}, /* oral */
    {188452, OBS_CODE_TEMPERATURE}, /* axilla */
    {188428, OBS_CODE_TEMPERATURE}, /* ear */
    {188420, OBS_CODE_TEMPERATURE}, /* rectal */
    {151578, OBS_CODE_RESP_RATE},   /* MDC_TTHOR_RESP_RATE: impedance [verify] */
    {151570, OBS_CODE_RESP_RATE},   /* MDC_AWAY_RESP_RATE: airway / spirometry */
    {160188, OBS_CODE_GLUCOSE},     /* MDC_CONC_GLU_CAPILLARY_PLASMA */
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

const struct obs_code *obs_code_get(int id)
{
    if (id <= OBS_CODE_NONE || id >= OBS_CODE__COUNT)
        return NULL;
    return &code_table[id];
}

/* Exact byte comparison of a slice with a C string from our own tables. */
static bool slice_is(struct slice s, const char *c)
{
    return c != NULL && slice_eq_cstr(s, c);
}

int obs_code_by_loinc(struct slice loinc, const struct obs_code **out)
{
    for (int id = OBS_CODE_NONE + 1; id < OBS_CODE__COUNT; id++) {
        if (slice_is(loinc, code_table[id].loinc)) {
            *out = &code_table[id];
            return 0;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(loinc_alt); i++) {
        if (slice_is(loinc, loinc_alt[i].loinc)) {
            *out = &code_table[loinc_alt[i].id];
            return 0;
        }
    }
    return HX_EUNKNOWN_CODE;
}

int obs_code_by_mdc(uint32_t mdc, const struct obs_code **out)
{
    if (mdc == 0)
        return HX_EUNKNOWN_CODE; /* 0 marks "no MDC code" in the table */
    /* Table order matters: mass glucose precedes the molar entry sharing its code. */
    for (int id = OBS_CODE_NONE + 1; id < OBS_CODE__COUNT; id++) {
        if (code_table[id].mdc == mdc) {
            *out = &code_table[id];
            return 0;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(mdc_alt); i++) {
        if (mdc_alt[i].mdc == mdc) {
            *out = &code_table[mdc_alt[i].id];
            return 0;
        }
    }
    return HX_EUNKNOWN_CODE;
}

static bool is_name_separator(uint8_t c)
{
    return c == '/' || c == ':';
}

/* ASCII case-insensitive compare of n bytes against a lower-case literal. */
static bool bytes_eq_nocase(const uint8_t *p, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)lower[i])
            return false;
    }
    return true;
}

/*
 * Finds the last "urn:loinc:" or "urn:mdc:" that starts the name or follows a separator.
 * OUT: *rest the code after the prefix, *is_mdc which prefix it was. Returns false if none.
 */
static bool find_code_urn(struct slice name, struct slice *rest, bool *is_mdc)
{
    static const char loinc_nid[] = "urn:loinc:";
    static const char mdc_nid[] = "urn:mdc:";

    for (size_t i = name.len; i-- > 0;) {
        if (i > 0 && !is_name_separator(name.ptr[i - 1]))
            continue;
        size_t left = name.len - i;
        if (left >= sizeof loinc_nid - 1 &&
            bytes_eq_nocase(name.ptr + i, loinc_nid, sizeof loinc_nid - 1)) {
            *rest = slice_make(name.ptr + i + sizeof loinc_nid - 1, left - (sizeof loinc_nid - 1));
            *is_mdc = false;
            return true;
        }
        if (left >= sizeof mdc_nid - 1 &&
            bytes_eq_nocase(name.ptr + i, mdc_nid, sizeof mdc_nid - 1)) {
            *rest = slice_make(name.ptr + i + sizeof mdc_nid - 1, left - (sizeof mdc_nid - 1));
            *is_mdc = true;
            return true;
        }
    }
    return false;
}

/* Parses 1..10 decimal digits into a uint32_t; anything else (sign, space, overflow) fails. */
static bool parse_u32(struct slice s, uint32_t *out)
{
    uint64_t v = 0;

    if (s.len == 0 || s.len > 10)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s.ptr[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/*
 * True when name is cand, or ends with cand right after a separator (a device prefix).
 * Matching the whole candidate, not the segment after the last '/', is what lets the slash
 * forms ("dev1/bp/sys") work.
 */
static bool name_matches(struct slice name, const char *cand)
{
    if (cand == NULL)
        return false;
    size_t n = strlen(cand);
    if (n == 0 || name.len < n || memcmp(name.ptr + name.len - n, cand, n) != 0)
        return false;
    return name.len == n || is_name_separator(name.ptr[name.len - n - 1]);
}

int obs_code_by_name(struct slice name, const struct obs_code **out)
{
    struct slice rest;
    bool is_mdc;

    if (name.len == 0)
        return HX_EUNKNOWN_CODE;
    if (find_code_urn(name, &rest, &is_mdc)) {
        if (!is_mdc)
            return obs_code_by_loinc(rest, out);
        uint32_t mdc;
        if (!parse_u32(rest, &mdc))
            return HX_EUNKNOWN_CODE;
        return obs_code_by_mdc(mdc, out);
    }

    /* Prefer the longest candidate so that a suffix never shadows a longer name. */
    const struct obs_code *best = NULL;
    size_t best_len = 0;
    for (int id = OBS_CODE_NONE + 1; id < OBS_CODE__COUNT; id++) {
        const struct obs_code *c = &code_table[id];
        const char *cands[] = {c->senml_name, c->senml_alias};
        for (size_t k = 0; k < ARRAY_LEN(cands); k++) {
            if (name_matches(name, cands[k]) && strlen(cands[k]) > best_len) {
                best = c;
                best_len = strlen(cands[k]);
            }
        }
    }
    if (best == NULL)
        return HX_EUNKNOWN_CODE;
    *out = best;
    return 0;
}

bool obs_code_is_plausible(const struct obs_code *c, double value)
{
    if (c == NULL || !isfinite(value))
        return false;
    return value >= c->min && value <= c->max;
}
