/*
 * Daemon lifecycle: lock the data directory, check the server key, start the store writer,
 * start the front ends, the alerting service and webhooks, run the loop; on SIGINT/SIGTERM
 * stop accepting, flush the writer, let the event writer finish its jobs, close the database
 * and release the lock. Nothing here blocks the loop except the final writer flush, which
 * happens after every listener has stopped.
 * Layer: server (top; wires front ends to ingest and store). Thread: loop.
 */
#include "server/server_int.h"
#include "alerts/alerts.h"
#include "api/api.h"
#include "core/datadir.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
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

uv_loop_t *server_loop(struct server *srv)
{
    return &srv->loop;
}

uint16_t server_mqtt_port(struct server *srv, bool tls)
{
    return srv->mqtt ? mqtt_server_port(srv->mqtt, tls) : 0;
}

uint16_t server_http_port(struct server *srv, bool tls)
{
    return srv->http ? http_server_port(srv->http, tls) : 0;
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
    api_stop(srv->api);          /* refuses new work; live streams end */
    http_server_stop(srv->http); /* handlers still holding an exchange get their on_close */
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

/* The HTTP server: its routes (operations endpoints, then the static files as the catch-all;
 * REST, FHIR and the live stream register here too as they arrive), then its listeners. */
static int start_http(struct server *srv, const uint8_t key[SEC_KEY_LEN], char *err, size_t err_len)
{
    const struct cfg *cfg = srv->cfg;
    http_server_new(&srv->http, &srv->loop, cfg);
    int rc = server__ops_register(srv);
    if (rc < 0) {
        snprintf(err, err_len, "http: cannot register the operations endpoints: %s",
                 hx_strerror(rc));
        return rc;
    }
    struct api_deps deps = {.loop = &srv->loop,
                            .cfg = cfg,
                            .http = srv->http,
                            .writer = srv->writer,
                            .ingest = srv->ingest,
                            .alerts = srv->alerts,
                            .reg = srv->reg,
                            .server_key = key};
    if ((rc = api_start(&srv->api, &deps, err, err_len)) < 0)
        return rc;
    char root[CFG_PATH_MAX];
    rc = http_web_root_find(cfg->http_opts.web_root, root, sizeof(root));
    if (rc < 0 && *cfg->http_opts.web_root) {
        snprintf(err, err_len, "[http] web_root = '%.200s': %s", cfg->http_opts.web_root,
                 hx_strerror(rc));
        return rc;
    }
    if (rc < 0)
        log_warn(NULL, "http", "no web root found: the web UI is not served",
                 "hint=\"set [http] web_root\"");
    else if ((rc = http_static_register(srv->http, root, err, err_len)) < 0)
        return rc;
    return http_server_start(srv->http, err, err_len);
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
    if (rc == 0)
        rc = start_http(&srv, key, err, sizeof(err));
    memset(key, 0, sizeof(key));
    if (rc < 0)
        goto out_stop;

    uv_signal_init(&srv.loop, &srv.sigint);
    uv_signal_init(&srv.loop, &srv.sigterm);
    srv.sigint.data = srv.sigterm.data = &srv;
    uv_signal_start(&srv.sigint, on_signal, SIGINT);
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);

    log_pending_listener("hl7", &cfg->hl7.listen, "");
    log_info(NULL, "server", "ready", "store=\"%s\"", cfg->storage.path);
    if (hooks && hooks->on_ready)
        hooks->on_ready(hooks->arg, &srv);

    uv_run(&srv.loop, UV_RUN_DEFAULT);
    log_ingest_stats(srv.ingest);
    api_free(srv.api);
    http_server_free(srv.http);
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
    api_stop(srv.api);
    http_server_stop(srv.http);
    mqtt_server_stop(srv.mqtt);
    alerts_stop(srv.alerts);
    reg_stop(srv.reg);
    ingest_stop(srv.ingest);
    webhooks_stop(srv.webhooks);
    audit_service_stop(srv.audit);
    store_writer_stop(srv.writer);
    srv.writer = NULL;
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    api_free(srv.api);
    http_server_free(srv.http);
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
