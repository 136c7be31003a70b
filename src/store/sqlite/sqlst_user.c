/*
 * SQLite backend: users, their wards and caseloads, MFA recovery codes and break-glass
 * grants (store_auth.h). Secrets arrive hashed or encrypted; nothing here can read them.
 * Layer: store/sqlite. Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "store/sqlite/sqlst_int.h"

#include <string.h>

#define USER_COLS                                                                                  \
    "id, name, role, display_name, password_hash, must_change_password, mfa_secret,"               \
    " mfa_pending, mfa_enrolled, mfa_last_step, patient_id, disabled, last_login_us,"              \
    " created_us, updated_us"
#define BG_COLS "id, user_id, patient_id, reason, granted_us, expires_us"

/* SQLST_USER_UPDATE: ?2 is the field mask (enum store_user_fields); each column keeps its
 * value unless its bit is set, so one prepared statement writes any subset without a
 * read-modify-write race. */
const struct sqlst_sql sqlst__sql_user[] = {
    {SQLST_USER_ADD,
     "INSERT INTO users(name, role, display_name, password_hash, must_change_password,"
     " mfa_secret, mfa_pending, mfa_enrolled, mfa_last_step, patient_id, disabled,"
     " last_login_us, created_us, updated_us)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?12)"},
    {SQLST_USER_GET, "SELECT " USER_COLS " FROM users WHERE name = ?1"},
    {SQLST_USER_GET_BY_ID, "SELECT " USER_COLS " FROM users WHERE id = ?1"},
    {SQLST_USER_LIST, "SELECT " USER_COLS " FROM users ORDER BY name"},
    {SQLST_USER_UPDATE,
     "UPDATE users SET"
     " role = CASE WHEN ?2 & 1 THEN ?3 ELSE role END,"
     " display_name = CASE WHEN ?2 & 2 THEN ?4 ELSE display_name END,"
     " password_hash = CASE WHEN ?2 & 4 THEN ?5 ELSE password_hash END,"
     " must_change_password = CASE WHEN ?2 & 4 THEN ?6 ELSE must_change_password END,"
     " mfa_secret = CASE WHEN ?2 & 8 THEN ?7 ELSE mfa_secret END,"
     " mfa_enrolled = CASE WHEN ?2 & 8 THEN ?8 ELSE mfa_enrolled END,"
     " mfa_last_step = CASE WHEN ?2 & 8 THEN ?9 ELSE mfa_last_step END,"
     " mfa_pending = CASE WHEN ?2 & 16 THEN ?10 ELSE mfa_pending END,"
     " patient_id = CASE WHEN ?2 & 32 THEN ?11 ELSE patient_id END,"
     " disabled = CASE WHEN ?2 & 64 THEN ?12 ELSE disabled END,"
     " last_login_us = CASE WHEN ?2 & 128 THEN ?13 ELSE last_login_us END,"
     " updated_us = ?14 WHERE id = ?1"},
    {SQLST_USER_USE_STEP,
     "UPDATE users SET mfa_last_step = ?2 WHERE id = ?1 AND mfa_last_step < ?2"},
    {SQLST_USER_EXISTS, "SELECT 1 FROM users WHERE id = ?1"},
    {SQLST_USER_COUNT_ROLE, "SELECT count(*) FROM users WHERE role = ?1 AND (?2 OR disabled = 0)"},
    {SQLST_WARD_ADD, "INSERT INTO user_wards(user_id, ward) VALUES (?1, ?2)"},
    {SQLST_WARD_REMOVE, "DELETE FROM user_wards WHERE user_id = ?1 AND ward = ?2"},
    {SQLST_WARD_LIST, "SELECT ward FROM user_wards WHERE user_id = ?1 ORDER BY ward"},
    {SQLST_CASELOAD_ADD, "INSERT INTO user_patients(user_id, patient_id) VALUES (?1, ?2)"},
    {SQLST_CASELOAD_REMOVE, "DELETE FROM user_patients WHERE user_id = ?1 AND patient_id = ?2"},
    {SQLST_CASELOAD_LIST,
     "SELECT patient_id FROM user_patients WHERE user_id = ?1 ORDER BY patient_id"},
    {SQLST_CASELOAD_HAS, "SELECT 1 FROM user_patients WHERE user_id = ?1 AND patient_id = ?2"},
    {SQLST_RECOVERY_CLEAR, "DELETE FROM recovery_codes WHERE user_id = ?1"},
    {SQLST_RECOVERY_ADD, "INSERT INTO recovery_codes(user_id, code_hash) VALUES (?1, ?2)"},
    {SQLST_RECOVERY_USE, "UPDATE recovery_codes SET used_us = ?3"
                         " WHERE user_id = ?1 AND code_hash = ?2 AND used_us = 0"},
    {SQLST_RECOVERY_COUNT,
     "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_us = 0"},
    {SQLST_BG_ADD, "INSERT INTO break_glass(user_id, patient_id, reason, granted_us, expires_us)"
                   " VALUES (?1, ?2, ?3, ?4, ?5)"},
    {SQLST_BG_ACTIVE, "SELECT " BG_COLS " FROM break_glass WHERE user_id = ?1 AND patient_id = ?2"
                      " AND granted_us <= ?3 AND expires_us > ?3 ORDER BY expires_us DESC LIMIT 1"},
    {SQLST_BG_LIST_ALL, "SELECT " BG_COLS " FROM break_glass ORDER BY id DESC LIMIT ?1"},
    {SQLST_BG_LIST_USER,
     "SELECT " BG_COLS " FROM break_glass WHERE user_id = ?2 ORDER BY id DESC LIMIT ?1"},
};
const size_t sqlst__n_sql_user = HX_ARRAY_LEN(sqlst__sql_user);

_Static_assert(STORE_USER_ROLE == 1 && STORE_USER_DISPLAY == 2 && STORE_USER_PASSWORD == 4 &&
                   STORE_USER_MFA == 8 && STORE_USER_MFA_PENDING == 16 &&
                   STORE_USER_PATIENT == 32 && STORE_USER_DISABLED == 64 &&
                   STORE_USER_LAST_LOGIN == 128,
               "SQLST_USER_UPDATE's masks");

/* ---- Users -------------------------------------------------------------------------------- */

static void read_user(sqlite3_stmt *s, struct store_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(s, 0);
    sqlst__col_text(s, 1, u->name, sizeof(u->name));
    sqlst__col_text(s, 2, u->role, sizeof(u->role));
    sqlst__col_text(s, 3, u->display_name, sizeof(u->display_name));
    sqlst__col_text(s, 4, u->password_hash, sizeof(u->password_hash));
    u->must_change_password = sqlite3_column_int(s, 5) != 0;
    sqlst__col_text(s, 6, u->mfa_secret, sizeof(u->mfa_secret));
    sqlst__col_text(s, 7, u->mfa_pending, sizeof(u->mfa_pending));
    u->mfa_enrolled = sqlite3_column_int(s, 8) != 0;
    u->mfa_last_step = sqlite3_column_int64(s, 9);
    u->patient_id = sqlite3_column_int64(s, 10);
    u->disabled = sqlite3_column_int(s, 11) != 0;
    u->last_login_us = sqlite3_column_int64(s, 12);
    u->created_us = sqlite3_column_int64(s, 13);
    u->updated_us = sqlite3_column_int64(s, 14);
}

int sqlst__user_add(struct store *st, struct store_user *u)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_USER_ADD];
    int64_t now = hx_time_now_us();
    sqlst__bind_text(s, 1, u->name, sizeof(u->name));
    sqlst__bind_text(s, 2, u->role, sizeof(u->role));
    sqlst__bind_text(s, 3, u->display_name, sizeof(u->display_name));
    sqlst__bind_text(s, 4, u->password_hash, sizeof(u->password_hash));
    sqlite3_bind_int(s, 5, u->must_change_password);
    sqlst__bind_text(s, 6, u->mfa_secret, sizeof(u->mfa_secret));
    sqlst__bind_text(s, 7, u->mfa_pending, sizeof(u->mfa_pending));
    sqlite3_bind_int(s, 8, u->mfa_enrolled);
    sqlite3_bind_int64(s, 9, u->mfa_last_step);
    sqlite3_bind_int64(s, 10, u->patient_id);
    sqlite3_bind_int(s, 11, u->disabled);
    sqlite3_bind_int64(s, 12, now);
    int rc = sqlst__exec(db, s);
    if (rc == 0) {
        u->id = sqlite3_last_insert_rowid(db->db);
        u->created_us = u->updated_us = now;
        u->last_login_us = 0;
    }
    return rc;
}

/* Steps a bound single-row user lookup. */
static int get_user(struct sqlst *db, sqlite3_stmt *s, struct store_user *out)
{
    int rc = sqlite3_step(s);
    int ret;
    if (rc == SQLITE_ROW) {
        read_user(s, out);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? HX_ENOTFOUND : sqlst__err(db, rc);
    }
    sqlite3_reset(s);
    return ret;
}

int sqlst__user_get(struct store *st, const char *name, struct store_user *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_USER_GET];
    sqlst__bind_text(s, 1, name, STORE_USER_NAME_MAX);
    return get_user(db, s, out);
}

int sqlst__user_get_by_id(struct store *st, int64_t id, struct store_user *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_USER_GET_BY_ID];
    sqlite3_bind_int64(s, 1, id);
    return get_user(db, s, out);
}

struct user_each {
    store_user_fn *fn;
    void *arg;
};

static int user_row(sqlite3_stmt *s, void *arg)
{
    struct user_each *e = arg;
    struct store_user u;
    read_user(s, &u);
    int rc = e->fn(e->arg, &u);
    memset(&u, 0, sizeof(u)); /* the hashes and encrypted secrets do not linger on the stack */
    return rc;
}

int sqlst__user_list(struct store *st, store_user_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    struct user_each e = {fn, arg};
    return sqlst__each(db, db->stmt[SQLST_USER_LIST], user_row, &e);
}

int sqlst__user_update(struct store *st, const struct store_user *u, unsigned fields,
                       int64_t now_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_USER_UPDATE];
    sqlite3_bind_int64(s, 1, u->id);
    sqlite3_bind_int64(s, 2, fields);
    sqlst__bind_text(s, 3, u->role, sizeof(u->role));
    sqlst__bind_text(s, 4, u->display_name, sizeof(u->display_name));
    sqlst__bind_text(s, 5, u->password_hash, sizeof(u->password_hash));
    sqlite3_bind_int(s, 6, u->must_change_password);
    sqlst__bind_text(s, 7, u->mfa_secret, sizeof(u->mfa_secret));
    sqlite3_bind_int(s, 8, u->mfa_enrolled);
    sqlite3_bind_int64(s, 9, u->mfa_last_step);
    sqlst__bind_text(s, 10, u->mfa_pending, sizeof(u->mfa_pending));
    sqlite3_bind_int64(s, 11, u->patient_id);
    sqlite3_bind_int(s, 12, u->disabled);
    sqlite3_bind_int64(s, 13, u->last_login_us);
    sqlite3_bind_int64(s, 14, now_us);
    int rc = sqlst__exec(db, s);
    if (rc == 0 && sqlite3_changes(db->db) == 0)
        rc = HX_ENOTFOUND;
    return rc;
}

/* OUT: *found whether the bound one-row query returned a row. */
static int exists(struct sqlst *db, sqlite3_stmt *s, bool *found)
{
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

static int user_exists(struct sqlst *db, int64_t id, bool *found)
{
    sqlite3_stmt *s = db->stmt[SQLST_USER_EXISTS];
    sqlite3_bind_int64(s, 1, id);
    return exists(db, s, found);
}

int sqlst__user_use_mfa_step(struct store *st, int64_t user_id, int64_t step)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_USER_USE_STEP];
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, step);
    int rc = sqlst__exec(db, s);
    if (rc < 0 || sqlite3_changes(db->db) > 0)
        return rc;
    bool found;
    if ((rc = user_exists(db, user_id, &found)) < 0)
        return rc;
    return found ? HX_EEXIST : HX_ENOTFOUND;
}

/* Runs a bound one-row count query. */
static int count(struct sqlst *db, sqlite3_stmt *s, int64_t *out)
{
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__user_count_role(struct store *st, const char *role, bool with_disabled, int64_t *n)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_USER_COUNT_ROLE];
    sqlst__bind_text(s, 1, role, STORE_ROLE_MAX);
    sqlite3_bind_int(s, 2, with_disabled);
    return count(db, s, n);
}

/* ---- Wards and caseloads ------------------------------------------------------------------ */

/* Runs a bound INSERT/DELETE of a (user, x) pair; a DELETE that matched nothing, or an
 * INSERT whose user does not exist, is HX_ENOTFOUND. */
static int pair_exec(struct sqlst *db, sqlite3_stmt *s, bool is_delete)
{
    int rc = sqlst__exec(db, s);
    if (rc == 0 && is_delete && sqlite3_changes(db->db) == 0)
        rc = HX_ENOTFOUND;
    return rc;
}

int sqlst__user_ward_add(struct store *st, int64_t user_id, const char *ward)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_WARD_ADD];
    sqlite3_bind_int64(s, 1, user_id);
    sqlst__bind_text(s, 2, ward, 64);
    return pair_exec(db, s, false);
}

int sqlst__user_ward_remove(struct store *st, int64_t user_id, const char *ward)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_WARD_REMOVE];
    sqlite3_bind_int64(s, 1, user_id);
    sqlst__bind_text(s, 2, ward, 64);
    return pair_exec(db, s, true);
}

struct text_each {
    store_ward_fn *fn;
    void *arg;
};

static int ward_row(sqlite3_stmt *s, void *arg)
{
    struct text_each *e = arg;
    char ward[64];
    sqlst__col_text(s, 0, ward, sizeof(ward));
    return e->fn(e->arg, ward);
}

int sqlst__user_ward_list(struct store *st, int64_t user_id, store_ward_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_WARD_LIST];
    sqlite3_bind_int64(s, 1, user_id);
    struct text_each e = {fn, arg};
    return sqlst__each(db, s, ward_row, &e);
}

int sqlst__user_patient_add(struct store *st, int64_t user_id, int64_t patient_id)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CASELOAD_ADD];
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, patient_id);
    return pair_exec(db, s, false);
}

int sqlst__user_patient_remove(struct store *st, int64_t user_id, int64_t patient_id)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CASELOAD_REMOVE];
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, patient_id);
    return pair_exec(db, s, true);
}

struct id_each {
    store_id_fn *fn;
    void *arg;
};

static int id_row(sqlite3_stmt *s, void *arg)
{
    struct id_each *e = arg;
    return e->fn(e->arg, sqlite3_column_int64(s, 0));
}

int sqlst__user_patient_list(struct store *st, int64_t user_id, store_id_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CASELOAD_LIST];
    sqlite3_bind_int64(s, 1, user_id);
    struct id_each e = {fn, arg};
    return sqlst__each(db, s, id_row, &e);
}

int sqlst__user_has_patient(struct store *st, int64_t user_id, int64_t patient_id, bool *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_CASELOAD_HAS];
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, patient_id);
    return exists(db, s, out);
}

/* ---- Recovery codes ----------------------------------------------------------------------- */

int sqlst__recovery_set(struct store *st, int64_t user_id, const char (*hashes)[STORE_HASH_MAX],
                        size_t n)
{
    struct sqlst *db = sqlst__from(st);
    /* Joins the caller's transaction when one is open (medhub user reset-mfa). */
    bool own = sqlite3_get_autocommit(db->db);
    int rc = own ? sqlst__begin(db) : 0;
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = db->stmt[SQLST_RECOVERY_CLEAR];
    sqlite3_bind_int64(s, 1, user_id);
    if ((rc = sqlst__exec(db, s)) < 0)
        goto out_rollback;
    s = db->stmt[SQLST_RECOVERY_ADD];
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s, 1, user_id);
        sqlst__bind_text(s, 2, hashes[i], STORE_HASH_MAX);
        if ((rc = sqlst__exec(db, s)) < 0)
            goto out_rollback;
    }
    return own ? sqlst__commit(db) : 0;

out_rollback:
    if (own)
        sqlst__rollback(db);
    return rc;
}

int sqlst__recovery_use(struct store *st, int64_t user_id, const char *hash, int64_t now_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_RECOVERY_USE];
    sqlite3_bind_int64(s, 1, user_id);
    sqlst__bind_text(s, 2, hash, STORE_HASH_MAX);
    sqlite3_bind_int64(s, 3, now_us);
    return pair_exec(db, s, true);
}

int sqlst__recovery_count(struct store *st, int64_t user_id, int64_t *n_unused)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_RECOVERY_COUNT];
    sqlite3_bind_int64(s, 1, user_id);
    return count(db, s, n_unused);
}

/* ---- Break-glass grants ------------------------------------------------------------------- */

static void read_grant(sqlite3_stmt *s, struct store_break_glass *g)
{
    memset(g, 0, sizeof(*g));
    g->id = sqlite3_column_int64(s, 0);
    g->user_id = sqlite3_column_int64(s, 1);
    g->patient_id = sqlite3_column_int64(s, 2);
    sqlst__col_text(s, 3, g->reason, sizeof(g->reason));
    g->granted_us = sqlite3_column_int64(s, 4);
    g->expires_us = sqlite3_column_int64(s, 5);
}

int sqlst__break_glass_add(struct store *st, struct store_break_glass *g)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_BG_ADD];
    sqlite3_bind_int64(s, 1, g->user_id);
    sqlite3_bind_int64(s, 2, g->patient_id);
    sqlst__bind_text(s, 3, g->reason, sizeof(g->reason));
    sqlite3_bind_int64(s, 4, g->granted_us);
    sqlite3_bind_int64(s, 5, g->expires_us);
    int rc = sqlst__exec(db, s);
    if (rc == 0)
        g->id = sqlite3_last_insert_rowid(db->db);
    return rc;
}

int sqlst__break_glass_active(struct store *st, int64_t user_id, int64_t patient_id, int64_t now_us,
                              struct store_break_glass *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_BG_ACTIVE];
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, patient_id);
    sqlite3_bind_int64(s, 3, now_us);
    int rc = sqlite3_step(s);
    int ret;
    if (rc == SQLITE_ROW) {
        if (out)
            read_grant(s, out);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? HX_ENOTFOUND : sqlst__err(db, rc);
    }
    sqlite3_reset(s);
    return ret;
}

struct grant_each {
    store_break_glass_fn *fn;
    void *arg;
};

static int grant_row(sqlite3_stmt *s, void *arg)
{
    struct grant_each *e = arg;
    struct store_break_glass g;
    read_grant(s, &g);
    return e->fn(e->arg, &g);
}

int sqlst__break_glass_list(struct store *st, int64_t user_id, size_t limit,
                            store_break_glass_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[user_id ? SQLST_BG_LIST_USER : SQLST_BG_LIST_ALL];
    sqlite3_bind_int64(s, 1, limit ? (int64_t)limit : -1);
    if (user_id)
        sqlite3_bind_int64(s, 2, user_id);
    struct grant_each e = {fn, arg};
    return sqlst__each(db, s, grant_row, &e);
}
