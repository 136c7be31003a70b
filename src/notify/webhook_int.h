/*
 * Private to src/notify/: the HTTP transport behind the webhook dispatcher (webhook_http.c),
 * libcurl's multi interface driven by the libuv loop. One POST per attempt, on a fresh
 * connection, bounded by a whole-attempt timeout; results come back on the loop.
 * Thread: loop.
 */
#ifndef MEDHUB_NOTIFY_WEBHOOK_INT_H
#define MEDHUB_NOTIFY_WEBHOOK_INT_H

#include "notify/webhook.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct webhook__http;

/* What became of one POST. */
struct webhook__result {
    bool ok;                              /* the receiver answered 2xx */
    bool aborted;                         /* abandoned by webhook__http_abort_all */
    long status;                          /* HTTP status, 0 when there was no response */
    char error[STORE_DELIVERY_ERROR_MAX]; /* why it failed, "" when ok (no URL, no body) */
};

/* Called once per POST on the loop; res is lent for the call. The callback may post again. */
typedef void webhook__done_fn(void *arg, const struct webhook__result *res);

/* One POST. */
struct webhook__post {
    const char *url;                       /* normalized http(s) URL; copied */
    const struct webhook_headers *headers; /* copied */
    char *body;                            /* taken (freed when done, or on error) */
    size_t len;                            /* bytes of body */
};

/* Creates the transport. timeout_ms bounds each whole attempt; ca_file ("" for none) is a PEM
 * file of CAs trusted besides the system store, read now. OUT: *out returns owned.
 * Errors (detail in err): HX_ECONFIG (ca_file unreadable or without certificates),
 * HX_EINVAL (libcurl could not start). Thread: loop or before the loop runs. */
int webhook__http_new(struct webhook__http **out, uv_loop_t *loop, uint32_t timeout_ms,
                      const char *ca_file, char *err, size_t err_len);

/* Starts p. On success done(arg, ...) runs exactly once, later, on the loop. On failure
 * (-ENOMEM, HX_EINVAL, HX_ESHUTDOWN once closed) done never runs. p->body is taken either
 * way. */
int webhook__http_post(struct webhook__http *h, const struct webhook__post *p,
                       webhook__done_fn *done, void *arg);

/* POSTs in flight. */
size_t webhook__http_in_flight(const struct webhook__http *h);

/* Abandons every POST in flight: each done runs now with aborted set and why as the error. */
void webhook__http_abort_all(struct webhook__http *h, const char *why);

/* Abandons what is in flight (as abort_all, "abandoned: shutting down") and closes every
 * handle; later posts fail with HX_ESHUTDOWN. Idempotent. */
void webhook__http_close(struct webhook__http *h);

/* Frees h after webhook__http_close once the loop has run the close callbacks. NULL is ok. */
void webhook__http_free(struct webhook__http *h);

#endif
