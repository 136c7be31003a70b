/*
 * Private to src/server/: the daemon's state, shared by server.c (lifecycle) and metrics.c
 * (the operations endpoints, which read every subsystem's counters).
 * Thread: loop.
 */
#ifndef MEDHUB_SERVER_INT_H
#define MEDHUB_SERVER_INT_H

#include "server/server.h"

struct alerts;
struct api;
struct audit_service;
struct http_server;
struct ingest;
struct mqtt_server;
struct registry;
struct store_writer;
struct webhooks;

struct server {
    uv_loop_t loop;              /* the one event loop */
    uv_signal_t sigint;          /* Ctrl-C */
    uv_signal_t sigterm;         /* service manager stop */
    const struct cfg *cfg;       /* borrowed */
    struct store_writer *writer; /* owned; NULL once stopped */
    struct registry *reg;        /* owned; device snapshot, freed after the loop */
    struct ingest *ingest;       /* owned; the pipeline, freed after the loop */
    struct mqtt_server *mqtt;    /* owned; MQTT gateway, freed after the loop */
    struct alerts *alerts;       /* owned; rules and alerts, freed after the loop */
    struct webhooks *webhooks;   /* owned; webhook deliveries, freed after the loop */
    struct audit_service *audit; /* owned; lifecycle entries, checkpoints; freed after the loop */
    struct http_server *http;    /* owned; HTTP server, freed after the loop */
    struct api *api;             /* owned; the REST API, freed after the loop (before http) */
    int lock_fd;                 /* data directory lock */
    bool stopping;               /* drain started */
};

/* metrics.c: registers /healthz, /readyz and /metrics on the server's HTTP router. */
int server__ops_register(struct server *srv);

#endif
