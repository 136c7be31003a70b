/*
 * The audit trail inside the daemon: audit_submit records an entry from the loop thread as a
 * side job of the store writer thread (the writer's own connection, so the loop never waits
 * on SQLite), and the audit service records the daemon's start and stop and checks on a
 * timer, also as a writer side job, whether a checkpoint is due (audit_checkpoint fsyncs the
 * anchor file there, off the loop).
 * Layer: security. Thread: loop, except the *_job functions (the store writer thread).
 * Thread safety: a job owns its copy of the entry; the service's fields belong to the loop.
 */
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "security/audit.h"
#include "store/writer.h"

#include <inttypes.h>
#include <string.h>

/* How often the daemon looks whether a checkpoint is due (and no less often than the
 * configured interval). */
#define AUDIT_CHECK_MS 10000u

/* ---- audit_submit ------------------------------------------------------------------------- */

/* An entry copied for the writer thread: the struct, then its strings in one allocation. */
struct submit_job {
    struct audit_entry e; /* points into text */
    audit_done_fn *done;
    void *arg;
    int64_t seq; /* set by the job */
    char text[]; /* the strings, NUL-terminated, back to back */
};

static const char *put_str(char **p, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *at = *p;
    memcpy(at, s, n);
    *p += n;
    return at;
}

static int submit_work(struct store *st, void *arg)
{
    struct submit_job *j = arg;
    return audit_record(st, &j->e, &j->seq);
}

static void submit_after(void *arg, int status)
{
    struct submit_job *j = arg;
    if (status < 0)
        log_warn(NULL, "audit", "recording an audit entry failed", "action=%s err=\"%s\"",
                 j->e.action, hx_strerror(status));
    if (j->done)
        j->done(j->arg, status < 0 ? 0 : j->seq, status);
    free(j);
}

int audit_submit(struct store_writer *w, const struct audit_entry *e, audit_done_fn *done,
                 void *arg)
{
    char why[160];
    if (audit_entry_check(e, why, sizeof(why)) < 0) {
        log_warn(NULL, "audit", "refusing an invalid audit entry", "reason=\"%s\"", why);
        return HX_EINVAL;
    }
    const char *const strs[] = {e->actor,     e->action, e->object_type,
                                e->object_id, e->source, e->details};
    size_t total = 0;
    for (size_t i = 0; i < HX_ARRAY_LEN(strs); i++)
        total += strs[i] ? strlen(strs[i]) + 1 : 0;
    struct submit_job *j = hx_xmalloc(sizeof(*j) + total);
    char *p = j->text;
    j->e = *e;
    j->e.actor = put_str(&p, e->actor);
    j->e.action = put_str(&p, e->action);
    j->e.object_type = put_str(&p, e->object_type);
    j->e.object_id = put_str(&p, e->object_id);
    j->e.source = put_str(&p, e->source);
    j->e.details = put_str(&p, e->details);
    j->done = done;
    j->arg = arg;
    j->seq = 0;
    int rc = store_writer_submit_job(w, submit_work, submit_after, j);
    if (rc < 0)
        free(j);
    return rc;
}

/* ---- The service -------------------------------------------------------------------------- */

struct audit_service {
    struct store_writer *w; /* borrowed */
    struct audit_policy p;  /* copy */
    uv_timer_t timer;       /* checkpoint checks */
    unsigned in_flight;     /* check jobs submitted and not called back */
    bool stopping;          /* stop ran: no new checks from the timer */
    bool closed;            /* the timer's close callback ran */
};

static int check_job(struct store *st, void *arg)
{
    struct audit_service *s = arg;
    return audit_checkpoint(st, &s->p, NULL, false, NULL, NULL);
}

static void check_done(void *arg, int status)
{
    struct audit_service *s = arg;
    s->in_flight--;
    if (status < 0)
        log_warn(NULL, "audit", "audit checkpoint check failed; will retry", "err=\"%s\"",
                 hx_strerror(status));
}

static void check_now(struct audit_service *s)
{
    if (store_writer_submit_job(s->w, check_job, check_done, s) == 0)
        s->in_flight++;
}

static void on_timer(uv_timer_t *t)
{
    struct audit_service *s = t->data;
    if (!s->stopping && s->in_flight == 0)
        check_now(s);
}

static void record_lifecycle(struct audit_service *s, const char *action)
{
    char details[96];
    snprintf(details, sizeof(details), "{\"version\":\"%s\"}", MEDHUB_VERSION);
    struct audit_entry e = {
        .actor_kind = AUDIT_ACTOR_SYSTEM,
        .actor = "server",
        .action = action,
        .outcome = AUDIT_SUCCESS,
        .details = details,
    };
    int rc = audit_submit(s->w, &e, NULL, NULL);
    if (rc < 0)
        log_warn(NULL, "audit", "cannot record the server lifecycle", "action=%s err=\"%s\"",
                 action, hx_strerror(rc));
}

int audit_service_start(struct audit_service **out, uv_loop_t *loop, struct store_writer *w,
                        const struct audit_policy *p)
{
    struct audit_service *s = hx_xcalloc(1, sizeof(*s));
    s->w = w;
    s->p = *p;
    int rc = uv_timer_init(loop, &s->timer);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->timer.data = s;
    uint64_t every = AUDIT_CHECK_MS;
    if (p->checkpoint_interval_s && (uint64_t)p->checkpoint_interval_s * 1000 < every)
        every = (uint64_t)p->checkpoint_interval_s * 1000;
    uv_timer_start(&s->timer, on_timer, every, every);
    record_lifecycle(s, "server.start");
    check_now(s); /* entries the CLI appended while the daemon was down */
    *out = s;
    return 0;
}

static void on_close(uv_handle_t *h)
{
    struct audit_service *s = h->data;
    s->closed = true;
}

void audit_service_stop(struct audit_service *s)
{
    if (!s || s->stopping)
        return;
    s->stopping = true;
    uv_timer_stop(&s->timer);
    record_lifecycle(s, "server.stop");
    check_now(s); /* after the stop entry, whatever is in flight */
    uv_close((uv_handle_t *)&s->timer, on_close);
}

void audit_service_free(struct audit_service *s)
{
    if (!s)
        return;
    assert(s->closed && s->in_flight == 0);
    free(s);
}
