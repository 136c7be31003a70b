/*
 * Unit tests for the FHIR searches of the SQLite backend (sqlst_fhir.c): blood-pressure
 * pairing, code sets, time ranges, keyset paging in both directions, counts, care scopes,
 * patients by name and birth date, devices with their current patient, alerts; and the
 * query plan of the hot observation search (an index range on the obs primary key, no sort).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "domain/codes.h"
#include "store/sqlite/sqlst_int.h"
#include "store/store.h"
#include "store/store_testutil.h"

#define MIN_US (60 * INT64_C(1000000))
#define T0     INT64_C(1767225600000000) /* 2026-01-01T00:00:00Z */

struct fx {
    struct tdir t;
    struct store *st;
    struct patient pa, pb, pc; /* ward-a, ward-a, ward-b */
    struct device cuff, mon;   /* cuff assigned to pa, mon to pb */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256];
    tdir_init(&f->t);
    if (store_open(&f->st, &f->t.cfg, STORE_OPEN_CREATE, err, sizeof(err)) < 0) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    f->pa = tpatient("MRN-A", "Ada Lovelace", "ward-a", "bed-1");
    snprintf(f->pa.birth_date, sizeof(f->pa.birth_date), "1815-12-10");
    f->pb = tpatient("MRN-B", "Bob O'Brien", "ward-a", "bed-2");
    snprintf(f->pb.birth_date, sizeof(f->pb.birth_date), "1990-02-28");
    f->pc = tpatient("MRN_C%", "Cy Adams", "ward-b", "bed-1");
    assert_int_equal(store_patient_add(f->st, &f->pa), 0);
    assert_int_equal(store_patient_add(f->st, &f->pb), 0);
    assert_int_equal(store_patient_add(f->st, &f->pc), 0);
    f->cuff = tdevice("cuff-1", "bp_cuff");
    f->mon = tdevice("mon-1", "monitor");
    assert_int_equal(store_device_add(f->st, &f->cuff), 0);
    assert_int_equal(store_device_add(f->st, &f->mon), 0);
    assert_int_equal(store_device_assign(f->st, f->cuff.id, f->pa.id, T0 - MIN_US), 0);
    assert_int_equal(store_device_assign(f->st, f->mon.id, f->pb.id, T0 - MIN_US), 0);
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

struct rows {
    struct store_obs_row r[64];
    int n;
};

static int on_row(void *arg, const struct store_obs_row *r)
{
    struct rows *c = arg;
    assert_true(c->n < 64);
    c->r[c->n++] = *r;
    return 0;
}

static struct store_obs_query obs_query(int64_t patient, uint64_t kinds)
{
    struct store_obs_query q = {.patient_id = patient, .kinds = kinds};
    store_time_range_all(&q.effective);
    store_time_range_all(&q.received);
    return q;
}

#define K(code) (UINT64_C(1) << (code))

/* pa: at T0 a cuff reading sys 120 / dia 80 / pulse 70; at T0+1 min a lone systolic 130;
 * at T0+2 min a lone diastolic 85 (another device); heart rate every minute T0..T0+9. */
static void load_obs(struct fx *f)
{
    struct obs o[] = {
        tobs(f->pa.id, f->cuff.id, OBS_CODE_BP_SYS, T0, 120),
        tobs(f->pa.id, f->cuff.id, OBS_CODE_BP_DIA, T0, 80),
        tobs(f->pa.id, f->cuff.id, OBS_CODE_BP_SYS, T0 + MIN_US, 130),
        tobs(f->pa.id, f->mon.id, OBS_CODE_BP_DIA, T0 + 2 * MIN_US, 85),
    };
    assert_int_equal(store_obs_put_batch(f->st, o, 4, NULL), 0);
    for (int i = 0; i < 10; i++) {
        struct obs hr = tobs(f->pa.id, f->mon.id, OBS_CODE_HEART_RATE, T0 + i * MIN_US, 60 + i);
        assert_int_equal(store_obs_put_batch(f->st, &hr, 1, NULL), 0);
    }
    struct obs other = tobs(f->pb.id, f->mon.id, OBS_CODE_HEART_RATE, T0, 99);
    assert_int_equal(store_obs_put_batch(f->st, &other, 1, NULL), 0);
}

static void test_sqlst_fhir_obs_pairs_blood_pressure(void **state)
{
    struct fx *f = *state;
    load_obs(f);
    struct store_obs_query q = obs_query(f->pa.id, STORE_OBS_KIND_BP_PANEL);
    struct rows c = {0};
    assert_int_equal(store_obs_search(f->st, &q, on_row, &c), 0);
    assert_int_equal(c.n, 1);
    assert_true(c.r[0].is_panel);
    assert_int_equal(c.r[0].o.code, OBS_CODE_BP_SYS);
    assert_true(c.r[0].o.value == 120 && c.r[0].dia.value == 80);
    assert_int_equal(c.r[0].dia.code, OBS_CODE_BP_DIA);
    assert_int_equal(c.r[0].dia.device_id, f->cuff.id);

    /* Lone systolic and lone diastolic readings are their own rows; the paired ones are not. */
    q.kinds = K(OBS_CODE_BP_SYS) | K(OBS_CODE_BP_DIA);
    c.n = 0;
    assert_int_equal(store_obs_search(f->st, &q, on_row, &c), 0);
    assert_int_equal(c.n, 2);
    assert_false(c.r[0].is_panel || c.r[1].is_panel);
    assert_true(c.r[0].o.value == 130 && c.r[1].o.value == 85);

    /* Everything: 10 heart rates, one panel, one lone systolic, one lone diastolic. */
    q.kinds = STORE_OBS_KIND_ALL;
    c.n = 0;
    assert_int_equal(store_obs_search(f->st, &q, on_row, &c), 0);
    assert_int_equal(c.n, 13);
    int64_t n = 0;
    assert_int_equal(store_obs_search_count(f->st, &q, &n), 0);
    assert_int_equal(n, 13);
    q.kinds = 0;
    assert_int_equal(store_obs_search_count(f->st, &q, &n), 0);
    assert_int_equal(n, 0);
}

static void test_sqlst_fhir_obs_ranges_and_paging(void **state)
{
    struct fx *f = *state;
    load_obs(f);
    struct store_obs_query q = obs_query(f->pa.id, K(OBS_CODE_HEART_RATE));
    q.effective.lo_us = T0 + 2 * MIN_US;
    q.effective.hi_us = T0 + 8 * MIN_US;
    q.effective.n_exclude = 1;
    q.effective.exclude[0].lo_us = T0 + 4 * MIN_US;
    q.effective.exclude[0].hi_us = T0 + 5 * MIN_US;
    q.descending = true;
    q.limit = 2;
    /* Pages of two, newest first: 7 6 | 5 3 | 2. */
    const double want[] = {67, 66, 65, 63, 62};
    int seen = 0;
    for (int page = 0; page < 4; page++) {
        struct rows c = {0};
        assert_int_equal(store_obs_search(f->st, &q, on_row, &c), 0);
        for (int i = 0; i < c.n; i++)
            assert_true(c.r[i].o.value == want[seen++]);
        if (c.n < 2)
            break;
        q.has_cursor = true;
        q.cur_effective_us = c.r[c.n - 1].o.effective_us;
        q.cur_code = c.r[c.n - 1].o.code;
        q.cur_device_id = c.r[c.n - 1].o.device_id;
    }
    assert_int_equal(seen, 5);

    /* Ascending, received-time filter (received = effective + 1 us) and device filter. */
    q = obs_query(f->pa.id, STORE_OBS_KIND_ALL);
    q.has_received = true;
    q.received.lo_us = T0 + 8 * MIN_US + 1;
    q.has_device = true;
    q.device_id = f->mon.id;
    struct rows c = {0};
    assert_int_equal(store_obs_search(f->st, &q, on_row, &c), 0);
    assert_int_equal(c.n, 2);
    assert_true(c.r[0].o.value == 68 && c.r[1].o.value == 69);
}

static void test_sqlst_fhir_obs_plan_is_an_index_range(void **state)
{
    struct fx *f = *state;
    load_obs(f);
    /* The benchmarked search: one patient's last 24 h of heart rate, newest first, a page. */
    struct store_obs_query q = obs_query(f->pa.id, K(OBS_CODE_HEART_RATE));
    q.effective.lo_us = T0 - 24 * 60 * MIN_US;
    q.descending = true;
    q.limit = 51;
    char plan[1024];
    assert_int_equal(sqlst__obs_search_plan(f->st, &q, plan, sizeof(plan)), 0);
    assert_non_null(strstr(plan, "SEARCH o USING PRIMARY KEY (patient_id=? AND effective_us>?)"));
    assert_null(strstr(plan, "SCAN"));
    assert_null(strstr(plan, "TEMP B-TREE"));

    /* With panels, a cursor and every filter: still the range, the partner lookups use the
     * full key, and no sort. */
    q.kinds = STORE_OBS_KIND_ALL;
    q.effective.hi_us = T0 + MIN_US;
    q.has_cursor = true;
    q.cur_effective_us = T0;
    q.has_received = true;
    q.received.lo_us = T0;
    assert_int_equal(sqlst__obs_search_plan(f->st, &q, plan, sizeof(plan)), 0);
    assert_non_null(strstr(plan, "SEARCH o USING PRIMARY KEY (patient_id=? AND effective_us>? "
                                 "AND effective_us<?)"));
    assert_non_null(strstr(plan, "SEARCH d USING PRIMARY KEY (patient_id=? AND effective_us=? "
                                 "AND code=? AND device_id=?)"));
    assert_non_null(strstr(plan, "SEARCH s USING PRIMARY KEY (patient_id=? AND effective_us=? "
                                 "AND code=? AND device_id=?)"));
    assert_null(strstr(plan, "SCAN"));
    assert_null(strstr(plan, "TEMP B-TREE"));
}

struct pats {
    struct patient p[8];
    int n;
};

static int on_pat(void *arg, const struct patient *p)
{
    struct pats *c = arg;
    assert_true(c->n < 8);
    c->p[c->n++] = *p;
    return 0;
}

static int patients(struct fx *f, const struct store_patient_query *q, struct pats *c)
{
    c->n = 0;
    assert_int_equal(store_patient_search(f->st, q, on_pat, c), 0);
    int64_t n = -1;
    assert_int_equal(store_patient_count(f->st, q, &n), 0);
    if (!q->after_id && !q->limit)
        assert_int_equal(n, c->n);
    return c->n;
}

static void test_sqlst_fhir_patients(void **state)
{
    struct fx *f = *state;
    struct store_scope all = {.kind = STORE_SCOPE_ALL};
    struct pats c;
    struct store_patient_query q = {.scope = &all};
    assert_int_equal(patients(f, &q, &c), 3);
    assert_true(c.p[0].id < c.p[1].id && c.p[1].id < c.p[2].id);

    /* Names: a word start, case-insensitive; contains; exact; LIKE wildcards are literal. */
    q.name = "ada";
    assert_int_equal(patients(f, &q, &c), 2); /* Ada Lovelace, Cy Adams */
    q.name = "lace";
    assert_int_equal(patients(f, &q, &c), 0);
    q.name_match = STORE_NAME_CONTAINS;
    assert_int_equal(patients(f, &q, &c), 1);
    q.name = "%";
    assert_int_equal(patients(f, &q, &c), 0);
    q.name = "o'b";
    assert_int_equal(patients(f, &q, &c), 1);
    q.name_match = STORE_NAME_EXACT;
    q.name = "ada lovelace";
    assert_int_equal(patients(f, &q, &c), 0);
    q.name = "Ada Lovelace";
    assert_int_equal(patients(f, &q, &c), 1);
    q.name = NULL;

    /* MRNs and ids. */
    const char *mrns[] = {"MRN_C%", "MRN-B", "nope"};
    q.mrns = mrns;
    q.n_mrns = 3;
    assert_int_equal(patients(f, &q, &c), 2);
    int64_t ids[] = {f->pb.id};
    q.ids = ids;
    q.n_ids = 1;
    assert_int_equal(patients(f, &q, &c), 1);
    assert_string_equal(c.p[0].mrn, "MRN-B");
    q.n_mrns = q.n_ids = 0;

    /* Birth dates: [1800-01-01, 1900-01-01) and not in 1990; patients without one never. */
    q.has_birth = true;
    store_time_range_all(&q.birth);
    assert_int_equal(patients(f, &q, &c), 2);
    q.birth.lo_us = INT64_C(-5364662400) * 1000000; /* 1800-01-01 */
    q.birth.hi_us = INT64_C(-2208988800) * 1000000; /* 1900-01-01 */
    assert_int_equal(patients(f, &q, &c), 1);
    assert_string_equal(c.p[0].mrn, "MRN-A");
    store_time_range_all(&q.birth);
    q.birth.n_exclude = 1;
    q.birth.exclude[0].lo_us = INT64_C(631152000) * 1000000; /* 1990-01-01 */
    q.birth.exclude[0].hi_us = INT64_C(662688000) * 1000000; /* 1991-01-01 */
    assert_int_equal(patients(f, &q, &c), 1);
    q.has_birth = false;

    /* Scopes, cursor and limit. */
    const char *wards[] = {"ward-b"};
    struct store_scope w = {.kind = STORE_SCOPE_WARDS, .wards = wards, .n_wards = 1};
    q.scope = &w;
    assert_int_equal(patients(f, &q, &c), 1);
    assert_string_equal(c.p[0].mrn, "MRN_C%");
    w.n_wards = 0;
    assert_int_equal(patients(f, &q, &c), 0);
    struct store_scope one = {.kind = STORE_SCOPE_PATIENT, .patient_id = f->pb.id};
    q.scope = &one;
    assert_int_equal(patients(f, &q, &c), 1);
    assert_true(store_scope_has_patient(&one, &f->pb));
    assert_false(store_scope_has_patient(&one, &f->pa));
    q.scope = &all;
    q.after_id = f->pa.id;
    q.limit = 1;
    assert_int_equal(patients(f, &q, &c), 1);
    assert_int_equal(c.p[0].id, f->pb.id);
}

struct devs {
    struct device d[8];
    int64_t patient[8];
    int n;
};

static int on_dev(void *arg, const struct device *d, int64_t patient_id)
{
    struct devs *c = arg;
    c->d[c->n] = *d;
    c->patient[c->n++] = patient_id;
    return 0;
}

static void test_sqlst_fhir_devices(void **state)
{
    struct fx *f = *state;
    struct device spare = tdevice("spare-1", "scale");
    assert_int_equal(store_device_add(f->st, &spare), 0);
    struct store_scope all = {.kind = STORE_SCOPE_ALL};
    struct store_device_query q = {.scope = &all};
    struct devs c = {0};
    assert_int_equal(store_device_search(f->st, &q, on_dev, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.patient[0], f->pa.id);
    assert_int_equal(c.patient[1], f->pb.id);
    assert_int_equal(c.patient[2], 0);

    const char *wards[] = {"ward-a"};
    struct store_scope w = {.kind = STORE_SCOPE_WARDS, .wards = wards, .n_wards = 1};
    q.scope = &w;
    c.n = 0;
    assert_int_equal(store_device_search(f->st, &q, on_dev, &c), 0);
    assert_int_equal(c.n, 2); /* the unassigned scale is nobody's */
    q.patient_id = f->pb.id;
    c.n = 0;
    assert_int_equal(store_device_search(f->st, &q, on_dev, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.d[0].uid, "mon-1");
    int64_t n;
    assert_int_equal(store_device_count(f->st, &q, &n), 0);
    assert_int_equal(n, 1);

    /* After an unassignment the device has no patient. */
    assert_int_equal(store_device_unassign(f->st, f->mon.id, T0), 0);
    const char *uids[] = {"mon-1"};
    struct store_device_query q2 = {.scope = &all, .uids = uids, .n_uids = 1};
    c.n = 0;
    assert_int_equal(store_device_search(f->st, &q2, on_dev, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.patient[0], 0);
}

struct alerts {
    struct alert a[8];
    int n;
};

static int on_alert(void *arg, const struct alert *a)
{
    struct alerts *c = arg;
    c->a[c->n++] = *a;
    return 0;
}

static void test_sqlst_fhir_alerts(void **state)
{
    struct fx *f = *state;
    struct alert a[4] = {0};
    for (int i = 0; i < 4; i++) {
        a[i].id = i + 1;
        a[i].patient_id = i == 3 ? 0 : (i == 2 ? f->pb.id : f->pa.id);
        snprintf(a[i].rule, sizeof(a[i].rule), "threshold.spo2.low");
        snprintf(a[i].title, sizeof(a[i].title), "SpO2 low");
        a[i].severity = ALERT_SEV_HIGH;
        a[i].state = i == 0 ? ALERT_RESOLVED : ALERT_RAISED;
        a[i].raised_us = T0 + (i == 1 ? 0 : i) * MIN_US; /* alerts 1 and 2 raised together */
        a[i].updated_us = a[i].raised_us;
    }
    assert_int_equal(store_alert_save_batch(f->st, a, NULL, 4), 0);
    struct store_scope all = {.kind = STORE_SCOPE_ALL};
    struct store_alert_query q = {.scope = &all};
    struct alerts c = {0};
    assert_int_equal(store_alert_search(f->st, &q, on_alert, &c), 0);
    assert_int_equal(c.n, 3); /* not the one without a patient */
    assert_int_equal(c.a[0].id, 3);
    assert_int_equal(c.a[1].id, 2);
    assert_int_equal(c.a[2].id, 1);
    q.has_cursor = true;
    q.cur_raised_us = T0;
    q.cur_id = 2;
    c.n = 0;
    assert_int_equal(store_alert_search(f->st, &q, on_alert, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.a[0].id, 1);
    q.has_cursor = false;
    q.states = 1u << ALERT_RAISED;
    q.patient_id = f->pa.id;
    int64_t n;
    assert_int_equal(store_alert_count(f->st, &q, &n), 0);
    assert_int_equal(n, 1);
    const char *wards[] = {"ward-b"};
    struct store_scope w = {.kind = STORE_SCOPE_WARDS, .wards = wards, .n_wards = 1};
    struct store_alert_query qw = {.scope = &w};
    assert_int_equal(store_alert_count(f->st, &qw, &n), 0);
    assert_int_equal(n, 0);
}

struct overview {
    struct store_overview_row r[8];
    int n;
};

static int on_overview(void *arg, const struct store_overview_row *r)
{
    struct overview *c = arg;
    assert_true(c->n < 8);
    c->r[c->n++] = *r;
    return 0;
}

/* The ward overview: one row per scoped patient (ordered by ward, location, name), its
 * latest reading per code and its open alerts; scope parts unioned, a ward filter, a limit,
 * metacharacters bound as values. */
static void test_sqlst_fhir_overview(void **state)
{
    struct fx *f = *state;
    load_obs(f);
    struct alert a[3] = {0};
    for (int i = 0; i < 3; i++) {
        a[i].id = i + 1;
        a[i].patient_id = f->pa.id;
        snprintf(a[i].rule, sizeof(a[i].rule), "r%d", i);
        a[i].severity = (uint8_t)(i == 1 ? ALERT_SEV_CRITICAL : ALERT_SEV_MEDIUM);
        a[i].state = i == 1 ? ALERT_RESOLVED : i == 2 ? ALERT_ACKED : ALERT_RAISED;
        a[i].raised_us = a[i].updated_us = T0;
    }
    assert_int_equal(store_alert_save_batch(f->st, a, NULL, 3), 0);
    const char *wards[] = {"ward-a"};
    struct store_overview_query q = {.wards = wards, .n_wards = 1};
    struct overview c = {0};
    assert_int_equal(store_patient_overview(f->st, &q, on_overview, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.r[0].p.id, f->pa.id); /* bed-1 before bed-2 */
    assert_int_equal(c.r[1].p.id, f->pb.id);
    /* pa: latest sys 130, dia 85, heart rate 69 (codes in order). */
    assert_int_equal(c.r[0].n_latest, 3);
    assert_int_equal(c.r[0].latest[0].code, OBS_CODE_HEART_RATE);
    assert_true(c.r[0].latest[0].value == 69);
    assert_int_equal(c.r[0].latest[1].code, OBS_CODE_BP_SYS);
    assert_true(c.r[0].latest[1].value == 130);
    assert_int_equal(c.r[0].open_alerts, 2); /* the resolved critical one is not counted */
    assert_int_equal(c.r[0].max_severity, ALERT_SEV_MEDIUM);
    assert_int_equal(c.r[1].n_latest, 1);
    assert_int_equal(c.r[1].open_alerts, 0);
    /* Union with one more patient; a ward filter; a limit. */
    q.patient_id = f->pc.id;
    c.n = 0;
    assert_int_equal(store_patient_overview(f->st, &q, on_overview, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.r[2].p.id, f->pc.id);
    assert_int_equal(c.r[2].n_latest, 0);
    q.ward = "ward-b";
    c.n = 0;
    assert_int_equal(store_patient_overview(f->st, &q, on_overview, &c), 0);
    assert_int_equal(c.n, 1);
    q.ward = NULL;
    q.limit = 1;
    c.n = 0;
    assert_int_equal(store_patient_overview(f->st, &q, on_overview, &c), 0);
    assert_int_equal(c.n, 1);
    /* Nothing in scope: nobody; everything: all three. */
    struct store_overview_query none = {0};
    c.n = 0;
    assert_int_equal(store_patient_overview(f->st, &none, on_overview, &c), 0);
    assert_int_equal(c.n, 0);
    struct store_overview_query all = {.all = true};
    assert_int_equal(store_patient_overview(f->st, &all, on_overview, &c), 0);
    assert_int_equal(c.n, 3);
    /* Metacharacters are values. */
    const char *evil[] = {"' OR 1=1 --", "%", "_", "ward-_"};
    for (size_t i = 0; i < 4; i++) {
        struct store_overview_query e = {.wards = &evil[i], .n_wards = 1};
        c.n = 0;
        assert_int_equal(store_patient_overview(f->st, &e, on_overview, &c), 0);
        assert_int_equal(c.n, 0);
        e = (struct store_overview_query){.all = true, .ward = evil[i]};
        assert_int_equal(store_patient_overview(f->st, &e, on_overview, &c), 0);
        assert_int_equal(c.n, 0);
    }
    struct store_overview_query big = {.wards = wards, .n_wards = STORE_SCOPE_WARDS_MAX + 1};
    assert_int_equal(store_patient_overview(f->st, &big, on_overview, &c), HX_EINVAL);
}

static void test_sqlst_fhir_rejects_bad_queries(void **state)
{
    struct fx *f = *state;
    struct store_obs_query q = obs_query(0, STORE_OBS_KIND_ALL);
    struct rows c = {0};
    assert_int_equal(store_obs_search(f->st, &q, on_row, &c), HX_EINVAL);
    struct store_patient_query pq = {.scope = NULL};
    int64_t n;
    assert_int_equal(store_patient_count(f->st, &pq, &n), HX_EINVAL);
    struct store_scope all = {.kind = STORE_SCOPE_ALL};
    pq.scope = &all;
    pq.n_ids = STORE_QUERY_VALUES_MAX + 1;
    assert_int_equal(store_patient_count(f->st, &pq, &n), HX_EINVAL);
}

/* More distinct search shapes than cache slots: every one still runs (evictions work). */
static void test_sqlst_fhir_statement_cache_evicts(void **state)
{
    struct fx *f = *state;
    load_obs(f);
    for (int round = 0; round < 2; round++) {
        for (int shape = 0; shape < 3 * SQLST_DYN_MAX; shape++) {
            struct store_obs_query q = obs_query(f->pa.id, K(OBS_CODE_HEART_RATE));
            q.descending = shape & 1;
            q.has_device = shape & 2;
            q.device_id = f->mon.id;
            q.has_received = shape & 4;
            q.effective.n_exclude = (size_t)(shape >> 3) % (STORE_RANGE_EXCLUDE_MAX + 1);
            for (size_t i = 0; i < q.effective.n_exclude; i++) {
                q.effective.exclude[i].lo_us = T0 + 100 * MIN_US;
                q.effective.exclude[i].hi_us = T0 + 101 * MIN_US;
            }
            int64_t n;
            assert_int_equal(store_obs_search_count(f->st, &q, &n), 0);
            assert_int_equal(n, 10);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_obs_pairs_blood_pressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_obs_ranges_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_obs_plan_is_an_index_range, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_patients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_overview, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_rejects_bad_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlst_fhir_statement_cache_evicts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
