/*
 * Unit tests for src/domain/codes.c: table integrity, lookups by id, LOINC, SenML name (aliases,
 * slash forms, URNs, device prefixes) and MDC code, and the plausibility bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "domain/codes.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int by_name(const char *name, const struct obs_code **out)
{
    return obs_code_by_name(slice_cstr(name), out);
}

static int by_loinc(const char *loinc, const struct obs_code **out)
{
    return obs_code_by_loinc(slice_cstr(loinc), out);
}

/* Looks name up and asserts it resolves to id. */
static void assert_name_is(const char *name, enum obs_code_id id)
{
    const struct obs_code *c = NULL;
    int rc = by_name(name, &c);
    if (rc != 0 || c == NULL || c->id != id)
        fail_msg("name '%s': rc %d, got id %d, want %d", name, rc, c ? (int)c->id : -1, (int)id);
}

static void assert_name_unknown(const char *name)
{
    const struct obs_code *c = NULL;
    int rc = by_name(name, &c);
    if (rc != HX_EUNKNOWN_CODE || c != NULL)
        fail_msg("name '%s': rc %d, want HX_EUNKNOWN_CODE and no result", name, rc);
}

static void assert_mdc_is(uint32_t mdc, enum obs_code_id id)
{
    const struct obs_code *c = NULL;
    assert_int_equal(obs_code_by_mdc(mdc, &c), 0);
    assert_non_null(c);
    assert_int_equal(c->id, id);
}

static void test_codes_table_is_complete(void **state)
{
    (void)state;
    for (int id = 1; id < OBS_CODE__COUNT; id++) {
        const struct obs_code *c = obs_code_get(id);
        assert_non_null(c);
        assert_int_equal(c->id, id);
        assert_non_null(c->loinc);
        assert_non_null(c->display);
        assert_non_null(c->ucum);
        assert_non_null(c->unit_label);
        assert_non_null(c->senml_name);
        assert_true(c->min < c->max);
        assert_true((c->mdc == 0) == (c->mdc_ref == NULL));
    }
}

static void test_codes_get_rejects_out_of_range(void **state)
{
    (void)state;
    assert_null(obs_code_get(OBS_CODE_NONE));
    assert_null(obs_code_get(-1));
    assert_null(obs_code_get(OBS_CODE__COUNT));
    assert_null(obs_code_get(1000));
}

/* Names and LOINC codes are unique across the table, so lookups are unambiguous. */
static void test_codes_names_and_loinc_are_unique(void **state)
{
    (void)state;
    for (int a = 1; a < OBS_CODE__COUNT; a++) {
        const struct obs_code *x = obs_code_get(a);
        for (int b = a + 1; b < OBS_CODE__COUNT; b++) {
            const struct obs_code *y = obs_code_get(b);
            assert_string_not_equal(x->loinc, y->loinc);
            assert_string_not_equal(x->senml_name, y->senml_name);
            if (x->senml_alias && y->senml_alias)
                assert_string_not_equal(x->senml_alias, y->senml_alias);
            if (y->senml_alias)
                assert_string_not_equal(x->senml_name, y->senml_alias);
            if (x->senml_alias)
                assert_string_not_equal(x->senml_alias, y->senml_name);
        }
    }
}

static void test_codes_every_code_round_trips(void **state)
{
    (void)state;
    for (int id = 1; id < OBS_CODE__COUNT; id++) {
        const struct obs_code *c = obs_code_get(id);
        const struct obs_code *got = NULL;

        assert_int_equal(by_loinc(c->loinc, &got), 0);
        assert_ptr_equal(got, c);

        got = NULL;
        assert_int_equal(by_name(c->senml_name, &got), 0);
        assert_ptr_equal(got, c);

        if (c->senml_alias) {
            got = NULL;
            assert_int_equal(by_name(c->senml_alias, &got), 0);
            assert_ptr_equal(got, c);
        }

        char urn[64];
        snprintf(urn, sizeof urn, "urn:loinc:%s", c->loinc);
        got = NULL;
        assert_int_equal(by_name(urn, &got), 0);
        assert_ptr_equal(got, c);

        snprintf(urn, sizeof urn, "urn:dev:mac:0024befffe804ff1/%s", c->senml_name);
        got = NULL;
        assert_int_equal(by_name(urn, &got), 0);
        assert_ptr_equal(got, c);
    }
}

static void test_codes_table_values(void **state)
{
    const struct obs_code *c;
    (void)state;

    c = obs_code_get(OBS_CODE_HEART_RATE);
    assert_string_equal(c->loinc, "8867-4");
    assert_string_equal(c->display, "Heart rate");
    assert_string_equal(c->ucum, "/min");
    assert_string_equal(c->unit_label, "bpm");
    assert_string_equal(c->senml_name, "heart_rate");
    assert_string_equal(c->senml_alias, "hr");
    assert_int_equal(c->mdc, 149522);
    assert_string_equal(c->mdc_ref, "MDC_PULS_RATE");
    assert_true(c->is_vital_sign);
    assert_null(c->loinc_also);

    c = obs_code_get(OBS_CODE_HEART_RATE_ECG);
    assert_string_equal(c->loinc, "76282-3");
    assert_int_equal(c->mdc, 147842);
    assert_string_equal(c->mdc_ref, "MDC_ECG_HEART_RATE");
    assert_string_equal(c->loinc_also, "8867-4");

    c = obs_code_get(OBS_CODE_PULSE_RATE);
    assert_string_equal(c->loinc, "8889-8");
    assert_int_equal(c->mdc, 149530);
    assert_string_equal(c->loinc_also, "8867-4");

    c = obs_code_get(OBS_CODE_RESP_RATE);
    assert_string_equal(c->unit_label, "breaths/min");
    assert_int_equal(c->mdc, 151562);

    c = obs_code_get(OBS_CODE_SPO2);
    assert_string_equal(c->loinc, "2708-6");
    assert_string_equal(c->ucum, "%");
    assert_int_equal(c->mdc, 150456);
    assert_string_equal(c->mdc_ref, "MDC_PULS_OXIM_SAT_O2");
    assert_string_equal(c->loinc_also, "59408-5");

    c = obs_code_get(OBS_CODE_BP_SYS);
    assert_string_equal(c->ucum, "mm[Hg]");
    assert_string_equal(c->unit_label, "mmHg");
    assert_int_equal(c->mdc, 150021);
    assert_int_equal(obs_code_get(OBS_CODE_BP_DIA)->mdc, 150022);
    assert_int_equal(obs_code_get(OBS_CODE_BP_MEAN)->mdc, 150023);

    c = obs_code_get(OBS_CODE_TEMPERATURE);
    assert_string_equal(c->ucum, "Cel");
    assert_string_equal(c->unit_label, "\xc2\xb0"
                                       "C");
    assert_int_equal(c->mdc, 150364);
    assert_string_equal(c->mdc_ref, "MDC_TEMP_BODY");

    assert_int_equal(obs_code_get(OBS_CODE_WEIGHT)->mdc, 188736);
    assert_int_equal(obs_code_get(OBS_CODE_HEIGHT)->mdc, 188740);
    c = obs_code_get(OBS_CODE_BMI);
    assert_string_equal(c->ucum, "kg/m2");
    assert_string_equal(c->unit_label, "kg/m\xc2\xb2");
    assert_int_equal(c->mdc, 188752);

    c = obs_code_get(OBS_CODE_GLUCOSE);
    assert_string_equal(c->ucum, "mg/dL");
    assert_int_equal(c->mdc, 160184);
    assert_false(c->is_vital_sign);
    c = obs_code_get(OBS_CODE_GLUCOSE_MOLAR);
    assert_string_equal(c->loinc, "14743-9");
    assert_string_equal(c->ucum, "mmol/L");
    c = obs_code_get(OBS_CODE_GLUCOSE_CGM);
    assert_string_equal(c->loinc, "99504-3");
    assert_int_equal(c->mdc, 160212);
    c = obs_code_get(OBS_CODE_GLUCOSE_CGM_MOLAR);
    assert_string_equal(c->loinc, "105272-9");
    assert_string_equal(c->ucum, "mmol/L");

    c = obs_code_get(OBS_CODE_STEPS);
    assert_string_equal(c->ucum, "{steps}");
    assert_int_equal(c->mdc, 0);
    assert_null(c->mdc_ref);
    assert_string_equal(obs_code_get(OBS_CODE_SLEEP)->ucum, "h");
    assert_int_equal(obs_code_get(OBS_CODE_PERFUSION_INDEX)->mdc, 150448);
    assert_string_equal(obs_code_get(OBS_CODE_HEART_RATE_RESTING)->loinc, "40443-4");
}

static void test_codes_vital_sign_category(void **state)
{
    static const enum obs_code_id vital[] = {
        OBS_CODE_HEART_RATE,  OBS_CODE_HEART_RATE_ECG, OBS_CODE_PULSE_RATE, OBS_CODE_RESP_RATE,
        OBS_CODE_SPO2,        OBS_CODE_BP_SYS,         OBS_CODE_BP_DIA,     OBS_CODE_BP_MEAN,
        OBS_CODE_TEMPERATURE, OBS_CODE_WEIGHT,         OBS_CODE_HEIGHT,     OBS_CODE_BMI,
    };
    (void)state;
    for (int id = 1; id < OBS_CODE__COUNT; id++) {
        bool want = false;
        for (size_t i = 0; i < sizeof vital / sizeof vital[0]; i++)
            want = want || vital[i] == (enum obs_code_id)id;
        assert_int_equal(obs_code_get(id)->is_vital_sign, want);
    }
}

static void test_codes_by_name_aliases(void **state)
{
    (void)state;
    assert_name_is("heart_rate", OBS_CODE_HEART_RATE);
    assert_name_is("hr", OBS_CODE_HEART_RATE);
    assert_name_is("pulse_rate", OBS_CODE_PULSE_RATE);
    assert_name_is("pr", OBS_CODE_PULSE_RATE);
    assert_name_is("resp_rate", OBS_CODE_RESP_RATE);
    assert_name_is("rr", OBS_CODE_RESP_RATE);
    assert_name_is("spo2", OBS_CODE_SPO2);
    assert_name_is("bp_sys", OBS_CODE_BP_SYS);
    assert_name_is("bp_dia", OBS_CODE_BP_DIA);
    assert_name_is("bp_mean", OBS_CODE_BP_MEAN);
    assert_name_is("temperature", OBS_CODE_TEMPERATURE);
    assert_name_is("temp", OBS_CODE_TEMPERATURE);
    assert_name_is("weight", OBS_CODE_WEIGHT);
    assert_name_is("height", OBS_CODE_HEIGHT);
    assert_name_is("bmi", OBS_CODE_BMI);
    assert_name_is("glucose", OBS_CODE_GLUCOSE);
    assert_name_is("glu", OBS_CODE_GLUCOSE);
    assert_name_is("glucose_mmol", OBS_CODE_GLUCOSE_MOLAR);
    assert_name_is("glu_mmol", OBS_CODE_GLUCOSE_MOLAR);
    assert_name_is("glucose_cgm", OBS_CODE_GLUCOSE_CGM);
    assert_name_is("cgm", OBS_CODE_GLUCOSE_CGM);
    assert_name_is("glucose_cgm_mmol", OBS_CODE_GLUCOSE_CGM_MOLAR);
    assert_name_is("cgm_mmol", OBS_CODE_GLUCOSE_CGM_MOLAR);
    assert_name_is("steps", OBS_CODE_STEPS);
    assert_name_is("sleep", OBS_CODE_SLEEP);
    assert_name_is("perfusion_index", OBS_CODE_PERFUSION_INDEX);
    assert_name_is("pi", OBS_CODE_PERFUSION_INDEX);
    assert_name_is("heart_rate_ecg", OBS_CODE_HEART_RATE_ECG);
    assert_name_is("hr_ecg", OBS_CODE_HEART_RATE_ECG);
    assert_name_is("resting_heart_rate", OBS_CODE_HEART_RATE_RESTING);
    assert_name_is("rhr", OBS_CODE_HEART_RATE_RESTING);
}

static void test_codes_by_name_slash_forms(void **state)
{
    (void)state;
    assert_name_is("bp/sys", OBS_CODE_BP_SYS);
    assert_name_is("bp/dia", OBS_CODE_BP_DIA);
    assert_name_is("bp/map", OBS_CODE_BP_MEAN);
    assert_name_is("urn:dev:mac:0024befffe804ff1/bp/sys", OBS_CODE_BP_SYS);
    assert_name_is("urn:dev:mac:0024befffe804ff1/bp/dia", OBS_CODE_BP_DIA);
    assert_name_is("cuff-7/bp/map", OBS_CODE_BP_MEAN);
    /* Only the whole slash form names a code, not its last segment. */
    assert_name_unknown("sys");
    assert_name_unknown("dev/sys");
    assert_name_unknown("xbp/sys");
    assert_name_unknown("bp/");
    assert_name_unknown("bp");
}

static void test_codes_by_name_device_prefix(void **state)
{
    (void)state;
    assert_name_is("urn:dev:mac:0024befffe804ff1/spo2", OBS_CODE_SPO2);
    assert_name_is("urn:dev:mac:0024befffe804ff1/pr", OBS_CODE_PULSE_RATE);
    assert_name_is("a/b/c/hr", OBS_CODE_HEART_RATE);
    assert_name_is("/hr", OBS_CODE_HEART_RATE);
    /* RFC 8428 examples end the base name with ':'. */
    assert_name_is("urn:dev:ow:10e2073a01080063:temp", OBS_CODE_TEMPERATURE);
    /* The separator must come right before the name. */
    assert_name_unknown("urn:dev:mac:0024befffe804ff1spo2");
    assert_name_unknown("xhr");
    assert_name_unknown("my_hr");
    assert_name_unknown("hr/");
    assert_name_unknown("hr/x");
    assert_name_unknown("spo2 ");
}

/* '_' is no separator: "resting_heart_rate" ends in "heart_rate" and "glucose_cgm_mmol" in
 * "cgm_mmol", yet each resolves to its own code. */
static void test_codes_by_name_longest_match(void **state)
{
    (void)state;
    assert_name_is("dev/heart_rate_ecg", OBS_CODE_HEART_RATE_ECG);
    assert_name_is("dev/resting_heart_rate", OBS_CODE_HEART_RATE_RESTING);
    assert_name_is("dev/glucose_cgm_mmol", OBS_CODE_GLUCOSE_CGM_MOLAR);
    assert_name_is("dev/cgm_mmol", OBS_CODE_GLUCOSE_CGM_MOLAR);
}

static void test_codes_by_name_urn_forms(void **state)
{
    (void)state;
    assert_name_is("urn:loinc:8867-4", OBS_CODE_HEART_RATE);
    assert_name_is("urn:loinc:59408-5", OBS_CODE_SPO2);
    assert_name_is("urn:mdc:149530", OBS_CODE_PULSE_RATE);
    assert_name_is("urn:mdc:150456", OBS_CODE_SPO2);
    assert_name_is("urn:mdc:149546", OBS_CODE_HEART_RATE);
    assert_name_is("URN:LOINC:8310-5", OBS_CODE_TEMPERATURE);
    assert_name_is("Urn:Mdc:150021", OBS_CODE_BP_SYS);
    assert_name_is("urn:dev:mac:0024befffe804ff1/urn:loinc:2708-6", OBS_CODE_SPO2);
    assert_name_is("urn:dev:mac:0024befffe804ff1/urn:mdc:151562", OBS_CODE_RESP_RATE);
    assert_name_is("urn:dev:ow:10e2073a01080063:urn:mdc:150364", OBS_CODE_TEMPERATURE);

    /* A URN decides alone: an unknown code is not rescued by the name matcher. */
    assert_name_unknown("urn:loinc:hr");
    assert_name_unknown("urn:mdc:hr");
    assert_name_unknown("urn:loinc:");
    assert_name_unknown("urn:mdc:");
    assert_name_unknown("urn:loinc:0000-0");
    assert_name_unknown("urn:loinc:8867-4 ");
    assert_name_unknown("urn:loinc:8867-4/x");
    assert_name_unknown("urn:mdc:99999");
    assert_name_unknown("urn:mdc:0");
    assert_name_unknown("urn:mdc:-149530");
    assert_name_unknown("urn:mdc:+149530");
    assert_name_unknown("urn:mdc:149530x");
    assert_name_unknown("urn:mdc:4294967296");
    assert_name_unknown("urn:mdc:4295117752"); /* 2^32 + 150456 must not wrap to SpO2 */
    assert_name_unknown("urn:mdc:99999999999");
    /* Must start the name or follow a separator. */
    assert_name_unknown("xurn:loinc:8867-4");
}

static void test_codes_by_name_unknown(void **state)
{
    const struct obs_code *c = NULL;
    (void)state;
    assert_name_unknown("");
    assert_name_unknown("/");
    assert_name_unknown(":");
    assert_name_unknown("heart");
    assert_name_unknown("HR");
    assert_name_unknown("Heart_Rate");
    assert_name_unknown("battery");
    assert_name_unknown("urn:dev:mac:0024befffe804ff1/");
    assert_int_equal(obs_code_by_name(slice_make(NULL, 0), &c), HX_EUNKNOWN_CODE);
    assert_null(c);
}

/* The slice is not NUL-terminated: lookups must stop at len. */
static void test_codes_by_name_respects_slice_length(void **state)
{
    const struct obs_code *c = NULL;
    const char buf[] = "hrXYZ";
    const char pfx[] = "dev/spo2garbage";
    const char loinc[] = "urn:loinc:8867-4999";
    (void)state;
    assert_int_equal(obs_code_by_name(slice_make(buf, 2), &c), 0);
    assert_int_equal(c->id, OBS_CODE_HEART_RATE);
    assert_int_equal(obs_code_by_name(slice_make(pfx, 8), &c), 0);
    assert_int_equal(c->id, OBS_CODE_SPO2);
    assert_int_equal(obs_code_by_name(slice_make(loinc, 16), &c), 0);
    assert_int_equal(c->id, OBS_CODE_HEART_RATE);
    assert_int_equal(obs_code_by_loinc(slice_make("8867-4", 5), &c), HX_EUNKNOWN_CODE);
}

static void test_codes_by_loinc_alternatives(void **state)
{
    const struct obs_code *c = NULL;
    (void)state;
    assert_int_equal(by_loinc("59408-5", &c), 0);
    assert_int_equal(c->id, OBS_CODE_SPO2);
    assert_int_equal(by_loinc("76536-2", &c), 0);
    assert_int_equal(c->id, OBS_CODE_BP_MEAN);
    static const char *const temps[] = {"8331-1", "8333-7", "8328-7", "8332-9"};
    for (size_t i = 0; i < 4; i++) {
        c = NULL;
        assert_int_equal(by_loinc(temps[i], &c), 0);
        assert_int_equal(c->id, OBS_CODE_TEMPERATURE);
    }
}

static void test_codes_by_loinc_unknown(void **state)
{
    const struct obs_code *c = NULL;
    (void)state;
    assert_int_equal(by_loinc("", &c), HX_EUNKNOWN_CODE);
    assert_int_equal(by_loinc("8867", &c), HX_EUNKNOWN_CODE);
    assert_int_equal(by_loinc("8867-4 ", &c), HX_EUNKNOWN_CODE);
    assert_int_equal(by_loinc("88867-4", &c), HX_EUNKNOWN_CODE);
    assert_int_equal(by_loinc("85354-9", &c), HX_EUNKNOWN_CODE); /* BP panel, not a value */
    assert_int_equal(by_loinc("hr", &c), HX_EUNKNOWN_CODE);
    assert_null(c);
}

static void test_codes_by_mdc_primary(void **state)
{
    (void)state;
    for (int id = 1; id < OBS_CODE__COUNT; id++) {
        const struct obs_code *c = obs_code_get(id);
        const struct obs_code *got = NULL;
        if (c->mdc == 0)
            continue;
        assert_int_equal(obs_code_by_mdc(c->mdc, &got), 0);
        /* Molar glucose shares its MDC code with the mass entry, which wins. */
        if (id == OBS_CODE_GLUCOSE_MOLAR)
            assert_int_equal(got->id, OBS_CODE_GLUCOSE);
        else if (id == OBS_CODE_GLUCOSE_CGM_MOLAR)
            assert_int_equal(got->id, OBS_CODE_GLUCOSE_CGM);
        else
            assert_ptr_equal(got, c);
    }
}

static void test_codes_by_mdc_alternatives(void **state)
{
    (void)state;
    assert_mdc_is(147842, OBS_CODE_HEART_RATE_ECG);
    assert_mdc_is(149522, OBS_CODE_HEART_RATE);
    assert_mdc_is(149546, OBS_CODE_HEART_RATE);
    assert_mdc_is(150033, OBS_CODE_BP_SYS);
    assert_mdc_is(150034, OBS_CODE_BP_DIA);
    assert_mdc_is(150035, OBS_CODE_BP_MEAN);
    assert_mdc_is(150344, OBS_CODE_TEMPERATURE);
    assert_mdc_is(150392, OBS_CODE_TEMPERATURE);
    assert_mdc_is(188424, OBS_CODE_TEMPERATURE);
    assert_mdc_is(188452, OBS_CODE_TEMPERATURE);
    assert_mdc_is(188428, OBS_CODE_TEMPERATURE);
    assert_mdc_is(188420, OBS_CODE_TEMPERATURE);
    assert_mdc_is(151578, OBS_CODE_RESP_RATE);
    assert_mdc_is(151570, OBS_CODE_RESP_RATE);
    assert_mdc_is(160188, OBS_CODE_GLUCOSE);
}

static void test_codes_by_mdc_unknown(void **state)
{
    const struct obs_code *c = NULL;
    (void)state;
    assert_int_equal(obs_code_by_mdc(0, &c), HX_EUNKNOWN_CODE);
    assert_int_equal(obs_code_by_mdc(150020, &c), HX_EUNKNOWN_CODE); /* BP compound */
    assert_int_equal(obs_code_by_mdc(262688, &c), HX_EUNKNOWN_CODE); /* a unit: MDC_DIM_PERCENT */
    assert_int_equal(obs_code_by_mdc(19384, &c), HX_EUNKNOWN_CODE);  /* 16-bit term, no part. */
    assert_int_equal(obs_code_by_mdc(UINT32_MAX, &c), HX_EUNKNOWN_CODE);
    assert_null(c);
}

/* Bounds are inclusive; the values just outside are rejected. */
static void assert_bounds(enum obs_code_id id, double min, double max)
{
    const struct obs_code *c = obs_code_get(id);
    assert_float_equal(c->min, min, 1e-12);
    assert_float_equal(c->max, max, 1e-12);
    assert_true(obs_code_is_plausible(c, min));
    assert_true(obs_code_is_plausible(c, max));
    assert_true(obs_code_is_plausible(c, (min + max) / 2));
    assert_false(obs_code_is_plausible(c, nextafter(min, -INFINITY)));
    assert_false(obs_code_is_plausible(c, nextafter(max, INFINITY)));
}

static void test_codes_plausible_bounds_inclusive(void **state)
{
    (void)state;
    assert_bounds(OBS_CODE_HEART_RATE, 20, 300);
    assert_bounds(OBS_CODE_HEART_RATE_ECG, 20, 300);
    assert_bounds(OBS_CODE_PULSE_RATE, 20, 250);
    assert_bounds(OBS_CODE_RESP_RATE, 1, 80);
    assert_bounds(OBS_CODE_SPO2, 50, 100);
    assert_bounds(OBS_CODE_BP_SYS, 40, 300);
    assert_bounds(OBS_CODE_BP_DIA, 10, 200);
    assert_bounds(OBS_CODE_BP_MEAN, 20, 250);
    assert_bounds(OBS_CODE_TEMPERATURE, 25, 45);
    assert_bounds(OBS_CODE_WEIGHT, 0.3, 500);
    assert_bounds(OBS_CODE_HEIGHT, 20, 280);
    assert_bounds(OBS_CODE_BMI, 5, 200);
    assert_bounds(OBS_CODE_GLUCOSE, 10, 1000);
    assert_bounds(OBS_CODE_GLUCOSE_MOLAR, 10 / 18.016, 1000 / 18.016);
    assert_bounds(OBS_CODE_GLUCOSE_CGM, 20, 600);
    assert_bounds(OBS_CODE_GLUCOSE_CGM_MOLAR, 20 / 18.016, 600 / 18.016);
    assert_bounds(OBS_CODE_STEPS, 0, 300000);
    assert_bounds(OBS_CODE_SLEEP, 0, 24);
    assert_bounds(OBS_CODE_PERFUSION_INDEX, 0.02, 20);
    assert_bounds(OBS_CODE_HEART_RATE_RESTING, 20, 200);
}

/* Artefacts seen in the MIMIC-II numerics (shared/data/vitals/README.md). */
static void test_codes_plausible_rejects_mimic_artefacts(void **state)
{
    (void)state;
    assert_false(obs_code_is_plausible(obs_code_get(OBS_CODE_SPO2), 36));
    assert_false(obs_code_is_plausible(obs_code_get(OBS_CODE_SPO2), 41.9));
    assert_true(obs_code_is_plausible(obs_code_get(OBS_CODE_SPO2), 50.8));
    assert_false(obs_code_is_plausible(obs_code_get(OBS_CODE_PULSE_RATE), 277));
    assert_false(obs_code_is_plausible(obs_code_get(OBS_CODE_PULSE_RATE), 272.8));
    assert_true(obs_code_is_plausible(obs_code_get(OBS_CODE_PULSE_RATE), 149));
    assert_false(obs_code_is_plausible(obs_code_get(OBS_CODE_RESP_RATE), 0.9));
    assert_false(obs_code_is_plausible(obs_code_get(OBS_CODE_HEART_RATE), 11.5));
    assert_false(obs_code_is_plausible(obs_code_get(OBS_CODE_HEART_RATE), 0));
    assert_true(obs_code_is_plausible(obs_code_get(OBS_CODE_BP_SYS), 40));
    assert_true(obs_code_is_plausible(obs_code_get(OBS_CODE_BP_DIA), 10));
}

static void test_codes_plausible_rejects_non_finite(void **state)
{
    const struct obs_code *c = obs_code_get(OBS_CODE_HEART_RATE);
    (void)state;
    assert_false(obs_code_is_plausible(c, NAN));
    assert_false(obs_code_is_plausible(c, INFINITY));
    assert_false(obs_code_is_plausible(c, -INFINITY));
    assert_false(obs_code_is_plausible(NULL, 70));
    assert_false(obs_code_is_plausible(obs_code_get(OBS_CODE_STEPS), -1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_table_is_complete),
        cmocka_unit_test(test_codes_get_rejects_out_of_range),
        cmocka_unit_test(test_codes_names_and_loinc_are_unique),
        cmocka_unit_test(test_codes_every_code_round_trips),
        cmocka_unit_test(test_codes_table_values),
        cmocka_unit_test(test_codes_vital_sign_category),
        cmocka_unit_test(test_codes_by_name_aliases),
        cmocka_unit_test(test_codes_by_name_slash_forms),
        cmocka_unit_test(test_codes_by_name_device_prefix),
        cmocka_unit_test(test_codes_by_name_longest_match),
        cmocka_unit_test(test_codes_by_name_urn_forms),
        cmocka_unit_test(test_codes_by_name_unknown),
        cmocka_unit_test(test_codes_by_name_respects_slice_length),
        cmocka_unit_test(test_codes_by_loinc_alternatives),
        cmocka_unit_test(test_codes_by_loinc_unknown),
        cmocka_unit_test(test_codes_by_mdc_primary),
        cmocka_unit_test(test_codes_by_mdc_alternatives),
        cmocka_unit_test(test_codes_by_mdc_unknown),
        cmocka_unit_test(test_codes_plausible_bounds_inclusive),
        cmocka_unit_test(test_codes_plausible_rejects_mimic_artefacts),
        cmocka_unit_test(test_codes_plausible_rejects_non_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
