/*
 * Per-device state that outlives a connection: the MQTT session (the commands subscription,
 * persistence and expiry, commands in flight) and the will. A device that connects with
 * Clean Session 0 (3.1.1) or a non-zero Session Expiry Interval (5.0) finds its session
 * again on the next connection (Session Present 1) as long as it has not expired. Sessions are
 * kept in memory: after a restart of the daemon every device starts a new session (Session
 * Present 0 tells it to subscribe again); the commands themselves are durable in the store
 * and are delivered whatever happened to the session.
 * Layer: mqtt (session layer). Thread: loop.
 */
#include "core/mem.h"
#include "ingest/registry.h"
#include "mqtt/session_int.h"
#include "store/store.h"

#include <string.h>

struct mqtt__dev *mqtt__dev_get(struct mqtt_server *srv, int64_t device_id)
{
    return hx_idmap_get(&srv->devs, device_id);
}

struct mqtt__dev *mqtt__dev_get_or_add(struct mqtt_server *srv, int64_t device_id)
{
    struct mqtt__dev *d = hx_idmap_get(&srv->devs, device_id);
    if (!d) {
        d = hx_xcalloc(1, sizeof(*d));
        d->device_id = device_id;
        d->next_packet_id = 1;
        hx_idmap_put(&srv->devs, device_id, d);
    }
    return d;
}

/* Has the stored session of d expired at now_ms? */
static bool expired(const struct mqtt__dev *d, uint64_t now_ms)
{
    return d->gone_ms && now_ms - d->gone_ms >= (uint64_t)d->expiry_s * 1000;
}

bool mqtt__dev_connect(struct mqtt_session *s, bool clean_start, bool persistent, uint32_t expiry_s)
{
    struct mqtt_server *srv = s->srv;
    struct mqtt__dev *d = mqtt__dev_get(srv, s->device_id);
    if (!d && !persistent)
        return false; /* nothing stored, nothing to keep: no state for this device */
    if (!d)
        d = mqtt__dev_get_or_add(srv, s->device_id);
    if (d->pending) { /* reconnected within the Will Delay Interval: no will (5.0 §3.1.3.2.2) */
        mqtt__will_drop(d->pending);
        d->pending = NULL;
    }
    bool present = d->persistent && !clean_start && !expired(d, uv_now(srv->loop));
    if (!present) {
        d->subscribed = false;
        mqtt__out_reset(srv, d, true);
    }
    d->persistent = persistent;
    d->expiry_s = expiry_s;
    d->gone_ms = 0;
    return present;
}

void mqtt__dev_resume(struct mqtt_session *s)
{
    struct mqtt__dev *d = mqtt__dev_get(s->srv, s->device_id);
    if (!d)
        return;
    /* MQTT-4.4.0-1: resend unacknowledged PUBLISH (DUP) and PUBREL, in order. */
    for (struct mqtt__out *o = d->out_head; o && s->state == MQTT__CONNECTED; o = o->next) {
        if (o->phase == MQTT__OUT_WAIT_ACK) {
            mqtt__send_command(s, o, true, o->as_retained);
        } else if (o->phase == MQTT__OUT_WAIT_COMP) {
            mqtt__send_ack(s, MQTT_PUBREL, o->packet_id, MQTT_RC_SUCCESS, NULL);
        }
    }
    mqtt__out_pump(s->srv, d);
}

void mqtt__dev_set_expiry(struct mqtt_session *s, uint32_t expiry_s)
{
    struct mqtt__dev *d = mqtt__dev_get_or_add(s->srv, s->device_id);
    d->expiry_s = expiry_s < MQTT_SESSION_EXPIRY_MAX_S ? expiry_s : MQTT_SESSION_EXPIRY_MAX_S;
    d->persistent = d->expiry_s > 0;
}

void mqtt__dev_set_will(struct mqtt_session *s, struct mqtt__will *w)
{
    struct mqtt__dev *d = mqtt__dev_get_or_add(s->srv, s->device_id);
    if (d->will)
        mqtt__will_drop(d->will);
    d->will = w;
}

static void on_will_delay(uv_timer_t *t)
{
    struct mqtt__will *w = t->data;
    struct mqtt__dev *d = mqtt__dev_get(w->srv, w->device_id);
    if (d && d->pending == w)
        d->pending = NULL;
    mqtt__will_publish(w);
}

void mqtt__dev_disconnected(struct mqtt_session *s)
{
    struct mqtt_server *srv = s->srv;
    struct mqtt__dev *d = mqtt__dev_get(srv, s->device_id);
    if (!d)
        return;
    struct mqtt__will *w = d->will;
    d->will = NULL;
    if (w && s->will_on_close && !srv->stopping) {
        /* The will waits for the shorter of its delay and the session's life. */
        uint32_t delay = w->delay_s;
        if (!d->persistent || d->expiry_s < delay)
            delay = d->persistent ? d->expiry_s : 0;
        if (delay == 0) {
            mqtt__will_publish(w);
        } else {
            log_info(&s->lc, "mqtt", "will delayed", "delay_s=%u", delay);
            d->pending = w;
            uv_timer_start(&w->timer, on_will_delay, (uint64_t)delay * 1000, 0);
        }
    } else if (w) {
        mqtt__will_drop(w);
    }
    if (d->persistent) {
        d->gone_ms = uv_now(srv->loop);
    } else {
        d->subscribed = false;
        mqtt__out_reset(srv, d, true);
    }
}

void mqtt__dev_free_all(struct mqtt_server *srv)
{
    for (uint32_t i = 0; i < srv->devs.cap; i++) {
        struct mqtt__dev *d = srv->devs.vals[i];
        if (!d)
            continue;
        mqtt__out_reset(srv, d, false);
        mqtt__out_free(d->retained);
        free(d);
    }
    hx_idmap_release(&srv->devs);
}
