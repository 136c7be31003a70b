/*
 * SQLite backend: observations. The batch insert (the ingest hot path: one transaction per
 * call, sorted by key, duplicates skipped by the primary key, obs_latest maintained once per
 * (patient, code) per batch) and the chart/API queries: latest per code, time ranges,
 * downsampling into buckets, count. Range queries scan the obs primary key (patient_id,
 * effective_us, code, device_id); their EXPLAIN QUERY PLAN is in docs/internals/store.md.
 * Layer: store/sqlite. Thread: whichever thread uses the connection (one at a time); the
 * batch insert runs on the store writer thread.
 */
#include "core/err.h"
#include "core/mem.h"
#include "store/sqlite/sqlst_int.h"

#include <stdlib.h>
#include <string.h>

#define OBS_COLS "patient_id, code, effective_us, device_id, value, received_us, status"

const struct sqlst_sql sqlst__sql_obs[] = {
    /* ON CONFLICT DO NOTHING skips only key conflicts (duplicates); NOT NULL or type errors
     * still fail the batch, unlike INSERT OR IGNORE. */
    {SQLST_OBS_INSERT, "INSERT INTO obs(" OBS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                       " ON CONFLICT DO NOTHING"},
    /* Newer wins; at the same instant the lowest device id wins, whatever the arrival order.
     * A resent duplicate is the same (time, device) and changes nothing. */
    {SQLST_OBS_LATEST_UPSERT,
     "INSERT INTO obs_latest(" OBS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
     " ON CONFLICT (patient_id, code) DO UPDATE SET effective_us = excluded.effective_us,"
     " device_id = excluded.device_id, value = excluded.value,"
     " received_us = excluded.received_us, status = excluded.status"
     " WHERE excluded.effective_us > obs_latest.effective_us"
     " OR (excluded.effective_us = obs_latest.effective_us"
     " AND excluded.device_id < obs_latest.device_id)"},
    {SQLST_OBS_LATEST, "SELECT " OBS_COLS " FROM obs_latest WHERE patient_id = ?1 ORDER BY code"},
    /* The patient's time window in key order; the code is a filter on it. ORDER BY names
     * only effective_us: spelling out the rest of the key (code, device_id) makes SQLite add
     * a sorter for ties, although the key scan already yields them in that order. */
    {SQLST_OBS_RANGE_CODE,
     "SELECT " OBS_COLS " FROM obs WHERE patient_id = ?1 AND effective_us >= ?3"
     " AND effective_us < ?4 AND code = ?2 ORDER BY effective_us LIMIT ?5"},
    {SQLST_OBS_RANGE_ALL,
     "SELECT " OBS_COLS " FROM obs WHERE patient_id = ?1 AND effective_us >= ?2"
     " AND effective_us < ?3 ORDER BY effective_us, code, device_id LIMIT ?4"},
    /* One pass over the window, one group per bucket: b = (t - since) / width. */
    {SQLST_OBS_DOWNSAMPLE,
     "SELECT (effective_us - ?3) / ?5 AS b, min(value), max(value), avg(value), count(*)"
     " FROM obs WHERE patient_id = ?1 AND effective_us >= ?3 AND effective_us < ?4"
     " AND code = ?2 GROUP BY b ORDER BY b"},
    {SQLST_OBS_COUNT, "SELECT count(*) FROM obs"},
};
const size_t sqlst__n_sql_obs = sizeof(sqlst__sql_obs) / sizeof(sqlst__sql_obs[0]);

static void bind_obs(sqlite3_stmt *s, const struct obs *o)
{
    sqlite3_bind_int64(s, 1, o->patient_id);
    sqlite3_bind_int(s, 2, o->code);
    sqlite3_bind_int64(s, 3, o->effective_us);
    sqlite3_bind_int64(s, 4, o->device_id);
    sqlite3_bind_double(s, 5, o->value);
    sqlite3_bind_int64(s, 6, o->received_us);
    sqlite3_bind_int(s, 7, o->status);
}

/* True when a should replace b as the latest reading of their (patient, code). */
static bool is_newer(const struct obs *a, const struct obs *b)
{
    return a->effective_us > b->effective_us ||
           (a->effective_us == b->effective_us && a->device_id < b->device_id);
}

/* Grows the scratch hash table so that n keys keep it at most half full. */
static void latest_reserve(struct sqlst *db, size_t n)
{
    if (db->latest_cap >= 2 * n && db->latest_cap)
        return;
    uint32_t cap = 1024;
    while (cap < 2 * n)
        cap *= 2;
    free(db->latest_tab);
    free(db->latest_used);
    db->latest_tab = hx_xcalloc(cap, sizeof(*db->latest_tab));
    db->latest_used = hx_alloc_array(cap, sizeof(*db->latest_used));
    db->latest_cap = cap;
    db->latest_gen = 0;
}

/* Upserts, for each (patient, code) in the batch, only its newest reading: one statement per
 * pair instead of per reading. Readings of unassigned devices (patient 0) are skipped. */
static int update_latest(struct sqlst *db, const struct obs *obs, size_t n)
{
    latest_reserve(db, n);
    if (++db->latest_gen == 0) { /* wrapped: really clear once every 2^32 batches */
        memset(db->latest_tab, 0, db->latest_cap * sizeof(*db->latest_tab));
        db->latest_gen = 1;
    }
    uint32_t gen = db->latest_gen, mask = db->latest_cap - 1, n_used = 0;
    for (size_t i = 0; i < n; i++) {
        const struct obs *o = &obs[i];
        if (o->patient_id == 0)
            continue;
        /* Fibonacci hashing of (patient, code); equality below compares the full key. */
        uint64_t h = ((uint64_t)o->patient_id << 16 | o->code) * UINT64_C(0x9E3779B97F4A7C15);
        uint32_t j = (uint32_t)(h >> 32) & mask;
        for (;;) {
            struct sqlst_latest_slot *sl = &db->latest_tab[j];
            if (sl->gen != gen) {
                *sl = (struct sqlst_latest_slot){
                    .patient_id = o->patient_id, .code = o->code, .gen = gen, .idx = (uint32_t)i};
                db->latest_used[n_used++] = j;
                break;
            }
            if (sl->patient_id == o->patient_id && sl->code == o->code) {
                if (is_newer(o, &obs[sl->idx]))
                    sl->idx = (uint32_t)i;
                break;
            }
            j = (j + 1) & mask;
        }
    }
    sqlite3_stmt *s = db->stmt[SQLST_OBS_LATEST_UPSERT];
    for (uint32_t k = 0; k < n_used; k++) {
        bind_obs(s, &obs[db->latest_tab[db->latest_used[k]].idx]);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return sqlst__err(db, rc);
    }
    return 0;
}

/* Orders the batch by the obs primary key; equal keys keep their batch order, so the first
 * of two identical readings is the one stored. */
static int cmp_key(const void *pa, const void *pb)
{
    const struct sqlst_sort_key *a = pa, *b = pb;
    if (a->patient_id != b->patient_id)
        return a->patient_id < b->patient_id ? -1 : 1;
    if (a->effective_us != b->effective_us)
        return a->effective_us < b->effective_us ? -1 : 1;
    if (a->code != b->code)
        return a->code < b->code ? -1 : 1;
    if (a->device_id != b->device_id)
        return a->device_id < b->device_id ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/*
 * Returns the order in which to insert the batch: sorted by primary key, so that
 * consecutive inserts descend the same B-tree path and land on the same leaf (CPU caches
 * stay warm). A batch arrives interleaved by patient; sorting it costs less than the cache
 * misses it saves (bench/README.md). OUT: the returned array borrows db's scratch buffer.
 */
static const struct sqlst_sort_key *sort_batch(struct sqlst *db, const struct obs *obs, size_t n)
{
    if (db->sort_cap < n) {
        free(db->sort);
        db->sort_cap = n > 1024 ? n : 1024;
        db->sort = hx_alloc_array(db->sort_cap, sizeof(*db->sort));
    }
    bool in_order = true;
    for (size_t i = 0; i < n; i++) {
        db->sort[i] = (struct sqlst_sort_key){.patient_id = obs[i].patient_id,
                                              .effective_us = obs[i].effective_us,
                                              .device_id = obs[i].device_id,
                                              .code = obs[i].code,
                                              .idx = (uint32_t)i};
        if (in_order && i && cmp_key(&db->sort[i - 1], &db->sort[i]) > 0)
            in_order = false;
    }
    if (!in_order)
        qsort(db->sort, n, sizeof(*db->sort), cmp_key);
    return db->sort;
}

int sqlst__obs_put_batch(struct store *st, const struct obs *obs, size_t n, size_t *n_inserted)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_OBS_INSERT];
    if (n > UINT32_MAX / 2)
        return HX_ETOOBIG;
    int rc = sqlst__begin(db);
    if (rc < 0)
        return rc;
    int64_t before = sqlite3_total_changes64(db->db);
    const struct sqlst_sort_key *order = sort_batch(db, obs, n);
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k].idx;
        bind_obs(s, &obs[i]);
        int src = sqlite3_step(s);
        sqlite3_reset(s);
        if (src != SQLITE_DONE) {
            rc = sqlst__err(db, src);
            goto out_rollback;
        }
    }
    int64_t inserted = sqlite3_total_changes64(db->db) - before;
    if ((rc = update_latest(db, obs, n)) < 0)
        goto out_rollback;
    rc = sqlst__commit(db);
    if (rc == 0 && n_inserted)
        *n_inserted = (size_t)inserted;
    return rc;
out_rollback:
    sqlst__rollback(db);
    return rc;
}

static void read_obs(sqlite3_stmt *s, struct obs *o)
{
    memset(o, 0, sizeof(*o));
    o->patient_id = sqlite3_column_int64(s, 0);
    o->code = (uint16_t)sqlite3_column_int(s, 1);
    o->effective_us = sqlite3_column_int64(s, 2);
    o->device_id = sqlite3_column_int64(s, 3);
    o->value = sqlite3_column_double(s, 4);
    o->received_us = sqlite3_column_int64(s, 5);
    o->status = (uint8_t)sqlite3_column_int(s, 6);
}

/* Steps s to the end, calling fn for each row, then resets it. */
static int run_obs_query(struct sqlst *db, sqlite3_stmt *s, store_obs_fn *fn, void *arg)
{
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct obs o;
        read_obs(s, &o);
        if ((ret = fn(arg, &o)) != 0)
            break;
    }
    if (ret == 0)
        ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__obs_latest(struct store *st, int64_t patient_id, store_obs_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_OBS_LATEST];
    sqlite3_bind_int64(s, 1, patient_id);
    return run_obs_query(db, s, fn, arg);
}

int sqlst__obs_range(struct store *st, int64_t patient_id, int code, int64_t since_us,
                     int64_t until_us, size_t limit, store_obs_fn *fn, void *arg)
{
    struct sqlst *db = sqlst__from(st);
    int64_t lim = limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
    sqlite3_stmt *s;
    if (code) {
        s = db->stmt[SQLST_OBS_RANGE_CODE];
        sqlite3_bind_int64(s, 1, patient_id);
        sqlite3_bind_int(s, 2, code);
        sqlite3_bind_int64(s, 3, since_us);
        sqlite3_bind_int64(s, 4, until_us);
        sqlite3_bind_int64(s, 5, lim);
    } else {
        s = db->stmt[SQLST_OBS_RANGE_ALL];
        sqlite3_bind_int64(s, 1, patient_id);
        sqlite3_bind_int64(s, 2, since_us);
        sqlite3_bind_int64(s, 3, until_us);
        sqlite3_bind_int64(s, 4, lim);
    }
    return run_obs_query(db, s, fn, arg);
}

/*
 * Bucket width = ceil((until - since) / n), so every reading in [since, until) falls in a
 * bucket 0..n-1; bucket i covers [since + i*width, min(since + (i+1)*width, until)). When the
 * range does not divide evenly the last bucket is shorter.
 */
int sqlst__obs_downsample(struct store *st, int64_t patient_id, int code, int64_t since_us,
                          int64_t until_us, size_t n_buckets, struct obs_bucket *out)
{
    struct sqlst *db = sqlst__from(st);
    uint64_t range = (uint64_t)until_us - (uint64_t)since_us;
    int64_t width = (int64_t)((range + n_buckets - 1) / n_buckets);
    for (size_t i = 0; i < n_buckets; i++) {
        int64_t start = since_us + (int64_t)i * width;
        int64_t end = start + width;
        out[i] = (struct obs_bucket){
            .start_us = start < until_us ? start : until_us,
            .end_us = end < until_us ? end : until_us,
        };
    }
    sqlite3_stmt *s = db->stmt[SQLST_OBS_DOWNSAMPLE];
    sqlite3_bind_int64(s, 1, patient_id);
    sqlite3_bind_int(s, 2, code);
    sqlite3_bind_int64(s, 3, since_us);
    sqlite3_bind_int64(s, 4, until_us);
    sqlite3_bind_int64(s, 5, width);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(s, 0);
        if (HX_UNLIKELY_BUG(b < 0 || (uint64_t)b >= n_buckets))
            continue;
        out[b].min = sqlite3_column_double(s, 1);
        out[b].max = sqlite3_column_double(s, 2);
        out[b].mean = sqlite3_column_double(s, 3);
        out[b].count = (uint32_t)sqlite3_column_int64(s, 4);
    }
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}

int sqlst__obs_count(struct store *st, int64_t *out)
{
    struct sqlst *db = sqlst__from(st);
    sqlite3_stmt *s = db->stmt[SQLST_OBS_COUNT];
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int ret = sqlst__err(db, rc);
    sqlite3_reset(s);
    return ret;
}
