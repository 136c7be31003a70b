/*
 * Unit tests for src/mqtt/codec*.c: Variable Byte Integer vectors (REFERENCE 4.1), framing and
 * reserved fixed-header flags, CONNECT 3.1.1 and 5.0 byte vectors written out from the spec and
 * every CONNECT rule, PUBLISH with each QoS and property, acknowledgements with their short
 * forms, SUBSCRIBE options, UNSUBSCRIBE, PINGREQ, DISCONNECT, AUTH, UTF-8 rules, and every
 * encoder against exact bytes, round trips and buffer-too-small behaviour. Thread: main.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/err.h"
#include "mqtt/codec.h"

#include <stdio.h>
#include <string.h>

/* Packet storage for the helpers; decoded slices point into it until the next helper call. */
static uint8_t pkt_buf[1024];

/* Writes first byte + Remaining Length + body into pkt_buf. Returns the packet length. */
static size_t wrap(uint8_t first, const uint8_t *body, size_t n)
{
    uint8_t rl[4];
    size_t k = mqtt_varint_encode((uint32_t)n, rl);
    assert_true(k > 0 && 1 + k + n <= sizeof(pkt_buf));
    pkt_buf[0] = first;
    memcpy(pkt_buf + 1, rl, k);
    if (n)
        memcpy(pkt_buf + 1 + k, body, n);
    return 1 + k + n;
}

/* Frames p as exactly one packet. */
static void frame_whole(const uint8_t *p, size_t len, struct mqtt_frame *f)
{
    assert_int_equal(mqtt_frame(p, len, 0, f), 0);
    assert_int_equal(f->total_len, len);
}

/* Wraps and decodes a packet that must be accepted; *pkt borrows pkt_buf. */
static void accept_body(uint8_t first, const uint8_t *body, size_t n, uint8_t version,
                        struct mqtt_packet *pkt, int line)
{
    struct mqtt_frame f;
    size_t len = wrap(first, body, n);
    frame_whole(pkt_buf, len, &f);
    int rc = mqtt_packet_decode(&f, version, pkt);
    if (rc != 0)
        fail_msg("line %d: rejected (rc %d, reason 0x%02x)", line, rc, pkt->reason);
}

/* Wraps and decodes a packet that must be rejected with want_reason. */
static void reject_body(uint8_t first, const uint8_t *body, size_t n, uint8_t version,
                        uint8_t want_reason, int line)
{
    struct mqtt_frame f;
    struct mqtt_packet pkt;
    size_t len = wrap(first, body, n);
    frame_whole(pkt_buf, len, &f);
    int rc = mqtt_packet_decode(&f, version, &pkt);
    if (rc != HX_EMALFORMED || pkt.reason != want_reason)
        fail_msg("line %d: got rc %d reason 0x%02x, want HX_EMALFORMED reason 0x%02x", line, rc,
                 pkt.reason, want_reason);
}

#define ACCEPT(first, ver, pkt, ...)                                                               \
    do {                                                                                           \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        accept_body(first, b_, sizeof b_, ver, pkt, __LINE__);                                     \
    } while (0)

#define REJECT(first, ver, want, ...)                                                              \
    do {                                                                                           \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        reject_body(first, b_, sizeof b_, ver, want, __LINE__);                                    \
    } while (0)

static struct slice S(const char *s) {
    return slice_cstr(s);
}

/* ---- Variable Byte Integer ---------------------------------------------------------------- */

static void
test_mqtt_varint_decodes_reference_vectors(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[4];
        size_t n;
        uint32_t value;
    } v[] = {
        {{0x00}, 1, 0},
        {{0x7F}, 1, 127},
        {{0x80, 0x01}, 2, 128},
        {{0xC1, 0x02}, 2, 321},
        {{0xFF, 0x7F}, 2, 16383},
        {{0x80, 0x80, 0x01}, 3, 16384},
        {{0xFF, 0xFF, 0x7F}, 3, 2097151},
        {{0x80, 0x80, 0x80, 0x01}, 4, 2097152},
        {{0xFF, 0xFF, 0xFF, 0x7F}, 4, 268435455},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint32_t got = 0xDEADBEEF;
        size_t used = 0;
        assert_int_equal(mqtt_varint_decode(v[i].bytes, v[i].n, true, &got, &used), 0);
        assert_int_equal(got, v[i].value);
        assert_int_equal(used, v[i].n);
        uint8_t enc[4] = {0};
        assert_int_equal(mqtt_varint_encode(v[i].value, enc), v[i].n);
        assert_memory_equal(enc, v[i].bytes, v[i].n);
        assert_int_equal(mqtt_varint_size(v[i].value), v[i].n);
        /* Every proper prefix needs more bytes. */
        for (size_t k = 0; k < v[i].n; k++)
            assert_int_equal(mqtt_varint_decode(v[i].bytes, k, true, &got, &used), HX_ENEEDMORE);
    }
}

static void test_mqtt_varint_rejects_fifth_byte(void **state)
{
    (void)state;
    const uint8_t in[] = {0x80, 0x80, 0x80, 0x80, 0x01};
    uint32_t v;
    size_t used;
    assert_int_equal(mqtt_varint_decode(in, sizeof in, false, &v, &used), HX_EMALFORMED);
    /* Malformed as soon as the fourth byte says "continue", without waiting for a fifth. */
    const uint8_t four[] = {0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(mqtt_varint_decode(four, sizeof four, false, &v, &used), HX_EMALFORMED);
    assert_int_equal(mqtt_varint_size(268435456u), 0);
    uint8_t enc[4];
    assert_int_equal(mqtt_varint_encode(268435456u, enc), 0);
}

static void test_mqtt_varint_rejects_non_minimal_when_strict(void **state)
{
    (void)state;
    const uint8_t zero2[] = {0x80, 0x00};            /* 0 in two bytes */
    const uint8_t v127[] = {0xFF, 0x80, 0x80, 0x00}; /* 127 in four bytes */
    uint32_t v = 99;
    size_t used;
    assert_int_equal(mqtt_varint_decode(zero2, sizeof zero2, true, &v, &used), HX_EMALFORMED);
    assert_int_equal(mqtt_varint_decode(v127, sizeof v127, true, &v, &used), HX_EMALFORMED);
    assert_int_equal(mqtt_varint_decode(zero2, sizeof zero2, false, &v, &used), 0);
    assert_int_equal(v, 0);
    assert_int_equal(mqtt_varint_decode(v127, sizeof v127, false, &v, &used), 0);
    assert_int_equal(v, 127);
    assert_int_equal(used, 4);
}

/* ---- Framing ------------------------------------------------------------------------------ */

static void test_mqtt_frame_needs_more_until_complete(void **state)
{
    (void)state;
    /* PUBLISH QoS 0 "a/b" "hello" followed by a PINGREQ. */
    const uint8_t in[] = {0x30, 0x0A, 0x00, 0x03, 'a', '/',  'b',
                          'h',  'e',  'l',  'l',  'o', 0xC0, 0x00};
    struct mqtt_frame f;
    for (size_t k = 0; k < 12; k++)
        assert_int_equal(mqtt_frame(in, k, 0, &f), HX_ENEEDMORE);
    assert_int_equal(mqtt_frame(in, sizeof in, 0, &f), 0);
    assert_int_equal(f.type, MQTT_PUBLISH);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.remaining_len, 10);
    assert_int_equal(f.header_len, 2);
    assert_int_equal(f.total_len, 12);
    assert_ptr_equal(f.body.ptr, in + 2);
    assert_int_equal(f.body.len, 10);
    assert_int_equal(mqtt_frame(in + 12, 2, 0, &f), 0);
    assert_int_equal(f.type, MQTT_PINGREQ);
    assert_int_equal(f.total_len, 2);
}

static void test_mqtt_frame_rejects_oversize_before_body(void **state)
{
    (void)state;
    /* Announces 16383 bytes; only the header has arrived. */
    const uint8_t in[] = {0x30, 0xFF, 0x7F};
    struct mqtt_frame f;
    assert_int_equal(mqtt_frame(in, sizeof in, 1000, &f), HX_ETOOBIG);
    assert_int_equal(f.reason, MQTT_RC_PACKET_TOO_LARGE);
    /* The limit counts the whole packet: 3 + 16383 fits in 16386, not in 16385. */
    assert_int_equal(mqtt_frame(in, sizeof in, 16386, &f), HX_ENEEDMORE);
    assert_int_equal(mqtt_frame(in, sizeof in, 16385, &f), HX_ETOOBIG);
    /* No limit: just wait. */
    assert_int_equal(mqtt_frame(in, sizeof in, 0, &f), HX_ENEEDMORE);
}

static void test_mqtt_frame_rejects_fifth_length_byte(void **state)
{
    (void)state;
    const uint8_t in[] = {0x30, 0x80, 0x80, 0x80, 0x80, 0x01};
    struct mqtt_frame f;
    assert_int_equal(mqtt_frame(in, sizeof in, 0, &f), HX_EMALFORMED);
    assert_int_equal(f.reason, MQTT_RC_MALFORMED);
}

static void test_mqtt_frame_rejects_reserved_type(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x00};
    struct mqtt_frame f;
    assert_int_equal(mqtt_frame(in, sizeof in, 0, &f), HX_EMALFORMED);
    assert_int_equal(f.reason, MQTT_RC_MALFORMED);
}

static void test_mqtt_frame_rejects_every_reserved_flag_violation(void **state)
{
    (void)state;
    /* 3.1.1 §2.2.2 table 2.2: the one legal flags value per type, PUBLISH aside. */
    static const uint8_t legal[16] = {
        [MQTT_CONNECT] = 0,     [MQTT_CONNACK] = 0,  [MQTT_PUBACK] = 0,    [MQTT_PUBREC] = 0,
        [MQTT_PUBREL] = 2,      [MQTT_PUBCOMP] = 0,  [MQTT_SUBSCRIBE] = 2, [MQTT_SUBACK] = 0,
        [MQTT_UNSUBSCRIBE] = 2, [MQTT_UNSUBACK] = 0, [MQTT_PINGREQ] = 0,   [MQTT_PINGRESP] = 0,
        [MQTT_DISCONNECT] = 0,  [MQTT_AUTH] = 0,
    };
    size_t n_ok = 0;
    for (unsigned type = 1; type < 16; type++) {
        if (type == MQTT_PUBLISH)
            continue;
        for (unsigned flags = 0; flags < 16; flags++) {
            uint8_t in[2] = {(uint8_t)(type << 4 | flags), 0};
            struct mqtt_frame f;
            int rc = mqtt_frame(in, 2, 0, &f);
            if (flags == legal[type]) {
                assert_int_equal(rc, 0);
                n_ok++;
            } else if (rc != HX_EMALFORMED || f.reason != MQTT_RC_MALFORMED) {
                fail_msg("type %u flags 0x%x accepted", type, flags);
            }
        }
    }
    assert_int_equal(n_ok, 14);
}

static void test_mqtt_frame_checks_publish_flags(void **state)
{
    (void)state;
    struct mqtt_frame f;
    const uint8_t qos3[] = {0x36, 0x00};     /* MQTT-3.3.1-4 */
    const uint8_t dup_qos0[] = {0x38, 0x00}; /* MQTT-3.3.1-2 */
    const uint8_t qos3_all[] = {0x3F, 0x00};
    assert_int_equal(mqtt_frame(qos3, 2, 0, &f), HX_EMALFORMED);
    assert_int_equal(mqtt_frame(dup_qos0, 2, 0, &f), HX_EMALFORMED);
    assert_int_equal(mqtt_frame(qos3_all, 2, 0, &f), HX_EMALFORMED);
    /* Every other combination frames. */
    const uint8_t ok[] = {0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x3A, 0x3B, 0x3C, 0x3D};
    for (size_t i = 0; i < sizeof ok; i++) {
        uint8_t in[2] = {ok[i], 0};
        assert_int_equal(mqtt_frame(in, 2, 0, &f), 0);
        assert_int_equal(f.flags, ok[i] & 0x0F);
    }
}

static void test_mqtt_frame_non_minimal_length_rejected_in_v5_only(void **state)
{
    (void)state;
    const uint8_t in[] = {0xC0, 0x80, 0x00}; /* PINGREQ with Remaining Length 0 in 2 bytes */
    struct mqtt_frame f;
    uint8_t reason = 0;
    assert_int_equal(mqtt_frame(in, sizeof in, 0, &f), 0);
    assert_true(f.rl_non_minimal);
    assert_int_equal(mqtt_pingreq_decode(&f, MQTT_V311, &reason), 0);
    assert_int_equal(mqtt_pingreq_decode(&f, MQTT_V5, &reason), HX_EMALFORMED);
    assert_int_equal(reason, MQTT_RC_MALFORMED);
    const uint8_t minimal[] = {0xC0, 0x00};
    assert_int_equal(mqtt_frame(minimal, sizeof minimal, 0, &f), 0);
    assert_false(f.rl_non_minimal);
}

/* ---- UTF-8 -------------------------------------------------------------------------------- */

static void test_mqtt_utf8_accepts_well_formed(void **state)
{
    (void)state;
    static const struct {
        uint8_t b[4];
        size_t n;
    } ok[] = {
        {{'a'}, 1},
        {{0xC3, 0xA9}, 2},             /* U+00E9 */
        {{0xE2, 0x82, 0xAC}, 3},       /* U+20AC */
        {{0xED, 0x9F, 0xBF}, 3},       /* U+D7FF, just below the surrogates */
        {{0xEE, 0x80, 0x80}, 3},       /* U+E000, just above */
        {{0xEF, 0xBF, 0xBF}, 3},       /* U+FFFF */
        {{0xF0, 0x9D, 0x84, 0x9E}, 4}, /* U+1D11E */
        {{0xF4, 0x8F, 0xBF, 0xBF}, 4}, /* U+10FFFF */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!mqtt_utf8_is_valid(slice_make(ok[i].b, ok[i].n)))
            fail_msg("case %zu rejected", i);
    assert_true(mqtt_utf8_is_valid(slice_make(NULL, 0)));
}

static void test_mqtt_utf8_rejects_overlong_surrogate_and_nul(void **state)
{
    (void)state;
    static const struct {
        uint8_t b[4];
        size_t n;
    } bad[] = {
        {{0x00}, 1},                   /* MQTT-1.5.3-2: U+0000 */
        {{0xC0, 0x80}, 2},             /* overlong U+0000 */
        {{0xC0, 0xAF}, 2},             /* overlong '/' */
        {{0xC1, 0xBF}, 2},             /* overlong */
        {{0xE0, 0x80, 0xAF}, 3},       /* overlong '/' */
        {{0xE0, 0x9F, 0xBF}, 3},       /* overlong U+07FF */
        {{0xF0, 0x80, 0x80, 0xAF}, 4}, /* overlong '/' */
        {{0xF0, 0x8F, 0xBF, 0xBF}, 4}, /* overlong U+FFFF */
        {{0xED, 0xA0, 0x80}, 3},       /* MQTT-1.5.3-1: U+D800 */
        {{0xED, 0xBF, 0xBF}, 3},       /* U+DFFF */
        {{0xF4, 0x90, 0x80, 0x80}, 4}, /* U+110000 */
        {{0xF5, 0x80, 0x80, 0x80}, 4},
        {{0xFF}, 1},
        {{0x80}, 1},       /* stray continuation */
        {{0xC3}, 1},       /* truncated */
        {{0xE2, 0x82}, 2}, /* truncated */
        {{0xC3, 0x28}, 2}, /* bad continuation */
        {{0xE2, 0x28, 0xAC}, 3},
        {{0xF0, 0x9D, 0x84, 0x28}, 4},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (mqtt_utf8_is_valid(slice_make(bad[i].b, bad[i].n)))
            fail_msg("case %zu accepted", i);
}

/* ---- CONNECT ------------------------------------------------------------------------------ */

/* As "mosquitto_pub -V mqttv311 -i pub1 -k 60" sends it (3.1.1 §3.1, figure 3.6). */
static const uint8_t connect_v311_min[] = {
    0x10, 0x10,                     /* CONNECT, Remaining Length 16 */
    0x00, 0x04, 'M', 'Q', 'T', 'T', /* Protocol Name */
    0x04,                           /* Protocol Level 4 */
    0x02,                           /* Connect Flags: Clean Session */
    0x00, 0x3C,                     /* Keep Alive 60 */
    0x00, 0x04, 'p', 'u', 'b', '1', /* Client Identifier */
};

/* 3.1.1 with Will (QoS 1, retained), User Name and Password. */
static const uint8_t connect_v311_full[] = {
    0x10, 0x36,                                   /* RL 54 */
    0x00, 0x04, 'M',  'Q',  'T',  'T', 0x04,      /* name, level */
    0xEE,                                         /* flags */
    0x00, 0x0A,                                   /* keep alive 10 */
    0x00, 0x06, 'd',  'e',  'v',  '-', '4',  '2', /* client id */
    0x00, 0x0D, 'd',  'e',  'v',  '/', '4',  '2', '/',
    's',  't',  'a',  't',  'u',  's',                 /* will topic */
    0x00, 0x07, 'o',  'f',  'f',  'l', 'i',  'n', 'e', /* will payload */
    0x00, 0x05, 'a',  'l',  'i',  'c', 'e',            /* user name */
    0x00, 0x03, 0x01, 0x02, 0x00,                      /* password */
};

/* 5.0 with CONNECT properties, Will properties, User Name and Password (5.0 §3.1). */
static const uint8_t connect_v5_full[] = {
    0x10, 0x40,                               /* RL 64 */
    0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05, /* name, level 5 */
    0xCE,                                     /* user, password, will QoS 1, will, clean */
    0x00, 0x3C,                               /* keep alive 60 */
    0x12,                                     /* Property Length 18 */
    0x11, 0x00, 0x00, 0x00, 0x78,             /* Session Expiry Interval 120 */
    0x21, 0x00, 0x0A,                         /* Receive Maximum 10 */
    0x22, 0x00, 0x05,                         /* Topic Alias Maximum 5 */
    0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',  /* User Property k=v */
    0x00, 0x04, 'p',  'u',  'b',  '1',        /* client id */
    0x0E,                                     /* Will Property Length 14 */
    0x18, 0x00, 0x00, 0x00, 0x05,             /* Will Delay Interval 5 */
    0x01, 0x01,                               /* Payload Format Indicator UTF-8 */
    0x03, 0x00, 0x04, 'j',  's',  'o',  'n',  /* Content Type */
    0x00, 0x01, 'w',                          /* will topic */
    0x00, 0x03, 'b',  'y',  'e',              /* will payload */
    0x00, 0x01, 'u',                          /* user name */
    0x00, 0x01, 'p',                          /* password */
};

static void test_mqtt_connect_decodes_v311_minimal(void **state)
{
    (void)state;
    struct mqtt_frame f;
    struct mqtt_connect c;
    uint8_t reason = 0xEE;
    frame_whole(connect_v311_min, sizeof connect_v311_min, &f);
    assert_int_equal(mqtt_connect_decode(&f, &c, &reason), 0);
    assert_int_equal(reason, 0xEE); /* untouched on success */
    assert_true(slice_eq_cstr(c.protocol_name, "MQTT"));
    assert_int_equal(c.level, 4);
    assert_int_equal(c.flags, 0x02);
    assert_true(c.clean_start);
    assert_int_equal(c.keep_alive, 60);
    assert_true(slice_eq_cstr(c.client_id, "pub1"));
    assert_false(c.will);
    assert_false(c.has_username);
    assert_false(c.has_password);
    assert_int_equal(c.props.present, 0);
}

static void test_mqtt_connect_decodes_v311_will_user_password(void **state)
{
    (void)state;
    struct mqtt_frame f;
    struct mqtt_connect c;
    uint8_t reason;
    frame_whole(connect_v311_full, sizeof connect_v311_full, &f);
    assert_int_equal(mqtt_connect_decode(&f, &c, &reason), 0);
    assert_int_equal(c.level, MQTT_V311);
    assert_true(c.clean_start);
    assert_int_equal(c.keep_alive, 10);
    assert_true(slice_eq_cstr(c.client_id, "dev-42"));
    assert_true(c.will);
    assert_int_equal(c.will_qos, 1);
    assert_true(c.will_retain);
    assert_true(slice_eq_cstr(c.will_topic, "dev/42/status"));
    assert_true(slice_eq_cstr(c.will_payload, "offline"));
    assert_true(c.has_username);
    assert_true(slice_eq_cstr(c.username, "alice"));
    assert_true(c.has_password);
    const uint8_t pw[] = {0x01, 0x02, 0x00}; /* binary: a NUL is fine in a password */
    assert_int_equal(c.password.len, 3);
    assert_memory_equal(c.password.ptr, pw, 3);
}

static void test_mqtt_connect_decodes_v5_properties(void **state)
{
    (void)state;
    struct mqtt_frame f;
    struct mqtt_connect c;
    uint8_t reason;
    frame_whole(connect_v5_full, sizeof connect_v5_full, &f);
    assert_int_equal(mqtt_connect_decode(&f, &c, &reason), 0);
    assert_int_equal(c.level, MQTT_V5);
    assert_true(c.clean_start);
    assert_int_equal(c.keep_alive, 60);
    assert_true(mqtt_props_has(&c.props, MQTT_PROP_SESSION_EXPIRY));
    assert_int_equal(c.props.session_expiry, 120);
    assert_true(mqtt_props_has(&c.props, MQTT_PROP_RECEIVE_MAXIMUM));
    assert_int_equal(c.props.receive_maximum, 10);
    assert_int_equal(c.props.topic_alias_maximum, 5);
    assert_false(mqtt_props_has(&c.props, MQTT_PROP_MAXIMUM_PACKET_SIZE));
    assert_int_equal(c.props.n_user_props, 1);
    struct mqtt_prop_iter it;
    struct mqtt_user_prop up;
    mqtt_user_prop_iter_init(&it, &c.props);
    assert_true(mqtt_user_prop_next(&it, &up));
    assert_true(slice_eq_cstr(up.key, "k"));
    assert_true(slice_eq_cstr(up.value, "v"));
    assert_false(mqtt_user_prop_next(&it, &up));
    assert_true(slice_eq_cstr(c.client_id, "pub1"));
    assert_true(c.will);
    assert_int_equal(c.will_qos, 1);
    assert_false(c.will_retain);
    assert_int_equal(c.will_props.will_delay, 5);
    assert_int_equal(c.will_props.payload_format, 1);
    assert_true(slice_eq_cstr(c.will_props.content_type, "json"));
    assert_int_equal(c.will_props.n_user_props, 0);
    assert_true(slice_eq_cstr(c.will_topic, "w"));
    assert_true(slice_eq_cstr(c.will_payload, "bye"));
    assert_true(slice_eq_cstr(c.username, "u"));
    assert_true(slice_eq_cstr(c.password, "p"));
}

/* Decodes a mutated copy of connect_v311_min (byte at idx set to val). */
static int connect_mutated(size_t idx, uint8_t val, struct mqtt_connect *c, uint8_t *reason)
{
    memcpy(pkt_buf, connect_v311_min, sizeof connect_v311_min);
    pkt_buf[idx] = val;
    struct mqtt_frame f;
    frame_whole(pkt_buf, sizeof connect_v311_min, &f);
    return mqtt_connect_decode(&f, c, reason);
}

static void test_mqtt_connect_rejects_flag_violations(void **state)
{
    (void)state;
    struct mqtt_connect c;
    uint8_t reason;
    const size_t flags_at = 9;
    static const struct {
        uint8_t flags;
        const char *rule;
    } bad[] = {
        {0x03, "MQTT-3.1.2-3 reserved bit"},
        {0x01, "MQTT-3.1.2-3 reserved bit alone"},
        {0x0A, "MQTT-3.1.2-13 will QoS 1 without will"},
        {0x12, "MQTT-3.1.2-13 will QoS 2 without will"},
        {0x22, "MQTT-3.1.2-15 will retain without will"},
        {0x1E, "MQTT-3.1.2-14 will QoS 3"},
        {0x42, "MQTT-3.1.2-22 password without user name"},
        {0x82, "MQTT-3.1.2-19 user name flag without user name"},
        {0x06, "will flag without will topic"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reason = 0;
        if (connect_mutated(flags_at, bad[i].flags, &c, &reason) != HX_EMALFORMED ||
            reason != MQTT_RC_MALFORMED)
            fail_msg("%s accepted (reason 0x%02x)", bad[i].rule, reason);
    }
    /* The unmutated packet is fine, so each failure above is due to the flag. */
    assert_int_equal(connect_mutated(flags_at, 0x02, &c, &reason), 0);
}

static void test_mqtt_connect_reports_unsupported_version(void **state)
{
    (void)state;
    struct mqtt_connect c;
    uint8_t reason = 0;
    /* MQTT 3.1: "MQIsdp", level 3. */
    static const uint8_t v31[] = {0x10, 0x11, 0x00, 0x06, 'M',  'Q',  'I', 's', 'd', 'p',
                                  0x03, 0x02, 0x00, 0x3C, 0x00, 0x03, 'a', 'b', 'c'};
    struct mqtt_frame f;
    frame_whole(v31, sizeof v31, &f);
    assert_int_equal(mqtt_connect_decode(&f, &c, &reason), HX_EMALFORMED);
    assert_int_equal(reason, MQTT_RC_UNSUPPORTED_VERSION);
    assert_int_equal(c.level, 3);
    assert_int_equal(mqtt_reason_to_v311_connack(reason), MQTT_V311_BAD_VERSION);
    /* "MQTT" with level 6 and level 3. MQTT-3.1.2-2. */
    assert_int_equal(connect_mutated(8, 6, &c, &reason), HX_EMALFORMED);
    assert_int_equal(reason, MQTT_RC_UNSUPPORTED_VERSION);
    assert_int_equal(c.level, 6);
    assert_int_equal(connect_mutated(8, 3, &c, &reason), HX_EMALFORMED);
    assert_int_equal(reason, MQTT_RC_UNSUPPORTED_VERSION);
    /* Wrong protocol name. MQTT-3.1.2-1. */
    assert_int_equal(connect_mutated(7, 'X', &c, &reason), HX_EMALFORMED);
    assert_int_equal(reason, MQTT_RC_UNSUPPORTED_VERSION);
}

static void test_mqtt_connect_rejects_bad_client_id(void **state)
{
    (void)state;
    /* MQTT-3.1.3-8: empty id with Clean Session 0 in 3.1.1 -> 0x85 (CONNACK 0x02). */
    REJECT(0x10, MQTT_V311, MQTT_RC_CLIENT_ID_INVALID, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x00,
           0x00, 0x3C, 0x00, 0x00);
    assert_int_equal(mqtt_reason_to_v311_connack(MQTT_RC_CLIENT_ID_INVALID), MQTT_V311_ID_REJECTED);
    /* MQTT-3.1.3-7: empty id with Clean Session 1 is accepted. */
    struct mqtt_packet p;
    ACCEPT(0x10, MQTT_V311, &p, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00);
    assert_int_equal(p.u.connect.client_id.len, 0);
    /* 5.0 §3.1.3.1: empty id accepted even with Clean Start 0 (the server assigns one). */
    ACCEPT(0x10, MQTT_V5, &p, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x00, 0x00, 0x3C, 0x00, 0x00,
           0x00);
    assert_int_equal(p.u.connect.level, 5);
    /* MQTT-3.1.3-4 / MQTT-1.5.3-1: ill-formed UTF-8 client id. */
    REJECT(0x10, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
           0x3C, 0x00, 0x02, 0xC0, 0x80);
    /* MQTT-1.5.3-2: U+0000 in the client id. */
    REJECT(0x10, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
           0x3C, 0x00, 0x02, 'a', 0x00);
}

static void test_mqtt_connect_rejects_structure_violations(void **state)
{
    (void)state;
    /* Trailing byte after the last announced field. */
    REJECT(0x10, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
           0x3C, 0x00, 0x01, 'a', 0x00);
    /* Truncated keep alive. */
    REJECT(0x10, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00);
    /* Client id length past the end. */
    REJECT(0x10, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
           0x3C, 0x00, 0x05, 'a');
    /* Will topic with a wildcard (MQTT-3.3.2-2), and empty (MQTT-4.7.3-1). */
    REJECT(0x10, MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06,
           0x00, 0x3C, 0x00, 0x01, 'a', 0x00, 0x03, 'a', '/', '#', 0x00, 0x00);
    REJECT(0x10, MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06,
           0x00, 0x3C, 0x00, 0x01, 'a', 0x00, 0x00, 0x00, 0x00);
    /* User name must be UTF-8 (MQTT-3.1.3-11). */
    REJECT(0x10, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x82, 0x00,
           0x3C, 0x00, 0x01, 'a', 0x00, 0x03, 0xED, 0xA0, 0x80);
    /* Password flag set, password missing. */
    REJECT(0x10, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xC2, 0x00,
           0x3C, 0x00, 0x01, 'a', 0x00, 0x01, 'u');
    /* Protocol name truncated. */
    REJECT(0x10, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q');
}

static void test_mqtt_connect_v5_allows_password_without_user_name(void **state)
{
    (void)state;
    struct mqtt_packet p;
    /* 5.0 §3.1.2.9: Password Flag without User Name Flag is allowed. */
    ACCEPT(0x10, MQTT_V5, &p, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x42, 0x00, 0x3C, 0x00, 0x00,
           0x01, 'a', 0x00, 0x02, 's', 'k');
    assert_true(p.u.connect.has_password);
    assert_false(p.u.connect.has_username);
    assert_true(slice_eq_cstr(p.u.connect.password, "sk"));
}

/* CONNECT 5.0 with the given property bytes (length < 100) and client id "c". */
static int connect_v5_props(const uint8_t *props, size_t n, uint8_t *reason)
{
    uint8_t body[128];
    const uint8_t head[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C};
    size_t k = 0;
    memcpy(body, head, sizeof head);
    k += sizeof head;
    body[k++] = (uint8_t)n;
    memcpy(body + k, props, n);
    k += n;
    body[k++] = 0x00;
    body[k++] = 0x01;
    body[k++] = 'c';
    size_t len = wrap(0x10, body, k);
    struct mqtt_frame f;
    struct mqtt_connect c;
    frame_whole(pkt_buf, len, &f);
    return mqtt_connect_decode(&f, &c, reason);
}

#define CONNECT_PROPS_REJECT(want, ...)                                                            \
    do {                                                                                           \
        static const uint8_t p_[] = {__VA_ARGS__};                                                 \
        uint8_t r_ = 0;                                                                            \
        if (connect_v5_props(p_, sizeof p_, &r_) != HX_EMALFORMED || r_ != (want))                 \
            fail_msg("line %d: reason 0x%02x, want 0x%02x", __LINE__, r_, (want));                 \
    } while (0)

static void test_mqtt_connect_v5_rejects_property_violations(void **state)
{
    (void)state;
    uint8_t reason = 0;
    const uint8_t ok[] = {0x21, 0x00, 0x01, 0x27, 0x00, 0x00, 0x01, 0x00};
    assert_int_equal(connect_v5_props(ok, sizeof ok, &reason), 0);
    /* 5.0 §3.1.2.11.3: Receive Maximum 0 is a Protocol Error. */
    CONNECT_PROPS_REJECT(MQTT_RC_PROTOCOL_ERROR, 0x21, 0x00, 0x00);
    /* 5.0 §3.1.2.11.4: Maximum Packet Size 0. */
    CONNECT_PROPS_REJECT(MQTT_RC_PROTOCOL_ERROR, 0x27, 0x00, 0x00, 0x00, 0x00);
    /* 5.0 §3.1.2.11.2: Session Expiry twice. */
    CONNECT_PROPS_REJECT(MQTT_RC_PROTOCOL_ERROR, 0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00,
                         0x00, 0x02);
    /* 5.0 §3.1.2.11.7: Request Problem Information 2. */
    CONNECT_PROPS_REJECT(MQTT_RC_PROTOCOL_ERROR, 0x17, 0x02);
    /* 5.0 §3.1.2.11.6: Request Response Information 2. */
    CONNECT_PROPS_REJECT(MQTT_RC_PROTOCOL_ERROR, 0x19, 0x02);
    /* 5.0 §3.1.2.11.10: Authentication Data without Method. */
    CONNECT_PROPS_REJECT(MQTT_RC_PROTOCOL_ERROR, 0x16, 0x00, 0x01, 0xAA);
    /* 5.0 §2.2.2.2: a PUBLISH-only property (Topic Alias) in CONNECT is malformed. */
    CONNECT_PROPS_REJECT(MQTT_RC_MALFORMED, 0x23, 0x00, 0x01);
    /* A Will property outside the Will. */
    CONNECT_PROPS_REJECT(MQTT_RC_MALFORMED, 0x18, 0x00, 0x00, 0x00, 0x01);
    /* Unknown property id, and an id with a continuation bit. */
    CONNECT_PROPS_REJECT(MQTT_RC_MALFORMED, 0x05, 0x00);
    CONNECT_PROPS_REJECT(MQTT_RC_MALFORMED, 0x91, 0x00);
    /* Value truncated inside the property block. */
    CONNECT_PROPS_REJECT(MQTT_RC_MALFORMED, 0x11, 0x00, 0x00);
    /* Ill-formed UTF-8 in Authentication Method and in a User Property value. */
    CONNECT_PROPS_REJECT(MQTT_RC_MALFORMED, 0x15, 0x00, 0x02, 0xC0, 0x80);
    CONNECT_PROPS_REJECT(MQTT_RC_MALFORMED, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 0x00);
    /* Several User Properties are fine. */
    const uint8_t users[] = {0x26, 0x00, 0x01, 'a', 0x00, 0x00, 0x26, 0x00, 0x01, 'a', 0x00, 0x00};
    assert_int_equal(connect_v5_props(users, sizeof users, &reason), 0);
}

static void test_mqtt_connect_v5_rejects_will_property_violations(void **state)
{
    (void)state;
    /* Will Property Length past the body. */
    REJECT(0x10, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00, 0x3C,
           0x00, 0x00, 0x01, 'a', 0x20);
    /* Payload Format Indicator 2 in the Will. */
    REJECT(0x10, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00,
           0x3C, 0x00, 0x00, 0x01, 'a', 0x02, 0x01, 0x02, 0x00, 0x01, 't', 0x00, 0x00);
    /* Session Expiry (a CONNECT property) in the Will. */
    REJECT(0x10, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00, 0x3C,
           0x00, 0x00, 0x01, 'a', 0x05, 0x11, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00);
    /* Response Topic with a wildcard (5.0 MQTT-3.3.2-14). */
    REJECT(0x10, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00,
           0x3C, 0x00, 0x00, 0x01, 'a', 0x04, 0x08, 0x00, 0x01, '#', 0x00, 0x01, 't', 0x00, 0x00);
}

static void test_mqtt_connect_v5_rejects_non_minimal_length(void **state)
{
    (void)state;
    /* Same packet as connect_v311_min but level 5 with an empty property block, RL in 2 bytes. */
    static const uint8_t in[] = {0x10, 0x91, 0x00, 0x00, 0x04, 'M',  'Q', 'T', 'T', 0x05,
                                 0x02, 0x00, 0x3C, 0x00, 0x00, 0x04, 'p', 'u', 'b', '1'};
    struct mqtt_frame f;
    struct mqtt_connect c;
    uint8_t reason = 0;
    frame_whole(in, sizeof in, &f);
    assert_true(f.rl_non_minimal);
    assert_int_equal(mqtt_connect_decode(&f, &c, &reason), HX_EMALFORMED);
    assert_int_equal(reason, MQTT_RC_MALFORMED);
    /* Property Length 0 written in two bytes is also non-minimal. */
    REJECT(0x10, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
           0x80, 0x00, 0x00, 0x01, 'a');
}

/* ---- PUBLISH ------------------------------------------------------------------------------ */

static void test_mqtt_publish_decodes_each_qos_v311(void **state)
{
    (void)state;
    struct mqtt_packet p;
    ACCEPT(0x30, MQTT_V311, &p, 0x00, 0x03, 'a', '/', 'b', 'h', 'e', 'l', 'l', 'o');
    assert_int_equal(p.type, MQTT_PUBLISH);
    assert_int_equal(p.u.publish.qos, 0);
    assert_false(p.u.publish.dup);
    assert_false(p.u.publish.retain);
    assert_int_equal(p.u.publish.packet_id, 0);
    assert_true(slice_eq_cstr(p.u.publish.topic, "a/b"));
    assert_true(slice_eq_cstr(p.u.publish.payload, "hello"));

    ACCEPT(0x3B, MQTT_V311, &p, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x07, 'x');
    assert_int_equal(p.u.publish.qos, 1);
    assert_true(p.u.publish.dup);
    assert_true(p.u.publish.retain);
    assert_int_equal(p.u.publish.packet_id, 7);
    assert_true(slice_eq_cstr(p.u.publish.payload, "x"));

    ACCEPT(0x34, MQTT_V311, &p, 0x00, 0x01, 't', 0x12, 0x34);
    assert_int_equal(p.u.publish.qos, 2);
    assert_int_equal(p.u.publish.packet_id, 0x1234);
    assert_int_equal(p.u.publish.payload.len, 0);
}

static void test_mqtt_publish_rejects_bad_topic_and_packet_id(void **state)
{
    (void)state;
    /* MQTT-2.3.1-1: packet id 0 with QoS 1 and 2. */
    REJECT(0x32, MQTT_V311, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 't', 0x00, 0x00);
    REJECT(0x34, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 't', 0x00, 0x00, 0x00);
    /* Packet id missing. */
    REJECT(0x32, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x01, 't', 0x01);
    /* MQTT-3.3.2-2: wildcards in a topic name. */
    REJECT(0x30, MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID, 0x00, 0x03, 'a', '/', '+');
    REJECT(0x30, MQTT_V5, MQTT_RC_TOPIC_NAME_INVALID, 0x00, 0x01, '#', 0x00);
    /* MQTT-4.7.3-1: empty topic in 3.1.1. */
    REJECT(0x30, MQTT_V311, MQTT_RC_TOPIC_NAME_INVALID, 0x00, 0x00, 'x');
    /* 5.0 §3.3.2.1: empty topic without a Topic Alias. */
    REJECT(0x30, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x00, 0x00, 'x');
    /* MQTT-1.5.3-1/2: overlong, surrogate and U+0000 in the topic. */
    REJECT(0x30, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x03, 'a', 0xC0, 0xAF);
    REJECT(0x30, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x03, 0xED, 0xA0, 0x80);
    REJECT(0x30, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x02, 'a', 0x00, 0x00);
    /* Topic length past the end. */
    REJECT(0x30, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x09, 'a');
}

static void test_mqtt_publish_decodes_v5_properties(void **state)
{
    (void)state;
    struct mqtt_packet p;
    ACCEPT(0x33, MQTT_V5, &p, 0x00, 0x03, 'a', '/', 'b', /* topic */
           0x00, 0x2A,                                   /* packet id 42 */
           0x38,                                         /* Property Length 56 */
           0x01, 0x01,                                   /* Payload Format Indicator */
           0x02, 0x00, 0x00, 0x00, 0x3C,                 /* Message Expiry 60 */
           0x03, 0x00, 0x10, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/', 'j', 's',
           'o', 'n',                                  /* Content Type */
           0x08, 0x00, 0x05, 'r', 'e', 'p', 'l', 'y', /* Response Topic */
           0x09, 0x00, 0x02, 0xAB, 0xCD,              /* Correlation Data */
           0x23, 0x00, 0x07,                          /* Topic Alias 7 */
           0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b',    /* User Property a=b */
           0x26, 0x00, 0x01, 'c', 0x00, 0x01, 'd',    /* User Property c=d */
           '{', '}');
    const struct mqtt_publish *pub = &p.u.publish;
    assert_int_equal(pub->qos, 1);
    assert_true(pub->retain);
    assert_int_equal(pub->packet_id, 42);
    assert_int_equal(pub->props.payload_format, 1);
    assert_int_equal(pub->props.message_expiry, 60);
    assert_true(slice_eq_cstr(pub->props.content_type, "application/json"));
    assert_true(slice_eq_cstr(pub->props.response_topic, "reply"));
    assert_int_equal(pub->props.correlation_data.len, 2);
    assert_int_equal(pub->props.correlation_data.ptr[0], 0xAB);
    assert_true(mqtt_props_has(&pub->props, MQTT_PROP_TOPIC_ALIAS));
    assert_int_equal(pub->props.topic_alias, 7);
    assert_int_equal(pub->props.n_user_props, 2);
    struct mqtt_prop_iter it;
    struct mqtt_user_prop up;
    mqtt_user_prop_iter_init(&it, &pub->props);
    assert_true(mqtt_user_prop_next(&it, &up));
    assert_true(slice_eq_cstr(up.key, "a") && slice_eq_cstr(up.value, "b"));
    assert_true(mqtt_user_prop_next(&it, &up));
    assert_true(slice_eq_cstr(up.key, "c") && slice_eq_cstr(up.value, "d"));
    assert_false(mqtt_user_prop_next(&it, &up));
    assert_true(slice_eq_cstr(pub->payload, "{}"));

    /* 5.0 §3.3.2.3.4: empty topic with a Topic Alias. */
    ACCEPT(0x30, MQTT_V5, &p, 0x00, 0x00, 0x03, 0x23, 0x00, 0x02, 'z');
    assert_int_equal(p.u.publish.topic.len, 0);
    assert_int_equal(p.u.publish.props.topic_alias, 2);
    assert_true(slice_eq_cstr(p.u.publish.payload, "z"));
}

static void test_mqtt_publish_rejects_v5_property_violations(void **state)
{
    (void)state;
    /* Topic Alias 0 (5.0 §3.3.2.3.4). */
    REJECT(0x30, MQTT_V5, MQTT_RC_TOPIC_ALIAS_INVALID, 0x00, 0x01, 't', 0x03, 0x23, 0x00, 0x00);
    /* Subscription Identifier from a client (5.0 MQTT-3.3.4-6). */
    REJECT(0x30, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 't', 0x02, 0x0B, 0x01);
    /* Payload Format Indicator 2. */
    REJECT(0x30, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 't', 0x02, 0x01, 0x02);
    /* Content Type twice, Message Expiry twice, Topic Alias twice. */
    REJECT(0x30, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 't', 0x08, 0x03, 0x00, 0x01, 'a',
           0x03, 0x00, 0x01, 'b');
    REJECT(0x30, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 't', 0x0A, 0x02, 0x00, 0x00, 0x00,
           0x01, 0x02, 0x00, 0x00, 0x00, 0x01);
    REJECT(0x30, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 't', 0x06, 0x23, 0x00, 0x01, 0x23,
           0x00, 0x01);
    /* A CONNACK-only property (Maximum QoS). */
    REJECT(0x30, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 't', 0x02, 0x24, 0x01);
    /* Response Topic with a wildcard. */
    REJECT(0x30, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 't', 0x04, 0x08, 0x00, 0x01, '+');
    /* Property Length past the end, and non-minimal. */
    REJECT(0x30, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 't', 0x05, 0x01, 0x01);
    REJECT(0x30, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 't', 0x80, 0x00);
    /* Missing Property Length. */
    REJECT(0x30, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 't');
    /* Content Type with a surrogate. */
    REJECT(0x30, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 't', 0x06, 0x03, 0x00, 0x03, 0xED, 0xB0,
           0x80);
}

/* ---- PUBACK / PUBREC / PUBREL / PUBCOMP ---------------------------------------------------- */

static void test_mqtt_ack_decodes_v311_and_v5_short_forms(void **state)
{
    (void)state;
    struct mqtt_packet p;
    ACCEPT(0x40, MQTT_V311, &p, 0x00, 0x01);
    assert_int_equal(p.u.ack.type, MQTT_PUBACK);
    assert_int_equal(p.u.ack.packet_id, 1);
    REJECT(0x40, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00); /* 3.1.1: RL exactly 2 */
    REJECT(0x40, MQTT_V311, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x00);  /* MQTT-2.3.1-1 */
    REJECT(0x40, MQTT_V311, MQTT_RC_MALFORMED, 0x00);

    ACCEPT(0x40, MQTT_V5, &p, 0x00, 0x07);
    assert_int_equal(p.u.ack.reason, 0);
    ACCEPT(0x50, MQTT_V5, &p, 0x00, 0x07, 0x10);
    assert_int_equal(p.u.ack.type, MQTT_PUBREC);
    assert_int_equal(p.u.ack.reason, MQTT_RC_NO_MATCHING_SUBSCRIBERS);
    ACCEPT(0x40, MQTT_V5, &p, 0x00, 0x07, 0x80, 0x00);
    assert_int_equal(p.u.ack.reason, MQTT_RC_UNSPECIFIED);
    ACCEPT(0x62, MQTT_V5, &p, 0x00, 0x07, 0x92, 0x06, 0x1F, 0x00, 0x03, 'b', 'a', 'd');
    assert_int_equal(p.u.ack.type, MQTT_PUBREL);
    assert_int_equal(p.u.ack.reason, MQTT_RC_PACKET_ID_NOT_FOUND);
    assert_true(slice_eq_cstr(p.u.ack.props.reason_string, "bad"));
    ACCEPT(0x70, MQTT_V5, &p, 0x00, 0x09, 0x00, 0x06, 0x26, 0x00, 0x01, 'k', 0x00, 0x00);
    assert_int_equal(p.u.ack.type, MQTT_PUBCOMP);
    assert_int_equal(p.u.ack.props.n_user_props, 1);
}

static void test_mqtt_ack_rejects_v5_violations(void **state)
{
    (void)state;
    /* 5.0 §3.4.2.1 / §3.7.2.1: reason codes per packet. */
    REJECT(0x40, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x92);
    REJECT(0x70, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x10);
    REJECT(0x62, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x87);
    /* Session Expiry is not an ack property. */
    REJECT(0x40, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01);
    /* Reason String twice. */
    REJECT(0x50, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x00, 0x06, 0x1F, 0x00, 0x00, 0x1F,
           0x00, 0x00);
    /* Bytes after the properties. */
    REJECT(0x40, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x00, 0xFF);
    REJECT(0x40, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x00);
    /* PUBREL with flags 0000 never reaches the decoder (MQTT-3.6.1-1). */
    const uint8_t bad_rel[] = {0x60, 0x02, 0x00, 0x01};
    struct mqtt_frame f;
    assert_int_equal(mqtt_frame(bad_rel, sizeof bad_rel, 0, &f), HX_EMALFORMED);
}

/* ---- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------------------- */

static void test_mqtt_subscribe_decodes_v311_filters(void **state)
{
    (void)state;
    struct mqtt_packet p;
    ACCEPT(0x82, MQTT_V311, &p, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '/',
           '#', 0x02);
    const struct mqtt_subscribe *s = &p.u.subscribe;
    assert_int_equal(s->packet_id, 10);
    assert_int_equal(s->n_filters, 2);
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    mqtt_sub_iter_init(&it, s);
    assert_true(mqtt_sub_next(&it, &e));
    assert_true(slice_eq_cstr(e.filter, "a/b"));
    assert_true(slice_eq_cstr(e.topic_filter, "a/b"));
    assert_int_equal(e.qos, 1);
    assert_true(mqtt_sub_next(&it, &e));
    assert_true(slice_eq_cstr(e.filter, "c/#"));
    assert_int_equal(e.qos, 2);
    assert_false(mqtt_sub_next(&it, &e));
    /* 3.1.1 has no shared subscriptions: "$share//x" is a plain valid filter. */
    ACCEPT(0x82, MQTT_V311, &p, 0x00, 0x01, 0x00, 0x09, '$', 's', 'h', 'a', 'r', 'e', '/', '/', 'x',
           0x00);
    mqtt_sub_iter_init(&it, &p.u.subscribe);
    assert_true(mqtt_sub_next(&it, &e));
    assert_false(e.is_shared);
}

static void test_mqtt_subscribe_decodes_v5_options(void **state)
{
    (void)state;
    struct mqtt_packet p;
    ACCEPT(0x82, MQTT_V5, &p, 0x00, 0x0B,   /* packet id 11 */
           0x02, 0x0B, 0x05,                /* Subscription Identifier 5 */
           0x00, 0x03, 'a', '/', '+', 0x2D, /* QoS 1, No Local, RAP, Retain Handling 2 */
           0x00, 0x0C, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 's', '/', '#',
           0x12); /* QoS 2, Retain Handling 1 */
    const struct mqtt_subscribe *s = &p.u.subscribe;
    assert_int_equal(s->packet_id, 11);
    assert_true(mqtt_props_has(&s->props, MQTT_PROP_SUBSCRIPTION_ID));
    assert_int_equal(s->props.subscription_id, 5);
    assert_int_equal(s->n_filters, 2);
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    mqtt_sub_iter_init(&it, s);
    assert_true(mqtt_sub_next(&it, &e));
    assert_int_equal(e.qos, 1);
    assert_true(e.no_local);
    assert_true(e.retain_as_published);
    assert_int_equal(e.retain_handling, 2);
    assert_false(e.is_shared);
    assert_true(mqtt_sub_next(&it, &e));
    assert_int_equal(e.qos, 2);
    assert_false(e.no_local);
    assert_false(e.retain_as_published);
    assert_int_equal(e.retain_handling, 1);
    assert_true(e.is_shared);
    assert_true(slice_eq_cstr(e.share_name, "g"));
    assert_true(slice_eq_cstr(e.topic_filter, "s/#"));
    assert_true(slice_eq_cstr(e.filter, "$share/g/s/#"));
    assert_false(mqtt_sub_next(&it, &e));
}

static void test_mqtt_subscribe_rejects_option_violations(void **state)
{
    (void)state;
    /* MQTT-3-8.3-4 (3.1.1): upper six option bits reserved. */
    REJECT(0x82, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x01, 'a', 0x04);
    REJECT(0x82, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x01, 'a', 0x80);
    /* QoS 3. */
    REJECT(0x82, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x01, 'a', 0x03);
    REJECT(0x82, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03);
    /* 5.0 MQTT-3.8.3-5: bits 7-6 reserved. */
    REJECT(0x82, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x40);
    /* 5.0 §3.8.3.1: Retain Handling 3. */
    REJECT(0x82, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30);
    /* 5.0 MQTT-3.8.3-4: No Local on a shared subscription. */
    REJECT(0x82, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x00, 0x00, 0x0A, '$', 's', 'h', 'a',
           'r', 'e', '/', 'g', '/', 'a', 0x04);
    /* Options byte missing. */
    REJECT(0x82, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x01, 'a');
    /* MQTT-3.8.3-3: no filters. */
    REJECT(0x82, MQTT_V311, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01);
    REJECT(0x82, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x00);
    /* MQTT-2.3.1-1. */
    REJECT(0x82, MQTT_V311, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x00, 0x00, 0x01, 'a', 0x00);
    /* 5.0 §3.8.2.1.2: Subscription Identifier 0, twice; non-minimal varint. */
    REJECT(0x82, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, 'a',
           0x00);
    REJECT(0x82, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00,
           0x01, 'a', 0x00);
    REJECT(0x82, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x01, 0x03, 0x0B, 0x81, 0x00, 0x00, 0x01, 'a',
           0x00);
}

static void test_mqtt_subscribe_rejects_invalid_filters(void **state)
{
    (void)state;
    /* MQTT-4.7.1-2/3, MQTT-4.7.3-1. */
    REJECT(0x82, MQTT_V311, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x04, 'a', '/', 'b',
           '#', 0x00);
    REJECT(0x82, MQTT_V311, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x02, 'a', '+', 0x00);
    REJECT(0x82, MQTT_V311, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x03, '#', '/', 'a',
           0x00);
    REJECT(0x82, MQTT_V311, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x00, 0x00);
    /* The second filter is the bad one. */
    REJECT(0x82, MQTT_V5, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x00,
           0x00, 0x02, '+', '+', 0x00);
    /* 5.0 §4.8.2 ShareName rules. */
    REJECT(0x82, MQTT_V5, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x00, 0x09, '$', 's', 'h',
           'a', 'r', 'e', '/', '/', 'x', 0x00);
    REJECT(0x82, MQTT_V5, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x00, 0x08, '$', 's', 'h',
           'a', 'r', 'e', '/', 'g', 0x00);
    REJECT(0x82, MQTT_V5, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x00, 0x0B, '$', 's', 'h',
           'a', 'r', 'e', '/', 'g', '+', '/', 'x', 0x00);
    REJECT(0x82, MQTT_V5, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x01, 0x00, 0x00, 0x0B, '$', 's', 'h',
           'a', 'r', 'e', '/', 'g', '/', '#', 'x', 0x00);
    /* Ill-formed UTF-8 filter is malformed, not merely invalid. */
    REJECT(0x82, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x01, 0x00, 0x02, 0xC0, 0x80, 0x00);
}

static void test_mqtt_unsubscribe_decodes_and_validates(void **state)
{
    (void)state;
    struct mqtt_packet p;
    ACCEPT(0xA2, MQTT_V311, &p, 0x00, 0x02, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x01, '#');
    assert_int_equal(p.u.unsubscribe.packet_id, 2);
    assert_int_equal(p.u.unsubscribe.n_filters, 2);
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    mqtt_unsub_iter_init(&it, &p.u.unsubscribe);
    assert_true(mqtt_sub_next(&it, &e));
    assert_true(slice_eq_cstr(e.filter, "a/b"));
    assert_true(mqtt_sub_next(&it, &e));
    assert_true(slice_eq_cstr(e.filter, "#"));
    assert_false(mqtt_sub_next(&it, &e));

    ACCEPT(0xA2, MQTT_V5, &p, 0x00, 0x02, 0x00, 0x00, 0x03, 'a', '/', 'b');
    assert_int_equal(p.u.unsubscribe.n_filters, 1);
    /* MQTT-3.10.3-2: at least one filter. */
    REJECT(0xA2, MQTT_V311, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x02);
    REJECT(0xA2, MQTT_V311, MQTT_RC_TOPIC_FILTER_INVALID, 0x00, 0x02, 0x00, 0x02, 'a', '#');
    REJECT(0xA2, MQTT_V311, MQTT_RC_PROTOCOL_ERROR, 0x00, 0x00, 0x00, 0x01, 'a');
    /* Subscription Identifier is not an UNSUBSCRIBE property. */
    REJECT(0xA2, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x02, 0x02, 0x0B, 0x01, 0x00, 0x01, 'a');
    /* A trailing options byte is a truncated next filter. */
    REJECT(0xA2, MQTT_V311, MQTT_RC_MALFORMED, 0x00, 0x02, 0x00, 0x01, 'a', 0x01);
}

/* ---- PINGREQ / DISCONNECT / AUTH / dispatch ----------------------------------------------- */

static void test_mqtt_pingreq_and_disconnect_decode(void **state)
{
    (void)state;
    struct mqtt_packet p;
    struct mqtt_frame f;
    const uint8_t ping[] = {0xC0, 0x00};
    frame_whole(ping, sizeof ping, &f);
    assert_int_equal(mqtt_packet_decode(&f, MQTT_V311, &p), 0);
    assert_int_equal(p.type, MQTT_PINGREQ);
    REJECT(0xC0, MQTT_V311, MQTT_RC_MALFORMED, 0x00);

    const uint8_t disc[] = {0xE0, 0x00};
    frame_whole(disc, sizeof disc, &f);
    assert_int_equal(mqtt_packet_decode(&f, MQTT_V311, &p), 0);
    assert_int_equal(mqtt_packet_decode(&f, MQTT_V5, &p), 0);
    assert_int_equal(p.u.disconnect.reason, 0);
    REJECT(0xE0, MQTT_V311, MQTT_RC_MALFORMED, 0x00);
    ACCEPT(0xE0, MQTT_V5, &p, 0x04);
    assert_int_equal(p.u.disconnect.reason, MQTT_RC_DISCONNECT_WITH_WILL);
    ACCEPT(0xE0, MQTT_V5, &p, 0x00, 0x0B, 0x11, 0x00, 0x00, 0x00, 0x3C, 0x1F, 0x00, 0x03, 'b', 'y',
           'e');
    assert_int_equal(p.u.disconnect.props.session_expiry, 60);
    assert_true(slice_eq_cstr(p.u.disconnect.props.reason_string, "bye"));
    /* 5.0 §3.14.2.1: 0x05 is not a DISCONNECT reason. */
    REJECT(0xE0, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x05);
    /* Topic Alias is not a DISCONNECT property. */
    REJECT(0xE0, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x03, 0x23, 0x00, 0x01);
    REJECT(0xE0, MQTT_V5, MQTT_RC_MALFORMED, 0x00, 0x05);
}

static void test_mqtt_auth_decode(void **state)
{
    (void)state;
    struct mqtt_packet p;
    struct mqtt_frame f;
    const uint8_t empty[] = {0xF0, 0x00};
    frame_whole(empty, sizeof empty, &f);
    /* 3.1.1 §2.2.1: type 15 is reserved. */
    assert_int_equal(mqtt_packet_decode(&f, MQTT_V311, &p), HX_EMALFORMED);
    assert_int_equal(p.reason, MQTT_RC_MALFORMED);
    assert_int_equal(mqtt_packet_decode(&f, MQTT_V5, &p), 0);
    assert_int_equal(p.u.auth.reason, 0);
    ACCEPT(0xF0, MQTT_V5, &p, 0x18, 0x0D, 0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M', 0x16, 0x00,
           0x02, 0x01, 0x02);
    assert_int_equal(p.u.auth.reason, MQTT_RC_CONTINUE_AUTH);
    assert_true(slice_eq_cstr(p.u.auth.props.auth_method, "SCRAM"));
    assert_int_equal(p.u.auth.props.auth_data.len, 2);
    REJECT(0xF0, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x05, 0x00);
    /* 5.0 §3.15.2.2.2: Authentication Method is required. */
    REJECT(0xF0, MQTT_V5, MQTT_RC_PROTOCOL_ERROR, 0x18, 0x00);
    REJECT(0xF0, MQTT_V5, MQTT_RC_MALFORMED, 0x18, 0x02, 0x23, 0x00);
}

static void test_mqtt_packet_decode_rejects_server_packets(void **state)
{
    (void)state;
    const uint8_t types[] = {0x20, 0x90, 0xB0, 0xD0};
    for (size_t i = 0; i < sizeof types; i++) {
        uint8_t in[] = {types[i], 0x00};
        struct mqtt_frame f;
        struct mqtt_packet p;
        frame_whole(in, sizeof in, &f);
        assert_int_equal(mqtt_packet_decode(&f, MQTT_V5, &p), HX_EMALFORMED);
        assert_int_equal(p.reason, MQTT_RC_PROTOCOL_ERROR);
    }
    /* A decoder called with the wrong frame type says so instead of misparsing. */
    struct mqtt_frame f;
    struct mqtt_publish pub;
    uint8_t reason = 0;
    frame_whole(connect_v311_min, sizeof connect_v311_min, &f);
    assert_int_equal(mqtt_publish_decode(&f, MQTT_V311, &pub, &reason), HX_EMALFORMED);
    assert_int_equal(reason, MQTT_RC_PROTOCOL_ERROR);
}

static void test_mqtt_reason_names_and_v311_mapping(void **state)
{
    (void)state;
    assert_string_equal(mqtt_reason_name(0x81), "Malformed Packet");
    assert_string_equal(mqtt_reason_name(0x95), "Packet too large");
    assert_string_equal(mqtt_reason_name(0x00), "Success");
    assert_string_equal(mqtt_reason_name(0x03), "Unknown");
    assert_int_equal(mqtt_reason_to_v311_connack(0x00), 0x00);
    assert_int_equal(mqtt_reason_to_v311_connack(0x84), 0x01);
    assert_int_equal(mqtt_reason_to_v311_connack(0x85), 0x02);
    assert_int_equal(mqtt_reason_to_v311_connack(0x88), 0x03);
    assert_int_equal(mqtt_reason_to_v311_connack(0x89), 0x03);
    assert_int_equal(mqtt_reason_to_v311_connack(0x86), 0x04);
    assert_int_equal(mqtt_reason_to_v311_connack(0x87), 0x05);
    assert_int_equal(mqtt_reason_to_v311_connack(0x8A), 0x05);
    assert_int_equal(mqtt_reason_to_v311_connack(0x81), MQTT_V311_CONNACK_NONE);
    assert_int_equal(mqtt_reason_to_v311_connack(0x82), MQTT_V311_CONNACK_NONE);
}

/* ---- Encoders ----------------------------------------------------------------------------- */

/* Asserts out[0..len) equals want and that the encoder refuses every shorter buffer without
 * writing a byte (sentinels all around). */
typedef int encode_fn(const void *pkt, uint8_t version, uint8_t *buf, size_t len, size_t *out_len);

static void check_encoding(encode_fn *fn, const void *pkt, uint8_t version, const uint8_t *want,
                           size_t want_len, int line)
{
    uint8_t buf[512];
    size_t out_len = 0;
    assert_true(want_len + 16 <= sizeof buf);
    memset(buf, 0xEE, sizeof buf);
    int rc = fn(pkt, version, buf, sizeof buf, &out_len);
    if (rc != 0)
        fail_msg("line %d: encode failed rc %d", line, rc);
    if (out_len != want_len)
        fail_msg("line %d: length %zu, want %zu", line, out_len, want_len);
    if (memcmp(buf, want, want_len) != 0) {
        for (size_t i = 0; i < want_len; i++)
            if (buf[i] != want[i])
                fail_msg("line %d: byte %zu is 0x%02x, want 0x%02x", line, i, buf[i], want[i]);
    }
    assert_int_equal(buf[want_len], 0xEE);
    for (size_t len = 0; len < want_len; len++) {
        memset(buf, 0xEE, sizeof buf);
        out_len = 0;
        rc = fn(pkt, version, buf, len, &out_len);
        if (rc != HX_ETOOBIG || out_len != want_len)
            fail_msg("line %d: len %zu gave rc %d needed %zu", line, len, rc, out_len);
        for (size_t i = 0; i < sizeof buf; i++)
            if (buf[i] != 0xEE)
                fail_msg("line %d: len %zu wrote byte %zu", line, len, i);
    }
}

static int enc_connack(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_connack_encode(p, v, b, l, o);
}
static int enc_publish(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_publish_encode(p, v, b, l, o);
}
static int enc_publish_header(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_publish_encode_header(p, v, b, l, o);
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
static int enc_pingresp(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_pingresp_encode(b, l, o);
}
static int enc_disconnect(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_disconnect_encode(p, v, b, l, o);
}
static int enc_auth(const void *p, uint8_t v, uint8_t *b, size_t l, size_t *o)
{
    return mqtt_auth_encode(p, v, b, l, o);
}

#define EXPECT_BYTES(fn, pkt, ver, ...)                                                            \
    do {                                                                                           \
        static const uint8_t w_[] = {__VA_ARGS__};                                                 \
        check_encoding(fn, pkt, ver, w_, sizeof w_, __LINE__);                                     \
    } while (0)

static void test_mqtt_connack_encode_v311(void **state)
{
    (void)state;
    struct mqtt_connack c = {0};
    EXPECT_BYTES(enc_connack, &c, MQTT_V311, 0x20, 0x02, 0x00, 0x00);
    c.session_present = true;
    EXPECT_BYTES(enc_connack, &c, MQTT_V311, 0x20, 0x02, 0x01, 0x00);
    c = (struct mqtt_connack){.reason = MQTT_V311_NOT_AUTHORIZED};
    EXPECT_BYTES(enc_connack, &c, MQTT_V311, 0x20, 0x02, 0x00, 0x05);
    /* Properties are not written in 3.1.1. */
    c.props.present = MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY);
    EXPECT_BYTES(enc_connack, &c, MQTT_V311, 0x20, 0x02, 0x00, 0x05);

    uint8_t buf[16];
    size_t n;
    c = (struct mqtt_connack){.reason = 0x86}; /* not a 3.1.1 code */
    assert_int_equal(mqtt_connack_encode(&c, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    /* MQTT-3.2.2-4: Session Present must be 0 with a failure. */
    c = (struct mqtt_connack){.session_present = true, .reason = 0x02};
    assert_int_equal(mqtt_connack_encode(&c, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    c = (struct mqtt_connack){0};
    assert_int_equal(mqtt_connack_encode(&c, 3, buf, sizeof buf, &n), HX_EINVAL);
}

static void test_mqtt_connack_encode_v5_all_properties(void **state)
{
    (void)state;
    const struct mqtt_user_prop up[] = {{S("k"), S("v")}};
    struct mqtt_connack c = {.session_present = false, .reason = 0};
    c.props.present =
        MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID) |
        MQTT_PROP_BIT(MQTT_PROP_SERVER_KEEP_ALIVE) | MQTT_PROP_BIT(MQTT_PROP_REASON_STRING) |
        MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAXIMUM) | MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAXIMUM) |
        MQTT_PROP_BIT(MQTT_PROP_MAXIMUM_QOS) | MQTT_PROP_BIT(MQTT_PROP_RETAIN_AVAILABLE) |
        MQTT_PROP_BIT(MQTT_PROP_MAXIMUM_PACKET_SIZE) |
        MQTT_PROP_BIT(MQTT_PROP_WILDCARD_SUB_AVAILABLE) |
        MQTT_PROP_BIT(MQTT_PROP_SUB_ID_AVAILABLE) | MQTT_PROP_BIT(MQTT_PROP_SHARED_SUB_AVAILABLE);
    c.props.session_expiry = 3600;
    c.props.assigned_client_id = S("abc");
    c.props.server_keep_alive = 30;
    c.props.reason_string = S("ok");
    c.props.receive_maximum = 20;
    c.props.topic_alias_maximum = 10;
    c.props.maximum_qos = 1;
    c.props.retain_available = 0;
    c.props.maximum_packet_size = 4096;
    c.props.wildcard_sub_available = 1;
    c.props.sub_id_available = 0;
    c.props.shared_sub_available = 1;
    c.props.user_props = up;
    c.props.n_user_props = 1;
    EXPECT_BYTES(enc_connack, &c, MQTT_V5, 0x20, 0x32, /* RL 50 */
                 0x00, 0x00,                           /* flags, Success */
                 0x2F,                                 /* Property Length 47 */
                 0x11, 0x00, 0x00, 0x0E, 0x10,         /* Session Expiry 3600 */
                 0x12, 0x00, 0x03, 'a', 'b', 'c',      /* Assigned Client Identifier */
                 0x13, 0x00, 0x1E,                     /* Server Keep Alive 30 */
                 0x1F, 0x00, 0x02, 'o', 'k',           /* Reason String */
                 0x21, 0x00, 0x14,                     /* Receive Maximum 20 */
                 0x22, 0x00, 0x0A,                     /* Topic Alias Maximum 10 */
                 0x24, 0x01,                           /* Maximum QoS 1 */
                 0x25, 0x00,                           /* Retain Available 0 */
                 0x27, 0x00, 0x00, 0x10, 0x00,         /* Maximum Packet Size 4096 */
                 0x28, 0x01, 0x29, 0x00, 0x2A, 0x01,   /* wildcard, sub ids, shared */
                 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v');

    /* Minimal v5 CONNACK and a refusal. */
    struct mqtt_connack plain = {.reason = MQTT_RC_CLIENT_ID_INVALID};
    EXPECT_BYTES(enc_connack, &plain, MQTT_V5, 0x20, 0x03, 0x00, 0x85, 0x00);
}

static void test_mqtt_encoders_reject_unencodable_input(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 99;
    /* A PUBLISH-only property in CONNACK. */
    struct mqtt_connack c = {0};
    c.props.present = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS);
    assert_int_equal(mqtt_connack_encode(&c, MQTT_V5, buf, sizeof buf, &n), HX_EINVAL);
    assert_int_equal(n, 0);
    /* A string longer than 65535 bytes. */
    static uint8_t big[70000];
    c.props.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
    c.props.reason_string = slice_make(big, sizeof big);
    assert_int_equal(mqtt_connack_encode(&c, MQTT_V5, buf, sizeof buf, &n), HX_EINVAL);
    /* PUBLISH rules. */
    struct mqtt_publish p = {.topic = S("t"), .qos = 0, .dup = true};
    assert_int_equal(mqtt_publish_encode(&p, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    p = (struct mqtt_publish){.topic = S("t"), .qos = 1};
    assert_int_equal(mqtt_publish_encode(&p, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    p = (struct mqtt_publish){.topic = S("t"), .qos = 3, .packet_id = 1};
    assert_int_equal(mqtt_publish_encode(&p, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    p = (struct mqtt_publish){.topic = S("")};
    assert_int_equal(mqtt_publish_encode(&p, MQTT_V5, buf, sizeof buf, &n), HX_EINVAL);
    /* Subscription Identifier 0. */
    const uint32_t zero_id[] = {0};
    p = (struct mqtt_publish){.topic = S("t")};
    p.props.subscription_ids = zero_id;
    p.props.n_subscription_ids = 1;
    assert_int_equal(mqtt_publish_encode(&p, MQTT_V5, buf, sizeof buf, &n), HX_EINVAL);
    /* Acks. */
    struct mqtt_ack a = {.type = MQTT_PUBACK, .packet_id = 0};
    assert_int_equal(mqtt_ack_encode(&a, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    a = (struct mqtt_ack){.type = MQTT_SUBACK, .packet_id = 1};
    assert_int_equal(mqtt_ack_encode(&a, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    /* SUBACK with no codes. */
    struct mqtt_suback s = {.packet_id = 1};
    assert_int_equal(mqtt_suback_encode(&s, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    /* 3.1.1 has neither server DISCONNECT nor AUTH. */
    struct mqtt_disconnect d = {0};
    assert_int_equal(mqtt_disconnect_encode(&d, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
    struct mqtt_auth au = {0};
    assert_int_equal(mqtt_auth_encode(&au, MQTT_V311, buf, sizeof buf, &n), HX_EINVAL);
}

/* Frames and decodes buf as a PUBLISH. */
static void decode_publish(const uint8_t *buf, size_t len, uint8_t version,
                           struct mqtt_publish *out)
{
    struct mqtt_frame f;
    uint8_t reason = 0;
    frame_whole(buf, len, &f);
    assert_int_equal(mqtt_publish_decode(&f, version, out, &reason), 0);
}

static void test_mqtt_publish_encode_v311_round_trip(void **state)
{
    (void)state;
    struct mqtt_publish p = {
        .qos = 1, .packet_id = 10, .topic = S("a/b"), .payload = S("hello"), .retain = true};
    /* The header alone counts the payload in its Remaining Length. */
    EXPECT_BYTES(enc_publish_header, &p, MQTT_V311, 0x33, 0x0C, 0x00, 0x03, 'a', '/', 'b', 0x00,
                 0x0A);
    EXPECT_BYTES(enc_publish, &p, MQTT_V311, 0x33, 0x0C, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h',
                 'e', 'l', 'l', 'o');
    uint8_t buf[64];
    size_t n;
    assert_int_equal(mqtt_publish_encode(&p, MQTT_V311, buf, sizeof buf, &n), 0);
    struct mqtt_publish d;
    decode_publish(buf, n, MQTT_V311, &d);
    assert_int_equal(d.qos, 1);
    assert_true(d.retain);
    assert_false(d.dup);
    assert_int_equal(d.packet_id, 10);
    assert_true(slice_eq_cstr(d.topic, "a/b"));
    assert_true(slice_eq_cstr(d.payload, "hello"));

    struct mqtt_publish q0 = {.topic = S("t"), .payload = S("x")};
    EXPECT_BYTES(enc_publish, &q0, MQTT_V311, 0x30, 0x04, 0x00, 0x01, 't', 'x');
    struct mqtt_publish q2 = {.topic = S("t"), .qos = 2, .dup = true, .packet_id = 0x0102};
    EXPECT_BYTES(enc_publish, &q2, MQTT_V311, 0x3C, 0x05, 0x00, 0x01, 't', 0x01, 0x02);
    /* Props are not written in 3.1.1. */
    q2.props.present = MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);
    EXPECT_BYTES(enc_publish, &q2, MQTT_V311, 0x3C, 0x05, 0x00, 0x01, 't', 0x01, 0x02);
}

static void test_mqtt_publish_encode_v5_properties(void **state)
{
    (void)state;
    const struct mqtt_user_prop up[] = {{S("a"), S("b")}};
    const uint32_t ids[] = {1, 300};
    struct mqtt_publish p = {.qos = 0, .topic = S("t"), .payload = S("{}")};
    p.props.present = MQTT_PROP_BIT(MQTT_PROP_PAYLOAD_FORMAT) |
                      MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY) |
                      MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE);
    p.props.payload_format = 1;
    p.props.message_expiry = 60;
    p.props.content_type = S("json");
    p.props.user_props = up;
    p.props.n_user_props = 1;
    EXPECT_BYTES(enc_publish, &p, MQTT_V5, 0x30, 0x1B, /* RL 27 */
                 0x00, 0x01, 't',                      /* topic */
                 0x15,                                 /* Property Length 21 */
                 0x01, 0x01,                           /* Payload Format Indicator */
                 0x02, 0x00, 0x00, 0x00, 0x3C,         /* Message Expiry 60 */
                 0x03, 0x00, 0x04, 'j', 's', 'o', 'n', /* Content Type */
                 0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', '{', '}');
    /* Round trip through the decoder (no Subscription Identifiers: a client cannot send them). */
    uint8_t buf[128];
    size_t n;
    assert_int_equal(mqtt_publish_encode(&p, MQTT_V5, buf, sizeof buf, &n), 0);
    struct mqtt_publish d;
    decode_publish(buf, n, MQTT_V5, &d);
    assert_int_equal(d.props.payload_format, 1);
    assert_int_equal(d.props.message_expiry, 60);
    assert_true(slice_eq_cstr(d.props.content_type, "json"));
    assert_int_equal(d.props.n_user_props, 1);
    assert_true(slice_eq_cstr(d.payload, "{}"));

    /* Server -> client delivery with Subscription Identifiers 1 and 300 (varint 0xAC 0x02). */
    struct mqtt_publish s = {.qos = 1, .packet_id = 5, .topic = S("t")};
    s.props.subscription_ids = ids;
    s.props.n_subscription_ids = 2;
    EXPECT_BYTES(enc_publish, &s, MQTT_V5, 0x32, 0x0B, 0x00, 0x01, 't', 0x00, 0x05, 0x05, 0x0B,
                 0x01, 0x0B, 0xAC, 0x02);
    /* Topic Alias with an empty topic (5.0 §3.3.2.3.4). */
    struct mqtt_publish a = {.topic = S(""), .payload = S("z")};
    a.props.present = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS);
    a.props.topic_alias = 3;
    EXPECT_BYTES(enc_publish, &a, MQTT_V5, 0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x03, 'z');
    assert_int_equal(mqtt_publish_encode(&a, MQTT_V5, buf, sizeof buf, &n), 0);
    decode_publish(buf, n, MQTT_V5, &d);
    assert_int_equal(d.props.topic_alias, 3);
}

static void test_mqtt_publish_encode_header_leaves_payload_out(void **state)
{
    (void)state;
    /* A 200-byte payload: Remaining Length 205 takes two bytes, header is 3 + 5. */
    static uint8_t payload[200];
    struct mqtt_publish p = {.topic = S("a/b"), .payload = slice_make(payload, sizeof payload)};
    uint8_t buf[16];
    size_t n;
    assert_int_equal(mqtt_publish_encode_header(&p, MQTT_V311, buf, sizeof buf, &n), 0);
    assert_int_equal(n, 8);
    const uint8_t want[] = {0x30, 0xCD, 0x01, 0x00, 0x03, 'a', '/', 'b'};
    assert_memory_equal(buf, want, sizeof want);
    /* The whole packet does not fit in 16 bytes: it reports the whole size, writes nothing. */
    memset(buf, 0xEE, sizeof buf);
    assert_int_equal(mqtt_publish_encode(&p, MQTT_V311, buf, sizeof buf, &n), HX_ETOOBIG);
    assert_int_equal(n, 208);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xEE);
}

/* Frames and decodes buf as an ack. */
static void decode_ack(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_ack *out)
{
    struct mqtt_frame f;
    uint8_t reason = 0;
    frame_whole(buf, len, &f);
    assert_int_equal(mqtt_ack_decode(&f, version, out, &reason), 0);
}

static void test_mqtt_ack_encode_forms_and_round_trip(void **state)
{
    (void)state;
    struct mqtt_ack a = {.type = MQTT_PUBACK, .packet_id = 10};
    EXPECT_BYTES(enc_ack, &a, MQTT_V311, 0x40, 0x02, 0x00, 0x0A);
    a.reason = 0x87; /* ignored in 3.1.1 */
    EXPECT_BYTES(enc_ack, &a, MQTT_V311, 0x40, 0x02, 0x00, 0x0A);
    struct mqtt_ack rel = {.type = MQTT_PUBREL, .packet_id = 10};
    EXPECT_BYTES(enc_ack, &rel, MQTT_V311, 0x62, 0x02, 0x00, 0x0A);
    EXPECT_BYTES(enc_ack, &rel, MQTT_V5, 0x62, 0x02, 0x00, 0x0A);
    struct mqtt_ack rec = {.type = MQTT_PUBREC, .packet_id = 10, .reason = 0x10};
    EXPECT_BYTES(enc_ack, &rec, MQTT_V5, 0x50, 0x03, 0x00, 0x0A, 0x10);
    struct mqtt_ack comp = {.type = MQTT_PUBCOMP, .packet_id = 10};
    EXPECT_BYTES(enc_ack, &comp, MQTT_V5, 0x70, 0x02, 0x00, 0x0A);
    struct mqtt_ack nack = {.type = MQTT_PUBACK, .packet_id = 10, .reason = 0x87};
    nack.props.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
    nack.props.reason_string = S("no");
    EXPECT_BYTES(enc_ack, &nack, MQTT_V5, 0x40, 0x09, 0x00, 0x0A, 0x87, 0x05, 0x1F, 0x00, 0x02, 'n',
                 'o');
    /* Success with a Reason String still writes the reason byte. */
    struct mqtt_ack ok = nack;
    ok.reason = 0;
    EXPECT_BYTES(enc_ack, &ok, MQTT_V5, 0x40, 0x09, 0x00, 0x0A, 0x00, 0x05, 0x1F, 0x00, 0x02, 'n',
                 'o');

    uint8_t buf[32];
    size_t n;
    struct mqtt_ack d;
    assert_int_equal(mqtt_ack_encode(&nack, MQTT_V5, buf, sizeof buf, &n), 0);
    decode_ack(buf, n, MQTT_V5, &d);
    assert_int_equal(d.type, MQTT_PUBACK);
    assert_int_equal(d.packet_id, 10);
    assert_int_equal(d.reason, 0x87);
    assert_true(slice_eq_cstr(d.props.reason_string, "no"));
    assert_int_equal(mqtt_ack_encode(&rec, MQTT_V5, buf, sizeof buf, &n), 0);
    decode_ack(buf, n, MQTT_V5, &d);
    assert_int_equal(d.type, MQTT_PUBREC);
    assert_int_equal(d.reason, 0x10);
    assert_int_equal(mqtt_ack_encode(&rel, MQTT_V311, buf, sizeof buf, &n), 0);
    decode_ack(buf, n, MQTT_V311, &d);
    assert_int_equal(d.type, MQTT_PUBREL);
}

static void test_mqtt_suback_unsuback_pingresp_encode(void **state)
{
    (void)state;
    const uint8_t codes[] = {0x01, 0x80};
    struct mqtt_suback s = {.packet_id = 5, .reasons = codes, .n_reasons = 2};
    EXPECT_BYTES(enc_suback, &s, MQTT_V311, 0x90, 0x04, 0x00, 0x05, 0x01, 0x80);
    EXPECT_BYTES(enc_suback, &s, MQTT_V5, 0x90, 0x05, 0x00, 0x05, 0x00, 0x01, 0x80);
    s.props.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
    s.props.reason_string = S("q");
    EXPECT_BYTES(enc_suback, &s, MQTT_V5, 0x90, 0x09, 0x00, 0x05, 0x04, 0x1F, 0x00, 0x01, 'q', 0x01,
                 0x80);
    const uint8_t un[] = {0x00, 0x11};
    struct mqtt_suback u = {.packet_id = 6, .reasons = un, .n_reasons = 2};
    EXPECT_BYTES(enc_unsuback, &u, MQTT_V311, 0xB0, 0x02, 0x00, 0x06);
    EXPECT_BYTES(enc_unsuback, &u, MQTT_V5, 0xB0, 0x05, 0x00, 0x06, 0x00, 0x00, 0x11);
    EXPECT_BYTES(enc_pingresp, NULL, MQTT_V311, 0xD0, 0x00);
}

static void test_mqtt_disconnect_and_auth_encode_round_trip(void **state)
{
    (void)state;
    struct mqtt_disconnect d = {0};
    EXPECT_BYTES(enc_disconnect, &d, MQTT_V5, 0xE0, 0x00);
    d.reason = MQTT_RC_SESSION_TAKEN_OVER;
    EXPECT_BYTES(enc_disconnect, &d, MQTT_V5, 0xE0, 0x01, 0x8E);
    d.props.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
    d.props.reason_string = S("bye");
    EXPECT_BYTES(enc_disconnect, &d, MQTT_V5, 0xE0, 0x08, 0x8E, 0x06, 0x1F, 0x00, 0x03, 'b', 'y',
                 'e');
    uint8_t buf[32];
    size_t n;
    struct mqtt_frame f;
    struct mqtt_packet p;
    assert_int_equal(mqtt_disconnect_encode(&d, MQTT_V5, buf, sizeof buf, &n), 0);
    frame_whole(buf, n, &f);
    assert_int_equal(mqtt_packet_decode(&f, MQTT_V5, &p), 0);
    assert_int_equal(p.u.disconnect.reason, 0x8E);
    assert_true(slice_eq_cstr(p.u.disconnect.props.reason_string, "bye"));

    struct mqtt_auth a = {0};
    EXPECT_BYTES(enc_auth, &a, MQTT_V5, 0xF0, 0x00);
    a.reason = MQTT_RC_CONTINUE_AUTH;
    a.props.present = MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD) | MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA);
    a.props.auth_method = S("SCRAM");
    a.props.auth_data = S("xy");
    EXPECT_BYTES(enc_auth, &a, MQTT_V5, 0xF0, 0x0F, 0x18, 0x0D, 0x15, 0x00, 0x05, 'S', 'C', 'R',
                 'A', 'M', 0x16, 0x00, 0x02, 'x', 'y');
    assert_int_equal(mqtt_auth_encode(&a, MQTT_V5, buf, sizeof buf, &n), 0);
    frame_whole(buf, n, &f);
    assert_int_equal(mqtt_packet_decode(&f, MQTT_V5, &p), 0);
    assert_int_equal(p.u.auth.reason, MQTT_RC_CONTINUE_AUTH);
    assert_true(slice_eq_cstr(p.u.auth.props.auth_data, "xy"));
    /* Server Reference is a DISCONNECT property but not an AUTH one. */
    a.props.present |= MQTT_PROP_BIT(MQTT_PROP_SERVER_REFERENCE);
    assert_int_equal(mqtt_auth_encode(&a, MQTT_V5, buf, sizeof buf, &n), HX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mqtt_varint_decodes_reference_vectors),
        cmocka_unit_test(test_mqtt_varint_rejects_fifth_byte),
        cmocka_unit_test(test_mqtt_varint_rejects_non_minimal_when_strict),
        cmocka_unit_test(test_mqtt_frame_needs_more_until_complete),
        cmocka_unit_test(test_mqtt_frame_rejects_oversize_before_body),
        cmocka_unit_test(test_mqtt_frame_rejects_fifth_length_byte),
        cmocka_unit_test(test_mqtt_frame_rejects_reserved_type),
        cmocka_unit_test(test_mqtt_frame_rejects_every_reserved_flag_violation),
        cmocka_unit_test(test_mqtt_frame_checks_publish_flags),
        cmocka_unit_test(test_mqtt_frame_non_minimal_length_rejected_in_v5_only),
        cmocka_unit_test(test_mqtt_utf8_accepts_well_formed),
        cmocka_unit_test(test_mqtt_utf8_rejects_overlong_surrogate_and_nul),
        cmocka_unit_test(test_mqtt_connect_decodes_v311_minimal),
        cmocka_unit_test(test_mqtt_connect_decodes_v311_will_user_password),
        cmocka_unit_test(test_mqtt_connect_decodes_v5_properties),
        cmocka_unit_test(test_mqtt_connect_rejects_flag_violations),
        cmocka_unit_test(test_mqtt_connect_reports_unsupported_version),
        cmocka_unit_test(test_mqtt_connect_rejects_bad_client_id),
        cmocka_unit_test(test_mqtt_connect_rejects_structure_violations),
        cmocka_unit_test(test_mqtt_connect_v5_allows_password_without_user_name),
        cmocka_unit_test(test_mqtt_connect_v5_rejects_property_violations),
        cmocka_unit_test(test_mqtt_connect_v5_rejects_will_property_violations),
        cmocka_unit_test(test_mqtt_connect_v5_rejects_non_minimal_length),
        cmocka_unit_test(test_mqtt_publish_decodes_each_qos_v311),
        cmocka_unit_test(test_mqtt_publish_rejects_bad_topic_and_packet_id),
        cmocka_unit_test(test_mqtt_publish_decodes_v5_properties),
        cmocka_unit_test(test_mqtt_publish_rejects_v5_property_violations),
        cmocka_unit_test(test_mqtt_ack_decodes_v311_and_v5_short_forms),
        cmocka_unit_test(test_mqtt_ack_rejects_v5_violations),
        cmocka_unit_test(test_mqtt_subscribe_decodes_v311_filters),
        cmocka_unit_test(test_mqtt_subscribe_decodes_v5_options),
        cmocka_unit_test(test_mqtt_subscribe_rejects_option_violations),
        cmocka_unit_test(test_mqtt_subscribe_rejects_invalid_filters),
        cmocka_unit_test(test_mqtt_unsubscribe_decodes_and_validates),
        cmocka_unit_test(test_mqtt_pingreq_and_disconnect_decode),
        cmocka_unit_test(test_mqtt_auth_decode),
        cmocka_unit_test(test_mqtt_packet_decode_rejects_server_packets),
        cmocka_unit_test(test_mqtt_reason_names_and_v311_mapping),
        cmocka_unit_test(test_mqtt_connack_encode_v311),
        cmocka_unit_test(test_mqtt_connack_encode_v5_all_properties),
        cmocka_unit_test(test_mqtt_encoders_reject_unencodable_input),
        cmocka_unit_test(test_mqtt_publish_encode_v311_round_trip),
        cmocka_unit_test(test_mqtt_publish_encode_v5_properties),
        cmocka_unit_test(test_mqtt_publish_encode_header_leaves_payload_out),
        cmocka_unit_test(test_mqtt_ack_encode_forms_and_round_trip),
        cmocka_unit_test(test_mqtt_suback_unsuback_pingresp_encode),
        cmocka_unit_test(test_mqtt_disconnect_and_auth_encode_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
