/*
 * The operations endpoints: /healthz (the loop answers), /readyz (the store is open and its
 * writer accepts and commits) and /metrics, the Prometheus text exposition (format 0.0.4) of
 * every subsystem's counters: HTTP, the MQTT gateway, the ingest pipeline, the store writer
 * and the alerting service. All exposition lives in this file; each subsystem only offers a
 * *_get_stats accessor. docs/http.md lists every metric.
 * /metrics is public on the plain listener bound to loopback and needs the "metrics"
 * permission anywhere else (HTTPS, or a plain listener opened with insecure = true).
 * Layer: server (top: it reads every module). Thread: loop.
 */
#include "alerts/alerts.h"
#include "core/err.h"
#include "core/mem.h"
#include "http/http.h"
#include "ingest/pipeline.h"
#include "mqtt/mqtt.h"
#include "server/server_int.h"
#include "store/writer.h"

#include <inttypes.h>
#include <string.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Histogram bucket bounds, in microseconds, for the duration histograms (in seconds). */
static const uint64_t latency_bounds_us[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
};

static void help(struct http_buf *b, const char *name, const char *type, const char *text)
{
    http_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void metric(struct http_buf *b, const char *name, const char *type, const char *text,
                   uint64_t v)
{
    help(b, name, type, text);
    http_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* A histogram from an hx_hist of microseconds, exposed in seconds. */
static void histogram(struct http_buf *b, const char *name, const char *text,
                      const struct hx_hist *h)
{
    help(b, name, "histogram", text);
    for (size_t i = 0; i < HX_ARRAY_LEN(latency_bounds_us); i++)
        http_buf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                        (double)latency_bounds_us[i] / 1e6,
                        hx_hist_count_le(h, latency_bounds_us[i]));
    http_buf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
    http_buf_printf(b, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, (double)h->sum / 1e6, name,
                    h->count);
}

/* Route names are ours (registration), but escape anyway: a label value must stay one. */
static void label_value(struct http_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            http_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            http_buf_append(b, "\\n", 2);
        else
            http_buf_append(b, s, 1);
    }
}

static void request_count(void *arg, const char *route, int status, uint64_t n)
{
    struct http_buf *b = arg;
    http_buf_append(b, "medhub_http_requests_total{route=\"", 34);
    label_value(b, route);
    if (status)
        http_buf_printf(b, "\",status=\"%d\"} %" PRIu64 "\n", status, n);
    else
        http_buf_printf(b, "\",status=\"other\"} %" PRIu64 "\n", n);
}

static void write_http(struct http_buf *b, const struct http_server *hs)
{
    struct http_stats st;
    http_server_get_stats(hs, &st);
    help(b, "medhub_http_requests_total", "counter",
         "HTTP requests answered, by route (\"none\": refused before routing, \"unmatched\": "
         "no route) and status");
    http_server_each_count(hs, request_count, b);
    histogram(b, "medhub_http_request_duration_seconds",
              "Time from a complete request to its last response byte queued",
              http_server_latency(hs));
    help(b, "medhub_http_connections_open", "gauge", "HTTP connections open now, by listener");
    http_buf_printf(b, "medhub_http_connections_open{listener=\"http\"} %u\n", st.open_plain);
    http_buf_printf(b, "medhub_http_connections_open{listener=\"https\"} %u\n", st.open_tls);
    metric(b, "medhub_http_connections_total", "counter", "HTTP connections accepted",
           st.connections);
    metric(b, "medhub_http_connections_refused_total", "counter",
           "HTTP connections refused over http.max_connections", st.conn_refused);
    metric(b, "medhub_http_parse_errors_total", "counter",
           "HTTP requests refused by the parser (the connection closes)", st.parse_errors);
    metric(b, "medhub_http_timeouts_total", "counter",
           "HTTP connections closed by the header, body or idle timeout", st.timeouts);
    metric(b, "medhub_http_streams_total", "counter", "HTTP streams (server-sent events) begun",
           st.streams);
}

static void write_mqtt(struct http_buf *b, const struct mqtt_server *m)
{
    struct mqtt_stats st;
    mqtt_server_get_stats(m, &st);
    metric(b, "medhub_mqtt_sessions", "gauge", "MQTT connections open now", st.sessions);
    metric(b, "medhub_mqtt_connections_total", "counter", "MQTT connections accepted", st.accepted);
    metric(b, "medhub_mqtt_connections_refused_total", "counter",
           "MQTT connections refused over mqtt.max_connections", st.conn_limited);
    help(b, "medhub_mqtt_connects_total", "counter", "MQTT CONNECTs, by result");
    http_buf_printf(b, "medhub_mqtt_connects_total{result=\"accepted\"} %" PRIu64 "\n",
                    st.connected);
    http_buf_printf(b, "medhub_mqtt_connects_total{result=\"refused\"} %" PRIu64 "\n", st.refused);
    metric(b, "medhub_mqtt_publishes_total", "counter", "MQTT PUBLISH packets received",
           st.publishes);
    metric(b, "medhub_mqtt_protocol_errors_total", "counter",
           "MQTT connections closed for malformed packets or protocol violations",
           st.protocol_errors);
    help(b, "medhub_mqtt_timeouts_total", "counter", "MQTT connections closed by a timeout");
    http_buf_printf(b, "medhub_mqtt_timeouts_total{kind=\"keepalive\"} %" PRIu64 "\n",
                    st.keepalive_timeouts);
    http_buf_printf(b, "medhub_mqtt_timeouts_total{kind=\"connect\"} %" PRIu64 "\n",
                    st.connect_timeouts);
    metric(b, "medhub_mqtt_takeovers_total", "counter",
           "MQTT connections closed by a newer CONNECT of the same device", st.takeovers);
    metric(b, "medhub_mqtt_commands_sent_total", "counter", "Commands sent to devices",
           st.commands_sent);
    help(b, "medhub_mqtt_wills_total", "counter", "MQTT will messages, by result");
    http_buf_printf(b, "medhub_mqtt_wills_total{result=\"published\"} %" PRIu64 "\n",
                    st.wills_published);
    http_buf_printf(b, "medhub_mqtt_wills_total{result=\"failed\"} %" PRIu64 "\n", st.wills_failed);
    metric(b, "medhub_mqtt_backpressure_total", "counter",
           "Times an MQTT session paused reading because the store queue was full",
           st.backpressure);
}

static void write_ingest(struct http_buf *b, const struct ingest *ig, const struct mqtt_server *m)
{
    struct ingest_stats st;
    ingest_get_stats(ig, &st);
    struct mqtt_stats ms = {0};
    if (m)
        mqtt_server_get_stats(m, &ms);
    metric(b, "medhub_ingest_messages_total", "counter",
           "Messages (readings) accepted into the pipeline", st.messages);
    metric(b, "medhub_ingest_observations_total", "counter", "Observations in accepted messages",
           st.observations);
    metric(b, "medhub_ingest_durable_total", "counter", "Accepted messages made durable",
           st.durable);
    metric(b, "medhub_ingest_in_flight", "gauge", "Accepted messages not yet durable or failed",
           st.in_flight);
    metric(b, "medhub_ingest_unassigned_total", "counter",
           "Observations stored for a device assigned to no patient", st.unassigned);
    help(b, "medhub_ingest_rejected_total", "counter",
         "Messages not stored, by reason (invalid_payload, acl_denied and rate_limited come "
         "from the MQTT gateway)");
    http_buf_printf(b, "medhub_ingest_rejected_total{reason=\"invalid_payload\"} %" PRIu64 "\n",
                    ms.invalid_payload);
    http_buf_printf(b, "medhub_ingest_rejected_total{reason=\"acl_denied\"} %" PRIu64 "\n",
                    ms.acl_denied);
    http_buf_printf(b, "medhub_ingest_rejected_total{reason=\"rate_limited\"} %" PRIu64 "\n",
                    ms.rate_limited);
    http_buf_printf(b, "medhub_ingest_rejected_total{reason=\"backpressure\"} %" PRIu64 "\n",
                    st.backpressure);
    http_buf_printf(b, "medhub_ingest_rejected_total{reason=\"refused\"} %" PRIu64 "\n",
                    st.rejected);
    http_buf_printf(b, "medhub_ingest_rejected_total{reason=\"store_failed\"} %" PRIu64 "\n",
                    st.failed);
    help(b, "medhub_ingest_events_total", "counter", "Device events, by result");
    http_buf_printf(b, "medhub_ingest_events_total{result=\"stored\"} %" PRIu64 "\n",
                    st.events_stored);
    http_buf_printf(b, "medhub_ingest_events_total{result=\"duplicate\"} %" PRIu64 "\n",
                    st.events_duplicate);
    http_buf_printf(b, "medhub_ingest_events_total{result=\"failed\"} %" PRIu64 "\n",
                    st.events_failed);
}

static void write_store(struct http_buf *b, struct store_writer *w)
{
    struct store_writer_stats st;
    store_writer_get_stats(w, &st);
    metric(b, "medhub_store_queue_depth", "gauge",
           "Observations waiting for the store writer (accepted, not yet durable or failed)",
           st.queued);
    help(b, "medhub_store_observations_total", "counter",
         "Observations handled by the store writer: made durable in the ingest log, or failed");
    http_buf_printf(b, "medhub_store_observations_total{result=\"durable\"} %" PRIu64 "\n",
                    st.committed);
    http_buf_printf(b, "medhub_store_observations_total{result=\"failed\"} %" PRIu64 "\n",
                    st.failed);
    metric(b, "medhub_store_applied_total", "counter",
           "Observations written from the ingest log into the database", st.applied);
    metric(b, "medhub_store_duplicates_total", "counter",
           "Observations the database skipped as already stored (redeliveries)", st.duplicates);
    metric(b, "medhub_store_commits_total", "counter",
           "Groups of observations made durable (ingest log syncs)", st.commits);
    struct hx_hist *h = hx_xmalloc(sizeof(*h)); /* 8 KiB: not on the loop's stack */
    store_writer_get_commit_hist(w, h);
    histogram(b, "medhub_store_commit_duration_seconds",
              "Time to make a group durable (ingest log append and fdatasync): what an "
              "acknowledgement waits for",
              h);
    free(h);
}

static void write_alerts(struct http_buf *b, const struct alerts *a)
{
    struct alerts_stats st;
    alerts_get_stats(a, &st);
    help(b, "medhub_alerts", "gauge", "Alerts open now, by state");
    http_buf_printf(b, "medhub_alerts{state=\"raised\"} %u\n", st.open - st.acked);
    http_buf_printf(b, "medhub_alerts{state=\"acknowledged\"} %u\n", st.acked);
    help(b, "medhub_alerts_transitions_total", "counter", "Alert transitions, by kind");
    http_buf_printf(b, "medhub_alerts_transitions_total{kind=\"raised\"} %" PRIu64 "\n", st.raised);
    http_buf_printf(b, "medhub_alerts_transitions_total{kind=\"resolved\"} %" PRIu64 "\n",
                    st.resolved);
    http_buf_printf(b, "medhub_alerts_transitions_total{kind=\"escalated\"} %" PRIu64 "\n",
                    st.escalations);
    metric(b, "medhub_alerts_readings_total", "counter", "Readings the rules engine evaluated",
           st.readings);
    metric(b, "medhub_alerts_persist_failed_total", "counter",
           "Alert transitions the store refused (retried)", st.persist_failed);
}

static void on_metrics(struct http_exchange *x, void *arg)
{
    struct server *srv = arg;
    struct http_buf b = {0};
    http_buf_printf(&b,
                    "# HELP medhub_build_info The running medhub version\n"
                    "# TYPE medhub_build_info gauge\n"
                    "medhub_build_info{version=\"%s\"} 1\n",
                    MEDHUB_VERSION);
    if (srv->http)
        write_http(&b, srv->http);
    if (srv->mqtt)
        write_mqtt(&b, srv->mqtt);
    if (srv->ingest)
        write_ingest(&b, srv->ingest, srv->mqtt);
    if (srv->writer)
        write_store(&b, srv->writer);
    if (srv->alerts)
        write_alerts(&b, srv->alerts);
    http_respond(x, 200, PROM_CONTENT_TYPE, b.ptr, b.len);
    http_buf_release(&b);
}

static void on_healthz(struct http_exchange *x, void *arg)
{
    static const char body[] = "{\"status\":\"ok\"}";
    http_respond(x, 200, "application/json", body, sizeof(body) - 1);
}

/* Ready: not draining, the writer runs and its latest group became durable (a full disk or
 * a read-only database makes it not ready until a commit succeeds again). */
static void on_readyz(struct http_exchange *x, void *arg)
{
    struct server *srv = arg;
    const char *why = NULL;
    if (srv->stopping)
        why = "the server is shutting down";
    else if (!srv->writer)
        why = "the store is not open";
    if (!why) {
        struct store_writer_stats st;
        store_writer_get_stats(srv->writer, &st);
        if (st.last_status < 0)
            why = "the store writer cannot make readings durable";
    }
    if (why) {
        http_error(x, 503, "not_ready", why);
        return;
    }
    static const char body[] = "{\"status\":\"ready\"}";
    http_respond(x, 200, "application/json", body, sizeof(body) - 1);
}

int server__ops_register(struct server *srv)
{
    struct http_router *r = http_server_router(srv->http);
    int rc = http_router_add_public(r, "GET", "/healthz", on_healthz, srv, "healthz");
    if (rc == 0)
        rc = http_router_add_public(r, "GET", "/readyz", on_readyz, srv, "readyz");
    if (rc == 0) {
        struct http_route_def d = {
            .method = "GET",
            .pattern = "/metrics",
            .fn = on_metrics,
            .arg = srv,
            .name = "metrics",
            .perm = "metrics",
            .flags = HTTP_ROUTE_LOOPBACK_PUBLIC,
        };
        rc = http_router_add_route(r, &d);
    }
    return rc;
}
