/*
 * Unit conversion: one table of every unit spelling medhub accepts, grouped by the canonical
 * UCUM unit of the quantity it measures, each with a linear conversion to that canonical unit
 * and its conformance flags (SenML registry, RFC 8798 secondary units, UCUM; REFERENCE 1.1 and
 * 3.3). Layer: domain (pure, no I/O). Thread: any; the table is const.
 */
#include "domain/units.h"

#include "core/err.h"

#include <string.h>

/* 1 mm[Hg] = 133.322387415 Pa exactly (UCUM: 13.5951 g/cm3 * 9.80665 m/s2 * 1 mm). Pa, hPa
 * and kPa all divide by it so they stay mutually consistent (1 kPa = 7.500615758 mm[Hg]). */
#define PA_PER_MMHG 133.322387415
#define KG_PER_LB   0.45359237 /* international avoirdupois pound, exact */
#define CM_PER_IN   2.54       /* international inch, exact */

/*
 * canonical = (value + add) * mul / div, and back: value = canonical * div / mul - add.
 * Keeping the exact factors separate (5 and 9, not 0.5555...) keeps round trips tight.
 */
struct unit_def {
    const char *canon; /* canonical UCUM unit of the quantity (struct obs_code.ucum) */
    const char *unit;  /* accepted spelling, case-sensitive */
    double add;        /* offset added before scaling */
    double mul;        /* multiplier */
    double div;        /* divisor */
    unsigned flags;    /* enum units_flags */
};

#define NS  UNITS_NOT_SENML
#define NC  UNITS_NONCONFORMANT
#define SEC UNITS_SENML_SECONDARY

static const struct unit_def unit_table[] = {
    /* Rates (heart, pulse, respiration). UCUM annotations ({beats}) carry no meaning. */
    {"/min", "/min", 0, 1, 1, NS},
    {"/min", "1/min", 0, 1, 1, 0},    /* SenML, not recommended */
    {"/min", "beat/min", 0, 1, 1, 0}, /* SenML, not recommended */
    {"/min", "{beats}/min", 0, 1, 1, NS},
    {"/min", "{breaths}/min", 0, 1, 1, NS},
    {"/min", "1/s", 0, 60, 1, 0}, /* SenML recommended event rate */
    {"/min", "/s", 0, 60, 1, NS},
    {"/min", "bpm", 0, 1, 1, NC},

    /* Percentages (SpO2, perfusion index). */
    {"%", "%", 0, 1, 1, 0},      /* SenML, not recommended */
    {"%", "/", 0, 100, 1, 0},    /* SenML ratio 0..1 */
    {"%", "/100", 0, 1, 1, SEC}, /* RFC 8798: 1/100 of "/", i.e. percent */

    /* Blood pressure. SenML has Pa (and secondary hPa), no mmHg and no kPa. */
    {"mm[Hg]", "mm[Hg]", 0, 1, 1, NS},
    {"mm[Hg]", "mmHg", 0, 1, 1, NC},
    {"mm[Hg]", "Pa", 0, 1, PA_PER_MMHG, 0},
    {"mm[Hg]", "hPa", 0, 100, PA_PER_MMHG, SEC},
    {"mm[Hg]", "kPa", 0, 1000, PA_PER_MMHG, NS},

    /* Temperature. */
    {"Cel", "Cel", 0, 1, 1, 0},
    {"Cel", "K", -273.15, 1, 1, 0},
    {"Cel", "[degF]", -32, 5, 9, NS},
    {"Cel", "degF", -32, 5, 9, NC},

    /* Body weight. */
    {"kg", "kg", 0, 1, 1, 0},
    {"kg", "g", 0, 1, 1000, 0}, /* SenML, not recommended */
    {"kg", "[lb_av]", 0, KG_PER_LB, 1, NS},
    {"kg", "lb", 0, KG_PER_LB, 1, NC},
    {"kg", "lbs", 0, KG_PER_LB, 1, NC},

    /* Body height. */
    {"cm", "cm", 0, 1, 1, SEC},
    {"cm", "m", 0, 100, 1, 0},
    {"cm", "mm", 0, 1, 10, SEC},
    {"cm", "[in_i]", 0, CM_PER_IN, 1, NS},

    /* Glucose, mass concentration. 1 kg/m3 = 1 g/L = 100 mg/dL. UCUM accepts both "l" and
     * "L" for the litre; SenML's secondary units spell it "l". */
    {"mg/dL", "mg/dL", 0, 1, 1, NS},
    {"mg/dL", "mg/dl", 0, 1, 1, NS},
    {"mg/dL", "kg/m3", 0, 100, 1, 0},
    {"mg/dL", "mg/l", 0, 1, 10, SEC},
    {"mg/dL", "mg/L", 0, 1, 10, NS},
    {"mg/dL", "g/l", 0, 100, 1, SEC},
    {"mg/dL", "g/L", 0, 100, 1, NS},
    {"mg/dL", "mmol/L", 0, UNITS_GLUCOSE_MGDL_PER_MMOLL, 1, NS},
    {"mg/dL", "mmol/l", 0, UNITS_GLUCOSE_MGDL_PER_MMOLL, 1, NS},

    /* Glucose, molar concentration: the same units, through mg/dL. */
    {"mmol/L", "mmol/L", 0, 1, 1, NS},
    {"mmol/L", "mmol/l", 0, 1, 1, NS},
    {"mmol/L", "mg/dL", 0, 1, UNITS_GLUCOSE_MGDL_PER_MMOLL, NS},
    {"mmol/L", "mg/dl", 0, 1, UNITS_GLUCOSE_MGDL_PER_MMOLL, NS},
    {"mmol/L", "kg/m3", 0, 100, UNITS_GLUCOSE_MGDL_PER_MMOLL, 0},
    {"mmol/L", "mg/l", 0, 1, 10 * UNITS_GLUCOSE_MGDL_PER_MMOLL, SEC},
    {"mmol/L", "mg/L", 0, 1, 10 * UNITS_GLUCOSE_MGDL_PER_MMOLL, NS},
    {"mmol/L", "g/l", 0, 100, UNITS_GLUCOSE_MGDL_PER_MMOLL, SEC},
    {"mmol/L", "g/L", 0, 100, UNITS_GLUCOSE_MGDL_PER_MMOLL, NS},

    /* Step counts. */
    {"{steps}", "{steps}", 0, 1, 1, NS},
    {"{steps}", "count", 0, 1, 1, 0},
    {"{steps}", "1", 0, 1, 1, NS},
    {"{steps}", "steps", 0, 1, 1, NC},

    /* Durations (sleep). SenML's primary unit is s; min and h are secondary. */
    {"h", "h", 0, 1, 1, SEC},
    {"h", "min", 0, 1, 60, SEC},
    {"h", "s", 0, 1, 3600, 0},

    /* BMI: kg/m2 is not a SenML unit (REFERENCE 3.4 computes BMI server-side). */
    {"kg/m2", "kg/m2", 0, 1, 1, NS},

    /* NEWS2 consciousness (coded, no SenML unit) and oxygen flow. */
    {"{ACVPU}", "{ACVPU}", 0, 1, 1, NS},
    {"L/min", "L/min", 0, 1, 1, NS},
    {"L/min", "l/min", 0, 1, 1, NS},
};

#undef NS
#undef NC
#undef SEC

#define N_UNITS (sizeof(unit_table) / sizeof(unit_table[0]))

static double to_canon(const struct unit_def *u, double v)
{
    return (v + u->add) * u->mul / u->div;
}

static double from_canon(const struct unit_def *u, double v)
{
    return v * u->div / u->mul - u->add;
}

/* The entry spelling unit within quantity canon, or NULL. */
static const struct unit_def *find_unit(const char *canon, struct slice unit)
{
    for (size_t i = 0; i < N_UNITS; i++) {
        if (strcmp(unit_table[i].canon, canon) == 0 && slice_eq_cstr(unit, unit_table[i].unit))
            return &unit_table[i];
    }
    return NULL;
}

int units_to_canonical(const struct obs_code *c, struct slice unit, double value, double *out,
                       unsigned *flags)
{
    if (c == NULL || c->ucum == NULL)
        return HX_EUNIT;
    if (unit.len == 0) {
        *out = value;
        if (flags)
            *flags = 0;
        return 0;
    }
    const struct unit_def *u = find_unit(c->ucum, unit);
    if (u == NULL)
        return HX_EUNIT;
    *out = to_canon(u, value);
    if (flags)
        *flags = u->flags;
    return 0;
}

int units_convert(struct slice from, struct slice to, double value, double *out)
{
    if (from.len == 0 || to.len == 0)
        return HX_EUNIT;
    /* Try every quantity that knows "from": glucose units belong to two of them. */
    for (size_t i = 0; i < N_UNITS; i++) {
        const struct unit_def *f = &unit_table[i];
        if (!slice_eq_cstr(from, f->unit))
            continue;
        const struct unit_def *t = find_unit(f->canon, to);
        if (t == NULL)
            continue;
        *out = from_canon(t, to_canon(f, value));
        return 0;
    }
    return HX_EUNIT;
}
