/*
 * NEWS2 (National Early Warning Score 2, Royal College of Physicians 2017): the Chart 1
 * sub-scores of the seven parameters, the aggregate, and the Chart 2/4 band with its clinical
 * response and minimum monitoring frequency (REFERENCE 6.1, 6.2). See docs/news2.md.
 *
 * Pure: no I/O, no mutable globals, no allocation; every string returned is static.
 * Thread: any.
 *
 * Rules that callers rely on:
 * - Values are rounded to the chart's resolution before they are scored ("round as charted",
 *   REFERENCE 6.1): temperature to 0.1 degC, the rest to whole numbers, half-way values up.
 *   So temperature 35.04 is charted 35.0 and scores 3, 35.05 is charted 35.1 and scores 1;
 *   respiration rate 20.4 scores as 20, 20.5 as 21. Equivalently, each printed upper bound B
 *   of a range is the threshold "value < B + half a step" on the real line.
 * - A missing parameter is never scored as 0. Without all seven the result is incomplete:
 *   score is -1 and band is RULES_NEWS2_BAND_INCOMPLETE; partial_score and minimum_band say
 *   how bad it is already (the complete score can only be higher).
 * - Parameter values outside the plausible physiological range of the domain code table
 *   (domain/codes.h) are errors, not extreme scores.
 */
#ifndef MEDHUB_RULES_NEWS2_H
#define MEDHUB_RULES_NEWS2_H

#include <stdbool.h>

/* The seven NEWS2 parameters, in chart order. Also bit numbers in the present and missing
 * sets (RULES_NEWS2_BIT). */
enum rules_news2_param {
    RULES_NEWS2_RR = 0,    /* respiration rate, breaths/min */
    RULES_NEWS2_SPO2 = 1,  /* oxygen saturation, %, on the chosen scale */
    RULES_NEWS2_O2 = 2,    /* air or supplemental oxygen */
    RULES_NEWS2_SBP = 3,   /* systolic blood pressure, mmHg */
    RULES_NEWS2_PULSE = 4, /* pulse, beats/min */
    RULES_NEWS2_ACVPU = 5, /* consciousness: alert, new confusion, voice, pain, unresponsive */
    RULES_NEWS2_TEMP = 6,  /* temperature, degC */
    RULES_NEWS2__COUNT = 7,
};

#define RULES_NEWS2_BIT(p) (1u << (p))
#define RULES_NEWS2_ALL    ((1u << RULES_NEWS2__COUNT) - 1u)

/* SpO2 scale (REFERENCE 6.1). Scale 2 is only for patients with confirmed hypercapnic
 * respiratory failure whose prescribed target is 88-92 %, a clinician's documented decision;
 * everyone else is on scale 1. Zero is "not given" so that a zeroed input is caught. */
enum rules_news2_scale {
    RULES_NEWS2_SCALE_1 = 1,
    RULES_NEWS2_SCALE_2 = 2,
};

/* Air or supplemental oxygen (any device or flow). Zero is "not given". */
enum rules_news2_o2 {
    RULES_NEWS2_AIR = 1,
    RULES_NEWS2_OXYGEN = 2,
};

/* ACVPU. C is NEW confusion (or new delirium or disorientation); a patient's baseline chronic
 * confusion is A. Zero is "not given". */
enum rules_news2_acvpu {
    RULES_NEWS2_ALERT = 1,
    RULES_NEWS2_CONFUSION = 2,
    RULES_NEWS2_VOICE = 3,
    RULES_NEWS2_PAIN = 4,
    RULES_NEWS2_UNRESPONSIVE = 5,
};

/* Clinical risk bands (Chart 2), lowest first: comparisons between NONE..HIGH are meaningful.
 * INCOMPLETE is not a risk level; it is the band of every incomplete set. */
enum rules_news2_band {
    RULES_NEWS2_BAND_NONE = 0,       /* aggregate 0 */
    RULES_NEWS2_BAND_LOW = 1,        /* aggregate 1-4, no single parameter scoring 3 */
    RULES_NEWS2_BAND_LOW_MEDIUM = 2, /* aggregate 1-4 with a 3 in a single parameter */
    RULES_NEWS2_BAND_MEDIUM = 3,     /* aggregate 5-6 (with or without a single 3) */
    RULES_NEWS2_BAND_HIGH = 4,       /* aggregate 7 or more */
    RULES_NEWS2_BAND_INCOMPLETE = 5, /* a parameter is missing: no valid NEWS2 */
};

/* One set of observations. A zero-initialised input has nothing present. */
struct rules_news2_input {
    unsigned present;             /* set of RULES_NEWS2_BIT(param): the fields that hold a
                                   * reading; the others are ignored */
    double rr;                    /* respiration rate, breaths/min */
    double spo2;                  /* SpO2, % (not a fraction) */
    enum rules_news2_scale scale; /* required when SpO2 is present; not a parameter itself */
    enum rules_news2_o2 o2;       /* air or oxygen */
    double sbp;                   /* systolic blood pressure, mmHg */
    double pulse;                 /* pulse, beats/min */
    enum rules_news2_acvpu acvpu; /* consciousness */
    double temp;                  /* temperature, degC */
};

/* The score of one set. */
struct rules_news2_result {
    int score;                   /* NEWS2 0..20 when complete; -1 when incomplete */
    int partial_score;           /* sum of the sub-scores that could be computed; equals score when
                                  * complete; a lower bound of the complete score otherwise */
    int sub[RULES_NEWS2__COUNT]; /* sub-score 0..3 per parameter, -1 when not scored */
    double charted[RULES_NEWS2__COUNT]; /* numeric parameters: the value as charted (rounded
                                         * to the chart's resolution) that was scored; NAN for
                                         * O2, ACVPU and missing parameters */
    unsigned missing;                   /* set of RULES_NEWS2_BIT(param) absent from input */
    bool complete;                      /* all seven present and scored: score is NEWS2 */
    bool single_parameter_3;            /* some scored parameter scores 3 ("red score") */
    enum rules_news2_band band;         /* band of score; INCOMPLETE unless complete */
    enum rules_news2_band minimum_band; /* band of partial_score and the 3s seen so far: the
                                         * complete score's band is this or higher. Equals
                                         * band when complete */
};

/* Scores the set in. Rounds each numeric value as charted, scores it per Chart 1, sums, and bands.
 * SpO2 on scale 2 at or above 93 % depends on air/oxygen; without O2 it is not scored (sub
 * -1; O2 is in missing). Both arguments are borrowed for the call.
 * OUT: *out, written only on success.
 * Returns 0; HX_EINVAL when a present numeric value is NaN or infinite, a present enum is
 * out of range, SpO2 is present with a scale other than 1 or 2, or present has bits beyond
 * RULES_NEWS2_ALL; HX_ERANGE when a present numeric value is outside its plausible range
 * (rules_news2_range), bounds inclusive, checked before rounding. Thread: any. */
int rules_news2_score(const struct rules_news2_input *in, struct rules_news2_result *out);

/* The plausible range of a numeric parameter (RR, SpO2, SBP, pulse, temperature), bounds
 * inclusive, in the units of struct rules_news2_input; taken from the domain code table.
 * OUT: *min, *max. Returns 0, or HX_EINVAL for O2, ACVPU or an unknown parameter. */
int rules_news2_range(enum rules_news2_param p, double *min, double *max);

/* Short lower-case name of a parameter as used in JSON and the CLI: "rr", "spo2", "o2",
 * "sbp", "pulse", "acvpu", "temp". "?" for an unknown value. */
const char *rules_news2_param_name(enum rules_news2_param p);

/* Band name: "none", "low", "low-medium", "medium", "high", "incomplete"; "?" if unknown. */
const char *rules_news2_band_name(enum rules_news2_band b);

/* The RCP clinical response for a band (Chart 4), one sentence; for INCOMPLETE, what to do
 * about the missing parameters. "?" if unknown. */
const char *rules_news2_band_response(enum rules_news2_band b);

/* The minimum monitoring frequency for a band (Chart 4), e.g. "minimum 4-6-hourly". "?" if
 * unknown. */
const char *rules_news2_band_monitoring(enum rules_news2_band b);

#endif
