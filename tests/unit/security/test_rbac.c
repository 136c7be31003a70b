/*
 * Unit tests for src/security/rbac.c: the permission table (spot checks that follow
 * docs/security.md), names, token scopes, care-team scoping and break-glass grants.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "security/auth_testutil.h"
#include "security/rbac.h"

#include <stdio.h>
#include <stdlib.h>

static void test_rbac_matrix_spot_checks(void **state)
{
    (void)state;
    /* Least privilege: admin runs the system, reads no clinical data, cannot break glass. */
    assert_true(rbac_allows(RBAC_ROLE_ADMIN, RBAC_PERM_USER_ADMIN));
    assert_true(rbac_allows(RBAC_ROLE_ADMIN, RBAC_PERM_DEVICE_WRITE));
    assert_false(rbac_allows(RBAC_ROLE_ADMIN, RBAC_PERM_PATIENT_READ));
    assert_false(rbac_allows(RBAC_ROLE_ADMIN, RBAC_PERM_OBS_READ));
    assert_false(rbac_allows(RBAC_ROLE_ADMIN, RBAC_PERM_BREAK_GLASS));
    assert_false(rbac_allows(RBAC_ROLE_ADMIN, RBAC_PERM_AUDIT_READ));
    /* Clinical roles. */
    assert_true(rbac_allows(RBAC_ROLE_CLINICIAN, RBAC_PERM_OBS_READ));
    assert_true(rbac_allows(RBAC_ROLE_CLINICIAN, RBAC_PERM_RULES_WRITE));
    assert_true(rbac_allows(RBAC_ROLE_NURSE, RBAC_PERM_ALERT_ACK));
    assert_false(rbac_allows(RBAC_ROLE_NURSE, RBAC_PERM_RULES_WRITE));
    assert_false(rbac_allows(RBAC_ROLE_NURSE, RBAC_PERM_USER_ADMIN));
    assert_true(rbac_allows(RBAC_ROLE_NURSE, RBAC_PERM_BREAK_GLASS));
    /* Others see no clinical data. */
    for (int r = RBAC_ROLE_FACILITIES; r <= RBAC_ROLE_AUDITOR; r++) {
        assert_false(rbac_allows((enum rbac_role)r, RBAC_PERM_PATIENT_READ));
        assert_false(rbac_allows((enum rbac_role)r, RBAC_PERM_OBS_READ));
        assert_false(rbac_role_is_clinical((enum rbac_role)r));
    }
    assert_true(rbac_allows(RBAC_ROLE_SECURITY, RBAC_PERM_DEVICE_WRITE));
    assert_true(rbac_allows(RBAC_ROLE_AUDITOR, RBAC_PERM_AUDIT_EXPORT));
    assert_false(rbac_allows(RBAC_ROLE_SECURITY, RBAC_PERM_AUDIT_EXPORT));
    assert_true(rbac_allows(RBAC_ROLE_PATIENT, RBAC_PERM_OBS_READ));
    assert_false(rbac_allows(RBAC_ROLE_PATIENT, RBAC_PERM_ALERT_ACK));
    assert_true(rbac_allows(RBAC_ROLE_INTEGRATION, RBAC_PERM_INGEST));
    assert_true(rbac_allows(RBAC_ROLE_INTEGRATION, RBAC_PERM_FHIR_READ));
    assert_false(rbac_allows(RBAC_ROLE_INTEGRATION, RBAC_PERM_SELF));
    /* Every person may manage their own account; nobody has anything as NONE. */
    for (int r = RBAC_ROLE_ADMIN; r <= RBAC_ROLE_PATIENT; r++)
        assert_true(rbac_allows((enum rbac_role)r, RBAC_PERM_SELF));
    for (int p = 0; p < RBAC_PERM__COUNT; p++)
        assert_false(rbac_allows(RBAC_ROLE_NONE, (enum rbac_perm)p));
    assert_false(rbac_allows((enum rbac_role)99, RBAC_PERM_SELF));
    assert_false(rbac_allows(RBAC_ROLE_ADMIN, (enum rbac_perm)99));
}

/* docs/security.md prints the matrix; it is the contract the HTTP layer enforces, so it
 * must say exactly what the code does. */
static void test_rbac_matrix_matches_docs(void **state)
{
    (void)state;
    const char *src = getenv("MEDHUB_SRC");
    if (!src)
        skip();
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/security.md", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int rows = 0;
    bool seen[RBAC_PERM__COUNT] = {0};
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char *end = strchr(line + 3, '`');
        assert_non_null(end);
        *end = '\0';
        int perm = rbac_perm_parse(line + 3);
        if (perm < 0 || strncmp(end + 1, " |", 2) != 0)
            continue; /* another table */
        /* The matrix rows have one cell per role; the other table's rows have one. */
        char *cells[RBAC_ROLE__COUNT];
        int cols = 0;
        for (char *c = end + 3, *bar; cols < RBAC_ROLE__COUNT && (bar = strchr(c, '|'));
             c = bar + 1) {
            *bar = '\0';
            cells[cols++] = c;
        }
        if (cols != RBAC_ROLE__COUNT - 1)
            continue;
        for (int r = RBAC_ROLE_ADMIN; r < RBAC_ROLE__COUNT; r++) {
            bool ticked = strstr(cells[r - 1], "\u2713") != NULL;
            if (ticked != rbac_allows((enum rbac_role)r, (enum rbac_perm)perm))
                fail_msg("docs/security.md: %s for %s says %s", rbac_perm_name(perm),
                         rbac_role_name((enum rbac_role)r), ticked ? "yes" : "no");
        }
        seen[perm] = true;
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, RBAC_PERM__COUNT);
    for (int p = 0; p < RBAC_PERM__COUNT; p++)
        assert_true(seen[p]);
}

static void test_rbac_names_roundtrip(void **state)
{
    (void)state;
    for (int r = RBAC_ROLE_ADMIN; r < RBAC_ROLE__COUNT; r++)
        assert_int_equal(rbac_role_parse(rbac_role_name((enum rbac_role)r)), r);
    for (int p = 0; p < RBAC_PERM__COUNT; p++)
        assert_int_equal(rbac_perm_parse(rbac_perm_name((enum rbac_perm)p)), p);
    assert_int_equal(rbac_role_parse("none"), RBAC_ROLE_NONE);
    assert_int_equal(rbac_role_parse("Admin"), RBAC_ROLE_NONE);
    assert_int_equal(rbac_perm_parse("patient.delete"), -1);
    unsigned roles;
    char bad[64];
    assert_int_equal(rbac_roles_parse(" admin, nurse ,,", &roles, bad, sizeof(bad)), 0);
    assert_int_equal(roles, (1u << RBAC_ROLE_ADMIN) | (1u << RBAC_ROLE_NURSE));
    assert_int_equal(rbac_roles_parse("admin,doctor", &roles, bad, sizeof(bad)), HX_EINVAL);
    assert_string_equal(bad, "doctor");
}

static void test_rbac_token_scopes_and_must_change_password(void **state)
{
    (void)state;
    struct store_apitoken t = {.id = 7};
    snprintf(t.name, sizeof(t.name), "gw");
    snprintf(t.role, sizeof(t.role), "integration");
    snprintf(t.scopes, sizeof(t.scopes), "ingest,metrics");
    struct principal p;
    rbac_principal_for_token(&t, &p);
    assert_true(p.is_token && p.all_wards);
    assert_true(rbac_principal_allows(&p, RBAC_PERM_INGEST));
    assert_true(rbac_principal_allows(&p, RBAC_PERM_METRICS));
    assert_false(rbac_principal_allows(&p, RBAC_PERM_FHIR_READ)); /* role has it, scope not */
    snprintf(t.scopes, sizeof(t.scopes), "ingest,bogus");
    rbac_principal_for_token(&t, &p);
    assert_false(rbac_principal_allows(&p, RBAC_PERM_INGEST)); /* unreadable: nothing */
    t.scopes[0] = '\0';
    rbac_principal_for_token(&t, &p);
    assert_true(rbac_principal_allows(&p, RBAC_PERM_FHIR_READ));

    struct principal u = {.role = RBAC_ROLE_CLINICIAN, .user_id = 1, .must_change_password = true};
    assert_true(rbac_principal_allows(&u, RBAC_PERM_SELF));
    assert_false(rbac_principal_allows(&u, RBAC_PERM_OBS_READ));
    u.must_change_password = false;
    assert_true(rbac_principal_allows(&u, RBAC_PERM_OBS_READ));
}

static void test_rbac_scope_wards_caseload_self_tokens(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    int64_t p7a = tdb_patient(&t, "M7A", "7A"), p7b = tdb_patient(&t, "M7B", "7B");
    int64_t home = tdb_patient(&t, "HOME", "");
    struct store_user doc = tdb_user(&t, "doc", "clinician");
    assert_int_equal(store_user_ward_add(t.st, doc.id, "7A"), 0);
    assert_int_equal(store_user_patient_add(t.st, doc.id, home), 0);
    struct principal p;
    assert_int_equal(rbac_principal_for_user(t.st, &doc, 11, &p), 0);
    assert_int_equal(p.n_wards, 1);
    assert_int_equal(p.session_id, 11);
    enum rbac_scope how;
    int64_t now = 1000 * T_SEC;
    assert_int_equal(rbac_patient_in_scope(t.st, &p, p7a, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_WARD);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, home, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_CASELOAD);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, p7b, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_DENIED);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, 999, now, &how), HX_ENOTFOUND);
    assert_int_equal(how, RBAC_SCOPE_DENIED);
    assert_true(rbac_ward_in_scope(&p, "7A"));
    assert_false(rbac_ward_in_scope(&p, "7B"));
    assert_false(rbac_ward_in_scope(&p, ""));

    /* Admin and auditor: nothing clinical, whatever the wards table says. */
    struct store_user adm = tdb_user(&t, "adm", "admin");
    assert_int_equal(store_user_ward_add(t.st, adm.id, "7A"), 0);
    assert_int_equal(rbac_principal_for_user(t.st, &adm, 1, &p), 0);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, p7a, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_DENIED);

    /* A patient user: only their own record. */
    struct store_user pat = tdb_user(&t, "pat", "patient");
    pat.patient_id = home;
    assert_int_equal(store_user_update(t.st, &pat, STORE_USER_PATIENT, now), 0);
    assert_int_equal(rbac_principal_for_user(t.st, &pat, 2, &p), 0);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, home, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_SELF);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, p7a, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_DENIED);

    /* Tokens: their ward, or every ward. */
    struct store_apitoken tok = {.id = 3};
    snprintf(tok.role, sizeof(tok.role), "integration");
    snprintf(tok.ward, sizeof(tok.ward), "7B");
    rbac_principal_for_token(&tok, &p);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, p7b, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_WARD);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, p7a, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_DENIED);
    tok.ward[0] = '\0';
    rbac_principal_for_token(&tok, &p);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, home, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_ALL);
    tdb_close(&t);
}

static int count_grant(void *arg, const struct store_break_glass *g)
{
    (void)g;
    ++*(int *)arg;
    return 0;
}

static void test_rbac_break_glass_grant_expires(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    int64_t other = tdb_patient(&t, "M9", "9C");
    struct store_user nurse = tdb_user(&t, "nurse", "nurse");
    struct principal p;
    assert_int_equal(rbac_principal_for_user(t.st, &nurse, 5, &p), 0);
    int64_t now = 5000 * T_SEC;
    enum rbac_scope how;
    assert_int_equal(rbac_patient_in_scope(t.st, &p, other, now, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_DENIED);

    /* A reason is mandatory (>= 10 characters once trimmed) and time is bounded. */
    assert_int_equal(rbac_break_glass(t.st, &p, other, NULL, 60, 240, now, NULL), HX_EINVAL);
    assert_int_equal(rbac_break_glass(t.st, &p, other, "   short   ", 60, 240, now, NULL),
                     HX_EINVAL);
    assert_int_equal(rbac_break_glass(t.st, &p, other, "cardiac arrest bay 4", 0, 240, now, NULL),
                     HX_EINVAL);
    assert_int_equal(rbac_break_glass(t.st, &p, other, "cardiac arrest bay 4", 241, 240, now, NULL),
                     HX_EINVAL);
    assert_int_equal(rbac_break_glass(t.st, &p, other, "cardiac arrest bay 4", 90, 60, now, NULL),
                     HX_EINVAL);
    assert_int_equal(rbac_break_glass(t.st, &p, 4242, "cardiac arrest bay 4", 30, 240, now, NULL),
                     HX_ENOTFOUND);
    struct store_break_glass g;
    assert_int_equal(rbac_break_glass(t.st, &p, other, "  cardiac arrest bay 4 ", 30, 240, now, &g),
                     0);
    assert_string_equal(g.reason, "cardiac arrest bay 4");
    assert_int_equal(g.expires_us, now + 30 * T_MIN);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, other, now + 29 * T_MIN, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_BREAK_GLASS);
    assert_int_equal(rbac_patient_in_scope(t.st, &p, other, now + 30 * T_MIN, &how), 0);
    assert_int_equal(how, RBAC_SCOPE_DENIED);

    /* Admins, auditors and tokens cannot break glass. */
    struct store_user adm = tdb_user(&t, "adm", "admin");
    assert_int_equal(rbac_principal_for_user(t.st, &adm, 6, &p), 0);
    assert_int_equal(
        rbac_break_glass(t.st, &p, other, "I really need to see this", 30, 240, now, NULL),
        HX_EDENIED);
    struct store_apitoken tok = {.id = 1};
    snprintf(tok.role, sizeof(tok.role), "clinician");
    rbac_principal_for_token(&tok, &p);
    assert_int_equal(rbac_break_glass(t.st, &p, other, "automated emergency", 30, 240, now, NULL),
                     HX_EDENIED);
    int n = 0;
    assert_int_equal(store_break_glass_list(t.st, 0, 0, count_grant, &n), 0);
    assert_int_equal(n, 1);
    tdb_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rbac_matrix_spot_checks),
        cmocka_unit_test(test_rbac_matrix_matches_docs),
        cmocka_unit_test(test_rbac_names_roundtrip),
        cmocka_unit_test(test_rbac_token_scopes_and_must_change_password),
        cmocka_unit_test(test_rbac_scope_wards_caseload_self_tokens),
        cmocka_unit_test(test_rbac_break_glass_grant_expires),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
