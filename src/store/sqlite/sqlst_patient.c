/*
 * SQLite backend: patients (add, get by id or MRN, list by ward).
 * Layer: store/sqlite. Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "store/sqlite/sqlst_int.h"

const struct sqlst_sql sqlst__sql_patient[] = {
    {SQLST_PATIENT_ADD, "INSERT INTO patients(mrn, name, birth_date, ward, location, created_us)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {SQLST_PATIENT_GET, "SELECT " SQLST_PATIENT_COLS " FROM patients WHERE id = ?1"},
    {SQLST_PATIENT_GET_BY_MRN, "SELECT " SQLST_PATIENT_COLS " FROM patients WHERE mrn = ?1"},
    {SQLST_PATIENT_LIST_ALL,
     "SELECT " SQLST_PATIENT_COLS " FROM patients ORDER BY ward, location, name, id"},
    {SQLST_PATIENT_LIST_WARD,
     "SELECT " SQLST_PATIENT_COLS " FROM patients WHERE ward = ?1 ORDER BY location, name, id"},
};
const size_t sqlst__n_sql_patient = sizeof(sqlst__sql_patient) / sizeof(sqlst__sql_patient[0]);

void sqlst__read_patient(sqlite3_stmt *s, struct patient *p)
{
    p->id = sqlite3_column_int64(s, 0);
    sqlst__col_text(s, 1, p->mrn, sizeof(p->mrn));
    sqlst__col_text(s, 2, p->name, sizeof(p->name));
    sqlst__col_text(s, 3, p->birth_date, sizeof(p->birth_date));
    sqlst__col_text(s, 4, p->ward, sizeof(p->ward));
    sqlst__col_text(s, 5, p->location, sizeof(p->location));
    p->created_us = sqlite3_column_int64(s, 6);
}

int sqlst__patient_add(struct store *st, struct patient *p)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_PATIENT_ADD];
    int64_t now = hx_time_now_us();
    sqlst__bind_text(s, 1, p->mrn, sizeof(p->mrn));
    sqlst__bind_text(s, 2, p->name, sizeof(p->name));
    sqlst__bind_text(s, 3, p->birth_date, sizeof(p->birth_date));
    sqlst__bind_text(s, 4, p->ward, sizeof(p->ward));
    sqlst__bind_text(s, 5, p->location, sizeof(p->location));
    sqlite3_bind_int64(s, 6, now);
    int rc = sqlst__exec(db, s);
    if (rc == 0) {
        p->id = sqlite3_last_insert_rowid(db->db);
        p->created_us = now;
    }
    return rc;
}

/* Steps a single-row lookup already bound. */
static int get_one(struct sqlst *db, sqlite3_stmt *s, struct patient *out)
{
    int rc = sqlite3_step(s);
    int ret;
    if (rc == SQLITE_ROW) {
        sqlst__read_patient(s, out);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? HX_ENOTFOUND : sqlst__err(db, rc);
    }
    sqlite3_reset(s);
    return ret;
}

int sqlst__patient_get(struct store *st, int64_t id, struct patient *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_PATIENT_GET];
    sqlite3_bind_int64(s, 1, id);
    return get_one(db, s, out);
}

int sqlst__patient_get_by_mrn(struct store *st, const char *mrn, struct patient *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_PATIENT_GET_BY_MRN];
    sqlst__bind_text(s, 1, mrn, PAT_MRN_MAX);
    return get_one(db, s, out);
}

int sqlst__patient_list(struct store *st, const char *ward, store_patient_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[ward ? SQLST_PATIENT_LIST_WARD : SQLST_PATIENT_LIST_ALL];
    if (ward)
        sqlst__bind_text(s, 1, ward, PAT_WARD_MAX);
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct patient p;
        sqlst__read_patient(s, &p);
        if ((ret = fn(arg, &p)) != 0)
            break;
    }
    if (ret == 0)
        ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}
