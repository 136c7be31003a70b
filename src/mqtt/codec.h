/*
 * Pure MQTT 3.1.1 (protocol level 4) and 5.0 (level 5) codec for the device gateway:
 * framing, decoders for every client->server packet, encoders for every server->client
 * packet, topic validation and matching. No sockets, no loop, no globals, no allocation.
 * Decoded strings and binary fields are slices that borrow the input buffer: they are valid
 * only until the caller consumes or compacts that buffer (STYLE.md 5).
 * Every function here is pure and callable from any thread. See docs/internals/mqtt.md.
 */
#ifndef MEDHUB_MQTT_CODEC_H
#define MEDHUB_MQTT_CODEC_H

#include "core/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol levels (3.1.1 §3.1.2.2, 5.0 §3.1.2.2). */
enum mqtt_version {
    MQTT_V311 = 4, /* MQTT 3.1.1 */
    MQTT_V5 = 5,   /* MQTT 5.0 */
};

/* Control packet types, the high nibble of the first byte (3.1.1 §2.2.1, 5.0 §2.1.2). */
enum mqtt_packet_type {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
    MQTT_AUTH = 15, /* 5.0 only; reserved in 3.1.1 */
};

/* MQTT 5 reason codes (5.0 §2.4). Codes >= 0x80 are failures. */
enum mqtt_reason {
    MQTT_RC_SUCCESS = 0x00, /* also Normal disconnection and Granted QoS 0 */
    MQTT_RC_GRANTED_QOS1 = 0x01,
    MQTT_RC_GRANTED_QOS2 = 0x02,
    MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
    MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    MQTT_RC_CONTINUE_AUTH = 0x18,
    MQTT_RC_REAUTHENTICATE = 0x19,
    MQTT_RC_UNSPECIFIED = 0x80,
    MQTT_RC_MALFORMED = 0x81,
    MQTT_RC_PROTOCOL_ERROR = 0x82,
    MQTT_RC_IMPL_SPECIFIC = 0x83,
    MQTT_RC_UNSUPPORTED_VERSION = 0x84,
    MQTT_RC_CLIENT_ID_INVALID = 0x85,
    MQTT_RC_BAD_USERNAME_PASSWORD = 0x86,
    MQTT_RC_NOT_AUTHORIZED = 0x87,
    MQTT_RC_SERVER_UNAVAILABLE = 0x88,
    MQTT_RC_SERVER_BUSY = 0x89,
    MQTT_RC_BANNED = 0x8A,
    MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MQTT_RC_BAD_AUTH_METHOD = 0x8C,
    MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
    MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
    MQTT_RC_TOPIC_NAME_INVALID = 0x90,
    MQTT_RC_PACKET_ID_IN_USE = 0x91,
    MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
    MQTT_RC_RECEIVE_MAX_EXCEEDED = 0x93,
    MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQTT_RC_PACKET_TOO_LARGE = 0x95,
    MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    MQTT_RC_QUOTA_EXCEEDED = 0x97,
    MQTT_RC_ADMIN_ACTION = 0x98,
    MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
    MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
    MQTT_RC_SERVER_MOVED = 0x9D,
    MQTT_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
    MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MQTT_RC_MAX_CONNECT_TIME = 0xA0,
    MQTT_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
    MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* MQTT 3.1.1 CONNACK return codes (3.1.1 §3.2.2.3). */
enum mqtt_v311_connack {
    MQTT_V311_ACCEPTED = 0x00,
    MQTT_V311_BAD_VERSION = 0x01,
    MQTT_V311_ID_REJECTED = 0x02,
    MQTT_V311_SERVER_UNAVAILABLE = 0x03,
    MQTT_V311_BAD_USERNAME_PASSWORD = 0x04,
    MQTT_V311_NOT_AUTHORIZED = 0x05,
    MQTT_V311_CONNACK_NONE = 0xFF, /* no 3.1.1 equivalent: close without a CONNACK */
};

/* MQTT 5 property identifiers (5.0 §2.2.2.2). */
enum mqtt_prop_id {
    MQTT_PROP_PAYLOAD_FORMAT = 0x01,
    MQTT_PROP_MESSAGE_EXPIRY = 0x02,
    MQTT_PROP_CONTENT_TYPE = 0x03,
    MQTT_PROP_RESPONSE_TOPIC = 0x08,
    MQTT_PROP_CORRELATION_DATA = 0x09,
    MQTT_PROP_SUBSCRIPTION_ID = 0x0B,
    MQTT_PROP_SESSION_EXPIRY = 0x11,
    MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,
    MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
    MQTT_PROP_AUTH_METHOD = 0x15,
    MQTT_PROP_AUTH_DATA = 0x16,
    MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,
    MQTT_PROP_WILL_DELAY = 0x18,
    MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19,
    MQTT_PROP_RESPONSE_INFO = 0x1A,
    MQTT_PROP_SERVER_REFERENCE = 0x1C,
    MQTT_PROP_REASON_STRING = 0x1F,
    MQTT_PROP_RECEIVE_MAXIMUM = 0x21,
    MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    MQTT_PROP_TOPIC_ALIAS = 0x23,
    MQTT_PROP_MAXIMUM_QOS = 0x24,
    MQTT_PROP_RETAIN_AVAILABLE = 0x25,
    MQTT_PROP_USER = 0x26,
    MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    MQTT_PROP_SUB_ID_AVAILABLE = 0x29,
    MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

/* Bit of struct mqtt_props.present for a property id. */
#define MQTT_PROP_BIT(id) (UINT64_C(1) << (id))

/* Largest Variable Byte Integer (5.0 §1.5.5), hence largest Remaining Length. */
#define MQTT_VARINT_MAX 268435455u

/* One User Property (5.0 §3.1.2.11.8): a UTF-8 string pair. Both slices borrow. */
struct mqtt_user_prop {
    struct slice key;   /* property name */
    struct slice value; /* property value */
};

/*
 * MQTT 5 properties of one packet (or of a Will), used by decoders and encoders alike. A
 * scalar or string field is meaningful only when its MQTT_PROP_BIT(id) is set in present.
 * Decoding fills raw, the counts and the fields; User Properties are read with
 * mqtt_user_prop_iter_init/next. Encoding writes every property whose bit is set in present
 * (HX_EINVAL if one is not allowed in that packet type), then user_props[0..n_user_props)
 * and, for PUBLISH, subscription_ids[0..n_subscription_ids). All slices borrow.
 */
struct mqtt_props {
    uint64_t present;                        /* MQTT_PROP_BIT(id) for each property present */
    struct slice raw;                        /* decode: the property bytes after Property Length */
    size_t n_user_props;                     /* number of User Properties */
    const struct mqtt_user_prop *user_props; /* encode only: user_props[n_user_props] */
    size_t n_subscription_ids;               /* PUBLISH encode only: entries in subscription_ids */
    const uint32_t *subscription_ids;        /* PUBLISH encode only: 1..MQTT_VARINT_MAX each */
    uint8_t payload_format;                  /* 0x01: 0 unspecified bytes, 1 UTF-8 */
    uint32_t message_expiry;                 /* 0x02: seconds */
    struct slice content_type;               /* 0x03: UTF-8 */
    struct slice response_topic;             /* 0x08: UTF-8 topic name */
    struct slice correlation_data;           /* 0x09: binary */
    uint32_t subscription_id;                /* 0x0B: SUBSCRIBE (decode), 1..MQTT_VARINT_MAX */
    uint32_t session_expiry;                 /* 0x11: seconds, 0xFFFFFFFF = never */
    struct slice assigned_client_id;         /* 0x12: UTF-8 */
    uint16_t server_keep_alive;              /* 0x13: seconds */
    struct slice auth_method;                /* 0x15: UTF-8 */
    struct slice auth_data;                  /* 0x16: binary */
    uint8_t request_problem_info;            /* 0x17: 0 or 1 */
    uint32_t will_delay;                     /* 0x18: seconds */
    uint8_t request_response_info;           /* 0x19: 0 or 1 */
    struct slice response_info;              /* 0x1A: UTF-8 */
    struct slice server_reference;           /* 0x1C: UTF-8 */
    struct slice reason_string;              /* 0x1F: UTF-8 */
    uint16_t receive_maximum;                /* 0x21: 1..65535 */
    uint16_t topic_alias_maximum;            /* 0x22 */
    uint16_t topic_alias;                    /* 0x23: 1..Topic Alias Maximum */
    uint8_t maximum_qos;                     /* 0x24: 0 or 1 */
    uint8_t retain_available;                /* 0x25: 0 or 1 */
    uint32_t maximum_packet_size;            /* 0x27: bytes, >= 1 */
    uint8_t wildcard_sub_available;          /* 0x28: 0 or 1 */
    uint8_t sub_id_available;                /* 0x29: 0 or 1 */
    uint8_t shared_sub_available;            /* 0x2A: 0 or 1 */
};

/* True if property id is present. */
static inline bool mqtt_props_has(const struct mqtt_props *p, enum mqtt_prop_id id)
{
    return (p->present & MQTT_PROP_BIT(id)) != 0;
}

/* Iterator over the User Properties of decoded props (no allocation). */
struct mqtt_prop_iter {
    struct slice raw; /* validated property bytes */
    size_t pos;       /* offset of the next property in raw */
};

/* Starts iterating props->raw, which must come from a successful decode. Thread: any. */
void mqtt_user_prop_iter_init(struct mqtt_prop_iter *it, const struct mqtt_props *props);

/* OUT: the next User Property in wire order (slices borrow the packet). Returns false at the
 * end. Thread: any. */
bool mqtt_user_prop_next(struct mqtt_prop_iter *it, struct mqtt_user_prop *out);

/* ---- Variable Byte Integer (3.1.1 §2.2.3, 5.0 §1.5.5) ------------------------------------ */

/*
 * Decodes a Variable Byte Integer from p[0..len). OUT: *value and *consumed (1..4) on success.
 * Returns 0, HX_ENEEDMORE (the integer continues past len), or HX_EMALFORMED (a fifth byte
 * would be needed, or strict and the encoding is not minimal, 5.0 §1.5.5). Thread: any.
 */
int mqtt_varint_decode(const uint8_t *p, size_t len, bool strict, uint32_t *value,
                       size_t *consumed);

/* Bytes needed to encode v (1..4), or 0 if v > MQTT_VARINT_MAX. Thread: any. */
size_t mqtt_varint_size(uint32_t v);

/* Writes the minimal encoding of v into out[0..4). Returns its size, 0 if v > MQTT_VARINT_MAX.
 * Thread: any. */
size_t mqtt_varint_encode(uint32_t v, uint8_t out[4]);

/* ---- Framing ------------------------------------------------------------------------------ */

/* One complete control packet found by mqtt_frame. Slices borrow the input. */
struct mqtt_frame {
    uint8_t type;           /* enum mqtt_packet_type, 1..15 */
    uint8_t flags;          /* low nibble of the first byte */
    bool rl_non_minimal;    /* Remaining Length used more bytes than needed (v5 decoders reject) */
    uint32_t remaining_len; /* Remaining Length */
    size_t header_len;      /* bytes of the fixed header: 1 + size of Remaining Length */
    size_t total_len;       /* header_len + remaining_len: consume this many bytes */
    struct slice body;      /* variable header + payload (remaining_len bytes) */
    uint8_t reason;         /* on HX_EMALFORMED/HX_ETOOBIG: MQTT 5 reason code to send */
};

/*
 * Finds the packet at the start of p[0..len). Checks the packet type (0 is reserved), the
 * fixed-header flags of every type (MQTT-2.2.2-1/2, PUBLISH QoS 3 MQTT-3.3.1-4, DUP with QoS 0
 * MQTT-3.3.1-2) and the Remaining Length. max_packet limits the whole packet including the
 * fixed header (0 = no limit beyond the protocol's); it is checked as soon as the Remaining
 * Length is known, before the rest arrives. Version-independent: type 15 (AUTH) is framed and
 * left to the decoders to reject in 3.1.1.
 * Returns 0 (OUT: *out, consume out->total_len bytes), HX_ENEEDMORE, HX_ETOOBIG (reason 0x95)
 * or HX_EMALFORMED (reason 0x81). Thread: any.
 */
int mqtt_frame(const uint8_t *p, size_t len, size_t max_packet, struct mqtt_frame *out);

/* ---- Strings and topics ------------------------------------------------------------------- */

/* True if s is well-formed UTF-8 with no surrogates, overlong forms, code points above
 * U+10FFFF or U+0000 (MQTT-1.5.3-1, MQTT-1.5.3-2; 5.0 MQTT-1.5.4-1/2). Thread: any. */
bool mqtt_utf8_is_valid(struct slice s);

/* True if s is a valid Topic Name: 1..65535 bytes of valid UTF-8 with no '+' or '#'
 * (MQTT-4.7.3-1, MQTT-3.3.2-2). Thread: any. */
bool mqtt_topic_name_is_valid(struct slice s);

/* True if s is a valid Topic Filter: non-empty valid UTF-8, '#' only as the last level and
 * alone in it (MQTT-4.7.1-2), '+' alone in its level (MQTT-4.7.1-3). Does not apply the
 * $share rules; see mqtt_shared_split. Thread: any. */
bool mqtt_topic_filter_is_valid(struct slice s);

/*
 * Splits a 5.0 shared subscription filter "$share/{ShareName}/{filter}" (5.0 §4.8.2).
 * OUT: *is_shared; when true, *share_name and *filter (slices into s). When false, *filter = s.
 * Returns 0, or HX_EMALFORMED if s starts with "$share/" but the ShareName is empty or holds
 * '/', '+' or '#' (MQTT-4.8.2-1/2) or no filter follows. Thread: any.
 */
int mqtt_shared_split(struct slice s, bool *is_shared, struct slice *share_name,
                      struct slice *filter);

/* True if topic name matches filter ('+', '#', "a/#" matches "a"; a filter starting with a
 * wildcard never matches a topic starting with '$', MQTT-4.7.2-1). Both must be valid; pass
 * the filter without its $share prefix. Thread: any. */
bool mqtt_topic_matches(struct slice filter, struct slice topic);

/* ---- Reason codes ------------------------------------------------------------------------- */

/* Static English name of an MQTT 5 reason code ("Malformed Packet"), "Unknown" otherwise. */
const char *mqtt_reason_name(uint8_t reason);

/* Maps an MQTT 5 CONNACK reason to the 3.1.1 return code (0x84 -> 0x01, 0x85 -> 0x02, ...),
 * or MQTT_V311_CONNACK_NONE when 3.1.1 has no code for it (close without CONNACK). */
uint8_t mqtt_reason_to_v311_connack(uint8_t reason);

/* ---- Decoders (client -> server) ---------------------------------------------------------- */
/*
 * Every decoder takes a frame from mqtt_frame and, except CONNECT, the protocol level the
 * connection negotiated. It returns 0 and fills *out, or HX_EMALFORMED and sets *reason to the
 * MQTT 5 reason code to answer with (CONNACK before a session exists, DISCONNECT after); on
 * error *out is partially filled and must not be used (except mqtt_connect.level). All slices
 * borrow f->body. Thread: any.
 */

/* CONNECT (3.1.1 §3.1, 5.0 §3.1). */
struct mqtt_connect {
    struct slice protocol_name;   /* "MQTT" (or "MQIsdp" for the unsupported 3.1) */
    uint8_t level;                /* raw Protocol Level; set as soon as it is read */
    uint8_t flags;                /* raw Connect Flags */
    bool clean_start;             /* Clean Session (3.1.1) / Clean Start (5.0) */
    uint16_t keep_alive;          /* seconds, 0 = disabled */
    struct mqtt_props props;      /* CONNECT properties (v5) */
    struct slice client_id;       /* may be empty (5.0, or 3.1.1 with clean_start) */
    bool will;                    /* Will Flag */
    uint8_t will_qos;             /* 0..2 */
    bool will_retain;             /* Will Retain */
    struct mqtt_props will_props; /* Will properties (v5) */
    struct slice will_topic;      /* valid topic name when will */
    struct slice will_payload;    /* binary */
    bool has_username;            /* User Name flag */
    struct slice username;        /* UTF-8 */
    bool has_password;            /* Password flag */
    struct slice password;        /* binary */
};

/* Protocol level comes from the packet. reason 0x84 means an unsupported protocol name or
 * level; out->level tells the caller whether to answer with a 3.1.1 CONNACK 0x01 (level < 5)
 * or a 5.0 CONNACK 0x84. */
int mqtt_connect_decode(const struct mqtt_frame *f, struct mqtt_connect *out, uint8_t *reason);

/* PUBLISH (3.1.1 §3.3, 5.0 §3.3); also the encoder's input. */
struct mqtt_publish {
    bool dup;                /* DUP flag */
    uint8_t qos;             /* 0..2 */
    bool retain;             /* RETAIN flag */
    struct slice topic;      /* may be empty in 5.0 when props carry a Topic Alias */
    uint16_t packet_id;      /* non-zero when qos > 0 */
    struct mqtt_props props; /* v5 */
    struct slice payload;    /* application message */
};

/* Topic Alias range against the connection's maximum and the alias mapping are left to the
 * session layer (it knows the maximum); alias 0 is rejected here (0x94). */
int mqtt_publish_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_publish *out,
                        uint8_t *reason);

/* PUBACK, PUBREC, PUBREL, PUBCOMP (3.1.1 §3.4-3.7, 5.0 §3.4-3.7); also the encoder's input. */
struct mqtt_ack {
    uint8_t type;            /* MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL or MQTT_PUBCOMP */
    uint16_t packet_id;      /* non-zero */
    uint8_t reason;          /* v5 reason code (0 when omitted or 3.1.1) */
    struct mqtt_props props; /* v5: Reason String and User Properties */
};

int mqtt_ack_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_ack *out,
                    uint8_t *reason);

/* SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8). Entries are read with mqtt_sub_iter_*. */
struct mqtt_subscribe {
    uint8_t version;         /* the version it was decoded with */
    uint16_t packet_id;      /* non-zero */
    struct mqtt_props props; /* v5: Subscription Identifier, User Properties */
    struct slice payload;    /* validated topic filter list */
    size_t n_filters;        /* number of filters, >= 1 */
};

/* One SUBSCRIBE entry. */
struct mqtt_sub_entry {
    struct slice filter;       /* as sent, including any $share/{name}/ prefix */
    bool is_shared;            /* v5 shared subscription */
    struct slice share_name;   /* ShareName when is_shared */
    struct slice topic_filter; /* the filter to match (filter without the $share prefix) */
    uint8_t qos;               /* requested maximum QoS 0..2 */
    bool no_local;             /* v5 No Local */
    bool retain_as_published;  /* v5 Retain As Published */
    uint8_t retain_handling;   /* v5 Retain Handling 0..2 */
};

int mqtt_subscribe_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_subscribe *out,
                          uint8_t *reason);

/* Iterator over SUBSCRIBE or UNSUBSCRIBE entries of a successful decode (no allocation). */
struct mqtt_sub_iter {
    struct slice payload; /* the validated list */
    size_t pos;           /* offset of the next entry */
    uint8_t version;      /* protocol level */
    bool options;         /* SUBSCRIBE: each filter is followed by an options byte */
};

void mqtt_sub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_subscribe *s);
/* OUT: *out is the next entry. Returns false at the end. */
bool mqtt_sub_next(struct mqtt_sub_iter *it, struct mqtt_sub_entry *out);

/* UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10). Filters are read with mqtt_unsub_iter_init and
 * mqtt_sub_next (only filter, is_shared, share_name and topic_filter are set). */
struct mqtt_unsubscribe {
    uint8_t version;         /* the version it was decoded with */
    uint16_t packet_id;      /* non-zero */
    struct mqtt_props props; /* v5: User Properties */
    struct slice payload;    /* validated topic filter list */
    size_t n_filters;        /* number of filters, >= 1 */
};

int mqtt_unsubscribe_decode(const struct mqtt_frame *f, uint8_t version,
                            struct mqtt_unsubscribe *out, uint8_t *reason);
void mqtt_unsub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_unsubscribe *u);

/* PINGREQ (3.1.1 §3.12): the Remaining Length must be 0. */
int mqtt_pingreq_decode(const struct mqtt_frame *f, uint8_t version, uint8_t *reason);

/* DISCONNECT (3.1.1 §3.14, 5.0 §3.14); also the encoder's input. */
struct mqtt_disconnect {
    uint8_t reason;          /* v5 reason code (0 when omitted or 3.1.1) */
    struct mqtt_props props; /* v5: Session Expiry, Reason String, Server Reference, User */
};

/* Whether a non-zero Session Expiry is allowed (CONNECT had one) is left to the session. */
int mqtt_disconnect_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_disconnect *out,
                           uint8_t *reason);

/* AUTH (5.0 §3.15); also the encoder's input. Rejected in 3.1.1 (reserved type). */
struct mqtt_auth {
    uint8_t reason;          /* 0x00, 0x18 or 0x19 */
    struct mqtt_props props; /* Authentication Method/Data, Reason String, User */
};

int mqtt_auth_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_auth *out,
                     uint8_t *reason);

/* Any client -> server packet, decoded by type. */
struct mqtt_packet {
    uint8_t type;   /* enum mqtt_packet_type */
    uint8_t reason; /* on error: MQTT 5 reason code to send */
    union {
        struct mqtt_connect connect;         /* MQTT_CONNECT */
        struct mqtt_publish publish;         /* MQTT_PUBLISH */
        struct mqtt_ack ack;                 /* MQTT_PUBACK..MQTT_PUBCOMP */
        struct mqtt_subscribe subscribe;     /* MQTT_SUBSCRIBE */
        struct mqtt_unsubscribe unsubscribe; /* MQTT_UNSUBSCRIBE */
        struct mqtt_disconnect disconnect;   /* MQTT_DISCONNECT */
        struct mqtt_auth auth;               /* MQTT_AUTH */
    } u;
};

/* Dispatches on f->type. Server -> client types (CONNACK, SUBACK, UNSUBACK, PINGRESP) are a
 * protocol error (0x82). CONNECT ignores version. Returns 0 or HX_EMALFORMED. */
int mqtt_packet_decode(const struct mqtt_frame *f, uint8_t version, struct mqtt_packet *out);

/* ---- Encoders (server -> client) ---------------------------------------------------------- */
/*
 * Every encoder writes one packet into buf[0..len) and never past len. Returns 0 with
 * OUT: *out_len = bytes written, or HX_ETOOBIG with *out_len = bytes needed (nothing
 * written), or HX_EINVAL when the input cannot be encoded (a property not allowed in that
 * packet, a string longer than 65535 bytes, a Remaining Length above MQTT_VARINT_MAX, a
 * packet that 3.1.1 does not have). In 3.1.1 properties and reason codes not in 3.1.1 are
 * not written. Comparing *out_len with the client's Maximum Packet Size is the caller's job.
 * Thread: any.
 */

/* CONNACK (3.1.1 §3.2, 5.0 §3.2). */
struct mqtt_connack {
    bool session_present;    /* must be false when reason != 0 (MQTT-3.2.2-4) */
    uint8_t reason;          /* v5 reason code; for 3.1.1 the return code (0..5) */
    struct mqtt_props props; /* v5 CONNACK properties */
};

int mqtt_connack_encode(const struct mqtt_connack *c, uint8_t version, uint8_t *buf, size_t len,
                        size_t *out_len);

/* Fixed header + variable header of a PUBLISH whose Remaining Length counts p->payload.len;
 * the payload itself is not written so it can go out as its own iovec. Needs qos <= 2,
 * packet_id != 0 when qos > 0, and a non-empty topic unless a Topic Alias is set (v5). */
int mqtt_publish_encode_header(const struct mqtt_publish *p, uint8_t version, uint8_t *buf,
                               size_t len, size_t *out_len);

/* The whole PUBLISH, header then payload copied into buf. */
int mqtt_publish_encode(const struct mqtt_publish *p, uint8_t version, uint8_t *buf, size_t len,
                        size_t *out_len);

/* PUBACK/PUBREC/PUBREL/PUBCOMP by a->type; v5 uses the short forms when possible. */
int mqtt_ack_encode(const struct mqtt_ack *a, uint8_t version, uint8_t *buf, size_t len,
                    size_t *out_len);

/* SUBACK and UNSUBACK: one reason code (3.1.1 SUBACK: return code) per filter, in order. */
struct mqtt_suback {
    uint16_t packet_id;      /* the SUBSCRIBE/UNSUBSCRIBE packet id */
    struct mqtt_props props; /* v5: Reason String, User Properties */
    const uint8_t *reasons;  /* borrows; n_reasons entries */
    size_t n_reasons;        /* number of filters, >= 1 for SUBACK */
};

int mqtt_suback_encode(const struct mqtt_suback *s, uint8_t version, uint8_t *buf, size_t len,
                       size_t *out_len);
/* 3.1.1 UNSUBACK has no payload, so reasons are ignored there. */
int mqtt_unsuback_encode(const struct mqtt_suback *s, uint8_t version, uint8_t *buf, size_t len,
                         size_t *out_len);

int mqtt_pingresp_encode(uint8_t *buf, size_t len, size_t *out_len);

/* Server DISCONNECT exists only in 5.0: HX_EINVAL for 3.1.1. */
int mqtt_disconnect_encode(const struct mqtt_disconnect *d, uint8_t version, uint8_t *buf,
                           size_t len, size_t *out_len);

/* 5.0 only: HX_EINVAL for 3.1.1. */
int mqtt_auth_encode(const struct mqtt_auth *a, uint8_t version, uint8_t *buf, size_t len,
                     size_t *out_len);

#endif
