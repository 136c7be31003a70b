/*
 * The REST API under /api/v1 (docs/api.md): the authenticator every non-public route goes
 * through (session cookie or bearer token -> struct principal, permission, CSRF), logins with
 * MFA, and the resource handlers for the web UI, administrators and integrations. Handlers
 * run their store work on libuv workers through a connection pool; the loop only parses,
 * checks and answers.
 * Thread: loop.
 */
#ifndef MEDHUB_API_API_H
#define MEDHUB_API_API_H

#include "core/cfg.h"
#include "security/secret.h"

#include <stdint.h>
#include <uv.h>

struct alerts;
struct api;
struct http_server;
struct ingest;
struct registry;
struct store_writer;

/* What the API works with; every pointer is borrowed and must outlive the API. */
struct api_deps {
    uv_loop_t *loop;
    const struct cfg *cfg;
    struct http_server *http;    /* routes are registered here (before http_server_start) */
    struct store_writer *writer; /* durable ingest (POST /api/v1/ingest), audit side jobs */
    struct ingest *ingest;       /* the pipeline, for /api/v1/ingest and the live stream */
    struct alerts *alerts;       /* alert actions and the live stream; may be NULL */
    struct registry *reg;        /* device lookups; may be NULL */
    const uint8_t *server_key;   /* SEC_KEY_LEN bytes: sessions, tokens, CSRF */
};

/* Registers every /api/v1 route and the authenticator on d->http. OUT: *out returns owned.
 * Errors: route registration errors (HX_EINVAL, HX_EEXIST), detail in err. */
int api_start(struct api **out, const struct api_deps *d, char *err, size_t err_len);
/* Drain: refuses new work (503), ends live streams. Jobs in flight still complete. */
void api_stop(struct api *a);
/* Frees the API once the loop has run to completion (no job in flight). NULL is a no-op. */
void api_free(struct api *a);

#endif
