/*
 * PUBACK / PUBREC / PUBCOMP, SUBACK / UNSUBACK and PINGRESP. A Reason String is sent only in
 * 5.0, only when the client did not set Request Problem Information = 0, and only when the
 * packet still fits the client's Maximum Packet Size (else it is dropped, 5.0 §3.4.2.2.2).
 * Layer: mqtt (front end). Thread: loop.
 */
#include "core/err.h"
#include "core/mem.h"
#include "mqtt/session_int.h"

#include <string.h>

/* Encodes with props, retrying without them when the client's limit is exceeded. */
static bool fits(const struct mqtt_session *s, size_t len)
{
    return s->client_max_packet == 0 || len <= s->client_max_packet;
}

int mqtt__encode_ack(const struct mqtt_session *s, uint8_t type, uint16_t packet_id, uint8_t reason,
                     const char *reason_string, uint8_t *buf, size_t cap, size_t *len)
{
    struct mqtt_ack a = {.type = type, .packet_id = packet_id, .reason = reason};
    if (s->version == MQTT_V5 && s->problem_info && reason_string) {
        a.props.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
        a.props.reason_string = slice_make(reason_string, strnlen(reason_string, 200));
    }
    int rc = mqtt_ack_encode(&a, s->version, buf, cap, len);
    if (rc == 0 && !fits(s, *len)) {
        a.props.present = 0;
        rc = mqtt_ack_encode(&a, s->version, buf, cap, len);
    }
    return rc;
}

int mqtt__send_ack(struct mqtt_session *s, uint8_t type, uint16_t packet_id, uint8_t reason,
                   const char *reason_string)
{
    uint8_t buf[256];
    size_t len;
    int rc = mqtt__encode_ack(s, type, packet_id, reason, reason_string, buf, sizeof(buf), &len);
    return rc < 0 ? rc : mqtt__send(s, buf, len);
}

int mqtt__send_suback(struct mqtt_session *s, bool unsub, uint16_t packet_id,
                      const uint8_t *reasons, size_t n)
{
    struct mqtt_suback sa = {.packet_id = packet_id, .reasons = reasons, .n_reasons = n};
    size_t need = 0;
    int rc = unsub ? mqtt_unsuback_encode(&sa, s->version, NULL, 0, &need)
                   : mqtt_suback_encode(&sa, s->version, NULL, 0, &need);
    if (rc != HX_ETOOBIG && rc < 0)
        return rc;
    uint8_t *buf;
    if ((rc = hx_try_alloc((void **)&buf, need ? need : 1, s->srv->max_packet + 16)) < 0)
        return rc;
    size_t len;
    rc = unsub ? mqtt_unsuback_encode(&sa, s->version, buf, need, &len)
               : mqtt_suback_encode(&sa, s->version, buf, need, &len);
    if (rc == 0)
        rc = mqtt__send(s, buf, len);
    free(buf);
    return rc;
}

int mqtt__send_pingresp(struct mqtt_session *s)
{
    uint8_t buf[2];
    size_t len;
    int rc = mqtt_pingresp_encode(buf, sizeof(buf), &len);
    return rc < 0 ? rc : mqtt__send(s, buf, len);
}
