/*
 * MQTT 3.1.1 / 5.0 codec, decode side: Variable Byte Integers, framing with fixed-header
 * checks, UTF-8 and topic validation, topic matching, reason code names, and the decoders of
 * every client -> server packet. Decoders return slices into the frame, never allocate, and
 * report the MQTT 5 reason code the session layer should answer with.
 * Layer: mqtt front end, pure codec (no I/O, no loop, no globals). Thread: any.
 */
#include "mqtt/mqtt_int.h"

#include <string.h>

/* ---- Variable Byte Integer ---------------------------------------------------------------- */

int mqtt_varint_decode(const uint8_t *p, size_t len, bool strict, uint32_t *value, size_t *consumed)
{
    uint32_t v = 0;

    for (size_t i = 0; i < 4; i++) {
        if (i >= len)
            return HX_ENEEDMORE;
        v |= (uint32_t)(p[i] & 0x7F) << (7 * i);
        if (!(p[i] & 0x80)) {
            /* 5.0 §1.5.5: "the minimum number of bytes"; a last byte of 0 after a
             * continuation means the value fit in fewer bytes. */
            if (strict && i > 0 && p[i] == 0)
                return HX_EMALFORMED;
            *value = v;
            *consumed = i + 1;
            return 0;
        }
    }
    /* 3.1.1 §2.2.3 / 5.0 §1.5.5: at most four bytes; the fourth may not continue. */
    return HX_EMALFORMED;
}

size_t mqtt_varint_size(uint32_t v)
{
    if (v < 128u)
        return 1;
    if (v < 16384u)
        return 2;
    if (v < 2097152u)
        return 3;
    if (v <= MQTT_VARINT_MAX)
        return 4;
    return 0;
}

size_t mqtt_varint_encode(uint32_t v, uint8_t out[4])
{
    size_t n = mqtt_varint_size(v);
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (i + 1 < n)
            out[i] |= 0x80;
    }
    return n;
}

/* ---- Framing ------------------------------------------------------------------------------ */

/* Fixed-header flag rules (3.1.1 §2.2.2 table 2.2, 5.0 §2.1.3). */
static bool flags_are_valid(uint8_t type, uint8_t flags)
{
    switch (type) {
    case MQTT_PUBLISH: {
        uint8_t qos = (flags >> 1) & 3;
        if (qos == 3) /* MQTT-3.3.1-4 */
            return false;
        if ((flags & 0x08) && qos == 0) /* MQTT-3.3.1-2: DUP must be 0 for QoS 0 */
            return false;
        return true;
    }
    case MQTT_PUBREL:      /* MQTT-3.6.1-1 */
    case MQTT_SUBSCRIBE:   /* MQTT-3.8.1-1 */
    case MQTT_UNSUBSCRIBE: /* MQTT-3.10.1-1 */
        return flags == 0x2;
    default: /* MQTT-2.2.2-1/2: reserved flags are 0 */
        return flags == 0;
    }
}

int mqtt_frame(const uint8_t *p, size_t len, size_t max_packet, struct mqtt_frame *out)
{
    uint32_t rl;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (len < 1)
        return HX_ENEEDMORE;
    out->type = p[0] >> 4;
    out->flags = p[0] & 0x0F;
    /* 3.1.1 §2.2.1 / 5.0 §2.1.2: type 0 is reserved (forbidden). */
    if (out->type == 0 || !flags_are_valid(out->type, out->flags)) {
        out->reason = MQTT_RC_MALFORMED;
        return HX_EMALFORMED;
    }
    int rc = mqtt_varint_decode(p + 1, len - 1, false, &rl, &n);
    if (rc == HX_EMALFORMED) {
        out->reason = MQTT_RC_MALFORMED;
        return rc;
    }
    if (rc < 0)
        return rc;
    out->rl_non_minimal = n > 1 && p[n] == 0;
    out->remaining_len = rl;
    out->header_len = 1 + n;
    out->total_len = out->header_len + rl;
    /* 5.0 §3.1.2.11.4: Maximum Packet Size counts the whole packet; refuse before buffering. */
    if (max_packet && out->total_len > max_packet) {
        out->reason = MQTT_RC_PACKET_TOO_LARGE;
        return HX_ETOOBIG;
    }
    if (len < out->total_len)
        return HX_ENEEDMORE;
    out->body = slice_make(p + out->header_len, rl);
    return 0;
}

/* ---- UTF-8 and topics --------------------------------------------------------------------- */

bool mqtt_utf8_is_valid(struct slice s)
{
    const uint8_t *p = s.ptr;
    size_t n = s.len, i = 0;

    while (i < n) {
        uint8_t c = p[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

        if (c == 0) /* MQTT-1.5.3-2: no U+0000 */
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        /* MQTT-1.5.3-1: well-formed per RFC 3629 (Unicode Table 3-7). */
        if (c < 0xC2) /* stray continuation, or overlong C0/C1 */
            return false;
        if (c < 0xE0) {
            need = 1;
        } else if (c < 0xF0) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* U+D800..U+DFFF surrogates */
        } else if (c < 0xF5) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

bool mqtt_topic_name_is_valid(struct slice s)
{
    /* MQTT-4.7.3-1: at least one character; §1.5.3: at most 65535 bytes. */
    if (s.len == 0 || s.len > 0xFFFF || !mqtt_utf8_is_valid(s))
        return false;
    /* MQTT-3.3.2-2 (5.0 MQTT-3.3.2-2): no wildcard characters in a Topic Name. */
    return memchr(s.ptr, '+', s.len) == NULL && memchr(s.ptr, '#', s.len) == NULL;
}

bool mqtt_topic_filter_is_valid(struct slice s)
{
    if (s.len == 0 || s.len > 0xFFFF || !mqtt_utf8_is_valid(s)) /* MQTT-4.7.3-1 */
        return false;
    for (size_t i = 0; i < s.len; i++) {
        bool level_start = i == 0 || s.ptr[i - 1] == '/';
        bool level_end = i + 1 == s.len || s.ptr[i + 1] == '/';
        if (s.ptr[i] == '+' && !(level_start && level_end)) /* MQTT-4.7.1-3 */
            return false;
        if (s.ptr[i] == '#' && !(level_start && i + 1 == s.len)) /* MQTT-4.7.1-2 */
            return false;
    }
    return true;
}

int mqtt_shared_split(struct slice s, bool *is_shared, struct slice *share_name,
                      struct slice *filter)
{
    static const char prefix[] = "$share/";
    const size_t plen = sizeof(prefix) - 1;

    *is_shared = false;
    *share_name = slice_make(NULL, 0);
    *filter = s;
    if (!slice_has_prefix(s, prefix))
        return 0;
    struct slice rest = slice_make(s.ptr + plen, s.len - plen);
    const uint8_t *slash = memchr(rest.ptr, '/', rest.len);
    if (!slash) /* 5.0 §4.8.2: "$share/{ShareName}/{filter}" */
        return HX_EMALFORMED;
    struct slice name = slice_make(rest.ptr, (size_t)(slash - rest.ptr));
    /* MQTT-4.8.2-1: ShareName at least one character; MQTT-4.8.2-2: no '/', '+' or '#'. */
    if (name.len == 0 || memchr(name.ptr, '+', name.len) || memchr(name.ptr, '#', name.len))
        return HX_EMALFORMED;
    size_t off = name.len + 1;
    if (off >= rest.len)
        return HX_EMALFORMED;
    *is_shared = true;
    *share_name = name;
    *filter = slice_make(rest.ptr + off, rest.len - off);
    return 0;
}

bool mqtt_topic_matches(struct slice filter, struct slice topic)
{
    const uint8_t *f = filter.ptr, *t = topic.ptr;
    size_t fi = 0, ti = 0;
    bool topic_done = false;

    /* MQTT-4.7.2-1: a leading wildcard does not match a topic beginning with '$'. */
    if (topic.len && t[0] == '$' && filter.len && (f[0] == '+' || f[0] == '#'))
        return false;
    for (;;) {
        size_t fe = fi;
        while (fe < filter.len && f[fe] != '/')
            fe++;
        bool wild_one = fe - fi == 1 && f[fi] == '+';
        /* '#' matches this level and everything below, and also the parent ("a/#" matches
         * "a"), 3.1.1 §4.7.1.2. */
        if (fe - fi == 1 && f[fi] == '#')
            return true;
        if (topic_done)
            return false;
        size_t te = ti;
        while (te < topic.len && t[te] != '/')
            te++;
        if (!wild_one && (fe - fi != te - ti || memcmp(f + fi, t + ti, fe - fi) != 0))
            return false;
        bool f_last = fe >= filter.len, t_last = te >= topic.len;
        if (f_last)
            return t_last;
        fi = fe + 1;
        if (t_last)
            topic_done = true;
        else
            ti = te + 1;
    }
}

/* ---- Reason codes ------------------------------------------------------------------------- */

const char *mqtt_reason_name(uint8_t reason)
{
    switch (reason) {
    case 0x00:
        return "Success";
    case 0x01:
        return "Granted QoS 1";
    case 0x02:
        return "Granted QoS 2";
    case 0x04:
        return "Disconnect with Will Message";
    case 0x10:
        return "No matching subscribers";
    case 0x11:
        return "No subscription existed";
    case 0x18:
        return "Continue authentication";
    case 0x19:
        return "Re-authenticate";
    case 0x80:
        return "Unspecified error";
    case 0x81:
        return "Malformed Packet";
    case 0x82:
        return "Protocol Error";
    case 0x83:
        return "Implementation specific error";
    case 0x84:
        return "Unsupported Protocol Version";
    case 0x85:
        return "Client Identifier not valid";
    case 0x86:
        return "Bad User Name or Password";
    case 0x87:
        return "Not authorized";
    case 0x88:
        return "Server unavailable";
    case 0x89:
        return "Server busy";
    case 0x8A:
        return "Banned";
    case 0x8B:
        return "Server shutting down";
    case 0x8C:
        return "Bad authentication method";
    case 0x8D:
        return "Keep Alive timeout";
    case 0x8E:
        return "Session taken over";
    case 0x8F:
        return "Topic Filter invalid";
    case 0x90:
        return "Topic Name invalid";
    case 0x91:
        return "Packet Identifier in use";
    case 0x92:
        return "Packet Identifier not found";
    case 0x93:
        return "Receive Maximum exceeded";
    case 0x94:
        return "Topic Alias invalid";
    case 0x95:
        return "Packet too large";
    case 0x96:
        return "Message rate too high";
    case 0x97:
        return "Quota exceeded";
    case 0x98:
        return "Administrative action";
    case 0x99:
        return "Payload format invalid";
    case 0x9A:
        return "Retain not supported";
    case 0x9B:
        return "QoS not supported";
    case 0x9C:
        return "Use another server";
    case 0x9D:
        return "Server moved";
    case 0x9E:
        return "Shared Subscriptions not supported";
    case 0x9F:
        return "Connection rate exceeded";
    case 0xA0:
        return "Maximum connect time";
    case 0xA1:
        return "Subscription Identifiers not supported";
    case 0xA2:
        return "Wildcard Subscriptions not supported";
    default:
        return "Unknown";
    }
}

uint8_t mqtt_reason_to_v311_connack(uint8_t reason)
{
    switch (reason) {
    case MQTT_RC_SUCCESS:
        return MQTT_V311_ACCEPTED;
    case MQTT_RC_UNSUPPORTED_VERSION: /* MQTT-3.1.2-2 */
        return MQTT_V311_BAD_VERSION;
    case MQTT_RC_CLIENT_ID_INVALID: /* MQTT-3.1.3-9 */
        return MQTT_V311_ID_REJECTED;
    case MQTT_RC_UNSPECIFIED:
    case MQTT_RC_IMPL_SPECIFIC:
    case MQTT_RC_SERVER_UNAVAILABLE:
    case MQTT_RC_SERVER_BUSY:
    case MQTT_RC_SERVER_SHUTTING_DOWN:
    case MQTT_RC_USE_ANOTHER_SERVER:
    case MQTT_RC_SERVER_MOVED:
    case MQTT_RC_QUOTA_EXCEEDED:
    case MQTT_RC_CONNECTION_RATE_EXCEEDED:
        return MQTT_V311_SERVER_UNAVAILABLE;
    case MQTT_RC_BAD_USERNAME_PASSWORD:
    case MQTT_RC_BAD_AUTH_METHOD:
        return MQTT_V311_BAD_USERNAME_PASSWORD;
    case MQTT_RC_NOT_AUTHORIZED:
    case MQTT_RC_BANNED:
        return MQTT_V311_NOT_AUTHORIZED;
    default:
        /* Malformed packets and protocol errors: 3.1.1 closes without a CONNACK (§4.8). */
        return MQTT_V311_CONNACK_NONE;
    }
}

/* ---- Decoders ----------------------------------------------------------------------------- */

/* Checks the frame matches the decoder and the version is one we speak. */
static int frame_check(const struct mqtt_frame *f, uint8_t version, uint8_t type, uint8_t *reason)
{
    if (HX_UNLIKELY_BUG(version != MQTT_V311 && version != MQTT_V5))
        return HX_EINVAL;
    if (f->type != type)
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    /* 5.0 §1.5.5: Variable Byte Integers use the minimum number of bytes. */
    if (version == MQTT_V5 && f->rl_non_minimal)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    return 0;
}

static struct mqtt__rd body_reader(const struct mqtt_frame *f)
{
    return (struct mqtt__rd){.p = f->body.ptr, .len = f->body.len, .pos = 0};
}

/* Reads a UTF-8 Encoded String (MQTT-1.5.3-1/2). Returns false if short or ill-formed. */
static bool rd_utf8(struct mqtt__rd *r, struct slice *out)
{
    return mqtt__rd_bin(r, out) && mqtt_utf8_is_valid(*out);
}

int mqtt_connect_decode(const struct mqtt_frame *f, struct mqtt_connect *out, uint8_t *reason)
{
    struct mqtt__rd r = body_reader(f);
    uint8_t fl;
    int rc;

    memset(out, 0, sizeof(*out));
    if (f->type != MQTT_CONNECT)
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    if (!mqtt__rd_bin(&r, &out->protocol_name) || !mqtt__rd_u8(&r, &out->level))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* MQTT-3.1.2-1: protocol name "MQTT"; MQTT-3.1.2-2: unsupported level -> CONNACK 0x01
     * (3.1.1) / 0x84 (5.0 §3.1.2.2) and close. 3.1 ("MQIsdp", level 3) is not supported. */
    if (!slice_eq_cstr(out->protocol_name, "MQTT") ||
        (out->level != MQTT_V311 && out->level != MQTT_V5))
        return mqtt__fail(reason, MQTT_RC_UNSUPPORTED_VERSION);
    uint8_t v = out->level;
    if (v == MQTT_V5 && f->rl_non_minimal) /* 5.0 §1.5.5 */
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    if (!mqtt__rd_u8(&r, &fl) || !mqtt__rd_u16(&r, &out->keep_alive))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    out->flags = fl;
    out->clean_start = fl & 0x02;
    out->will = fl & 0x04;
    out->will_qos = (fl >> 3) & 3;
    out->will_retain = fl & 0x20;
    out->has_password = fl & 0x40;
    out->has_username = fl & 0x80;
    /* MQTT-3.1.2-3 (both versions): the reserved flag is 0. */
    if (fl & 0x01)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* MQTT-3.1.2-14 (5.0 MQTT-3.1.2-12): Will QoS 3 is invalid. */
    if (out->will_qos == 3)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* MQTT-3.1.2-13/15 (5.0 MQTT-3.1.2-11/13): no Will -> Will QoS 0 and Will Retain 0. */
    if (!out->will && (out->will_qos != 0 || out->will_retain))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* MQTT-3.1.2-22: in 3.1.1 a Password needs a User Name (5.0 §3.1.2.9 allows it alone). */
    if (v == MQTT_V311 && out->has_password && !out->has_username)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    if (v == MQTT_V5 && (rc = mqtt__props_decode(&r, MQTT_CONNECT, &out->props, reason)) < 0)
        return rc;

    /* Payload order: Client Id, Will Properties, Will Topic, Will Payload, User Name,
     * Password (MQTT-3.1.3-1). */
    if (!rd_utf8(&r, &out->client_id)) /* MQTT-3.1.3-4 */
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* MQTT-3.1.3-8: a zero-byte Client Id with Clean Session 0 -> CONNACK 0x02. In 5.0 the
     * server assigns an id (5.0 §3.1.3.1), which is the session layer's job. */
    if (v == MQTT_V311 && out->client_id.len == 0 && !out->clean_start)
        return mqtt__fail(reason, MQTT_RC_CLIENT_ID_INVALID);
    if (out->will) {
        if (v == MQTT_V5 &&
            (rc = mqtt__props_decode(&r, MQTT__WILL_PROPS, &out->will_props, reason)) < 0)
            return rc;
        if (!rd_utf8(&r, &out->will_topic)) /* MQTT-3.1.3-10 */
            return mqtt__fail(reason, MQTT_RC_MALFORMED);
        /* The Will Topic is a Topic Name: non-empty, no wildcards (MQTT-3.3.2-2). */
        if (!mqtt_topic_name_is_valid(out->will_topic))
            return mqtt__fail(reason, MQTT_RC_TOPIC_NAME_INVALID);
        if (!mqtt__rd_bin(&r, &out->will_payload)) /* 3.1.3.4 / 5.0 §3.1.3.4: binary */
            return mqtt__fail(reason, MQTT_RC_MALFORMED);
    }
    /* MQTT-3.1.2-18/19: User Name present iff its flag; MQTT-3.1.3-11: UTF-8. */
    if (out->has_username && !rd_utf8(&r, &out->username))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* MQTT-3.1.2-20/21: Password present iff its flag; binary data. */
    if (out->has_password && !mqtt__rd_bin(&r, &out->password))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* Nothing may follow the last field the flags announce. */
    if (mqtt__rd_left(&r) != 0)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    return 0;
}

int mqtt_publish_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_publish *out,
                        uint8_t *reason)
{
    struct mqtt__rd r = body_reader(f);
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = frame_check(f, version, MQTT_PUBLISH, reason)) < 0)
        return rc;
    out->dup = f->flags & 0x08;
    out->qos = (f->flags >> 1) & 3;
    out->retain = f->flags & 0x01;
    if (!rd_utf8(&r, &out->topic)) /* MQTT-3.3.2-1: Topic Name is a UTF-8 string */
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* MQTT-3.3.2-2: no wildcards; MQTT-4.7.3-1: non-empty (5.0 allows empty with an alias,
     * checked below). */
    if (out->topic.len > 0 && !mqtt_topic_name_is_valid(out->topic))
        return mqtt__fail(reason, MQTT_RC_TOPIC_NAME_INVALID);
    if (out->topic.len == 0 && version == MQTT_V311)
        return mqtt__fail(reason, MQTT_RC_TOPIC_NAME_INVALID);
    if (out->qos > 0) {
        if (!mqtt__rd_u16(&r, &out->packet_id))
            return mqtt__fail(reason, MQTT_RC_MALFORMED);
        if (out->packet_id == 0) /* MQTT-2.3.1-1 (5.0 MQTT-2.2.1-3) */
            return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    }
    if (version == MQTT_V5) {
        if ((rc = mqtt__props_decode(&r, MQTT_PUBLISH, &out->props, reason)) < 0)
            return rc;
        /* 5.0 MQTT-3.3.4-6: a client's PUBLISH carries no Subscription Identifier. */
        if (mqtt_props_has(&out->props, MQTT_PROP_SUBSCRIPTION_ID))
            return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
        /* 5.0 §3.3.2.1: an empty Topic Name without a Topic Alias is a Protocol Error. */
        if (out->topic.len == 0 && !mqtt_props_has(&out->props, MQTT_PROP_TOPIC_ALIAS))
            return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    }
    out->payload = slice_make(r.p + r.pos, mqtt__rd_left(&r));
    return 0;
}

/* Reason codes allowed in each acknowledgement (5.0 §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1). */
static bool ack_reason_is_valid(uint8_t type, uint8_t rc)
{
    switch (type) {
    case MQTT_PUBACK:
    case MQTT_PUBREC:
        return rc == 0x00 || rc == 0x10 || rc == 0x80 || rc == 0x83 || rc == 0x87 || rc == 0x90 ||
               rc == 0x91 || rc == 0x97 || rc == 0x99;
    default:
        return rc == 0x00 || rc == 0x92;
    }
}

int mqtt_ack_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_ack *out,
                    uint8_t *reason)
{
    struct mqtt__rd r = body_reader(f);
    int rc;

    memset(out, 0, sizeof(*out));
    if (f->type < MQTT_PUBACK || f->type > MQTT_PUBCOMP)
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    if ((rc = frame_check(f, version, f->type, reason)) < 0)
        return rc;
    out->type = f->type;
    if (!mqtt__rd_u16(&r, &out->packet_id))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    if (out->packet_id == 0) /* MQTT-2.3.1-1 */
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    if (version == MQTT_V311) {
        /* 3.1.1 §3.4.1 etc.: Remaining Length is exactly 2. */
        if (mqtt__rd_left(&r) != 0)
            return mqtt__fail(reason, MQTT_RC_MALFORMED);
        return 0;
    }
    /* 5.0 §3.4.2.1: the Reason Code may be omitted when the Remaining Length is 2 (0x00);
     * §3.4.2.2.1: with a Remaining Length below 4 there is no Property Length. */
    if (mqtt__rd_left(&r) == 0)
        return 0;
    (void)mqtt__rd_u8(&r, &out->reason);
    if (!ack_reason_is_valid(out->type, out->reason))
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    if (mqtt__rd_left(&r) == 0)
        return 0;
    if ((rc = mqtt__props_decode(&r, out->type, &out->props, reason)) < 0)
        return rc;
    if (mqtt__rd_left(&r) != 0)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    return 0;
}

/*
 * Reads one SUBSCRIBE entry (with_options) or UNSUBSCRIBE entry. Returns 0 or HX_EMALFORMED
 * with *reason. The iterator calls it again on validated bytes, where it cannot fail.
 */
static int read_sub_entry(struct mqtt__rd *r, uint8_t version, bool with_options,
                          struct mqtt_sub_entry *e, uint8_t *reason)
{
    uint8_t o;

    memset(e, 0, sizeof(*e));
    if (!rd_utf8(r, &e->filter)) /* MQTT-3.8.3-1, MQTT-3.10.3-1: UTF-8 strings */
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    e->topic_filter = e->filter;
    /* 5.0 §4.8.2: shared subscriptions; 3.1.1 has none, "$share/..." is a plain filter. */
    if (version == MQTT_V5 &&
        mqtt_shared_split(e->filter, &e->is_shared, &e->share_name, &e->topic_filter) < 0)
        return mqtt__fail(reason, MQTT_RC_TOPIC_FILTER_INVALID);
    if (!mqtt_topic_filter_is_valid(e->topic_filter)) /* MQTT-4.7.1-2/3, MQTT-4.7.3-1 */
        return mqtt__fail(reason, MQTT_RC_TOPIC_FILTER_INVALID);
    if (!with_options)
        return 0;
    if (!mqtt__rd_u8(r, &o))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    e->qos = o & 3;
    if (e->qos == 3) /* MQTT-3.8.3-4 (3.1.1), 5.0 §3.8.3.1: QoS 3 is malformed */
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    if (version == MQTT_V311) {
        if (o & 0xFC) /* MQTT-3-8.3-4: upper six bits reserved, 0 */
            return mqtt__fail(reason, MQTT_RC_MALFORMED);
        return 0;
    }
    e->no_local = o & 0x04;
    e->retain_as_published = o & 0x08;
    e->retain_handling = (o >> 4) & 3;
    if (o & 0xC0) /* 5.0 MQTT-3.8.3-5: bits 7-6 reserved, 0 */
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    if (e->retain_handling == 3) /* 5.0 §3.8.3.1: Retain Handling 3 is a Protocol Error */
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    if (e->is_shared && e->no_local) /* 5.0 MQTT-3.8.3-4 */
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    return 0;
}

/* Common body of SUBSCRIBE and UNSUBSCRIBE: packet id, properties, entry list. */
static int decode_sub_common(const struct mqtt_frame *f, uint8_t version, uint8_t type,
                             uint16_t *packet_id, struct mqtt_props *props, struct slice *payload,
                             size_t *n_filters, uint8_t *reason)
{
    struct mqtt__rd r = body_reader(f);
    struct mqtt_sub_entry e;
    int rc;

    if ((rc = frame_check(f, version, type, reason)) < 0)
        return rc;
    if (!mqtt__rd_u16(&r, packet_id))
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    if (*packet_id == 0) /* MQTT-2.3.1-1 */
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    if (version == MQTT_V5 && (rc = mqtt__props_decode(&r, type, props, reason)) < 0)
        return rc;
    *payload = slice_make(r.p + r.pos, mqtt__rd_left(&r));
    /* MQTT-3.8.3-3 / MQTT-3.10.3-2: at least one filter (5.0: a Protocol Error). */
    if (payload->len == 0)
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    *n_filters = 0;
    while (mqtt__rd_left(&r) > 0) {
        if ((rc = read_sub_entry(&r, version, type == MQTT_SUBSCRIBE, &e, reason)) < 0)
            return rc;
        (*n_filters)++;
    }
    return 0;
}

int mqtt_subscribe_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_subscribe *out,
                          uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    out->version = version;
    return decode_sub_common(f, version, MQTT_SUBSCRIBE, &out->packet_id, &out->props,
                             &out->payload, &out->n_filters, reason);
}

int mqtt_unsubscribe_decode(const struct mqtt_frame *f, uint8_t version,
                            struct mqtt_unsubscribe *out, uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    out->version = version;
    return decode_sub_common(f, version, MQTT_UNSUBSCRIBE, &out->packet_id, &out->props,
                             &out->payload, &out->n_filters, reason);
}

void mqtt_sub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_subscribe *s)
{
    *it = (struct mqtt_sub_iter){.payload = s->payload, .version = s->version, .options = true};
}

void mqtt_unsub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_unsubscribe *u)
{
    *it = (struct mqtt_sub_iter){.payload = u->payload, .version = u->version};
}

bool mqtt_sub_next(struct mqtt_sub_iter *it, struct mqtt_sub_entry *out)
{
    struct mqtt__rd r = {.p = it->payload.ptr, .len = it->payload.len, .pos = it->pos};
    if (mqtt__rd_left(&r) == 0)
        return false;
    if (read_sub_entry(&r, it->version, it->options, out, NULL) < 0) {
        it->pos = it->payload.len; /* only on a payload that was never validated */
        return false;
    }
    it->pos = r.pos;
    return true;
}

int mqtt_pingreq_decode(const struct mqtt_frame *f, uint8_t version, uint8_t *reason)
{
    int rc = frame_check(f, version, MQTT_PINGREQ, reason);
    if (rc < 0)
        return rc;
    if (f->remaining_len != 0) /* 3.1.1 §3.12: no variable header, no payload */
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    return 0;
}

/* DISCONNECT reason codes (5.0 §3.14.2.1). */
static bool disconnect_reason_is_valid(uint8_t rc)
{
    static const uint8_t ok[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
    return memchr(ok, rc, sizeof(ok)) != NULL;
}

int mqtt_disconnect_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_disconnect *out,
                           uint8_t *reason)
{
    struct mqtt__rd r = body_reader(f);
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = frame_check(f, version, MQTT_DISCONNECT, reason)) < 0)
        return rc;
    if (version == MQTT_V311) {
        if (f->remaining_len != 0) /* 3.1.1 §3.14: no variable header, no payload */
            return mqtt__fail(reason, MQTT_RC_MALFORMED);
        return 0;
    }
    /* 5.0 §3.14.2.1: no Reason Code when the Remaining Length is 0 (Normal disconnection);
     * §3.14.2.2.1: no Property Length when it is below 2. */
    if (mqtt__rd_left(&r) == 0)
        return 0;
    (void)mqtt__rd_u8(&r, &out->reason);
    if (!disconnect_reason_is_valid(out->reason))
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    if (mqtt__rd_left(&r) == 0)
        return 0;
    if ((rc = mqtt__props_decode(&r, MQTT_DISCONNECT, &out->props, reason)) < 0)
        return rc;
    if (mqtt__rd_left(&r) != 0)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    return 0;
}

int mqtt_auth_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_auth *out,
                     uint8_t *reason)
{
    struct mqtt__rd r = body_reader(f);
    int rc;

    memset(out, 0, sizeof(*out));
    /* 3.1.1 §2.2.1: type 15 is reserved (forbidden). */
    if (version == MQTT_V311 && f->type == MQTT_AUTH)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    if ((rc = frame_check(f, version, MQTT_AUTH, reason)) < 0)
        return rc;
    /* 5.0 §3.15.2.1: Reason Code and properties may be omitted together (Success). */
    if (mqtt__rd_left(&r) == 0)
        return 0;
    (void)mqtt__rd_u8(&r, &out->reason);
    if (out->reason != 0x00 && out->reason != 0x18 && out->reason != 0x19) /* 5.0 §3.15.2.1 */
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    if (mqtt__rd_left(&r) > 0 && (rc = mqtt__props_decode(&r, MQTT_AUTH, &out->props, reason)) < 0)
        return rc;
    if (mqtt__rd_left(&r) != 0)
        return mqtt__fail(reason, MQTT_RC_MALFORMED);
    /* 5.0 §3.15.2.2.2: omitting the Authentication Method is a Protocol Error. */
    if (!mqtt_props_has(&out->props, MQTT_PROP_AUTH_METHOD))
        return mqtt__fail(reason, MQTT_RC_PROTOCOL_ERROR);
    return 0;
}

int mqtt_packet_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_packet *out)
{
    memset(out, 0, sizeof(*out));
    out->type = f->type;
    switch (f->type) {
    case MQTT_CONNECT:
        return mqtt_connect_decode(f, &out->u.connect, &out->reason);
    case MQTT_PUBLISH:
        return mqtt_publish_decode(f, version, &out->u.publish, &out->reason);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        return mqtt_ack_decode(f, version, &out->u.ack, &out->reason);
    case MQTT_SUBSCRIBE:
        return mqtt_subscribe_decode(f, version, &out->u.subscribe, &out->reason);
    case MQTT_UNSUBSCRIBE:
        return mqtt_unsubscribe_decode(f, version, &out->u.unsubscribe, &out->reason);
    case MQTT_PINGREQ:
        return mqtt_pingreq_decode(f, version, &out->reason);
    case MQTT_DISCONNECT:
        return mqtt_disconnect_decode(f, version, &out->u.disconnect, &out->reason);
    case MQTT_AUTH:
        return mqtt_auth_decode(f, version, &out->u.auth, &out->reason);
    default:
        /* CONNACK, SUBACK, UNSUBACK, PINGRESP are server -> client only. */
        return mqtt__fail(&out->reason, MQTT_RC_PROTOCOL_ERROR);
    }
}
