/*
 * Unit tests for src/security/audit.c: entry checks, the canonical serialization (fixed
 * vectors computed independently, and unambiguity), appending inside the caller's
 * transaction (atomic with the change, no entry and no gap after a rollback, two connections
 * interleaving), and checkpoints with their anchor file.
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

#include <math.h>
#include <stdio.h>
#include <string.h>

struct fx {
    struct tdir t;
    struct store *st;
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

static struct audit_entry entry(const char *action)
{
    return (struct audit_entry){.actor_kind = AUDIT_ACTOR_CLI,
                                .actor_id = 1000,
                                .actor = "alice",
                                .action = action,
                                .outcome = AUDIT_SUCCESS,
                                .source = "local"};
}

/* The fixed row of the reference vectors (computed with an independent Python encoder). */
static struct store_audit_row ref_row(void)
{
    return (struct store_audit_row){.seq = 7,
                                    .time_us = INT64_C(1800000000123456),
                                    .actor_kind = "cli",
                                    .actor_id = 1000,
                                    .actor = "alice",
                                    .action = "patient.create",
                                    .outcome = "success",
                                    .has_patient = true,
                                    .patient_id = 42,
                                    .object_type = "patient",
                                    .object_id = "42",
                                    .source = "local",
                                    .details = "{\"ward\":\"7A\"}",
                                    .break_glass = false,
                                    .prev_hash = AUDIT_GENESIS};
}

static void test_audit_hash_matches_reference_vectors(void **state)
{
    (void)state;
    struct store_audit_row r = ref_row();
    char h[AUDIT_HASH_HEX];
    size_t len = 0;
    audit_canonical(&r, NULL, 0, &len);
    assert_int_equal(len, 250);
    uint8_t buf[300];
    audit_canonical(&r, buf, sizeof(buf), &len);
    /* 's', length 15, "medhub-audit-v1", then 'i', length 8, seq 7 big-endian. */
    static const uint8_t head[] = {'s', 0,   0,   0,   15,  'm', 'e', 'd', 'h', 'u', 'b',
                                   '-', 'a', 'u', 'd', 'i', 't', '-', 'v', '1', 'i', 0,
                                   0,   0,   8,   0,   0,   0,   0,   0,   0,   0,   7};
    assert_memory_equal(buf, head, sizeof(head));
    assert_int_equal(audit_row_hash(&r, h), 0);
    assert_string_equal(h, "eaec6f79311cfc77926e6bf7b7058ebe4232e03864d3586803ebf88888bef871");
    r.has_patient = false;
    assert_int_equal(audit_row_hash(&r, h), 0);
    assert_string_equal(h, "5b1754671d0ca06fd1322e2e6594ea0b2927c04d06919a41e4ef42df1812181e");
}

static void expect_different(const struct store_audit_row *a, const struct store_audit_row *b)
{
    uint8_t x[512], y[512];
    size_t lx, ly;
    audit_canonical(a, x, sizeof(x), &lx);
    audit_canonical(b, y, sizeof(y), &ly);
    assert_true(lx != ly || memcmp(x, y, lx) != 0);
    char ha[AUDIT_HASH_HEX], hb[AUDIT_HASH_HEX];
    assert_int_equal(audit_row_hash(a, ha), 0);
    assert_int_equal(audit_row_hash(b, hb), 0);
    assert_string_not_equal(ha, hb);
}

static void test_audit_canonical_is_unambiguous(void **state)
{
    (void)state;
    struct store_audit_row a = ref_row(), b = ref_row();
    /* A byte moved from one field to the next: separators would make these collide. */
    a.actor = "alice|";
    a.action = "patient.create";
    b.actor = "alice";
    b.action = "|patient.create";
    expect_different(&a, &b);
    a = ref_row(), b = ref_row();
    a.object_type = "patient";
    a.object_id = "42";
    b.object_type = "patient4";
    b.object_id = "2";
    expect_different(&a, &b);
    /* No patient and patient 0 are different things. */
    a = ref_row(), b = ref_row();
    a.has_patient = false;
    b.patient_id = 0;
    expect_different(&a, &b);
    /* Every field counts: seq, time, ids, flag, prev_hash. */
    a = ref_row(), b = ref_row();
    b.seq = 8;
    expect_different(&a, &b);
    b = ref_row(), b.time_us++;
    expect_different(&a, &b);
    b = ref_row(), b.actor_id = 1001;
    expect_different(&a, &b);
    b = ref_row(), b.break_glass = true;
    expect_different(&a, &b);
    b = ref_row(), b.outcome = "denied";
    expect_different(&a, &b);
    b = ref_row(), b.source = "";
    expect_different(&a, &b);
    b = ref_row(), b.prev_hash = "1000000000000000000000000000000000000000000000000000000000000000";
    expect_different(&a, &b);
}

static void test_audit_entry_check_refuses_bad_entries(void **state)
{
    (void)state;
    char why[160];
    struct audit_entry e = entry("patient.create");
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), 0);
    const char *bad_actions[] = {"", "Patient.create", "patient..create", ".x", "x.", "a b", "x-y"};
    for (size_t i = 0; i < sizeof(bad_actions) / sizeof(bad_actions[0]); i++) {
        e = entry(bad_actions[i]);
        assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    }
    e = entry("export");
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), 0);
    e = entry("x.y");
    e.details = "[1]";
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    e.details = "{\"a\":";
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    e.details = "{\"user\":\"bob\",\"Password\":\"x\"}";
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    assert_non_null(strstr(why, "Password"));
    e.details = "{\"req\":{\"access_token\":\"x\"}}";
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    e.details = "{\"a\":[{\"secret\":1}]}";
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    e.details = "{\"token_name\":\"ci\",\"a\":1,\"a\":2}"; /* duplicate keys */
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    e.details = "{\"token_name\":\"ci\"}";
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), 0);
    e = entry("x.y");
    e.actor = "bob\n";
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    e = entry("x.y");
    e.object_type = "Patient";
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
    e = entry("x.y");
    e.outcome = (enum audit_outcome)7;
    assert_int_equal(audit_entry_check(&e, why, sizeof(why)), HX_EINVAL);
}

/* Collects rows (seq, prev_hash, hash, action) in scan order. */
struct rows {
    int n;
    int64_t seq[64];
    char prev[64][AUDIT_HASH_HEX];
    char hash[64][AUDIT_HASH_HEX];
    char action[64][AUDIT_ACTION_MAX];
};

static int collect(void *arg, const struct store_audit_row *r)
{
    struct rows *c = arg;
    if (c->n < 64) {
        c->seq[c->n] = r->seq;
        snprintf(c->prev[c->n], AUDIT_HASH_HEX, "%s", r->prev_hash);
        snprintf(c->hash[c->n], AUDIT_HASH_HEX, "%s", r->hash);
        snprintf(c->action[c->n], AUDIT_ACTION_MAX, "%s", r->action);
    }
    c->n++;
    return 0;
}

static void expect_intact(struct store *st, int64_t entries)
{
    struct audit_verify_result v;
    assert_int_equal(audit_verify(st, NULL, 0, NULL, NULL, &v), 0);
    if (!v.intact)
        fail_msg("%s", v.message);
    assert_int_equal(v.entries, entries);
    assert_int_equal(v.head.seq, entries);
}

static void test_audit_append_needs_a_transaction(void **state)
{
    struct fx *f = *state;
    struct audit_entry e = entry("patient.read");
    assert_int_equal(audit_append(f->st, &e, NULL), HX_EINVAL);
    int64_t seq = 0;
    assert_int_equal(audit_record(f->st, &e, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(audit_record(f->st, &e, &seq), 0);
    assert_int_equal(seq, 2);
    struct rows r = {0};
    struct store_audit_filter all = {0};
    assert_int_equal(store_audit_scan(f->st, &all, collect, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.prev[0], AUDIT_GENESIS);
    assert_string_equal(r.prev[1], r.hash[0]);
    expect_intact(f->st, 2);
}

static void test_audit_append_is_atomic_with_the_change(void **state)
{
    struct fx *f = *state;
    struct audit_entry e = entry("patient.create");
    assert_int_equal(audit_record(f->st, &e, NULL), 0);

    /* Rolled back: neither the patient nor its entry, and no gap. */
    assert_int_equal(store_begin(f->st), 0);
    struct patient p = tpatient("MRN-1", "A", "", "");
    assert_int_equal(store_patient_add(f->st, &p), 0);
    int64_t seq = 0;
    assert_int_equal(audit_append(f->st, &e, &seq), 0);
    assert_int_equal(seq, 2);
    store_rollback(f->st);
    struct patient got;
    assert_int_equal(store_patient_get_by_mrn(f->st, "MRN-1", &got), HX_ENOTFOUND);
    struct store_audit_head h;
    assert_int_equal(store_audit_head(f->st, &h), 0);
    assert_int_equal(h.seq, 1);

    /* Committed: both, and the next entry is 2. */
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_patient_add(f->st, &p), 0);
    e.patient_id = p.id;
    assert_int_equal(audit_append(f->st, &e, &seq), 0);
    assert_int_equal(store_commit(f->st), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(store_patient_get_by_mrn(f->st, "MRN-1", &got), 0);
    expect_intact(f->st, 2);

    /* A store call with its own transaction joins the caller's, and goes with its rollback. */
    struct device d = tdevice("dev-1", "monitor");
    assert_int_equal(store_device_add(f->st, &d), 0);
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_device_assign(f->st, d.id, p.id, 1000), 0);
    assert_int_equal(audit_append(f->st, &e, NULL), 0);
    store_rollback(f->st);
    int64_t pid = -1;
    assert_int_equal(store_device_patient_at(f->st, d.id, 2000, &pid), 0);
    assert_int_equal(pid, 0);
    assert_int_equal(store_audit_head(f->st, &h), 0);
    assert_int_equal(h.seq, 2);
    /* A failed joined call undoes only its rows; the caller's transaction goes on. */
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(audit_append(f->st, &e, NULL), 0);
    struct obs bad[2] = {tobs(p.id, d.id, 1, 1000, 60), tobs(p.id, d.id, 1, 2000, NAN)};
    assert_int_equal(store_obs_put_batch(f->st, bad, 2, NULL), HX_EINVAL); /* NOT NULL */
    assert_int_equal(store_obs_put_batch(f->st, bad, 1, NULL), 0);
    assert_int_equal(store_commit(f->st), 0);
    int64_t n_obs = 0;
    assert_int_equal(store_obs_count(f->st, &n_obs), 0);
    assert_int_equal(n_obs, 1);
    expect_intact(f->st, 3);
}

static void test_audit_two_connections_interleave_into_one_chain(void **state)
{
    struct fx *f = *state;
    struct store *other;
    char err[256];
    assert_int_equal(store_open(&other, &f->t.cfg, 0, err, sizeof(err)), 0);
    struct audit_entry e = entry("login.failure");
    for (int i = 0; i < 20; i++)
        assert_int_equal(audit_record(i % 2 ? other : f->st, &e, NULL), 0);
    store_close(other);
    expect_intact(f->st, 20);
}

static void test_audit_chain_of_1000_verifies(void **state)
{
    struct fx *f = *state;
    char details[64];
    for (int batch = 0; batch < 10; batch++) {
        assert_int_equal(store_begin(f->st), 0);
        for (int i = 0; i < 100; i++) {
            struct audit_entry e = entry(i % 3 ? "obs.read" : "patient.read");
            snprintf(details, sizeof(details), "{\"n\":%d}", batch * 100 + i);
            e.details = details;
            e.patient_id = 1 + i % 7;
            e.break_glass = i == 50;
            assert_int_equal(audit_append(f->st, &e, NULL), 0);
        }
        assert_int_equal(store_commit(f->st), 0);
    }
    expect_intact(f->st, 1000);
    /* Filters: one patient (index order), newest first with a limit, an action pattern. */
    struct rows r = {0};
    struct store_audit_filter flt = {.patient_id = 3, .newest_first = true, .limit = 5};
    assert_int_equal(store_audit_scan(f->st, &flt, collect, &r), 0);
    assert_int_equal(r.n, 5);
    assert_true(r.seq[0] > r.seq[1] && r.seq[1] > r.seq[4]);
    memset(&r, 0, sizeof(r));
    flt = (struct store_audit_filter){.action = "patient.*", .after_seq = 990};
    assert_int_equal(store_audit_scan(f->st, &flt, collect, &r), 0);
    for (int i = 0; i < r.n; i++)
        assert_string_equal(r.action[i], "patient.read");
    assert_true(r.n >= 3 && r.n <= 4);
}

static void test_audit_database_refuses_a_broken_link(void **state)
{
    struct fx *f = *state;
    struct audit_entry e = entry("patient.read");
    assert_int_equal(audit_record(f->st, &e, NULL), 0);
    struct store_audit_row r = ref_row();
    r.seq = 2;
    r.hash = AUDIT_GENESIS;
    assert_int_equal(store_begin(f->st), 0);
    assert_int_equal(store_audit_append(f->st, &r), HX_EDENIED); /* prev_hash is not entry 1's */
    r.seq = 5;
    assert_int_equal(store_audit_append(f->st, &r), HX_EDENIED); /* a gap */
    store_rollback(f->st);
    expect_intact(f->st, 1);
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 8192);
    size_t n = fread(buf, 1, 8191, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void test_audit_checkpoint_by_count_and_force(void **state)
{
    struct fx *f = *state;
    struct audit_policy p = {.checkpoint_entries = 5, .checkpoint_interval_s = 3600};
    snprintf(p.anchor_file, sizeof(p.anchor_file), "%s/audit-anchors.log", f->t.dir);
    bool written = true;
    struct audit_anchor head;
    /* Empty chain: nothing to checkpoint, even forced. */
    assert_int_equal(audit_checkpoint(f->st, &p, NULL, true, &written, &head), 0);
    assert_false(written);
    assert_int_equal(head.seq, 0);

    struct audit_entry e = entry("patient.read");
    for (int i = 0; i < 4; i++)
        assert_int_equal(audit_record(f->st, &e, NULL), 0);
    assert_int_equal(audit_checkpoint(f->st, &p, NULL, false, &written, &head), 0);
    assert_false(written); /* 4 < 5, and the hour has not passed */
    assert_int_equal(audit_record(f->st, &e, NULL), 0);
    assert_int_equal(audit_checkpoint(f->st, &p, NULL, false, &written, &head), 0);
    assert_true(written);
    assert_int_equal(head.seq, 6); /* the checkpoint entry itself is the new head */
    assert_int_equal(audit_checkpoint(f->st, &p, NULL, false, &written, NULL), 0);
    assert_false(written); /* the head is a checkpoint already */

    struct rows r = {0};
    struct store_audit_filter flt = {.action = AUDIT_ACTION_CHECKPOINT};
    assert_int_equal(store_audit_scan(f->st, &flt, collect, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.seq[0], 6);

    char *anchors = read_text(p.anchor_file);
    assert_non_null(anchors);
    char want[128];
    snprintf(want, sizeof(want), " audit checkpoint seq=6 hash=%s\n", head.hash);
    assert_non_null(strstr(anchors, want));
    struct audit_anchor a;
    assert_int_equal(audit_anchor_parse_line(anchors, strlen(anchors), &a), 0);
    assert_int_equal(a.seq, 6);
    assert_string_equal(a.hash, head.hash);
    free(anchors);

    /* Forced, by a named actor, with no new entries: written anyway. */
    struct audit_entry who = entry("ignored");
    assert_int_equal(audit_checkpoint(f->st, &p, &who, true, &written, &head), 0);
    assert_true(written);
    assert_int_equal(head.seq, 7);
    struct audit_verify_result v;
    assert_int_equal(audit_verify(f->st, &a, 1, NULL, NULL, &v), 0);
    assert_true(v.intact);
    assert_int_equal(v.anchors_checked, 1);
    assert_int_equal(v.entries, 7);
}

static void test_audit_checkpoint_by_time(void **state)
{
    struct fx *f = *state;
    struct audit_policy p = {.checkpoint_entries = 0, .checkpoint_interval_s = 1};
    struct audit_entry e = entry("patient.read");
    assert_int_equal(audit_record(f->st, &e, NULL), 0);
    bool written = true;
    assert_int_equal(audit_checkpoint(f->st, &p, NULL, false, &written, NULL), 0);
    assert_false(written);
    usleep(1100 * 1000);
    assert_int_equal(audit_checkpoint(f->st, &p, NULL, false, &written, NULL), 0);
    assert_true(written); /* no anchor file configured: the entry and the log line only */
    expect_intact(f->st, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_hash_matches_reference_vectors),
        cmocka_unit_test(test_audit_canonical_is_unambiguous),
        cmocka_unit_test(test_audit_entry_check_refuses_bad_entries),
        T(test_audit_append_needs_a_transaction),
        T(test_audit_append_is_atomic_with_the_change),
        T(test_audit_two_connections_interleave_into_one_chain),
        T(test_audit_chain_of_1000_verifies),
        T(test_audit_database_refuses_a_broken_link),
        T(test_audit_checkpoint_by_count_and_force),
        T(test_audit_checkpoint_by_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
