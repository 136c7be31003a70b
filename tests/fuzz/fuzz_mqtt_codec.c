/*
 * libFuzzer target for the pure MQTT codec (src/mqtt/codec*.c). The input is a byte stream
 * from a client: it is framed packet by packet (1 MiB limit) and every frame is decoded as
 * 3.1.1 and as 5.0. Whatever decodes is re-encoded (PUBLISH, acks, DISCONNECT and AUTH are
 * decoded again and compared; SUBSCRIBE/UNSUBSCRIBE/CONNECT get their SUBACK/UNSUBACK/CONNACK),
 * exercising the iterators, topic matching and the buffer-too-small paths on the way.
 * Layer: tests. Thread: main.
 */
#include "core/err.h"
#include "core/mem.h"
#include "mqtt/codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_USER 32

/* Copies the decoded User Properties into up[] so the encoders can write them. */
static size_t collect_user(const struct mqtt_props *p, struct mqtt_user_prop *up)
{
    struct mqtt_prop_iter it;
    size_t n = 0;
    mqtt_user_prop_iter_init(&it, p);
    while (n < MAX_USER && mqtt_user_prop_next(&it, &up[n]))
        n++;
    CHECK(n == p->n_user_props || n == MAX_USER);
    return n;
}

typedef int enc_fn(const void *pkt, uint8_t version, uint8_t *buf, size_t len, size_t *out_len);

/*
 * Encodes pkt into an exactly sized heap buffer after checking a too-small buffer is refused
 * without a write. Returns the buffer (caller frees) or NULL if the encoder refused the input.
 */
static uint8_t *encode_exact(enc_fn *fn, const void *pkt, uint8_t version, size_t *len)
{
    uint8_t small[8];
    size_t need = 0;
    memset(small, 0xA5, sizeof small);
    int rc = fn(pkt, version, small, 1, &need);
    if (rc == HX_EINVAL)
        return NULL;
    CHECK(rc == HX_ETOOBIG && need >= 2);
    for (size_t i = 1; i < sizeof small; i++)
        CHECK(small[i] == 0xA5);
    uint8_t *buf = hx_xmalloc(need);
    CHECK(fn(pkt, version, buf, need, len) == 0 && *len == need);
    return buf;
}

/* Frames buf as exactly one packet and decodes it. */
static void redecode(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_packet *out)
{
    struct mqtt_frame f;
    CHECK(mqtt_frame(buf, len, 0, &f) == 0 && f.total_len == len);
    CHECK(mqtt_packet_decode(&f, version, out) == 0);
}

static int enc_publish(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_publish_encode(p, v, b, l, o);
}
static int enc_ack(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_ack_encode(p, v, b, l, o);
}
static int enc_suback(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_suback_encode(p, v, b, l, o);
}
static int enc_unsuback(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_unsuback_encode(p, v, b, l, o);
}
static int enc_connack(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_connack_encode(p, v, b, l, o);
}
static int enc_disconnect(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_disconnect_encode(p, v, b, l, o);
}
static int enc_auth(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_auth_encode(p, v, b, l, o);
}

static void publish_round_trip(const struct mqtt_publish *in, uint8_t v)
{
    struct mqtt_user_prop up[MAX_USER];
    struct mqtt_publish p = *in;
    p.props.n_user_props = collect_user(&in->props, up);
    p.props.user_props = up;
    size_t len;
    uint8_t *buf = encode_exact(enc_publish, &p, v, &len);
    CHECK(buf != NULL);
    struct mqtt_packet d;
    redecode(buf, len, v, &d);
    const struct mqtt_publish *o = &d.u.publish;
    CHECK(o->qos == p.qos && o->dup == p.dup && o->retain == p.retain);
    CHECK(o->packet_id == p.packet_id);
    CHECK(o->topic.len == p.topic.len && !memcmp(o->topic.ptr, p.topic.ptr, p.topic.len));
    CHECK(o->payload.len == p.payload.len &&
          (!p.payload.len || !memcmp(o->payload.ptr, p.payload.ptr, p.payload.len)));
    CHECK(o->props.present == p.props.present);
    CHECK(o->props.n_user_props == p.props.n_user_props);
    CHECK(o->props.message_expiry == p.props.message_expiry);
    CHECK(o->props.topic_alias == p.props.topic_alias);
    /* The topic matches itself as a filter, and "#" unless it is a $-topic. */
    if (p.topic.len) {
        CHECK(mqtt_topic_matches(p.topic, p.topic));
        CHECK(mqtt_topic_matches(slice_cstr("#"), p.topic) == (p.topic.ptr[0] != '$'));
    }
    free(buf);
}

static void ack_round_trip(const struct mqtt_ack *in, uint8_t v)
{
    struct mqtt_user_prop up[MAX_USER];
    struct mqtt_ack a = *in;
    a.props.n_user_props = collect_user(&in->props, up);
    a.props.user_props = up;
    size_t len;
    uint8_t *buf = encode_exact(enc_ack, &a, v, &len);
    CHECK(buf != NULL);
    struct mqtt_packet d;
    redecode(buf, len, v, &d);
    CHECK(d.u.ack.type == a.type && d.u.ack.packet_id == a.packet_id);
    CHECK(d.u.ack.reason == a.reason && d.u.ack.props.present == a.props.present);
    free(buf);
}

static void subscribe_answer(const struct mqtt_subscribe *s, uint8_t v)
{
    uint8_t codes[256];
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    size_t n = 0;
    mqtt_sub_iter_init(&it, s);
    while (mqtt_sub_next(&it, &e)) {
        CHECK(mqtt_topic_filter_is_valid(e.topic_filter));
        (void)mqtt_topic_matches(e.topic_filter, slice_cstr("a/b/c"));
        (void)mqtt_topic_matches(e.topic_filter, slice_cstr("$SYS/x"));
        if (n < sizeof codes)
            codes[n] = e.qos;
        n++;
    }
    CHECK(n == s->n_filters);
    struct mqtt_suback ack = {
        .packet_id = s->packet_id, .reasons = codes, .n_reasons = n < 256 ? n : 256};
    size_t len;
    free(encode_exact(enc_suback, &ack, v, &len));
}

static void unsubscribe_answer(const struct mqtt_unsubscribe *u, uint8_t v)
{
    uint8_t codes[256];
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    size_t n = 0;
    mqtt_unsub_iter_init(&it, u);
    while (mqtt_sub_next(&it, &e)) {
        if (n < sizeof codes)
            codes[n] = MQTT_RC_NO_SUBSCRIPTION_EXISTED;
        n++;
    }
    CHECK(n == u->n_filters);
    struct mqtt_suback ack = {
        .packet_id = u->packet_id, .reasons = codes, .n_reasons = n < 256 ? n : 256};
    size_t len;
    free(encode_exact(enc_unsuback, &ack, v, &len));
}

static void connect_answer(const struct mqtt_connect *c)
{
    struct mqtt_user_prop up[MAX_USER];
    struct mqtt_connack ack = {.session_present = !c->clean_start};
    uint64_t echo = MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY) |
                    MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAXIMUM) |
                    MQTT_PROP_BIT(MQTT_PROP_MAXIMUM_PACKET_SIZE) |
                    MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAXIMUM) |
                    MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD) | MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA);
    ack.props = c->props;
    ack.props.present &= echo;
    ack.props.n_user_props = collect_user(&c->props, up);
    ack.props.user_props = up;
    if (c->client_id.len == 0) {
        ack.props.present |= MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID);
        ack.props.assigned_client_id = slice_cstr("auto-1");
    }
    size_t len;
    uint8_t *buf = encode_exact(enc_connack, &ack, c->level, &len);
    CHECK(buf != NULL);
    free(buf);
}

static void reencode(const struct mqtt_packet *p, uint8_t v)
{
    size_t len;
    struct mqtt_packet d;
    uint8_t *buf;

    switch (p->type) {
    case MQTT_CONNECT:
        connect_answer(&p->u.connect);
        break;
    case MQTT_PUBLISH:
        publish_round_trip(&p->u.publish, v);
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        ack_round_trip(&p->u.ack, v);
        break;
    case MQTT_SUBSCRIBE:
        subscribe_answer(&p->u.subscribe, v);
        break;
    case MQTT_UNSUBSCRIBE:
        unsubscribe_answer(&p->u.unsubscribe, v);
        break;
    case MQTT_PINGREQ: {
        uint8_t pong[2];
        CHECK(mqtt_pingresp_encode(pong, sizeof pong, &len) == 0 && len == 2);
        break;
    }
    case MQTT_DISCONNECT: {
        struct mqtt_user_prop up[MAX_USER];
        struct mqtt_disconnect dc = p->u.disconnect;
        dc.props.n_user_props = collect_user(&p->u.disconnect.props, up);
        dc.props.user_props = up;
        buf = encode_exact(enc_disconnect, &dc, v, &len);
        if (v == MQTT_V311) {
            CHECK(buf == NULL);
            break;
        }
        CHECK(buf != NULL);
        redecode(buf, len, v, &d);
        CHECK(d.u.disconnect.reason == dc.reason);
        CHECK(d.u.disconnect.props.present == dc.props.present);
        free(buf);
        break;
    }
    case MQTT_AUTH: {
        struct mqtt_user_prop up[MAX_USER];
        struct mqtt_auth au = p->u.auth;
        au.props.n_user_props = collect_user(&p->u.auth.props, up);
        au.props.user_props = up;
        buf = encode_exact(enc_auth, &au, v, &len);
        CHECK(buf != NULL);
        redecode(buf, len, v, &d);
        CHECK(d.u.auth.reason == au.reason && d.u.auth.props.present == au.props.present);
        free(buf);
        break;
    }
    default:
        CHECK(0); /* the decoder accepted a server -> client packet */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        struct mqtt_frame f;
        int rc = mqtt_frame(data + off, size - off, 1u << 20, &f);
        if (rc != 0) {
            CHECK(rc == HX_ENEEDMORE || rc == HX_EMALFORMED || rc == HX_ETOOBIG);
            break;
        }
        CHECK(f.total_len <= size - off && f.total_len >= 2);
        for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
            struct mqtt_packet p;
            rc = mqtt_packet_decode(&f, v, &p);
            if (rc == 0) {
                /* CONNECT answers in the version it asked for. */
                reencode(&p, v);
            } else {
                CHECK(rc == HX_EMALFORMED && p.reason >= 0x80);
                (void)mqtt_reason_name(p.reason);
                (void)mqtt_reason_to_v311_connack(p.reason);
            }
        }
        off += f.total_len;
    }
    return 0;
}
