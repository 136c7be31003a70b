/*
 * The daemon: the libuv loop, the store writer, the front ends (MQTT, HTTP), signal
 * handling and the graceful drain. `medhub serve` and `medhub demo` run it.
 * Thread: server_run runs the loop on the calling thread and returns when it has stopped.
 */
#ifndef MEDHUB_SERVER_SERVER_H
#define MEDHUB_SERVER_SERVER_H

#include "core/cfg.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct server;

/* Called on the loop thread once everything has started (for demo banners). */
typedef void server_ready_fn(void *arg, struct server *srv);

struct server_hooks {
    server_ready_fn *on_ready; /* may be NULL */
    void *arg;                 /* passed to on_ready */
};

/* Runs the daemon until SIGINT or SIGTERM, then drains: stops accepting, flushes the store
 * writer (every queued observation is committed or reported failed), closes the database and
 * releases the data directory lock. cfg is borrowed for the whole run.
 * Returns 0 after a clean stop, or a negative error (with a one-line message already
 * printed to stderr and logged) when start-up fails: HX_ELOCKED (another instance),
 * -ENOENT (not initialised), HX_ECORRUPT, HX_ESCHEMA, HX_EREADONLY, ... */
int server_run(const struct cfg *cfg, const struct server_hooks *hooks);

/* Asks a running server to stop as if it had received SIGTERM. Thread: loop. */
void server_stop(struct server *srv);

/* The server's loop (for components started from hooks). Thread: loop. */
uv_loop_t *server_loop(struct server *srv);

/* The port the MQTT gateway listens on (tls false: plain), 0 when it is not listening.
 * Thread: loop. */
uint16_t server_mqtt_port(struct server *srv, bool tls);

/* The port the HTTP server listens on (tls false: plain), 0 when it is not listening.
 * Thread: loop. */
uint16_t server_http_port(struct server *srv, bool tls);

/* The server's store writer. Thread: loop. */
struct store_writer *server_writer(struct server *srv);

#endif
