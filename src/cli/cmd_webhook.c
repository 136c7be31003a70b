/*
 * medhub webhook add|list|remove|deliveries|retry|test: manages webhooks and their delivery
 * queue in the data directory. The running daemon (src/notify/webhook.c) sends what is
 * queued; these commands only read and write rows, so they work whether or not it runs.
 * Changes are recorded in the audit trail (webhook.create, webhook.remove, webhook.retry,
 * webhook.test) in their transaction. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "notify/webhook.h"
#include "security/secret.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char add_help[] =
    "Usage: medhub webhook add NAME URL [--min-severity LEVEL] [--data-dir DIR] [--json]\n"
    "\n"
    "Adds a webhook: the running daemon POSTs every alert notification of at least LEVEL\n"
    "to URL as JSON, signed with a new 256-bit secret that is printed ONCE: give it to the\n"
    "receiver now, which checks X-Medhub-Signature with it (docs/webhooks.md). medhub keeps\n"
    "the secret in its database, because it needs it to sign every delivery; it is never\n"
    "shown again.\n"
    "\n"
    "NAME   1-63 characters of A-Z a-z 0-9 . _ -\n"
    "URL    http:// or https:// with a DNS name, a.b.c.d or [IPv6] host, an optional port,\n"
    "       path and query; no user:password@, no #fragment (refused otherwise)\n"
    "--min-severity LEVEL  info, low, medium, high or critical (default info: everything)\n"
    "--json   print {\"name\", \"url\", \"min_severity\", \"secret\", \"created\"}\n";

static const char list_help[] = "Usage: medhub webhook list [--data-dir DIR] [--json]\n"
                                "\n"
                                "Lists the webhooks by name (never their secrets).\n";

static const char remove_help[] =
    "Usage: medhub webhook remove NAME [--data-dir DIR] [--json]\n"
    "\n"
    "Removes a webhook. Its deliveries still pending are not dropped: they move to the\n"
    "dead-letter list with the error \"webhook removed\" (and cannot be retried). Delivered and\n"
    "dead deliveries stay listed. An attempt already in flight may still reach the receiver.\n";

static const char deliveries_help[] =
    "Usage: medhub webhook deliveries [--state pending|delivered|dead] [--limit N]\n"
    "                                 [--data-dir DIR] [--json]\n"
    "\n"
    "Lists webhook deliveries, newest first (default limit 50; 0 for all): one per webhook\n"
    "and notification, with its state, the attempts made, when the next is due, when it\n"
    "expires and the last error. --state dead is the dead-letter list: deliveries given up\n"
    "after webhook.expire_s without a 2xx, or whose webhook was removed. Bodies are not\n"
    "printed (they may hold patient data).\n"
    "--json   an array of {\"id\", \"webhook\", \"event\", \"alert_id\", \"state\", \"attempts\",\n"
    "         \"next_attempt\", \"expires\", \"last_error\", \"created\", \"updated\"}\n";

static const char retry_help[] =
    "Usage: medhub webhook retry ID [--data-dir DIR] [--json]\n"
    "\n"
    "Queues a dead delivery again: the running daemon attempts it at once, and it expires\n"
    "webhook.expire_s from now. Attempt numbers keep counting, so X-Medhub-Attempt values are\n"
    "never reused. A delivery whose webhook was removed cannot be retried.\n";

static const char test_help[] =
    "Usage: medhub webhook test NAME [--wait SECONDS] [--data-dir DIR] [--json]\n"
    "\n"
    "Queues a \"webhook.test\" delivery for one webhook (whatever its --min-severity); the\n"
    "running daemon sends it within a moment, exactly like an alert notification. The body\n"
    "is {\"event\": \"webhook.test\", \"webhook\": NAME, \"time\": RFC 3339}.\n"
    "--wait S   wait up to S seconds for it to be delivered or dead (default 0: do not wait);\n"
    "           exit 1 if it is dead\n"
    "--json     print the delivery (as 'webhook deliveries --json' does)\n";

enum { OPT_MIN_SEVERITY = 2000, OPT_STATE, OPT_LIMIT, OPT_WAIT };

/* A subcommand's options and positional arguments. */
struct args {
    struct cli_opts o;        /* common options */
    const char *pos[2];       /* positional arguments */
    const char *min_severity; /* --min-severity */
    const char *state;        /* --state */
    long limit;               /* --limit, default 50 */
    long wait_s;              /* --wait, default 0 */
};

static int parse_long(const char *cmd, const char *opt, const char *s, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > max)
        return cli_usage_error(cmd, "%s: expected a whole number from 0 to %ld", opt, max);
    *out = v;
    return 0;
}

/* Parses argv for a subcommand that takes n_args positional arguments (what) and the options
 * named in extra ("min-severity", "state limit", "wait"). Returns 0, -1 when it printed the
 * help, or an exit status. */
static int parse_args(const char *cmd, const char *help, int argc, char **argv, int n_args,
                      const char *what, const char *extra, struct args *a)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"min-severity", required_argument, NULL, OPT_MIN_SEVERITY},
        {"state", required_argument, NULL, OPT_STATE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"wait", required_argument, NULL, OPT_WAIT},
        {0},
    };
    memset(a, 0, sizeof(*a));
    a->limit = 50;
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (c >= OPT_MIN_SEVERITY && c <= OPT_WAIT) {
            const char *name = opts[c - OPT_MIN_SEVERITY + 5].name;
            if (!strstr(extra, name))
                return cli_usage_error(cmd, "--%s is not an option of this command", name);
            if (c == OPT_MIN_SEVERITY)
                a->min_severity = optarg;
            else if (c == OPT_STATE)
                a->state = optarg;
            else if (c == OPT_LIMIT)
                rc = parse_long(cmd, "--limit", optarg, 1000000, &a->limit);
            else
                rc = parse_long(cmd, "--wait", optarg, 3600, &a->wait_s);
            if (rc)
                return rc;
            continue;
        }
        if (!cli_common_option(&a->o, c, optarg))
            return cli_usage_error(cmd, "unknown option");
    }
    if (argc - optind > n_args)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + n_args]);
    if (argc - optind < n_args)
        return cli_usage_error(cmd, "expected %s", what);
    for (int i = 0; i < n_args; i++)
        a->pos[i] = argv[optind + i];
    return 0;
}

/* Runs parse_args and maps its -1 (help printed) to exit 0. */
#define PARSE_OR_RETURN(...)                                                                       \
    do {                                                                                           \
        int prc_ = parse_args(__VA_ARGS__);                                                        \
        if (prc_ < 0)                                                                              \
            return CLI_EXIT_OK;                                                                    \
        if (prc_ > 0)                                                                              \
            return prc_;                                                                           \
    } while (0)

/* Appends the audit entry of a change to webhook name (details taken, may be NULL) inside the
 * open transaction. Never the secret, nor the URL's path and query (receivers often put a
 * token there): its host only. */
static int audit_webhook(struct cli_ctx *ctx, const char *action, const char *name, json_t *details)
{
    char *text = cli_details(details);
    struct audit_entry e = {
        .action = action, .object_type = "webhook", .object_id = name, .details = text};
    int rc = cli_audit(ctx, &e);
    free(text);
    return rc;
}

static const char *state_name(enum store_delivery_state s)
{
    switch (s) {
    case STORE_DELIVERY_PENDING:
        return "pending";
    case STORE_DELIVERY_DELIVERED:
        return "delivered";
    case STORE_DELIVERY_DEAD:
        return "dead";
    }
    return "unknown";
}

static void rfc3339(int64_t t_us, char *buf, size_t len)
{
    hx_time_format_rfc3339(t_us, buf, len);
}

static json_t *webhook_json(const struct store_webhook *w)
{
    char created[40];
    rfc3339(w->created_us, created, sizeof(created));
    return json_pack("{s:s, s:s, s:s, s:b, s:s}", "name", w->name, "url", w->url, "min_severity",
                     alert_severity_name(w->min_severity), "enabled", w->enabled, "created",
                     created);
}

static json_t *delivery_json(const struct store_delivery *d)
{
    char next[40], expires[40], created[40], updated[40];
    rfc3339(d->next_attempt_us, next, sizeof(next));
    rfc3339(d->expires_us, expires, sizeof(expires));
    rfc3339(d->created_us, created, sizeof(created));
    rfc3339(d->updated_us, updated, sizeof(updated));
    bool pending = d->state == STORE_DELIVERY_PENDING;
    json_t *j =
        json_pack("{s:I, s:s?, s:s, s:I, s:s, s:i, s:s?, s:s, s:s, s:s, s:s}", "id",
                  (json_int_t)d->id, "webhook", *d->webhook ? d->webhook : NULL, "event", d->event,
                  "alert_id", (json_int_t)d->alert_id, "state", state_name(d->state), "attempts",
                  (int)d->attempts, "next_attempt", pending ? next : NULL, "expires", expires,
                  "last_error", d->last_error, "created", created, "updated", updated);
    return j;
}

/* ---- add ---------------------------------------------------------------------------------- */

static int webhook_add(int argc, char **argv)
{
    struct args a;
    PARSE_OR_RETURN("webhook add", add_help, argc, argv, 2, "a NAME and a URL", "min-severity", &a);
    const char *name = a.pos[0];
    if (!webhook_name_is_valid(name))
        return cli_usage_error("webhook add",
                               "webhook name '%s': expected 1-63 characters of A-Z a-z 0-9 . _ -",
                               name);
    struct webhook_url url;
    char why[256];
    if (webhook_url_parse(a.pos[1], &url, why, sizeof(why)) < 0)
        return cli_usage_error("webhook add", "URL refused: %s", why);
    int sev = ALERT_SEV_INFO;
    if (a.min_severity && !(sev = alert_severity_parse(a.min_severity)))
        return cli_usage_error("webhook add",
                               "--min-severity '%s': expected info, low, medium, high or critical",
                               a.min_severity);

    struct store_webhook w = {.min_severity = sev, .enabled = true};
    snprintf(w.name, sizeof(w.name), "%s", name);
    snprintf(w.url, sizeof(w.url), "%s", url.normalized);
    char secret[SEC_SECRET_STR];
    int rc = sec_secret_generate(secret);
    if (rc < 0)
        return cli_fail("cannot generate a secret: %s", hx_strerror(rc));
    snprintf(w.secret, sizeof(w.secret), "%s", secret);

    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &a.o, 0))) {
        memset(secret, 0, sizeof(secret));
        memset(w.secret, 0, sizeof(w.secret));
        return rc;
    }
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_webhook_add(ctx.st, &w);
    if (rc == 0)
        rc = audit_webhook(
            &ctx, "webhook.create", w.name,
            json_pack("{s:s, s:s}", "host", url.host, "min_severity", alert_severity_name(sev)));
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    memset(w.secret, 0, sizeof(w.secret));
    if (rc < 0) {
        memset(secret, 0, sizeof(secret));
        return rc == HX_EEXIST ? cli_fail("a webhook named '%s' already exists", name)
                               : cli_store_fail("adding the webhook", rc);
    }
    if (a.o.json) {
        json_t *j = webhook_json(&w);
        json_object_set_new(j, "secret", json_string(secret));
        cli_print_json(j);
    } else {
        printf("added webhook %s: POST %s for notifications of severity %s and above\n", w.name,
               w.url, alert_severity_name(sev));
        printf("secret: %s\n", secret);
        printf("This secret is shown once. The receiver verifies X-Medhub-Signature with it\n"
               "(docs/webhooks.md); medhub keeps it in its database to sign deliveries.\n");
    }
    memset(secret, 0, sizeof(secret));
    return CLI_EXIT_OK;
}

/* ---- list --------------------------------------------------------------------------------- */

struct list_ctx {
    json_t *arr;         /* --json */
    struct table *table; /* otherwise */
};

static int list_webhook(void *arg, const struct store_webhook *w)
{
    struct list_ctx *l = arg;
    if (l->arr) {
        json_array_append_new(l->arr, webhook_json(w));
        return 0;
    }
    char created[40];
    cli_format_time(w->created_us, created, sizeof(created));
    const char *cells[] = {w->name, w->url, alert_severity_name(w->min_severity),
                           w->enabled ? "yes" : "no", created};
    table_add(l->table, cells);
    return 0;
}

static int webhook_list(int argc, char **argv)
{
    struct args a;
    PARSE_OR_RETURN("webhook list", list_help, argc, argv, 0, "", "", &a);
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    static const char *const headers[] = {"NAME", "URL", "MIN SEVERITY", "ENABLED", "CREATED"};
    struct table t;
    table_init(&t, 5, headers);
    struct list_ctx l = {.arr = a.o.json ? json_array() : NULL, .table = &t};
    rc = store_webhook_list(ctx.st, list_webhook, &l);
    cli_close(&ctx);
    return cli_finish_listing(rc, l.arr, &t, "listing webhooks", NULL);
}

/* ---- remove ------------------------------------------------------------------------------- */

static int webhook_remove(int argc, char **argv)
{
    struct args a;
    PARSE_OR_RETURN("webhook remove", remove_help, argc, argv, 1, "a webhook NAME", "", &a);
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    size_t n_dead = 0;
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_webhook_remove(ctx.st, a.pos[0], hx_time_now_us(), &n_dead);
    if (rc == 0)
        rc = audit_webhook(&ctx, "webhook.remove", a.pos[0],
                           json_pack("{s:I}", "dead", (json_int_t)n_dead));
    rc = cli_end(&ctx, rc);
    cli_close(&ctx);
    if (rc == HX_ENOTFOUND)
        return cli_fail("no webhook named '%s' (see 'medhub webhook list')", a.pos[0]);
    if (rc < 0)
        return cli_store_fail("removing the webhook", rc);
    if (a.o.json)
        cli_print_json(json_pack("{s:s, s:I}", "name", a.pos[0], "dead", (json_int_t)n_dead));
    else
        printf("removed webhook %s; %zu pending deliveries moved to the dead-letter list\n",
               a.pos[0], n_dead);
    return CLI_EXIT_OK;
}

/* ---- deliveries --------------------------------------------------------------------------- */

static int list_delivery(void *arg, const struct store_delivery *d)
{
    struct list_ctx *l = arg;
    if (l->arr) {
        json_array_append_new(l->arr, delivery_json(d));
        return 0;
    }
    char id[24], alert[24], attempts[16], next[40] = "", expires[40];
    snprintf(id, sizeof(id), "%" PRId64, d->id);
    snprintf(alert, sizeof(alert), "%" PRId64, d->alert_id);
    snprintf(attempts, sizeof(attempts), "%" PRIu32, d->attempts);
    if (d->state == STORE_DELIVERY_PENDING)
        cli_format_time(d->next_attempt_us, next, sizeof(next));
    cli_format_time(d->expires_us, expires, sizeof(expires));
    const char *cells[] = {id,
                           *d->webhook ? d->webhook : "(removed)",
                           d->event,
                           d->alert_id ? alert : "",
                           state_name(d->state),
                           attempts,
                           next,
                           expires,
                           d->last_error};
    table_add(l->table, cells);
    return 0;
}

static int webhook_deliveries(int argc, char **argv)
{
    struct args a;
    PARSE_OR_RETURN("webhook deliveries", deliveries_help, argc, argv, 0, "", "state limit", &a);
    int state = -1;
    if (a.state) {
        for (int s = STORE_DELIVERY_PENDING; s <= STORE_DELIVERY_DEAD; s++)
            if (strcmp(a.state, state_name((enum store_delivery_state)s)) == 0)
                state = s;
        if (state < 0)
            return cli_usage_error("webhook deliveries",
                                   "--state '%s': expected pending, delivered or dead", a.state);
    }
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    static const char *const headers[] = {"ID",       "WEBHOOK", "EVENT",   "ALERT",     "STATE",
                                          "ATTEMPTS", "NEXT",    "EXPIRES", "LAST ERROR"};
    struct table t;
    table_init(&t, 9, headers);
    struct list_ctx l = {.arr = a.o.json ? json_array() : NULL, .table = &t};
    rc = store_delivery_list(ctx.st, state, (size_t)a.limit, list_delivery, &l);
    cli_close(&ctx);
    return cli_finish_listing(rc, l.arr, &t, "listing deliveries", NULL);
}

/* ---- retry and test ----------------------------------------------------------------------- */

/* A delivery read back (strings copied: the store only lends them). */
struct dcopy {
    bool found;
    struct store_delivery d;
    char webhook[STORE_WEBHOOK_NAME_MAX];
    char event[STORE_DELIVERY_EVENT_MAX];
    char error[STORE_DELIVERY_ERROR_MAX];
};

static int copy_delivery(void *arg, const struct store_delivery *d)
{
    struct dcopy *c = arg;
    c->found = true;
    c->d = *d;
    snprintf(c->webhook, sizeof(c->webhook), "%s", d->webhook);
    snprintf(c->event, sizeof(c->event), "%s", d->event);
    snprintf(c->error, sizeof(c->error), "%s", d->last_error);
    c->d.webhook = c->webhook;
    c->d.event = c->event;
    c->d.last_error = c->error;
    c->d.url = c->d.secret = "";
    c->d.payload = "";
    c->d.payload_len = 0;
    return 0;
}

static int parse_id(const char *cmd, const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v <= 0)
        return cli_usage_error(cmd, "delivery ID '%s': expected a positive whole number", s);
    *out = v;
    return 0;
}

static int webhook_retry(int argc, char **argv)
{
    struct args a;
    PARSE_OR_RETURN("webhook retry", retry_help, argc, argv, 1, "a delivery ID", "", &a);
    int64_t id = 0;
    int rc;
    if ((rc = parse_id("webhook retry", a.pos[0], &id)))
        return rc;
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    struct dcopy c = {0};
    rc = store_delivery_get(ctx.st, id, copy_delivery, &c);
    if (rc == 0 && c.d.state != STORE_DELIVERY_DEAD) {
        cli_close(&ctx);
        return cli_fail("delivery %" PRId64 " is %s; only dead deliveries can be retried", id,
                        state_name(c.d.state));
    }
    if (rc == 0 && !*c.webhook) {
        cli_close(&ctx);
        return cli_fail("delivery %" PRId64 " cannot be retried: its webhook was removed", id);
    }
    int64_t now = hx_time_now_us();
    if (rc == 0 && (rc = store_begin(ctx.st)) == 0) {
        rc = store_delivery_retry(ctx.st, id, now,
                                  now + (int64_t)ctx.cfg.webhook.expire_s * HX_USEC_PER_SEC);
        if (rc == 0)
            rc = audit_webhook(&ctx, "webhook.retry", c.webhook,
                               json_pack("{s:I}", "delivery_id", (json_int_t)id));
        rc = cli_end(&ctx, rc);
    }
    if (rc == 0)
        rc = store_delivery_get(ctx.st, id, copy_delivery, &c);
    cli_close(&ctx);
    if (rc == HX_ENOTFOUND)
        return cli_fail("no dead delivery %" PRId64 " (see 'medhub webhook deliveries --state "
                        "dead')",
                        id);
    if (rc < 0)
        return cli_store_fail("retrying the delivery", rc);
    if (a.o.json)
        cli_print_json(delivery_json(&c.d));
    else
        printf("delivery %" PRId64 " to %s queued again (attempt %" PRIu32
               " next); the running daemon sends it at once\n",
               id, c.webhook, c.d.attempts + 1);
    return CLI_EXIT_OK;
}

static int webhook_test(int argc, char **argv)
{
    struct args a;
    PARSE_OR_RETURN("webhook test", test_help, argc, argv, 1, "a webhook NAME", "wait", &a);
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    struct store_webhook w;
    rc = store_webhook_get(ctx.st, a.pos[0], &w);
    memset(w.secret, 0, sizeof(w.secret));
    if (rc < 0) {
        cli_close(&ctx);
        return rc == HX_ENOTFOUND
                   ? cli_fail("no webhook named '%s' (see 'medhub webhook list')", a.pos[0])
                   : cli_store_fail("reading the webhook", rc);
    }
    int64_t now = hx_time_now_us();
    char when[40];
    rfc3339(now, when, sizeof(when));
    json_t *doc =
        json_pack("{s:s, s:s, s:s}", "event", "webhook.test", "webhook", w.name, "time", when);
    char *body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    struct store_delivery_new n = {
        .webhook_id = w.id,
        .event = "webhook.test",
        .severity = ALERT_SEV_INFO,
        .payload = body,
        .payload_len = body ? strlen(body) : 0,
        .now_us = now,
        .expires_us = now + (int64_t)ctx.cfg.webhook.expire_s * HX_USEC_PER_SEC,
    };
    int64_t id = 0;
    rc = body ? store_begin(ctx.st) : -ENOMEM;
    if (rc == 0) {
        rc = store_delivery_add(ctx.st, &n, NULL, &id);
        if (rc == 0)
            rc = audit_webhook(&ctx, "webhook.test", w.name,
                               json_pack("{s:I}", "delivery_id", (json_int_t)id));
        rc = cli_end(&ctx, rc);
    }
    free(body);
    struct dcopy c = {0};
    int64_t deadline = now + (int64_t)a.wait_s * HX_USEC_PER_SEC;
    while (rc == 0) {
        rc = store_delivery_get(ctx.st, id, copy_delivery, &c);
        if (rc < 0 || c.d.state != STORE_DELIVERY_PENDING || hx_time_now_us() >= deadline)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cli_close(&ctx);
    if (rc < 0)
        return cli_store_fail("queueing the test delivery", rc);
    if (a.o.json) {
        cli_print_json(delivery_json(&c.d));
    } else if (c.d.state == STORE_DELIVERY_DELIVERED) {
        printf("test delivery %" PRId64 " delivered to %s (attempt %" PRIu32 ")\n", id, w.name,
               c.d.attempts);
    } else if (c.d.state == STORE_DELIVERY_DEAD) {
        printf("test delivery %" PRId64 " to %s is dead: %s\n", id, w.name, c.error);
    } else if (a.wait_s) {
        printf("test delivery %" PRId64 " to %s still pending after %ld s (attempts %" PRIu32
               "%s%s); is medhub serve running?\n",
               id, w.name, a.wait_s, c.d.attempts, *c.error ? ", last error: " : "", c.error);
    } else {
        printf("test delivery %" PRId64 " queued for %s; the running daemon sends it within a "
               "moment ('medhub webhook deliveries' shows it)\n",
               id, w.name);
    }
    return c.d.state == STORE_DELIVERY_DEAD ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_webhook(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"add", "add a webhook (prints its signing secret once)", webhook_add},
        {"list", "list webhooks", webhook_list},
        {"remove", "remove a webhook (its pending deliveries become dead)", webhook_remove},
        {"deliveries", "list deliveries; --state dead is the dead-letter list", webhook_deliveries},
        {"retry", "queue a dead delivery again", webhook_retry},
        {"test", "queue a test delivery for a webhook", webhook_test},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("webhook", "Usage: medhub webhook COMMAND [OPTIONS]", subs, argc, argv);
}
