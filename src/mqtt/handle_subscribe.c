/*
 * SUBSCRIBE and UNSUBSCRIBE. A device may subscribe only to its own commands topic,
 * medhub/v1/devices/{its id}/commands (no wildcards, no shared subscriptions, no
 * Subscription Identifiers: we advertise all three as unavailable); anything else gets
 * SUBACK 0x87 (3.1.1: 0x80). Every SUBSCRIBE/UNSUBSCRIBE is answered, one code per filter in
 * order (MQTT-3.8.4-1, -3.8.4-6). The grant is kept in the device's session (dev.c); after
 * the SUBACK the device's retained command (5.0 Retain Handling permitting) and any commands
 * waiting for it are sent (outbound.c).
 * Layer: mqtt (front end). Thread: loop.
 */
#include "core/err.h"
#include "core/mem.h"
#include "mqtt/session_int.h"

#include <string.h>

static bool is_own_commands(const struct mqtt_session *s, const struct mqtt_sub_entry *e)
{
    size_t np = strlen(MQTT_TOPIC_PREFIX), nd = strlen(s->device_uid);
    struct slice f = e->filter;
    return !e->is_shared && f.len == np + nd + strlen("/commands") &&
           memcmp(f.ptr, MQTT_TOPIC_PREFIX, np) == 0 &&
           memcmp(f.ptr + np, s->device_uid, nd) == 0 &&
           memcmp(f.ptr + np + nd, "/commands", strlen("/commands")) == 0;
}

static int answer(struct mqtt_session *s, bool unsub, uint16_t packet_id, size_t n_filters,
                  struct mqtt_sub_iter *it)
{
    uint8_t *reasons;
    /* One byte per filter; n_filters is bounded by the packet size. */
    if (hx_try_alloc((void **)&reasons, n_filters, s->srv->max_packet) < 0) {
        mqtt__session_close(s, MQTT_RC_SERVER_BUSY);
        return MQTT__RC_CLOSED;
    }
    struct mqtt_sub_entry e;
    size_t i = 0;
    bool send_retained = false;
    struct mqtt__dev *d = mqtt__dev_get_or_add(s->srv, s->device_id);
    while (i < n_filters && mqtt_sub_next(it, &e)) {
        bool own = is_own_commands(s, &e);
        if (unsub) {
            reasons[i] = own && d->subscribed ? MQTT_RC_SUCCESS : MQTT_RC_NO_SUBSCRIPTION_EXISTED;
            if (own)
                d->subscribed = false;
        } else if (own) {
            reasons[i] = e.qos; /* granted as requested: 0x00..0x02 */
            /* Retain Handling: 0 always, 1 only for a new subscription, 2 never. */
            send_retained = s->version != MQTT_V5 || e.retain_handling == 0 ||
                            (e.retain_handling == 1 && !d->subscribed);
            d->subscribed = true;
            d->sub_qos = e.qos;
        } else {
            char filter[128];
            mqtt__sanitize(filter, sizeof(filter), e.filter);
            s->srv->stats.acl_denied++;
            log_warn(&s->lc, "mqtt", "refusing subscription: filter not allowed for this device",
                     "filter=\"%s\"", filter);
            reasons[i] = s->version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED : 0x80;
        }
        i++;
    }
    int rc = mqtt__send_suback(s, unsub, packet_id, reasons, i);
    free(reasons);
    if (rc < 0)
        return MQTT__RC_CLOSED;
    if (send_retained)
        mqtt__out_subscribed(s->srv, d);
    mqtt__out_pump(s->srv, d);
    return 0;
}

int mqtt__handle_subscribe(struct mqtt_session *s, const struct mqtt_subscribe *sub)
{
    if (s->version == MQTT_V5 && mqtt_props_has(&sub->props, MQTT_PROP_SUBSCRIPTION_ID))
        return mqtt__session_fail(s, MQTT_RC_SUB_IDS_NOT_SUPPORTED,
                                  "subscription identifiers not supported");
    struct mqtt_sub_iter it;
    mqtt_sub_iter_init(&it, sub);
    return answer(s, false, sub->packet_id, sub->n_filters, &it);
}

int mqtt__handle_unsubscribe(struct mqtt_session *s, const struct mqtt_unsubscribe *u)
{
    struct mqtt_sub_iter it;
    mqtt_unsub_iter_init(&it, u);
    return answer(s, true, u->packet_id, u->n_filters, &it);
}
