/*
 * Device registry (see registry.h): immutable-ish snapshots of devices and assignments with
 * hash indexes by uid and id, built on a worker from the registry's own read-only store
 * connection and swapped in on the loop.
 * The presence writer persists what the gateway learnt about devices (see registry.h).
 * Layer: ingest. Thread: loop, except build_snapshot and presence_work, which run on libuv
 * workers.
 *
 * Thread safety
 *   The store connection `st` is used by exactly one thread at a time: the main thread in
 *   reg_new, then only by the one refresh job in flight (`busy`), never concurrently. The
 *   current snapshot is owned by the loop; a job builds a new snapshot privately and hands it
 *   over in after_work (moved, the worker no longer touches it).
 *   The presence connection `pst` is opened and used only by the one presence job in flight
 *   (`pbusy`); the job's items are copied from the snapshot on the loop before it is queued
 *   (moved to the worker), so the worker never reads the snapshot.
 */
#include "ingest/registry.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "ingest/senml.h"
#include "store/store.h"

#include <string.h>

struct reg_snap {
    struct reg_device *dev; /* n_dev devices, ordered by uid */
    uint32_t n_dev;         /* devices */
    uint32_t cap_dev;       /* allocated entries in dev */
    struct assignment *asg; /* n_asg assignments, grouped per device, newest first */
    uint32_t n_asg;         /* assignments */
    uint32_t cap_asg;       /* allocated entries in asg */
    uint32_t *by_uid;       /* open addressing: index + 1 into dev, 0 = empty */
    uint32_t *by_id;        /* same, keyed by id */
    uint32_t mask;          /* table size - 1 (a power of two >= 2 * n_dev) */
    int64_t loaded_us;      /* when it was read */
};

struct reg_job {
    uv_work_t req;         /* the worker request; req.data = this */
    struct registry *r;    /* owner */
    struct reg_snap *snap; /* built by the worker, moved to the loop in after_work */
    int rc;                /* outcome of the build */
};

/* One device's presence, copied on the loop for the worker. */
struct presence_item {
    int64_t device_id;     /* internal id */
    struct dev_presence p; /* values to store */
};

struct presence_job {
    uv_work_t req;               /* the worker request; req.data = this */
    struct registry *r;          /* owner */
    struct presence_item *items; /* n_items, owned */
    uint32_t n_items;            /* entries in items */
    uint32_t n_failed;           /* updates the store refused (set by the worker) */
    int rc;                      /* first failure, 0 if none */
};

struct registry {
    uv_loop_t *loop;         /* the loop */
    struct store *st;        /* read-only connection, see "Thread safety"; NULL if reopen failed */
    struct cfg_store cfg;    /* copy, for reopening */
    struct reg_snap *cur;    /* current snapshot, owned by the loop */
    uv_timer_t timer;        /* refresh tick */
    uint32_t interval_ms;    /* refresh period */
    bool timer_started;      /* timer initialised (must be closed) */
    bool stopping;           /* reg_stop called */
    bool busy;               /* a refresh job is in flight */
    struct store *pst;       /* presence connection (read-write), opened by the first job */
    bool pbusy;              /* a presence job is in flight */
    int64_t *pend;           /* ids of dirty devices, in the order they became dirty */
    uint32_t n_pend;         /* entries in pend */
    uint32_t cap_pend;       /* allocated entries in pend */
    struct reg_stats stats;  /* counters (n_devices etc. mirror cur) */
    struct reg_observer obs; /* told about presence and status, or zero */
};

static uint64_t hash_bytes(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= UINT64_C(1099511628211);
    }
    return h ^ (h >> 29);
}

static uint64_t hash_id(int64_t id)
{
    uint64_t x = (uint64_t)id;
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return x;
}

static void snap_free(struct reg_snap *s)
{
    if (!s)
        return;
    free(s->dev);
    free(s->asg);
    free(s->by_uid);
    free(s->by_id);
    free(s);
}

static int collect_device(void *arg, const struct device *d)
{
    struct reg_snap *s = arg;
    if (s->n_dev == s->cap_dev) {
        uint32_t cap = s->cap_dev ? s->cap_dev * 2 : 256;
        struct reg_device *n = hx_alloc_array(cap, sizeof(*n));
        if (!n)
            return -ENOMEM;
        if (s->n_dev)
            memcpy(n, s->dev, s->n_dev * sizeof(*n));
        free(s->dev);
        s->dev = n;
        s->cap_dev = cap;
    }
    struct reg_device *r = &s->dev[s->n_dev++];
    memset(r, 0, sizeof(*r));
    r->id = d->id;
    memcpy(r->uid, d->uid, sizeof(r->uid));
    r->uid[sizeof(r->uid) - 1] = '\0';
    memcpy(r->kind, d->kind, sizeof(r->kind));
    r->kind[sizeof(r->kind) - 1] = '\0';
    memcpy(r->secret_hash, d->secret_hash, sizeof(r->secret_hash));
    r->secret_hash[sizeof(r->secret_hash) - 1] = '\0';
    memcpy(r->firmware, d->firmware, sizeof(r->firmware));
    r->firmware[sizeof(r->firmware) - 1] = '\0';
    r->status = d->status;
    r->battery_pct = d->battery_pct;
    r->last_seen_us = d->last_seen_us;
    r->persisted_seen_us = d->last_seen_us;
    r->connected_us = d->connected_us;
    r->disconnected_us = d->disconnected_us;
    r->rssi_dbm = d->rssi_dbm;
    return 0;
}

static int collect_assignment(void *arg, const struct assignment *a)
{
    struct reg_snap *s = arg;
    if (s->n_asg == s->cap_asg) {
        uint32_t cap = s->cap_asg ? s->cap_asg * 2 : 256;
        struct assignment *n = hx_alloc_array(cap, sizeof(*n));
        if (!n)
            return -ENOMEM;
        if (s->n_asg)
            memcpy(n, s->asg, s->n_asg * sizeof(*n));
        free(s->asg);
        s->asg = n;
        s->cap_asg = cap;
    }
    s->asg[s->n_asg++] = *a;
    return 0;
}

static int build_index(struct reg_snap *s)
{
    uint32_t size = 16;
    while (size < 2 * (uint64_t)s->n_dev)
        size *= 2;
    s->by_uid = hx_alloc_array(size, sizeof(uint32_t));
    s->by_id = hx_alloc_array(size, sizeof(uint32_t));
    if (!s->by_uid || !s->by_id)
        return -ENOMEM;
    memset(s->by_uid, 0, size * sizeof(uint32_t));
    memset(s->by_id, 0, size * sizeof(uint32_t));
    s->mask = size - 1;
    for (uint32_t i = 0; i < s->n_dev; i++) {
        uint32_t j = (uint32_t)hash_bytes(s->dev[i].uid, strlen(s->dev[i].uid)) & s->mask;
        while (s->by_uid[j])
            j = (j + 1) & s->mask;
        s->by_uid[j] = i + 1;
        j = (uint32_t)hash_id(s->dev[i].id) & s->mask;
        while (s->by_id[j])
            j = (j + 1) & s->mask;
        s->by_id[j] = i + 1;
    }
    return 0;
}

/* Reads everything into a new snapshot. Runs on a worker (or the main thread at start). */
static int build_snapshot(struct store *st, struct reg_snap **out)
{
    struct reg_snap *s = hx_xcalloc(1, sizeof(*s));
    s->loaded_us = hx_time_now_us();
    int rc = store_device_list(st, collect_device, s);
    for (uint32_t i = 0; rc == 0 && i < s->n_dev; i++) {
        s->dev[i].first_asg = s->n_asg;
        rc = store_assignment_list(st, s->dev[i].id, collect_assignment, s);
        s->dev[i].n_asg = s->n_asg - s->dev[i].first_asg;
    }
    if (rc == 0)
        rc = build_index(s);
    if (rc < 0) {
        snap_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static const struct reg_device *snap_find_id(const struct reg_snap *s, int64_t id)
{
    if (!s || !s->by_id)
        return NULL;
    for (uint32_t j = (uint32_t)hash_id(id) & s->mask; s->by_id[j]; j = (j + 1) & s->mask) {
        const struct reg_device *d = &s->dev[s->by_id[j] - 1];
        if (d->id == id)
            return d;
    }
    return NULL;
}

/* Installs snap as current, carrying over live status reported since the old one. */
static void swap_in(struct registry *r, struct reg_snap *snap)
{
    struct reg_snap *old = r->cur;
    if (old) {
        for (uint32_t i = 0; i < snap->n_dev; i++) {
            struct reg_device *d = &snap->dev[i];
            const struct reg_device *o = snap_find_id(old, d->id);
            if (!o)
                continue;
            /* A pending presence update stays pending (at most one per device), and the
             * rate limit does not refill with a new snapshot. */
            d->dirty = o->dirty;
            d->rate_tokens = o->rate_tokens;
            d->rate_us = o->rate_us;
            if (!o->live || o->last_seen_us < d->last_seen_us)
                continue;
            if (o->connected_us > d->connected_us)
                d->connected_us = o->connected_us;
            if (o->disconnected_us > d->disconnected_us)
                d->disconnected_us = o->disconnected_us;
            if (o->persisted_seen_us > d->persisted_seen_us)
                d->persisted_seen_us = o->persisted_seen_us;
            d->battery_pct = o->battery_pct;
            memcpy(d->firmware, o->firmware, sizeof(d->firmware));
            d->rssi_dbm = o->rssi_dbm;
            d->last_seen_us = o->last_seen_us;
            d->live = true;
        }
    }
    r->cur = snap;
    snap_free(old);
    r->stats.refreshes++;
    r->stats.n_devices = snap->n_dev;
    r->stats.n_assignments = snap->n_asg;
    r->stats.loaded_us = snap->loaded_us;
}

int reg_new(struct registry **out, uv_loop_t *loop, const struct cfg_store *cfg, char *err,
            size_t err_len)
{
    *out = NULL;
    struct store *st;
    int rc = store_open(&st, cfg, STORE_OPEN_READONLY, err, err_len);
    if (rc < 0)
        return rc;
    struct registry *r = hx_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->st = st;
    r->cfg = *cfg;
    struct reg_snap *snap;
    rc = build_snapshot(st, &snap);
    if (rc < 0) {
        snprintf(err, err_len, "cannot load the device registry: %s", hx_strerror(rc));
        store_close(st);
        free(r);
        return rc;
    }
    swap_in(r, snap);
    log_info(NULL, "registry", "device registry loaded", "devices=%u assignments=%u", snap->n_dev,
             snap->n_asg);
    *out = r;
    return 0;
}

int reg_reload(struct registry *r)
{
    if (r->busy)
        return HX_EBUSY;
    if (!r->st)
        return HX_ESTORE;
    struct reg_snap *snap;
    int rc = build_snapshot(r->st, &snap);
    if (rc < 0)
        return rc;
    swap_in(r, snap);
    return 0;
}

static void refresh_work(uv_work_t *req)
{
    struct reg_job *job = req->data;
    struct registry *r = job->r;
    /* A fresh connection per refresh: a long-lived read-only connection was seen to keep
     * returning its first snapshot after other processes wrote (see docs/internals). Opening
     * costs about a millisecond every interval. */
    char err[256];
    store_close(r->st);
    r->st = NULL;
    job->rc = store_open(&r->st, &r->cfg, STORE_OPEN_READONLY, err, sizeof(err));
    if (job->rc == 0)
        job->rc = build_snapshot(r->st, &job->snap);
}

static void refresh_after(uv_work_t *req, int status)
{
    struct reg_job *job = req->data;
    struct registry *r = job->r;
    r->busy = false;
    log_debug(NULL, "registry", "refresh done", "status=%d rc=%d devices=%u", status, job->rc,
              job->snap ? job->snap->n_dev : 0);
    if (status == 0 && job->rc == 0 && !r->stopping) {
        uint32_t before = r->stats.n_devices;
        swap_in(r, job->snap);
        job->snap = NULL;
        if (before != r->stats.n_devices)
            log_info(NULL, "registry", "device registry changed", "devices=%u assignments=%u",
                     r->stats.n_devices, r->stats.n_assignments);
    } else if (!r->stopping) {
        r->stats.refresh_failed++;
        log_warn(NULL, "registry", "refreshing the device registry failed; keeping the old one",
                 "err=\"%s\"", hx_strerror(status < 0 ? status : job->rc));
    }
    snap_free(job->snap);
    free(job);
}

static void on_tick(uv_timer_t *t)
{
    struct registry *r = t->data;
    if (r->stopping)
        return;
    if (r->busy) {
        r->stats.refresh_skipped++;
        return;
    }
    struct reg_job *job = hx_xcalloc(1, sizeof(*job));
    job->r = r;
    job->req.data = job;
    int rc = uv_queue_work(r->loop, &job->req, refresh_work, refresh_after);
    if (rc < 0) {
        free(job);
        r->stats.refresh_failed++;
        return;
    }
    r->busy = true;
}

int reg_refresh_start(struct registry *r, uint32_t interval_ms)
{
    r->interval_ms = interval_ms ? interval_ms : REG_REFRESH_MS;
    int rc = uv_timer_init(r->loop, &r->timer);
    if (rc < 0)
        return rc;
    r->timer.data = r;
    r->timer_started = true;
    return uv_timer_start(&r->timer, on_tick, r->interval_ms, r->interval_ms);
}

void reg_stop(struct registry *r)
{
    if (!r || r->stopping)
        return;
    r->stopping = true;
    if (r->timer_started)
        uv_close((uv_handle_t *)&r->timer, NULL);
}

void reg_free(struct registry *r)
{
    if (!r)
        return;
    assert(!r->busy && !r->pbusy);
    snap_free(r->cur);
    if (r->st)
        store_close(r->st);
    if (r->pst)
        store_close(r->pst);
    free(r->pend);
    free(r);
}

const struct reg_device *reg_find(const struct registry *r, struct slice uid)
{
    const struct reg_snap *s = r->cur;
    if (!s || uid.len == 0 || uid.len >= DEV_ID_MAX)
        return NULL;
    for (uint32_t j = (uint32_t)hash_bytes(uid.ptr, uid.len) & s->mask; s->by_uid[j];
         j = (j + 1) & s->mask) {
        const struct reg_device *d = &s->dev[s->by_uid[j] - 1];
        if (strlen(d->uid) == uid.len && memcmp(d->uid, uid.ptr, uid.len) == 0)
            return d;
    }
    return NULL;
}

const struct reg_device *reg_find_id(const struct registry *r, int64_t id)
{
    return snap_find_id(r->cur, id);
}

int64_t reg_patient_at(const struct registry *r, const struct reg_device *d, int64_t t_us)
{
    const struct reg_snap *s = r->cur;
    /* Newest first: the first assignment that started at or before t decides. */
    for (uint32_t i = 0; i < d->n_asg; i++) {
        const struct assignment *a = &s->asg[d->first_asg + i];
        if (a->start_us <= t_us && (a->end_us == 0 || t_us < a->end_us))
            return a->patient_id;
    }
    return 0;
}

static struct reg_device *find_mut(struct registry *r, int64_t id)
{
    return (struct reg_device *)snap_find_id(r->cur, id);
}

/* ---- presence writer ---------------------------------------------------------------------- */

static void presence_work(uv_work_t *req)
{
    struct presence_job *job = req->data;
    struct registry *r = job->r;
    if (!r->pst) {
        char err[256];
        int rc = store_open(&r->pst, &r->cfg, 0, err, sizeof(err));
        if (rc < 0) {
            r->pst = NULL;
            job->rc = rc;
            job->n_failed = job->n_items;
            return;
        }
    }
    /* One transaction for the whole job: a reconnect storm of thousands of devices is one
     * commit, not thousands of commits queueing for the write lock ahead of the writer. */
    int brc = store_begin(r->pst);
    for (uint32_t i = 0; brc == 0 && i < job->n_items; i++) {
        int rc = store_device_update_presence(r->pst, job->items[i].device_id, &job->items[i].p);
        if (rc < 0 && rc != HX_ENOTFOUND) { /* a device removed meanwhile is not a failure */
            job->n_failed++;
            if (!job->rc)
                job->rc = rc;
        }
    }
    if (brc == 0 && job->rc == 0)
        brc = store_commit(r->pst);
    else
        store_rollback(r->pst);
    if (brc < 0) {
        job->n_failed = job->n_items;
        if (!job->rc)
            job->rc = brc;
    } else if (job->rc) {
        job->n_failed = job->n_items; /* rolled back whole */
    }
}

static void presence_kick(struct registry *r);

static void presence_after(uv_work_t *req, int status)
{
    struct presence_job *job = req->data;
    struct registry *r = job->r;
    r->pbusy = false;
    if (status < 0 && !job->rc) {
        job->rc = status;
        job->n_failed = job->n_items;
    }
    r->stats.presence_writes += job->n_items - job->n_failed;
    r->stats.presence_failed += job->n_failed;
    if (job->rc)
        log_warn(NULL, "registry", "storing device presence failed", "devices=%u err=\"%s\"",
                 job->n_failed, hx_strerror(job->rc));
    free(job->items);
    free(job);
    presence_kick(r); /* whatever became dirty meanwhile, also while stopping */
}

/* Queues one job for every dirty device unless one is running (it re-kicks when done). */
static void presence_kick(struct registry *r)
{
    if (r->pbusy || r->n_pend == 0)
        return;
    struct presence_job *job = hx_xcalloc(1, sizeof(*job));
    job->r = r;
    job->req.data = job;
    job->items = hx_alloc_array(r->n_pend, sizeof(*job->items));
    if (!job->items) {
        free(job);
        return; /* stays pending; retried at the next kick */
    }
    for (uint32_t i = 0; i < r->n_pend; i++) {
        struct reg_device *d = (struct reg_device *)snap_find_id(r->cur, r->pend[i]);
        if (!d || !d->dirty)
            continue;
        struct presence_item *it = &job->items[job->n_items++];
        it->device_id = d->id;
        it->p = (struct dev_presence){.connected_us = d->connected_us,
                                      .disconnected_us = d->disconnected_us,
                                      .last_seen_us = d->last_seen_us,
                                      .battery_pct = d->battery_pct,
                                      .rssi_dbm = d->rssi_dbm};
        memcpy(it->p.firmware, d->firmware, sizeof(it->p.firmware));
        d->dirty = false;
        d->persisted_seen_us = d->last_seen_us;
    }
    r->n_pend = 0;
    if (job->n_items == 0 || uv_queue_work(r->loop, &job->req, presence_work, presence_after) < 0) {
        r->stats.presence_failed += job->n_items;
        free(job->items);
        free(job);
        return;
    }
    r->pbusy = true;
}

/* Marks d for the presence writer (once until the job copies it) and kicks the writer. */
static void presence_mark(struct registry *r, struct reg_device *d)
{
    if (!d->dirty) {
        if (r->n_pend == r->cap_pend) {
            uint32_t cap = r->cap_pend ? r->cap_pend * 2 : 64;
            int64_t *n = hx_alloc_array(cap, sizeof(*n));
            if (!n)
                return; /* not persisted this time; the live value is still in the snapshot */
            if (r->n_pend)
                memcpy(n, r->pend, r->n_pend * sizeof(*n));
            free(r->pend);
            r->pend = n;
            r->cap_pend = cap;
        }
        r->pend[r->n_pend++] = d->id;
        d->dirty = true;
    }
    presence_kick(r);
}

int reg_note_status(struct registry *r, int64_t device_id, const struct dev_status_update *u,
                    int64_t now_us)
{
    struct reg_device *d = find_mut(r, device_id);
    if (!d)
        return HX_ENOTFOUND;
    if (u->has_battery)
        d->battery_pct = u->battery_pct;
    if (u->has_firmware) {
        size_t n = strnlen(u->firmware, sizeof(u->firmware));
        if (n >= sizeof(d->firmware))
            n = sizeof(d->firmware) - 1;
        memcpy(d->firmware, u->firmware, n);
        d->firmware[n] = '\0';
    }
    if (u->has_rssi)
        d->rssi_dbm = u->rssi_dbm;
    d->last_seen_us = now_us;
    d->live = true;
    presence_mark(r, d);
    if (r->obs.status)
        r->obs.status(r->obs.arg, device_id, u->has_battery ? u->battery_pct : -1,
                      u->has_rssi ? u->rssi_dbm : 0, now_us);
    return 0;
}

void reg_set_observer(struct registry *r, const struct reg_observer *o)
{
    if (o)
        r->obs = *o;
    else
        memset(&r->obs, 0, sizeof(r->obs));
}

int reg_note_seen(struct registry *r, int64_t device_id, int64_t now_us)
{
    struct reg_device *d = find_mut(r, device_id);
    if (!d)
        return HX_ENOTFOUND;
    d->last_seen_us = now_us;
    d->live = true;
    if (now_us - d->persisted_seen_us >= REG_SEEN_PERSIST_US)
        presence_mark(r, d);
    return 0;
}

bool reg_rate_allow(struct registry *r, int64_t device_id, int64_t now_us, uint32_t rate)
{
    struct reg_device *d = find_mut(r, device_id);
    if (!d || rate == 0)
        return true;
    double burst = 2.0 * rate;
    if (d->rate_us == 0) {
        d->rate_tokens = burst;
    } else if (now_us > d->rate_us) {
        d->rate_tokens += (double)(now_us - d->rate_us) * rate / 1e6;
        if (d->rate_tokens > burst)
            d->rate_tokens = burst;
    }
    d->rate_us = now_us > d->rate_us ? now_us : d->rate_us;
    if (d->rate_tokens < 1.0)
        return false;
    d->rate_tokens -= 1.0;
    return true;
}

int reg_note_connect(struct registry *r, int64_t device_id, int64_t now_us)
{
    struct reg_device *d = find_mut(r, device_id);
    if (!d)
        return HX_ENOTFOUND;
    d->connected_us = d->last_seen_us = now_us;
    d->live = true;
    presence_mark(r, d);
    if (r->obs.presence)
        r->obs.presence(r->obs.arg, device_id, true, now_us);
    return 0;
}

int reg_note_disconnect(struct registry *r, int64_t device_id, int64_t now_us)
{
    struct reg_device *d = find_mut(r, device_id);
    if (!d)
        return HX_ENOTFOUND;
    d->disconnected_us = d->last_seen_us = now_us;
    d->live = true;
    presence_mark(r, d);
    if (r->obs.presence)
        r->obs.presence(r->obs.arg, device_id, false, now_us);
    return 0;
}

void reg_get_stats(const struct registry *r, struct reg_stats *out)
{
    *out = r->stats;
}
