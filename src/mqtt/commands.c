/*
 * The store side of commands to devices. `medhub device send` (another process) adds a row
 * in state NEW; every MQTT_CMD_POLL_MS a libuv worker, with the gateway's own store
 * connection, writes the state changes noted since the last round (QUEUED, SENT, DELIVERED,
 * EXPIRED) and reads the commands added since (or, on the first round after start, every
 * command still pending plus each device's retained one). The loop then hands them to
 * outbound.c. At most one round runs at a time; stop writes the last notes before the loop
 * ends. A command is therefore seen within one poll period, and its state in the store lags
 * the gateway by at most one.
 * Thread safety: `st` is used only by the one round in flight (`busy`); a round's inputs
 * (notes) and outputs (found) are moved to and from the worker, never shared.
 * Layer: mqtt (session layer). Thread: loop, except round_work on a libuv worker.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "mqtt/session_int.h"
#include "store/store.h"

#include <string.h>

/* One command read by a round. */
struct found {
    int64_t device_id;   /* whose */
    bool pending;        /* still to deliver */
    bool retain;         /* the device's retained command */
    struct mqtt__out *o; /* the copy (owned) */
};

struct mqtt__cmds {
    struct mqtt_server *srv;        /* owner */
    struct cfg_store cfg;           /* copy, for opening st */
    struct store *st;               /* used only by the round in flight */
    uv_timer_t timer;               /* the poll period */
    bool busy;                      /* a round is in flight */
    bool stopping;                  /* no more polls; one last write of notes */
    int64_t last_id;                /* highest command id seen */
    struct mqtt__cmd_update *notes; /* state changes for the next round */
    size_t n_notes, cap_notes;      /* ... */
    uint64_t write_failed;          /* state changes the store refused */
};

struct round {
    uv_work_t req;
    struct mqtt__cmds *c;
    bool poll;                      /* read new commands too */
    int64_t after_id;               /* read ids above this */
    struct mqtt__cmd_update *notes; /* moved from the loop */
    size_t n_notes;
    struct found *found; /* read */
    size_t n_found, cap_found;
    int rc;        /* first error */
    size_t n_fail; /* notes not written */
};

static int collect(void *arg, const struct dev_command *dc)
{
    struct round *r = arg;
    if (r->n_found == r->cap_found) {
        r->cap_found = r->cap_found ? 2 * r->cap_found : 16;
        r->found = hx_xrealloc(r->found, r->cap_found * sizeof(*r->found));
    }
    struct mqtt__out *o = hx_xcalloc(1, sizeof(*o) + dc->payload_len);
    o->cmd_id = dc->id;
    o->expires_us = dc->expires_us;
    o->qos = dc->qos;
    o->len = dc->payload_len;
    if (dc->payload_len)
        memcpy(o->payload, dc->payload, dc->payload_len);
    r->found[r->n_found++] = (struct found){.device_id = dc->device_id,
                                            .pending = dc->state < STORE_CMD_DELIVERED,
                                            .retain = dc->retain,
                                            .o = o};
    return 0;
}

static void round_work(uv_work_t *req)
{
    struct round *r = req->data;
    struct mqtt__cmds *c = r->c;
    if (!c->st) {
        char err[256];
        int rc = store_open(&c->st, &c->cfg, 0, err, sizeof(err));
        if (rc < 0) {
            c->st = NULL;
            r->rc = rc;
            r->n_fail = r->n_notes;
            return;
        }
    }
    /* All the notes in one transaction: one commit, one hold of the write lock. */
    int trc = r->n_notes ? store_begin(c->st) : 0;
    for (size_t i = 0; trc == 0 && i < r->n_notes; i++) {
        int rc = store_command_set_state(
            c->st, r->notes[i].id, (enum store_cmd_state)r->notes[i].state, r->notes[i].at_us);
        if (rc < 0) {
            r->n_fail++;
            if (!r->rc)
                r->rc = rc;
        }
    }
    if (r->n_notes && trc == 0)
        trc = store_commit(c->st);
    if (trc < 0) {
        store_rollback(c->st);
        r->n_fail = r->n_notes;
        if (!r->rc)
            r->rc = trc;
    }
    if (r->poll) {
        int rc = store_command_poll(c->st, r->after_id, hx_time_now_us(), collect, r);
        if (rc < 0 && !r->rc)
            r->rc = rc;
    }
}

static void kick(struct mqtt__cmds *c, bool poll);

static void round_after(uv_work_t *req, int status)
{
    struct round *r = req->data;
    struct mqtt__cmds *c = r->c;
    struct mqtt_server *srv = c->srv;
    c->busy = false;
    if (r->rc || status < 0) {
        c->write_failed += r->n_fail;
        log_warn(NULL, "mqtt", "command store round failed", "unwritten_states=%zu err=\"%s\"",
                 r->n_fail, hx_strerror(r->rc ? r->rc : status));
    }
    int64_t now = hx_time_now_us();
    for (size_t i = 0; i < r->n_found; i++) {
        struct found *f = &r->found[i];
        if (f->o->cmd_id > c->last_id)
            c->last_id = f->o->cmd_id;
        if (c->stopping) {
            free(f->o);
            continue;
        }
        if (f->retain) {
            struct mqtt__out *copy = hx_xmalloc(sizeof(*copy) + f->o->len);
            memcpy(copy, f->o, sizeof(*copy) + f->o->len);
            mqtt__out_set_retained(srv, f->device_id, copy);
        }
        if (f->retain && f->o->len == 0 && f->pending) {
            /* Clearing the retained command is all an empty retained command does. */
            mqtt__cmds_note(srv, f->o->cmd_id, STORE_CMD_DELIVERED);
            free(f->o);
        } else if (f->pending && f->o->expires_us > now) {
            mqtt__out_add(srv, f->device_id, f->o);
        } else {
            if (f->pending)
                mqtt__cmds_note(srv, f->o->cmd_id, STORE_CMD_EXPIRED);
            free(f->o);
        }
    }
    free(r->found);
    free(r->notes);
    free(r);
    if (c->stopping && c->n_notes)
        kick(c, false); /* the notes made meanwhile, before the loop ends */
}

static void kick(struct mqtt__cmds *c, bool poll)
{
    if (c->busy || (!poll && c->n_notes == 0))
        return;
    struct round *r = hx_xcalloc(1, sizeof(*r));
    r->req.data = r;
    r->c = c;
    r->poll = poll;
    r->after_id = c->last_id;
    r->notes = c->notes;
    r->n_notes = c->n_notes;
    c->notes = NULL;
    c->n_notes = c->cap_notes = 0;
    if (uv_queue_work(c->srv->loop, &r->req, round_work, round_after) < 0) {
        c->write_failed += r->n_notes;
        free(r->notes);
        free(r);
        return;
    }
    c->busy = true;
}

static void on_tick(uv_timer_t *t)
{
    kick(t->data, true);
}

int mqtt__cmds_start(struct mqtt_server *srv)
{
    struct mqtt__cmds *c = hx_xcalloc(1, sizeof(*c));
    c->srv = srv;
    c->cfg = srv->cfg->storage;
    uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    srv->cmds = c;
    return uv_timer_start(&c->timer, on_tick, 0, MQTT_CMD_POLL_MS);
}

void mqtt__cmds_note(struct mqtt_server *srv, int64_t id, uint8_t state)
{
    struct mqtt__cmds *c = srv->cmds;
    if (!c)
        return;
    if (c->n_notes == c->cap_notes) {
        c->cap_notes = c->cap_notes ? 2 * c->cap_notes : 16;
        c->notes = hx_xrealloc(c->notes, c->cap_notes * sizeof(*c->notes));
    }
    c->notes[c->n_notes++] =
        (struct mqtt__cmd_update){.id = id, .state = state, .at_us = hx_time_now_us()};
    if (c->stopping)
        kick(c, false);
}

void mqtt__cmds_stop(struct mqtt_server *srv)
{
    struct mqtt__cmds *c = srv->cmds;
    if (!c || c->stopping)
        return;
    c->stopping = true;
    uv_close((uv_handle_t *)&c->timer, NULL);
    kick(c, false);
}

void mqtt__cmds_free(struct mqtt_server *srv)
{
    struct mqtt__cmds *c = srv->cmds;
    if (!c)
        return;
    if (c->st)
        store_close(c->st);
    free(c->notes);
    free(c);
    srv->cmds = NULL;
}
