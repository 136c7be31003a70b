/*
 * SQLite backend: the searches behind the FHIR API (store.h "Searches for the FHIR API"):
 * patients, devices with their current patient, one patient's observations with blood-pressure
 * panels paired in SQL, and alerts; each with a count, a care scope and a keyset cursor.
 *
 * A search has optional filters, so its SQL is assembled per call from CONSTANT fragments
 * (below) and "?N" parameter markers; every value is bound, none is ever written into the
 * text. The texts vary only with which filters are present, so a small per-connection cache
 * (struct sqlst_dyn, least recently used out) keeps the prepared statements: a repeated search
 * shape is a cache hit, bind and step.
 *
 * Observations are scanned on the obs primary key (patient_id, effective_us, code, device_id)
 * in either direction; the plan is asserted by tests/unit/store/test_sqlst_fhir.c and
 * explained in docs/fhir.md and docs/internals/store.md.
 * Layer: store/sqlite. Thread: whichever thread uses the connection (one at a time).
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "domain/codes.h"
#include "store/sqlite/sqlst_int.h"

#include <stdio.h>
#include <string.h>

/* ---- Statement cache --------------------------------------------------------------------- */

/* Returns the cached statement for sql, preparing it (and evicting the least recently used
 * one) on a miss. OUT: *out borrows the cache; reset it after use. */
static int dyn_get(struct sqlst *db, const char *sql, sqlite3_stmt **out)
{
    struct sqlst_dyn *victim = &db->dyn[0];
    db->dyn_clock++;
    for (size_t i = 0; i < SQLST_DYN_MAX; i++) {
        struct sqlst_dyn *d = &db->dyn[i];
        if (d->sql && strcmp(d->sql, sql) == 0) {
            d->last_use = db->dyn_clock;
            *out = d->stmt;
            return 0;
        }
        if (!d->sql || d->last_use < victim->last_use)
            victim = d;
        if (!d->sql)
            break;
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK)
        return sqlst__err(db, rc);
    sqlite3_finalize(victim->stmt);
    free(victim->sql);
    victim->sql = hx_xstrdup(sql);
    victim->stmt = s;
    victim->last_use = db->dyn_clock;
    *out = s;
    return 0;
}

void sqlst__dyn_release(struct sqlst *db)
{
    for (size_t i = 0; i < SQLST_DYN_MAX; i++) {
        sqlite3_finalize(db->dyn[i].stmt);
        HX_FREE(db->dyn[i].sql);
        db->dyn[i].stmt = NULL;
    }
}

/* ---- Query builder: constant fragments and bound values ---------------------------------- */

#define QB_SQL_MAX  4096
#define QB_ARGS_MAX 192 /* ids + MRNs + wards at their maxima, plus the scalar filters */
#define QB_PAT_MAX  (2 * PAT_NAME_MAX + 8)

struct qb_arg {
    bool is_text;     /* text, else integer */
    int64_t i;        /* the integer */
    const char *text; /* the text (borrowed until the statement is reset) */
    size_t len;       /* its length */
};

struct qb {
    char sql[QB_SQL_MAX];            /* the statement text */
    size_t len;                      /* bytes used in sql */
    bool overflow;                   /* sql or args ran out: a bug, the search fails */
    struct qb_arg args[QB_ARGS_MAX]; /* values by parameter number - 1 */
    int n_args;                      /* parameters so far */
    char pat[2][QB_PAT_MAX];         /* LIKE patterns built from a name filter */
};

/* Appends a constant SQL fragment. Never pass text derived from input. */
static void qb_sql(struct qb *b, const char *frag)
{
    size_t n = strlen(frag);
    if (b->len + n >= QB_SQL_MAX) {
        b->overflow = true;
        return;
    }
    memcpy(b->sql + b->len, frag, n + 1);
    b->len += n;
}

/* Appends the marker of parameter number n ("?7"). */
static void qb_ref(struct qb *b, int n)
{
    char m[16];
    snprintf(m, sizeof(m), "?%d", n);
    qb_sql(b, m);
}

static int qb_new_arg(struct qb *b)
{
    if (b->n_args >= QB_ARGS_MAX) {
        b->overflow = true;
        return 0;
    }
    b->args[b->n_args] = (struct qb_arg){0};
    return ++b->n_args;
}

/* Appends a marker bound to v; returns its number (to refer to it again with qb_ref). */
static int qb_int(struct qb *b, int64_t v)
{
    int n = qb_new_arg(b);
    if (n) {
        b->args[n - 1].i = v;
        qb_ref(b, n);
    }
    return n;
}

static void qb_text(struct qb *b, const char *text, size_t cap)
{
    int n = qb_new_arg(b);
    if (n) {
        b->args[n - 1].is_text = true;
        b->args[n - 1].text = text;
        b->args[n - 1].len = strnlen(text, cap);
        qb_ref(b, n);
    }
}

/* " AND col IN (?a, ?b, ...)" */
static void qb_in_int(struct qb *b, const char *col_and_in, const int64_t *v, size_t n)
{
    qb_sql(b, col_and_in);
    for (size_t i = 0; i < n; i++) {
        qb_sql(b, i ? ", " : "(");
        qb_int(b, v[i]);
    }
    qb_sql(b, ")");
}

static void qb_in_text(struct qb *b, const char *col_and_in, const char *const *v, size_t n,
                       size_t cap)
{
    qb_sql(b, col_and_in);
    for (size_t i = 0; i < n; i++) {
        qb_sql(b, i ? ", " : "(");
        qb_text(b, v[i], cap);
    }
    qb_sql(b, ")");
}

/* The care scope on a patient id column: col_and is " AND p IN " style prefix text. */
static void qb_scope(struct qb *b, const struct store_scope *sc, const char *col)
{
    switch (sc->kind) {
    case STORE_SCOPE_ALL:
        return;
    case STORE_SCOPE_WARDS:
        if (sc->n_wards == 0) {
            qb_sql(b, " AND 0");
            return;
        }
        qb_sql(b, " AND ");
        qb_sql(b, col);
        qb_in_text(b, " IN (SELECT id FROM patients WHERE ward IN ", sc->wards, sc->n_wards,
                   PAT_WARD_MAX);
        qb_sql(b, ")");
        return;
    case STORE_SCOPE_PATIENT:
        qb_sql(b, " AND ");
        qb_sql(b, col);
        qb_sql(b, " = ");
        qb_int(b, sc->patient_id);
        return;
    }
}

/* " AND col >= ?lo AND col < ?hi AND NOT (col >= ? AND col < ?) ..." */
static void qb_range(struct qb *b, const char *col, const struct store_time_range *r)
{
    if (r->lo_us >= r->hi_us) {
        qb_sql(b, " AND 0");
        return;
    }
    if (r->lo_us != INT64_MIN) {
        qb_sql(b, " AND ");
        qb_sql(b, col);
        qb_sql(b, " >= ");
        qb_int(b, r->lo_us);
    }
    if (r->hi_us != INT64_MAX) {
        qb_sql(b, " AND ");
        qb_sql(b, col);
        qb_sql(b, " < ");
        qb_int(b, r->hi_us);
    }
    for (size_t i = 0; i < r->n_exclude; i++) {
        int64_t lo = r->exclude[i].lo_us, hi = r->exclude[i].hi_us;
        if (lo >= hi)
            continue;
        qb_sql(b, " AND NOT (1");
        if (lo != INT64_MIN) {
            qb_sql(b, " AND ");
            qb_sql(b, col);
            qb_sql(b, " >= ");
            qb_int(b, lo);
        }
        if (hi != INT64_MAX) {
            qb_sql(b, " AND ");
            qb_sql(b, col);
            qb_sql(b, " < ");
            qb_int(b, hi);
        }
        qb_sql(b, ")");
    }
}

static void qb_limit(struct qb *b, size_t limit)
{
    if (limit == 0 || limit > INT64_MAX)
        return;
    qb_sql(b, " LIMIT ");
    qb_int(b, (int64_t)limit);
}

/* Prepares (or finds) the statement and binds every value. OUT: *out to step, then reset. */
static int qb_prepare(struct sqlst *db, struct qb *b, sqlite3_stmt **out)
{
    if (HX_UNLIKELY_BUG(b->overflow))
        return HX_ETOOBIG;
    sqlite3_stmt *s = NULL;
    int rc = dyn_get(db, b->sql, &s);
    if (rc < 0)
        return rc;
    for (int i = 0; i < b->n_args; i++) {
        const struct qb_arg *a = &b->args[i];
        if (a->is_text)
            sqlite3_bind_text(s, i + 1, a->text, (int)a->len, SQLITE_STATIC);
        else
            sqlite3_bind_int64(s, i + 1, a->i);
    }
    *out = s;
    return 0;
}

/* Runs a "SELECT count(*) ..." built in b. */
static int qb_count(struct sqlst *db, struct qb *b, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc = qb_prepare(db, b, &s);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(s);
    *out = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    rc = sqlst__err(db, src);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

/* ---- Patients ---------------------------------------------------------------------------- */

/* Writes a LIKE pattern: prefix, the text with % _ and \ escaped, then "%". */
static void like_pattern(char *out, size_t cap, const char *prefix, const char *text)
{
    size_t n = 0;
    for (const char *p = prefix; *p && n + 1 < cap; p++)
        out[n++] = *p;
    for (const char *p = text; *p && n + 3 < cap; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            out[n++] = '\\';
        out[n++] = *p;
    }
    out[n++] = '%';
    out[n] = '\0';
}

/* First day on or after t (day = 86400 s, UTC) as "YYYY-MM-DD"; false outside 0000..9999. */
static bool day_text(int64_t t_us, char out[11])
{
    const int64_t day = 86400 * HX_USEC_PER_SEC;
    const int64_t min_us = INT64_C(-62167219200) * HX_USEC_PER_SEC; /* 0000-01-01 */
    const int64_t max_us = INT64_C(253402214400) * HX_USEC_PER_SEC; /* 9999-12-31 */
    if (t_us < min_us || t_us > max_us)
        return false;
    int64_t d = t_us / day;
    if (d * day < t_us)
        d++;
    char buf[40];
    hx_time_format_rfc3339(d * day, buf, sizeof(buf));
    memcpy(out, buf, 10);
    out[10] = '\0';
    return true;
}

/* birth_date is "YYYY-MM-DD" text: ranges on day boundaries compare as text. */
struct birth_text {
    char lo[11], hi[11];                     /* the interval */
    char ex[STORE_RANGE_EXCLUDE_MAX][2][11]; /* the exclusions */
};

static void qb_birth_bound(struct qb *b, const char *op, int64_t t_us, char buf[11], bool is_lo)
{
    if (t_us == (is_lo ? INT64_MIN : INT64_MAX))
        return;
    if (!day_text(t_us, buf)) {
        /* Before year 0: a lower bound holds for every date, an upper bound for none (and
         * the reverse after 9999). */
        bool before = t_us < 0;
        if (is_lo != before)
            qb_sql(b, " AND 0");
        return;
    }
    qb_sql(b, " AND birth_date ");
    qb_sql(b, op);
    qb_text(b, buf, 11);
}

static void qb_birth(struct qb *b, const struct store_time_range *r, struct birth_text *bt)
{
    qb_sql(b, " AND birth_date <> ''");
    if (r->lo_us >= r->hi_us) {
        qb_sql(b, " AND 0");
        return;
    }
    qb_birth_bound(b, ">= ", r->lo_us, bt->lo, true);
    qb_birth_bound(b, "< ", r->hi_us, bt->hi, false);
    for (size_t i = 0; i < r->n_exclude; i++) {
        qb_sql(b, " AND NOT (1");
        qb_birth_bound(b, ">= ", r->exclude[i].lo_us, bt->ex[i][0], true);
        qb_birth_bound(b, "< ", r->exclude[i].hi_us, bt->ex[i][1], false);
        qb_sql(b, ")");
    }
}

static void patient_where(struct qb *b, const struct store_patient_query *q, struct birth_text *bt)
{
    qb_sql(b, " FROM patients WHERE 1");
    switch (q->scope->kind) {
    case STORE_SCOPE_ALL:
        break;
    case STORE_SCOPE_WARDS:
        if (q->scope->n_wards == 0)
            qb_sql(b, " AND 0");
        else
            qb_in_text(b, " AND ward IN ", q->scope->wards, q->scope->n_wards, PAT_WARD_MAX);
        break;
    case STORE_SCOPE_PATIENT:
        qb_sql(b, " AND id = ");
        qb_int(b, q->scope->patient_id);
        break;
    }
    if (q->n_ids)
        qb_in_int(b, " AND id IN ", q->ids, q->n_ids);
    if (q->n_mrns)
        qb_in_text(b, " AND mrn IN ", q->mrns, q->n_mrns, PAT_MRN_MAX);
    if (q->name) {
        /* LIKE is case-insensitive for ASCII in SQLite (case_sensitive_like is off). */
        switch (q->name_match) {
        case STORE_NAME_STARTS:
            like_pattern(b->pat[0], sizeof(b->pat[0]), "", q->name);
            like_pattern(b->pat[1], sizeof(b->pat[1]), "% ", q->name);
            qb_sql(b, " AND (name LIKE ");
            qb_text(b, b->pat[0], sizeof(b->pat[0]));
            qb_sql(b, " ESCAPE '\\' OR name LIKE ");
            qb_text(b, b->pat[1], sizeof(b->pat[1]));
            qb_sql(b, " ESCAPE '\\')");
            break;
        case STORE_NAME_CONTAINS:
            like_pattern(b->pat[0], sizeof(b->pat[0]), "%", q->name);
            qb_sql(b, " AND name LIKE ");
            qb_text(b, b->pat[0], sizeof(b->pat[0]));
            qb_sql(b, " ESCAPE '\\'");
            break;
        case STORE_NAME_EXACT:
            qb_sql(b, " AND name = ");
            qb_text(b, q->name, PAT_NAME_MAX);
            break;
        }
    }
    if (q->has_birth)
        qb_birth(b, &q->birth, bt);
}

int sqlst__patient_search(struct store *st, const struct store_patient_query *q,
                          store_patient_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    struct birth_text bt;
    qb_sql(b, "SELECT " SQLST_PATIENT_COLS);
    patient_where(b, q, &bt);
    if (q->after_id > 0) {
        qb_sql(b, " AND id > ");
        qb_int(b, q->after_id);
    }
    qb_sql(b, " ORDER BY id");
    qb_limit(b, q->limit);
    sqlite3_stmt *s = NULL;
    int rc = qb_prepare(db, b, &s);
    if (rc == 0) {
        int src;
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            struct patient p;
            sqlst__read_patient(s, &p);
            if ((rc = fn(arg, &p)) != 0)
                break;
        }
        if (rc == 0)
            rc = sqlst__err(db, src);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    free(b);
    return rc;
}

int sqlst__patient_count(struct store *st, const struct store_patient_query *q, int64_t *out)
{
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    struct birth_text bt;
    qb_sql(b, "SELECT count(*)");
    patient_where(b, q, &bt);
    int rc = qb_count(sqlst__from(st), b, out);
    free(b);
    return rc;
}

/* ---- The ward overview --------------------------------------------------------------------- */

/* One statement: the scoped patients (pts), their open alerts aggregated once (al), and
 * obs_latest joined, ordered so that each patient's rows are adjacent. */
int sqlst__patient_overview(struct store *st, const struct store_overview_query *q,
                            store_overview_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    qb_sql(b, "WITH pts AS (SELECT " SQLST_PATIENT_COLS " FROM patients WHERE (0");
    if (q->all)
        qb_sql(b, " OR 1");
    if (q->n_wards)
        qb_in_text(b, " OR ward IN ", q->wards, q->n_wards, PAT_WARD_MAX);
    if (q->caseload_user_id > 0) {
        qb_sql(b, " OR id IN (SELECT patient_id FROM user_patients WHERE user_id = ");
        qb_int(b, q->caseload_user_id);
        qb_sql(b, ")");
    }
    if (q->patient_id > 0) {
        qb_sql(b, " OR id = ");
        qb_int(b, q->patient_id);
    }
    qb_sql(b, ")");
    if (q->ward) {
        qb_sql(b, " AND ward = ");
        qb_text(b, q->ward, PAT_WARD_MAX);
    }
    qb_sql(b, " ORDER BY ward, location, name, id");
    qb_limit(b, q->limit);
    qb_sql(b, "), al AS (SELECT patient_id, count(*) AS n, max(severity) AS sev FROM alerts"
              " WHERE state IN (0, 1) AND patient_id IN (SELECT id FROM pts)"
              " GROUP BY patient_id)"
              " SELECT pts.id, pts.mrn, pts.name, pts.birth_date, pts.ward, pts.location,"
              " pts.created_us, coalesce(al.n, 0), coalesce(al.sev, 0), l.code, l.effective_us,"
              " l.device_id, l.value, l.received_us, l.status"
              " FROM pts LEFT JOIN al ON al.patient_id = pts.id"
              " LEFT JOIN obs_latest AS l ON l.patient_id = pts.id"
              " ORDER BY pts.ward, pts.location, pts.name, pts.id, l.code");
    sqlite3_stmt *s = NULL;
    int rc = qb_prepare(db, b, &s);
    if (rc == 0) {
        /* One row buffer for the whole listing: no allocation per patient. */
        struct store_overview_row *row = hx_xcalloc(1, sizeof(*row));
        bool have = false;
        int src;
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(s, 0);
            if (!have || row->p.id != id) {
                if (have && (rc = fn(arg, row)) != 0)
                    break;
                sqlst__read_patient(s, &row->p);
                row->n_latest = 0;
                row->open_alerts = sqlite3_column_int64(s, 7);
                row->max_severity = sqlite3_column_int(s, 8);
                have = true;
            }
            if (sqlite3_column_type(s, 9) != SQLITE_NULL && row->n_latest < OBS_CODE__COUNT) {
                struct obs *o = &row->latest[row->n_latest++];
                memset(o, 0, sizeof(*o));
                o->patient_id = id;
                o->code = (uint16_t)sqlite3_column_int(s, 9);
                o->effective_us = sqlite3_column_int64(s, 10);
                o->device_id = sqlite3_column_int64(s, 11);
                o->value = sqlite3_column_double(s, 12);
                o->received_us = sqlite3_column_int64(s, 13);
                o->status = (uint8_t)sqlite3_column_int(s, 14);
            }
        }
        if (rc == 0)
            rc = sqlst__err(db, src);
        if (rc == 0 && have)
            rc = fn(arg, row);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        free(row);
    }
    free(b);
    return rc;
}

/* ---- Devices ------------------------------------------------------------------------------ */

static void device_where(struct qb *b, const struct store_device_query *q)
{
    /* At most one open assignment per device (unique index assignments_open). */
    qb_sql(b, " FROM devices AS d LEFT JOIN assignments AS a ON a.device_id = d.id"
              " AND a.end_us IS NULL WHERE 1");
    if (q->scope->kind != STORE_SCOPE_ALL)
        qb_scope(b, q->scope, "a.patient_id");
    if (q->n_ids)
        qb_in_int(b, " AND d.id IN ", q->ids, q->n_ids);
    if (q->n_uids)
        qb_in_text(b, " AND d.uid IN ", q->uids, q->n_uids, DEV_ID_MAX);
    if (q->patient_id) {
        qb_sql(b, " AND a.patient_id = ");
        qb_int(b, q->patient_id);
    }
}

int sqlst__device_search(struct store *st, const struct store_device_query *q,
                         store_device_row_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    /* The device columns are unambiguous: assignments has none of those names. */
    qb_sql(b, "SELECT " SQLST_DEVICE_COLS ", coalesce(a.patient_id, 0)");
    device_where(b, q);
    if (q->after_id > 0) {
        qb_sql(b, " AND d.id > ");
        qb_int(b, q->after_id);
    }
    qb_sql(b, " ORDER BY d.id");
    qb_limit(b, q->limit);
    sqlite3_stmt *s = NULL;
    int rc = qb_prepare(db, b, &s);
    if (rc == 0) {
        int src;
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            struct device d;
            sqlst__read_device(s, &d);
            if ((rc = fn(arg, &d, sqlite3_column_int64(s, 13))) != 0)
                break;
        }
        if (rc == 0)
            rc = sqlst__err(db, src);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    free(b);
    return rc;
}

int sqlst__device_count(struct store *st, const struct store_device_query *q, int64_t *out)
{
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    qb_sql(b, "SELECT count(*)");
    device_where(b, q);
    int rc = qb_count(sqlst__from(st), b, out);
    free(b);
    return rc;
}

/* ---- Observations ------------------------------------------------------------------------- */

#define BIT(n) (UINT64_C(1) << (n))

/* The SQL below names the blood-pressure codes by number. */
_Static_assert(OBS_CODE_BP_SYS == 6 && OBS_CODE_BP_DIA == 7, "BP code numbers in the SQL");
_Static_assert(OBS_CODE__COUNT <= 63, "kinds is a 63-bit mask");

/*
 * FROM and WHERE of an observation search. o is the reading; d, joined only when systolic
 * readings or panels are wanted, is the diastolic partner of a systolic o (same patient,
 * instant and device: a full primary-key lookup). A diastolic o with a systolic partner is
 * part of a panel and is never a row of its own (NOT EXISTS, again a key lookup). kinds is
 * one bound integer tested bit by bit, so every code set shares one statement text.
 */
static void obs_where(struct qb *b, const struct store_obs_query *q, bool *joined)
{
    bool need_join = q->kinds & (STORE_OBS_KIND_BP_PANEL | BIT(OBS_CODE_BP_SYS));
    bool need_exists = q->kinds & BIT(OBS_CODE_BP_DIA);
    *joined = need_join;
    qb_sql(b, " FROM obs AS o");
    if (need_join)
        qb_sql(b, " LEFT JOIN obs AS d ON o.code = 6 AND d.patient_id = o.patient_id"
                  " AND d.effective_us = o.effective_us AND d.code = 7"
                  " AND d.device_id = o.device_id");
    qb_sql(b, " WHERE o.patient_id = ");
    qb_int(b, q->patient_id);
    qb_range(b, "o.effective_us", &q->effective);
    if (q->has_received)
        qb_range(b, need_join ? "max(o.received_us, coalesce(d.received_us, 0))" : "o.received_us",
                 &q->received);
    if (q->has_device) {
        qb_sql(b, " AND o.device_id = ");
        qb_int(b, q->device_id);
    }
    if (q->kinds == 0) {
        qb_sql(b, " AND 0");
        return;
    }
    if (!need_join && !need_exists) {
        qb_sql(b, " AND ((");
        qb_int(b, (int64_t)q->kinds);
        qb_sql(b, " >> o.code) & 1) = 1");
        return;
    }
    qb_sql(b, " AND (CASE");
    int k = 0;
    if (need_join) {
        qb_sql(b, " WHEN o.code = 6 THEN (CASE WHEN d.code IS NULL THEN (");
        k = qb_int(b, (int64_t)q->kinds);
        qb_sql(b, " >> 6) & 1 ELSE ");
        qb_ref(b, k);
        qb_sql(b, " & 1 END)");
    }
    if (need_exists) {
        qb_sql(b, " WHEN o.code = 7 THEN ((");
        if (k)
            qb_ref(b, k);
        else
            k = qb_int(b, (int64_t)q->kinds);
        qb_sql(b, " >> 7) & 1) AND NOT EXISTS (SELECT 1 FROM obs AS s"
                  " WHERE s.patient_id = o.patient_id AND s.effective_us = o.effective_us"
                  " AND s.code = 6 AND s.device_id = o.device_id)");
    }
    qb_sql(b, " ELSE (");
    if (k)
        qb_ref(b, k);
    else
        qb_int(b, (int64_t)q->kinds);
    qb_sql(b, " >> o.code) & 1 END) = 1");
}

/* Builds the row query of q into b (exposed for the plan test through sqlst__obs_search_sql). */
static void obs_select(struct qb *b, const struct store_obs_query *q)
{
    bool joined;
    qb_sql(b, "SELECT o.patient_id, o.code, o.effective_us, o.device_id, o.value,"
              " o.received_us, o.status");
    /* The columns depend on the join, which obs_where decides: build the rest first, then
     * splice its text and arguments (its parameter numbers start at 1; b has none yet). */
    struct qb *tail = hx_xcalloc(1, sizeof(*tail));
    obs_where(tail, q, &joined);
    qb_sql(b, joined ? ", d.code IS NOT NULL, d.value, d.received_us, d.status"
                     : ", 0, NULL, NULL, NULL");
    qb_sql(b, tail->sql);
    memcpy(b->args, tail->args, sizeof(tail->args[0]) * (size_t)tail->n_args);
    b->n_args = tail->n_args;
    b->overflow |= tail->overflow;
    free(tail);
    if (q->has_cursor) {
        const char *cmp = q->descending ? " <= " : " >= ";
        qb_sql(b, " AND o.effective_us");
        qb_sql(b, cmp);
        int t = qb_int(b, q->cur_effective_us);
        qb_sql(b, " AND (o.effective_us, o.code, o.device_id)");
        qb_sql(b, q->descending ? " < (" : " > (");
        qb_ref(b, t);
        qb_sql(b, ", ");
        qb_int(b, q->cur_code);
        qb_sql(b, ", ");
        qb_int(b, q->cur_device_id);
        qb_sql(b, ")");
    }
    qb_sql(b, q->descending ? " ORDER BY o.effective_us DESC, o.code DESC, o.device_id DESC"
                            : " ORDER BY o.effective_us, o.code, o.device_id");
    qb_limit(b, q->limit);
}

static void read_obs_cols(sqlite3_stmt *s, int col, struct obs *o)
{
    memset(o, 0, sizeof(*o));
    o->patient_id = sqlite3_column_int64(s, col);
    o->code = (uint16_t)sqlite3_column_int(s, col + 1);
    o->effective_us = sqlite3_column_int64(s, col + 2);
    o->device_id = sqlite3_column_int64(s, col + 3);
    o->value = sqlite3_column_double(s, col + 4);
    o->received_us = sqlite3_column_int64(s, col + 5);
    o->status = (uint8_t)sqlite3_column_int(s, col + 6);
}

int sqlst__obs_search(struct store *st, const struct store_obs_query *q, store_obs_row_fn *fn,
                      void *arg)
{
    struct sqlst *db = sqlst__from(st);
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    obs_select(b, q);
    sqlite3_stmt *s = NULL;
    int rc = qb_prepare(db, b, &s);
    if (rc == 0) {
        int src;
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            struct store_obs_row r;
            read_obs_cols(s, 0, &r.o);
            r.is_panel = sqlite3_column_int(s, 7) != 0;
            memset(&r.dia, 0, sizeof(r.dia));
            if (r.is_panel) {
                r.dia = r.o;
                r.dia.code = OBS_CODE_BP_DIA;
                r.dia.value = sqlite3_column_double(s, 8);
                r.dia.received_us = sqlite3_column_int64(s, 9);
                r.dia.status = (uint8_t)sqlite3_column_int(s, 10);
            }
            if ((rc = fn(arg, &r)) != 0)
                break;
        }
        if (rc == 0)
            rc = sqlst__err(db, src);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    free(b);
    return rc;
}

int sqlst__obs_search_count(struct store *st, const struct store_obs_query *q, int64_t *out)
{
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    bool joined;
    qb_sql(b, "SELECT count(*)");
    obs_where(b, q, &joined);
    int rc = qb_count(sqlst__from(st), b, out);
    free(b);
    return rc;
}

int sqlst__obs_search_plan(struct store *st, const struct store_obs_query *q, char *out,
                           size_t out_len)
{
    struct sqlst *db = sqlst__from(st);
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    obs_select(b, q);
    char *sql = hx_xasprintf("EXPLAIN QUERY PLAN %s", b->sql);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) {
        rc = sqlst__err(db, rc);
        goto out_free;
    }
    for (int i = 0; i < b->n_args; i++) {
        if (b->args[i].is_text)
            sqlite3_bind_text(s, i + 1, b->args[i].text, (int)b->args[i].len, SQLITE_STATIC);
        else
            sqlite3_bind_int64(s, i + 1, b->args[i].i);
    }
    size_t n = 0;
    out[0] = '\0';
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(s, 3);
        int w = snprintf(out + n, out_len - n, "%s\n", detail ? detail : "");
        if (w < 0 || (size_t)w >= out_len - n)
            break;
        n += (size_t)w;
    }
    rc = src == SQLITE_ROW || src == SQLITE_DONE ? 0 : sqlst__err(db, src);
    sqlite3_finalize(s);
out_free:
    free(sql);
    free(b);
    return rc;
}

/* ---- Alerts -------------------------------------------------------------------------------- */

static void alert_where(struct qb *b, const struct store_alert_query *q)
{
    qb_sql(b, " FROM alerts WHERE patient_id > 0");
    qb_scope(b, q->scope, "patient_id");
    if (q->n_ids)
        qb_in_int(b, " AND id IN ", q->ids, q->n_ids);
    if (q->patient_id) {
        qb_sql(b, " AND patient_id = ");
        qb_int(b, q->patient_id);
    }
    if (q->states) {
        qb_sql(b, " AND ((1 << state) & ");
        qb_int(b, q->states);
        qb_sql(b, ") != 0");
    }
}

int sqlst__alert_search(struct store *st, const struct store_alert_query *q, store_alert_fn *fn,
                        void *arg)
{
    struct sqlst *db = sqlst__from(st);
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    qb_sql(b, "SELECT " SQLST_ALERT_COLS);
    alert_where(b, q);
    if (q->has_cursor) {
        qb_sql(b, " AND raised_us <= ");
        int t = qb_int(b, q->cur_raised_us);
        qb_sql(b, " AND (raised_us, id) < (");
        qb_ref(b, t);
        qb_sql(b, ", ");
        qb_int(b, q->cur_id);
        qb_sql(b, ")");
    }
    qb_sql(b, " ORDER BY raised_us DESC, id DESC");
    qb_limit(b, q->limit);
    sqlite3_stmt *s = NULL;
    int rc = qb_prepare(db, b, &s);
    if (rc == 0) {
        int src;
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            struct alert a;
            sqlst__read_alert(s, &a);
            if ((rc = fn(arg, &a)) != 0)
                break;
        }
        if (rc == 0)
            rc = sqlst__err(db, src);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    free(b);
    return rc;
}

int sqlst__alert_count(struct store *st, const struct store_alert_query *q, int64_t *out)
{
    struct qb *b = hx_xcalloc(1, sizeof(*b));
    qb_sql(b, "SELECT count(*)");
    alert_where(b, q);
    int rc = qb_count(sqlst__from(st), b, out);
    free(b);
    return rc;
}
