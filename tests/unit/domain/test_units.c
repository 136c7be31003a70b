/*
 * Unit tests for src/domain/units.c: every accepted unit per canonical unit with its exact
 * conversion and flags, rejection of unknown and wrong-quantity units, and units_convert
 * round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "domain/codes.h"
#include "domain/units.h"

#include <math.h>
#include <string.h>

#define NS  UNITS_NOT_SENML
#define NC  UNITS_NONCONFORMANT
#define SEC UNITS_SENML_SECONDARY

/* Relative tolerance for "exact" conversions: far below any clinical resolution, far above
 * the few ulps that a multiply-then-divide can lose. */
static void assert_close(double got, double want, const char *what)
{
    double tol = 1e-12 * fmax(1.0, fabs(want));
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.17g, want %.17g", what, got, want);
}

static void check(enum obs_code_id id, const char *unit, double in, double want, unsigned flags)
{
    double out = -12345;
    unsigned got_flags = 0xdead;
    int rc = units_to_canonical(obs_code_get(id), slice_cstr(unit), in, &out, &got_flags);
    if (rc != 0)
        fail_msg("unit '%s' for code %d: rc %d", unit, (int)id, rc);
    assert_close(out, want, unit);
    if (got_flags != flags)
        fail_msg("unit '%s': flags %#x, want %#x", unit, got_flags, flags);
}

static void check_rejected(enum obs_code_id id, const char *unit)
{
    double out = -12345;
    unsigned flags = 0xdead;
    int rc = units_to_canonical(obs_code_get(id), slice_cstr(unit), 1.0, &out, &flags);
    if (rc != HX_EUNIT)
        fail_msg("unit '%s' for code %d: rc %d, want HX_EUNIT", unit, (int)id, rc);
    assert_true(out == -12345); /* untouched on error */
    assert_int_equal(flags, 0xdead);
}

static void check_convert(const char *from, const char *to, double in, double want)
{
    double out = -12345;
    int rc = units_convert(slice_cstr(from), slice_cstr(to), in, &out);
    if (rc != 0)
        fail_msg("convert '%s' -> '%s': rc %d", from, to, rc);
    assert_close(out, want, to);
}

static void check_convert_rejected(const char *from, const char *to)
{
    double out = -12345;
    int rc = units_convert(slice_cstr(from), slice_cstr(to), 1.0, &out);
    if (rc != HX_EUNIT)
        fail_msg("convert '%s' -> '%s': rc %d, want HX_EUNIT", from, to, rc);
    assert_true(out == -12345);
}

static void test_units_rate(void **state)
{
    (void)state;
    check(OBS_CODE_HEART_RATE, "/min", 72, 72, NS);
    check(OBS_CODE_HEART_RATE, "1/min", 72, 72, 0);
    check(OBS_CODE_HEART_RATE, "beat/min", 72, 72, 0);
    check(OBS_CODE_HEART_RATE, "{beats}/min", 72, 72, NS);
    check(OBS_CODE_RESP_RATE, "{breaths}/min", 16, 16, NS);
    check(OBS_CODE_PULSE_RATE, "1/s", 1.2, 72, 0); /* REFERENCE 3.2 example */
    check(OBS_CODE_HEART_RATE, "/s", 1.2, 72, NS);
    check(OBS_CODE_RESP_RATE, "1/s", 0.25, 15, 0);
    check(OBS_CODE_HEART_RATE, "bpm", 72, 72, NC);
    check(OBS_CODE_HEART_RATE_ECG, "bpm", 61, 61, NC);
    check(OBS_CODE_HEART_RATE_RESTING, "1/min", 55, 55, 0);
}

static void test_units_percent(void **state)
{
    (void)state;
    check(OBS_CODE_SPO2, "%", 97, 97, 0);
    check(OBS_CODE_SPO2, "/", 0.97, 97, 0);
    check(OBS_CODE_SPO2, "/", 1, 100, 0);
    check(OBS_CODE_SPO2, "/100", 97, 97, SEC);
    check(OBS_CODE_PERFUSION_INDEX, "/", 0.035, 3.5, 0);
    check(OBS_CODE_PERFUSION_INDEX, "%", 3.5, 3.5, 0);
}

static void test_units_pressure(void **state)
{
    (void)state;
    check(OBS_CODE_BP_SYS, "mm[Hg]", 120, 120, NS);
    check(OBS_CODE_BP_SYS, "mmHg", 120, 120, NC);
    check(OBS_CODE_BP_SYS, "Pa", 13332.2387415, 100, 0);
    check(OBS_CODE_BP_DIA, "Pa", 133.322387415, 1, 0);
    check(OBS_CODE_BP_MEAN, "hPa", 133.322387415, 100, SEC);
    check(OBS_CODE_BP_SYS, "kPa", 13.3322387415, 100, NS);
    /* 1 kPa = 1000 / 133.322387415 mm[Hg]; REFERENCE 1.1 rounds it to 7.50062. */
    check(OBS_CODE_BP_SYS, "kPa", 1, 7.500615758456563, NS);
}

static void test_units_temperature(void **state)
{
    (void)state;
    check(OBS_CODE_TEMPERATURE, "Cel", 37, 37, 0);
    check(OBS_CODE_TEMPERATURE, "K", 310.15, 37, 0);
    check(OBS_CODE_TEMPERATURE, "K", 273.15, 0, 0);
    check(OBS_CODE_TEMPERATURE, "[degF]", 98.6, 37, NS);
    check(OBS_CODE_TEMPERATURE, "[degF]", 32, 0, NS);
    check(OBS_CODE_TEMPERATURE, "[degF]", 212, 100, NS);
    check(OBS_CODE_TEMPERATURE, "[degF]", -40, -40, NS);
    check(OBS_CODE_TEMPERATURE, "degF", 98.6, 37, NC);
}

static void test_units_mass(void **state)
{
    (void)state;
    check(OBS_CODE_WEIGHT, "kg", 70, 70, 0);
    check(OBS_CODE_WEIGHT, "g", 3250, 3.25, 0);
    check(OBS_CODE_WEIGHT, "[lb_av]", 1, 0.45359237, NS);
    check(OBS_CODE_WEIGHT, "[lb_av]", 100, 45.359237, NS);
    check(OBS_CODE_WEIGHT, "lb", 100, 45.359237, NC);
    check(OBS_CODE_WEIGHT, "lbs", 200, 90.718474, NC);
}

static void test_units_length(void **state)
{
    (void)state;
    check(OBS_CODE_HEIGHT, "cm", 175, 175, SEC);
    check(OBS_CODE_HEIGHT, "m", 1.75, 175, 0);
    check(OBS_CODE_HEIGHT, "mm", 1750, 175, SEC);
    check(OBS_CODE_HEIGHT, "[in_i]", 70, 177.8, NS);
    check(OBS_CODE_HEIGHT, "[in_i]", 1, 2.54, NS);
}

static void test_units_glucose_mass(void **state)
{
    (void)state;
    check(OBS_CODE_GLUCOSE, "mg/dL", 100, 100, NS);
    check(OBS_CODE_GLUCOSE, "mg/dl", 100, 100, NS);
    check(OBS_CODE_GLUCOSE, "kg/m3", 1, 100, 0);
    check(OBS_CODE_GLUCOSE_CGM, "kg/m3", 1.23, 123, 0);
    check(OBS_CODE_GLUCOSE, "mg/l", 1000, 100, SEC);
    check(OBS_CODE_GLUCOSE, "mg/L", 1000, 100, NS);
    check(OBS_CODE_GLUCOSE, "g/l", 1, 100, SEC);
    check(OBS_CODE_GLUCOSE, "g/L", 1, 100, NS);
    check(OBS_CODE_GLUCOSE, "mmol/L", 5.5, 99.088, NS);
    check(OBS_CODE_GLUCOSE_CGM, "mmol/l", 10, 180.16, NS);
}

static void test_units_glucose_molar(void **state)
{
    (void)state;
    check(OBS_CODE_GLUCOSE_MOLAR, "mmol/L", 5.5, 5.5, NS);
    check(OBS_CODE_GLUCOSE_MOLAR, "mmol/l", 5.5, 5.5, NS);
    check(OBS_CODE_GLUCOSE_MOLAR, "mg/dL", 100, 100 / 18.016, NS);
    check(OBS_CODE_GLUCOSE_MOLAR, "mg/dl", 180.16, 10, NS);
    check(OBS_CODE_GLUCOSE_CGM_MOLAR, "kg/m3", 1, 100 / 18.016, 0);
    check(OBS_CODE_GLUCOSE_MOLAR, "mg/l", 1000, 100 / 18.016, SEC);
    check(OBS_CODE_GLUCOSE_MOLAR, "mg/L", 1000, 100 / 18.016, NS);
    check(OBS_CODE_GLUCOSE_MOLAR, "g/l", 1, 100 / 18.016, SEC);
    check(OBS_CODE_GLUCOSE_MOLAR, "g/L", 1, 100 / 18.016, NS);

    double out = 0;
    assert_int_equal(units_to_canonical(obs_code_get(OBS_CODE_GLUCOSE_MOLAR), slice_cstr("mg/dL"),
                                        100, &out, NULL),
                     0);
    assert_float_equal(out, 5.5506, 0.00005); /* the figure a clinician checks */
}

static void test_units_steps_duration_bmi(void **state)
{
    (void)state;
    check(OBS_CODE_STEPS, "{steps}", 8000, 8000, NS);
    check(OBS_CODE_STEPS, "count", 8000, 8000, 0);
    check(OBS_CODE_STEPS, "1", 8000, 8000, NS);
    check(OBS_CODE_STEPS, "steps", 8000, 8000, NC);
    check(OBS_CODE_SLEEP, "h", 7.5, 7.5, SEC);
    check(OBS_CODE_SLEEP, "min", 90, 1.5, SEC);
    check(OBS_CODE_SLEEP, "s", 27000, 7.5, 0);
    check(OBS_CODE_BMI, "kg/m2", 22.5, 22.5, NS);
}

/* An empty unit means the value is already canonical; no conformance flags. */
static void test_units_empty_is_canonical(void **state)
{
    (void)state;
    for (int id = 1; id < OBS_CODE__COUNT; id++) {
        double out = 0;
        unsigned flags = 0xdead;
        assert_int_equal(
            units_to_canonical(obs_code_get(id), slice_make(NULL, 0), 42.5, &out, &flags), 0);
        assert_true(out == 42.5);
        assert_int_equal(flags, 0);
    }
}

/* Every code's own canonical unit is accepted unchanged. */
static void test_units_canonical_unit_is_identity(void **state)
{
    (void)state;
    for (int id = 1; id < OBS_CODE__COUNT; id++) {
        const struct obs_code *c = obs_code_get(id);
        double out = 0;
        assert_int_equal(units_to_canonical(c, slice_cstr(c->ucum), 42.5, &out, NULL), 0);
        assert_true(out == 42.5);
    }
}

static void test_units_rejects_wrong_quantity(void **state)
{
    (void)state;
    check_rejected(OBS_CODE_HEART_RATE, "kg");
    check_rejected(OBS_CODE_HEART_RATE, "%");
    check_rejected(OBS_CODE_HEART_RATE, "min"); /* a duration, not a rate */
    check_rejected(OBS_CODE_HEART_RATE, "s");
    check_rejected(OBS_CODE_HEART_RATE, "count");
    check_rejected(OBS_CODE_HEART_RATE, "beats"); /* SenML cumulative beats, not a rate */
    check_rejected(OBS_CODE_RESP_RATE, "mm[Hg]");
    check_rejected(OBS_CODE_SPO2, "/min");
    check_rejected(OBS_CODE_SPO2, "1/s");
    check_rejected(OBS_CODE_SPO2, "%RH");
    check_rejected(OBS_CODE_SPO2, "%EL");
    check_rejected(OBS_CODE_BP_SYS, "Cel");
    check_rejected(OBS_CODE_TEMPERATURE, "mmHg");
    check_rejected(OBS_CODE_WEIGHT, "cm");
    check_rejected(OBS_CODE_WEIGHT, "mg/dL");
    check_rejected(OBS_CODE_HEIGHT, "kg");
    check_rejected(OBS_CODE_HEIGHT, "h");
    check_rejected(OBS_CODE_GLUCOSE, "kg");
    check_rejected(OBS_CODE_GLUCOSE, "%");
    check_rejected(OBS_CODE_STEPS, "/min");
    check_rejected(OBS_CODE_SLEEP, "/min");
    check_rejected(OBS_CODE_SLEEP, "1/s");
    check_rejected(OBS_CODE_BMI, "kg");
    check_rejected(OBS_CODE_BMI, "kg/m3");
}

static void test_units_rejects_unknown(void **state)
{
    (void)state;
    check_rejected(OBS_CODE_TEMPERATURE, "C");
    check_rejected(OBS_CODE_TEMPERATURE, "degC");
    check_rejected(OBS_CODE_TEMPERATURE, "\xc2\xb0"
                                         "C");
    check_rejected(OBS_CODE_TEMPERATURE, "F");
    check_rejected(OBS_CODE_TEMPERATURE, "cel"); /* UCUM is case-sensitive */
    check_rejected(OBS_CODE_BP_SYS, "mmhg");
    check_rejected(OBS_CODE_BP_SYS, "MMHG");
    check_rejected(OBS_CODE_WEIGHT, "KG");
    check_rejected(OBS_CODE_WEIGHT, " kg");
    check_rejected(OBS_CODE_WEIGHT, "kg ");
    check_rejected(OBS_CODE_HEART_RATE, "BPM");
    check_rejected(OBS_CODE_GLUCOSE, "MG/DL");
    check_rejected(OBS_CODE_GLUCOSE_MOLAR, "mmol");
    check_rejected(OBS_CODE_HEIGHT, "in");
    check_rejected(OBS_CODE_HEIGHT, "ft");
    check_rejected(OBS_CODE_STEPS, "furlongs");
}

static void test_units_respects_slice_length(void **state)
{
    const char buf[] = "kgXX";
    const char pa[] = "Pa\0";
    double out = 0;
    unsigned flags = 0;
    (void)state;
    assert_int_equal(
        units_to_canonical(obs_code_get(OBS_CODE_WEIGHT), slice_make(buf, 2), 70, &out, &flags), 0);
    assert_true(out == 70);
    /* An embedded NUL is a different unit, not a terminator. */
    assert_int_equal(
        units_to_canonical(obs_code_get(OBS_CODE_BP_SYS), slice_make(pa, 3), 1, &out, &flags),
        HX_EUNIT);
}

static void test_units_null_code_rejected(void **state)
{
    double out = 7;
    (void)state;
    assert_int_equal(units_to_canonical(NULL, slice_cstr("kg"), 1, &out, NULL), HX_EUNIT);
    assert_int_equal(units_to_canonical(NULL, slice_cstr(""), 1, &out, NULL), HX_EUNIT);
    assert_true(out == 7);
}

static void test_units_convert_listed(void **state)
{
    (void)state;
    check_convert("[degF]", "Cel", 98.6, 37);
    check_convert("Cel", "[degF]", 37, 98.6);
    check_convert("degF", "Cel", 212, 100);
    check_convert("K", "[degF]", 273.15, 32);
    check_convert("[lb_av]", "kg", 1, 0.45359237);
    check_convert("kg", "[lb_av]", 0.45359237, 1);
    check_convert("kg", "g", 1.5, 1500);
    check_convert("mg/dL", "mmol/L", 100, 100 / 18.016);
    check_convert("mmol/L", "mg/dL", 5.5, 99.088);
    check_convert("kg/m3", "mmol/L", 1, 100 / 18.016);
    check_convert("Pa", "mm[Hg]", 13332.2387415, 100);
    check_convert("mm[Hg]", "kPa", 100, 13.3322387415);
    check_convert("kPa", "Pa", 1, 1000);
    check_convert("1/s", "/min", 1.2, 72);
    check_convert("/min", "1/s", 72, 1.2);
    check_convert("%", "/", 97, 0.97);
    check_convert("m", "[in_i]", 0.0254, 1);
    check_convert("h", "s", 1, 3600);
    check_convert("min", "h", 30, 0.5);
    check_convert("count", "{steps}", 9, 9);
    check_convert("kg", "kg", 3, 3);
}

/* The listed pairs must round-trip within 1e-9 relative over the clinical range. */
static void test_units_convert_round_trips(void **state)
{
    static const char *const pairs[][2] = {
        {"[degF]", "Cel"},   {"degF", "Cel"}, {"[lb_av]", "kg"},   {"lb", "kg"},
        {"mg/dL", "mmol/L"}, {"K", "Cel"},    {"Pa", "mm[Hg]"},    {"kPa", "mm[Hg]"},
        {"[in_i]", "cm"},    {"1/s", "/min"}, {"kg/m3", "mmol/L"},
    };
    (void)state;
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        for (double v = -50; v <= 1000; v += 0.7) {
            double there = 0, back = 0;
            assert_int_equal(
                units_convert(slice_cstr(pairs[p][0]), slice_cstr(pairs[p][1]), v, &there), 0);
            assert_int_equal(
                units_convert(slice_cstr(pairs[p][1]), slice_cstr(pairs[p][0]), there, &back), 0);
            if (fabs(back - v) > 1e-9 * fmax(1.0, fabs(v)))
                fail_msg("%s -> %s -> %s: %.17g came back as %.17g", pairs[p][0], pairs[p][1],
                         pairs[p][0], v, back);
        }
    }
}

static void test_units_convert_rejects(void **state)
{
    (void)state;
    check_convert_rejected("kg", "Cel");
    check_convert_rejected("min", "/min");
    check_convert_rejected("s", "1/s");
    check_convert_rejected("%", "/min");
    check_convert_rejected("mg/dL", "kg");
    check_convert_rejected("", "kg");
    check_convert_rejected("kg", "");
    check_convert_rejected("", "");
    check_convert_rejected("stone", "kg");
    check_convert_rejected("kg", "stone");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_rate),
        cmocka_unit_test(test_units_percent),
        cmocka_unit_test(test_units_pressure),
        cmocka_unit_test(test_units_temperature),
        cmocka_unit_test(test_units_mass),
        cmocka_unit_test(test_units_length),
        cmocka_unit_test(test_units_glucose_mass),
        cmocka_unit_test(test_units_glucose_molar),
        cmocka_unit_test(test_units_steps_duration_bmi),
        cmocka_unit_test(test_units_empty_is_canonical),
        cmocka_unit_test(test_units_canonical_unit_is_identity),
        cmocka_unit_test(test_units_rejects_wrong_quantity),
        cmocka_unit_test(test_units_rejects_unknown),
        cmocka_unit_test(test_units_respects_slice_length),
        cmocka_unit_test(test_units_null_code_rejected),
        cmocka_unit_test(test_units_convert_listed),
        cmocka_unit_test(test_units_convert_round_trips),
        cmocka_unit_test(test_units_convert_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
