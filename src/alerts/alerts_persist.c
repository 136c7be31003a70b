/*
 * Alert persistence: every transition is queued on the loop and written, with its audit
 * entry (actor system "rules", action alert.raised, alert.acknowledged, ...), as a side job of
 * the store writer thread (store_writer_submit_job: the writer's own connection, between two
 * observation commits, so alert writes never wait for SQLite's write lock behind the writer),
 * everything queued in one transaction, one job at a time. A failed write is put back at the
 * head of the queue and retried with the next transition or poll round, so nothing is
 * dropped; the store's alert row is always the latest state (INSERT OR REPLACE).
 * Thread safety: the queue belongs to the loop; a job owns the batch it took.
 * Thread: loop, except persist_work (the store writer thread).
 */
#include "alerts/alerts_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "security/audit.h"
#include "store/writer.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

struct persist_job {
    struct alerts *a;
    struct alerts__pending *items; /* taken from the queue */
    size_t n;
    int rc;
};

void alerts__persist(struct alerts *a, const struct alert *al, enum alert_event ev, const char *who,
                     const char *target)
{
    if (a->n_queue == a->cap_queue) {
        a->cap_queue = a->cap_queue ? 2 * a->cap_queue : 64;
        a->queue = hx_xrealloc(a->queue, a->cap_queue * sizeof(*a->queue));
    }
    struct alerts__pending *p = &a->queue[a->n_queue++];
    p->a = *al;
    memset(&p->t, 0, sizeof(p->t));
    p->t.alert_id = al->id;
    p->t.at_us = al->updated_us;
    p->t.event = (uint8_t)ev;
    p->t.severity = al->severity;
    snprintf(p->t.who, sizeof(p->t.who), "%s", target ? target : who ? who : "");
    /* The note (resolve) or the title then; a long note is cut in the history only. */
    const char *d = ev == ALERT_EV_RESOLVED && al->note[0] ? al->note : al->title;
    size_t n = strnlen(d, sizeof(p->t.detail) - 1);
    memcpy(p->t.detail, d, n);
    p->t.detail[n] = '\0';
    alerts__persist_kick(a);
}

/* Store writer thread: appends the audit entry of one transition (actor system "rules"; the
 * person behind an ack or resolve, or the escalation target, goes into details). No title,
 * detail or value: they may carry readings. */
static int audit_transition(struct store *st, const struct alerts__pending *p)
{
    char action[AUDIT_ACTION_MAX];
    snprintf(action, sizeof(action), "alert.%s", alert_event_name(p->t.event));
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)p->a.id);
    const char *who_key = p->t.event == ALERT_EV_ESCALATED ? "target" : "by";
    json_t *d =
        json_pack("{s:s, s:s, s:s}", "rule", p->a.rule, "severity",
                  alert_severity_name(p->t.severity), "state", alert_state_name(p->a.state));
    if (d && p->t.who[0])
        json_object_set_new(d, who_key, json_string(p->t.who));
    if (d && p->a.device_id)
        json_object_set_new(d, "device_id", json_integer(p->a.device_id));
    char *details = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(d);
    if (!details)
        return -ENOMEM;
    struct audit_entry e = {
        .actor_kind = AUDIT_ACTOR_SYSTEM,
        .actor = "rules",
        .action = action,
        .outcome = AUDIT_SUCCESS,
        .patient_id = p->a.patient_id,
        .object_type = "alert",
        .object_id = id,
        .details = details,
    };
    int rc = audit_append(st, &e, NULL);
    free(details);
    return rc;
}

static int persist_work(struct store *st, void *arg)
{
    struct persist_job *j = arg;
    /* Rows and transitions are separate arrays in the store call. */
    struct alert *rows = hx_xmalloc(j->n * sizeof(*rows));
    struct alert_transition *tr = hx_xmalloc(j->n * sizeof(*tr));
    for (size_t i = 0; i < j->n; i++) {
        rows[i] = j->items[i].a;
        tr[i] = j->items[i].t;
    }
    /* The transitions and their audit entries in one transaction: both or neither. */
    int rc = store_begin(st);
    if (rc == 0)
        rc = store_alert_save_batch(st, rows, tr, j->n);
    for (size_t i = 0; rc == 0 && i < j->n; i++)
        rc = audit_transition(st, &j->items[i]);
    if (rc == 0)
        rc = store_commit(st);
    else
        store_rollback(st);
    free(rows);
    free(tr);
    return rc;
}

static void persist_after(void *arg, int status)
{
    struct persist_job *j = arg;
    struct alerts *a = j->a;
    a->pbusy = false;
    j->rc = status;
    if (j->rc < 0) {
        a->persist_failed += j->n;
        log_warn(NULL, "alerts", "storing alert transitions failed; will retry",
                 "transitions=%zu err=\"%s\"", j->n, hx_strerror(j->rc));
        /* Back in front of anything queued since, in order. */
        size_t need = j->n + a->n_queue;
        if (need > a->cap_queue) {
            a->cap_queue = need;
            a->queue = hx_xrealloc(a->queue, a->cap_queue * sizeof(*a->queue));
        }
        memmove(a->queue + j->n, a->queue, a->n_queue * sizeof(*a->queue));
        memcpy(a->queue, j->items, j->n * sizeof(*j->items));
        a->n_queue = need;
        free(j->items);
        free(j);
        return; /* the next transition or poll round retries */
    }
    int64_t now = hx_time_now_us();
    a->persisted += j->n;
    for (size_t i = 0; i < j->n; i++) {
        int64_t rx = j->items[i].a.trigger_received_us;
        if (rx && j->items[i].t.event <= ALERT_EV_UPDATED && now >= rx)
            hx_hist_record(&a->persist_lat, (uint64_t)(now - rx));
    }
    free(j->items);
    free(j);
    alerts__persist_kick(a);
}

void alerts__persist_kick(struct alerts *a)
{
    if (a->pbusy || a->n_queue == 0)
        return;
    struct persist_job *j = hx_xcalloc(1, sizeof(*j));
    j->a = a;
    j->items = a->queue;
    j->n = a->n_queue;
    a->queue = NULL;
    a->n_queue = a->cap_queue = 0;
    if (store_writer_submit_job(a->writer, persist_work, persist_after, j) < 0) {
        a->queue = j->items;
        a->n_queue = a->cap_queue = j->n;
        free(j);
        return;
    }
    a->pbusy = true;
}
