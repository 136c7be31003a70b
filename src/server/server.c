/*
 * Daemon lifecycle: lock the data directory, check the server key, start the store writer,
 * start the front ends, the alerting service and webhooks, run the loop; on SIGINT/SIGTERM
 * stop accepting, flush the writer, let the event writer finish its jobs, close the database
 * and release the lock. Nothing here blocks the loop except the final writer flush, which
 * happens after every listener has stopped.
 * Layer: server (top; wires front ends to ingest and store). Thread: loop.
 */
#include "server/server.h"
#include "alerts/alerts.h"
#include "core/datadir.h"
#include "core/err.h"
#include "core/log.h"
#include "ingest/pipeline.h"
#include "ingest/registry.h"
#include "mqtt/mqtt.h"
#include "notify/webhook.h"
#include "security/audit.h"
#include "security/secret.h"
#include "store/writer.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    int lock_fd;                 /* data directory lock */
    bool stopping;               /* drain started */
};

uv_loop_t *server_loop(struct server *srv)
{
    return &srv->loop;
}

uint16_t server_mqtt_port(struct server *srv, bool tls)
{
    return srv->mqtt ? mqtt_server_port(srv->mqtt, tls) : 0;
}

struct store_writer *server_writer(struct server *srv)
{
    return srv->writer;
}

void server_stop(struct server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    log_info(NULL, "server", "draining", "queued_writes=flushing");
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    /* Order: stop accepting and close device connections, stop the registry refresh, stop
     * the ingest pipeline (events already submitted are still written by their worker job
     * and called back while the loop runs on), then flush the writer (completions for closed
     * sessions find tombstones). */
    mqtt_server_stop(srv->mqtt);
    alerts_stop(srv->alerts); /* no more readings: write the last transitions */
    reg_stop(srv->reg);
    ingest_stop(srv->ingest);
    webhooks_stop(srv->webhooks);   /* abandons attempts in flight; stores what it holds */
    audit_service_stop(srv->audit); /* queues server.stop and a last checkpoint check */
    if (srv->writer) {
        store_writer_stop(srv->writer); /* flushes, logs its totals */
        srv->writer = NULL;
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *srv = h->data;
    log_info(NULL, "server", "signal received", "signal=%s",
             signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(srv);
}

/* Logs the pipeline's totals once everything submitted has completed. */
static void log_ingest_stats(const struct ingest *ig)
{
    if (!ig)
        return;
    struct ingest_stats st;
    ingest_get_stats(ig, &st);
    log_info(NULL, "ingest", "ingest stopped",
             "messages=%" PRIu64 " observations=%" PRIu64 " durable=%" PRIu64 " failed=%" PRIu64
             " backpressure=%" PRIu64 " rejected=%" PRIu64 " unassigned=%" PRIu64
             " event_messages=%" PRIu64 " events=%" PRIu64 " events_stored=%" PRIu64
             " events_duplicate=%" PRIu64 " events_failed=%" PRIu64,
             st.messages, st.observations, st.durable, st.failed, st.backpressure, st.rejected,
             st.unassigned, st.event_messages, st.events, st.events_stored, st.events_duplicate,
             st.events_failed);
}

/* Logs one configured listener that has no front end in this build yet. */
static void log_pending_listener(const char *proto, const struct cfg_addr *a, const char *tls)
{
    if (!a->is_set)
        return;
    log_info(NULL, "server", "listener configured but its front end is not in this build",
             "proto=%s%s addr=%s:%u", proto, tls, a->host, a->port);
}

int server_run(const struct cfg *cfg, const struct server_hooks *hooks)
{
    struct server srv = {.cfg = cfg, .lock_fd = -1};
    char err[512] = "";
    int rc;

    log_set_level(cfg->log.level);
    log_info(NULL, "server", "starting", "version=%s pid=%ld data_dir=\"%s\" sync=%s",
             MEDHUB_VERSION, (long)getpid(), cfg->data_dir,
             cfg->storage.sync == CFG_SYNC_FULL ? "full" : "normal");
    rc = datadir_lock(cfg->data_dir, &srv.lock_fd, err, sizeof(err));
    if (rc < 0)
        goto out_fail;
    uint8_t key[SEC_KEY_LEN];
    rc = sec_server_key_load(cfg->data_dir, false, key, err, sizeof(err));
    if (rc < 0) {
        memset(key, 0, sizeof(key));
        goto out_unlock;
    }

    rc = uv_loop_init(&srv.loop);
    if (rc < 0) {
        snprintf(err, sizeof(err), "cannot start the event loop: %s", uv_strerror(rc));
        goto out_unlock;
    }
    rc = store_writer_start(&srv.writer, &srv.loop, &cfg->storage, err, sizeof(err));
    if (rc < 0) {
        memset(key, 0, sizeof(key));
        goto out_loop;
    }
    struct audit_policy audit_policy;
    audit_policy_from_cfg(&audit_policy, cfg);
    rc = audit_service_start(&srv.audit, &srv.loop, srv.writer, &audit_policy);
    if (rc < 0)
        snprintf(err, sizeof(err), "cannot start the audit service: %s", hx_strerror(rc));
    /* The device registry: loaded once here (blocking is fine before the loop runs), then
     * refreshed every REG_REFRESH_MS on a worker. */
    if (rc == 0)
        rc = reg_new(&srv.reg, &srv.loop, &cfg->storage, err, sizeof(err));
    if (rc == 0)
        rc = reg_refresh_start(srv.reg, REG_REFRESH_MS);
    if (rc == 0) {
        ingest_new(&srv.ingest, &srv.loop, &cfg->storage, srv.writer, srv.reg);
        rc = webhooks_start(&srv.webhooks, &srv.loop, cfg, err, sizeof(err));
    }
    if (rc == 0)
        rc = alerts_start(&srv.alerts, &srv.loop, cfg, srv.writer, srv.reg, srv.ingest,
                          srv.webhooks, err, sizeof(err));
    if (rc == 0)
        rc = mqtt_server_start(&srv.mqtt, &srv.loop, cfg, srv.reg, srv.ingest, key, err,
                               sizeof(err));
    memset(key, 0, sizeof(key));
    if (rc < 0)
        goto out_stop;

    uv_signal_init(&srv.loop, &srv.sigint);
    uv_signal_init(&srv.loop, &srv.sigterm);
    srv.sigint.data = srv.sigterm.data = &srv;
    uv_signal_start(&srv.sigint, on_signal, SIGINT);
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);

    log_pending_listener("http", &cfg->http.listen, "");
    log_pending_listener("http", &cfg->http.tls_listen, "+tls");
    log_pending_listener("hl7", &cfg->hl7.listen, "");
    log_info(NULL, "server", "ready", "store=\"%s\"", cfg->storage.path);
    if (hooks && hooks->on_ready)
        hooks->on_ready(hooks->arg, &srv);

    uv_run(&srv.loop, UV_RUN_DEFAULT);
    log_ingest_stats(srv.ingest);
    mqtt_server_free(srv.mqtt);
    alerts_free(srv.alerts);
    webhooks_free(srv.webhooks);
    audit_service_free(srv.audit);
    ingest_free(srv.ingest);
    reg_free(srv.reg);
    rc = uv_loop_close(&srv.loop);
    if (rc < 0)
        log_warn(NULL, "server", "event loop closed with handles still open", "err=\"%s\"",
                 uv_strerror(rc));
    datadir_unlock(cfg->data_dir, srv.lock_fd);
    log_info(NULL, "server", "stopped", NULL);
    return 0;

out_stop:
    /* Start-up failed after the writer started: drain what started, as on SIGTERM. */
    srv.stopping = true;
    mqtt_server_stop(srv.mqtt);
    alerts_stop(srv.alerts);
    reg_stop(srv.reg);
    ingest_stop(srv.ingest);
    webhooks_stop(srv.webhooks);
    audit_service_stop(srv.audit);
    store_writer_stop(srv.writer);
    srv.writer = NULL;
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    mqtt_server_free(srv.mqtt);
    alerts_free(srv.alerts);
    webhooks_free(srv.webhooks);
    audit_service_free(srv.audit);
    ingest_free(srv.ingest);
    reg_free(srv.reg);
out_loop:
    uv_loop_close(&srv.loop);
out_unlock:
    datadir_unlock(cfg->data_dir, srv.lock_fd);
out_fail:
    if (!*err)
        snprintf(err, sizeof(err), "%s", hx_strerror(rc));
    /* One line for the operator; a log line too would say the same thing twice. */
    fprintf(stderr, "medhub: error: %s\n", err);
    return rc;
}
