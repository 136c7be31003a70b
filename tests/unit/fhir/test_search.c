/*
 * Unit tests for src/fhir/search.c: FHIR search parameters into a typed search (per type,
 * strict and lenient), date prefixes and implicit ranges, token lists with escapes, ids,
 * cursors and the search URLs of Bundle links.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "domain/codes.h"
#include "fhir/fhir_int.h"

#include <stdlib.h>
#include <string.h>

#define US      INT64_C(1000000)
#define DAY     (86400 * US)
#define T2026   (INT64_C(1767225600) * US) /* 2026-01-01T00:00:00Z */
#define K(code) (UINT64_C(1) << (code))
#define P(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static int parse(enum fhir_type t, const struct fhir_param *p, size_t n, struct fhir_query *q,
                 struct fhir_error *err)
{
    return fhir__search_parse(t, p, n, false, q, err);
}

static void test_search_date_prefixes_and_precision(void **state)
{
    (void)state;
    struct fhir_date d;
    const char *why;
    assert_int_equal(fhir__date_parse("2026", 4, false, &d, &why), 0);
    assert_int_equal(d.prefix, FHIR_PREFIX_EQ);
    assert_int_equal(d.start_us, T2026);
    assert_int_equal(d.end_us, INT64_C(1798761600) * US); /* 2027-01-01 */
    assert_int_equal(fhir__date_parse("ge2026-02", 9, false, &d, &why), 0);
    assert_int_equal(d.prefix, FHIR_PREFIX_GE);
    assert_int_equal(d.start_us, T2026 + 31 * DAY);
    assert_int_equal(d.end_us, T2026 + 59 * DAY); /* February 2026 has 28 days */
    assert_int_equal(fhir__date_parse("lt2024-02-29", 12, false, &d, &why), 0);
    assert_int_equal(d.end_us - d.start_us, DAY);
    assert_int_equal(fhir__date_parse("2026-01-01T10:00+01:00", 22, false, &d, &why), 0);
    assert_int_equal(d.start_us, T2026 + 9 * 3600 * US);
    assert_int_equal(d.end_us - d.start_us, 60 * US);
    assert_int_equal(fhir__date_parse("2026-01-01T00:00:05.25Z", 23, false, &d, &why), 0);
    assert_int_equal(d.start_us, T2026 + 5250000);
    assert_int_equal(d.end_us - d.start_us, 10000);
    assert_int_equal(fhir__date_parse("1815-12-10", 10, true, &d, &why), 0);
    assert_true(d.start_us < 0);

    static const char *const bad[] = {
        "2026-13",
        "2026-02-29",
        "0000",
        "26",
        "2026-1",
        "2026-01-01T10:00",
        "2026-01-01T25:00Z",
        "xx2026",
        "2026-01-01T10:00:00.Z",
        "2026-01-01T10Z",
        "2026-01-01Z",
        "2026-01-01T10:00+15:00",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fhir__date_parse(bad[i], strlen(bad[i]), false, &d, &why), HX_EMALFORMED);
    assert_int_equal(fhir__date_parse("2026-01-01T10:00Z", 17, true, &d, &why), HX_EMALFORMED);
    assert_int_equal(fhir__date_parse("ap2026", 6, false, &d, &why), HX_EINVAL);
}

static void test_search_range_semantics(void **state)
{
    (void)state;
    struct fhir_date d = {FHIR_PREFIX_EQ, 100, 200};
    struct store_time_range r;
    static const struct {
        enum fhir_prefix p;
        int64_t lo, hi;
    } want[] = {
        {FHIR_PREFIX_EQ, 100, 200},       {FHIR_PREFIX_GT, 200, INT64_MAX},
        {FHIR_PREFIX_SA, 200, INT64_MAX}, {FHIR_PREFIX_GE, 100, INT64_MAX},
        {FHIR_PREFIX_LT, INT64_MIN, 100}, {FHIR_PREFIX_EB, INT64_MIN, 100},
        {FHIR_PREFIX_LE, INT64_MIN, 200},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        store_time_range_all(&r);
        d.prefix = want[i].p;
        assert_int_equal(fhir__range_apply(&r, &d), 0);
        assert_int_equal(r.lo_us, want[i].lo);
        assert_int_equal(r.hi_us, want[i].hi);
    }
    store_time_range_all(&r);
    d.prefix = FHIR_PREFIX_NE;
    for (int i = 0; i < STORE_RANGE_EXCLUDE_MAX; i++)
        assert_int_equal(fhir__range_apply(&r, &d), 0);
    assert_int_equal(r.n_exclude, STORE_RANGE_EXCLUDE_MAX);
    assert_int_equal(fhir__range_apply(&r, &d), HX_ETOOBIG);
}

static void test_search_observation_parameters(void **state)
{
    (void)state;
    struct fhir_query q;
    struct fhir_error err;
    const struct fhir_param p[] = {
        P("subject", "Patient/12"),
        P("code", "http://loinc.org|8867-4,urn:iso:std:iso:11073:10101|150456,85354-9"),
        P("category", "vital-signs"),
        P("date", "ge2026-01-01"),
        P("date", "lt2026-01-02"),
        P("date", "ne2026-01-01T10:00Z"),
        P("_lastUpdated", "gt2026"),
        P("device", "Device/7"),
        P("_count", "5000"),
        P("_sort", "date"),
        P("_format", "application/fhir+json"),
        P("_total", "accurate"),
    };
    assert_int_equal(parse(FHIR_OBSERVATION, p, 12, &q, &err), 0);
    assert_true(q.has_patient && q.patient_id == 12);
    /* 8867-4 is heart rate, and the extra coding of the ECG and oximeter rates. */
    assert_int_equal(q.kinds, K(OBS_CODE_HEART_RATE) | K(OBS_CODE_HEART_RATE_ECG) |
                                  K(OBS_CODE_PULSE_RATE) | K(OBS_CODE_SPO2) |
                                  STORE_OBS_KIND_BP_PANEL);
    assert_int_equal(q.date.lo_us, T2026);
    assert_int_equal(q.date.hi_us, T2026 + DAY);
    assert_int_equal(q.date.n_exclude, 1);
    assert_true(q.has_last_updated && q.last_updated.lo_us == INT64_C(1798761600) * US);
    assert_true(q.has_device && q.device_id == 7);
    assert_int_equal(q.count, FHIR_COUNT_MAX);
    assert_false(q.descending);
    assert_int_equal(q.total, FHIR_TOTAL_ACCURATE);
    for (int i = 0; i < 12; i++)
        assert_true(q.used[i]);

    /* Categories select codes; an unknown code or a foreign system matches nothing. */
    const struct fhir_param p2[] = {P("patient", "3"), P("category", "laboratory,activity")};
    assert_int_equal(parse(FHIR_OBSERVATION, p2, 2, &q, &err), 0);
    assert_true(q.kinds & K(OBS_CODE_GLUCOSE));
    assert_true(q.kinds & K(OBS_CODE_STEPS));
    assert_false(q.kinds & K(OBS_CODE_HEART_RATE));
    assert_true(q.descending); /* default: newest first */
    const struct fhir_param p3[] = {P("patient", "3"), P("code", "http://snomed.info/sct|8867-4")};
    assert_int_equal(parse(FHIR_OBSERVATION, p3, 2, &q, &err), 0);
    assert_int_equal(q.kinds, 0);

    /* _id of an Observation names its patient, code, instant and device. */
    const struct fhir_param p4[] = {P("_id", "3.bp.1767225600000000.7")};
    assert_int_equal(parse(FHIR_OBSERVATION, p4, 1, &q, &err), 0);
    assert_int_equal(q.patient_id, 3);
    assert_int_equal(q.kinds, STORE_OBS_KIND_BP_PANEL);
    assert_int_equal(q.date.lo_us, T2026);
    assert_int_equal(q.date.hi_us, T2026 + 1);
    assert_int_equal(q.device_id, 7);
    const struct fhir_param p5[] = {P("_id", "3.1.1767225600000000.7"), P("patient", "4")};
    assert_int_equal(parse(FHIR_OBSERVATION, p5, 2, &q, &err), 0);
    assert_true(q.none);
}

static void test_search_refuses_bad_requests(void **state)
{
    (void)state;
    struct fhir_query q;
    struct fhir_error err;
    static const struct {
        enum fhir_type t;
        struct fhir_param p[2];
        size_t n;
        int status;
        const char *code;
    } cases[] = {
        {FHIR_OBSERVATION, {P("code", "8867-4")}, 1, 400, "too-costly"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("colour", "red")}, 2, 400, "not-supported"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("date", "2026-13")}, 2, 400, "invalid"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("date", "ap2026")}, 2, 400, "not-supported"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("subject", "2")}, 2, 400, "invalid"},
        {FHIR_OBSERVATION, {P("patient", "1,2")}, 1, 400, "not-supported"},
        {FHIR_OBSERVATION, {P("patient", "Group/1")}, 1, 400, "invalid"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("_count", "ten")}, 2, 400, "invalid"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("_sort", "code")}, 2, 400, "not-supported"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("_format", "xml")}, 2, 406, "not-supported"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("_summary", "true")}, 2, 400, "not-supported"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("_cursor", "bm9wZQ")}, 2, 400, "invalid"},
        {FHIR_OBSERVATION, {P("patient", "1"), P("code", "")}, 2, 400, "invalid"},
        {FHIR_OBSERVATION, {P("patient:missing", "true")}, 1, 400, "not-supported"},
        {FHIR_PATIENT, {P("name:sounds", "ada")}, 1, 400, "not-supported"},
        {FHIR_PATIENT, {P("birthdate", "2026-01-01T10:00Z")}, 1, 400, "invalid"},
        {FHIR_PATIENT, {P("name", "a,b")}, 1, 400, "not-supported"},
        {FHIR_PATIENT, {P("code", "8867-4")}, 1, 400, "not-supported"},
        {FHIR_FLAG, {P("status", "open")}, 1, 400, "invalid"},
        {FHIR_DEVICE, {P("_sort", "_id")}, 1, 400, "not-supported"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = parse(cases[i].t, cases[i].p, cases[i].n, &q, &err);
        if (rc != HX_EINVAL || err.status != cases[i].status ||
            strcmp(err.code, cases[i].code) != 0)
            fail_msg("case %zu: rc %d status %d code %s (%s)", i, rc, err.status,
                     err.code ? err.code : "-", err.diagnostics);
        assert_true(strstr(err.diagnostics, "search parameter '") != NULL);
    }
    /* A cursor made for the other sort direction. */
    struct fhir_cursor c = {.set = true, .descending = true, .a = T2026, .b = 1, .c = 2};
    char tok[FHIR_CURSOR_MAX + 1];
    fhir__cursor_encode(FHIR_OBSERVATION, &c, tok);
    struct fhir_param p[3] = {P("patient", "1"), P("_sort", "date"), {"_cursor", 7, tok, 0}};
    p[2].value_len = strlen(tok);
    assert_int_equal(parse(FHIR_OBSERVATION, p, 3, &q, &err), HX_EINVAL);
    p[1] = (struct fhir_param)P("_sort", "-date");
    assert_int_equal(parse(FHIR_OBSERVATION, p, 3, &q, &err), 0);
    assert_true(q.cursor.set && q.cursor.a == T2026 && q.cursor.b == 1 && q.cursor.c == 2);
}

static void test_search_lenient_ignores_unknown(void **state)
{
    (void)state;
    struct fhir_query q;
    struct fhir_error err;
    const struct fhir_param p[] = {P("patient", "1"), P("_include", "Observation:patient"),
                                   P("name:contains", "x"), P("_count", "2")};
    assert_int_equal(fhir__search_parse(FHIR_OBSERVATION, p, 4, true, &q, &err), 0);
    assert_true(q.used[0] && !q.used[1] && !q.used[2] && q.used[3]);
    assert_int_equal(q.n_ignored, 2);
    assert_string_equal(q.ignored, "_include, name:contains");
    /* Bad values still fail. */
    const struct fhir_param p2[] = {P("patient", "1"), P("date", "soon")};
    assert_int_equal(fhir__search_parse(FHIR_OBSERVATION, p2, 2, true, &q, &err), HX_EINVAL);
}

static void test_search_patient_and_device_tokens(void **state)
{
    (void)state;
    struct fhir_query q;
    struct fhir_error err;
    const struct fhir_param p[] = {
        P("identifier", "urn:medhub:mrn|MRN\\,1,MRN\\|2,http://other|X,|nosystem"),
        P("name:exact", "Ada Lovelace"),
        P("birthdate", "ge1800"),
        P("_id", "1,02,x,3"),
    };
    assert_int_equal(parse(FHIR_PATIENT, p, 4, &q, &err), 0);
    assert_int_equal(q.n_texts, 2);
    assert_string_equal(q.texts[0], "MRN,1");
    assert_string_equal(q.texts[1], "MRN|2");
    assert_string_equal(q.name, "Ada Lovelace");
    assert_int_equal(q.name_match, STORE_NAME_EXACT);
    assert_true(q.has_birth && q.birth.lo_us == INT64_C(-5364662400) * US);
    assert_int_equal(q.n_ids, 2); /* "02" and "x" are not ids medhub issues */
    assert_false(q.none);

    const struct fhir_param p2[] = {P("identifier", "http://other|X")};
    assert_int_equal(parse(FHIR_PATIENT, p2, 1, &q, &err), 0);
    assert_true(q.none);
    const struct fhir_param p3[] = {P("identifier", "urn:medhub:device-id|cuff-1"),
                                    P("patient", "Patient/4")};
    assert_int_equal(parse(FHIR_DEVICE, p3, 2, &q, &err), 0);
    assert_string_equal(q.texts[0], "cuff-1");
    assert_int_equal(q.patient_id, 4);
    const struct fhir_param p4[] = {P("status", "active"), P("subject:Patient", "9")};
    assert_int_equal(parse(FHIR_FLAG, p4, 2, &q, &err), 0);
    assert_int_equal(q.states, 1u << ALERT_RAISED | 1u << ALERT_ACKED);
    assert_int_equal(q.patient_id, 9);
}

static void test_search_ids_and_cursors_round_trip(void **state)
{
    (void)state;
    struct obs o = {.patient_id = 12, .code = OBS_CODE_SPO2, .effective_us = -5, .device_id = 0};
    char id[FHIR_ID_MAX + 1];
    struct fhir_obs_key k;
    fhir_obs_id(&o, false, id);
    assert_string_equal(id, "12.5.-5.0");
    assert_int_equal(fhir__obs_key_parse(id, strlen(id), &k), 0);
    assert_true(k.patient_id == 12 && k.code == OBS_CODE_SPO2 && k.effective_us == -5 &&
                k.device_id == 0 && !k.is_panel);
    /* The longest possible id fits in 64 characters. */
    o = (struct obs){
        .patient_id = INT64_MAX, .effective_us = INT64_MIN + 1, .device_id = INT64_MAX};
    fhir_obs_id(&o, true, id);
    assert_true(strlen(id) <= FHIR_ID_MAX);
    static const char *const bad[] = {"1.1.1",     "0.1.5.1",   "1.99.5.1", "1.01.5.1", "1.1.-0.1",
                                      "1.bp.5.-1", "1.1.5.1.1", "a.1.5.1",  "1.1.5.01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fhir__obs_key_parse(bad[i], strlen(bad[i]), &k), HX_EMALFORMED);

    int64_t v;
    assert_int_equal(fhir__id_parse("42", 2, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(fhir__id_parse("0", 1, &v), HX_EMALFORMED);
    assert_int_equal(fhir__id_parse("9223372036854775808", 19, &v), HX_EMALFORMED);

    for (int t = 0; t < FHIR_TYPE__COUNT; t++) {
        struct fhir_cursor c = {.set = true,
                                .descending = t & 1,
                                .a = t == 1 ? 9 : -77,
                                .b = 5,
                                .c = 0},
                           back;
        if (t == FHIR_PATIENT || t == FHIR_DEVICE)
            c.a = 123456789;
        char tok[FHIR_CURSOR_MAX + 1];
        fhir__cursor_encode((enum fhir_type)t, &c, tok);
        assert_int_equal(fhir__cursor_decode((enum fhir_type)t, tok, strlen(tok), &back), 0);
        assert_int_equal(back.a, c.a);
        if (t == FHIR_OBSERVATION)
            assert_true(back.b == 5 && back.c == 0 && back.descending == c.descending);
        /* A cursor of another type is refused. */
        assert_int_equal(fhir__cursor_decode((enum fhir_type)((t + 1) % FHIR_TYPE__COUNT), tok,
                                             strlen(tok), &back),
                         HX_EMALFORMED);
    }
}

static void test_search_url_encodes_values(void **state)
{
    (void)state;
    const struct fhir_param p[] = {P("date", "ge2026-01-01T10:00+01:00"),
                                   P("code", "http://loinc.org|8867-4"), P("_cursor", "abc"),
                                   P("colour", "red")};
    bool used[] = {true, true, true, false};
    char *self = fhir__search_url("https://h/fhir", FHIR_OBSERVATION, p, 4, used, NULL);
    assert_string_equal(self, "https://h/fhir/Observation?date=ge2026-01-01T10:00%2B01:00"
                              "&code=http://loinc.org%7C8867-4&_cursor=abc");
    free(self);
    char *next = fhir__search_url("https://h/fhir", FHIR_OBSERVATION, p, 4, used, "T0k-_");
    assert_string_equal(next, "https://h/fhir/Observation?date=ge2026-01-01T10:00%2B01:00"
                              "&code=http://loinc.org%7C8867-4&_cursor=T0k-_");
    free(next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_date_prefixes_and_precision),
        cmocka_unit_test(test_search_range_semantics),
        cmocka_unit_test(test_search_observation_parameters),
        cmocka_unit_test(test_search_refuses_bad_requests),
        cmocka_unit_test(test_search_lenient_ignores_unknown),
        cmocka_unit_test(test_search_patient_and_device_tokens),
        cmocka_unit_test(test_search_ids_and_cursors_round_trip),
        cmocka_unit_test(test_search_url_encodes_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
