/*
 * The client side of MQTT that the load generator needs and the server codec (mqtt/codec.h)
 * does not have: CONNECT and SUBSCRIBE encoders and a CONNACK decoder, for 3.1.1 and 5.0.
 * Pure functions over caller buffers, no allocation. PUBLISH, PUBACK and DISCONNECT use the
 * shared codec (their wire format is the same in both directions). Thread: any.
 */
#ifndef MEDHUB_BENCH_MQTT_CLIENT_H
#define MEDHUB_BENCH_MQTT_CLIENT_H

#include "core/slice.h"
#include "mqtt/codec.h"

#include <stddef.h>
#include <stdint.h>

/* What a client puts into CONNECT. Slices borrow. */
struct bench_mqtt_connect {
    uint8_t version;        /* MQTT_V311 or MQTT_V5 */
    uint16_t keep_alive;    /* seconds */
    struct slice client_id; /* 0..65535 bytes */
    struct slice username;  /* omitted when len == 0 */
    struct slice password;  /* omitted when len == 0 */
    uint16_t receive_max;   /* v5 Receive Maximum property, 0 = omit */
};

/*
 * Writes CONNECT with Clean Session / Clean Start set into buf[0..len) (3.1.1 §3.1, 5.0 §3.1).
 * Returns 0 with OUT: *out_len, HX_ETOOBIG (*out_len = bytes needed, nothing written) or
 * HX_EINVAL (a string over 65535 bytes, password without username in 3.1.1). Thread: any.
 */
int bench_mqtt_connect_encode(const struct bench_mqtt_connect *c, uint8_t *buf, size_t len,
                              size_t *out_len);

/* Writes SUBSCRIBE of one filter at qos with packet_id (3.1.1 §3.8, 5.0 §3.8). Same returns
 * as bench_mqtt_connect_encode. Thread: any. */
int bench_mqtt_subscribe_encode(uint8_t version, uint16_t packet_id, struct slice filter,
                                uint8_t qos, uint8_t *buf, size_t len, size_t *out_len);

/* A decoded CONNACK; fields not sent are 0. */
struct bench_mqtt_connack {
    uint8_t reason;             /* v5 reason code, or the 3.1.1 return code */
    uint8_t session_present;    /* 0 or 1 */
    uint16_t receive_max;       /* v5 Receive Maximum, 0 when absent (= 65535) */
    uint16_t server_keep_alive; /* v5 Server Keep Alive, 0 when absent */
};

/* Decodes a CONNACK frame from mqtt_frame (type MQTT_CONNACK). Returns 0 or HX_EMALFORMED.
 * Thread: any. */
int bench_mqtt_connack_decode(const struct mqtt_frame *f, uint8_t version,
                              struct bench_mqtt_connack *out);

#endif
