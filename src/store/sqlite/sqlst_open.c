/*
 * SQLite backend: opening a connection (identify the file, refuse foreign or newer databases,
 * set the pragmas, run the migrations, prepare every statement), closing it, and the ops
 * table that store.c dispatches through.
 * Layer: store/sqlite. Thread: the thread that will use the connection; the process-wide
 * SQLite settings are applied once (uv_once) before the first connection.
 */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/migrate/sqlite_migrations.h"
#include "store/sqlite/sqlst_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/*
 * Page cache of the writer connection. Every insert descends the observation tree to its
 * patient's newest leaf; those leaves and the interior pages above them must stay cached or
 * inserts turn into reads. 256 MiB holds the benchmark's whole database and the hot path of
 * a far larger one; SQLite allocates it lazily, so a small database uses little. Other
 * connections keep SQLite's default (2 MiB).
 */
#define SQLST_WRITER_CACHE_KIB 262144
/* The writer connection never checkpoints: a checkpoint at the end of a commit (SQLite's
 * auto-checkpoint) stalls every acknowledgement behind it for as long as it takes to copy and
 * fsync the database file (up to a second with a large WAL). The writer's checkpointer
 * thread does it instead, on its own connection, concurrently (store/writer.c). */
#define SQLST_WAL_AUTOCHECKPOINT 0
/* After a checkpoint, truncate the WAL file back to this size (bytes). */
#define SQLST_JOURNAL_SIZE_LIMIT (64 * 1024 * 1024)
/* The writer runs PRAGMA quick_check at open only on databases up to this size: it reads
 * every page (about 1 s per GiB here), so larger databases skip it and rely on SQLite's
 * page checks while reading; `store_integrity_check` remains available on demand. */
#define SQLST_QUICK_CHECK_MAX_BYTES (64 * 1024 * 1024)

const struct sqlst_sql sqlst__sql_open[] = {
    {SQLST_BEGIN, "BEGIN IMMEDIATE"},
    {SQLST_COMMIT, "COMMIT"},
    {SQLST_ROLLBACK, "ROLLBACK"},
    {SQLST_SAVEPOINT, "SAVEPOINT sqlst_call"},
    {SQLST_RELEASE, "RELEASE sqlst_call"},
    {SQLST_ROLLBACK_TO, "ROLLBACK TO sqlst_call"},
    {SQLST_USER_VERSION, "PRAGMA user_version"},
};
const size_t sqlst__n_sql_open = HX_ARRAY_LEN(sqlst__sql_open);

/* Runs a one-row integer query (a PRAGMA, a count) with a throwaway statement. */
static int query_int(struct sqlst *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sqlst__err(db, rc);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE)
        *out = 0;
    int ret = sqlst__err(db, rc);
    sqlite3_finalize(s);
    return ret;
}

/* Runs trusted constant SQL (pragmas built from integers, migration scripts). */
static int exec_sql(struct sqlst *db, const char *sql)
{
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
    return sqlst__err(db, rc);
}

/* Checks that path can be opened as asked and is an SQLite file (or absent/empty when
 * creating). Reads the 16-byte header itself so a foreign file is refused before SQLite
 * touches it. */
/* Connections open in this process. While there is one, check_file must not open() and
 * close() the database file itself: closing any descriptor of a file drops every POSIX lock
 * the process holds on it (fcntl semantics), so another process (a CLI command) closing its
 * own connection could then take the exclusive lock, checkpoint and delete the WAL and -shm
 * under our open connections (seen as "disk I/O error", errno ENOENT, in the registry
 * refresh). SQLite's own first read reports a non-database file just as well. */
static atomic_int n_open;

static int check_file(const char *path, unsigned flags, char *err, size_t err_len)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        int e = errno;
        if (e == ENOENT && (flags & STORE_OPEN_CREATE) && !(flags & STORE_OPEN_READONLY))
            return 0;
        if (e == ENOENT) {
            snprintf(err, err_len, "no database at %s; run 'medhub init' first", path);
            return -ENOENT;
        }
        snprintf(err, err_len, "cannot access %s: %s", path, hx_strerror(-e));
        return -e;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, err_len, "%s is a directory, not a medhub database", path);
        return -EISDIR;
    }
    if (sb.st_size == 0)
        return 0; /* an empty file is an empty database: migrated like a new one */
    if (atomic_load(&n_open) > 0)
        return 0; /* see n_open; identify() reports SQLITE_NOTADB */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_len, "cannot read %s: %s", path, hx_strerror(-e));
        return -e;
    }
    char head[16];
    ssize_t got = read(fd, head, sizeof(head));
    close(fd);
    if (got != (ssize_t)sizeof(head) || memcmp(head, "SQLite format 3", 16) != 0) {
        snprintf(err, err_len, "%s is not a medhub database (not an SQLite file)", path);
        return HX_ECORRUPT;
    }
    return 0;
}

/* A read-write connection needs to write the file and create -wal/-shm beside it. */
static int check_writable(struct sqlst *db, char *err, size_t err_len)
{
    char dir[CFG_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", db->path);
    const char *d = dirname(dir);
    if (sqlite3_db_readonly(db->db, "main") == 1) {
        snprintf(err, err_len, "%s is read-only", db->path);
        return HX_EREADONLY;
    }
    if (access(d, W_OK) != 0) {
        snprintf(err, err_len, "directory %s is not writable (needed for the WAL)", d);
        return HX_EREADONLY;
    }
    return 0;
}

/* Reads application_id, user_version and the table count, and refuses foreign databases
 * and newer schemas. Only reads: a refused file is left byte-for-byte unchanged. */
static int identify(struct sqlst *db, int64_t *version, char *err, size_t err_len)
{
    int64_t app_id = 0, n_tables = 0;
    int rc = query_int(db, "PRAGMA application_id", &app_id);
    if (rc == 0)
        rc = query_int(db, "PRAGMA user_version", version);
    if (rc == 0)
        rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &n_tables);
    if (rc == HX_ECORRUPT && sqlite3_extended_errcode(db->db) == SQLITE_NOTADB) {
        snprintf(err, err_len, "%s is not a medhub database (not an SQLite file)", db->path);
        return rc;
    }
    if (rc < 0) {
        /* A full disk shows up here too (the -shm file cannot grow): say so plainly. */
        snprintf(err, err_len, "cannot read %s: %s", db->path,
                 rc == HX_EFULL ? hx_strerror(rc) : sqlite3_errmsg(db->db));
        return rc;
    }
    if ((app_id != 0 && app_id != STORE_SQLITE_APPLICATION_ID) || (app_id == 0 && n_tables)) {
        snprintf(err, err_len, "%s is not a medhub database", db->path);
        return HX_ECORRUPT;
    }
    if (*version > STORE_SCHEMA_VERSION) {
        snprintf(err, err_len,
                 "database schema version %lld is newer than this medhub (knows %d); "
                 "upgrade medhub",
                 (long long)*version, STORE_SCHEMA_VERSION);
        return HX_ESCHEMA;
    }
    return 0;
}

/*
 * Durability (see docs/internals/store.md). In WAL mode:
 *   synchronous=FULL   fsyncs the WAL at every commit: a committed transaction survives a
 *                      power loss or kernel crash.
 *   synchronous=NORMAL fsyncs only at checkpoints: a committed transaction survives a crash
 *                      of the process, but the last commits may be lost on power loss
 *                      (the database stays consistent either way).
 * Only the writer connection follows storage.sync; CLI connections write rarely and always
 * use FULL.
 */
static int set_pragmas(struct sqlst *db, const struct cfg_store *cfg, char *err, size_t err_len)
{
    bool writer = db->flags & STORE_OPEN_WRITER;
    char sql[256];
    int rc;

    if (db->flags & STORE_OPEN_READONLY)
        return exec_sql(db, "PRAGMA query_only = ON");

    /* journal_mode returns the resulting mode as a row: check it really is WAL. */
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(db->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(s, 0);
        rc = mode && strcmp((const char *)mode, "wal") == 0 ? SQLITE_OK : SQLITE_CANTOPEN;
    }
    int ret = sqlst__err(db, rc);
    sqlite3_finalize(s);
    if (ret < 0) {
        snprintf(err, err_len, "cannot switch %s to WAL mode: %s", db->path,
                 sqlite3_errmsg(db->db));
        return ret;
    }
    const char *sync = writer && cfg->sync == CFG_SYNC_NORMAL ? "NORMAL" : "FULL";
    snprintf(sql, sizeof(sql),
             "PRAGMA synchronous = %s; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
             "PRAGMA journal_size_limit = %d;",
             sync, SQLST_JOURNAL_SIZE_LIMIT);
    rc = exec_sql(db, sql);
    if (rc == 0 && writer) {
        snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d; PRAGMA wal_autocheckpoint = %d;",
                 SQLST_WRITER_CACHE_KIB, SQLST_WAL_AUTOCHECKPOINT);
        rc = exec_sql(db, sql);
    }
    if (rc < 0)
        snprintf(err, err_len, "cannot configure %s: %s", db->path, sqlite3_errmsg(db->db));
    return rc;
}

/* Applies every migration above version, each in its own IMMEDIATE transaction. The version
 * is re-read inside the transaction: another process may have migrated meanwhile. */
static int migrate(struct sqlst *db, int64_t version, char *err, size_t err_len)
{
    for (size_t i = 0; i < store_sqlite_n_migrations; i++) {
        const struct store_migration *m = &store_sqlite_migrations[i];
        if (m->version <= version)
            continue;
        int rc = exec_sql(db, "BEGIN IMMEDIATE");
        int64_t now = 0;
        if (rc == 0)
            rc = query_int(db, "PRAGMA user_version", &now);
        if (rc == 0 && now >= m->version) {
            rc = exec_sql(db, "COMMIT");
            if (rc < 0)
                goto fail;
            continue;
        }
        if (rc == 0)
            rc = exec_sql(db, m->sql);
        if (rc == 0) {
            char sql[64];
            snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", m->version);
            rc = exec_sql(db, sql);
        }
        if (rc == 0)
            rc = exec_sql(db, "COMMIT");
        if (rc < 0)
            goto fail;
        log_info(NULL, "store", "database migrated", "version=%d from=%lld desc=\"%s\"", m->version,
                 (long long)version, m->description);
        continue;
    fail:
        snprintf(err, err_len, "%s: migration to schema version %d failed: %s", db->path,
                 m->version, sqlite3_errmsg(db->db));
        if (!sqlite3_get_autocommit(db->db))
            sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return 0;
}

/* quick_check on small databases at writer start (see SQLST_QUICK_CHECK_MAX_BYTES). */
static int maybe_quick_check(struct sqlst *db, char *err, size_t err_len)
{
    int64_t pages = 0, page_size = 0;
    int rc = query_int(db, "PRAGMA page_count", &pages);
    if (rc == 0)
        rc = query_int(db, "PRAGMA page_size", &page_size);
    if (rc < 0)
        return rc;
    if (pages * page_size > SQLST_QUICK_CHECK_MAX_BYTES) {
        log_info(NULL, "store", "skipping quick_check on a large database", "bytes=%lld",
                 (long long)(pages * page_size));
        return 0;
    }
    char msg[256];
    rc = store_integrity_check(&db->base, true, msg, sizeof(msg));
    if (rc == HX_ECORRUPT)
        snprintf(err, err_len, "%s is damaged: %s", db->path, msg);
    else if (rc < 0)
        snprintf(err, err_len, "cannot check %s: %s", db->path, hx_strerror(rc));
    return rc;
}

static int prepare_all(struct sqlst *db, char *err, size_t err_len)
{
    static const struct {
        const struct sqlst_sql *sql;
        const size_t *n;
    } groups[] = {
        {sqlst__sql_open, &sqlst__n_sql_open},       /* transactions, user_version */
        {sqlst__sql_patient, &sqlst__n_sql_patient}, /* patients */
        {sqlst__sql_device, &sqlst__n_sql_device},   /* devices, assignments */
        {sqlst__sql_command, &sqlst__n_sql_command}, /* commands to devices */
        {sqlst__sql_webhook, &sqlst__n_sql_webhook}, /* webhooks and their deliveries */
        {sqlst__sql_alert, &sqlst__n_sql_alert},     /* alerts, actions, rule settings */
        {sqlst__sql_obs, &sqlst__n_sql_obs},         /* observations */
        {sqlst__sql_event, &sqlst__n_sql_event},     /* device events */
        {sqlst__sql_audit, &sqlst__n_sql_audit},     /* the audit trail */
        {sqlst__sql_user, &sqlst__n_sql_user},       /* users, recovery codes, break-glass */
        {sqlst__sql_session, &sqlst__n_sql_session}, /* sessions, tickets, tokens, throttle */
    };
    for (size_t g = 0; g < HX_ARRAY_LEN(groups); g++) {
        for (size_t i = 0; i < *groups[g].n; i++) {
            const struct sqlst_sql *q = &groups[g].sql[i];
            assert(!db->stmt[q->id]);
            int rc = sqlite3_prepare_v3(db->db, q->text, -1, SQLITE_PREPARE_PERSISTENT,
                                        &db->stmt[q->id], NULL);
            if (rc != SQLITE_OK) {
                snprintf(err, err_len, "%s: cannot prepare statement %d: %s", db->path, (int)q->id,
                         sqlite3_errmsg(db->db));
                return sqlst__err(db, rc);
            }
        }
    }
    for (int i = 0; i < SQLST__COUNT; i++)
        assert(db->stmt[i]);
    return 0;
}

static void sqlst_close(struct store *st)
{
    struct sqlst *db = sqlst__from(st);
    for (int i = 0; i < SQLST__COUNT; i++)
        sqlite3_finalize(db->stmt[i]);
    sqlst__dyn_release(db);
    free(db->sort);
    free(db->latest_tab);
    free(db->latest_used);
    /* The last connection to close checkpoints and removes the WAL. */
    if (db->db && sqlite3_close(db->db) != SQLITE_OK)
        log_warn(NULL, "store", "closing database failed", "detail=\"%s\"", sqlite3_errmsg(db->db));
    if (db->counted)
        atomic_fetch_sub(&n_open, 1);
    free(db);
}

/* Process-wide SQLite settings, applied once before the library initialises. */
static void global_init(void)
{
    /* Without memory statistics sqlite3_malloc takes no global mutex: the writer allocates
     * pages at a high rate. Fails harmlessly (SQLITE_MISUSE) if something in the process
     * already initialised SQLite. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

static int sqlst_open(struct store **out, const struct cfg_store *cfg, unsigned flags, char *err,
                      size_t err_len)
{
    static uv_once_t once = UV_ONCE_INIT;
    uv_once(&once, global_init);

    bool ro = flags & STORE_OPEN_READONLY;
    int rc = check_file(cfg->path, flags, err, err_len);
    if (rc < 0)
        return rc;

    struct sqlst *db = hx_xcalloc(1, sizeof(*db));
    db->base.ops = &sqlst_ops;
    db->flags = flags;
    snprintf(db->path, sizeof(db->path), "%s", cfg->path);

    int oflags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (ro)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | (flags & STORE_OPEN_CREATE ? SQLITE_OPEN_CREATE : 0);
    int src = sqlite3_open_v2(db->path, &db->db, oflags, NULL);
    atomic_fetch_add(&n_open, 1);
    db->counted = true;
    if (src != SQLITE_OK) {
        rc = sqlst__err(db, src);
        snprintf(err, err_len, "cannot open %s: %s", db->path,
                 db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(src));
        goto out_close;
    }
    /* Before the first read: another process may be mid-commit or recovering the WAL. */
    sqlite3_busy_timeout(db->db, (int)cfg->busy_timeout_ms);
    if (!ro && (rc = check_writable(db, err, err_len)) < 0)
        goto out_close;

    int64_t version = 0;
    if ((rc = identify(db, &version, err, err_len)) < 0)
        goto out_close;
    if (ro && version < STORE_SCHEMA_VERSION) {
        snprintf(err, err_len,
                 "database schema version %lld is older than this medhub (knows %d); open it "
                 "read-write once (medhub serve or medhub init) to migrate it",
                 (long long)version, STORE_SCHEMA_VERSION);
        rc = HX_ESCHEMA;
        goto out_close;
    }
    if ((rc = set_pragmas(db, cfg, err, err_len)) < 0)
        goto out_close;
    if (!ro && version < STORE_SCHEMA_VERSION && (rc = migrate(db, version, err, err_len)) < 0)
        goto out_close;
    if ((rc = prepare_all(db, err, err_len)) < 0)
        goto out_close;
    if ((flags & STORE_OPEN_WRITER) && (rc = maybe_quick_check(db, err, err_len)) < 0)
        goto out_close;
    *out = &db->base;
    return 0;

out_close:
    if (rc == HX_EFULL && (!err_len || !err[0]))
        snprintf(err, err_len, "%s: disk full or file size limit reached", db->path);
    sqlst_close(&db->base);
    return rc;
}

static int sqlst_schema_version(struct store *st, int *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_USER_VERSION];
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

static int sqlst_integrity_check(struct store *st, bool quick, char *msg, size_t msg_len)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = NULL;
    if (msg_len)
        msg[0] = '\0';
    int rc = sqlite3_prepare_v2(
        db->db, quick ? "PRAGMA quick_check(1)" : "PRAGMA integrity_check(1)", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(s, 0);
        if (!res || strcmp(res, "ok") != 0) {
            if (msg_len)
                snprintf(msg, msg_len, "%s", res ? res : "(no result)");
            ret = HX_ECORRUPT;
        }
    } else {
        ret = sqlst__err(db, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
        if (msg_len)
            snprintf(msg, msg_len, "%s", sqlite3_errmsg(db->db));
    }
    sqlite3_finalize(s);
    return ret;
}

static const char *sqlst_engine_version(void)
{
    return sqlite3_libversion(); /* the library actually loaded, not the header's */
}

const struct store_ops sqlst_ops = {
    .name = "sqlite",
    .engine_version = sqlst_engine_version,
    .open = sqlst_open,
    .close = sqlst_close,
    .schema_version = sqlst_schema_version,
    .integrity_check = sqlst_integrity_check,
    .patient_add = sqlst__patient_add,
    .patient_get = sqlst__patient_get,
    .patient_get_by_mrn = sqlst__patient_get_by_mrn,
    .patient_list = sqlst__patient_list,
    .device_add = sqlst__device_add,
    .device_get = sqlst__device_get,
    .device_get_by_id = sqlst__device_get_by_id,
    .device_list = sqlst__device_list,
    .device_set_status = sqlst__device_set_status,
    .device_update_presence = sqlst__device_update_presence,
    .checkpoint = sqlst__checkpoint,
    .set_sync = sqlst__set_sync,
    .begin = sqlst__txn_begin,
    .commit = sqlst__txn_commit,
    .rollback = sqlst__txn_rollback,
    .in_transaction = sqlst__in_transaction,
    .audit_append = sqlst__audit_append,
    .audit_head = sqlst__audit_head,
    .audit_last = sqlst__audit_last,
    .audit_scan = sqlst__audit_scan,
    .alert_save_batch = sqlst__alert_save_batch,
    .alert_get = sqlst__alert_get,
    .alert_list = sqlst__alert_list,
    .alert_transitions = sqlst__alert_transitions,
    .alert_max_id = sqlst__alert_max_id,
    .alert_action_add = sqlst__alert_action_add,
    .alert_action_get = sqlst__alert_action_get,
    .alert_action_poll = sqlst__alert_action_poll,
    .alert_action_done = sqlst__alert_action_done,
    .rule_setting_set = sqlst__rule_setting_set,
    .rule_setting_list = sqlst__rule_setting_list,
    .rule_settings_version = sqlst__rule_settings_version,
    .command_add = sqlst__command_add,
    .command_get = sqlst__command_get,
    .command_poll = sqlst__command_poll,
    .command_set_state = sqlst__command_set_state,
    .command_list = sqlst__command_list,
    .webhook_add = sqlst__webhook_add,
    .webhook_get = sqlst__webhook_get,
    .webhook_list = sqlst__webhook_list,
    .webhook_remove = sqlst__webhook_remove,
    .delivery_add = sqlst__delivery_add,
    .delivery_claim = sqlst__delivery_claim,
    .delivery_set_result = sqlst__delivery_set_result,
    .delivery_get = sqlst__delivery_get,
    .delivery_list = sqlst__delivery_list,
    .delivery_retry = sqlst__delivery_retry,
    .delivery_count = sqlst__delivery_count,
    .device_assign = sqlst__device_assign,
    .device_unassign = sqlst__device_unassign,
    .device_patient_at = sqlst__device_patient_at,
    .assignment_list = sqlst__assignment_list,
    .obs_put_batch = sqlst__obs_put_batch,
    .obs_latest = sqlst__obs_latest,
    .obs_range = sqlst__obs_range,
    .obs_downsample = sqlst__obs_downsample,
    .obs_count = sqlst__obs_count,
    .event_put_batch = sqlst__event_put_batch,
    .event_list = sqlst__event_list,
    .patient_search = sqlst__patient_search,
    .patient_overview = sqlst__patient_overview,
    .patient_count = sqlst__patient_count,
    .device_search = sqlst__device_search,
    .device_count = sqlst__device_count,
    .obs_search = sqlst__obs_search,
    .obs_search_count = sqlst__obs_search_count,
    .alert_search = sqlst__alert_search,
    .alert_count = sqlst__alert_count,
    .auth = &sqlst__auth_ops,
};

const struct store_auth_ops sqlst__auth_ops = {
    .user_add = sqlst__user_add,
    .user_get = sqlst__user_get,
    .user_get_by_id = sqlst__user_get_by_id,
    .user_list = sqlst__user_list,
    .user_update = sqlst__user_update,
    .user_use_mfa_step = sqlst__user_use_mfa_step,
    .user_count_role = sqlst__user_count_role,
    .user_ward_add = sqlst__user_ward_add,
    .user_ward_remove = sqlst__user_ward_remove,
    .user_ward_list = sqlst__user_ward_list,
    .user_patient_add = sqlst__user_patient_add,
    .user_patient_remove = sqlst__user_patient_remove,
    .user_patient_list = sqlst__user_patient_list,
    .user_has_patient = sqlst__user_has_patient,
    .recovery_set = sqlst__recovery_set,
    .recovery_use = sqlst__recovery_use,
    .recovery_count = sqlst__recovery_count,
    .session_add = sqlst__session_add,
    .session_get = sqlst__session_get,
    .session_touch = sqlst__session_touch,
    .session_delete = sqlst__session_delete,
    .session_delete_user = sqlst__session_delete_user,
    .session_list = sqlst__session_list,
    .session_purge = sqlst__session_purge,
    .ticket_add = sqlst__ticket_add,
    .ticket_get = sqlst__ticket_get,
    .ticket_attempt = sqlst__ticket_attempt,
    .ticket_delete = sqlst__ticket_delete,
    .apitoken_add = sqlst__apitoken_add,
    .apitoken_get = sqlst__apitoken_get,
    .apitoken_get_by_hash = sqlst__apitoken_get_by_hash,
    .apitoken_list = sqlst__apitoken_list,
    .apitoken_revoke = sqlst__apitoken_revoke,
    .apitoken_touch = sqlst__apitoken_touch,
    .throttle_get = sqlst__throttle_get,
    .throttle_put = sqlst__throttle_put,
    .throttle_delete = sqlst__throttle_delete,
    .break_glass_add = sqlst__break_glass_add,
    .break_glass_active = sqlst__break_glass_active,
    .break_glass_list = sqlst__break_glass_list,
};

int sqlst__checkpoint(struct store *st, bool truncate, int *log_pages, int *done_pages)
{
    struct sqlst *db = sqlst__from(st);
    int rc = sqlite3_wal_checkpoint_v2(
        db->db, NULL, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, log_pages,
        done_pages);
    return rc == SQLITE_BUSY ? 0 : sqlst__err(db, rc); /* busy: try again next time */
}

int sqlst__set_sync(struct store *st, bool full)
{
    struct sqlst *db = sqlst__from(st);
    return exec_sql(db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

/* store_begin: always a real BEGIN IMMEDIATE (a second one inside a transaction fails):
 * only the store calls themselves join an open transaction. */
int sqlst__txn_begin(struct store *st)
{
    struct sqlst *db = sqlst__from(st);
    db->nest = 0;
    return sqlst__exec(db, db->stmt[SQLST_BEGIN]);
}

int sqlst__txn_commit(struct store *st)
{
    struct sqlst *db = sqlst__from(st);
    db->nest = 0;
    return sqlst__commit(db);
}

void sqlst__txn_rollback(struct store *st)
{
    struct sqlst *db = sqlst__from(st);
    db->nest = 0; /* the whole transaction goes, savepoints included */
    if (!sqlite3_get_autocommit(db->db))
        sqlst__rollback(db);
}

bool sqlst__in_transaction(struct store *st)
{
    return !sqlite3_get_autocommit(sqlst__from(st)->db);
}
