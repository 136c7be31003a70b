/*
 * SQLite backend: devices (add, get, list, status, presence reported by the gateway) and
 * their assignments to patients over time (assign, unassign, who was assigned at a given time,
 * history). Layer: store/sqlite. Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "store/sqlite/sqlst_int.h"

const struct sqlst_sql sqlst__sql_device[] = {
    {SQLST_DEVICE_ADD,
     "INSERT INTO devices(uid, kind, model, firmware, secret_hash, status, last_seen_us,"
     " battery_pct, created_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    {SQLST_DEVICE_GET, "SELECT " SQLST_DEVICE_COLS " FROM devices WHERE uid = ?1"},
    {SQLST_DEVICE_GET_BY_ID, "SELECT " SQLST_DEVICE_COLS " FROM devices WHERE id = ?1"},
    {SQLST_DEVICE_LIST, "SELECT " SQLST_DEVICE_COLS " FROM devices ORDER BY uid"},
    {SQLST_DEVICE_SET_STATUS, "UPDATE devices SET status = ?2 WHERE id = ?1"},
    /* Unknown values (0, -1, '') keep what is stored; times never move backwards. */
    {SQLST_DEVICE_UPDATE_PRESENCE,
     "UPDATE devices SET connected_us = max(connected_us, ?2),"
     " disconnected_us = max(disconnected_us, ?3), last_seen_us = max(last_seen_us, ?4),"
     " battery_pct = CASE WHEN ?5 < 0 THEN battery_pct ELSE ?5 END,"
     " firmware = CASE WHEN ?6 = '' THEN firmware ELSE ?6 END,"
     " rssi_dbm = CASE WHEN ?7 = 0 THEN rssi_dbm ELSE ?7 END WHERE id = ?1"},
    /* Assignments: [start_us, end_us), end_us NULL while open; at most one open per device
     * (unique partial index assignments_open). */
    {SQLST_ASSIGN_CLOSE,
     "UPDATE assignments SET end_us = ?2 WHERE device_id = ?1 AND end_us IS NULL"},
    {SQLST_ASSIGN_OPEN,
     "INSERT INTO assignments(device_id, patient_id, start_us, end_us) VALUES (?1, ?2, ?3, NULL)"},
    /* Index assignments_device(device_id, start_us), scanned backwards from t. */
    {SQLST_ASSIGN_PATIENT_AT,
     "SELECT patient_id FROM assignments WHERE device_id = ?1 AND start_us <= ?2"
     " AND (end_us IS NULL OR ?2 < end_us) ORDER BY start_us DESC LIMIT 1"},
    {SQLST_ASSIGN_LIST, "SELECT device_id, patient_id, start_us, end_us FROM assignments"
                        " WHERE device_id = ?1 ORDER BY start_us DESC, rowid DESC"},
};
const size_t sqlst__n_sql_device = sizeof(sqlst__sql_device) / sizeof(sqlst__sql_device[0]);

void sqlst__read_device(sqlite3_stmt *s, struct device *d)
{
    d->id = sqlite3_column_int64(s, 0);
    sqlst__col_text(s, 1, d->uid, sizeof(d->uid));
    sqlst__col_text(s, 2, d->kind, sizeof(d->kind));
    sqlst__col_text(s, 3, d->model, sizeof(d->model));
    sqlst__col_text(s, 4, d->firmware, sizeof(d->firmware));
    sqlst__col_text(s, 5, d->secret_hash, sizeof(d->secret_hash));
    d->status = (enum dev_status)sqlite3_column_int(s, 6);
    d->last_seen_us = sqlite3_column_int64(s, 7);
    d->battery_pct = sqlite3_column_int(s, 8);
    d->created_us = sqlite3_column_int64(s, 9);
    d->connected_us = sqlite3_column_int64(s, 10);
    d->disconnected_us = sqlite3_column_int64(s, 11);
    d->rssi_dbm = sqlite3_column_int(s, 12);
}

int sqlst__device_add(struct store *st, struct device *d)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DEVICE_ADD];
    int64_t now = hx_time_now_us();
    sqlst__bind_text(s, 1, d->uid, sizeof(d->uid));
    sqlst__bind_text(s, 2, d->kind, sizeof(d->kind));
    sqlst__bind_text(s, 3, d->model, sizeof(d->model));
    sqlst__bind_text(s, 4, d->firmware, sizeof(d->firmware));
    sqlst__bind_text(s, 5, d->secret_hash, sizeof(d->secret_hash));
    sqlite3_bind_int(s, 6, (int)d->status);
    sqlite3_bind_int64(s, 7, d->last_seen_us);
    sqlite3_bind_int(s, 8, d->battery_pct);
    sqlite3_bind_int64(s, 9, now);
    int rc = sqlst__exec(db, s);
    if (rc == 0) {
        d->id = sqlite3_last_insert_rowid(db->db);
        d->created_us = now;
    }
    return rc;
}

static int get_one(struct sqlst *db, sqlite3_stmt *s, struct device *out)
{
    int rc = sqlite3_step(s);
    int ret;
    if (rc == SQLITE_ROW) {
        sqlst__read_device(s, out);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? HX_ENOTFOUND : sqlst__err(db, rc);
    }
    sqlite3_reset(s);
    return ret;
}

int sqlst__device_get(struct store *st, const char *uid, struct device *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DEVICE_GET];
    sqlst__bind_text(s, 1, uid, DEV_ID_MAX);
    return get_one(db, s, out);
}

int sqlst__device_get_by_id(struct store *st, int64_t id, struct device *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DEVICE_GET_BY_ID];
    sqlite3_bind_int64(s, 1, id);
    return get_one(db, s, out);
}

int sqlst__device_list(struct store *st, store_device_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DEVICE_LIST];
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct device d;
        sqlst__read_device(s, &d);
        if ((ret = fn(arg, &d)) != 0)
            break;
    }
    if (ret == 0)
        ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__device_set_status(struct store *st, int64_t device_id, enum dev_status status)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DEVICE_SET_STATUS];
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int(s, 2, (int)status);
    int rc = sqlst__exec(db, s);
    if (rc == 0 && sqlite3_changes(db->db) == 0)
        rc = HX_ENOTFOUND;
    return rc;
}

int sqlst__device_update_presence(struct store *st, int64_t device_id, const struct dev_presence *p)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DEVICE_UPDATE_PRESENCE];
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int64(s, 2, p->connected_us);
    sqlite3_bind_int64(s, 3, p->disconnected_us);
    sqlite3_bind_int64(s, 4, p->last_seen_us);
    sqlite3_bind_int(s, 5, p->battery_pct);
    sqlst__bind_text(s, 6, p->firmware, sizeof(p->firmware));
    sqlite3_bind_int(s, 7, p->rssi_dbm);
    int rc = sqlst__exec(db, s);
    if (rc == 0 && sqlite3_changes(db->db) == 0)
        rc = HX_ENOTFOUND;
    return rc;
}

/* Closes the device's open assignment at at_us. OUT: *closed rows changed (0 or 1). */
static int close_open(struct sqlst *db, int64_t device_id, int64_t at_us, int *closed)
{
    sqlite3_stmt *s = db->stmt[SQLST_ASSIGN_CLOSE];
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int64(s, 2, at_us);
    int rc = sqlst__exec(db, s);
    *closed = rc == 0 ? sqlite3_changes(db->db) : 0;
    return rc;
}

int sqlst__device_assign(struct store *st, int64_t device_id, int64_t patient_id, int64_t at_us)
{
    struct sqlst *db = sqlst__from(st);
    int closed;
    int rc = sqlst__begin(db);
    if (rc < 0)
        return rc;
    rc = close_open(db, device_id, at_us, &closed);
    if (rc < 0)
        goto out_rollback;
    sqlite3_stmt *s = db->stmt[SQLST_ASSIGN_OPEN];
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int64(s, 2, patient_id);
    sqlite3_bind_int64(s, 3, at_us);
    rc = sqlst__exec(db, s);
    if (rc < 0)
        goto out_rollback;
    return sqlst__commit(db);
out_rollback:
    sqlst__rollback(db);
    return rc;
}

int sqlst__device_unassign(struct store *st, int64_t device_id, int64_t at_us)
{
    struct sqlst *db = sqlst__from(st);
    int closed;
    int rc = close_open(db, device_id, at_us, &closed);
    if (rc == 0 && closed == 0)
        rc = HX_ENOTFOUND;
    return rc;
}

int sqlst__device_patient_at(struct store *st, int64_t device_id, int64_t t_us, int64_t *patient_id)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ASSIGN_PATIENT_AT];
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int64(s, 2, t_us);
    int rc = sqlite3_step(s);
    *patient_id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__assignment_list(struct store *st, int64_t device_id, store_assignment_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ASSIGN_LIST];
    sqlite3_bind_int64(s, 1, device_id);
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct assignment a = {
            .device_id = sqlite3_column_int64(s, 0),
            .patient_id = sqlite3_column_int64(s, 1),
            .start_us = sqlite3_column_int64(s, 2),
            .end_us = sqlite3_column_type(s, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 3),
        };
        if ((ret = fn(arg, &a)) != 0)
            break;
    }
    if (ret == 0)
        ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}
