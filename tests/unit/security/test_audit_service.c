/*
 * Unit tests for src/security/audit_service.c on a real libuv loop and store writer:
 * audit_submit copies the entry and records it on the writer thread, calling back on the
 * loop with its seq; an invalid entry or a stopped writer is refused without a callback; the
 * service records the daemon's start and stop and writes due checkpoints as side jobs.
 * Every test ends with uv_loop_close() == 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "security/audit.h"
#include "store/store.h"
#include "store/store_testutil.h"
#include "store/writer.h"

#include <string.h>

struct fx {
    struct tdir t;
    uv_loop_t loop;
    struct store_writer *w;
    int n_done;     /* callbacks run */
    int64_t seq[8]; /* by callback order */
    int status[8];  /* ... */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tdir_init(&f->t);
    char err[256];
    struct store *st;
    if (store_open(&st, &f->t.cfg, STORE_OPEN_CREATE, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    store_close(st);
    uv_loop_init(&f->loop);
    if (store_writer_start(&f->w, &f->loop, &f->t.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
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

static void on_done(void *arg, int64_t seq, int status)
{
    struct fx *f = arg;
    if (f->n_done < 8) {
        f->seq[f->n_done] = seq;
        f->status[f->n_done] = status;
    }
    f->n_done++;
}

static void run_until(struct fx *f, int n_done)
{
    for (int i = 0; i < 1000 && f->n_done < n_done; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->n_done, n_done);
}

static void stop_writer(struct fx *f)
{
    store_writer_stop(f->w);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* The actions of the chain, in seq order, after checking it verifies. */
struct acts {
    int n;
    char a[16][AUDIT_ACTION_MAX];
    char actor[16][AUDIT_ACTOR_MAX];
};

static int collect(void *arg, const struct store_audit_row *r)
{
    struct acts *c = arg;
    if (c->n < 16) {
        snprintf(c->a[c->n], AUDIT_ACTION_MAX, "%s", r->action);
        snprintf(c->actor[c->n], AUDIT_ACTOR_MAX, "%s", r->actor);
    }
    c->n++;
    return 0;
}

static void read_chain(struct fx *f, struct acts *out)
{
    struct store *st;
    char err[256];
    assert_int_equal(store_open(&st, &f->t.cfg, STORE_OPEN_READONLY, err, sizeof(err)), 0);
    struct audit_verify_result v;
    assert_int_equal(audit_verify(st, NULL, 0, NULL, NULL, &v), 0);
    assert_true(v.intact);
    memset(out, 0, sizeof(*out));
    struct store_audit_filter all = {0};
    assert_int_equal(store_audit_scan(st, &all, collect, out), 0);
    store_close(st);
}

static void test_audit_submit_records_on_the_writer_thread(void **state)
{
    struct fx *f = *state;
    /* The strings are copied: the caller's buffers may change right after the call. */
    char actor[16] = "bob", details[32] = "{\"ip_tries\":3}";
    struct audit_entry e = {.actor_kind = AUDIT_ACTOR_USER,
                            .actor = actor,
                            .action = "login.failure",
                            .outcome = AUDIT_DENIED,
                            .source = "203.0.113.9:51000",
                            .details = details};
    assert_int_equal(audit_submit(f->w, &e, on_done, f), 0);
    snprintf(actor, sizeof(actor), "mallory");
    snprintf(details, sizeof(details), "{}");
    e.action = "login.success";
    e.outcome = AUDIT_SUCCESS;
    assert_int_equal(audit_submit(f->w, &e, on_done, f), 0);
    e.action = "Bad Action";
    assert_int_equal(audit_submit(f->w, &e, on_done, f), HX_EINVAL);
    run_until(f, 2);
    assert_int_equal(f->status[0], 0);
    assert_int_equal(f->seq[0], 1);
    assert_int_equal(f->seq[1], 2);
    stop_writer(f);
    assert_int_equal(f->n_done, 2); /* the refused one never called back */
    struct acts c;
    read_chain(f, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.a[0], "login.failure");
    assert_string_equal(c.actor[0], "bob");
    assert_string_equal(c.actor[1], "mallory");
}

static void test_audit_submit_after_stop_is_refused(void **state)
{
    struct fx *f = *state;
    store_writer_stop(f->w);
    struct audit_entry e = {.actor = "x", .action = "login.failure", .outcome = AUDIT_DENIED};
    assert_int_equal(audit_submit(f->w, &e, on_done, f), HX_ESHUTDOWN);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(f->n_done, 0);
}

static void test_audit_service_records_lifecycle_and_checkpoints(void **state)
{
    struct fx *f = *state;
    struct audit_policy p = {.checkpoint_entries = 2, .checkpoint_interval_s = 3600};
    snprintf(p.anchor_file, sizeof(p.anchor_file), "%s/anchors.log", f->t.dir);
    struct audit_service *s;
    assert_int_equal(audit_service_start(&s, &f->loop, f->w, &p), 0);
    struct audit_entry e = {.actor = "rules", .action = "alert.raised", .patient_id = 4};
    assert_int_equal(audit_submit(f->w, &e, on_done, f), 0);
    run_until(f, 1);
    audit_service_stop(s);
    stop_writer(f); /* runs server.stop and the last check */
    audit_service_free(s);
    struct acts c;
    read_chain(f, &c);
    /* start, (1 entry: not due), the entry, then stop and a checkpoint over all three. */
    assert_int_equal(c.n, 4);
    assert_string_equal(c.a[0], "server.start");
    assert_string_equal(c.a[1], "alert.raised");
    assert_string_equal(c.a[2], "server.stop");
    assert_string_equal(c.a[3], AUDIT_ACTION_CHECKPOINT);
    assert_string_equal(c.actor[3], "audit");
    FILE *fp = fopen(p.anchor_file, "r");
    assert_non_null(fp);
    char line[256];
    assert_non_null(fgets(line, sizeof(line), fp));
    fclose(fp);
    assert_non_null(strstr(line, " audit checkpoint seq=4 hash="));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_audit_submit_records_on_the_writer_thread),
        T(test_audit_submit_after_stop_is_refused),
        T(test_audit_service_records_lifecycle_and_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
