/*
 * Unit tests for the store interface on the SQLite backend: patients, devices and
 * assignments CRUD, observation dedup, latest, range and downsampling.
 * Each test gets a fresh database in its own temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "store/store.h"
#include "store/store_testutil.h"

#include <math.h>

struct fx {
    struct tdir t;
    struct store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256];
    tdir_init(&f->t);
    int rc = store_open(&f->st, &f->t.cfg, STORE_OPEN_CREATE, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
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

/* Collects list results. */
struct collect {
    struct patient pat[16];
    struct device dev[16];
    struct assignment as[16];
    struct obs obs[64];
    int n;
    int stop_after; /* return 1 after this many (0: never) */
};

static int on_patient(void *arg, const struct patient *p)
{
    struct collect *c = arg;
    c->pat[c->n++] = *p;
    return c->stop_after && c->n == c->stop_after;
}

static int on_device(void *arg, const struct device *d)
{
    struct collect *c = arg;
    c->dev[c->n++] = *d;
    return 0;
}

static int on_assignment(void *arg, const struct assignment *a)
{
    struct collect *c = arg;
    c->as[c->n++] = *a;
    return 0;
}

static int on_obs(void *arg, const struct obs *o)
{
    struct collect *c = arg;
    assert_true(c->n < 64);
    c->obs[c->n++] = *o;
    return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

static void test_store_schema_version_is_current(void **state)
{
    struct fx *f = *state;
    int v = -1;
    assert_int_equal(store_schema_version(f->st, &v), 0);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    char msg[128];
    assert_int_equal(store_integrity_check(f->st, false, msg, sizeof(msg)), 0);
    assert_int_equal(store_integrity_check(f->st, true, msg, sizeof(msg)), 0);
}

static void test_store_patient_crud(void **state)
{
    struct fx *f = *state;
    struct patient a = tpatient("MRN-1", "Ada Lovelace", "ward-b", "bed-2");
    struct patient b = tpatient("MRN-2", "Bob Baker", "ward-a", "bed-9");
    struct patient c = tpatient("MRN-3", "Cy Young", "ward-b", "bed-1");
    struct patient out;

    assert_int_equal(store_patient_add(f->st, &a), 0);
    assert_true(a.id > 0);
    assert_true(a.created_us > 0);
    assert_int_equal(store_patient_add(f->st, &b), 0);
    assert_int_equal(store_patient_add(f->st, &c), 0);
    assert_true(b.id != a.id && c.id != b.id);

    struct patient dup = tpatient("MRN-1", "Someone Else", "", "");
    assert_int_equal(store_patient_add(f->st, &dup), HX_EEXIST);

    assert_int_equal(store_patient_get(f->st, a.id, &out), 0);
    assert_int_equal(out.id, a.id);
    assert_string_equal(out.mrn, "MRN-1");
    assert_string_equal(out.name, "Ada Lovelace");
    assert_string_equal(out.ward, "ward-b");
    assert_string_equal(out.location, "bed-2");
    assert_string_equal(out.birth_date, "");
    assert_int_equal(out.created_us, a.created_us);

    assert_int_equal(store_patient_get_by_mrn(f->st, "MRN-2", &out), 0);
    assert_int_equal(out.id, b.id);
    assert_int_equal(store_patient_get_by_mrn(f->st, "MRN-404", &out), HX_ENOTFOUND);
    assert_int_equal(store_patient_get(f->st, 4040, &out), HX_ENOTFOUND);

    /* All: by ward, location, name. */
    struct collect col = {0};
    assert_int_equal(store_patient_list(f->st, NULL, on_patient, &col), 0);
    assert_int_equal(col.n, 3);
    assert_string_equal(col.pat[0].mrn, "MRN-2"); /* ward-a */
    assert_string_equal(col.pat[1].mrn, "MRN-3"); /* ward-b bed-1 */
    assert_string_equal(col.pat[2].mrn, "MRN-1"); /* ward-b bed-2 */

    memset(&col, 0, sizeof(col));
    assert_int_equal(store_patient_list(f->st, "ward-b", on_patient, &col), 0);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.pat[0].mrn, "MRN-3");

    /* A callback's non-zero return stops the walk and is returned. */
    memset(&col, 0, sizeof(col));
    col.stop_after = 1;
    assert_int_equal(store_patient_list(f->st, NULL, on_patient, &col), 1);
    assert_int_equal(col.n, 1);
}

static void test_store_device_crud(void **state)
{
    struct fx *f = *state;
    struct device d1 = tdevice("mon-02", "monitor");
    struct device d2 = tdevice("cuff-01", "bp_cuff");
    snprintf(d1.model, sizeof(d1.model), "X1");
    snprintf(d1.firmware, sizeof(d1.firmware), "1.2.3");
    snprintf(d1.secret_hash, sizeof(d1.secret_hash), "%064d", 7);
    d1.battery_pct = 81;
    d1.last_seen_us = 1234;
    struct device out;

    assert_int_equal(store_device_add(f->st, &d1), 0);
    assert_true(d1.id > 0 && d1.created_us > 0);
    assert_int_equal(store_device_add(f->st, &d2), 0);
    struct device dup = tdevice("mon-02", "monitor");
    assert_int_equal(store_device_add(f->st, &dup), HX_EEXIST);

    assert_int_equal(store_device_get(f->st, "mon-02", &out), 0);
    assert_int_equal(out.id, d1.id);
    assert_string_equal(out.kind, "monitor");
    assert_string_equal(out.model, "X1");
    assert_string_equal(out.firmware, "1.2.3");
    assert_string_equal(out.secret_hash, d1.secret_hash);
    assert_int_equal(out.status, DEV_STATUS_ACTIVE);
    assert_int_equal(out.battery_pct, 81);
    assert_int_equal(out.last_seen_us, 1234);
    assert_int_equal(store_device_get_by_id(f->st, d2.id, &out), 0);
    assert_string_equal(out.uid, "cuff-01");
    assert_int_equal(out.battery_pct, -1);
    assert_int_equal(store_device_get(f->st, "nope", &out), HX_ENOTFOUND);
    assert_int_equal(store_device_get_by_id(f->st, 999, &out), HX_ENOTFOUND);

    struct collect col = {0};
    assert_int_equal(store_device_list(f->st, on_device, &col), 0);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.dev[0].uid, "cuff-01");
    assert_string_equal(col.dev[1].uid, "mon-02");

    assert_int_equal(store_device_set_status(f->st, d1.id, DEV_STATUS_QUARANTINED), 0);
    assert_int_equal(store_device_get(f->st, "mon-02", &out), 0);
    assert_int_equal(out.status, DEV_STATUS_QUARANTINED);
    assert_int_equal(store_device_set_status(f->st, 999, DEV_STATUS_DISABLED), HX_ENOTFOUND);
}

static void test_store_assignment_at_time(void **state)
{
    struct fx *f = *state;
    struct patient p1 = tpatient("A", "A", "", ""), p2 = tpatient("B", "B", "", "");
    struct device d = tdevice("dev-1", "monitor");
    assert_int_equal(store_patient_add(f->st, &p1), 0);
    assert_int_equal(store_patient_add(f->st, &p2), 0);
    assert_int_equal(store_device_add(f->st, &d), 0);

    int64_t pid = -1;
    assert_int_equal(store_device_patient_at(f->st, d.id, 150, &pid), 0);
    assert_int_equal(pid, 0);
    assert_int_equal(store_device_unassign(f->st, d.id, 50), HX_ENOTFOUND);

    assert_int_equal(store_device_assign(f->st, d.id, p1.id, 100), 0);
    assert_int_equal(store_device_assign(f->st, d.id, p2.id, 200), 0); /* closes p1 at 200 */
    assert_int_equal(store_device_unassign(f->st, d.id, 300), 0);
    assert_int_equal(store_device_unassign(f->st, d.id, 400), HX_ENOTFOUND);

    static const struct {
        int64_t t;
        int which; /* 0 none, 1 p1, 2 p2 */
    } cases[] = {{99, 0}, {100, 1}, {199, 1}, {200, 2}, {299, 2}, {300, 0}, {1000, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(store_device_patient_at(f->st, d.id, cases[i].t, &pid), 0);
        int64_t want = cases[i].which == 1 ? p1.id : cases[i].which == 2 ? p2.id : 0;
        assert_int_equal(pid, want);
    }

    /* An open assignment covers every later time. */
    assert_int_equal(store_device_assign(f->st, d.id, p1.id, 500), 0);
    assert_int_equal(store_device_patient_at(f->st, d.id, INT64_C(1) << 60, &pid), 0);
    assert_int_equal(pid, p1.id);

    struct collect col = {0};
    assert_int_equal(store_assignment_list(f->st, d.id, on_assignment, &col), 0);
    assert_int_equal(col.n, 3);
    assert_int_equal(col.as[0].start_us, 500); /* newest first */
    assert_int_equal(col.as[0].end_us, 0);     /* open */
    assert_int_equal(col.as[1].patient_id, p2.id);
    assert_int_equal(col.as[1].start_us, 200);
    assert_int_equal(col.as[1].end_us, 300);
    assert_int_equal(col.as[2].patient_id, p1.id);
    assert_int_equal(col.as[2].end_us, 200);

    /* Unknown patient or device: the foreign key refuses it, nothing changes. */
    assert_int_equal(store_device_assign(f->st, d.id, 4242, 600), HX_ENOTFOUND);
    assert_int_equal(store_device_assign(f->st, 4242, p1.id, 600), HX_ENOTFOUND);
    /* Closing before the open assignment started is refused. */
    assert_int_equal(store_device_assign(f->st, d.id, p2.id, 400), HX_EINVAL);
    assert_int_equal(store_device_patient_at(f->st, d.id, 700, &pid), 0);
    assert_int_equal(pid, p1.id);
}

static int64_t count(struct store *st)
{
    int64_t n = -1;
    assert_int_equal(store_obs_count(st, &n), 0);
    return n;
}

static void test_store_obs_dedup(void **state)
{
    struct fx *f = *state;
    struct obs b1[] = {tobs(1, 10, 1, 1000, 60), tobs(1, 10, 5, 1000, 97),
                       tobs(1, 10, 1, 2000, 61)};
    size_t ins = 99;
    assert_int_equal(store_obs_put_batch(f->st, b1, 3, &ins), 0);
    assert_int_equal(ins, 3);
    assert_int_equal(count(f->st), 3);

    /* The same readings again (a device resending): stored once. */
    assert_int_equal(store_obs_put_batch(f->st, b1, 3, &ins), 0);
    assert_int_equal(ins, 0);
    assert_int_equal(count(f->st), 3);

    /* Twice within one batch, with different values: the first is kept. */
    struct obs b2[] = {tobs(1, 10, 1, 3000, 70), tobs(1, 10, 1, 3000, 71),
                       tobs(1, 11, 1, 3000, 72)};
    assert_int_equal(store_obs_put_batch(f->st, b2, 3, &ins), 0);
    assert_int_equal(ins, 2); /* another device at the same instant is a different reading */
    struct collect col = {0};
    assert_int_equal(store_obs_range(f->st, 1, 1, 3000, 3001, 0, on_obs, &col), 0);
    assert_int_equal(col.n, 2);
    assert_true(col.obs[0].value == 70 && col.obs[0].device_id == 10);
    assert_true(col.obs[1].value == 72 && col.obs[1].device_id == 11);

    /* Manual entries (device 0): per patient, so two patients at the same minute both stay,
     * while the same patient's entry twice is one reading. */
    struct obs b3[] = {tobs(1, 0, 9, 60000000, 37.1), tobs(2, 0, 9, 60000000, 38.2),
                       tobs(1, 0, 9, 60000000, 37.1)};
    assert_int_equal(store_obs_put_batch(f->st, b3, 3, &ins), 0);
    assert_int_equal(ins, 2);
    assert_int_equal(count(f->st), 7);

    /* An empty batch is a no-op. */
    assert_int_equal(store_obs_put_batch(f->st, b3, 0, &ins), 0);
    assert_int_equal(ins, 0);
}

static void test_store_obs_batch_is_atomic(void **state)
{
    struct fx *f = *state;
    /* NaN is stored by SQLite as NULL, which value NOT NULL refuses: the whole batch fails. */
    struct obs b[] = {tobs(1, 10, 1, 1000, 60), tobs(1, 10, 1, 2000, NAN)};
    size_t ins = 99;
    assert_int_equal(store_obs_put_batch(f->st, b, 2, &ins), HX_EINVAL);
    assert_int_equal(count(f->st), 0);
    /* The connection is usable afterwards. */
    assert_int_equal(store_obs_put_batch(f->st, b, 1, &ins), 0);
    assert_int_equal(count(f->st), 1);
}

static void test_store_obs_latest(void **state)
{
    struct fx *f = *state;
    struct obs b1[] = {
        tobs(1, 10, 5, 1000, 95),  tobs(1, 10, 1, 1000, 60), tobs(1, 10, 1, 3000, 62),
        tobs(1, 10, 1, 2000, 61),  tobs(2, 20, 1, 9000, 99), tobs(0, 30, 1, 9999, 1),
        tobs(1, 10, 9, 500, 36.6),
    };
    assert_int_equal(store_obs_put_batch(f->st, b1, 7, NULL), 0);
    /* Later batch: an older reading must not replace the latest; a newer one does; at the
     * same instant the lowest device id wins whatever the order. */
    struct obs b2[] = {tobs(1, 10, 1, 2500, 70), tobs(1, 12, 5, 4000, 96), tobs(1, 11, 5, 4000, 94),
                       tobs(1, 10, 9, 500, 39.9)};
    assert_int_equal(store_obs_put_batch(f->st, b2, 4, NULL), 0);
    struct obs b3[] = {tobs(1, 9, 5, 4000, 93)};
    assert_int_equal(store_obs_put_batch(f->st, b3, 1, NULL), 0);

    struct collect col = {0};
    assert_int_equal(store_obs_latest(f->st, 1, on_obs, &col), 0);
    assert_int_equal(col.n, 3);
    assert_int_equal(col.obs[0].code, 1);
    assert_int_equal(col.obs[0].effective_us, 3000);
    assert_true(col.obs[0].value == 62);
    assert_int_equal(col.obs[1].code, 5);
    assert_int_equal(col.obs[1].effective_us, 4000);
    assert_int_equal(col.obs[1].device_id, 9);
    assert_true(col.obs[1].value == 93);
    assert_int_equal(col.obs[2].code, 9);
    assert_true(col.obs[2].value == 36.6); /* the duplicate with another value changed nothing */
    assert_int_equal(col.obs[2].patient_id, 1);
    assert_int_equal(col.obs[2].received_us, 501);

    memset(&col, 0, sizeof(col));
    assert_int_equal(store_obs_latest(f->st, 2, on_obs, &col), 0);
    assert_int_equal(col.n, 1);
    assert_true(col.obs[0].value == 99);
    memset(&col, 0, sizeof(col));
    assert_int_equal(store_obs_latest(f->st, 0, on_obs, &col), 0); /* unassigned: untracked */
    assert_int_equal(col.n, 0);
    assert_int_equal(store_obs_latest(f->st, 77, on_obs, &col), 0);
    assert_int_equal(col.n, 0);
}

static void test_store_obs_range(void **state)
{
    struct fx *f = *state;
    struct obs b[40];
    size_t n = 0;
    for (int i = 0; i < 10; i++) {
        b[n++] = tobs(1, 10, 1, 1000 * i, 60 + i); /* heart rate at 0, 1000, ... 9000 */
        b[n++] = tobs(1, 10, 5, 1000 * i + 500, 90 + i);
        b[n++] = tobs(2, 20, 1, 1000 * i, 160 + i); /* another patient */
    }
    assert_int_equal(store_obs_put_batch(f->st, b, n, NULL), 0);

    /* [since, until): since inclusive, until exclusive. */
    struct collect col = {0};
    assert_int_equal(store_obs_range(f->st, 1, 1, 2000, 5000, 0, on_obs, &col), 0);
    assert_int_equal(col.n, 3);
    assert_int_equal(col.obs[0].effective_us, 2000);
    assert_int_equal(col.obs[2].effective_us, 4000);
    for (int i = 0; i < col.n; i++) {
        assert_int_equal(col.obs[i].patient_id, 1);
        assert_int_equal(col.obs[i].code, 1);
    }

    /* Limit keeps the oldest. */
    memset(&col, 0, sizeof(col));
    assert_int_equal(store_obs_range(f->st, 1, 1, 0, 100000, 4, on_obs, &col), 0);
    assert_int_equal(col.n, 4);
    assert_int_equal(col.obs[3].effective_us, 3000);
    assert_true(col.obs[3].value == 63);

    /* Code 0: every code, oldest first. */
    memset(&col, 0, sizeof(col));
    assert_int_equal(store_obs_range(f->st, 1, 0, 1000, 3000, 0, on_obs, &col), 0);
    assert_int_equal(col.n, 4);
    assert_int_equal(col.obs[0].code, 1);
    assert_int_equal(col.obs[0].effective_us, 1000);
    assert_int_equal(col.obs[1].code, 5);
    assert_int_equal(col.obs[1].effective_us, 1500);
    assert_int_equal(col.obs[3].effective_us, 2500);
    memset(&col, 0, sizeof(col));
    assert_int_equal(store_obs_range(f->st, 1, 0, 0, 100000, 5, on_obs, &col), 0);
    assert_int_equal(col.n, 5);

    /* Empty window, unknown patient, callback stop. */
    memset(&col, 0, sizeof(col));
    assert_int_equal(store_obs_range(f->st, 1, 1, 5000, 5000, 0, on_obs, &col), 0);
    assert_int_equal(col.n, 0);
    assert_int_equal(store_obs_range(f->st, 3, 0, 0, 100000, 0, on_obs, &col), 0);
    assert_int_equal(col.n, 0);
    col.stop_after = 2;
    assert_int_equal(store_obs_range(f->st, 2, 1, 0, 100000, 0, on_obs, &col), 7);
    assert_int_equal(col.n, 2);
}

static void test_store_obs_downsample(void **state)
{
    struct fx *f = *state;
    /* Code 1 of patient 1 in [0, 100): width 25. Bucket 0: 0, 10, 24 -> 10, 20, 60;
     * bucket 1: 25 -> 5; bucket 2: empty; bucket 3: 99 -> 7. Outside: -1 and 100. */
    struct obs b[] = {
        tobs(1, 10, 1, 0, 10),     tobs(1, 10, 1, 10, 20),   tobs(1, 10, 1, 24, 60),
        tobs(1, 10, 1, 25, 5),     tobs(1, 10, 1, 99, 7),    tobs(1, 10, 1, -1, 1000),
        tobs(1, 10, 1, 100, 1000), tobs(1, 10, 5, 50, 1000), tobs(2, 20, 1, 50, 1000),
    };
    assert_int_equal(store_obs_put_batch(f->st, b, sizeof(b) / sizeof(b[0]), NULL), 0);

    struct obs_bucket out[4];
    assert_int_equal(store_obs_downsample(f->st, 1, 1, 0, 100, 4, out), 0);
    assert_int_equal(out[0].start_us, 0);
    assert_int_equal(out[0].end_us, 25);
    assert_int_equal(out[0].count, 3);
    assert_true(out[0].min == 10 && out[0].max == 60 && out[0].mean == 30);
    assert_int_equal(out[1].start_us, 25);
    assert_int_equal(out[1].count, 1);
    assert_true(out[1].min == 5 && out[1].max == 5 && out[1].mean == 5);
    assert_int_equal(out[2].start_us, 50);
    assert_int_equal(out[2].end_us, 75);
    assert_int_equal(out[2].count, 0);
    assert_int_equal(out[3].start_us, 75);
    assert_int_equal(out[3].end_us, 100);
    assert_int_equal(out[3].count, 1);
    assert_true(out[3].mean == 7);

    /* Uneven: [0, 10) in 3 buckets -> width 4: [0,4) [4,8) [8,10). */
    struct obs_bucket u[3];
    assert_int_equal(store_obs_downsample(f->st, 1, 1, 0, 10, 3, u), 0);
    assert_int_equal(u[0].count, 1); /* t=0 */
    assert_int_equal(u[1].count, 0);
    assert_int_equal(u[2].start_us, 8);
    assert_int_equal(u[2].end_us, 10);
    assert_int_equal(u[2].count, 0);

    /* Bucket boundaries are inclusive at the start: [24, 26) in 2 -> 24 | 25. */
    assert_int_equal(store_obs_downsample(f->st, 1, 1, 24, 26, 2, u), 0);
    assert_true(u[0].count == 1 && u[0].max == 60);
    assert_true(u[1].count == 1 && u[1].max == 5);

    assert_int_equal(store_obs_downsample(f->st, 1, 1, 0, 100, 0, out), HX_EINVAL);
    assert_int_equal(store_obs_downsample(f->st, 1, 1, 0, 100, 10001, out), HX_EINVAL);
    assert_int_equal(store_obs_downsample(f->st, 1, 1, 100, 100, 4, out), HX_EINVAL);
    assert_int_equal(store_obs_downsample(f->st, 1, 1, 100, 0, 4, out), HX_EINVAL);
}

static void test_store_reopen_keeps_data(void **state)
{
    struct fx *f = *state;
    struct patient p = tpatient("MRN-9", "N", "w", "l");
    assert_int_equal(store_patient_add(f->st, &p), 0);
    struct obs b[] = {tobs(p.id, 0, 1, 5, 61)};
    assert_int_equal(store_obs_put_batch(f->st, b, 1, NULL), 0);
    store_close(f->st);
    f->st = NULL;

    char err[256];
    struct store *ro;
    assert_int_equal(store_open(&ro, &f->t.cfg, STORE_OPEN_READONLY, err, sizeof(err)), 0);
    struct patient out;
    assert_int_equal(store_patient_get_by_mrn(ro, "MRN-9", &out), 0);
    assert_int_equal(count(ro), 1);
    /* A read-only connection refuses writes. */
    struct patient q = tpatient("MRN-10", "N", "", "");
    assert_int_equal(store_patient_add(ro, &q), HX_EREADONLY);
    store_close(ro);
    assert_int_equal(store_open(&f->st, &f->t.cfg, 0, err, sizeof(err)), 0);
    assert_int_equal(count(f->st), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_schema_version_is_current, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_patient_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_device_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_assignment_at_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_obs_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_obs_batch_is_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_obs_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_obs_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_obs_downsample, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_reopen_keeps_data, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
