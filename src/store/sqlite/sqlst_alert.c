/*
 * SQLite backend: alert episodes and their transitions (written by the daemon's rules
 * service), the actions people ask for (written by the CLI, applied by the daemon), and the
 * rule settings. Layer: store/sqlite. Thread: whichever thread uses the connection.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "store/sqlite/sqlst_int.h"

#include <math.h>
#include <string.h>

#define ACTION_COLS "id, alert_id, action, who, note, created_us, applied_us, result"

const struct sqlst_sql sqlst__sql_alert[] = {
    {SQLST_ALERT_UPSERT, "INSERT OR REPLACE INTO alerts(" SQLST_ALERT_COLS
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                         " ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"},
    {SQLST_ALERT_TRANSITION,
     "INSERT INTO alert_events(alert_id, at_us, kind, who, severity, detail)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    {SQLST_ALERT_GET, "SELECT " SQLST_ALERT_COLS " FROM alerts WHERE id = ?1"},
    {SQLST_ALERT_LIST,
     "SELECT " SQLST_ALERT_COLS " FROM alerts WHERE (?1 = 0 OR ((1 << state) & ?1) != 0)"
     " AND (?2 = 0 OR patient_id = ?2) ORDER BY id DESC LIMIT ?3"},
    {SQLST_ALERT_TRANSITIONS, "SELECT alert_id, at_us, kind, who, severity, detail FROM"
                              " alert_events WHERE alert_id = ?1 ORDER BY at_us, rowid"},
    {SQLST_ALERT_MAX_ID, "SELECT coalesce(max(id), 0) FROM alerts"},
    {SQLST_ACTION_ADD, "INSERT INTO alert_actions(alert_id, action, who, note, created_us)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)"},
    {SQLST_ACTION_GET, "SELECT " ACTION_COLS " FROM alert_actions WHERE id = ?1"},
    {SQLST_ACTION_POLL, "SELECT " ACTION_COLS " FROM alert_actions WHERE id > ?1 AND"
                        " applied_us = 0 ORDER BY id"},
    {SQLST_ACTION_DONE, "UPDATE alert_actions SET applied_us = ?2, result = ?3 WHERE id = ?1"},
    {SQLST_SETTING_UPSERT,
     "INSERT INTO rule_settings(scope, scope_id, key, value, updated_us, updated_by)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(scope, scope_id, key) DO UPDATE SET"
     " value = excluded.value, updated_us = excluded.updated_us,"
     " updated_by = excluded.updated_by"},
    {SQLST_SETTING_DELETE,
     "DELETE FROM rule_settings WHERE scope = ?1 AND scope_id = ?2 AND key = ?3"},
    {SQLST_SETTING_LIST, "SELECT scope, scope_id, key, value, updated_us, updated_by FROM"
                         " rule_settings ORDER BY scope, scope_id, key"},
    {SQLST_SETTING_VERSION, "SELECT coalesce(max(updated_us), 0), count(*) FROM rule_settings"},
};
const size_t sqlst__n_sql_alert = sizeof(sqlst__sql_alert) / sizeof(sqlst__sql_alert[0]);

static const char *const event_kinds[] = {"raised", "updated", "escalated", "acknowledged",
                                          "resolved"};

static void bind_real(sqlite3_stmt *s, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_double(s, i, v);
}

static double col_real(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

static void bind_alert(sqlite3_stmt *s, const struct alert *a)
{
    sqlite3_bind_int64(s, 1, a->id);
    sqlite3_bind_int64(s, 2, a->patient_id);
    sqlite3_bind_int64(s, 3, a->device_id);
    sqlst__bind_text(s, 4, a->rule, sizeof(a->rule));
    sqlite3_bind_int(s, 5, a->cls);
    sqlite3_bind_int(s, 6, a->severity);
    sqlite3_bind_int(s, 7, a->state);
    sqlite3_bind_int(s, 8, a->code);
    sqlst__bind_text(s, 9, a->title, sizeof(a->title));
    sqlst__bind_text(s, 10, a->detail, sizeof(a->detail));
    bind_real(s, 11, a->first_value);
    bind_real(s, 12, a->worst_value);
    bind_real(s, 13, a->current_value);
    sqlite3_bind_int64(s, 14, a->count);
    sqlite3_bind_int64(s, 15, a->raised_us);
    sqlite3_bind_int64(s, 16, a->updated_us);
    sqlite3_bind_int64(s, 17, a->acked_us);
    sqlst__bind_text(s, 18, a->acked_by, sizeof(a->acked_by));
    sqlite3_bind_int64(s, 19, a->resolved_us);
    sqlst__bind_text(s, 20, a->resolved_by, sizeof(a->resolved_by));
    sqlst__bind_text(s, 21, a->note, sizeof(a->note));
    sqlite3_bind_int(s, 22, a->tier);
    sqlite3_bind_int64(s, 23, a->next_escalation_us);
}

void sqlst__read_alert(sqlite3_stmt *s, struct alert *a)
{
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(s, 0);
    a->patient_id = sqlite3_column_int64(s, 1);
    a->device_id = sqlite3_column_int64(s, 2);
    sqlst__col_text(s, 3, a->rule, sizeof(a->rule));
    a->cls = (uint8_t)sqlite3_column_int(s, 4);
    a->severity = (uint8_t)sqlite3_column_int(s, 5);
    a->state = (uint8_t)sqlite3_column_int(s, 6);
    a->code = (uint16_t)sqlite3_column_int(s, 7);
    sqlst__col_text(s, 8, a->title, sizeof(a->title));
    sqlst__col_text(s, 9, a->detail, sizeof(a->detail));
    a->first_value = col_real(s, 10);
    a->worst_value = col_real(s, 11);
    a->current_value = col_real(s, 12);
    a->count = (uint32_t)sqlite3_column_int64(s, 13);
    a->raised_us = sqlite3_column_int64(s, 14);
    a->updated_us = sqlite3_column_int64(s, 15);
    a->acked_us = sqlite3_column_int64(s, 16);
    sqlst__col_text(s, 17, a->acked_by, sizeof(a->acked_by));
    a->resolved_us = sqlite3_column_int64(s, 18);
    sqlst__col_text(s, 19, a->resolved_by, sizeof(a->resolved_by));
    sqlst__col_text(s, 20, a->note, sizeof(a->note));
    a->tier = (uint8_t)sqlite3_column_int(s, 21);
    a->next_escalation_us = sqlite3_column_int64(s, 22);
}

int sqlst__alert_save_batch(struct store *st, const struct alert *a,
                            const struct alert_transition *tr, size_t n)
{
    struct sqlst *db = sqlst__from(st);
    int rc = sqlst__begin(db);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *s = db->stmt[SQLST_ALERT_UPSERT];
        bind_alert(s, &a[i]);
        rc = sqlst__exec(db, s);
        if (rc < 0 || !tr)
            continue;
        s = db->stmt[SQLST_ALERT_TRANSITION];
        const struct alert_transition *t = &tr[i];
        sqlite3_bind_int64(s, 1, t->alert_id);
        sqlite3_bind_int64(s, 2, t->at_us);
        sqlite3_bind_text(s, 3, t->event <= ALERT_EV_RESOLVED ? event_kinds[t->event] : "?", -1,
                          SQLITE_STATIC);
        sqlst__bind_text(s, 4, t->who, sizeof(t->who));
        sqlite3_bind_int(s, 5, t->severity);
        sqlst__bind_text(s, 6, t->detail, sizeof(t->detail));
        rc = sqlst__exec(db, s);
    }
    if (rc < 0) {
        sqlst__rollback(db);
        return rc;
    }
    return sqlst__commit(db);
}

int sqlst__alert_get(struct store *st, int64_t id, struct alert *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ALERT_GET];
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? HX_ENOTFOUND : sqlst__err(db, rc);
    if (rc == SQLITE_ROW)
        sqlst__read_alert(s, out);
    sqlite3_reset(s);
    return ret;
}

/* Each caller's callback and its argument, for the row functions below. */
struct alert_cb {
    store_alert_fn *fn;
    void *arg;
};
struct transition_cb {
    store_transition_fn *fn;
    void *arg;
};
struct action_cb {
    store_action_fn *fn;
    void *arg;
};
struct setting_cb {
    store_setting_fn *fn;
    void *arg;
};

static int alert_row(sqlite3_stmt *s, void *arg)
{
    struct alert_cb *c = arg;
    struct alert a;
    sqlst__read_alert(s, &a);
    return c->fn(c->arg, &a);
}

int sqlst__alert_list(struct store *st, const struct store_alert_filter *f, store_alert_fn *fn,
                      void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ALERT_LIST];
    sqlite3_bind_int64(s, 1, f->states);
    sqlite3_bind_int64(s, 2, f->patient_id);
    sqlite3_bind_int64(s, 3, f->limit ? (int64_t)f->limit : -1);
    struct alert_cb c = {fn, arg};
    return sqlst__each(db, s, alert_row, &c);
}

static int transition_row(sqlite3_stmt *s, void *arg)
{
    struct transition_cb *c = arg;
    struct alert_transition t = {.alert_id = sqlite3_column_int64(s, 0),
                                 .at_us = sqlite3_column_int64(s, 1)};
    const char *kind = (const char *)sqlite3_column_text(s, 2);
    for (uint8_t k = 0; kind && k <= ALERT_EV_RESOLVED; k++)
        if (strcmp(kind, event_kinds[k]) == 0)
            t.event = k;
    sqlst__col_text(s, 3, t.who, sizeof(t.who));
    t.severity = (uint8_t)sqlite3_column_int(s, 4);
    sqlst__col_text(s, 5, t.detail, sizeof(t.detail));
    return c->fn(c->arg, &t);
}

int sqlst__alert_transitions(struct store *st, int64_t alert_id, store_transition_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ALERT_TRANSITIONS];
    sqlite3_bind_int64(s, 1, alert_id);
    struct transition_cb c = {fn, arg};
    return sqlst__each(db, s, transition_row, &c);
}

/* Runs a one-row query of int64 columns into out[0..n). */
static int scalars(struct sqlst *db, sqlite3_stmt *s, int64_t *out, int n)
{
    int rc = sqlite3_step(s);
    for (int i = 0; i < n; i++)
        out[i] = rc == SQLITE_ROW ? sqlite3_column_int64(s, i) : 0;
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__alert_max_id(struct store *st, int64_t *out)
{
    struct sqlst *db = sqlst__from(st);
    return scalars(db, db->stmt[SQLST_ALERT_MAX_ID], out, 1);
}

static void read_action(sqlite3_stmt *s, struct alert_action *a)
{
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(s, 0);
    a->alert_id = sqlite3_column_int64(s, 1);
    a->action = (uint8_t)sqlite3_column_int(s, 2);
    sqlst__col_text(s, 3, a->who, sizeof(a->who));
    sqlst__col_text(s, 4, a->note, sizeof(a->note));
    a->created_us = sqlite3_column_int64(s, 5);
    a->applied_us = sqlite3_column_int64(s, 6);
    a->result = sqlite3_column_int(s, 7);
}

int sqlst__alert_action_add(struct store *st, struct alert_action *a)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ACTION_ADD];
    a->created_us = hx_time_now_us();
    sqlite3_bind_int64(s, 1, a->alert_id);
    sqlite3_bind_int(s, 2, a->action);
    sqlst__bind_text(s, 3, a->who, sizeof(a->who));
    sqlst__bind_text(s, 4, a->note, sizeof(a->note));
    sqlite3_bind_int64(s, 5, a->created_us);
    int rc = sqlst__exec(db, s);
    if (rc == 0)
        a->id = sqlite3_last_insert_rowid(db->db);
    return rc;
}

int sqlst__alert_action_get(struct store *st, int64_t id, struct alert_action *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ACTION_GET];
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? HX_ENOTFOUND : sqlst__err(db, rc);
    if (rc == SQLITE_ROW)
        read_action(s, out);
    sqlite3_reset(s);
    return ret;
}

static int action_row(sqlite3_stmt *s, void *arg)
{
    struct action_cb *c = arg;
    struct alert_action a;
    read_action(s, &a);
    return c->fn(c->arg, &a);
}

int sqlst__alert_action_poll(struct store *st, int64_t after_id, store_action_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ACTION_POLL];
    sqlite3_bind_int64(s, 1, after_id);
    struct action_cb c = {fn, arg};
    return sqlst__each(db, s, action_row, &c);
}

int sqlst__alert_action_done(struct store *st, int64_t id, int result, int64_t now_us)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_ACTION_DONE];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now_us);
    sqlite3_bind_int(s, 3, result);
    return sqlst__exec(db, s);
}

int sqlst__rule_setting_set(struct store *st, const struct rule_setting *r)
{
    struct sqlst *db = sqlst__from(st);
    bool del = r->value[0] == '\0';
    sqlite3_stmt *s = db->stmt[del ? SQLST_SETTING_DELETE : SQLST_SETTING_UPSERT];
    sqlst__bind_text(s, 1, r->scope, sizeof(r->scope));
    sqlst__bind_text(s, 2, r->scope_id, sizeof(r->scope_id));
    sqlst__bind_text(s, 3, r->key, sizeof(r->key));
    if (!del) {
        sqlst__bind_text(s, 4, r->value, sizeof(r->value));
        sqlite3_bind_int64(s, 5, r->updated_us ? r->updated_us : hx_time_now_us());
        sqlst__bind_text(s, 6, r->updated_by, sizeof(r->updated_by));
    }
    int rc = sqlst__exec(db, s);
    if (rc == 0 && del && sqlite3_changes(db->db) == 0)
        rc = HX_ENOTFOUND;
    return rc;
}

static int setting_row(sqlite3_stmt *s, void *arg)
{
    struct setting_cb *c = arg;
    struct rule_setting r;
    memset(&r, 0, sizeof(r));
    sqlst__col_text(s, 0, r.scope, sizeof(r.scope));
    sqlst__col_text(s, 1, r.scope_id, sizeof(r.scope_id));
    sqlst__col_text(s, 2, r.key, sizeof(r.key));
    sqlst__col_text(s, 3, r.value, sizeof(r.value));
    r.updated_us = sqlite3_column_int64(s, 4);
    sqlst__col_text(s, 5, r.updated_by, sizeof(r.updated_by));
    return c->fn(c->arg, &r);
}

int sqlst__rule_setting_list(struct store *st, store_setting_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    struct setting_cb c = {fn, arg};
    return sqlst__each(db, db->stmt[SQLST_SETTING_LIST], setting_row, &c);
}

int sqlst__rule_settings_version(struct store *st, int64_t *newest_us, int64_t *count)
{
    struct sqlst *db = sqlst__from(st);
    int64_t v[2];
    int rc = scalars(db, db->stmt[SQLST_SETTING_VERSION], v, 2);
    *newest_us = v[0];
    *count = v[1];
    return rc;
}
