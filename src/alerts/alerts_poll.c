/*
 * Poll rounds, every ALERTS_POLL_MS on a libuv worker with the service's own store
 * connection: record the actions applied since the last round, read the actions people
 * asked for since (`medhub alert ack|resolve`), and every PLAN_EVERY rounds (or when the
 * settings changed) rebuild the plan (settings and watched devices). The loop applies what a
 * round read. One round at a time; its inputs and outputs move between threads, never shared.
 * Thread: loop, except round_work (a libuv worker).
 */
#include "alerts/alerts_int.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"

#include <string.h>

/* Rebuild the plan at least every this many rounds (devices added, assigned, disabled). */
#define PLAN_EVERY 8

struct round {
    uv_work_t req;
    struct alerts *a;
    struct alert_action *done; /* applied: record their result */
    size_t n_done;
    int64_t after;             /* read actions above this id */
    struct alert_action *todo; /* read */
    size_t n_todo, cap_todo;
    bool want_plan;                    /* rebuild even if the settings did not change */
    bool only_record;                  /* stopping: record results, read nothing */
    int64_t known_newest, known_count; /* settings fingerprint the loop has */
    bool have_plan;
    struct alerts__plan plan;
    int64_t newest, count; /* fingerprint of the plan built */
    int rc;
};

static int collect_action(void *arg, const struct alert_action *x)
{
    struct round *r = arg;
    if (r->n_todo == r->cap_todo) {
        r->cap_todo = r->cap_todo ? 2 * r->cap_todo : 8;
        r->todo = hx_xrealloc(r->todo, r->cap_todo * sizeof(*r->todo));
    }
    r->todo[r->n_todo++] = *x;
    return 0;
}

static void round_work(uv_work_t *req)
{
    struct round *r = req->data;
    struct alerts *a = r->a;
    if (!a->rst) {
        char err[256];
        if ((r->rc = store_open(&a->rst, &a->cfg, 0, err, sizeof(err))) < 0) {
            a->rst = NULL;
            return;
        }
    }
    for (size_t i = 0; i < r->n_done && r->rc == 0; i++)
        r->rc = store_alert_action_done(a->rst, r->done[i].id, r->done[i].result,
                                        r->done[i].applied_us);
    if (r->rc < 0 || r->only_record)
        return;
    r->rc = store_alert_action_poll(a->rst, r->after, collect_action, r);
    if (r->rc < 0)
        return;
    r->rc = store_rule_settings_version(a->rst, &r->newest, &r->count);
    if (r->rc < 0)
        return;
    if (r->want_plan || r->newest != r->known_newest || r->count != r->known_count) {
        r->rc = alerts__plan_build(a->rst, hx_time_now_us(), &r->plan);
        r->have_plan = r->rc == 0;
    }
}

static void apply_action(struct alerts *a, struct alert_action *x, int64_t now)
{
    int rc = x->action == ALERT_ACTION_ACK ? rules_engine_ack(a->engine, x->alert_id, x->who, now)
             : x->action == ALERT_ACTION_RESOLVE
                 ? rules_engine_resolve(a->engine, x->alert_id, x->who, x->note, now)
             : x->action == ALERT_ACTION_ESCALATE
                 ? rules_engine_escalate(a->engine, x->alert_id, x->who, now)
                 : HX_EINVAL;
    x->result = rc;
    x->applied_us = now;
    a->actions++;
    log_info(NULL, "alerts", "action applied", "alert=%lld action=%s result=\"%s\"",
             (long long)x->alert_id,
             x->action == ALERT_ACTION_ACK       ? "acknowledge"
             : x->action == ALERT_ACTION_RESOLVE ? "resolve"
                                                 : "escalate",
             rc == 0 ? "ok" : hx_strerror(rc));
    if (a->n_done == a->cap_done) {
        a->cap_done = a->cap_done ? 2 * a->cap_done : 8;
        a->done = hx_xrealloc(a->done, a->cap_done * sizeof(*a->done));
    }
    a->done[a->n_done++] = *x;
}

static void round_after(uv_work_t *req, int status)
{
    struct round *r = req->data;
    struct alerts *a = r->a;
    a->rbusy = false;
    if (r->rc < 0 || status < 0) {
        log_warn(NULL, "alerts", "alert poll round failed", "err=\"%s\"",
                 hx_strerror(r->rc < 0 ? r->rc : status));
        /* The results not recorded go again with the next round. */
        if (r->n_done) {
            size_t need = a->n_done + r->n_done;
            a->done = hx_xrealloc(a->done, need * sizeof(*a->done));
            memmove(a->done + r->n_done, a->done, a->n_done * sizeof(*a->done));
            memcpy(a->done, r->done, r->n_done * sizeof(*r->done));
            a->n_done = a->cap_done = need;
        }
    } else if (!a->stopping) {
        int64_t now = hx_time_now_us();
        if (r->have_plan) {
            bool changed = r->newest != a->settings_newest || r->count != a->settings_count;
            alerts__plan_apply(a, &r->plan, changed, now);
            if (changed)
                log_info(NULL, "alerts", "rule settings applied",
                         "patients_with_settings=%zu watched_devices=%zu ignored=%u",
                         r->plan.n_patients, r->plan.n_devices, r->plan.n_bad);
            a->settings_newest = r->newest;
            a->settings_count = r->count;
        }
        for (size_t i = 0; i < r->n_todo; i++) {
            if (r->todo[i].id > a->action_after)
                a->action_after = r->todo[i].id;
            apply_action(a, &r->todo[i], now);
        }
        alerts__rearm(a);
    }
    alerts__plan_release(&r->plan);
    free(r->done);
    free(r->todo);
    free(r);
    alerts__persist_kick(a); /* retries a failed write */
    if (a->stopping && a->n_done)
        alerts__poll_kick(a); /* the last results, before the loop ends */
}

void alerts__poll_kick(struct alerts *a)
{
    if (a->rbusy)
        return;
    struct round *r = hx_xcalloc(1, sizeof(*r));
    r->req.data = r;
    r->a = a;
    r->done = a->done;
    r->n_done = a->n_done;
    a->done = NULL;
    a->n_done = a->cap_done = 0;
    r->after = a->action_after;
    r->want_plan = !a->stopping && a->rounds++ % PLAN_EVERY == 0;
    r->known_newest = a->settings_newest;
    r->known_count = a->settings_count;
    r->only_record = a->stopping;
    if (uv_queue_work(a->loop, &r->req, round_work, round_after) < 0) {
        a->done = r->done;
        a->n_done = a->cap_done = r->n_done;
        free(r);
        return;
    }
    a->rbusy = true;
}

static void on_poll(uv_timer_t *t)
{
    alerts__poll_kick(t->data);
}

void alerts__poll_start(struct alerts *a)
{
    uv_timer_init(a->loop, &a->poll_timer);
    a->poll_timer.data = a;
    uv_timer_start(&a->poll_timer, on_poll, ALERTS_POLL_MS, ALERTS_POLL_MS);
}
