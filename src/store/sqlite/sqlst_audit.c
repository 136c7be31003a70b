/*
 * SQLite backend: the audit trail's rows. Appends (security/audit.c computes seq and the hash
 * chain inside the caller's transaction and hands the finished row here), the head, and one
 * streaming scan in seq order that verify, export and list share. No hashing here: the
 * backend stores and returns bytes. Layer: store/sqlite.
 * Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "store/sqlite/sqlst_int.h"

#include <stdint.h>
#include <string.h>

#define AUDIT_COLS                                                                                 \
    "seq, time_us, actor_kind, actor_id, actor, action, outcome, patient_id, object_type,"         \
    " object_id, source, details, break_glass, prev_hash, hash"
/* The scan's filters, shared by the four statements (parameters ?1..?7, limit ?9). The time,
 * actor and action terms are written so that no index serves them (unary +): the rows must
 * come in rowid (or audit_patient) order, never through a sort that would hold them all. */
#define AUDIT_WHERE                                                                                \
    " WHERE seq > ?1 AND seq < ?2 AND +time_us >= ?3 AND +time_us < ?4"                            \
    " AND (?5 IS NULL OR +actor = ?5) AND (?6 IS NULL OR +action GLOB ?6)"                         \
    " AND (?7 IS NULL OR prev_hash = ?7)"

const struct sqlst_sql sqlst__sql_audit[] = {
    {SQLST_AUDIT_INSERT, "INSERT INTO audit(" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                         " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"},
    {SQLST_AUDIT_HEAD, "SELECT seq, time_us, hash FROM audit ORDER BY seq DESC LIMIT 1"},
    {SQLST_AUDIT_LAST_ACTION, "SELECT seq, time_us, hash FROM audit WHERE action = ?1"
                              " ORDER BY seq DESC LIMIT 1"},
    {SQLST_AUDIT_SCAN_ASC, "SELECT " AUDIT_COLS " FROM audit" AUDIT_WHERE " ORDER BY seq LIMIT ?9"},
    {SQLST_AUDIT_SCAN_DESC,
     "SELECT " AUDIT_COLS " FROM audit" AUDIT_WHERE " ORDER BY seq DESC LIMIT ?9"},
    {SQLST_AUDIT_SCAN_PATIENT_ASC,
     "SELECT " AUDIT_COLS " FROM audit" AUDIT_WHERE " AND patient_id = ?8 ORDER BY seq LIMIT ?9"},
    {SQLST_AUDIT_SCAN_PATIENT_DESC, "SELECT " AUDIT_COLS " FROM audit" AUDIT_WHERE
                                    " AND patient_id = ?8 ORDER BY seq DESC LIMIT ?9"},
};
const size_t sqlst__n_sql_audit = sizeof(sqlst__sql_audit) / sizeof(sqlst__sql_audit[0]);

int sqlst__audit_append(struct store *st, const struct store_audit_row *r)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_AUDIT_INSERT];
    sqlite3_bind_int64(s, 1, r->seq);
    sqlite3_bind_int64(s, 2, r->time_us);
    sqlite3_bind_text(s, 3, r->actor_kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, r->actor_id);
    sqlite3_bind_text(s, 5, r->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, r->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, r->outcome, -1, SQLITE_STATIC);
    if (r->has_patient)
        sqlite3_bind_int64(s, 8, r->patient_id);
    else
        sqlite3_bind_null(s, 8);
    sqlite3_bind_text(s, 9, r->object_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, r->object_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, r->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, r->details, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 13, r->break_glass ? 1 : 0);
    sqlite3_bind_text(s, 14, r->prev_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 15, r->hash, -1, SQLITE_STATIC);
    return sqlst__exec(db, s);
}

/* Steps a (seq, time_us, hash) query expected to return at most one row. */
static int head_query(struct sqlst *db, sqlite3_stmt *s, struct store_audit_head *out)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->seq = sqlite3_column_int64(s, 0);
        out->time_us = sqlite3_column_int64(s, 1);
        sqlst__col_text(s, 2, out->hash, sizeof(out->hash));
    }
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__audit_head(struct store *st, struct store_audit_head *out)
{
    struct sqlst *db = sqlst__from(st);
    return head_query(db, db->stmt[SQLST_AUDIT_HEAD], out);
}

int sqlst__audit_last(struct store *st, const char *action, struct store_audit_head *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_AUDIT_LAST_ACTION];
    sqlite3_bind_text(s, 1, action, -1, SQLITE_STATIC);
    return head_query(db, s, out);
}

/* A text column as the scan lends it: "" for NULL (flagged), and flagged when it is not TEXT
 * or holds a NUL before its end (the C string would hide what follows). */
static const char *col_text(sqlite3_stmt *s, int col, bool *malformed)
{
    if (sqlite3_column_type(s, col) != SQLITE_TEXT) {
        *malformed = true;
        if (sqlite3_column_type(s, col) == SQLITE_NULL)
            return "";
    }
    const char *t = (const char *)sqlite3_column_text(s, col);
    if (!t) {
        *malformed = true;
        return "";
    }
    if (strlen(t) != (size_t)sqlite3_column_bytes(s, col))
        *malformed = true;
    return t;
}

/* An integer column; flagged unless INTEGER (or NULL where null_ok). */
static int64_t col_int(sqlite3_stmt *s, int col, bool null_ok, bool *malformed)
{
    int type = sqlite3_column_type(s, col);
    if (type != SQLITE_INTEGER && !(null_ok && type == SQLITE_NULL))
        *malformed = true;
    return sqlite3_column_int64(s, col);
}

struct audit_cb {
    store_audit_fn *fn;
    void *arg;
};

static int audit_row(sqlite3_stmt *s, void *arg)
{
    struct audit_cb *c = arg;
    struct store_audit_row r = {0};
    bool bad = false;
    r.seq = col_int(s, 0, false, &bad);
    r.time_us = col_int(s, 1, false, &bad);
    r.actor_kind = col_text(s, 2, &bad);
    r.actor_id = col_int(s, 3, false, &bad);
    r.actor = col_text(s, 4, &bad);
    r.action = col_text(s, 5, &bad);
    r.outcome = col_text(s, 6, &bad);
    r.has_patient = sqlite3_column_type(s, 7) != SQLITE_NULL;
    r.patient_id = col_int(s, 7, true, &bad);
    r.object_type = col_text(s, 8, &bad);
    r.object_id = col_text(s, 9, &bad);
    r.source = col_text(s, 10, &bad);
    r.details = col_text(s, 11, &bad);
    int64_t bg = col_int(s, 12, false, &bad);
    if (bg != 0 && bg != 1)
        bad = true;
    r.break_glass = bg != 0;
    r.prev_hash = col_text(s, 13, &bad);
    r.hash = col_text(s, 14, &bad);
    r.malformed = bad;
    return c->fn(c->arg, &r);
}

int sqlst__audit_scan(struct store *st, const struct store_audit_filter *f, store_audit_fn *fn,
                      void *arg)
{
    struct sqlst *db = sqlst__from(st);
    enum sqlst_stmt_id id =
        f->patient_id
            ? (f->newest_first ? SQLST_AUDIT_SCAN_PATIENT_DESC : SQLST_AUDIT_SCAN_PATIENT_ASC)
            : (f->newest_first ? SQLST_AUDIT_SCAN_DESC : SQLST_AUDIT_SCAN_ASC);
    sqlite3_stmt *s = db->stmt[id];
    sqlite3_bind_int64(s, 1, f->after_seq);
    sqlite3_bind_int64(s, 2, f->before_seq ? f->before_seq : INT64_MAX);
    sqlite3_bind_int64(s, 3, f->since_us ? f->since_us : INT64_MIN);
    sqlite3_bind_int64(s, 4, f->until_us ? f->until_us : INT64_MAX);
    if (f->actor)
        sqlite3_bind_text(s, 5, f->actor, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 5);
    if (f->action)
        sqlite3_bind_text(s, 6, f->action, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 6);
    if (f->prev_hash)
        sqlite3_bind_text(s, 7, f->prev_hash, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    if (f->patient_id)
        sqlite3_bind_int64(s, 8, f->patient_id);
    sqlite3_bind_int64(s, 9, f->limit ? (int64_t)f->limit : -1);
    struct audit_cb c = {fn, arg};
    return sqlst__each(db, s, audit_row, &c);
}
