/*
 * PUBLISH of a command to its device on medhub/v1/devices/{id}/commands, header and payload
 * written as two pieces (the payload is not copied into a packet buffer first).
 * Layer: mqtt (front end). Thread: loop.
 */
#include "core/err.h"
#include "mqtt/session_int.h"

#include <stdio.h>

int mqtt__send_command(struct mqtt_session *s, const struct mqtt__out *o, bool dup, bool retain)
{
    if (!s->conn)
        return HX_ESHUTDOWN;
    char topic[sizeof(MQTT_TOPIC_PREFIX) + DEV_ID_MAX + 16];
    int n = snprintf(topic, sizeof(topic), "%s%s/commands", MQTT_TOPIC_PREFIX, s->device_uid);
    struct mqtt_publish p = {
        .dup = dup && o->sent_qos > 0,
        .qos = o->sent_qos,
        .retain = retain,
        .topic = slice_make((const uint8_t *)topic, (size_t)n),
        .packet_id = o->sent_qos ? o->packet_id : 0,
        .payload = slice_make(o->payload, o->len),
    };
    uint8_t hdr[sizeof(topic) + 32];
    size_t hlen;
    int rc = mqtt_publish_encode_header(&p, s->version, hdr, sizeof(hdr), &hlen);
    if (rc < 0)
        return rc;
    uv_buf_t bufs[2] = {uv_buf_init((char *)hdr, (unsigned)hlen),
                        uv_buf_init((char *)o->payload, (unsigned)o->len)};
    rc = net_conn_writev(s->conn, bufs, o->len ? 2 : 1);
    if (rc == HX_ETOOBIG) {
        log_warn(&s->lc, "mqtt", "closing connection: write queue full", NULL);
        s->state = MQTT__CLOSING;
        net_conn_abort(s->conn);
    }
    return rc;
}
