/*
 * DISCONNECT from the client: an orderly close, which discards the will (MQTT-3.1.2-10)
 * unless a 5.0 client asked for it with reason 0x04. 5.0: the Session Expiry Interval may be
 * changed here, but a non-zero one when CONNECT had none is a protocol error
 * (5.0 §3.14.2.2.2). Layer: mqtt (front end). Thread: loop.
 */
#include "mqtt/session_int.h"

/* 5.0 DISCONNECT reason 0x04: Disconnect with Will Message. */
#define DISCONNECT_WITH_WILL 0x04

int mqtt__handle_disconnect(struct mqtt_session *s, const struct mqtt_disconnect *d)
{
    bool v5 = s->version == MQTT_V5;
    if (v5 && mqtt_props_has(&d->props, MQTT_PROP_SESSION_EXPIRY)) {
        if (s->connect_expiry_zero && d->props.session_expiry != 0)
            return mqtt__session_fail(s, MQTT_RC_PROTOCOL_ERROR,
                                      "session expiry set in DISCONNECT after 0 in CONNECT");
        mqtt__dev_set_expiry(s, d->props.session_expiry);
    }
    s->will_on_close = v5 && d->reason == DISCONNECT_WITH_WILL;
    log_info(&s->lc, "mqtt", "device disconnected", "reason=0x%02x pending_acks=%u", d->reason,
             s->n_acks);
    mqtt__session_close(s, 0);
    return MQTT__RC_CLOSED;
}
