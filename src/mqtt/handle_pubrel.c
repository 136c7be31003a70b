/*
 * PUBREL (QoS 2, second half): releases the packet id held since our PUBREC (Method B) and
 * answers PUBCOMP. An unknown id gets PUBCOMP 0x92 in 5.0 and a plain PUBCOMP in 3.1.1
 * (the message was released before, e.g. across a reconnect; MQTT-4.3.3-11 expects PUBCOMP).
 * Layer: mqtt (front end). Thread: loop.
 */
#include "mqtt/session_int.h"

int mqtt__handle_pubrel(struct mqtt_session *s, const struct mqtt_ack *a)
{
    bool known = mqtt__rel_remove(s, a->packet_id);
    uint8_t reason = known || s->version != MQTT_V5 ? MQTT_RC_SUCCESS : MQTT_RC_PACKET_ID_NOT_FOUND;
    if (!known)
        log_debug(&s->lc, "mqtt", "PUBREL for an unknown packet id", "packet_id=%u", a->packet_id);
    return mqtt__send_ack(s, MQTT_PUBCOMP, a->packet_id, reason, NULL) < 0 ? MQTT__RC_CLOSED : 0;
}
