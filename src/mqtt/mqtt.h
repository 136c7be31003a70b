/*
 * The MQTT device gateway: listeners for MQTT 3.1.1 and 5.0 device connections, device
 * authentication against the registry, topic ACL, SenML telemetry into the ingest pipeline
 * with durable acknowledgement (PUBACK/PUBREC only after the store writer committed).
 * See docs/mqtt.md (integrators) and docs/internals/mqtt.md (session layer).
 * Thread: loop, every function.
 */
#ifndef MEDHUB_MQTT_MQTT_H
#define MEDHUB_MQTT_MQTT_H

#include "core/cfg.h"
#include "security/secret.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct mqtt_server;
struct registry;
struct ingest;

/* Counters for /metrics. */
struct mqtt_stats {
    uint64_t accepted;           /* TCP/TLS connections accepted */
    uint64_t connected;          /* CONNECTs accepted (CONNACK success) */
    uint64_t refused;            /* CONNECTs refused (bad credentials, not authorized, ...) */
    uint64_t protocol_errors;    /* connections closed for malformed packets or violations */
    uint64_t keepalive_timeouts; /* connections closed for silence */
    uint64_t connect_timeouts;   /* connections closed for no CONNECT in time */
    uint64_t rate_limited;       /* PUBLISH packets over the per-device rate */
    uint64_t conn_limited;       /* connections refused over mqtt.max_connections */
    uint64_t publishes;          /* PUBLISH packets received */
    uint64_t acl_denied;         /* publishes and subscriptions refused by the topic ACL */
    uint64_t invalid_payload;    /* publishes rejected for their SenML payload */
    uint64_t stored;             /* telemetry messages reported durable */
    uint64_t store_failed;       /* telemetry messages the store failed */
    uint64_t backpressure;       /* times a session paused reading because the queue was full */
    uint64_t takeovers;          /* connections closed by a newer CONNECT of the same device */
    uint64_t commands_sent;      /* command PUBLISHes sent to devices (resends not counted) */
    uint64_t wills_published;    /* will messages processed */
    uint64_t wills_failed;       /* will messages that could not be processed or stored */
    uint32_t sessions;           /* connections alive now */
};

/*
 * Starts the plain listener on cfg->mqtt.listen (when set) and the TLS listener on
 * cfg->mqtt.tls_listen (when set and this build's net module provides TLS; otherwise a
 * warning is logged and it is skipped). Logs msg="listening" proto=mqtt addr=HOST:PORT with
 * the bound port. cfg, reg and ig are borrowed and must outlive the server; key is copied.
 * OUT: *out returns owned: mqtt_server_stop at drain, mqtt_server_free after the loop ended.
 * Errors: negative libuv/errno codes from binding, TLS context errors, detail in err. On
 * error *out is set all the same (already stopped): run the loop, then mqtt_server_free.
 */
int mqtt_server_start(struct mqtt_server **out, uv_loop_t *loop, const struct cfg *cfg,
                      struct registry *reg, struct ingest *ig, const uint8_t key[SEC_KEY_LEN],
                      char *err, size_t err_len);

/* Stops accepting and closes every connection (asynchronously). Completions still pending in
 * the store writer find their session tombstoned and only release it. Idempotent. */
void mqtt_server_stop(struct mqtt_server *srv);

/* Frees the server once the loop has run to completion (every session is gone). NULL is a
 * no-op. */
void mqtt_server_free(struct mqtt_server *srv);

/* The port a listener is bound to (0 when it is not running): tls false for plain. */
uint16_t mqtt_server_port(const struct mqtt_server *srv, bool tls);

void mqtt_server_get_stats(const struct mqtt_server *srv, struct mqtt_stats *out);

#endif
