/*
 * DISCONNECT from the client: an orderly close. 5.0: a non-zero Session Expiry Interval when
 * CONNECT had none is a protocol error (5.0 §3.14.2.2.2). Wills are not published yet, so
 * the "delete the Will" obligation (MQTT-3.1.2-10) holds trivially.
 * Layer: mqtt (front end). Thread: loop.
 */
#include "mqtt/session_int.h"

int mqtt__handle_disconnect(struct mqtt_session *s, const struct mqtt_disconnect *d)
{
    if (s->version == MQTT_V5 && s->connect_expiry_zero &&
        mqtt_props_has(&d->props, MQTT_PROP_SESSION_EXPIRY) && d->props.session_expiry != 0)
        return mqtt__session_fail(s, MQTT_RC_PROTOCOL_ERROR,
                                  "session expiry set in DISCONNECT after 0 in CONNECT");
    log_info(&s->lc, "mqtt", "device disconnected", "reason=0x%02x pending_acks=%u", d->reason,
             s->n_acks);
    mqtt__session_close(s, 0);
    return MQTT__RC_CLOSED;
}
