/*
 * Private to the MQTT session layer (server.c, session.c, handle_*.c, send_*.c): the server
 * and session structs, the ack FIFO, and the functions the files share. The pure codec's
 * private helpers are in mqtt_int.h. Thread: loop, every function.
 */
#ifndef MEDHUB_MQTT_SESSION_INT_H
#define MEDHUB_MQTT_SESSION_INT_H

#include "core/log.h"
#include "domain/model.h"
#include "ingest/pipeline.h"
#include "ingest/senml.h"
#include "mqtt/codec.h"
#include "mqtt/mqtt.h"
#include "net/net.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Receive Maximum we advertise (5.0 §3.2.2.3.3) and the in-flight cap we also apply to
 * 3.1.1 clients (by pausing reads instead of disconnecting). */
#define MQTT_RECEIVE_MAX 64
/* Ack FIFO slots: in-flight publishes plus QoS 2 retransmits answered in order. */
#define MQTT_ACK_SLOTS (2 * MQTT_RECEIVE_MAX)
/* Largest inbound packet (whole packet, fixed header included) by default. */
#define MQTT_DEFAULT_MAX_PACKET (256 * 1024)
/* CONNECT must arrive within this after accept (MQTT-3.1.0-1; implementation choice). */
#define MQTT_CONNECT_TIMEOUT_MS 10000
/* Records (hence observations) in one SenML message. */
#define MQTT_MAX_RECORDS 1024
/* Scratch for resolved SenML names and JSON strings of one message. */
#define MQTT_SENML_SCRATCH (128 * 1024)
/* Topic prefix of every device topic; the device id and the leaf follow. */
#define MQTT_TOPIC_PREFIX "medhub/v1/devices/"

/* Returned by a handler that could not process its packet now (backpressure): the packet
 * stays in the input buffer and is handled again when the session resumes. */
#define MQTT__RC_STALL 1
/* Returned by a handler after it closed the connection. */
#define MQTT__RC_CLOSED 2

/* Connected sessions by internal device id (live.c). */
struct mqtt__live {
    int64_t *ids;                   /* keys, cap entries */
    struct mqtt_session **sessions; /* values, cap entries; NULL = empty slot */
    uint32_t cap;                   /* power of two, or 0 before the first put */
    uint32_t n;                     /* entries */
};

struct mqtt_server {
    uv_loop_t *loop;             /* the loop */
    const struct cfg *cfg;       /* borrowed */
    struct registry *reg;        /* borrowed */
    struct ingest *ig;           /* borrowed */
    uint8_t key[SEC_KEY_LEN];    /* server key for sec_secret_verify (copy) */
    struct net_listener *plain;  /* plain listener, or NULL */
    struct net_listener *tls;    /* TLS listener, or NULL */
    struct net_tls *tls_ctx;     /* TLS context, or NULL */
    size_t max_packet;           /* inbound limit, whole packet (mqtt.max_packet_bytes) */
    uint32_t connect_timeout_ms; /* CONNECT deadline after accept (mqtt.connect_timeout_ms) */
    uint32_t publish_rate;       /* PUBLISH per second per device (mqtt.publish_rate) */
    bool stopping;               /* mqtt_server_stop called */
    struct senml_record *recs;   /* MQTT_MAX_RECORDS, reused per message (loop only) */
    size_t max_recs;             /* entries in recs, obs and events */
    uint8_t *scratch;            /* MQTT_SENML_SCRATCH bytes */
    struct obs *obs;             /* max_recs observations */
    struct senml_event *events;  /* max_recs events */
    struct mqtt_stats stats;     /* counters */
    struct mqtt__live live;      /* connected sessions by device, for takeover */
};

/* Where a session is in its life. */
enum mqtt__state {
    MQTT__AWAIT_CONNECT = 0, /* accepted, no CONNECT yet */
    MQTT__CONNECTED = 1,     /* CONNACK success sent */
    MQTT__CLOSING = 2,       /* close started; input ignored */
    MQTT__CLOSED = 3,        /* net on_close ran: a tombstone kept by pending completions */
};

/* One acknowledgement owed to the client, in PUBLISH arrival order (MQTT-4.6.0-2/3). */
struct mqtt__ack_slot {
    uint16_t packet_id;  /* of the PUBLISH */
    uint8_t qos;         /* 1: PUBACK, 2: PUBREC */
    uint8_t reason;      /* v5 reason code once ready */
    bool ready;          /* outcome known */
    bool close_instead;  /* 3.1.1 store failure: close without acking so the device resends */
    char *reason_string; /* owned, or NULL: v5 Reason String */
};

struct mqtt_session {
    struct mqtt_server *srv;        /* owner (outlives every session) */
    struct net_conn *conn;          /* NULL once the connection is gone */
    struct log_ctx lc;              /* conn id and device id for every log line */
    int refs;                       /* connection + timer + each pending completion */
    enum mqtt__state state;         /* see enum mqtt__state */
    uint8_t version;                /* MQTT_V311 or MQTT_V5 once CONNECT was read */
    int64_t device_id;              /* internal device id once connected */
    char device_uid[DEV_ID_MAX];    /* external device id (copied: outlives the packet) */
    bool cert_auth;                 /* authenticated by TLS client certificate */
    uint16_t keep_alive;            /* seconds, 0 = none */
    uint64_t last_rx_ms;            /* uv_now of the last complete packet */
    uv_timer_t timer;               /* CONNECT deadline, then keep alive */
    bool problem_info;              /* v5 Request Problem Information (default true) */
    uint32_t client_max_packet;     /* v5 Maximum Packet Size of the client, 0 = none */
    bool connect_expiry_zero;       /* CONNECT had Session Expiry 0 (for DISCONNECT checks) */
    bool subscribed;                /* subscribed to its commands topic */
    uint8_t *in;                    /* input buffer (owned) */
    size_t in_len;                  /* bytes in it */
    size_t in_cap;                  /* its capacity */
    bool processing;                /* inside session_process (no re-entry) */
    bool stalled;                   /* paused: a packet waits in the buffer */
    struct ingest_waiter waiter;    /* linked while waiting for writer space */
    struct mqtt__ack_slot *acks;    /* FIFO ring of MQTT_ACK_SLOTS acks owed; allocated at the
                                     * first QoS 1/2 PUBLISH so idle devices cost no ring */
    uint32_t ack_head;              /* index of the oldest slot */
    uint32_t n_acks;                /* slots used */
    uint64_t ack_seq_head;          /* sequence number of the oldest slot */
    uint16_t rel[MQTT_RECEIVE_MAX]; /* QoS 2 packet ids awaiting PUBREL (Method B) */
    uint32_t n_rel;                 /* entries in rel */
};

/* live.c: the connected-session table. get returns NULL when the device has none; del
 * removes the entry only while it still maps to s and says whether it did. */
struct mqtt_session *mqtt__live_get(const struct mqtt__live *t, int64_t id);
void mqtt__live_put(struct mqtt__live *t, int64_t id, struct mqtt_session *s);
bool mqtt__live_del(struct mqtt__live *t, int64_t id, const struct mqtt_session *s);
void mqtt__live_release(struct mqtt__live *t);

/* server.c: logs every counter on one line (msg, then key=value pairs). */
void mqtt__log_stats(const struct mqtt_server *srv, const char *msg);

/* session.c */
void mqtt__session_accept(void *arg, struct net_conn *c);
/* Sends DISCONNECT (v5, connected, reason >= 0x80) then closes after the flush. Logs nothing:
 * callers log why. Idempotent. */
void mqtt__session_close(struct mqtt_session *s, uint8_t reason);
/* Logs a protocol violation at warn and closes with reason (DISCONNECT in v5). Returns
 * MQTT__RC_CLOSED. */
int mqtt__session_fail(struct mqtt_session *s, uint8_t reason, const char *why);
void mqtt__session_unref(struct mqtt_session *s);
/* Starts the keep alive timer after CONNACK. */
void mqtt__session_keepalive_start(struct mqtt_session *s);
/* Ack FIFO: reserves the next slot (OUT: *seq). Returns false when full. */
bool mqtt__ack_push(struct mqtt_session *s, uint16_t packet_id, uint8_t qos, uint64_t *seq);
/* Drops the newest slot (a reservation that could not be used). */
void mqtt__ack_pop_tail(struct mqtt_session *s);
/* Completes slot seq (takes reason_string) and sends every ready ack at the head. */
void mqtt__ack_complete(struct mqtt_session *s, uint64_t seq, uint8_t reason, char *reason_string,
                        bool close_instead);
/* An immediate ack (ACL refusal, invalid payload, QoS 2 repeat) that still keeps the order. */
int mqtt__ack_now(struct mqtt_session *s, uint16_t packet_id, uint8_t qos, uint8_t reason,
                  const char *reason_string);
/* Acks owed plus QoS 2 awaiting PUBREL: what counts against the Receive Maximum. */
uint32_t mqtt__inflight(const struct mqtt_session *s);
/* Resumes reading after a stall and processes buffered packets. */
void mqtt__session_unstall(struct mqtt_session *s);
bool mqtt__rel_has(const struct mqtt_session *s, uint16_t id);
/* True if added, false when full. */
bool mqtt__rel_add(struct mqtt_session *s, uint16_t id);
bool mqtt__rel_remove(struct mqtt_session *s, uint16_t id);

/* handle_*.c: each returns 0 (consumed), MQTT__RC_STALL or MQTT__RC_CLOSED. */
int mqtt__handle_connect(struct mqtt_session *s, const struct mqtt_frame *f);
int mqtt__handle_publish(struct mqtt_session *s, const struct mqtt_publish *p);
int mqtt__handle_pubrel(struct mqtt_session *s, const struct mqtt_ack *a);
int mqtt__handle_subscribe(struct mqtt_session *s, const struct mqtt_subscribe *sub);
int mqtt__handle_unsubscribe(struct mqtt_session *s, const struct mqtt_unsubscribe *u);
int mqtt__handle_ping(struct mqtt_session *s);
int mqtt__handle_disconnect(struct mqtt_session *s, const struct mqtt_disconnect *d);

/* send_*.c: each returns 0 or a negative error (the connection is then being aborted). */
int mqtt__send(struct mqtt_session *s, const uint8_t *p, size_t len);
int mqtt__send_connack(struct mqtt_session *s, uint8_t version, uint8_t reason);
int mqtt__send_ack(struct mqtt_session *s, uint8_t type, uint16_t packet_id, uint8_t reason,
                   const char *reason_string);
/* Encodes the ack mqtt__send_ack would send into buf (at most 256 bytes are needed), for
 * callers that send several at once. Returns 0, HX_ETOOBIG or HX_EINVAL. */
int mqtt__encode_ack(const struct mqtt_session *s, uint8_t type, uint16_t packet_id, uint8_t reason,
                     const char *reason_string, uint8_t *buf, size_t cap, size_t *len);
int mqtt__send_suback(struct mqtt_session *s, bool unsub, uint16_t packet_id,
                      const uint8_t *reasons, size_t n);
int mqtt__send_pingresp(struct mqtt_session *s);
int mqtt__send_disconnect(struct mqtt_session *s, uint8_t reason);

/* Writes a log-safe copy of untrusted text (topic, client id) into dst: bytes outside
 * [A-Za-z0-9/_.:+#$-] become '?', cut at dst_len - 1. */
void mqtt__sanitize(char *dst, size_t dst_len, struct slice s);

#endif
