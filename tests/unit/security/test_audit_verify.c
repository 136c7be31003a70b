/*
 * Unit tests for src/security/audit_verify.c: a chain of 100 entries is tampered with
 * through a raw SQLite connection, as an attacker with the file and the sqlite3 tool would
 * (dropping the triggers first), and verify must find and name the first bad entry for each
 * kind of tampering; the triggers refuse UPDATE and DELETE; anchors catch a truncated tail
 * and a rewritten chain; the anchor parsers.
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

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define N_ENTRIES 100

struct fx {
    struct tdir t;
    struct store *st;
    char hash[N_ENTRIES + 1][AUDIT_HASH_HEX]; /* each entry's hash, by seq */
};

static int collect_hash(void *arg, const struct store_audit_row *r)
{
    struct fx *f = arg;
    if (r->seq >= 1 && r->seq <= N_ENTRIES)
        snprintf(f->hash[r->seq], AUDIT_HASH_HEX, "%s", r->hash);
    return 0;
}

/* A data dir with a chain of N_ENTRIES entries; the store is closed again (f->st NULL). */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256];
    tdir_init(&f->t);
    if (store_open(&f->st, &f->t.cfg, STORE_OPEN_CREATE, err, sizeof(err)) < 0) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    assert_int_equal(store_begin(f->st), 0);
    for (int i = 1; i <= N_ENTRIES; i++) {
        char details[48], id[16];
        snprintf(details, sizeof(details), "{\"n\":%d}", i);
        snprintf(id, sizeof(id), "%d", i);
        struct audit_entry e = {.actor_kind = i % 2 ? AUDIT_ACTOR_CLI : AUDIT_ACTOR_SYSTEM,
                                .actor = i % 2 ? "alice" : "rules",
                                .action = i % 3 ? "patient.read" : "alert.raised",
                                .outcome = AUDIT_SUCCESS,
                                .patient_id = i % 5,
                                .object_type = "patient",
                                .object_id = id,
                                .details = details};
        assert_int_equal(audit_append(f->st, &e, NULL), 0);
    }
    assert_int_equal(store_commit(f->st), 0);
    struct store_audit_filter all = {0};
    assert_int_equal(store_audit_scan(f->st, &all, collect_hash, f), 0);
    store_close(f->st);
    f->st = NULL;
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

/* Runs SQL on a raw connection, as the attacker. Returns the SQLite result code. */
static int attack(struct fx *f, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->t.cfg.path, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void drop_triggers(struct fx *f)
{
    assert_int_equal(attack(f, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
                               "DROP TRIGGER audit_chain;"),
                     SQLITE_OK);
}

static struct audit_verify_result verify(struct fx *f, const struct audit_anchor *a, size_t n)
{
    char err[256];
    if (!f->st)
        assert_int_equal(store_open(&f->st, &f->t.cfg, STORE_OPEN_READONLY, err, sizeof(err)), 0);
    struct audit_verify_result v;
    assert_int_equal(audit_verify(f->st, a, n, NULL, NULL, &v), 0);
    return v;
}

static void expect_bad(struct fx *f, enum audit_problem p, int64_t seq, const char *msg)
{
    struct audit_verify_result v = verify(f, NULL, 0);
    assert_false(v.intact);
    if (v.problem != p || v.bad_seq != seq)
        fail_msg("got %s at %lld: %s", audit_problem_name(v.problem), (long long)v.bad_seq,
                 v.message);
    assert_string_equal(v.message, msg);
}

/* The row that was at seq in the original chain, re-hashed as the attacker would, to be
 * inserted at new_seq after prev. */
static void forge(const char *prev, int64_t new_seq, char *sql, size_t len)
{
    struct store_audit_row r = {.seq = new_seq,
                                .time_us = INT64_C(1800000000000000),
                                .actor_kind = "user",
                                .actor = "mallory",
                                .action = "patient.read",
                                .outcome = "success",
                                .has_patient = true,
                                .patient_id = 3,
                                .object_type = "patient",
                                .object_id = "3",
                                .source = "",
                                .details = "{}",
                                .prev_hash = prev};
    char h[AUDIT_HASH_HEX];
    assert_int_equal(audit_row_hash(&r, h), 0);
    snprintf(sql, len,
             "INSERT INTO audit(seq, time_us, actor_kind, actor_id, actor, action, outcome,"
             " patient_id, object_type, object_id, source, details, break_glass, prev_hash, hash)"
             " VALUES (%lld, 1800000000000000, 'user', 0, 'mallory', 'patient.read', 'success',"
             " 3, 'patient', '3', '', '{}', 0, '%s', '%s');",
             (long long)new_seq, prev, h);
}

static void test_audit_verify_intact_chain(void **state)
{
    struct fx *f = *state;
    struct audit_verify_result v = verify(f, NULL, 0);
    assert_true(v.intact);
    assert_int_equal(v.entries, N_ENTRIES);
    assert_int_equal(v.head.seq, N_ENTRIES);
    assert_string_equal(v.head.hash, f->hash[N_ENTRIES]);
    assert_int_equal(v.problem, AUDIT_OK);
}

static void test_audit_triggers_refuse_update_and_delete(void **state)
{
    struct fx *f = *state;
    assert_int_equal(attack(f, "UPDATE audit SET actor = 'mallory' WHERE seq = 42"),
                     SQLITE_CONSTRAINT);
    assert_int_equal(attack(f, "DELETE FROM audit WHERE seq = 42"), SQLITE_CONSTRAINT);
    assert_int_equal(attack(f, "DELETE FROM audit"), SQLITE_CONSTRAINT);
    assert_int_equal(attack(f, "INSERT INTO audit(seq, time_us, actor_kind, actor, action,"
                               " outcome, prev_hash, hash) VALUES (500, 1, 'user', 'm', 'x',"
                               " 'success', 'x', 'y')"),
                     SQLITE_CONSTRAINT);
    assert_true(verify(f, NULL, 0).intact);
}

static void test_audit_verify_names_a_modified_entry(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    assert_int_equal(attack(f, "UPDATE audit SET actor = 'mallory' WHERE seq = 42"), SQLITE_OK);
    expect_bad(f, AUDIT_MODIFIED, 42, "entry 42: hash mismatch (modified)");
}

static void test_audit_verify_names_a_modified_patient(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    assert_int_equal(attack(f, "UPDATE audit SET patient_id = 2 WHERE seq = 11"), SQLITE_OK);
    expect_bad(f, AUDIT_MODIFIED, 11, "entry 11: hash mismatch (modified)");
}

static void test_audit_verify_names_a_hidden_suffix(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    /* Same C string, more bytes behind a NUL: a reader using the C string would not see it. */
    assert_int_equal(attack(f, "UPDATE audit SET actor = actor || char(0) || 'x' WHERE seq = 7"),
                     SQLITE_OK);
    expect_bad(f, AUDIT_MALFORMED, 7,
               "entry 7: malformed: a field holds a type or bytes medhub never writes "
               "(modified)");
}

static void test_audit_verify_names_a_deleted_middle_entry(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    assert_int_equal(attack(f, "DELETE FROM audit WHERE seq = 43"), SQLITE_OK);
    expect_bad(f, AUDIT_DELETED, 43, "entry 43 missing (deleted)");
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(attack(f, "DELETE FROM audit WHERE seq IN (44, 45)"), SQLITE_OK);
    expect_bad(f, AUDIT_DELETED, 43, "entries 43 to 45 missing (deleted)");
}

static void test_audit_verify_names_a_deletion_hidden_by_renumbering(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    assert_int_equal(attack(f, "DELETE FROM audit WHERE seq = 43;"
                               "UPDATE audit SET seq = -seq WHERE seq > 43;"
                               "UPDATE audit SET seq = -seq - 1 WHERE seq < 0;"),
                     SQLITE_OK);
    expect_bad(f, AUDIT_DELETED, 43, "entry 43 missing (deleted; later entries renumbered)");
}

static void test_audit_verify_needs_an_anchor_for_a_truncated_tail(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    assert_int_equal(attack(f, "DELETE FROM audit WHERE seq > 90"), SQLITE_OK);
    /* Without an anchor the shorter chain is consistent: nothing can tell. */
    struct audit_verify_result v = verify(f, NULL, 0);
    assert_true(v.intact);
    assert_int_equal(v.entries, 90);
    /* With the checkpoint of entry 95 (kept elsewhere): named. */
    struct audit_anchor a[2] = {{.seq = 50}, {.seq = 95}};
    snprintf(a[0].hash, sizeof(a[0].hash), "%s", f->hash[50]);
    snprintf(a[1].hash, sizeof(a[1].hash), "%s", f->hash[95]);
    v = verify(f, a, 2);
    assert_false(v.intact);
    assert_int_equal(v.problem, AUDIT_TRUNCATED);
    assert_int_equal(v.bad_seq, 95);
    assert_int_equal(v.anchors_checked, 1);
    assert_string_equal(v.message, "entry 95 missing: the chain ends at seq 90 (truncated)");
}

static void test_audit_verify_names_a_forged_entry_inserted_in_the_middle(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    /* Make room at 50 by renumbering 50.. up by one, then insert a row that links to 49 and
     * whose own hash is right: the attacker knows the algorithm. */
    char sql[1024];
    forge(f->hash[49], 50, sql, sizeof(sql));
    char all[1400];
    snprintf(all, sizeof(all),
             "UPDATE audit SET seq = -seq WHERE seq >= 50;"
             "UPDATE audit SET seq = -seq + 1 WHERE seq < 0; %s",
             sql);
    assert_int_equal(attack(f, all), SQLITE_OK);
    expect_bad(f, AUDIT_INSERTED, 50, "entry 50: inserted (later entries renumbered)");
}

static void test_audit_verify_names_a_forged_entry_appended(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    /* A well-formed entry 101 that does not link to 100. */
    char sql[1024];
    forge(f->hash[98], N_ENTRIES + 1, sql, sizeof(sql));
    assert_int_equal(attack(f, sql), SQLITE_OK);
    expect_bad(f, AUDIT_UNLINKED, 101,
               "entry 101: does not link to entry 100 (entry 100 rewritten with a recomputed "
               "hash, or entry 101 forged)");
}

static void test_audit_verify_names_a_replacement_in_place(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    /* Entry 30 deleted and a forged row put in its place with a garbage hash. */
    char sql[1024];
    forge(f->hash[29], 30, sql, sizeof(sql));
    char *h = strstr(sql, "', '") + 4; /* the hash value: break it */
    h[0] = h[0] == 'a' ? 'b' : 'a';
    char all[1200];
    snprintf(all, sizeof(all), "DELETE FROM audit WHERE seq = 30; %s", sql);
    assert_int_equal(attack(f, all), SQLITE_OK);
    expect_bad(f, AUDIT_MODIFIED, 30, "entry 30: hash mismatch (modified)");
}

static void test_audit_verify_names_swapped_entries(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    assert_int_equal(attack(f, "UPDATE audit SET seq = -1 WHERE seq = 10;"
                               "UPDATE audit SET seq = 10 WHERE seq = 11;"
                               "UPDATE audit SET seq = 11 WHERE seq = -1;"),
                     SQLITE_OK);
    expect_bad(f, AUDIT_REORDERED, 10, "entries 10 and 11 swapped (reordered)");
}

static void test_audit_verify_names_distant_swapped_entries(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    assert_int_equal(attack(f, "UPDATE audit SET seq = -1 WHERE seq = 20;"
                               "UPDATE audit SET seq = 20 WHERE seq = 70;"
                               "UPDATE audit SET seq = 70 WHERE seq = -1;"),
                     SQLITE_OK);
    expect_bad(f, AUDIT_REORDERED, 20, "entries 20 and 70 swapped (reordered)");
}

static void test_audit_verify_names_a_rewritten_entry_by_its_successor(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    /* Entry 60 replaced by a forged one whose hash is recomputed (the attacker knows the
     * algorithm): 60 is consistent in itself, 61 no longer links to it. */
    char sql[1024];
    forge(f->hash[59], 60, sql, sizeof(sql));
    char all[1200];
    snprintf(all, sizeof(all), "DELETE FROM audit WHERE seq = 60; %s", sql);
    assert_int_equal(attack(f, all), SQLITE_OK);
    expect_bad(f, AUDIT_UNLINKED, 61,
               "entry 61: does not link to entry 60 (entry 60 rewritten with a recomputed "
               "hash, or entry 61 forged)");
}

static void test_audit_verify_anchor_catches_a_rewritten_chain(void **state)
{
    struct fx *f = *state;
    drop_triggers(f);
    /* The whole chain replaced by a consistent forged one of three entries. */
    char sql[3][1024], prev[AUDIT_HASH_HEX] = AUDIT_GENESIS;
    char all[4000] = "DELETE FROM audit;";
    for (int i = 0; i < 3; i++) {
        forge(prev, i + 1, sql[i], sizeof(sql[i]));
        const char *h = strrchr(sql[i], ',') + 3; /* ..., 'prev', 'HASH'); */
        snprintf(prev, sizeof(prev), "%.64s", h);
        strcat(all, sql[i]);
    }
    assert_int_equal(attack(f, all), SQLITE_OK);
    struct audit_verify_result v = verify(f, NULL, 0);
    assert_true(v.intact); /* consistent: only an anchor kept elsewhere tells */
    assert_int_equal(v.entries, 3);
    struct audit_anchor a = {.seq = 2};
    snprintf(a.hash, sizeof(a.hash), "%s", f->hash[2]);
    v = verify(f, &a, 1);
    assert_false(v.intact);
    assert_int_equal(v.problem, AUDIT_REWRITTEN);
    assert_int_equal(v.bad_seq, 2);
    assert_non_null(strstr(v.message, "entry 2: hash differs from the anchor"));
}

static void test_audit_verify_matching_anchors(void **state)
{
    struct fx *f = *state;
    struct audit_anchor a[3] = {{.seq = 100}, {.seq = 1}, {.seq = 50}};
    for (int i = 0; i < 3; i++)
        snprintf(a[i].hash, sizeof(a[i].hash), "%s", f->hash[a[i].seq]);
    struct audit_verify_result v = verify(f, a, 3);
    assert_true(v.intact);
    assert_int_equal(v.anchors_checked, 3);
}

static void test_audit_anchor_parse(void **state)
{
    (void)state;
    struct audit_anchor a;
    char s[128];
    const char *h = "AbCdEf0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789";
    snprintf(s, sizeof(s), "42:%s", h);
    assert_int_equal(audit_anchor_parse(s, strlen(s), &a), 0);
    assert_int_equal(a.seq, 42);
    assert_string_equal(a.hash, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    const char *bad[] = {"", ":", "42", "42:", "0:x", "-1:abc", "x:abc", "42:abc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(audit_anchor_parse(bad[i], strlen(bad[i]), &a), HX_EMALFORMED);
    snprintf(s, sizeof(s), "0:%s", h);
    assert_int_equal(audit_anchor_parse(s, strlen(s), &a), HX_EMALFORMED);
    snprintf(s, sizeof(s), "99999999999999999999:%s", h);
    assert_int_equal(audit_anchor_parse(s, strlen(s), &a), HX_EMALFORMED);
    snprintf(s, sizeof(s), "42:%s0", h);
    assert_int_equal(audit_anchor_parse(s, strlen(s), &a), HX_EMALFORMED);
    /* Not NUL-terminated: only len bytes count. */
    snprintf(s, sizeof(s), "7:%sXYZ", h);
    assert_int_equal(audit_anchor_parse(s, 2 + 64, &a), 0);
    assert_int_equal(a.seq, 7);

    /* Lines of the anchor file and of the daemon's log. */
    snprintf(s, sizeof(s), "2026-01-01T00:00:00.000000Z audit checkpoint seq=12 hash=%s\n", h);
    assert_int_equal(audit_anchor_parse_line(s, strlen(s), &a), 0);
    assert_int_equal(a.seq, 12);
    char log[300];
    snprintf(log, sizeof(log),
             "ts=2026-01-01T00:00:00Z level=info area=audit msg=\"audit checkpoint\" hash=%s "
             "seq=9",
             h);
    assert_int_equal(audit_anchor_parse_line(log, strlen(log), &a), 0);
    assert_int_equal(a.seq, 9);
    const char *none = "ts=x level=info msg=\"store writer stopped\" durable_seq=5";
    assert_int_equal(audit_anchor_parse_line(none, strlen(none), &a), HX_ENOTFOUND);
    const char *half = "audit checkpoint seq=5";
    assert_int_equal(audit_anchor_parse_line(half, strlen(half), &a), HX_EMALFORMED);
    snprintf(s, sizeof(s), "seq=5x hash=%s", h);
    assert_int_equal(audit_anchor_parse_line(s, strlen(s), &a), HX_EMALFORMED);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_audit_verify_intact_chain),
        T(test_audit_triggers_refuse_update_and_delete),
        T(test_audit_verify_names_a_modified_entry),
        T(test_audit_verify_names_a_modified_patient),
        T(test_audit_verify_names_a_hidden_suffix),
        T(test_audit_verify_names_a_deleted_middle_entry),
        T(test_audit_verify_names_a_deletion_hidden_by_renumbering),
        T(test_audit_verify_needs_an_anchor_for_a_truncated_tail),
        T(test_audit_verify_names_a_forged_entry_inserted_in_the_middle),
        T(test_audit_verify_names_a_forged_entry_appended),
        T(test_audit_verify_names_a_replacement_in_place),
        T(test_audit_verify_names_swapped_entries),
        T(test_audit_verify_names_distant_swapped_entries),
        T(test_audit_verify_names_a_rewritten_entry_by_its_successor),
        T(test_audit_verify_anchor_catches_a_rewritten_chain),
        T(test_audit_verify_matching_anchors),
        cmocka_unit_test(test_audit_anchor_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
