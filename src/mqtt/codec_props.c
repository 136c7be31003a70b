/*
 * MQTT 5 properties (5.0 §2.2.2): decoding with per-packet allowed sets, duplicate and range
 * checks; the User Property iterator; encoding for the server's packets.
 * Layer: mqtt front end, pure codec (no I/O, no allocation). Thread: any.
 */
#include "mqtt/mqtt_int.h"

#include <string.h>

enum prop_kind {
    K_NONE = 0, /* not a property id */
    K_BYTE,     /* Byte */
    K_U16,      /* Two Byte Integer */
    K_U32,      /* Four Byte Integer */
    K_VARINT,   /* Variable Byte Integer */
    K_STR,      /* UTF-8 Encoded String */
    K_BIN,      /* Binary Data */
    K_PAIR,     /* UTF-8 String Pair */
};

#define P(id) MQTT_PROP_BIT(MQTT_PROP_##id)

/* Value type of each id, 5.0 §2.2.2.2 table 2-4. */
static const uint8_t prop_kind[0x2B] = {
    [0x01] = K_BYTE,   [0x02] = K_U32,  [0x03] = K_STR,  [0x08] = K_STR,  [0x09] = K_BIN,
    [0x0B] = K_VARINT, [0x11] = K_U32,  [0x12] = K_STR,  [0x13] = K_U16,  [0x15] = K_STR,
    [0x16] = K_BIN,    [0x17] = K_BYTE, [0x18] = K_U32,  [0x19] = K_BYTE, [0x1A] = K_STR,
    [0x1C] = K_STR,    [0x1F] = K_STR,  [0x21] = K_U16,  [0x22] = K_U16,  [0x23] = K_U16,
    [0x24] = K_BYTE,   [0x25] = K_BYTE, [0x26] = K_PAIR, [0x27] = K_U32,  [0x28] = K_BYTE,
    [0x29] = K_BYTE,   [0x2A] = K_BYTE,
};

/* Properties allowed in each packet type (index) and in the Will (index 0), 5.0 §2.2.2.2. */
static const uint64_t allowed[16] = {
    [MQTT__WILL_PROPS] = P(PAYLOAD_FORMAT) | P(MESSAGE_EXPIRY) | P(CONTENT_TYPE) |
                         P(RESPONSE_TOPIC) | P(CORRELATION_DATA) | P(WILL_DELAY) | P(USER),
    [MQTT_CONNECT] = P(SESSION_EXPIRY) | P(AUTH_METHOD) | P(AUTH_DATA) | P(REQUEST_PROBLEM_INFO) |
                     P(REQUEST_RESPONSE_INFO) | P(RECEIVE_MAXIMUM) | P(TOPIC_ALIAS_MAXIMUM) |
                     P(USER) | P(MAXIMUM_PACKET_SIZE),
    [MQTT_CONNACK] = P(SESSION_EXPIRY) | P(ASSIGNED_CLIENT_ID) | P(SERVER_KEEP_ALIVE) |
                     P(AUTH_METHOD) | P(AUTH_DATA) | P(RESPONSE_INFO) | P(SERVER_REFERENCE) |
                     P(REASON_STRING) | P(RECEIVE_MAXIMUM) | P(TOPIC_ALIAS_MAXIMUM) |
                     P(MAXIMUM_QOS) | P(RETAIN_AVAILABLE) | P(USER) | P(MAXIMUM_PACKET_SIZE) |
                     P(WILDCARD_SUB_AVAILABLE) | P(SUB_ID_AVAILABLE) | P(SHARED_SUB_AVAILABLE),
    [MQTT_PUBLISH] = P(PAYLOAD_FORMAT) | P(MESSAGE_EXPIRY) | P(CONTENT_TYPE) | P(RESPONSE_TOPIC) |
                     P(CORRELATION_DATA) | P(SUBSCRIPTION_ID) | P(TOPIC_ALIAS) | P(USER),
    [MQTT_PUBACK] = P(REASON_STRING) | P(USER),
    [MQTT_PUBREC] = P(REASON_STRING) | P(USER),
    [MQTT_PUBREL] = P(REASON_STRING) | P(USER),
    [MQTT_PUBCOMP] = P(REASON_STRING) | P(USER),
    [MQTT_SUBSCRIBE] = P(SUBSCRIPTION_ID) | P(USER),
    [MQTT_SUBACK] = P(REASON_STRING) | P(USER),
    [MQTT_UNSUBSCRIBE] = P(USER),
    [MQTT_UNSUBACK] = P(REASON_STRING) | P(USER),
    [MQTT_DISCONNECT] = P(SESSION_EXPIRY) | P(SERVER_REFERENCE) | P(REASON_STRING) | P(USER),
    [MQTT_AUTH] = P(AUTH_METHOD) | P(AUTH_DATA) | P(REASON_STRING) | P(USER),
};

static enum prop_kind kind_of(uint8_t id)
{
    return id < sizeof(prop_kind) ? (enum prop_kind)prop_kind[id] : K_NONE;
}

/* Stores a decoded scalar in its field. */
static void store_int(struct mqtt_props *o, uint8_t id, uint32_t v)
{
    switch (id) {
    case MQTT_PROP_PAYLOAD_FORMAT:
        o->payload_format = (uint8_t)v;
        break;
    case MQTT_PROP_MESSAGE_EXPIRY:
        o->message_expiry = v;
        break;
    case MQTT_PROP_SUBSCRIPTION_ID:
        o->subscription_id = v;
        break;
    case MQTT_PROP_SESSION_EXPIRY:
        o->session_expiry = v;
        break;
    case MQTT_PROP_SERVER_KEEP_ALIVE:
        o->server_keep_alive = (uint16_t)v;
        break;
    case MQTT_PROP_REQUEST_PROBLEM_INFO:
        o->request_problem_info = (uint8_t)v;
        break;
    case MQTT_PROP_WILL_DELAY:
        o->will_delay = v;
        break;
    case MQTT_PROP_REQUEST_RESPONSE_INFO:
        o->request_response_info = (uint8_t)v;
        break;
    case MQTT_PROP_RECEIVE_MAXIMUM:
        o->receive_maximum = (uint16_t)v;
        break;
    case MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
        o->topic_alias_maximum = (uint16_t)v;
        break;
    case MQTT_PROP_TOPIC_ALIAS:
        o->topic_alias = (uint16_t)v;
        break;
    case MQTT_PROP_MAXIMUM_QOS:
        o->maximum_qos = (uint8_t)v;
        break;
    case MQTT_PROP_RETAIN_AVAILABLE:
        o->retain_available = (uint8_t)v;
        break;
    case MQTT_PROP_MAXIMUM_PACKET_SIZE:
        o->maximum_packet_size = v;
        break;
    case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
        o->wildcard_sub_available = (uint8_t)v;
        break;
    case MQTT_PROP_SUB_ID_AVAILABLE:
        o->sub_id_available = (uint8_t)v;
        break;
    case MQTT_PROP_SHARED_SUB_AVAILABLE:
        o->shared_sub_available = (uint8_t)v;
        break;
    default:
        break;
    }
}

/* Address of a string or binary field, or NULL. */
static struct slice *slice_field(struct mqtt_props *o, uint8_t id)
{
    switch (id) {
    case MQTT_PROP_CONTENT_TYPE:
        return &o->content_type;
    case MQTT_PROP_RESPONSE_TOPIC:
        return &o->response_topic;
    case MQTT_PROP_CORRELATION_DATA:
        return &o->correlation_data;
    case MQTT_PROP_ASSIGNED_CLIENT_ID:
        return &o->assigned_client_id;
    case MQTT_PROP_AUTH_METHOD:
        return &o->auth_method;
    case MQTT_PROP_AUTH_DATA:
        return &o->auth_data;
    case MQTT_PROP_RESPONSE_INFO:
        return &o->response_info;
    case MQTT_PROP_SERVER_REFERENCE:
        return &o->server_reference;
    case MQTT_PROP_REASON_STRING:
        return &o->reason_string;
    default:
        return NULL;
    }
}

/* Range rules on scalar values; returns 0 or the reason code. */
static uint8_t check_int(uint8_t id, uint32_t v)
{
    switch (id) {
    case MQTT_PROP_PAYLOAD_FORMAT:        /* 5.0 §3.3.2.3.2 */
    case MQTT_PROP_REQUEST_PROBLEM_INFO:  /* 5.0 §3.1.2.11.7 */
    case MQTT_PROP_REQUEST_RESPONSE_INFO: /* 5.0 §3.1.2.11.6 */
    case MQTT_PROP_MAXIMUM_QOS:           /* 5.0 §3.2.2.3.4 */
    case MQTT_PROP_RETAIN_AVAILABLE:      /* 5.0 §3.2.2.3.5 */
    case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
    case MQTT_PROP_SUB_ID_AVAILABLE:
    case MQTT_PROP_SHARED_SUB_AVAILABLE:
        return v > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_RECEIVE_MAXIMUM:     /* 5.0 §3.1.2.11.3: 0 is a Protocol Error */
    case MQTT_PROP_MAXIMUM_PACKET_SIZE: /* 5.0 §3.1.2.11.4: 0 is a Protocol Error */
    case MQTT_PROP_SUBSCRIPTION_ID:     /* 5.0 §3.8.2.1.2: 0 is a Protocol Error */
        return v == 0 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_TOPIC_ALIAS: /* 5.0 §3.3.2.3.4: 0 is not permitted */
        return v == 0 ? MQTT_RC_TOPIC_ALIAS_INVALID : 0;
    default:
        return 0;
    }
}

/*
 * Reads one property at r. OUT: id, and the value in *num / *a / *b by kind. Returns 0 or the
 * reason code. Shared by the decoder and the iterator, which only walks validated bytes.
 */
static uint8_t read_one(struct mqtt__rd *r, uint8_t *id, uint32_t *num, struct slice *a,
                        struct slice *b)
{
    uint8_t v8;
    uint16_t v16;
    size_t used;

    /* The identifier is a Variable Byte Integer, but every defined id fits in one byte: a
     * continuation bit is an unknown id (5.0 §2.2.2.2). */
    if (!mqtt__rd_u8(r, id) || kind_of(*id) == K_NONE)
        return MQTT_RC_MALFORMED;
    switch (kind_of(*id)) {
    case K_BYTE:
        if (!mqtt__rd_u8(r, &v8))
            return MQTT_RC_MALFORMED;
        *num = v8;
        return 0;
    case K_U16:
        if (!mqtt__rd_u16(r, &v16))
            return MQTT_RC_MALFORMED;
        *num = v16;
        return 0;
    case K_U32:
        return mqtt__rd_u32(r, num) ? 0 : MQTT_RC_MALFORMED;
    case K_VARINT:
        if (mqtt_varint_decode(r->p + r->pos, mqtt__rd_left(r), true, num, &used) != 0)
            return MQTT_RC_MALFORMED;
        r->pos += used;
        return 0;
    case K_STR:
        /* MQTT-1.5.4-1/2 (5.0): strings are well-formed UTF-8 without U+0000. */
        if (!mqtt__rd_bin(r, a) || !mqtt_utf8_is_valid(*a))
            return MQTT_RC_MALFORMED;
        return 0;
    case K_BIN:
        return mqtt__rd_bin(r, a) ? 0 : MQTT_RC_MALFORMED;
    case K_PAIR:
        /* 5.0 §1.5.7: both strings of a pair follow the UTF-8 string rules. */
        if (!mqtt__rd_bin(r, a) || !mqtt_utf8_is_valid(*a) || !mqtt__rd_bin(r, b) ||
            !mqtt_utf8_is_valid(*b))
            return MQTT_RC_MALFORMED;
        return 0;
    case K_NONE:
        break;
    }
    return MQTT_RC_MALFORMED;
}

int mqtt__props_decode(struct mqtt__rd *r, uint8_t ptype, struct mqtt_props *out, uint8_t *reason)
{
    uint32_t plen;
    size_t used;

    memset(out, 0, sizeof(*out));
    /* 5.0 §2.2.2.1: Property Length is a Variable Byte Integer (minimal, 5.0 §1.5.5). */
    if (mqtt_varint_decode(r->p + r->pos, mqtt__rd_left(r), true, &plen, &used) != 0)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    r->pos += used;
    if (plen > mqtt__rd_left(r))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    out->raw = slice_make(r->p + r->pos, plen);
    struct mqtt__rd pr = {.p = r->p + r->pos, .len = plen, .pos = 0};
    r->pos += plen;

    while (mqtt__rd_left(&pr) > 0) {
        uint8_t id = 0;
        uint32_t num = 0;
        struct slice a = {0}, b = {0};
        uint8_t rc = read_one(&pr, &id, &num, &a, &b);
        if (rc)
            return mqtt__fail(reason, rc);
        /* 5.0 §2.2.2.2: an id not valid for this packet type is a Malformed Packet. */
        if (!(allowed[ptype] & MQTT_PROP_BIT(id)))
            return mqtt__fail(reason, MQTT_RC_MALFORMED);
        if (id == MQTT_PROP_USER) {
            out->n_user_props++;
            continue;
        }
        /* Every property but User Property (and Subscription Identifier in a server
         * PUBLISH, which a client may not send at all) may appear once: "It is a Protocol
         * Error to include ... more than once" (5.0 §3.1.2.11.2 and the like). */
        if (out->present & MQTT_PROP_BIT(id))
            return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
        out->present |= MQTT_PROP_BIT(id);
        struct slice *sf = slice_field(out, id);
        if (sf) {
            *sf = a;
            continue;
        }
        rc = check_int(id, num);
        if (rc)
            return mqtt__fail(reason, rc);
        store_int(out, id, num);
    }
    /* MQTT-3.3.2-14 (5.0): a Response Topic must not contain wildcards. */
    if ((out->present & P(RESPONSE_TOPIC)) && !mqtt_topic_name_is_valid(out->response_topic))
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    /* 5.0 §3.1.2.11.10, §3.15.2.2.3: Authentication Data without a Method is an error. */
    if ((out->present & P(AUTH_DATA)) && !(out->present & P(AUTH_METHOD)))
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    return 0;
}

void mqtt_user_prop_iter_init(struct mqtt_prop_iter *it, const struct mqtt_props *props)
{
    it->raw = props->raw;
    it->pos = 0;
}

bool mqtt_user_prop_next(struct mqtt_prop_iter *it, struct mqtt_user_prop *out)
{
    struct mqtt__rd r = {.p = it->raw.ptr, .len = it->raw.len, .pos = it->pos};
    while (mqtt__rd_left(&r) > 0) {
        uint8_t id = 0;
        uint32_t num;
        struct slice a = {0}, b = {0};
        if (read_one(&r, &id, &num, &a, &b) != 0) {
            it->pos = it->raw.len; /* only on raw bytes that were never validated */
            return false;
        }
        it->pos = r.pos;
        if (id == MQTT_PROP_USER) {
            out->key = a;
            out->value = b;
            return true;
        }
    }
    return false;
}

/* ---- encoding ---------------------------------------------------------------------------- */

static uint32_t int_field(const struct mqtt_props *p, uint8_t id)
{
    switch (id) {
    case MQTT_PROP_PAYLOAD_FORMAT:
        return p->payload_format;
    case MQTT_PROP_MESSAGE_EXPIRY:
        return p->message_expiry;
    case MQTT_PROP_SUBSCRIPTION_ID:
        return p->subscription_id;
    case MQTT_PROP_SESSION_EXPIRY:
        return p->session_expiry;
    case MQTT_PROP_SERVER_KEEP_ALIVE:
        return p->server_keep_alive;
    case MQTT_PROP_REQUEST_PROBLEM_INFO:
        return p->request_problem_info;
    case MQTT_PROP_WILL_DELAY:
        return p->will_delay;
    case MQTT_PROP_REQUEST_RESPONSE_INFO:
        return p->request_response_info;
    case MQTT_PROP_RECEIVE_MAXIMUM:
        return p->receive_maximum;
    case MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
        return p->topic_alias_maximum;
    case MQTT_PROP_TOPIC_ALIAS:
        return p->topic_alias;
    case MQTT_PROP_MAXIMUM_QOS:
        return p->maximum_qos;
    case MQTT_PROP_RETAIN_AVAILABLE:
        return p->retain_available;
    case MQTT_PROP_MAXIMUM_PACKET_SIZE:
        return p->maximum_packet_size;
    case MQTT_PROP_WILDCARD_SUB_AVAILABLE:
        return p->wildcard_sub_available;
    case MQTT_PROP_SUB_ID_AVAILABLE:
        return p->sub_id_available;
    case MQTT_PROP_SHARED_SUB_AVAILABLE:
        return p->shared_sub_available;
    default:
        return 0;
    }
}

/* Writes the properties without their length prefix. */
static int props_body(struct mqtt__wr *w, uint8_t ptype, const struct mqtt_props *p)
{
    int rc;
    /* The USER bit is ignored: user_props[] says what to write. */
    if ((p->present & ~P(USER)) & ~allowed[ptype])
        return HX_EINVAL;
    for (uint8_t id = 1; id < sizeof(prop_kind); id++) {
        if (!(p->present & MQTT_PROP_BIT(id)) || id == MQTT_PROP_USER)
            continue;
        mqtt__wr_u8(w, id);
        uint32_t v = int_field(p, id);
        switch (kind_of(id)) {
        case K_BYTE:
            mqtt__wr_u8(w, (uint8_t)v);
            break;
        case K_U16:
            mqtt__wr_u16(w, (uint16_t)v);
            break;
        case K_U32:
            mqtt__wr_u32(w, v);
            break;
        case K_VARINT:
            if (v == 0 || (rc = mqtt__wr_varint(w, v)) < 0)
                return HX_EINVAL;
            break;
        case K_STR:
        case K_BIN:
            rc = mqtt__wr_bin(w, *slice_field((struct mqtt_props *)p, id));
            if (rc < 0)
                return rc;
            break;
        default:
            return HX_EINVAL;
        }
    }
    if (p->n_subscription_ids) {
        if (ptype != MQTT_PUBLISH || !p->subscription_ids)
            return HX_EINVAL;
        for (size_t i = 0; i < p->n_subscription_ids; i++) {
            mqtt__wr_u8(w, MQTT_PROP_SUBSCRIPTION_ID);
            if (p->subscription_ids[i] == 0 || mqtt__wr_varint(w, p->subscription_ids[i]) < 0)
                return HX_EINVAL;
        }
    }
    if (p->n_user_props && !p->user_props)
        return HX_EINVAL;
    for (size_t i = 0; i < p->n_user_props; i++) {
        mqtt__wr_u8(w, MQTT_PROP_USER);
        if ((rc = mqtt__wr_bin(w, p->user_props[i].key)) < 0 ||
            (rc = mqtt__wr_bin(w, p->user_props[i].value)) < 0)
            return rc;
    }
    return 0;
}

int mqtt__props_encode(struct mqtt__wr *w, uint8_t ptype, const struct mqtt_props *p)
{
    struct mqtt__wr count = {0};
    int rc = props_body(&count, ptype, p);
    if (rc < 0)
        return rc;
    if (count.pos > MQTT_VARINT_MAX || (rc = mqtt__wr_varint(w, (uint32_t)count.pos)) < 0)
        return HX_EINVAL;
    return props_body(w, ptype, p);
}

bool mqtt__props_is_empty(const struct mqtt_props *p)
{
    return (p->present & ~P(USER)) == 0 && p->n_user_props == 0 && p->n_subscription_ids == 0;
}
