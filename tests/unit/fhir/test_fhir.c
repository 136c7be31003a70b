/*
 * Unit tests for src/fhir/fhir.c, map.c and capability.c on a temporary store: resource
 * mapping (vital-signs Observation, blood-pressure panel, Patient, Device, Flag), searches with
 * paging, totals and care scopes, reads (including a panel's component), OperationOutcomes and
 * the CapabilityStatement.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "domain/codes.h"
#include "fhir/fhir_int.h"
#include "store/store_testutil.h"

#include <stdlib.h>
#include <string.h>

#define MIN_US (60 * INT64_C(1000000))
#define T0     INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */
#define P(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

const char *fhir__capability_param(enum fhir_type t, size_t i);

struct fx {
    struct tdir t;
    struct store *st;
    struct patient pa, pb;
    struct device cuff;
    struct fhir_scope all;
    struct fhir_request rq;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256];
    tdir_init(&f->t);
    if (store_open(&f->st, &f->t.cfg, STORE_OPEN_CREATE, err, sizeof(err)) < 0)
        return -1;
    f->pa = tpatient("MRN-A", "Ada Lovelace", "ward-a", "bed-1");
    snprintf(f->pa.birth_date, sizeof(f->pa.birth_date), "1815-12-10");
    f->pb = tpatient("MRN-B", "Bob Baker", "ward-b", "bed-1");
    assert_int_equal(store_patient_add(f->st, &f->pa), 0);
    assert_int_equal(store_patient_add(f->st, &f->pb), 0);
    f->cuff = tdevice("cuff-1", "bp_cuff");
    snprintf(f->cuff.firmware, sizeof(f->cuff.firmware), "2.1.0");
    assert_int_equal(store_device_add(f->st, &f->cuff), 0);
    assert_int_equal(store_device_assign(f->st, f->cuff.id, f->pa.id, T0 - MIN_US), 0);
    struct obs o[] = {
        tobs(f->pa.id, f->cuff.id, OBS_CODE_BP_SYS, T0, 120),
        tobs(f->pa.id, f->cuff.id, OBS_CODE_BP_DIA, T0, 80),
        tobs(f->pa.id, f->cuff.id, OBS_CODE_SPO2, T0, 97),
        tobs(f->pa.id, f->cuff.id, OBS_CODE_GLUCOSE, T0, 99),
    };
    assert_int_equal(store_obs_put_batch(f->st, o, 4, NULL), 0);
    for (int i = 1; i <= 5; i++) {
        struct obs hr = tobs(f->pa.id, f->cuff.id, OBS_CODE_HEART_RATE, T0 + i * MIN_US, 70 + i);
        assert_int_equal(store_obs_put_batch(f->st, &hr, 1, NULL), 0);
    }
    struct alert a = {.id = 5,
                      .patient_id = f->pa.id,
                      .severity = ALERT_SEV_HIGH,
                      .state = ALERT_RESOLVED,
                      .code = OBS_CODE_SPO2,
                      .raised_us = T0,
                      .updated_us = T0 + MIN_US,
                      .resolved_us = T0 + MIN_US};
    snprintf(a.rule, sizeof(a.rule), "threshold.spo2.low");
    snprintf(a.title, sizeof(a.title), "SpO2 low: 87 %%");
    assert_int_equal(store_alert_save_batch(f->st, &a, NULL, 1), 0);
    f->all = (struct fhir_scope){.kind = STORE_SCOPE_ALL};
    f->rq = (struct fhir_request){.base_url = "https://h/fhir", .scope = &f->all};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    tdir_release(&f->t);
    free(f);
    return 0;
}

/* path: dot-separated keys and array indexes ("entry.0.resource.id"). */
static json_t *get(json_t *j, const char *path)
{
    char buf[128];
    char *save = NULL;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = (*k >= '0' && *k <= '9') ? json_array_get(j, (size_t)strtol(k, NULL, 10))
                                     : json_object_get(j, k);
    return j;
}

static const char *str(json_t *j, const char *path)
{
    const char *s = json_string_value(get(j, path));
    return s ? s : "(missing)";
}

static json_t *search(struct fx *f, enum fhir_type t, const struct fhir_param *p, size_t n,
                      int want_status)
{
    json_t *body = NULL;
    int status = 0;
    fhir_search(f->st, &f->rq, t, p, n, &body, &status);
    assert_non_null(body);
    if (status != want_status) {
        char *s = fhir_dumps(body);
        fail_msg("status %d: %s", status, s);
    }
    return body;
}

static void test_fhir_observation_maps_vital_signs(void **state)
{
    (void)state;
    struct obs o = {.patient_id = 3,
                    .device_id = 7,
                    .code = OBS_CODE_SPO2,
                    .effective_us = T0 + 500000,
                    .received_us = T0 + 2000000,
                    .value = 97.5};
    json_t *r = fhir_obs_to_json(&o);
    assert_string_equal(str(r, "id"), "3.5.1767225600500000.7");
    assert_string_equal(str(r, "status"), "final");
    assert_string_equal(str(r, "category.0.coding.0.code"), "vital-signs");
    assert_string_equal(str(r, "category.0.coding.0.system"),
                        "http://terminology.hl7.org/CodeSystem/observation-category");
    assert_string_equal(str(r, "code.coding.0.system"), "http://loinc.org");
    assert_string_equal(str(r, "code.coding.0.code"), "2708-6");
    assert_string_equal(str(r, "code.coding.1.code"), "59408-5");
    assert_string_equal(str(r, "code.coding.2.code"), "150456");
    assert_string_equal(str(r, "meta.profile.1"),
                        "http://hl7.org/fhir/StructureDefinition/oxygensat");
    assert_string_equal(str(r, "meta.lastUpdated"), "2026-01-01T00:00:02Z");
    assert_string_equal(str(r, "effectiveDateTime"), "2026-01-01T00:00:00.500000Z");
    assert_string_equal(str(r, "subject.reference"), "Patient/3");
    assert_string_equal(str(r, "device.reference"), "Device/7");
    assert_string_equal(str(r, "valueQuantity.system"), "http://unitsofmeasure.org");
    assert_string_equal(str(r, "valueQuantity.code"), "%");
    assert_true(json_real_value(get(r, "valueQuantity.value")) == 97.5);
    char *text = fhir_dumps(r);
    assert_non_null(strstr(text, "\"value\":97.5,"));
    free(text);
    json_decref(r);

    /* Steps: activity, no vital-signs profile; a manual entry has no device. */
    o = (struct obs){.patient_id = 3, .code = OBS_CODE_STEPS, .effective_us = T0, .value = 1000};
    r = fhir_obs_to_json(&o);
    assert_string_equal(str(r, "category.0.coding.0.code"), "activity");
    assert_null(get(r, "meta.profile"));
    assert_null(get(r, "device"));
    assert_string_equal(str(r, "valueQuantity.code"), "{steps}");
    json_decref(r);
}

static void test_fhir_blood_pressure_panel(void **state)
{
    struct fx *f = *state;
    const struct fhir_param p[] = {P("patient", "1"), P("code", "85354-9")};
    json_t *b = search(f, FHIR_OBSERVATION, p, 2, 200);
    assert_int_equal(json_integer_value(get(b, "total")), 1);
    json_t *r = get(b, "entry.0.resource");
    assert_string_equal(str(r, "id"), "1.bp.1767225600000000.1");
    assert_string_equal(str(b, "entry.0.fullUrl"),
                        "https://h/fhir/Observation/1.bp.1767225600000000.1");
    assert_string_equal(str(b, "entry.0.search.mode"), "match");
    assert_string_equal(str(r, "code.coding.0.code"), "85354-9");
    assert_null(get(r, "valueQuantity"));
    assert_string_equal(str(r, "component.0.code.coding.0.code"), "8480-6");
    assert_string_equal(str(r, "component.1.code.coding.0.code"), "8462-4");
    assert_string_equal(str(r, "component.1.valueQuantity.code"), "mm[Hg]");
    assert_true(json_real_value(get(r, "component.0.valueQuantity.value")) == 120);
    assert_string_equal(str(r, "meta.profile.1"), "http://hl7.org/fhir/StructureDefinition/bp");
    json_decref(b);

    /* The panel reads by id; its systolic reading is not a resource and says where it went. */
    json_t *body;
    int status;
    const char *id = "1.bp.1767225600000000.1";
    assert_int_equal(fhir_read(f->st, &f->rq, FHIR_OBSERVATION, id, strlen(id), &body, &status), 0);
    assert_int_equal(status, 200);
    assert_string_equal(str(body, "code.coding.0.code"), "85354-9");
    json_decref(body);
    id = "1.6.1767225600000000.1";
    assert_int_equal(fhir_read(f->st, &f->rq, FHIR_OBSERVATION, id, strlen(id), &body, &status),
                     HX_ENOTFOUND);
    assert_int_equal(status, 404);
    assert_string_equal(str(body, "issue.0.code"), "not-found");
    assert_non_null(
        strstr(str(body, "issue.0.diagnostics"), "Observation/1.bp.1767225600000000.1"));
    json_decref(body);
}

static void test_fhir_paging_links_and_totals(void **state)
{
    struct fx *f = *state;
    /* Heart rate, newest first, two per page: 75 74 | 73 72 | 71. */
    struct fhir_param p[4] = {P("patient", "Patient/1"), P("code", "8867-4"), P("_count", "2")};
    size_t n = 3;
    const double want[] = {75, 74, 73, 72, 71};
    int seen = 0;
    char cursor[FHIR_CURSOR_MAX + 1];
    for (int page = 0; page < 3; page++) {
        json_t *b = search(f, FHIR_OBSERVATION, p, n, 200);
        json_t *e = get(b, "entry");
        for (size_t i = 0; i < json_array_size(e); i++)
            assert_true(json_real_value(get(json_array_get(e, i),
                                            "resource.valueQuantity.value")) == want[seen++]);
        /* Observation totals are not counted while more pages follow. */
        assert_null(get(b, "total"));
        const char *next = NULL;
        json_t *links = get(b, "link");
        assert_string_equal(str(links, "0.relation"), "self");
        for (size_t i = 0; i < json_array_size(links); i++)
            if (strcmp(str(json_array_get(links, i), "relation"), "next") == 0)
                next = str(json_array_get(links, i), "url");
        if (page < 2) {
            assert_non_null(next);
            const char *c = strstr(next, "_cursor=");
            assert_non_null(c);
            snprintf(cursor, sizeof(cursor), "%s", c + 8);
            p[3] = (struct fhir_param){"_cursor", 7, cursor, strlen(cursor)};
            n = 4;
        } else {
            assert_null(next);
        }
        json_decref(b);
    }
    assert_int_equal(seen, 5);

    /* _total=accurate counts; _summary=count has no entries; one page has its total. */
    const struct fhir_param acc[] = {P("patient", "1"), P("_count", "1"), P("_total", "accurate")};
    json_t *b = search(f, FHIR_OBSERVATION, acc, 3, 200);
    assert_int_equal(json_integer_value(get(b, "total")), 8); /* panel + SpO2 + glucose + 5 HR */
    json_decref(b);
    const struct fhir_param cnt[] = {P("patient", "1"), P("_summary", "count")};
    b = search(f, FHIR_OBSERVATION, cnt, 2, 200);
    assert_int_equal(json_integer_value(get(b, "total")), 8);
    assert_null(get(b, "entry"));
    json_decref(b);
    const struct fhir_param one[] = {P("patient", "1")};
    b = search(f, FHIR_OBSERVATION, one, 1, 200);
    assert_int_equal(json_integer_value(get(b, "total")), 8);
    assert_int_equal(json_array_size(get(b, "entry")), 8);
    json_decref(b);
}

static void test_fhir_scope_limits_every_type(void **state)
{
    struct fx *f = *state;
    const char *wards[] = {"ward-b"};
    struct fhir_scope wb = {.kind = STORE_SCOPE_WARDS, .wards = wards, .n_wards = 1};
    f->rq.scope = &wb;
    json_t *b = search(f, FHIR_PATIENT, NULL, 0, 200);
    assert_int_equal(json_integer_value(get(b, "total")), 1);
    assert_string_equal(str(b, "entry.0.resource.identifier.0.value"), "MRN-B");
    json_decref(b);
    const struct fhir_param p[] = {P("patient", "1")};
    b = search(f, FHIR_OBSERVATION, p, 1, 200); /* ward-a's patient: nothing, not an error */
    assert_int_equal(json_integer_value(get(b, "total")), 0);
    json_decref(b);
    b = search(f, FHIR_DEVICE, NULL, 0, 200);
    assert_int_equal(json_integer_value(get(b, "total")), 0);
    json_decref(b);
    b = search(f, FHIR_FLAG, NULL, 0, 200);
    assert_int_equal(json_integer_value(get(b, "total")), 0);
    json_decref(b);
    json_t *body;
    int status;
    assert_int_equal(fhir_read(f->st, &f->rq, FHIR_PATIENT, "1", 1, &body, &status), HX_ENOTFOUND);
    assert_int_equal(status, 404);
    json_decref(body);
    struct fhir_scope self = {.kind = STORE_SCOPE_PATIENT, .patient_id = f->pa.id};
    f->rq.scope = &self;
    assert_int_equal(fhir_read(f->st, &f->rq, FHIR_PATIENT, "1", 1, &body, &status), 0);
    assert_string_equal(str(body, "identifier.0.system"), FHIR_SYSTEM_MRN);
    assert_string_equal(str(body, "birthDate"), "1815-12-10");
    assert_string_equal(str(body, "name.0.text"), "Ada Lovelace");
    json_decref(body);
}

static void test_fhir_device_and_flag(void **state)
{
    struct fx *f = *state;
    json_t *body;
    int status;
    assert_int_equal(fhir_read(f->st, &f->rq, FHIR_DEVICE, "1", 1, &body, &status), 0);
    assert_string_equal(str(body, "identifier.0.system"), FHIR_SYSTEM_DEVICE_ID);
    assert_string_equal(str(body, "identifier.0.value"), "cuff-1");
    assert_string_equal(str(body, "status"), "active");
    assert_string_equal(str(body, "version.0.value"), "2.1.0");
    assert_string_equal(str(body, "patient.reference"), "Patient/1");
    json_decref(body);
    assert_int_equal(fhir_read(f->st, &f->rq, FHIR_FLAG, "5", 1, &body, &status), 0);
    assert_string_equal(str(body, "status"), "inactive");
    assert_string_equal(str(body, "period.start"), "2026-01-01T00:00:00Z");
    assert_string_equal(str(body, "period.end"), "2026-01-01T00:01:00Z");
    assert_string_equal(str(body, "code.coding.0.code"), "threshold.spo2.low");
    assert_string_equal(str(body, "code.coding.1.code"), "2708-6");
    assert_string_equal(str(body, "code.text"), "SpO2 low: 87 %");
    assert_string_equal(str(body, "category.0.coding.0.code"), "clinical");
    assert_string_equal(str(body, "extension.0.valueCodeableConcept.coding.0.code"), "PH");
    json_decref(body);
    const struct fhir_param act[] = {P("status", "active")};
    json_t *b = search(f, FHIR_FLAG, act, 1, 200);
    assert_int_equal(json_integer_value(get(b, "total")), 0);
    json_decref(b);
}

static void test_fhir_errors_are_operation_outcomes(void **state)
{
    struct fx *f = *state;
    const struct fhir_param p[] = {P("patient", "1"), P("colour", "red")};
    json_t *b = search(f, FHIR_OBSERVATION, p, 2, 400);
    assert_string_equal(str(b, "resourceType"), "OperationOutcome");
    assert_string_equal(str(b, "issue.0.severity"), "error");
    assert_string_equal(str(b, "issue.0.code"), "not-supported");
    json_decref(b);
    f->rq.flags = FHIR_LENIENT;
    b = search(f, FHIR_OBSERVATION, p, 2, 200);
    json_t *e = get(b, "entry");
    json_t *last = json_array_get(e, json_array_size(e) - 1);
    assert_string_equal(str(last, "search.mode"), "outcome");
    assert_string_equal(str(last, "resource.issue.0.severity"), "warning");
    assert_null(strstr(str(b, "link.0.url"), "colour"));
    json_decref(b);
    const struct fhir_param fmt[] = {P("_format", "xml")};
    b = search(f, FHIR_PATIENT, fmt, 1, 406);
    json_decref(b);

    int status;
    b = fhir_outcome_from_err(HX_EBUSY, NULL, &status);
    assert_int_equal(status, 503);
    assert_string_equal(str(b, "issue.0.code"), "transient");
    json_decref(b);
    b = fhir_outcome_from_err(HX_EDENIED, "no", &status);
    assert_int_equal(status, 403);
    json_decref(b);
    b = fhir_outcome_unknown_type("Encounter", 9);
    assert_string_equal(str(b, "issue.0.code"), "not-supported");
    json_decref(b);
    enum fhir_type t;
    assert_int_equal(fhir_type_parse("Observation", 11, &t), 0);
    assert_int_equal(t, FHIR_OBSERVATION);
    assert_int_equal(fhir_type_parse("observation", 11, &t), HX_ENOTFOUND);
}

static void test_fhir_capability_lists_what_is_parsed(void **state)
{
    (void)state;
    json_t *c = fhir_capability("https://h/fhir");
    assert_string_equal(str(c, "fhirVersion"), "4.0.1");
    assert_string_equal(str(c, "kind"), "instance");
    assert_string_equal(str(c, "rest.0.mode"), "server");
    assert_string_equal(str(c, "implementation.url"), "https://h/fhir");
    json_t *res = get(c, "rest.0.resource");
    assert_int_equal(json_array_size(res), FHIR_TYPE__COUNT);
    /* Every advertised parameter is accepted by the parser (with a sample value). */
    for (int t = 0; t < FHIR_TYPE__COUNT; t++) {
        assert_string_equal(str(json_array_get(res, (size_t)t), "type"),
                            fhir_type_name((enum fhir_type)t));
        for (size_t i = 0; fhir__capability_param((enum fhir_type)t, i); i++) {
            const char *name = fhir__capability_param((enum fhir_type)t, i);
            const char *v = strcmp(name, "birthdate") == 0 || strcmp(name, "date") == 0 ||
                                    strcmp(name, "_lastUpdated") == 0
                                ? "ge2026"
                            : strcmp(name, "status") == 0 ? "active"
                                                          : "1";
            struct fhir_param p[2] = {{name, strlen(name), v, strlen(v)}, P("patient", "1")};
            size_t n = t == FHIR_OBSERVATION && strcmp(name, "patient") &&
                               strcmp(name, "subject") && strcmp(name, "_id")
                           ? 2
                           : 1;
            struct fhir_query q;
            struct fhir_error err;
            if (fhir__search_parse((enum fhir_type)t, p, n, false, &q, &err) != 0)
                fail_msg("%s %s: %s", fhir_type_name((enum fhir_type)t), name, err.diagnostics);
        }
    }
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fhir_observation_maps_vital_signs),
        cmocka_unit_test_setup_teardown(test_fhir_blood_pressure_panel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fhir_paging_links_and_totals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fhir_scope_limits_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fhir_device_and_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fhir_errors_are_operation_outcomes, setup, teardown),
        cmocka_unit_test(test_fhir_capability_lists_what_is_parsed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
