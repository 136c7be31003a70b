/*
 * MQTT 3.1.1 / 5.0 codec, encode side: every server -> client packet into a caller buffer.
 * Each packet body is produced by one function run twice, first counting and then writing,
 * so the size is known before a byte is written and nothing is ever written past len.
 * Layer: mqtt front end, pure codec (no I/O, no allocation). Thread: any.
 */
#include "mqtt/mqtt_int.h"

#include <string.h>

/* Writes the variable header and payload of one packet (not the fixed header). */
typedef int body_fn(struct mqtt__wr *w, const void *pkt, uint8_t version);

/*
 * Sizes the body, writes fixed header + body into buf when it fits. extra counts payload
 * bytes that belong to the Remaining Length but are sent separately (PUBLISH).
 */
static int encode(uint8_t first, body_fn *fn, const void *pkt, uint8_t version, size_t extra,
                  uint8_t *buf, size_t len, size_t *out_len)
{
    struct mqtt__wr count = {0};
    int rc;

    *out_len = 0;
    if (version != MQTT_V311 && version != MQTT_V5)
        return HX_EINVAL;
    if ((rc = fn(&count, pkt, version)) < 0)
        return rc;
    /* 3.1.1 §2.2.3 / 5.0 §2.1.4: the Remaining Length is at most 268435455. */
    if (extra > MQTT_VARINT_MAX || count.pos > MQTT_VARINT_MAX - extra)
        return HX_EINVAL;
    uint32_t rl = (uint32_t)(count.pos + extra);
    size_t total = 1 + mqtt_varint_size(rl) + count.pos;
    *out_len = total;
    if (total > len)
        return HX_ETOOBIG;
    struct mqtt__wr w = {.p = buf, .cap = len, .pos = 0};
    mqtt__wr_u8(&w, first);
    (void)mqtt__wr_varint(&w, rl);
    if ((rc = fn(&w, pkt, version)) < 0 || HX_UNLIKELY_BUG(w.pos != total)) {
        *out_len = 0;
        return rc < 0 ? rc : HX_EINVAL;
    }
    return 0;
}

/* ---- CONNACK ------------------------------------------------------------------------------ */

static int connack_body(struct mqtt__wr *w, const void *pkt, uint8_t version)
{
    const struct mqtt_connack *c = pkt;

    /* MQTT-3.2.2-4 (5.0 MQTT-3.2.2-6): Session Present is 0 with a non-zero code. */
    if (c->session_present && c->reason != 0)
        return HX_EINVAL;
    if (version == MQTT_V311 && c->reason > MQTT_V311_NOT_AUTHORIZED) /* 3.1.1 §3.2.2.3 */
        return HX_EINVAL;
    mqtt__wr_u8(w, c->session_present ? 1 : 0); /* Connect Acknowledge Flags, bits 7-1 zero */
    mqtt__wr_u8(w, c->reason);
    if (version == MQTT_V5)
        return mqtt__props_encode(w, MQTT_CONNACK, &c->props);
    return 0;
}

int mqtt_connack_encode(const struct mqtt_connack *c, uint8_t version, uint8_t *buf, size_t len,
                        size_t *out_len)
{
    return encode(MQTT_CONNACK << 4, connack_body, c, version, 0, buf, len, out_len);
}

/* ---- PUBLISH ------------------------------------------------------------------------------ */

static int publish_body(struct mqtt__wr *w, const void *pkt, uint8_t version)
{
    const struct mqtt_publish *p = pkt;
    int rc;

    if (p->qos > 2 || (p->dup && p->qos == 0)) /* MQTT-3.3.1-4, MQTT-3.3.1-2 */
        return HX_EINVAL;
    if (p->qos > 0 && p->packet_id == 0) /* MQTT-2.3.1-1 */
        return HX_EINVAL;
    /* MQTT-4.7.3-1: a topic is needed, except with a Topic Alias in 5.0 (§3.3.2.3.4). */
    if (p->topic.len == 0 &&
        !(version == MQTT_V5 && mqtt_props_has(&p->props, MQTT_PROP_TOPIC_ALIAS)))
        return HX_EINVAL;
    if ((rc = mqtt__wr_bin(w, p->topic)) < 0)
        return rc;
    if (p->qos > 0)
        mqtt__wr_u16(w, p->packet_id);
    if (version == MQTT_V5)
        return mqtt__props_encode(w, MQTT_PUBLISH, &p->props);
    return 0;
}

static uint8_t publish_first_byte(const struct mqtt_publish *p)
{
    return (uint8_t)((MQTT_PUBLISH << 4) | (p->dup ? 0x08 : 0) | ((p->qos & 3) << 1) |
                     (p->retain ? 0x01 : 0));
}

int mqtt_publish_encode_header(const struct mqtt_publish *p, uint8_t version, uint8_t *buf,
                               size_t len, size_t *out_len)
{
    return encode(publish_first_byte(p), publish_body, p, version, p->payload.len, buf, len,
                  out_len);
}

int mqtt_publish_encode(const struct mqtt_publish *p, uint8_t version, uint8_t *buf, size_t len,
                        size_t *out_len)
{
    size_t hdr;
    /* Size the header first so that nothing is written when the whole does not fit. */
    int rc = mqtt_publish_encode_header(p, version, NULL, 0, &hdr);
    if (rc != HX_ETOOBIG) {
        *out_len = 0;
        return rc < 0 ? rc : HX_EINVAL;
    }
    *out_len = hdr + p->payload.len;
    if (*out_len > len)
        return HX_ETOOBIG;
    if ((rc = mqtt_publish_encode_header(p, version, buf, len, &hdr)) < 0)
        return rc;
    if (p->payload.len)
        memcpy(buf + hdr, p->payload.ptr, p->payload.len);
    return 0;
}

/* ---- PUBACK / PUBREC / PUBREL / PUBCOMP --------------------------------------------------- */

static int ack_body(struct mqtt__wr *w, const void *pkt, uint8_t version)
{
    const struct mqtt_ack *a = pkt;

    if (a->packet_id == 0) /* MQTT-2.3.1-1 */
        return HX_EINVAL;
    mqtt__wr_u16(w, a->packet_id);
    if (version == MQTT_V311)
        return 0;
    /* 5.0 §3.4.2.1: omit Reason Code and Property Length for Success without properties;
     * §3.4.2.2.1: omit the Property Length when there are no properties. */
    bool no_props = mqtt__props_is_empty(&a->props);
    if (a->reason == 0 && no_props)
        return 0;
    mqtt__wr_u8(w, a->reason);
    if (no_props)
        return 0;
    return mqtt__props_encode(w, a->type, &a->props);
}

int mqtt_ack_encode(const struct mqtt_ack *a, uint8_t version, uint8_t *buf, size_t len,
                    size_t *out_len)
{
    *out_len = 0;
    if (a->type < MQTT_PUBACK || a->type > MQTT_PUBCOMP)
        return HX_EINVAL;
    /* MQTT-3.6.1-1: PUBREL flags are 0010. */
    uint8_t first = (uint8_t)((a->type << 4) | (a->type == MQTT_PUBREL ? 0x02 : 0));
    return encode(first, ack_body, a, version, 0, buf, len, out_len);
}

/* ---- SUBACK / UNSUBACK -------------------------------------------------------------------- */

static int suback_common(struct mqtt__wr *w, const struct mqtt_suback *s, uint8_t ptype,
                         uint8_t version)
{
    int rc;

    if (s->n_reasons > 0 && !s->reasons)
        return HX_EINVAL;
    mqtt__wr_u16(w, s->packet_id);
    if (version == MQTT_V5 && (rc = mqtt__props_encode(w, ptype, &s->props)) < 0)
        return rc;
    if (version == MQTT_V311 && ptype == MQTT_UNSUBACK) /* 3.1.1 §3.11.3: no payload */
        return 0;
    /* MQTT-3.8.4-5 / MQTT-3.9.3-1: one code per filter, in order; 5.0 MQTT-3.11.3-1. */
    if (s->n_reasons == 0)
        return HX_EINVAL;
    for (size_t i = 0; i < s->n_reasons; i++)
        mqtt__wr_u8(w, s->reasons[i]);
    return 0;
}

static int suback_body(struct mqtt__wr *w, const void *pkt, uint8_t version)
{
    return suback_common(w, pkt, MQTT_SUBACK, version);
}

static int unsuback_body(struct mqtt__wr *w, const void *pkt, uint8_t version)
{
    return suback_common(w, pkt, MQTT_UNSUBACK, version);
}

int mqtt_suback_encode(const struct mqtt_suback *s, uint8_t version, uint8_t *buf, size_t len,
                       size_t *out_len)
{
    return encode(MQTT_SUBACK << 4, suback_body, s, version, 0, buf, len, out_len);
}

int mqtt_unsuback_encode(const struct mqtt_suback *s, uint8_t version, uint8_t *buf, size_t len,
                         size_t *out_len)
{
    return encode(MQTT_UNSUBACK << 4, unsuback_body, s, version, 0, buf, len, out_len);
}

/* ---- PINGRESP, DISCONNECT, AUTH ----------------------------------------------------------- */

static int empty_body(struct mqtt__wr *w, const void *pkt, uint8_t version)
{
    return 0;
}

int mqtt_pingresp_encode(uint8_t *buf, size_t len, size_t *out_len)
{
    return encode(MQTT_PINGRESP << 4, empty_body, NULL, MQTT_V311, 0, buf, len, out_len);
}

static int disconnect_body(struct mqtt__wr *w, const void *pkt, uint8_t version)
{
    const struct mqtt_disconnect *d = pkt;

    if (version != MQTT_V5) /* 3.1.1 §3.14: DISCONNECT is client -> server only */
        return HX_EINVAL;
    /* 5.0 §3.14.2.1: Remaining Length 0 means Normal disconnection without properties. */
    bool no_props = mqtt__props_is_empty(&d->props);
    if (d->reason == 0 && no_props)
        return 0;
    mqtt__wr_u8(w, d->reason);
    if (no_props)
        return 0;
    return mqtt__props_encode(w, MQTT_DISCONNECT, &d->props);
}

int mqtt_disconnect_encode(const struct mqtt_disconnect *d, uint8_t version, uint8_t *buf,
                           size_t len, size_t *out_len)
{
    return encode(MQTT_DISCONNECT << 4, disconnect_body, d, version, 0, buf, len, out_len);
}

static int auth_body(struct mqtt__wr *w, const void *pkt, uint8_t version)
{
    const struct mqtt_auth *a = pkt;

    if (version != MQTT_V5) /* 3.1.1 §2.2.1: type 15 is reserved */
        return HX_EINVAL;
    /* 5.0 §3.15.2.1: both omitted only for Success without properties. */
    if (a->reason == 0 && mqtt__props_is_empty(&a->props))
        return 0;
    mqtt__wr_u8(w, a->reason);
    return mqtt__props_encode(w, MQTT_AUTH, &a->props);
}

int mqtt_auth_encode(const struct mqtt_auth *a, uint8_t version, uint8_t *buf, size_t len,
                     size_t *out_len)
{
    return encode(MQTT_AUTH << 4, auth_body, a, version, 0, buf, len, out_len);
}
