/*
 * SQLite backend: device events (pill taken, dose missed, button, fall, connection lost).
 * The batch insert (one transaction per call, duplicates skipped by the primary key
 * (device_id, type, time_us)) and the listing by device, patient and time window, newest
 * first. Event text may be PHI: it is bound and read, never logged (SQLite's messages name
 * columns, not values). Query plans are in docs/internals/store.md.
 * Layer: store/sqlite. Thread: whichever thread uses the connection (one at a time); the
 * batch insert runs on the ingest event worker.
 */
#include "core/err.h"
#include "store/sqlite/sqlst_int.h"

#include <string.h>

#define EVENT_COLS "device_id, type, time_us, patient_id, flag, text, received_us"
/* Newest first. The trailing DESC terms make ties deterministic and match the order of
 * events_patient (patient_id, time_us) plus the primary key that every WITHOUT ROWID index
 * carries, so the patient listing needs no sorter. */
#define EVENT_ORDER " ORDER BY time_us DESC, device_id DESC, type DESC"

const struct sqlst_sql sqlst__sql_event[] = {
    /* ON CONFLICT DO NOTHING skips only key conflicts (a redelivered event); NOT NULL or
     * type errors still fail the batch, unlike INSERT OR IGNORE. flag is NULL for a text
     * event and text NULL for a flag event. */
    {SQLST_EVENT_INSERT, "INSERT INTO events(" EVENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                         " ON CONFLICT DO NOTHING"},
    /* Every device: a scan of the table plus a sort (CLI use; add an index on time_us if the
     * table grows large enough to matter). */
    {SQLST_EVENT_LIST_ALL, "SELECT " EVENT_COLS " FROM events WHERE time_us >= ?1"
                           " AND time_us < ?2" EVENT_ORDER " LIMIT ?3"},
    /* One device: the primary key prefix (device_id), the window and an optional patient
     * filter (?4 = 0: any), then a sort. */
    {SQLST_EVENT_LIST_DEVICE,
     "SELECT " EVENT_COLS " FROM events WHERE device_id = ?1 AND time_us >= ?2 AND time_us < ?3"
     " AND (?4 = 0 OR patient_id = ?4)" EVENT_ORDER " LIMIT ?5"},
    /* One patient: index events_patient, scanned backwards; no sorter. */
    {SQLST_EVENT_LIST_PATIENT,
     "SELECT " EVENT_COLS " FROM events WHERE patient_id = ?1 AND time_us >= ?2"
     " AND time_us < ?3" EVENT_ORDER " LIMIT ?4"},
};
const size_t sqlst__n_sql_event = sizeof(sqlst__sql_event) / sizeof(sqlst__sql_event[0]);

static void bind_event(sqlite3_stmt *s, const struct dev_event *e)
{
    sqlite3_bind_int64(s, 1, e->device_id);
    sqlite3_bind_int(s, 2, (int)e->type);
    sqlite3_bind_int64(s, 3, e->time_us);
    sqlite3_bind_int64(s, 4, e->patient_id);
    if (e->has_text) {
        sqlite3_bind_null(s, 5);
        sqlst__bind_text(s, 6, e->text, sizeof(e->text));
    } else {
        sqlite3_bind_int(s, 5, e->flag ? 1 : 0);
        sqlite3_bind_null(s, 6);
    }
    sqlite3_bind_int64(s, 7, e->received_us);
}

int sqlst__event_put_batch(struct store *st, const struct dev_event *ev, size_t n,
                           size_t *n_inserted)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_EVENT_INSERT];
    int rc = sqlst__begin(db);
    if (rc < 0)
        return rc;
    int64_t before = sqlite3_total_changes64(db->db);
    for (size_t i = 0; i < n; i++) {
        bind_event(s, &ev[i]);
        int src = sqlite3_step(s);
        sqlite3_reset(s);
        if (src != SQLITE_DONE) {
            rc = sqlst__err(db, src);
            goto out_rollback;
        }
    }
    int64_t inserted = sqlite3_total_changes64(db->db) - before;
    rc = sqlst__commit(db);
    if (rc == 0 && n_inserted)
        *n_inserted = (size_t)inserted;
    return rc;
out_rollback:
    sqlst__rollback(db);
    return rc;
}

static void read_event(sqlite3_stmt *s, struct dev_event *e)
{
    memset(e, 0, sizeof(*e));
    e->device_id = sqlite3_column_int64(s, 0);
    e->type = (enum dev_event_type)sqlite3_column_int(s, 1);
    e->time_us = sqlite3_column_int64(s, 2);
    e->patient_id = sqlite3_column_int64(s, 3);
    if (sqlite3_column_type(s, 5) != SQLITE_NULL) {
        e->has_text = true;
        sqlst__col_text(s, 5, e->text, sizeof(e->text));
    } else {
        e->flag = sqlite3_column_int(s, 4) != 0;
    }
    e->received_us = sqlite3_column_int64(s, 6);
}

int sqlst__event_list(struct store *st, int64_t device_id, int64_t patient_id, int64_t since_us,
                      int64_t until_us, size_t limit, store_event_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    int64_t lim = limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
    sqlite3_stmt *s;
    if (device_id) {
        s = db->stmt[SQLST_EVENT_LIST_DEVICE];
        sqlite3_bind_int64(s, 1, device_id);
        sqlite3_bind_int64(s, 2, since_us);
        sqlite3_bind_int64(s, 3, until_us);
        sqlite3_bind_int64(s, 4, patient_id);
        sqlite3_bind_int64(s, 5, lim);
    } else if (patient_id) {
        s = db->stmt[SQLST_EVENT_LIST_PATIENT];
        sqlite3_bind_int64(s, 1, patient_id);
        sqlite3_bind_int64(s, 2, since_us);
        sqlite3_bind_int64(s, 3, until_us);
        sqlite3_bind_int64(s, 4, lim);
    } else {
        s = db->stmt[SQLST_EVENT_LIST_ALL];
        sqlite3_bind_int64(s, 1, since_us);
        sqlite3_bind_int64(s, 2, until_us);
        sqlite3_bind_int64(s, 3, lim);
    }
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct dev_event e;
        read_event(s, &e);
        if ((ret = fn(arg, &e)) != 0)
            break;
    }
    if (ret == 0)
        ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}
