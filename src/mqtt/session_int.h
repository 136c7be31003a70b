/*
 * Private to the MQTT session layer (server.c, session.c, handle_*.c, send_*.c): the server
 * and session structs, the ack FIFO, and the functions the files share. The pure codec's
 * private helpers are in mqtt_int.h. Thread: loop, every function.
 */
#ifndef MEDHUB_MQTT_SESSION_INT_H
#define MEDHUB_MQTT_SESSION_INT_H

#include "core/idmap.h"
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

/* Topic Alias Maximum we advertise (5.0 §3.2.2.3.8): aliases 1..N per connection. */
#define MQTT_TOPIC_ALIAS_MAX 8
/* Longest session the server keeps for a disconnected device (3.1.1 Clean Session 0 has no
 * expiry of its own; a 5.0 Session Expiry above this is lowered and told in CONNACK). */
#define MQTT_SESSION_EXPIRY_MAX_S (7u * 24 * 3600)
/* Highest Keep Alive the server accepts from a 5.0 client; 0 (none) and higher values are
 * replaced by this through Server Keep Alive, so presence is known within 1.5 x of it. */
#define MQTT_KEEP_ALIVE_MAX_S 600
/* Commands published to a device and not yet acknowledged, at most (and never more than the
 * device's own Receive Maximum). */
#define MQTT_OUT_WINDOW 16
/* Commands held for one device; older ones expire first when more arrive. */
#define MQTT_OUT_QUEUE_MAX 1000

/* A device's own topic leaves: medhub/v1/devices/{id}/{leaf}. */
enum mqtt__leaf {
    MQTT__LEAF_NONE = 0,
    MQTT__LEAF_TELEMETRY = 1,
    MQTT__LEAF_STATUS = 2,
    MQTT__LEAF_EVENTS = 3,
};

/* Where an outbound message is in its QoS flow. */
enum mqtt__out_phase {
    MQTT__OUT_QUEUED = 0,   /* waiting for the device to be connected and subscribed */
    MQTT__OUT_WAIT_ACK = 1, /* sent; PUBACK (QoS 1) or PUBREC (QoS 2) expected */
    MQTT__OUT_WAIT_COMP = 2 /* PUBREL sent; PUBCOMP expected */
};

/* One command on its way to a device (copied out of the store; owns its payload). */
struct mqtt__out {
    struct mqtt__out *next; /* FIFO order */
    int64_t cmd_id;         /* commands row */
    int64_t expires_us;     /* dropped as EXPIRED if still queued after this */
    uint8_t qos;            /* the command's QoS */
    uint8_t sent_qos;       /* min(qos, granted QoS) once sent */
    bool retain_copy;       /* the retained command replayed to a new subscription */
    bool as_retained;       /* send with RETAIN 1 (a retained command to a new subscription) */
    uint8_t phase;          /* enum mqtt__out_phase */
    uint16_t packet_id;     /* while in flight */
    size_t len;             /* payload bytes */
    uint8_t payload[];      /* the application message */
};

/* A Will Message kept until the connection ends (5.0 §3.1.3.2: published after the delay
 * unless the device reconnects first). */
struct mqtt__will {
    struct mqtt_server *srv; /* owner */
    int64_t device_id;       /* whose */
    uint8_t leaf;            /* enum mqtt__leaf: the device's own topic it goes to */
    bool cbor;               /* content type application/senml+cbor */
    uint32_t delay_s;        /* 5.0 Will Delay Interval */
    uv_timer_t timer;        /* the delay; closing it frees the will */
    size_t len;              /* payload bytes */
    uint8_t payload[];       /* SenML */
};

/* What the gateway keeps about a device across its connections (dev.c): the MQTT session
 * state (commands subscription, expiry) and the commands in flight or waiting. Created on
 * demand, so a device that never subscribes or persists costs nothing here. */
struct mqtt__dev {
    int64_t device_id;          /* key */
    bool subscribed;            /* to medhub/v1/devices/{id}/commands */
    uint8_t sub_qos;            /* granted QoS */
    bool persistent;            /* the session outlives the connection */
    uint32_t expiry_s;          /* how long after a disconnect it does */
    uint64_t gone_ms;           /* uv_now of the disconnect, 0 while connected or never */
    struct mqtt__out *out_head; /* commands, oldest first */
    struct mqtt__out *out_tail; /* newest */
    uint32_t n_out;             /* entries in the FIFO */
    uint16_t next_packet_id;    /* for the next outbound QoS 1/2 PUBLISH */
    struct mqtt__out *retained; /* the device's retained command, or NULL */
    struct mqtt__will *will;    /* will of the current connection, or NULL */
    struct mqtt__will *pending; /* a delayed will waiting to be published, or NULL */
};

/* One commands poll or state update round on the worker (commands.c). */
struct mqtt__cmd_update {
    int64_t id;    /* commands row */
    uint8_t state; /* enum store_cmd_state */
    int64_t at_us; /* when */
};

struct mqtt__cmds;

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
    struct hx_idmap live;        /* connected sessions by device, for takeover */
    struct hx_idmap devs;        /* struct mqtt__dev by device */
    struct mqtt__cmds *cmds;     /* the command poller (commands.c) */
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
    bool clean_start;               /* CONNECT asked for a new session */
    uint16_t client_receive_max;    /* v5 Receive Maximum of the client (65535 default) */
    struct slice *aliases;          /* v5 inbound Topic Aliases 1..MQTT_TOPIC_ALIAS_MAX (owned
                                     * copies), allocated at first use */
    bool will_on_close;             /* publish the will when the connection ends */
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

/* The leaf of topic t if it is one of device uid's publish topics, else MQTT__LEAF_NONE. */
enum mqtt__leaf mqtt__topic_leaf(const char *uid, struct slice t);

/* dev.c: per-device state across connections. */
struct mqtt__dev *mqtt__dev_get(struct mqtt_server *srv, int64_t device_id);
struct mqtt__dev *mqtt__dev_get_or_add(struct mqtt_server *srv, int64_t device_id);
/* At CONNECT, before CONNACK: resumes or discards the stored session as the client asked.
 * Cancels a delayed will. Returns Session Present. */
bool mqtt__dev_connect(struct mqtt_session *s, bool clean_start, bool persistent,
                       uint32_t expiry_s);
/* After CONNACK: resends what was in flight (DUP) and what waits. */
void mqtt__dev_resume(struct mqtt_session *s);
/* At connection end: keeps or discards the session, and publishes or delays the will. */
void mqtt__dev_disconnected(struct mqtt_session *s);
/* A 5.0 DISCONNECT changed the Session Expiry Interval. */
void mqtt__dev_set_expiry(struct mqtt_session *s, uint32_t expiry_s);
/* Keeps w as the connection's will (takes it; frees an older one). */
void mqtt__dev_set_will(struct mqtt_session *s, struct mqtt__will *w);
void mqtt__dev_free_all(struct mqtt_server *srv);

/* outbound.c: commands to the device. */
/* Takes o (a command from the poller) into the device's FIFO and sends what it can. */
void mqtt__out_add(struct mqtt_server *srv, int64_t device_id, struct mqtt__out *o);
/* Replaces the device's retained command (o->len 0 clears it; takes o). */
void mqtt__out_set_retained(struct mqtt_server *srv, int64_t device_id, struct mqtt__out *o);
/* Sends queued commands while the device is connected, subscribed and under its window. */
void mqtt__out_pump(struct mqtt_server *srv, struct mqtt__dev *d);
/* A new subscription: queues the retained command first (unless it is queued already). */
void mqtt__out_subscribed(struct mqtt_server *srv, struct mqtt__dev *d);
/* PUBACK, PUBREC or PUBCOMP from the device for one of our PUBLISHes. */
int mqtt__out_handle_ack(struct mqtt_session *s, const struct mqtt_ack *a);
/* Puts every in-flight command back in the queue (session discarded) when requeue, and
 * frees the FIFO entirely otherwise. */
void mqtt__out_reset(struct mqtt_server *srv, struct mqtt__dev *d, bool requeue);
void mqtt__out_free(struct mqtt__out *o);

/* commands.c: the store side of commands (poll every MQTT_CMD_POLL_MS, record state). */
#define MQTT_CMD_POLL_MS 200
int mqtt__cmds_start(struct mqtt_server *srv);
void mqtt__cmds_stop(struct mqtt_server *srv);
void mqtt__cmds_free(struct mqtt_server *srv);
/* Records that command id reached state (written by the next worker round). */
void mqtt__cmds_note(struct mqtt_server *srv, int64_t id, uint8_t state);

/* will.c */
/* Builds the will of a CONNECT (NULL when it has none). Sets *reason and returns NULL when
 * its topic is not one of the device's own publish topics. */
struct mqtt__will *mqtt__will_from_connect(struct mqtt_session *s, const struct mqtt_connect *c,
                                           uint8_t *reason);
/* Publishes w as if the device had sent it, then frees it (closes its timer). */
void mqtt__will_publish(struct mqtt__will *w);
/* Frees w without publishing it. */
void mqtt__will_drop(struct mqtt__will *w);

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
/* What a successful CONNACK tells the client beyond our limits. */
struct mqtt__connack_info {
    bool session_present;       /* a stored session was resumed */
    const char *assigned_id;    /* 5.0 Assigned Client Identifier, or NULL */
    uint16_t server_keep_alive; /* 5.0 Server Keep Alive, 0 = none sent */
    bool send_expiry;           /* 5.0: tell the client its Session Expiry was lowered */
    uint32_t session_expiry;    /* ... to this */
};
int mqtt__send_connack(struct mqtt_session *s, uint8_t version, uint8_t reason,
                       const struct mqtt__connack_info *info);
int mqtt__send_ack(struct mqtt_session *s, uint8_t type, uint16_t packet_id, uint8_t reason,
                   const char *reason_string);
/* Encodes the ack mqtt__send_ack would send into buf (at most 256 bytes are needed), for
 * callers that send several at once. Returns 0, HX_ETOOBIG or HX_EINVAL. */
int mqtt__encode_ack(const struct mqtt_session *s, uint8_t type, uint16_t packet_id, uint8_t reason,
                     const char *reason_string, uint8_t *buf, size_t cap, size_t *len);
int mqtt__send_suback(struct mqtt_session *s, bool unsub, uint16_t packet_id,
                      const uint8_t *reasons, size_t n);
int mqtt__send_pingresp(struct mqtt_session *s);
/* A command to the device: PUBLISH on its commands topic. */
int mqtt__send_command(struct mqtt_session *s, const struct mqtt__out *o, bool dup, bool retain);
int mqtt__send_disconnect(struct mqtt_session *s, uint8_t reason);

/* Writes a log-safe copy of untrusted text (topic, client id) into dst: bytes outside
 * [A-Za-z0-9/_.:+#$-] become '?', cut at dst_len - 1. */
void mqtt__sanitize(char *dst, size_t dst_len, struct slice s);

#endif
