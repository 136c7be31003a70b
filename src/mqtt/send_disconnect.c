/*
 * Server DISCONNECT (5.0 only, §3.14): tells the client why we are closing (protocol error,
 * keep alive timeout, not authorized, shutting down). 3.1.1 has no server DISCONNECT; there
 * the connection is simply closed. Layer: mqtt (front end). Thread: loop.
 */
#include "mqtt/session_int.h"

int mqtt__send_disconnect(struct mqtt_session *s, uint8_t reason)
{
    if (s->version != MQTT_V5)
        return 0;
    struct mqtt_disconnect d = {.reason = reason};
    uint8_t buf[16];
    size_t len;
    int rc = mqtt_disconnect_encode(&d, MQTT_V5, buf, sizeof(buf), &len);
    return rc < 0 ? rc : mqtt__send(s, buf, len);
}
