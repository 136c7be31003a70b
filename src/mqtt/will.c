/*
 * Will Messages. A device may leave a will on one of its own publish topics (telemetry,
 * status or events; anything else refuses the CONNECT with 0x87 / 3.1.1 return code 5). The
 * payload must be valid SenML at CONNECT time, so that a broken will is found while the device
 * can still be told. When the connection ends without a normal DISCONNECT (5.0: or with
 * reason 0x04), the will is processed exactly as if the device had published it then:
 * readings go through the ingest pipeline (relative times resolve to the moment of the
 * disconnect), status updates the device record, events are stored as events. 5.0 Will Delay
 * Interval: see dev.c.
 * Layer: mqtt (front end). Thread: loop.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "ingest/registry.h"
#include "mqtt/session_int.h"

#include <string.h>

static const char cbor_type[] = "application/senml+cbor";

enum mqtt__leaf mqtt__topic_leaf(const char *uid, struct slice t)
{
    size_t np = strlen(MQTT_TOPIC_PREFIX), nd = strlen(uid);
    if (t.len < np + nd + 2 || memcmp(t.ptr, MQTT_TOPIC_PREFIX, np) != 0 ||
        memcmp(t.ptr + np, uid, nd) != 0 || t.ptr[np + nd] != '/')
        return MQTT__LEAF_NONE;
    struct slice leaf = slice_make(t.ptr + np + nd + 1, t.len - np - nd - 1);
    if (slice_eq_cstr(leaf, "telemetry"))
        return MQTT__LEAF_TELEMETRY;
    if (slice_eq_cstr(leaf, "status"))
        return MQTT__LEAF_STATUS;
    if (slice_eq_cstr(leaf, "events"))
        return MQTT__LEAF_EVENTS;
    return MQTT__LEAF_NONE;
}

/* Decodes w's SenML into the server's scratch records. Returns senml_decode's result. */
static int decode(struct mqtt_server *srv, bool cbor, struct slice payload, int64_t now,
                  size_t *n_recs, struct senml_error *e)
{
    struct senml_out o = {.recs = srv->recs,
                          .max_recs = srv->max_recs,
                          .scratch = srv->scratch,
                          .scratch_len = MQTT_SENML_SCRATCH};
    struct senml_opts opts = {.now_us = now, .max_payload = srv->max_packet};
    memset(e, 0, sizeof(*e));
    int rc =
        senml_decode(cbor ? slice_cstr(cbor_type) : slice_make(NULL, 0), payload, &opts, &o, e);
    *n_recs = o.n_recs;
    return rc;
}

static void on_will_closed(uv_handle_t *h)
{
    free(h->data);
}

struct mqtt__will *mqtt__will_from_connect(struct mqtt_session *s, const struct mqtt_connect *c,
                                           uint8_t *reason)
{
    *reason = MQTT_RC_SUCCESS;
    if (!c->will)
        return NULL;
    enum mqtt__leaf leaf = mqtt__topic_leaf(s->device_uid, c->will_topic);
    if (leaf == MQTT__LEAF_NONE) {
        *reason = MQTT_RC_NOT_AUTHORIZED;
        return NULL;
    }
    bool cbor = c->level == MQTT_V5 && mqtt_props_has(&c->will_props, MQTT_PROP_CONTENT_TYPE) &&
                slice_eq_cstr(c->will_props.content_type, cbor_type);
    size_t n_recs;
    struct senml_error e;
    if (decode(s->srv, cbor, c->will_payload, hx_time_now_us(), &n_recs, &e) < 0 || n_recs == 0) {
        log_warn(&s->lc, "mqtt", "will payload is not valid SenML", "reason=\"%s\"", e.log_reason);
        *reason = MQTT_RC_PAYLOAD_FORMAT_INVALID;
        return NULL;
    }
    struct mqtt__will *w = hx_xcalloc(1, sizeof(*w) + c->will_payload.len);
    w->srv = s->srv;
    w->device_id = s->device_id;
    w->leaf = (uint8_t)leaf;
    w->cbor = cbor;
    if (c->level == MQTT_V5 && mqtt_props_has(&c->will_props, MQTT_PROP_WILL_DELAY))
        w->delay_s = c->will_props.will_delay;
    w->len = c->will_payload.len;
    memcpy(w->payload, c->will_payload.ptr, w->len);
    uv_timer_init(s->srv->loop, &w->timer);
    w->timer.data = w;
    return w;
}

void mqtt__will_drop(struct mqtt__will *w)
{
    if (w)
        uv_close((uv_handle_t *)&w->timer, on_will_closed);
}

static void on_will_stored(void *arg, int status)
{
    struct mqtt_server *srv = arg;
    if (status < 0) {
        srv->stats.wills_failed++;
        log_warn(NULL, "mqtt", "storing a will failed", "err=\"%s\"", hx_strerror(status));
    }
}

void mqtt__will_publish(struct mqtt__will *w)
{
    struct mqtt_server *srv = w->srv;
    const struct reg_device *dev = reg_find_id(srv->reg, w->device_id);
    struct log_ctx lc = {.device = dev ? dev->uid : NULL};
    int64_t now = hx_time_now_us();
    size_t n_recs = 0;
    struct senml_error e;
    int rc = decode(srv, w->cbor, slice_make(w->payload, w->len), now, &n_recs, &e);
    if (rc == 0 && w->leaf == MQTT__LEAF_STATUS) {
        struct dev_status_update u;
        if ((rc = senml_to_status(srv->recs, n_recs, &u, &e)) == 0)
            reg_note_status(srv->reg, w->device_id, &u, now);
    } else if (rc == 0 && w->leaf == MQTT__LEAF_EVENTS) {
        size_t n_ev = 0;
        if ((rc = senml_to_events(srv->recs, n_recs, now, srv->events, &n_ev, &e)) == 0 && n_ev)
            rc = ingest_submit_events(srv->ig, w->device_id, srv->events, n_ev, now, on_will_stored,
                                      srv);
    } else if (rc == 0) {
        size_t n_obs = 0;
        struct senml_obs_stats st;
        rc = senml_to_obs(srv->recs, n_recs, now, srv->obs, &n_obs, &st, &e);
        if (rc == 0 && n_obs)
            rc = ingest_submit(srv->ig, w->device_id, srv->obs, n_obs, now, on_will_stored, srv);
    }
    if (rc < 0) {
        srv->stats.wills_failed++;
        log_warn(&lc, "mqtt", "will not published", "err=\"%s\" reason=\"%s\"", hx_strerror(rc),
                 e.log_reason);
    } else {
        srv->stats.wills_published++;
        log_info(&lc, "mqtt", "will published", "leaf=%s",
                 w->leaf == MQTT__LEAF_TELEMETRY ? "telemetry"
                 : w->leaf == MQTT__LEAF_STATUS  ? "status"
                                                 : "events");
    }
    mqtt__will_drop(w);
}
