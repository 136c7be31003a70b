/*
 * Unit tests for src/ingest/registry.c: loading devices and assignments from a temporary
 * SQLite database, O(1) lookups by uid and id (10,000 devices), patient attribution at a
 * reading's time, reload after changes, carried-over live status, and a refresh on a worker
 * with the loop closing cleanly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/hxtime.h"
#include "ingest/registry.h"
#include "ingest/senml.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    char dir[64];
    struct cfg_store cfg;
    struct store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/medhub-test-reg-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cfg.path, sizeof(f->cfg.path), "%s/medhub.db", f->dir);
    f->cfg.busy_timeout_ms = 5000;
    f->cfg.batch_max = 8192;
    f->cfg.queue_max = 65536;
    char err[256];
    assert_int_equal(store_open(&f->st, &f->cfg, STORE_OPEN_CREATE, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    char p[128];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/medhub.db%s", f->dir, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static int64_t add_device(struct store *st, const char *uid, enum dev_status status)
{
    struct device d = {.status = status, .battery_pct = -1};
    snprintf(d.uid, sizeof(d.uid), "%s", uid);
    snprintf(d.kind, sizeof(d.kind), "oximeter");
    snprintf(d.secret_hash, sizeof(d.secret_hash), "%064d", 7);
    assert_int_equal(store_device_add(st, &d), 0);
    return d.id;
}

static int64_t add_patient(struct store *st, const char *mrn)
{
    struct patient p = {0};
    snprintf(p.mrn, sizeof(p.mrn), "%s", mrn);
    snprintf(p.name, sizeof(p.name), "Test");
    assert_int_equal(store_patient_add(st, &p), 0);
    return p.id;
}

static void test_registry_lookup_by_uid_and_id(void **state)
{
    struct fx *f = *state;
    int64_t a = add_device(f->st, "dev-a", DEV_STATUS_ACTIVE);
    int64_t b = add_device(f->st, "dev-b", DEV_STATUS_DISABLED);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct registry *r;
    char err[256];
    assert_int_equal(reg_new(&r, &loop, &f->cfg, err, sizeof(err)), 0);
    const struct reg_device *d = reg_find(r, slice_cstr("dev-a"));
    assert_non_null(d);
    assert_int_equal(d->id, a);
    assert_int_equal(d->status, DEV_STATUS_ACTIVE);
    assert_int_equal(strlen(d->secret_hash), 64);
    d = reg_find(r, slice_cstr("dev-b"));
    assert_non_null(d);
    assert_int_equal(d->status, DEV_STATUS_DISABLED);
    assert_ptr_equal(reg_find_id(r, b), d);
    assert_null(reg_find(r, slice_cstr("dev-")));
    assert_null(reg_find(r, slice_cstr("dev-ab")));
    assert_null(reg_find(r, slice_make(NULL, 0)));
    assert_null(reg_find_id(r, 999));
    reg_free(r);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_registry_attribution_at_time(void **state)
{
    struct fx *f = *state;
    int64_t dev = add_device(f->st, "dev-a", DEV_STATUS_ACTIVE);
    int64_t p1 = add_patient(f->st, "MRN1"), p2 = add_patient(f->st, "MRN2");
    assert_int_equal(store_device_assign(f->st, dev, p1, 1000), 0);
    assert_int_equal(store_device_assign(f->st, dev, p2, 2000), 0);
    assert_int_equal(store_device_unassign(f->st, dev, 3000), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct registry *r;
    char err[256];
    assert_int_equal(reg_new(&r, &loop, &f->cfg, err, sizeof(err)), 0);
    const struct reg_device *d = reg_find(r, slice_cstr("dev-a"));
    assert_int_equal(reg_patient_at(r, d, 999), 0);
    assert_int_equal(reg_patient_at(r, d, 1000), p1);
    assert_int_equal(reg_patient_at(r, d, 1999), p1);
    assert_int_equal(reg_patient_at(r, d, 2000), p2);
    assert_int_equal(reg_patient_at(r, d, 2999), p2);
    assert_int_equal(reg_patient_at(r, d, 3000), 0);
    /* Same answers as the store's own query. */
    for (int64_t t = 900; t < 3100; t += 50) {
        int64_t want;
        assert_int_equal(store_device_patient_at(f->st, dev, t, &want), 0);
        assert_int_equal(reg_patient_at(r, d, t), want);
    }
    reg_free(r);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_registry_reload_sees_changes_and_keeps_live_status(void **state)
{
    struct fx *f = *state;
    int64_t a = add_device(f->st, "dev-a", DEV_STATUS_ACTIVE);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct registry *r;
    char err[256];
    assert_int_equal(reg_new(&r, &loop, &f->cfg, err, sizeof(err)), 0);
    struct dev_status_update u = {.has_battery = true, .battery_pct = 42};
    assert_int_equal(reg_note_status(r, a, &u, hx_time_now_us()), 0);
    assert_int_equal(reg_note_status(r, 12345, &u, 1), HX_ENOTFOUND);
    assert_int_equal(store_device_set_status(f->st, a, DEV_STATUS_QUARANTINED), 0);
    add_device(f->st, "dev-new", DEV_STATUS_ACTIVE);
    assert_null(reg_find(r, slice_cstr("dev-new")));
    assert_int_equal(reg_reload(r), 0);
    const struct reg_device *d = reg_find(r, slice_cstr("dev-a"));
    assert_int_equal(d->status, DEV_STATUS_QUARANTINED);
    assert_int_equal(d->battery_pct, 42); /* carried over */
    assert_non_null(reg_find(r, slice_cstr("dev-new")));
    struct reg_stats st;
    reg_get_stats(r, &st);
    assert_int_equal(st.n_devices, 2);
    assert_int_equal(st.refreshes, 2);
    /* The status was also queued for the presence writer; running the loop writes it. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    reg_get_stats(r, &st);
    assert_int_equal(st.presence_writes, 1);
    assert_int_equal(st.presence_failed, 0);
    struct device dev;
    assert_int_equal(store_device_get_by_id(f->st, a, &dev), 0);
    assert_int_equal(dev.battery_pct, 42);
    assert_int_equal(dev.status, DEV_STATUS_QUARANTINED);
    reg_free(r);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_registry_10000_devices(void **state)
{
    struct fx *f = *state;
    char uid[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(uid, sizeof(uid), "bulk-%05d", i);
        add_device(f->st, uid, DEV_STATUS_ACTIVE);
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct registry *r;
    char err[256];
    assert_int_equal(reg_new(&r, &loop, &f->cfg, err, sizeof(err)), 0);
    int64_t t0 = hx_time_mono_us();
    for (int i = 0; i < 10000; i++) {
        snprintf(uid, sizeof(uid), "bulk-%05d", i);
        const struct reg_device *d = reg_find(r, slice_cstr(uid));
        assert_non_null(d);
        assert_string_equal(d->uid, uid);
        assert_ptr_equal(reg_find_id(r, d->id), d);
    }
    /* 20,000 lookups: far below a millisecond each even under sanitizers. */
    assert_true(hx_time_mono_us() - t0 < 2000000);
    reg_free(r);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_stop_timer(uv_timer_t *t)
{
    reg_stop(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_registry_refresh_on_worker(void **state)
{
    struct fx *f = *state;
    add_device(f->st, "dev-a", DEV_STATUS_ACTIVE);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct registry *r;
    char err[256];
    assert_int_equal(reg_new(&r, &loop, &f->cfg, err, sizeof(err)), 0);
    add_device(f->st, "dev-b", DEV_STATUS_ACTIVE);
    assert_int_equal(reg_refresh_start(r, 20), 0);
    uv_timer_t stop;
    uv_timer_init(&loop, &stop);
    stop.data = r;
    uv_timer_start(&stop, on_stop_timer, 150, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_non_null(reg_find(r, slice_cstr("dev-b")));
    struct reg_stats st;
    reg_get_stats(r, &st);
    assert_true(st.refreshes >= 2);
    reg_free(r);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry_lookup_by_uid_and_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_attribution_at_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_reload_sees_changes_and_keeps_live_status,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_10000_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_refresh_on_worker, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
