/*
 * Unit tests for the store connection pool on a real loop and libuv's workers: every job
 * runs with a connection and calls back on the loop; no more connections than max_conns;
 * a job's open transaction is rolled back before its connection is reused; after stop,
 * submit is refused while queued jobs still complete.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "store/pool.h"
#include "store/store.h"
#include "store/store_testutil.h"

#include <stdatomic.h>

struct fx {
    struct tdir t;
    uv_loop_t loop;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tdir_init(&f->t);
    char err[256];
    struct store *st;
    if (store_open(&st, &f->t.cfg, STORE_OPEN_CREATE, err, sizeof(err)) < 0)
        return -1;
    struct patient p = tpatient("MRN1", "Ada", "W1", "");
    if (store_patient_add(st, &p) < 0)
        return -1;
    store_close(st);
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tdir_release(&f->t);
    free(f);
    return 0;
}

struct job {
    atomic_int *concurrent; /* jobs inside fn now */
    atomic_int *peak;
    int64_t found; /* the patient's id, read on the worker */
    int status;    /* from done */
    bool done;
    bool leave_open; /* begin a transaction and return without ending it */
};

static int job_fn(struct store *st, void *arg)
{
    struct job *j = arg;
    int now = atomic_fetch_add(j->concurrent, 1) + 1;
    int peak = atomic_load(j->peak);
    while (now > peak && !atomic_compare_exchange_weak(j->peak, &peak, now))
        ;
    struct patient p;
    int rc = store_patient_get_by_mrn(st, "MRN1", &p);
    j->found = rc == 0 ? p.id : -1;
    usleep(5000);
    if (j->leave_open && rc == 0)
        rc = store_begin(st);
    atomic_fetch_sub(j->concurrent, 1);
    return rc == 0 ? 7 : rc;
}

static void job_done(void *arg, int status)
{
    struct job *j = arg;
    j->status = status;
    j->done = true;
}

static void test_pool_runs_jobs_with_bounded_connections(void **state)
{
    struct fx *f = *state;
    struct store_pool *p;
    store_pool_new(&p, &f->loop, &f->t.cfg, 0, 2);
    atomic_int concurrent = 0, peak = 0;
    struct job jobs[12];
    for (int i = 0; i < 12; i++) {
        jobs[i] = (struct job){.concurrent = &concurrent, .peak = &peak, .leave_open = i % 3 == 0};
        assert_int_equal(store_pool_submit(p, job_fn, job_done, &jobs[i]), 0);
    }
    struct store_pool_stats s;
    store_pool_get_stats(p, &s);
    assert_int_equal(s.running, 12);
    store_pool_stop(p);
    struct job late = {.concurrent = &concurrent, .peak = &peak};
    assert_int_equal(store_pool_submit(p, job_fn, job_done, &late), HX_ESHUTDOWN);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < 12; i++) {
        assert_true(jobs[i].done);
        assert_int_equal(jobs[i].status, 7); /* fn's return, also after a left-open txn */
        assert_int_equal(jobs[i].found, 1);
    }
    assert_false(late.done);
    store_pool_get_stats(p, &s);
    assert_int_equal(s.running, 0);
    assert_int_equal(s.jobs, 12);
    assert_true(s.conns >= 1 && s.conns <= 2);
    assert_true(atomic_load(&peak) <= 2);
    store_pool_free(p);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void test_pool_reports_open_errors(void **state)
{
    struct fx *f = *state;
    struct cfg_store c = f->t.cfg;
    snprintf(c.path, sizeof(c.path), "%s/missing.db", f->t.dir);
    struct store_pool *p;
    store_pool_new(&p, &f->loop, &c, STORE_OPEN_READONLY, 0);
    atomic_int concurrent = 0, peak = 0;
    struct job j = {.concurrent = &concurrent, .peak = &peak};
    assert_int_equal(store_pool_submit(p, job_fn, job_done, &j), 0);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_true(j.done);
    assert_int_equal(j.status, -ENOENT);
    store_pool_free(p);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_runs_jobs_with_bounded_connections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_reports_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
