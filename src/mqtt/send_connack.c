/*
 * CONNACK: the return code (3.1.1) or reason (5.0) and, on success in 5.0, the limits the
 * client must respect: Receive Maximum, Maximum Packet Size, Topic Alias Maximum 0, Retain /
 * Wildcard / Subscription Identifier / Shared Subscription Available 0. Session Present is
 * always 0 (no persistent sessions yet). Layer: mqtt (front end). Thread: loop.
 */
#include "mqtt/session_int.h"

int mqtt__send_connack(struct mqtt_session *s, uint8_t version, uint8_t reason)
{
    struct mqtt_connack c = {.session_present = false, .reason = reason};
    if (version == MQTT_V5 && reason == MQTT_RC_SUCCESS) {
        c.props.present = MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAXIMUM) |
                          MQTT_PROP_BIT(MQTT_PROP_MAXIMUM_PACKET_SIZE) |
                          MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAXIMUM) |
                          MQTT_PROP_BIT(MQTT_PROP_RETAIN_AVAILABLE) |
                          MQTT_PROP_BIT(MQTT_PROP_WILDCARD_SUB_AVAILABLE) |
                          MQTT_PROP_BIT(MQTT_PROP_SUB_ID_AVAILABLE) |
                          MQTT_PROP_BIT(MQTT_PROP_SHARED_SUB_AVAILABLE);
        c.props.receive_maximum = MQTT_RECEIVE_MAX;
        c.props.maximum_packet_size = (uint32_t)s->srv->max_packet;
        c.props.topic_alias_maximum = 0;
        c.props.retain_available = 0;
        c.props.wildcard_sub_available = 0;
        c.props.sub_id_available = 0;
        c.props.shared_sub_available = 0;
    }
    uint8_t buf[128];
    size_t len;
    int rc = mqtt_connack_encode(&c, version, buf, sizeof(buf), &len);
    if (rc < 0)
        return rc;
    return mqtt__send(s, buf, len);
}
