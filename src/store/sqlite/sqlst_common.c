/*
 * SQLite backend: the one function that maps SQLite result codes to medhub error codes, and
 * the small helpers (transactions, fixed-size text binding) the other sqlst_*.c files share.
 * Layer: store/sqlite. Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "core/log.h"
#include "store/sqlite/sqlst_int.h"

#include <errno.h>
#include <string.h>

/* True when the OS error behind an I/O failure means "no more room". */
static bool is_full_errno(int e)
{
    return e == ENOSPC || e == EFBIG || e == EDQUOT;
}

/* The OS error behind an I/O failure. sqlite3_system_errno reads the global errno after
 * SQLite's own cleanup, which may have cleared it, so also ask the unix VFS for the last
 * errno of the database file and of the WAL, where a failed write records it. */
static int io_errno(sqlite3 *db)
{
    int e = sqlite3_system_errno(db);
    if (e)
        return e;
    sqlite3_file *wal = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK && wal &&
        wal->pMethods &&
        wal->pMethods->xFileControl(wal, SQLITE_FCNTL_LAST_ERRNO, &e) == SQLITE_OK && e)
        return e;
    e = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &e) != SQLITE_OK)
        e = 0;
    return e;
}

int sqlst__err(struct sqlst *db, int rc)
{
    int e = 0;
    int ret;
    if (db && db->db &&
        ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN ||
         (rc & 0xff) == SQLITE_FULL))
        e = io_errno(db->db);

    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_CONSTRAINT:
        switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            return HX_EEXIST;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return HX_ENOTFOUND; /* the referenced device or patient does not exist */
        case SQLITE_CONSTRAINT_TRIGGER:
            return HX_EDENIED; /* RAISE(ABORT): e.g. an UPDATE or DELETE of the audit trail */
        default:
            return HX_EINVAL; /* NOT NULL, CHECK: a caller passed an impossible record */
        }
    case SQLITE_FULL:
        return HX_EFULL;
    case SQLITE_IOERR:
        /* A write refused by a size limit (RLIMIT_FSIZE: EFBIG) or a full disk surfaces as
         * SQLITE_IOERR_WRITE/FSYNC when the write fails outright (SQLITE_FULL when short). */
        if (is_full_errno(e)) {
            ret = HX_EFULL;
            break;
        }
        if (e == EROFS) {
            ret = HX_EREADONLY;
            break;
        }
        ret = HX_ESTORE;
        break;
    case SQLITE_READONLY:
        return HX_EREADONLY;
    case SQLITE_CANTOPEN:
        if (e == ENOENT)
            return -ENOENT;
        if (e == EACCES || e == EPERM || e == EROFS)
            return HX_EREADONLY;
        ret = HX_ESTORE;
        break;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return HX_EDENIED;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return HX_EBUSY;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        ret = HX_ECORRUPT;
        break;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_TOOBIG:
        return HX_ETOOBIG;
    case SQLITE_INTERRUPT:
        return -EINTR;
    default:
        ret = HX_ESTORE;
        break;
    }
    /* Engine failures an operator may need to see; SQLite messages name tables and columns,
     * never values. */
    log_warn(NULL, "store", "sqlite error", "rc=%d errno=%d detail=\"%s\"", rc, e,
             db && db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
    return ret;
}

int sqlst__exec(struct sqlst *db, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_DONE ? 0 : sqlst__err(db, rc == SQLITE_ROW ? SQLITE_MISUSE : rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__each(struct sqlst *db, sqlite3_stmt *s, int (*row)(sqlite3_stmt *s, void *arg),
                void *arg)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if ((ret = row(s, arg)) != 0)
            break;
    if (ret == 0)
        ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__begin(struct sqlst *db)
{
    /* Inside the caller's transaction (store_begin): a savepoint, so this call still
     * succeeds or fails whole and commits with the caller's transaction. */
    if (!sqlite3_get_autocommit(db->db)) {
        int rc = sqlst__exec(db, db->stmt[SQLST_SAVEPOINT]);
        if (rc == 0)
            db->nest++;
        return rc;
    }
    return sqlst__exec(db, db->stmt[SQLST_BEGIN]);
}

int sqlst__commit(struct sqlst *db)
{
    int rc = sqlst__exec(db, db->stmt[db->nest ? SQLST_RELEASE : SQLST_COMMIT]);
    if (rc < 0) {
        sqlst__rollback(db);
        return rc;
    }
    if (db->nest)
        db->nest--;
    return 0;
}

void sqlst__rollback(struct sqlst *db)
{
    if (db->nest) {
        /* Undo this call's work and leave the caller's transaction open. After some errors
         * (SQLITE_FULL, IOERR) SQLite has already rolled back the whole transaction and the
         * savepoint is gone: then these fail harmlessly and the caller's commit reports it. */
        db->nest--;
        sqlite3_step(db->stmt[SQLST_ROLLBACK_TO]);
        sqlite3_reset(db->stmt[SQLST_ROLLBACK_TO]);
        sqlite3_step(db->stmt[SQLST_RELEASE]);
        sqlite3_reset(db->stmt[SQLST_RELEASE]);
        return;
    }
    /* After some errors (SQLITE_FULL, IOERR) SQLite has already rolled back; only roll back
     * what is still open. */
    if (!sqlite3_get_autocommit(db->db)) {
        sqlite3_step(db->stmt[SQLST_ROLLBACK]);
        sqlite3_reset(db->stmt[SQLST_ROLLBACK]);
    }
}

int sqlst__bind_text(sqlite3_stmt *s, int idx, const char *text, size_t cap)
{
    return sqlite3_bind_text(s, idx, text, (int)strnlen(text, cap), SQLITE_STATIC);
}

void sqlst__col_text(sqlite3_stmt *s, int col, char *buf, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    size_t len = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
    if (len >= cap)
        len = cap - 1;
    if (len)
        memcpy(buf, t, len);
    buf[len] = '\0';
}
