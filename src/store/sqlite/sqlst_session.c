/*
 * SQLite backend: sessions, pending logins (tickets), API tokens and login throttle records
 * (store_auth.h). Every token is looked up by its keyed hash; the clear token never reaches
 * this layer. Layer: store/sqlite.
 * Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "store/sqlite/sqlst_int.h"

#include <string.h>

#define SESSION_COLS                                                                               \
    "id, token_hash, user_id, created_us, last_seen_us, expires_us, address, user_agent"
#define TICKET_COLS "token_hash, user_id, kind, created_us, expires_us, attempts, address"
#define TOKEN_COLS                                                                                 \
    "id, name, token_hash, role, ward, scopes, expires_us, created_us, last_used_us, revoked_us"

const struct sqlst_sql sqlst__sql_session[] = {
    {SQLST_SESSION_ADD, "INSERT INTO sessions(token_hash, user_id, created_us, last_seen_us,"
                        " expires_us, address, user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {SQLST_SESSION_GET, "SELECT " SESSION_COLS " FROM sessions WHERE token_hash = ?1"},
    {SQLST_SESSION_TOUCH, "UPDATE sessions SET last_seen_us = max(last_seen_us, ?2) WHERE id = ?1"},
    {SQLST_SESSION_DELETE, "DELETE FROM sessions WHERE id = ?1 AND (?2 = 0 OR user_id = ?2)"},
    {SQLST_SESSION_DELETE_USER, "DELETE FROM sessions WHERE user_id = ?1 AND id != ?2"},
    {SQLST_SESSION_LIST,
     "SELECT " SESSION_COLS " FROM sessions WHERE user_id = ?1 ORDER BY created_us DESC, id DESC"},
    {SQLST_SESSION_PURGE, "DELETE FROM sessions WHERE expires_us <= ?1 OR last_seen_us <= ?2"},
    {SQLST_TICKET_PURGE, "DELETE FROM login_tickets WHERE expires_us <= ?1"},
    {SQLST_TICKET_ADD, "INSERT INTO login_tickets(" TICKET_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, 0,"
                       " ?6)"},
    {SQLST_TICKET_GET, "SELECT " TICKET_COLS " FROM login_tickets WHERE token_hash = ?1"},
    {SQLST_TICKET_ATTEMPT, "UPDATE login_tickets SET attempts = attempts + 1 WHERE token_hash = ?1"
                           " RETURNING attempts"},
    {SQLST_TICKET_DELETE, "DELETE FROM login_tickets WHERE token_hash = ?1"},
    {SQLST_TOKEN_ADD, "INSERT INTO api_tokens(name, token_hash, role, ward, scopes, expires_us,"
                      " created_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    {SQLST_TOKEN_GET, "SELECT " TOKEN_COLS " FROM api_tokens WHERE name = ?1"},
    {SQLST_TOKEN_GET_BY_HASH, "SELECT " TOKEN_COLS " FROM api_tokens WHERE token_hash = ?1"},
    {SQLST_TOKEN_LIST, "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY name"},
    {SQLST_TOKEN_REVOKE,
     "UPDATE api_tokens SET revoked_us = ?2 WHERE name = ?1 AND revoked_us = 0"},
    {SQLST_TOKEN_TOUCH,
     "UPDATE api_tokens SET last_used_us = ?2 WHERE id = ?1 AND last_used_us < ?2"},
    {SQLST_THROTTLE_GET, "SELECT failures, last_failure_us, next_allowed_us, locked_until_us"
                         " FROM login_throttle WHERE key = ?1"},
    {SQLST_THROTTLE_PUT, "INSERT OR REPLACE INTO login_throttle(key, failures, last_failure_us,"
                         " next_allowed_us, locked_until_us) VALUES (?1, ?2, ?3, ?4, ?5)"},
    {SQLST_THROTTLE_DELETE, "DELETE FROM login_throttle WHERE key = ?1"},
};
const size_t sqlst__n_sql_session = HX_ARRAY_LEN(sqlst__sql_session);

/* Steps a bound single-row lookup, calling read for the row. HX_ENOTFOUND without one. */
static int get_one(struct sqlst *db, sqlite3_stmt *s, void (*read)(sqlite3_stmt *s, void *out),
                   void *out)
{
    int rc = sqlite3_step(s);
    int ret;
    if (rc == SQLITE_ROW) {
        read(s, out);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? HX_ENOTFOUND : sqlst__err(db, rc);
    }
    sqlite3_reset(s);
    return ret;
}

/* Runs a bound UPDATE/DELETE; one that changed nothing is HX_ENOTFOUND. */
static int exec_changed(struct sqlst *db, sqlite3_stmt *s)
{
    int rc = sqlst__exec(db, s);
    if (rc == 0 && sqlite3_changes(db->db) == 0)
        rc = HX_ENOTFOUND;
    return rc;
}

/* ---- Sessions ----------------------------------------------------------------------------- */

static void read_session(sqlite3_stmt *s, void *out)
{
    struct store_session *x = out;
    memset(x, 0, sizeof(*x));
    x->id = sqlite3_column_int64(s, 0);
    sqlst__col_text(s, 1, x->token_hash, sizeof(x->token_hash));
    x->user_id = sqlite3_column_int64(s, 2);
    x->created_us = sqlite3_column_int64(s, 3);
    x->last_seen_us = sqlite3_column_int64(s, 4);
    x->expires_us = sqlite3_column_int64(s, 5);
    sqlst__col_text(s, 6, x->address, sizeof(x->address));
    sqlst__col_text(s, 7, x->user_agent, sizeof(x->user_agent));
}

int sqlst__session_add(struct store *st, struct store_session *x)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_SESSION_ADD];
    sqlst__bind_text(s, 1, x->token_hash, sizeof(x->token_hash));
    sqlite3_bind_int64(s, 2, x->user_id);
    sqlite3_bind_int64(s, 3, x->created_us);
    sqlite3_bind_int64(s, 4, x->last_seen_us);
    sqlite3_bind_int64(s, 5, x->expires_us);
    sqlst__bind_text(s, 6, x->address, sizeof(x->address));
    sqlst__bind_text(s, 7, x->user_agent, sizeof(x->user_agent));
    int rc = sqlst__exec(db, s);
    if (rc == 0)
        x->id = sqlite3_last_insert_rowid(db->db);
    return rc;
}

int sqlst__session_get(struct store *st, const char *token_hash, struct store_session *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_SESSION_GET];
    sqlst__bind_text(s, 1, token_hash, STORE_HASH_MAX);
    return get_one(db, s, read_session, out);
}

int sqlst__session_touch(struct store *st, int64_t id, int64_t now_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_SESSION_TOUCH];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_us);
    return exec_changed(db, s);
}

int sqlst__session_delete(struct store *st, int64_t id, int64_t user_id)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_SESSION_DELETE];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, user_id);
    return exec_changed(db, s);
}

int sqlst__session_delete_user(struct store *st, int64_t user_id, int64_t keep_id, size_t *n)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_SESSION_DELETE_USER];
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, keep_id);
    int rc = sqlst__exec(db, s);
    if (rc == 0 && n)
        *n = (size_t)sqlite3_changes(db->db);
    return rc;
}

struct session_each {
    store_session_fn *fn;
    void *arg;
};

static int session_row(sqlite3_stmt *s, void *arg)
{
    struct session_each *e = arg;
    struct store_session x;
    read_session(s, &x);
    return e->fn(e->arg, &x);
}

int sqlst__session_list(struct store *st, int64_t user_id, store_session_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_SESSION_LIST];
    sqlite3_bind_int64(s, 1, user_id);
    struct session_each e = {fn, arg};
    return sqlst__each(db, s, session_row, &e);
}

int sqlst__session_purge(struct store *st, int64_t now_us, int64_t idle_cutoff_us, size_t *n)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_SESSION_PURGE];
    sqlite3_bind_int64(s, 1, now_us);
    sqlite3_bind_int64(s, 2, idle_cutoff_us);
    int rc = sqlst__exec(db, s);
    size_t deleted = rc == 0 ? (size_t)sqlite3_changes(db->db) : 0;
    if (rc == 0) {
        s = db->stmt[SQLST_TICKET_PURGE];
        sqlite3_bind_int64(s, 1, now_us);
        rc = sqlst__exec(db, s);
    }
    if (rc == 0 && n)
        *n = deleted;
    return rc;
}

/* ---- Tickets ------------------------------------------------------------------------------ */

static void read_ticket(sqlite3_stmt *s, void *out)
{
    struct store_ticket *t = out;
    memset(t, 0, sizeof(*t));
    sqlst__col_text(s, 0, t->token_hash, sizeof(t->token_hash));
    t->user_id = sqlite3_column_int64(s, 1);
    t->kind = (enum store_ticket_kind)sqlite3_column_int(s, 2);
    t->created_us = sqlite3_column_int64(s, 3);
    t->expires_us = sqlite3_column_int64(s, 4);
    t->attempts = sqlite3_column_int(s, 5);
    sqlst__col_text(s, 6, t->address, sizeof(t->address));
}

int sqlst__ticket_add(struct store *st, const struct store_ticket *t)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TICKET_ADD];
    sqlst__bind_text(s, 1, t->token_hash, sizeof(t->token_hash));
    sqlite3_bind_int64(s, 2, t->user_id);
    sqlite3_bind_int(s, 3, (int)t->kind);
    sqlite3_bind_int64(s, 4, t->created_us);
    sqlite3_bind_int64(s, 5, t->expires_us);
    sqlst__bind_text(s, 6, t->address, sizeof(t->address));
    return sqlst__exec(db, s);
}

int sqlst__ticket_get(struct store *st, const char *token_hash, struct store_ticket *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TICKET_GET];
    sqlst__bind_text(s, 1, token_hash, STORE_HASH_MAX);
    return get_one(db, s, read_ticket, out);
}

static void read_int(sqlite3_stmt *s, void *out)
{
    *(int *)out = sqlite3_column_int(s, 0);
}

int sqlst__ticket_attempt(struct store *st, const char *token_hash, int *attempts)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TICKET_ATTEMPT];
    sqlst__bind_text(s, 1, token_hash, STORE_HASH_MAX);
    /* RETURNING: the row comes back before the statement completes; get_one resets it, which
     * finishes the update. */
    int n = 0;
    int rc = get_one(db, s, read_int, &n);
    if (rc == 0 && attempts)
        *attempts = n;
    return rc;
}

int sqlst__ticket_delete(struct store *st, const char *token_hash)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TICKET_DELETE];
    sqlst__bind_text(s, 1, token_hash, STORE_HASH_MAX);
    return exec_changed(db, s);
}

/* ---- API tokens --------------------------------------------------------------------------- */

static void read_token(sqlite3_stmt *s, void *out)
{
    struct store_apitoken *t = out;
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(s, 0);
    sqlst__col_text(s, 1, t->name, sizeof(t->name));
    sqlst__col_text(s, 2, t->token_hash, sizeof(t->token_hash));
    sqlst__col_text(s, 3, t->role, sizeof(t->role));
    sqlst__col_text(s, 4, t->ward, sizeof(t->ward));
    sqlst__col_text(s, 5, t->scopes, sizeof(t->scopes));
    t->expires_us = sqlite3_column_int64(s, 6);
    t->created_us = sqlite3_column_int64(s, 7);
    t->last_used_us = sqlite3_column_int64(s, 8);
    t->revoked_us = sqlite3_column_int64(s, 9);
}

int sqlst__apitoken_add(struct store *st, struct store_apitoken *t)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TOKEN_ADD];
    int64_t now = hx_time_now_us();
    sqlst__bind_text(s, 1, t->name, sizeof(t->name));
    sqlst__bind_text(s, 2, t->token_hash, sizeof(t->token_hash));
    sqlst__bind_text(s, 3, t->role, sizeof(t->role));
    sqlst__bind_text(s, 4, t->ward, sizeof(t->ward));
    sqlst__bind_text(s, 5, t->scopes, sizeof(t->scopes));
    sqlite3_bind_int64(s, 6, t->expires_us);
    sqlite3_bind_int64(s, 7, now);
    int rc = sqlst__exec(db, s);
    if (rc == 0) {
        t->id = sqlite3_last_insert_rowid(db->db);
        t->created_us = now;
    }
    return rc;
}

int sqlst__apitoken_get(struct store *st, const char *name, struct store_apitoken *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TOKEN_GET];
    sqlst__bind_text(s, 1, name, STORE_USER_NAME_MAX);
    return get_one(db, s, read_token, out);
}

int sqlst__apitoken_get_by_hash(struct store *st, const char *token_hash,
                                struct store_apitoken *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TOKEN_GET_BY_HASH];
    sqlst__bind_text(s, 1, token_hash, STORE_HASH_MAX);
    return get_one(db, s, read_token, out);
}

struct token_each {
    store_apitoken_fn *fn;
    void *arg;
};

static int token_row(sqlite3_stmt *s, void *arg)
{
    struct token_each *e = arg;
    struct store_apitoken t;
    read_token(s, &t);
    return e->fn(e->arg, &t);
}

int sqlst__apitoken_list(struct store *st, store_apitoken_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    struct token_each e = {fn, arg};
    return sqlst__each(db, db->stmt[SQLST_TOKEN_LIST], token_row, &e);
}

int sqlst__apitoken_revoke(struct store *st, const char *name, int64_t now_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TOKEN_REVOKE];
    sqlst__bind_text(s, 1, name, STORE_USER_NAME_MAX);
    sqlite3_bind_int64(s, 2, now_us);
    return exec_changed(db, s);
}

int sqlst__apitoken_touch(struct store *st, int64_t id, int64_t now_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_TOKEN_TOUCH];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_us);
    return sqlst__exec(db, s);
}

/* ---- Throttle ----------------------------------------------------------------------------- */

static void read_throttle(sqlite3_stmt *s, void *out)
{
    struct store_throttle *t = out;
    t->failures = sqlite3_column_int64(s, 0);
    t->last_failure_us = sqlite3_column_int64(s, 1);
    t->next_allowed_us = sqlite3_column_int64(s, 2);
    t->locked_until_us = sqlite3_column_int64(s, 3);
}

int sqlst__throttle_get(struct store *st, const char *key, struct store_throttle *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_THROTTLE_GET];
    sqlst__bind_text(s, 1, key, STORE_THROTTLE_KEY_MAX);
    memset(out, 0, sizeof(*out));
    return get_one(db, s, read_throttle, out);
}

int sqlst__throttle_put(struct store *st, const char *key, const struct store_throttle *t)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_THROTTLE_PUT];
    sqlst__bind_text(s, 1, key, STORE_THROTTLE_KEY_MAX);
    sqlite3_bind_int64(s, 2, t->failures);
    sqlite3_bind_int64(s, 3, t->last_failure_us);
    sqlite3_bind_int64(s, 4, t->next_allowed_us);
    sqlite3_bind_int64(s, 5, t->locked_until_us);
    return sqlst__exec(db, s);
}

int sqlst__throttle_delete(struct store *st, const char *key)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_THROTTLE_DELETE];
    sqlst__bind_text(s, 1, key, STORE_THROTTLE_KEY_MAX);
    return sqlst__exec(db, s);
}
