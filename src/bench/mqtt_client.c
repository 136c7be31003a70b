/*
 * Client-side MQTT packets for the load generator (src/bench/bench_mqtt.c): CONNECT and
 * SUBSCRIBE encoders and a CONNACK decoder, 3.1.1 and 5.0. Each encoder runs one body
 * function twice (count, then write) like the server codec, so the size and the bytes cannot
 * disagree. Layer: bench, on top of the pure codec. Thread: any (pure, no allocation).
 */
#include "bench/mqtt_client.h"

#include "core/err.h"

#include <stdbool.h>

/* A writer into p[0..cap); with p == NULL it only counts. */
struct wr {
    uint8_t *p; /* output or NULL */
    size_t cap; /* capacity of p */
    size_t pos; /* bytes produced */
};

static void wr_u8(struct wr *w, uint8_t v)
{
    if (w->p && w->pos < w->cap)
        w->p[w->pos] = v;
    w->pos++;
}

static void wr_u16(struct wr *w, uint16_t v)
{
    wr_u8(w, (uint8_t)(v >> 8));
    wr_u8(w, (uint8_t)v);
}

static void wr_bytes(struct wr *w, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        wr_u8(w, p[i]);
}

/* Two-byte length prefixed string or binary (3.1.1 §1.5.3, 5.0 §1.5.4, §1.5.6). */
static void wr_str(struct wr *w, struct slice s)
{
    wr_u16(w, (uint16_t)s.len);
    wr_bytes(w, s.ptr, s.len);
}

static void wr_varint(struct wr *w, uint32_t v)
{
    uint8_t tmp[4];
    size_t n = mqtt_varint_encode(v, tmp);
    wr_bytes(w, tmp, n);
}

/* Writes fixed header first + Remaining Length rl, then body(w) (run twice by the caller). */
typedef void body_fn(struct wr *w, const void *arg);

static int encode(uint8_t first, body_fn *body, const void *arg, uint8_t *buf, size_t len,
                  size_t *out_len)
{
    struct wr count = {0};
    body(&count, arg);
    if (count.pos > MQTT_VARINT_MAX)
        return HX_EINVAL;
    size_t total = 1 + mqtt_varint_size((uint32_t)count.pos) + count.pos;
    *out_len = total;
    if (total > len)
        return HX_ETOOBIG;
    struct wr w = {.p = buf, .cap = len};
    wr_u8(&w, first);
    wr_varint(&w, (uint32_t)count.pos);
    body(&w, arg);
    return 0;
}

static void connect_body(struct wr *w, const void *arg)
{
    const struct bench_mqtt_connect *c = arg;
    uint8_t flags = 0x02; /* Clean Session / Clean Start */
    if (c->username.len)
        flags |= 0x80;
    if (c->password.len)
        flags |= 0x40;
    wr_str(w, slice_cstr("MQTT")); /* MQTT-3.1.2-1 */
    wr_u8(w, c->version);
    wr_u8(w, flags);
    wr_u16(w, c->keep_alive);
    if (c->version == MQTT_V5) {
        /* Properties: only Receive Maximum (5.0 §3.1.2.11.3). */
        if (c->receive_max) {
            wr_varint(w, 3);
            wr_u8(w, MQTT_PROP_RECEIVE_MAXIMUM);
            wr_u16(w, c->receive_max);
        } else {
            wr_varint(w, 0);
        }
    }
    wr_str(w, c->client_id);
    if (c->username.len)
        wr_str(w, c->username);
    if (c->password.len)
        wr_str(w, c->password);
}

int bench_mqtt_connect_encode(const struct bench_mqtt_connect *c, uint8_t *buf, size_t len,
                              size_t *out_len)
{
    *out_len = 0;
    if (c->version != MQTT_V311 && c->version != MQTT_V5)
        return HX_EINVAL;
    if (c->client_id.len > 65535 || c->username.len > 65535 || c->password.len > 65535)
        return HX_EINVAL;
    if (c->version == MQTT_V311 && c->password.len && !c->username.len)
        return HX_EINVAL; /* MQTT-3.1.2-22 */
    return encode(MQTT_CONNECT << 4, connect_body, c, buf, len, out_len);
}

struct sub_arg {
    uint8_t version;     /* protocol level */
    uint16_t packet_id;  /* non-zero */
    struct slice filter; /* topic filter */
    uint8_t qos;         /* requested maximum QoS */
};

static void subscribe_body(struct wr *w, const void *arg)
{
    const struct sub_arg *s = arg;
    wr_u16(w, s->packet_id);
    if (s->version == MQTT_V5)
        wr_varint(w, 0); /* no properties */
    wr_str(w, s->filter);
    wr_u8(w, s->qos);
}

int bench_mqtt_subscribe_encode(uint8_t version, uint16_t packet_id, struct slice filter,
                                uint8_t qos, uint8_t *buf, size_t len, size_t *out_len)
{
    *out_len = 0;
    if (!packet_id || qos > 2 || !filter.len || filter.len > 65535)
        return HX_EINVAL; /* MQTT-2.3.1-1, MQTT-4.7.3-1 */
    struct sub_arg a = {.version = version, .packet_id = packet_id, .filter = filter, .qos = qos};
    /* MQTT-3.8.1-1: SUBSCRIBE fixed header flags are 0010. */
    return encode((MQTT_SUBSCRIBE << 4) | 0x02, subscribe_body, &a, buf, len, out_len);
}

/* Bytes of the value of property id at p[0..left), or 0 when unknown or truncated. */
static size_t prop_value_len(uint8_t id, const uint8_t *p, size_t left)
{
    switch (id) {
    case MQTT_PROP_PAYLOAD_FORMAT:
    case MQTT_PROP_REQUEST_PROBLEM_INFO:
    case MQTT_PROP_REQUEST_RESPONSE_INFO:
    case MQTT_PROP_MAXIMUM_QOS:
    case MQTT_PROP_RETAIN_AVAILABLE:
    case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
    case MQTT_PROP_SUB_ID_AVAILABLE:
    case MQTT_PROP_SHARED_SUB_AVAILABLE:
        return left >= 1 ? 1 : 0;
    case MQTT_PROP_SERVER_KEEP_ALIVE:
    case MQTT_PROP_RECEIVE_MAXIMUM:
    case MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
    case MQTT_PROP_TOPIC_ALIAS:
        return left >= 2 ? 2 : 0;
    case MQTT_PROP_MESSAGE_EXPIRY:
    case MQTT_PROP_SESSION_EXPIRY:
    case MQTT_PROP_WILL_DELAY:
    case MQTT_PROP_MAXIMUM_PACKET_SIZE:
        return left >= 4 ? 4 : 0;
    case MQTT_PROP_CONTENT_TYPE:
    case MQTT_PROP_RESPONSE_TOPIC:
    case MQTT_PROP_CORRELATION_DATA:
    case MQTT_PROP_ASSIGNED_CLIENT_ID:
    case MQTT_PROP_AUTH_METHOD:
    case MQTT_PROP_AUTH_DATA:
    case MQTT_PROP_RESPONSE_INFO:
    case MQTT_PROP_SERVER_REFERENCE:
    case MQTT_PROP_REASON_STRING: {
        if (left < 2)
            return 0;
        size_t n = 2 + (((size_t)p[0] << 8) | p[1]);
        return n <= left ? n : 0;
    }
    case MQTT_PROP_USER: {
        size_t first = prop_value_len(MQTT_PROP_REASON_STRING, p, left);
        if (!first)
            return 0;
        size_t second = prop_value_len(MQTT_PROP_REASON_STRING, p + first, left - first);
        return second ? first + second : 0;
    }
    default:
        return 0;
    }
}

int bench_mqtt_connack_decode(const struct mqtt_frame *f, uint8_t version,
                              struct bench_mqtt_connack *out)
{
    *out = (struct bench_mqtt_connack){0};
    const uint8_t *p = f->body.ptr;
    size_t len = f->body.len;
    if (f->type != MQTT_CONNACK || len < 2 || (p[0] & 0xFE))
        return HX_EMALFORMED; /* 3.1.1 §3.2.2.1: bits 7-1 reserved */
    out->session_present = p[0] & 1;
    out->reason = p[1];
    if (version != MQTT_V5)
        return len == 2 ? 0 : HX_EMALFORMED;
    if (len == 2)
        return 0; /* properties may be omitted on failure codes */
    uint32_t plen;
    size_t used;
    if (mqtt_varint_decode(p + 2, len - 2, true, &plen, &used) < 0 || plen != len - 2 - used)
        return HX_EMALFORMED;
    size_t pos = 2 + used;
    while (pos < len) {
        uint8_t id = p[pos++];
        size_t n = prop_value_len(id, p + pos, len - pos);
        if (!n)
            return HX_EMALFORMED;
        if (id == MQTT_PROP_RECEIVE_MAXIMUM)
            out->receive_max = (uint16_t)((p[pos] << 8) | p[pos + 1]);
        else if (id == MQTT_PROP_SERVER_KEEP_ALIVE)
            out->server_keep_alive = (uint16_t)((p[pos] << 8) | p[pos + 1]);
        pos += n;
    }
    return 0;
}
