/*
 * Helpers shared by the security unit tests that need a database: a temporary store (see
 * store/store_testutil.h), a fixed server key, and user and patient builders.
 * Header-only (static functions) so each test_*.c stays a single translation unit.
 */
#ifndef MEDHUB_TESTS_UNIT_SECURITY_AUTH_TESTUTIL_H
#define MEDHUB_TESTS_UNIT_SECURITY_AUTH_TESTUTIL_H

#include "security/secret.h"
#include "store/store_auth.h"
#include "store/store_testutil.h"

#include <cmocka.h>
#include <string.h>

#define T_SEC INT64_C(1000000)
#define T_MIN (60 * T_SEC)

/* A test database with a server key. */
struct tdb {
    struct tdir dir;
    struct store *st;
    uint8_t key[SEC_KEY_LEN];
};

static inline void tdb_open(struct tdb *t)
{
    tdir_init(&t->dir);
    char err[256] = "";
    int rc = store_open(&t->st, &t->dir.cfg, STORE_OPEN_CREATE, err, sizeof(err));
    if (rc < 0)
        fail_msg("store_open: %s", err);
    memset(t->key, 0x5a, sizeof(t->key));
}

static inline void tdb_close(struct tdb *t)
{
    store_close(t->st);
    tdir_release(&t->dir);
}

/* Adds a patient on ward; returns its id. */
static inline int64_t tdb_patient(struct tdb *t, const char *mrn, const char *ward)
{
    struct patient p = tpatient(mrn, "Test Patient", ward, "");
    assert_int_equal(store_patient_add(t->st, &p), 0);
    return p.id;
}

/* Adds a user with role (no password, no MFA); returns it. */
static inline struct store_user tdb_user(struct tdb *t, const char *name, const char *role)
{
    struct store_user u = {0};
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.role, sizeof(u.role), "%s", role);
    assert_int_equal(store_user_add(t->st, &u), 0);
    return u;
}

#endif
