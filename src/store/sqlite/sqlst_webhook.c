/*
 * SQLite backend: webhooks and their delivery queue. `medhub webhook` adds and removes
 * webhooks and queues test deliveries; the daemon's notify/webhook queues one delivery per
 * matching webhook for each notification, claims due rows (attempt number made durable before
 * the attempt) and records each outcome. The table is the queue: nothing about a delivery
 * lives only in memory. Layer: store/sqlite.
 * Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "store/sqlite/sqlst_int.h"

#include <stdio.h>
#include <string.h>

/* Rows a claim may also move to DEAD besides the ones it claims (expired while the daemon
 * was down, say); the rest wait for the next poll. */
#define SQLST_DLV_EXPIRE_BATCH 64

#define WH_COLS "id, name, url, secret, min_severity, enabled, created_us"
/* Delivery columns, then the webhook's name, url and secret (NULL when it was removed). */
#define DLV_COLS                                                                                   \
    "d.id, d.webhook_id, d.event, d.alert_id, d.payload, d.state, d.attempts, d.next_attempt_us,"  \
    " d.expires_us, d.last_error, d.created_us, d.updated_us"
#define DLV_FROM " FROM webhook_deliveries AS d LEFT JOIN webhooks AS w ON w.id = d.webhook_id"
#define DLV_INSERT                                                                                 \
    "INSERT INTO webhook_deliveries(webhook_id, event, alert_id, payload, state, attempts,"        \
    " next_attempt_us, expires_us, last_error, created_us, updated_us)"                            \
    " SELECT id, ?1, ?2, ?3, 0, 0, ?4, ?5, '', ?4, ?4 FROM webhooks"

const struct sqlst_sql sqlst__sql_webhook[] = {
    {SQLST_WH_ADD, "INSERT INTO webhooks(name, url, secret, min_severity, enabled, created_us)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {SQLST_WH_GET, "SELECT " WH_COLS " FROM webhooks WHERE name = ?1"},
    {SQLST_WH_LIST, "SELECT " WH_COLS " FROM webhooks ORDER BY name"},
    {SQLST_WH_DELETE, "DELETE FROM webhooks WHERE id = ?1"},
    {SQLST_DLV_KILL_WEBHOOK, "UPDATE webhook_deliveries SET state = 2, last_error = 'webhook"
                             " removed', updated_us = ?2 WHERE webhook_id = ?1 AND state = 0"},
    {SQLST_DLV_ADD_MATCHING, DLV_INSERT " WHERE enabled = 1 AND min_severity <= ?6 ORDER BY id"},
    {SQLST_DLV_ADD_ONE, DLV_INSERT " WHERE id = ?6"},
    /* Uses the (state, next_attempt_us) index; takes no write lock. */
    {SQLST_DLV_DUE_ANY,
     "SELECT 1 FROM webhook_deliveries WHERE state = 0 AND next_attempt_us <= ?1 LIMIT 1"},
    {SQLST_DLV_DUE, "SELECT " DLV_COLS ", w.name, w.url, w.secret" DLV_FROM
                    " WHERE d.state = 0 AND d.next_attempt_us <= ?1"
                    " ORDER BY d.next_attempt_us, d.id LIMIT ?2"},
    {SQLST_DLV_CLAIM, "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_us = ?2,"
                      " updated_us = ?3 WHERE id = ?1 AND state = 0"},
    {SQLST_DLV_KILL, "UPDATE webhook_deliveries SET state = 2, last_error = ?2, updated_us = ?3"
                     " WHERE id = ?1 AND state = 0"},
    {SQLST_DLV_RESULT,
     "UPDATE webhook_deliveries SET state = ?3, next_attempt_us = ?4, last_error = ?5,"
     " updated_us = ?6 WHERE id = ?1 AND attempts = ?2 AND state = 0"},
    {SQLST_DLV_GET, "SELECT " DLV_COLS ", w.name, '', ''" DLV_FROM " WHERE d.id = ?1"},
    {SQLST_DLV_LIST_ALL,
     "SELECT " DLV_COLS ", w.name, '', ''" DLV_FROM " ORDER BY d.id DESC LIMIT ?1"},
    {SQLST_DLV_LIST_STATE, "SELECT " DLV_COLS ", w.name, '', ''" DLV_FROM
                           " WHERE d.state = ?2 ORDER BY d.id DESC LIMIT ?1"},
    {SQLST_DLV_RETRY,
     "UPDATE webhook_deliveries SET state = 0, next_attempt_us = ?2, expires_us = ?3,"
     " updated_us = ?2 WHERE id = ?1 AND state = 2"
     " AND EXISTS (SELECT 1 FROM webhooks AS w WHERE w.id = webhook_deliveries.webhook_id)"},
    {SQLST_DLV_COUNT, "SELECT count(*) FROM webhook_deliveries WHERE state = ?1"},
};
const size_t sqlst__n_sql_webhook = HX_ARRAY_LEN(sqlst__sql_webhook);

/* ---- Webhooks --------------------------------------------------------------------------- */

static void read_webhook(sqlite3_stmt *s, struct store_webhook *w)
{
    memset(w, 0, sizeof(*w));
    w->id = sqlite3_column_int64(s, 0);
    sqlst__col_text(s, 1, w->name, sizeof(w->name));
    sqlst__col_text(s, 2, w->url, sizeof(w->url));
    sqlst__col_text(s, 3, w->secret, sizeof(w->secret));
    w->min_severity = sqlite3_column_int(s, 4);
    w->enabled = sqlite3_column_int(s, 5) != 0;
    w->created_us = sqlite3_column_int64(s, 6);
}

int sqlst__webhook_add(struct store *st, struct store_webhook *w)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_WH_ADD];
    int64_t now = hx_time_now_us();
    sqlst__bind_text(s, 1, w->name, sizeof(w->name));
    sqlst__bind_text(s, 2, w->url, sizeof(w->url));
    sqlst__bind_text(s, 3, w->secret, sizeof(w->secret));
    sqlite3_bind_int(s, 4, w->min_severity);
    sqlite3_bind_int(s, 5, w->enabled ? 1 : 0);
    sqlite3_bind_int64(s, 6, now);
    int rc = sqlst__exec(db, s);
    if (rc == 0) {
        w->id = sqlite3_last_insert_rowid(db->db);
        w->created_us = now;
    }
    return rc;
}

int sqlst__webhook_get(struct store *st, const char *name, struct store_webhook *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_WH_GET];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int ret;
    if (rc == SQLITE_ROW) {
        read_webhook(s, out);
        ret = 0;
    } else {
        ret = rc == SQLITE_DONE ? HX_ENOTFOUND : sqlst__err(db, rc);
    }
    sqlite3_reset(s);
    return ret;
}

int sqlst__webhook_list(struct store *st, store_webhook_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_WH_LIST];
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_webhook w;
        read_webhook(s, &w);
        if ((ret = fn(arg, &w)) != 0)
            break;
    }
    if (ret == 0)
        ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__webhook_remove(struct store *st, const char *name, int64_t now_us, size_t *n_dead)
{
    struct sqlst *db = sqlst__from(st);
    struct store_webhook w;
    int rc = sqlst__begin(db);
    if (rc < 0)
        return rc;
    if ((rc = sqlst__webhook_get(st, name, &w)) < 0)
        goto out_rollback;
    sqlite3_stmt *s = db->stmt[SQLST_DLV_KILL_WEBHOOK];
    sqlite3_bind_int64(s, 1, w.id);
    sqlite3_bind_int64(s, 2, now_us);
    if ((rc = sqlst__exec(db, s)) < 0)
        goto out_rollback;
    size_t dead = (size_t)sqlite3_changes(db->db);
    s = db->stmt[SQLST_WH_DELETE];
    sqlite3_bind_int64(s, 1, w.id);
    if ((rc = sqlst__exec(db, s)) < 0)
        goto out_rollback;
    if ((rc = sqlst__commit(db)) < 0)
        return rc;
    if (n_dead)
        *n_dead = dead;
    memset(w.secret, 0, sizeof(w.secret));
    return 0;

out_rollback:
    sqlst__rollback(db);
    memset(w.secret, 0, sizeof(w.secret));
    return rc;
}

/* ---- Deliveries ------------------------------------------------------------------------- */

static const char *col_str(sqlite3_stmt *s, int col)
{
    const char *t = (const char *)sqlite3_column_text(s, col);
    return t ? t : "";
}

/* Reads the current row of a DLV_COLS + name, url, secret statement; strings are lent until
 * the statement steps or resets. */
static void read_delivery(sqlite3_stmt *s, struct store_delivery *d)
{
    d->id = sqlite3_column_int64(s, 0);
    d->webhook_id = sqlite3_column_int64(s, 1);
    d->event = col_str(s, 2);
    d->alert_id = sqlite3_column_int64(s, 3);
    d->payload = col_str(s, 4);
    d->payload_len = (size_t)sqlite3_column_bytes(s, 4);
    d->state = (enum store_delivery_state)sqlite3_column_int(s, 5);
    d->attempts = (uint32_t)sqlite3_column_int64(s, 6);
    d->next_attempt_us = sqlite3_column_int64(s, 7);
    d->expires_us = sqlite3_column_int64(s, 8);
    d->last_error = col_str(s, 9);
    d->created_us = sqlite3_column_int64(s, 10);
    d->updated_us = sqlite3_column_int64(s, 11);
    d->webhook = col_str(s, 12);
    d->url = col_str(s, 13);
    d->secret = col_str(s, 14);
}

static int each_delivery(struct sqlst *db, sqlite3_stmt *s, store_delivery_fn *fn, void *arg,
                         int *rows)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_delivery d;
        read_delivery(s, &d);
        if (rows)
            (*rows)++;
        if ((ret = fn(arg, &d)) != 0)
            break;
    }
    if (ret == 0)
        ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__delivery_add(struct store *st, const struct store_delivery_new *n, size_t *n_added,
                        int64_t *last_id)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[n->webhook_id ? SQLST_DLV_ADD_ONE : SQLST_DLV_ADD_MATCHING];
    sqlite3_bind_text(s, 1, n->event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, n->alert_id);
    sqlite3_bind_text(s, 3, n->payload, (int)n->payload_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, n->now_us);
    sqlite3_bind_int64(s, 5, n->expires_us);
    if (n->webhook_id)
        sqlite3_bind_int64(s, 6, n->webhook_id);
    else
        sqlite3_bind_int(s, 6, n->severity);
    int rc = sqlst__exec(db, s);
    if (rc < 0)
        return rc;
    size_t added = (size_t)sqlite3_changes(db->db);
    if (n->webhook_id && added == 0)
        return HX_ENOTFOUND;
    if (n_added)
        *n_added = added;
    if (last_id && added)
        *last_id = sqlite3_last_insert_rowid(db->db);
    return 0;
}

/* A due row copied out of the statement (one allocation: the struct, then its strings). */
struct due {
    struct store_delivery d;
    size_t size;                        /* of the whole allocation */
    bool dead;                          /* moved to DEAD by this claim */
    char why[STORE_DELIVERY_ERROR_MAX]; /* the last_error a move to DEAD writes */
};

static char *put_str(char **p, const char *s, size_t len)
{
    char *at = *p;
    memcpy(at, s, len);
    at[len] = '\0';
    *p += len + 1;
    return at;
}

static struct due *copy_due(sqlite3_stmt *s)
{
    struct store_delivery d;
    read_delivery(s, &d);
    bool gone = sqlite3_column_type(s, 12) == SQLITE_NULL;
    const char *strs[] = {d.webhook, d.url, d.secret, d.event, d.payload, d.last_error};
    size_t lens[HX_ARRAY_LEN(strs)], total = 0;
    for (size_t i = 0; i < HX_ARRAY_LEN(strs); i++) {
        lens[i] = i == 4 ? d.payload_len : strlen(strs[i]);
        total += lens[i] + 1;
    }
    size_t size = sizeof(struct due) + total;
    struct due *u = hx_xmalloc(size);
    char *p = (char *)(u + 1);
    u->d = d;
    u->size = size;
    u->d.webhook = put_str(&p, strs[0], lens[0]);
    u->d.url = put_str(&p, strs[1], lens[1]);
    u->d.secret = put_str(&p, strs[2], lens[2]);
    u->d.event = put_str(&p, strs[3], lens[3]);
    u->d.payload = put_str(&p, strs[4], lens[4]);
    u->d.last_error = put_str(&p, strs[5], lens[5]);
    u->dead = gone; /* decided here for a removed webhook; expiry is decided by the caller */
    return u;
}

static void free_one(struct due **u)
{
    if (!*u)
        return;
    memset(*u, 0, (*u)->size); /* the copy holds the webhook secret */
    HX_FREE(*u);
}

static void free_due(struct due **rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_one(&rows[i]);
    free(rows);
}

int sqlst__delivery_claim(struct store *st, int64_t now_us, int64_t lease_until_us, size_t limit,
                          store_delivery_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);

    /* The common case, nothing due, without taking the write lock. */
    sqlite3_stmt *s = db->stmt[SQLST_DLV_DUE_ANY];
    sqlite3_bind_int64(s, 1, now_us);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return sqlst__err(db, rc);

    if ((rc = sqlst__begin(db)) < 0)
        return rc;
    /* Copy the due rows first: updating next_attempt_us while the index scan that selects on
     * it is still running could revisit a row. */
    size_t want = limit + SQLST_DLV_EXPIRE_BATCH, n = 0;
    struct due **rows = hx_xcalloc(want, sizeof(*rows));
    s = db->stmt[SQLST_DLV_DUE];
    sqlite3_bind_int64(s, 1, now_us);
    sqlite3_bind_int64(s, 2, (int64_t)want);
    while (n < want && (rc = sqlite3_step(s)) == SQLITE_ROW)
        rows[n++] = copy_due(s);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlst__err(db, rc);
    sqlite3_reset(s);
    if (rc < 0)
        goto out_rollback;

    size_t n_claimed = 0;
    for (size_t i = 0; i < n; i++) {
        struct store_delivery *d = &rows[i]->d;
        if (!rows[i]->dead && d->expires_us <= now_us)
            rows[i]->dead = true;
        if (rows[i]->dead) {
            char *why = rows[i]->why;
            if (!*d->webhook)
                snprintf(why, STORE_DELIVERY_ERROR_MAX, "webhook removed");
            else if (*d->last_error)
                snprintf(why, STORE_DELIVERY_ERROR_MAX, "expired after %u attempts: %s",
                         d->attempts, d->last_error);
            else
                snprintf(why, STORE_DELIVERY_ERROR_MAX, "expired after %u attempts", d->attempts);
            s = db->stmt[SQLST_DLV_KILL];
            sqlite3_bind_int64(s, 1, d->id);
            sqlite3_bind_text(s, 2, why, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 3, now_us);
            if ((rc = sqlst__exec(db, s)) < 0)
                goto out_rollback;
            d->last_error = why;
            d->state = STORE_DELIVERY_DEAD;
            d->updated_us = now_us;
            continue;
        }
        if (n_claimed == limit) {
            free_one(&rows[i]); /* due, but no slot this time */
            continue;
        }
        s = db->stmt[SQLST_DLV_CLAIM];
        sqlite3_bind_int64(s, 1, d->id);
        sqlite3_bind_int64(s, 2, lease_until_us);
        sqlite3_bind_int64(s, 3, now_us);
        if ((rc = sqlst__exec(db, s)) < 0)
            goto out_rollback;
        d->attempts++;
        d->next_attempt_us = lease_until_us;
        d->updated_us = now_us;
        n_claimed++;
    }
    if ((rc = sqlst__commit(db)) < 0)
        goto out_free;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (rows[i])
            rc = fn(arg, &rows[i]->d);
    goto out_free;

out_rollback:
    sqlst__rollback(db);
out_free:
    free_due(rows, n);
    return rc;
}

int sqlst__delivery_set_result(struct store *st, int64_t id, uint32_t attempt,
                               enum store_delivery_state state, int64_t next_attempt_us,
                               const char *error, int64_t now_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DLV_RESULT];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, attempt);
    sqlite3_bind_int(s, 3, (int)state);
    sqlite3_bind_int64(s, 4, next_attempt_us);
    sqlst__bind_text(s, 5, error ? error : "", STORE_DELIVERY_ERROR_MAX - 1);
    sqlite3_bind_int64(s, 6, now_us);
    int rc = sqlst__exec(db, s);
    if (rc == 0 && sqlite3_changes(db->db) == 0)
        return HX_ENOTFOUND;
    return rc;
}

int sqlst__delivery_get(struct store *st, int64_t id, store_delivery_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DLV_GET];
    sqlite3_bind_int64(s, 1, id);
    int rows = 0;
    int rc = each_delivery(db, s, fn, arg, &rows);
    return rc == 0 && rows == 0 ? HX_ENOTFOUND : rc;
}

int sqlst__delivery_list(struct store *st, int state, size_t limit, store_delivery_fn *fn,
                         void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[state < 0 ? SQLST_DLV_LIST_ALL : SQLST_DLV_LIST_STATE];
    sqlite3_bind_int64(s, 1, limit ? (int64_t)limit : -1);
    if (state >= 0)
        sqlite3_bind_int(s, 2, state);
    return each_delivery(db, s, fn, arg, NULL);
}

int sqlst__delivery_retry(struct store *st, int64_t id, int64_t now_us, int64_t expires_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DLV_RETRY];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_us);
    sqlite3_bind_int64(s, 3, expires_us);
    int rc = sqlst__exec(db, s);
    if (rc == 0 && sqlite3_changes(db->db) == 0)
        return HX_ENOTFOUND;
    return rc;
}

int sqlst__delivery_count(struct store *st, enum store_delivery_state state, int64_t *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_DLV_COUNT];
    sqlite3_bind_int(s, 1, (int)state);
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}
