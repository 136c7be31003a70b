/*
 * The live stream, GET /api/v1/stream (permission stream; docs/api.md "Live stream"):
 * server-sent events of new readings (a pipeline observer) and alert transitions (the
 * alerts listener), each filtered to the caller's care scope.
 *
 * One hub per API. Each event is formatted ONCE into its own buffer ("id: N\nevent: T\n
 * data: {...}\n\n"), kept in a replay ring of the last STREAM_RING events, and written to
 * every live client whose scope covers its patient. Writes coalesce: events within
 * STREAM_COALESCE_MS of the last write wait for the end of that window and go out together
 * (an isolated event goes at once). A client's scope (the patient ids it
 * may see) is computed at connect on a worker (its wards' patients plus its caseload, own
 * record for a patient, everything for a token without a ward) and refreshed every
 * STREAM_REFRESH_MS, which also ends the stream of a credential that no longer holds
 * (revoked or expired token, logged-out or revoked session, disabled user, lost
 * permission). Until the scope is known the client is not live; when it goes live the
 * ring replays what it missed meanwhile (or since its Last-Event-ID), so there is no gap.
 * A Last-Event-ID older than the ring (or from another server run) gets an event "reset":
 * reload, then follow. Event ids start at the server's start time in microseconds and rise
 * by one, so they also rise across restarts.
 * Backpressure: a client whose write queue is over http.stream_queue_bytes is dropped
 * (http_stream_abort); nothing blocks and nothing buffers beyond that cap. Heartbeat: a
 * ": ping" comment every STREAM_PING_MS. Drain (api_stop): every stream ends in order.
 * Layer: api. Thread: loop, except scope_work (a worker).
 */
#include "api/api_int.h"
#include "alerts/alerts.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "domain/alert.h"
#include "domain/codes.h"
#include "ingest/pipeline.h"
#include "ingest/registry.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events kept for Last-Event-ID replay. */
#define STREAM_RING 10000
/* Heartbeat comment interval. */
#define STREAM_PING_MS 15000
/* How often each client's scope is computed again (new admissions, ward changes). */
#define STREAM_REFRESH_MS 30000
/* Writes to one client are at least this far apart: events arriving within the window go
 * out together (an isolated event goes at once). Bounds the syscalls of a busy fan-out. */
#define STREAM_COALESCE_MS 20
/* Most clients at once (each holds a connection; http.max_connections caps them too). */
#define STREAM_CLIENTS_MAX 20000

/* One formatted event in the ring. */
struct sse_event {
    uint64_t id;        /* event id */
    int64_t patient_id; /* the patient it is about, 0 when none (technical alerts) */
    char *text;         /* owned: the whole event, wire format */
    size_t len;         /* bytes in text */
};

struct stream_client {
    struct api_stream *hub;
    struct http_exchange *x;           /* NULL once finished */
    struct principal who;              /* the caller at connect (wards refreshed) */
    struct stream_client *prev, *next; /* in hub->clients while live */
    uint64_t resume_after;             /* replay events with a larger id when going live */
    bool has_last_id;                  /* the client sent Last-Event-ID */
    bool live;                         /* stream begun, linked, receiving */
    bool job;                          /* a scope job is in flight (it frees a gone client) */
    bool gone;                         /* finished while a job was in flight */
    bool all;                          /* sees every patient */
    int64_t *ids;                      /* owned: sorted patient ids in scope */
    size_t n_ids;                      /* entries in ids */
};

struct api_stream {
    struct api *a;
    struct sse_event ring[STREAM_RING]; /* circular: oldest at head */
    size_t head;                        /* index of the oldest event */
    size_t count;                       /* events in the ring */
    uint64_t next_id;                   /* id of the next event */
    struct stream_client *clients;      /* live clients */
    size_t n_clients;                   /* clients connected (live or starting) */
    uv_timer_t ping;                    /* heartbeat */
    uv_timer_t refresh;                 /* scope refresh */
    uv_timer_t flush;                   /* coalescing window (STREAM_COALESCE_MS) */
    bool flush_armed;                   /* flush is running */
    uint64_t last_flush_ms;             /* uv_now at the last flush */
    struct http_buf pend;               /* events not yet written, back to back */
    struct pend_seg *segs;              /* owned: one per pending event */
    size_t n_segs, cap_segs;            /* entries used, allocated */
    bool timers;                        /* timers initialised (first client) */
    int timers_open;                    /* timer handles not yet closed */
    bool stopped;                       /* api_stop: no more clients or events */
    bool free_asked;                    /* api__stream_free called: free on last close */
    uint64_t dropped;                   /* clients dropped for not keeping up */
};

/* A pending event inside api_stream.pend. */
struct pend_seg {
    int64_t patient_id; /* as sse_event.patient_id */
    size_t off, len;    /* its bytes in pend */
};

static void flush_pending(struct api_stream *h);

/* ---- scope -------------------------------------------------------------------------------- */

struct scope_job {
    struct stream_client *c;
    struct principal who; /* refreshed copy (users: wards re-read) */
    int64_t *ids;         /* owned until handed to c */
    size_t n, cap;
    bool all;
    bool revoked; /* the credential no longer holds (revoked, expired, disabled, no perm) */
    int rc;
};

static int add_id(struct scope_job *s, int64_t id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof(*s->ids))
            return -ENOMEM;
        s->ids = hx_xrealloc(s->ids, cap * sizeof(*s->ids));
        s->cap = cap;
    }
    s->ids[s->n++] = id;
    return 0;
}

static int collect_patient(void *arg, const struct patient *p)
{
    return add_id(arg, p->id);
}

static int collect_id(void *arg, int64_t id)
{
    return add_id(arg, id);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

struct session_find {
    int64_t id;     /* the session to find */
    int64_t now_us; /* to check its absolute expiry */
    bool live;      /* OUT: found and not expired */
};

static int find_session(void *arg, const struct store_session *ss)
{
    struct session_find *f = arg;
    if (ss->id == f->id)
        f->live = ss->expires_us > f->now_us;
    return 0;
}

/* Whether the stream's credential still holds: the token is not revoked or expired; the user
 * is not disabled and the session not logged out, revoked or past its absolute timeout (the
 * idle timeout does not apply: the open stream is the session's use). Refreshes a user's
 * principal (wards, role). A store error keeps the stream (checked again next round). */
static bool credential_holds(struct store *st, struct principal *p, int64_t now_us)
{
    if (p->is_token) {
        struct store_apitoken t;
        int rc = store_apitoken_get(st, p->name, &t);
        if (rc == HX_ENOTFOUND)
            return false;
        return rc < 0 || (t.revoked_us == 0 && (t.expires_us == 0 || t.expires_us > now_us));
    }
    if (p->user_id <= 0)
        return false;
    struct store_user u;
    int rc = store_user_get_by_id(st, p->user_id, &u);
    if (rc == HX_ENOTFOUND)
        return false;
    if (rc < 0)
        return true;
    if (u.disabled)
        return false;
    struct session_find f = {.id = p->session_id, .now_us = now_us};
    if (p->session_id > 0 && store_session_list(st, p->user_id, find_session, &f) == 0 && !f.live)
        return false;
    struct principal fresh;
    if (rbac_principal_for_user(st, &u, p->session_id, &fresh) == 0)
        *p = fresh;
    return rbac_principal_allows(p, RBAC_PERM_STREAM);
}

static int scope_work(struct store *st, void *arg)
{
    struct scope_job *s = arg;
    struct principal *p = &s->who;
    if (!credential_holds(st, p, hx_time_now_us())) {
        s->revoked = true;
        return 0;
    }
    if (p->is_token && p->all_wards) {
        s->all = true;
        return 0;
    }
    if (p->role == RBAC_ROLE_PATIENT) {
        if (p->patient_id > 0)
            s->rc = add_id(s, p->patient_id);
        return 0;
    }
    if (!p->is_token && !rbac_role_is_clinical(p->role))
        return 0; /* no clinical data: technical alerts only */
    for (int i = 0; i < p->n_wards && s->rc == 0; i++)
        s->rc = store_patient_list(st, p->wards[i], collect_patient, s);
    if (!p->is_token && s->rc == 0)
        s->rc = store_user_patient_list(st, p->user_id, collect_id, s);
    if (s->n)
        qsort(s->ids, s->n, sizeof(*s->ids), cmp_id);
    return 0;
}

static bool in_scope(const struct stream_client *c, int64_t patient_id)
{
    if (c->all)
        return true;
    if (patient_id == 0)
        return c->who.role != RBAC_ROLE_PATIENT; /* technical alerts: staff and tokens */
    return bsearch(&patient_id, c->ids, c->n_ids, sizeof(*c->ids), cmp_id) != NULL;
}

/* ---- clients ------------------------------------------------------------------------------ */

static void client_unlink(struct stream_client *c)
{
    struct api_stream *h = c->hub;
    if (!c->live)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->live = false;
}

/* Finishes c's exchange (how: 0 end in order, 1 abort, 2 answer 503 before the stream began)
 * and frees c unless a job still refers to it. */
static void client_finish(struct stream_client *c, int how)
{
    struct api_stream *h = c->hub;
    client_unlink(c);
    if (c->x) {
        struct http_exchange *x = c->x;
        c->x = NULL;
        http_exchange_on_close(x, NULL, NULL);
        if (how == 2)
            http_error(x, 503, "unavailable", "the server is shutting down");
        else if (how == 1)
            http_stream_abort(x);
        else
            http_stream_end(x);
        h->n_clients--;
    }
    if (c->job) {
        c->gone = true;
        return;
    }
    free(c->ids);
    free(c);
}

static void client_gone(struct http_exchange *x, void *arg)
{
    struct stream_client *c = arg;
    (void)x;
    client_finish(c, c->live ? 0 : 2);
}

/* Writes one piece to c; drops c when it does not keep up. Returns false when c is gone. */
static bool client_send(struct stream_client *c, const char *p, size_t len)
{
    if (http_stream_is_congested(c->x)) {
        c->hub->dropped++;
        log_warn(http_exchange_log_ctx(c->x), "api",
                 "dropping a live-stream client: it does not keep up", "queued=%zu",
                 http_stream_queued(c->x));
        client_finish(c, 1);
        return false;
    }
    int rc = http_stream_write(c->x, p, len);
    if (rc == HX_ETOOBIG) {
        c->hub->dropped++;
        client_finish(c, 1);
        return false;
    }
    return true; /* HX_ESHUTDOWN: the client left; its on_close follows */
}

static const struct sse_event *ring_at(const struct api_stream *h, size_t i)
{
    return &h->ring[(h->head + i) % STREAM_RING];
}

/* The stream begins: headers, replay (or reset), then live. */
static void client_go_live(struct stream_client *c)
{
    struct api_stream *h = c->hub;
    struct http_exchange *x = c->x;
    /* Pending events are in the ring already: send them to the others now, so that the
     * replay below does not meet them again in the next flush. */
    if (h->flush_armed) {
        uv_timer_stop(&h->flush);
        h->flush_armed = false;
    }
    flush_pending(h);
    http_add_header(x, "Cache-Control", "no-cache");
    http_add_header(x, "X-Accel-Buffering", "no");
    if (http_stream_begin(x, 200, "text/event-stream") < 0) {
        client_finish(c, 0);
        return;
    }
    static const char hello[] = "retry: 2000\n\n";
    if (!client_send(c, hello, sizeof(hello) - 1))
        return;
    uint64_t oldest = h->count ? ring_at(h, 0)->id : h->next_id;
    if (c->has_last_id && (c->resume_after + 1 < oldest || c->resume_after >= h->next_id)) {
        /* A gap we cannot fill (or an id from another run): the client must reload. */
        char reset[96];
        int n = snprintf(reset, sizeof(reset), "id: %" PRIu64 "\nevent: reset\ndata: {}\n\n",
                         h->next_id - 1);
        if (!client_send(c, reset, (size_t)n))
            return;
    } else {
        for (size_t i = 0; i < h->count; i++) {
            const struct sse_event *e = ring_at(h, i);
            if (e->id <= c->resume_after || !in_scope(c, e->patient_id))
                continue;
            if (!client_send(c, e->text, e->len))
                return;
        }
    }
    c->live = true;
    c->next = h->clients;
    if (h->clients)
        h->clients->prev = c;
    h->clients = c;
}

static void scope_done(void *arg, int status)
{
    struct scope_job *s = arg;
    struct stream_client *c = s->c;
    c->job = false;
    if (c->gone) {
        free(s->ids);
        free(s);
        free(c->ids);
        free(c);
        return;
    }
    if (status == 0 && s->revoked) {
        free(s->ids);
        free(s);
        client_finish(c, c->live ? 0 : 2);
        return;
    }
    if (status < 0 || s->rc < 0) {
        log_warn(http_exchange_log_ctx(c->x), "api", "cannot compute a live-stream scope",
                 "err=\"%s\"", hx_strerror(status < 0 ? status : s->rc));
        free(s->ids);
        free(s);
        if (!c->live)
            client_finish(c, 2);
        return; /* a live client keeps its previous scope */
    }
    free(c->ids);
    c->ids = s->ids;
    c->n_ids = s->n;
    c->all = s->all;
    c->who = s->who;
    free(s);
    if (!c->live && c->hub->stopped)
        client_finish(c, 2);
    else if (!c->live)
        client_go_live(c);
}

static int scope_start(struct stream_client *c)
{
    struct scope_job *s = hx_xcalloc(1, sizeof(*s));
    s->c = c;
    s->who = c->who;
    int rc = store_pool_submit(c->hub->a->pool, scope_work, scope_done, s);
    if (rc < 0) {
        free(s);
        return rc;
    }
    c->job = true;
    return 0;
}

/* ---- timers ------------------------------------------------------------------------------- */

static void on_ping(uv_timer_t *t)
{
    struct api_stream *h = t->data;
    static const char ping[] = ": ping\n\n";
    for (struct stream_client *c = h->clients, *next; c; c = next) {
        next = c->next;
        client_send(c, ping, sizeof(ping) - 1);
    }
}

static void on_refresh(uv_timer_t *t)
{
    struct api_stream *h = t->data;
    for (struct stream_client *c = h->clients; c; c = c->next)
        if (!c->job)
            (void)scope_start(c); /* on failure the old scope stays until the next round */
}

static void timers_start(struct api_stream *h)
{
    if (h->timers)
        return;
    h->timers = true;
    uv_timer_init(h->a->loop, &h->ping);
    uv_timer_init(h->a->loop, &h->refresh);
    uv_timer_init(h->a->loop, &h->flush);
    h->ping.data = h->refresh.data = h->flush.data = h;
    h->timers_open = 3;
    uv_timer_start(&h->ping, on_ping, STREAM_PING_MS, STREAM_PING_MS);
    uv_timer_start(&h->refresh, on_refresh, STREAM_REFRESH_MS, STREAM_REFRESH_MS);
}

static void hub_release(struct api_stream *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->ring[(h->head + i) % STREAM_RING].text);
    http_buf_release(&h->pend);
    free(h->segs);
    free(h);
}

static void on_timer_closed(uv_handle_t *t)
{
    struct api_stream *h = t->data;
    if (--h->timers_open == 0 && h->free_asked)
        hub_release(h);
}

/* ---- events ------------------------------------------------------------------------------- */

/* Writes the pending events to every live client: all of them in one write to a client
 * that sees every patient, else each run of consecutive in-scope events in one write. */
static void flush_pending(struct api_stream *h)
{
    h->last_flush_ms = uv_now(h->a->loop);
    if (h->n_segs == 0)
        return;
    for (struct stream_client *c = h->clients, *next; c; c = next) {
        next = c->next;
        if (c->all) {
            client_send(c, h->pend.ptr, h->pend.len);
            continue;
        }
        size_t run_off = 0, run_len = 0;
        bool ok = true;
        for (size_t i = 0; i < h->n_segs && ok; i++) {
            const struct pend_seg *sg = &h->segs[i];
            if (in_scope(c, sg->patient_id)) {
                if (run_len == 0)
                    run_off = sg->off;
                run_len += sg->len;
            } else if (run_len) {
                ok = client_send(c, h->pend.ptr + run_off, run_len);
                run_len = 0;
            }
        }
        if (ok && run_len)
            client_send(c, h->pend.ptr + run_off, run_len);
    }
    h->pend.len = 0;
    h->n_segs = 0;
}

static void on_flush(uv_timer_t *t)
{
    struct api_stream *h = t->data;
    h->flush_armed = false;
    flush_pending(h);
}

/* Queues text for every live client whose scope covers patient_id: written at once when
 * the last write is STREAM_COALESCE_MS old, else at the end of the window. */
static void fan_out(struct api_stream *h, int64_t patient_id, const char *text, size_t len)
{
    if (!h->clients)
        return;
    if (h->n_segs == h->cap_segs) {
        h->cap_segs = h->cap_segs ? h->cap_segs * 2 : 64;
        h->segs = hx_xrealloc(h->segs, h->cap_segs * sizeof(*h->segs));
    }
    h->segs[h->n_segs++] =
        (struct pend_seg){.patient_id = patient_id, .off = h->pend.len, .len = len};
    http_buf_append(&h->pend, text, len);
    if (h->flush_armed)
        return;
    uint64_t now = uv_now(h->a->loop);
    if (now >= h->last_flush_ms + STREAM_COALESCE_MS) {
        flush_pending(h);
        return;
    }
    h->flush_armed = true;
    uv_timer_start(&h->flush, on_flush, h->last_flush_ms + STREAM_COALESCE_MS - now, 0);
}

/* Formats an event once and keeps it in the ring. data is taken. Returns the ring entry
 * (valid until the next event), NULL when data is NULL or on OOM. */
static const struct sse_event *ring_put(struct api_stream *h, const char *type, int64_t patient_id,
                                        json_t *data)
{
    if (!data)
        return NULL;
    char *json = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (!json)
        return NULL;
    uint64_t id = h->next_id++;
    size_t cap = strlen(json) + strlen(type) + 64;
    char *text = hx_xmalloc(cap);
    int n = snprintf(text, cap, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", id, type, json);
    free(json);
    struct sse_event *e;
    if (h->count == STREAM_RING) {
        e = &h->ring[h->head];
        free(e->text);
        h->head = (h->head + 1) % STREAM_RING;
    } else {
        e = &h->ring[(h->head + h->count) % STREAM_RING];
        h->count++;
    }
    *e = (struct sse_event){.id = id, .patient_id = patient_id, .text = text, .len = (size_t)n};
    return e;
}

static void on_obs(void *arg, const struct obs *obs, size_t n, int64_t now_us)
{
    struct api_stream *h = arg;
    (void)now_us;
    if (h->stopped)
        return;
    /* The readings of one message go out as one write per client (they share a patient
     * unless the device was reassigned in between: then each goes on its own). */
    struct http_buf batch = {0};
    int64_t batch_pid = n ? obs[0].patient_id : 0;
    for (size_t i = 0; i < n; i++) {
        const struct obs *o = &obs[i];
        const struct obs_code *oc = obs_code_get(o->code);
        char t[40], rt[40];
        hx_time_format_rfc3339(o->effective_us, t, sizeof(t));
        hx_time_format_rfc3339(o->received_us, rt, sizeof(rt));
        const struct reg_device *d = h->a->reg ? reg_find_id(h->a->reg, o->device_id) : NULL;
        json_t *j =
            json_pack("{s:I, s:s, s:s, s:f, s:s, s:s, s:s, s:I, s:I}", "patient_id",
                      (json_int_t)o->patient_id, "code", oc ? oc->loinc : "", "name",
                      oc ? oc->senml_name : "", "value", o->value, "unit", oc ? oc->ucum : "",
                      "time", t, "received", rt, "device_id", (json_int_t)o->device_id,
                      "effective_us", (json_int_t)o->effective_us);
        if (j && d)
            json_object_set_new(j, "device", json_string(d->uid));
        const struct sse_event *e = ring_put(h, "observation", o->patient_id, j);
        if (!e)
            continue;
        if (o->patient_id != batch_pid) {
            if (batch.len)
                fan_out(h, batch_pid, batch.ptr, batch.len);
            batch.len = 0;
            batch_pid = o->patient_id;
        }
        http_buf_append(&batch, e->text, e->len);
    }
    if (batch.len)
        fan_out(h, batch_pid, batch.ptr, batch.len);
    http_buf_release(&batch);
}

static void on_alert(void *arg, const struct alert *al, enum alert_event ev, const char *target)
{
    struct api_stream *h = arg;
    (void)target;
    if (h->stopped)
        return;
    char t[40];
    hx_time_format_rfc3339(al->updated_us, t, sizeof(t));
    json_t *j = json_pack("{s:I, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "alert_id",
                          (json_int_t)al->id, "transition", alert_event_name(ev), "patient_id",
                          (json_int_t)al->patient_id, "device_id", (json_int_t)al->device_id,
                          "rule", al->rule, "severity", alert_severity_name(al->severity), "state",
                          alert_state_name(al->state), "title", al->title, "time", t);
    if (j && isfinite(al->current_value))
        json_object_set_new(j, "value", json_real(al->current_value));
    if (j && al->code) {
        const struct obs_code *oc = obs_code_get(al->code);
        if (oc)
            json_object_set_new(j, "code", json_string(oc->loinc));
    }
    const struct sse_event *e = ring_put(h, "alert", al->patient_id, j);
    if (e)
        fan_out(h, e->patient_id, e->text, e->len);
}

/* ---- the route ---------------------------------------------------------------------------- */

/* Parses a decimal event id. */
static bool parse_id(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 19)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static void stream_open(struct http_exchange *x, void *arg)
{
    struct api *a = arg;
    struct api_stream *h = a->stream;
    if (!h || h->stopped || a->stopping) {
        http_error(x, 503, "unavailable", "the server is shutting down");
        return;
    }
    if (h->n_clients >= STREAM_CLIENTS_MAX) {
        http_error(x, 503, "too_many_streams", "too many live streams; try again later");
        return;
    }
    timers_start(h);
    struct stream_client *c = hx_xcalloc(1, sizeof(*c));
    c->hub = h;
    c->x = x;
    c->who = *api__principal(x);
    c->resume_after = h->next_id - 1;
    /* Last-Event-ID (EventSource reconnects), or ?last_event_id= for clients that cannot set
     * headers. */
    const struct http_header *lh = http_request_header(http_exchange_request(x), "Last-Event-ID");
    uint64_t last;
    if (lh && parse_id((const char *)lh->value.ptr, lh->value.len, &last)) {
        c->resume_after = last;
        c->has_last_id = true;
    } else {
        const struct http_query *q;
        const struct http_param *p;
        if (http_exchange_query(x, &q) == 0 && (p = http_query_get(q, "last_event_id")) &&
            parse_id(p->value, p->value_len, &last)) {
            c->resume_after = last;
            c->has_last_id = true;
        }
    }
    h->n_clients++;
    http_exchange_on_close(x, client_gone, c);
    if (c->who.is_token && c->who.all_wards) {
        c->all = true;
        client_go_live(c);
        return;
    }
    if (scope_start(c) < 0)
        client_finish(c, 2);
}

int api__stream_routes(struct api *a, struct http_router *r)
{
    struct api_stream *h = hx_xcalloc(1, sizeof(*h));
    h->a = a;
    h->next_id = (uint64_t)hx_time_now_us();
    a->stream = h;
    if (a->ingest) {
        int rc = ingest_add_observer(a->ingest, on_obs, h);
        if (rc < 0)
            return rc;
    }
    if (a->alerts)
        alerts_set_listener(a->alerts, on_alert, h);
    struct http_route_def d = {.method = "GET",
                               .pattern = "/api/v1/stream",
                               .fn = stream_open,
                               .arg = a,
                               .name = "stream",
                               .perm = "stream"};
    return http_router_add_route(r, &d);
}

void api__stream_stop(struct api *a)
{
    struct api_stream *h = a->stream;
    if (!h || h->stopped)
        return;
    h->stopped = true;
    if (a->ingest)
        ingest_remove_observer(a->ingest, on_obs, h);
    if (a->alerts)
        alerts_set_listener(a->alerts, NULL, NULL);
    flush_pending(h);
    while (h->clients)
        client_finish(h->clients, 0);
    if (h->timers) {
        uv_timer_stop(&h->flush);
        uv_timer_stop(&h->ping);
        uv_timer_stop(&h->refresh);
        uv_close((uv_handle_t *)&h->ping, on_timer_closed);
        uv_close((uv_handle_t *)&h->refresh, on_timer_closed);
        uv_close((uv_handle_t *)&h->flush, on_timer_closed);
    }
}

void api__stream_free(struct api *a)
{
    struct api_stream *h = a->stream;
    if (!h)
        return;
    a->stream = NULL;
    if (!h->stopped) {
        h->stopped = true;
        if (a->ingest)
            ingest_remove_observer(a->ingest, on_obs, h);
        if (a->alerts)
            alerts_set_listener(a->alerts, NULL, NULL);
    }
    h->free_asked = true;
    if (h->timers_open == 0)
        hub_release(h);
}
