/*
 * CONNACK: the return code (3.1.1) or reason (5.0) and Session Present; on success in 5.0 also
 * the limits the client must respect (Receive Maximum, Maximum Packet Size, Topic Alias
 * Maximum, Wildcard / Subscription Identifier / Shared Subscription Available 0) and what the
 * server decided for it (Assigned Client Identifier, Server Keep Alive, a lowered Session
 * Expiry Interval). Layer: mqtt (front end). Thread: loop.
 */
#include "mqtt/session_int.h"

#include <string.h>

int mqtt__send_connack(struct mqtt_session *s, uint8_t version, uint8_t reason,
                       const struct mqtt__connack_info *info)
{
    struct mqtt_connack c = {.session_present = info && info->session_present, .reason = reason};
    if (version == MQTT_V5 && reason == MQTT_RC_SUCCESS) {
        c.props.present = MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAXIMUM) |
                          MQTT_PROP_BIT(MQTT_PROP_MAXIMUM_PACKET_SIZE) |
                          MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAXIMUM) |
                          MQTT_PROP_BIT(MQTT_PROP_WILDCARD_SUB_AVAILABLE) |
                          MQTT_PROP_BIT(MQTT_PROP_SUB_ID_AVAILABLE) |
                          MQTT_PROP_BIT(MQTT_PROP_SHARED_SUB_AVAILABLE);
        c.props.receive_maximum = MQTT_RECEIVE_MAX;
        c.props.maximum_packet_size = (uint32_t)s->srv->max_packet;
        c.props.topic_alias_maximum = MQTT_TOPIC_ALIAS_MAX;
        c.props.wildcard_sub_available = 0;
        c.props.sub_id_available = 0;
        c.props.shared_sub_available = 0;
        if (info && info->assigned_id) {
            c.props.present |= MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID);
            c.props.assigned_client_id = slice_cstr(info->assigned_id);
        }
        if (info && info->server_keep_alive) {
            c.props.present |= MQTT_PROP_BIT(MQTT_PROP_SERVER_KEEP_ALIVE);
            c.props.server_keep_alive = info->server_keep_alive;
        }
        if (info && info->send_expiry) {
            c.props.present |= MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY);
            c.props.session_expiry = info->session_expiry;
        }
    }
    uint8_t buf[256];
    size_t len;
    int rc = mqtt_connack_encode(&c, version, buf, sizeof(buf), &len);
    if (rc < 0)
        return rc;
    return mqtt__send(s, buf, len);
}
