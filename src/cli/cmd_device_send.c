/*
 * medhub device send ID JSON: queues a command for a device (a row in the commands table)
 * and waits a little for the MQTT gateway to deliver it (recorded in the audit trail as
 * device.command, without the payload); medhub device commands ID lists a device's commands
 * and where each one is. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char send_help[] =
    "Usage: medhub device send ID JSON [--qos 0|1|2] [--retain] [--expires SECONDS]\n"
    "                          [--wait SECONDS] [--data-dir DIR] [--json]\n"
    "\n"
    "Sends a command to a device: the JSON document (or '-' to read it from stdin) is\n"
    "published on medhub/v1/devices/ID/commands by the running daemon. The command is stored\n"
    "first, so it is not lost if the device is offline or the daemon restarts: it is delivered\n"
    "as soon as the device is connected and subscribed to its commands topic, until it expires.\n"
    "\n"
    "Options:\n"
    "  --qos N          highest QoS to deliver it with (default 1; the device's subscription\n"
    "                   may lower it). QoS 1 and 2 count as delivered when the device acks.\n"
    "  --retain         also keep it as the device's retained command: it is sent again each\n"
    "                   time the device subscribes, until another retained command replaces it\n"
    "                   (an empty document '' clears it)\n"
    "  --expires S      give up delivering after S seconds (default 3600)\n"
    "  --wait S         wait up to S seconds for delivery before returning (default 5; 0 does\n"
    "                   not wait)\n"
    "  --data-dir DIR   data directory (default: $MEDHUB_DATA_DIR, else ./medhub-data)\n"
    "  --json           print {\"id\", \"device\", \"state\", \"qos\", \"retain\", \"expires\"}\n"
    "\n"
    "States: new (the daemon has not seen it yet), queued (waiting for the device), sent\n"
    "(published, not yet acknowledged), delivered, expired. Exit status 0 unless it expired\n"
    "or failed.\n";

static const char commands_help[] =
    "Usage: medhub device commands ID [--limit N] [--data-dir DIR] [--json]\n"
    "\n"
    "Lists the commands sent to a device, newest first (default limit 20), with their state.\n";

static const char *state_name(enum store_cmd_state s)
{
    switch (s) {
    case STORE_CMD_NEW:
        return "new";
    case STORE_CMD_QUEUED:
        return "queued";
    case STORE_CMD_SENT:
        return "sent";
    case STORE_CMD_DELIVERED:
        return "delivered";
    case STORE_CMD_EXPIRED:
        return "expired";
    }
    return "unknown";
}

/* A command read back, payload copied (it is only lent by the store). */
struct cmd_copy {
    struct dev_command c;
    char *payload; /* NUL-terminated, owned */
};

static int copy_one(void *arg, const struct dev_command *c)
{
    struct cmd_copy *out = arg;
    out->c = *c;
    out->payload = hx_xmalloc(c->payload_len + 1);
    if (c->payload_len)
        memcpy(out->payload, c->payload, c->payload_len);
    out->payload[c->payload_len] = '\0';
    out->c.payload = (const uint8_t *)out->payload;
    return 0;
}

static json_t *command_json(const struct dev_command *c, const char *uid, bool with_payload)
{
    char created[40], expires[40], updated[40];
    hx_time_format_rfc3339(c->created_us, created, sizeof(created));
    hx_time_format_rfc3339(c->expires_us, expires, sizeof(expires));
    hx_time_format_rfc3339(c->updated_us, updated, sizeof(updated));
    json_t *j = json_pack("{s:I, s:s, s:s, s:i, s:b, s:s, s:s, s:s}", "id", (json_int_t)c->id,
                          "device", uid, "state", state_name(c->state), "qos", c->qos, "retain",
                          c->retain, "created", created, "expires", expires, "updated", updated);
    if (with_payload)
        json_object_set_new(j, "payload", json_stringn((const char *)c->payload, c->payload_len));
    return j;
}

/* Reads all of stdin up to STORE_CMD_PAYLOAD_MAX bytes. Returns NULL when longer. */
static char *read_stdin(size_t *len)
{
    char *buf = hx_xmalloc(STORE_CMD_PAYLOAD_MAX + 2);
    size_t n = fread(buf, 1, STORE_CMD_PAYLOAD_MAX + 1, stdin);
    if (n > STORE_CMD_PAYLOAD_MAX) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int parse_u32(const char *cmd, const char *opt, const char *s, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > max)
        return cli_usage_error(cmd, "%s: expected a whole number from 0 to %ld", opt, max);
    *out = v;
    return 0;
}

int device_send_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"qos", required_argument, NULL, 'q'},
        {"retain", no_argument, NULL, 'r'},
        {"expires", required_argument, NULL, 'e'},
        {"wait", required_argument, NULL, 'w'},
        {0},
    };
    struct cli_opts o = {0};
    long qos = 1, expires = 3600, wait_s = 5;
    bool retain = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(send_help, stdout);
            return CLI_EXIT_OK;
        }
        if (c == 'q' && (rc = parse_u32("device send", "--qos", optarg, 2, &qos)))
            return rc;
        if (c == 'e' &&
            (rc = parse_u32("device send", "--expires", optarg, 366L * 86400, &expires)))
            return rc;
        if (c == 'w' && (rc = parse_u32("device send", "--wait", optarg, 3600, &wait_s)))
            return rc;
        if (c == 'r')
            retain = true;
        if (strchr("qewr", c) == NULL && !cli_common_option(&o, c, optarg))
            return cli_usage_error("device send", "unknown option");
    }
    if (optind != argc - 2)
        return cli_usage_error("device send", "expected a device ID and a JSON document");
    const char *id = argv[optind];
    const char *doc = argv[optind + 1];
    if (expires == 0)
        return cli_usage_error("device send", "--expires must be at least 1 second");

    size_t len = strlen(doc);
    char *owned = NULL;
    if (strcmp(doc, "-") == 0) {
        if (!(owned = read_stdin(&len)))
            return cli_fail("the command is larger than %d bytes", STORE_CMD_PAYLOAD_MAX);
        doc = owned;
    }
    if (len > STORE_CMD_PAYLOAD_MAX) {
        free(owned);
        return cli_fail("the command is larger than %d bytes", STORE_CMD_PAYLOAD_MAX);
    }
    if (len > 0 || !retain) { /* only a retained clear may be empty */
        json_error_t jerr;
        json_t *j = json_loadb(doc, len, 0, &jerr);
        if (!j) {
            free(owned);
            return cli_usage_error("device send", "the command is not valid JSON: %s (at %d)",
                                   jerr.text, jerr.position);
        }
        json_decref(j);
    }

    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, 0))) {
        free(owned);
        return rc;
    }
    struct device d;
    rc = store_device_get(ctx.st, id, &d);
    if (rc < 0) {
        cli_close(&ctx);
        free(owned);
        return rc == HX_ENOTFOUND
                   ? cli_fail("no device with ID '%s' (see 'medhub device list')", id)
                   : cli_store_fail("reading the device", rc);
    }
    struct dev_command cmd = {
        .device_id = d.id,
        .payload = (const uint8_t *)doc,
        .payload_len = len,
        .qos = (uint8_t)qos,
        .retain = retain,
        .expires_us = hx_time_now_us() + (int64_t)expires * 1000000,
    };
    rc = store_begin(ctx.st);
    if (rc == 0)
        rc = store_command_add(ctx.st, &cmd);
    if (rc == 0) {
        /* Not the payload: it may carry anything. */
        char *details = cli_details(json_pack(
            "{s:I, s:i, s:b, s:I, s:I}", "command_id", (json_int_t)cmd.id, "qos", (int)qos,
            "retain", retain, "bytes", (json_int_t)len, "expires_s", (json_int_t)expires));
        struct audit_entry e = {.action = "device.command",
                                .object_type = "device",
                                .object_id = d.uid,
                                .details = details};
        rc = cli_audit(&ctx, &e);
        free(details);
    }
    rc = cli_end(&ctx, rc);
    free(owned);
    if (rc < 0) {
        cli_close(&ctx);
        return cli_store_fail("storing the command", rc);
    }

    /* Watch it move until it is delivered or expired, or the wait is over. */
    struct cmd_copy now = {0};
    int64_t deadline = hx_time_now_us() + (int64_t)wait_s * 1000000;
    for (;;) {
        free(now.payload);
        now.payload = NULL;
        rc = store_command_get(ctx.st, cmd.id, copy_one, &now);
        if (rc < 0 || now.c.state >= STORE_CMD_DELIVERED || hx_time_now_us() >= deadline)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cli_close(&ctx);
    if (rc < 0) {
        free(now.payload);
        return cli_store_fail("reading the command back", rc);
    }
    enum store_cmd_state st = now.c.state;
    if (o.json) {
        cli_print_json(command_json(&now.c, d.uid, false));
    } else {
        char until[40];
        cli_format_time(now.c.expires_us, until, sizeof(until));
        switch (st) {
        case STORE_CMD_DELIVERED:
            printf("command %lld delivered to %s\n", (long long)cmd.id, d.uid);
            break;
        case STORE_CMD_SENT:
            printf("command %lld sent to %s, not acknowledged yet\n", (long long)cmd.id, d.uid);
            break;
        case STORE_CMD_QUEUED:
            printf("command %lld queued: %s is not connected or not subscribed; it will be "
                   "delivered when it is, until %s\n",
                   (long long)cmd.id, d.uid, until);
            break;
        case STORE_CMD_NEW:
            printf("command %lld stored; the daemon has not picked it up yet (is medhub serve "
                   "running?); it stays deliverable until %s\n",
                   (long long)cmd.id, until);
            break;
        case STORE_CMD_EXPIRED:
            printf("command %lld expired before it could be delivered to %s\n", (long long)cmd.id,
                   d.uid);
            break;
        }
    }
    free(now.payload);
    return st == STORE_CMD_EXPIRED ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

struct list_ctx {
    const char *uid;
    json_t *arr;         /* --json */
    struct table *table; /* otherwise */
};

static int list_one(void *arg, const struct dev_command *c)
{
    struct list_ctx *l = arg;
    if (l->arr) {
        json_array_append_new(l->arr, command_json(c, l->uid, true));
        return 0;
    }
    char id[24], qos[8], created[40], updated[40];
    snprintf(id, sizeof(id), "%lld", (long long)c->id);
    snprintf(qos, sizeof(qos), "%u", c->qos);
    cli_format_time(c->created_us, created, sizeof(created));
    cli_format_time(c->updated_us, updated, sizeof(updated));
    const char *cells[] = {id, state_name(c->state), qos, c->retain ? "yes" : "", created, updated};
    table_add(l->table, cells);
    return 0;
}

int device_commands_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"limit", required_argument, NULL, 'l'},
        {0},
    };
    struct cli_opts o = {0};
    long limit = 20;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(commands_help, stdout);
            return CLI_EXIT_OK;
        }
        if (c == 'l') {
            if ((rc = parse_u32("device commands", "--limit", optarg, 1000000, &limit)))
                return rc;
            continue;
        }
        if (!cli_common_option(&o, c, optarg))
            return cli_usage_error("device commands", "unknown option");
    }
    if (optind != argc - 1)
        return cli_usage_error("device commands", "expected exactly one device ID");
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &o, STORE_OPEN_READONLY)))
        return rc;
    struct device d;
    rc = store_device_get(ctx.st, argv[optind], &d);
    if (rc < 0) {
        cli_close(&ctx);
        return rc == HX_ENOTFOUND
                   ? cli_fail("no device with ID '%s' (see 'medhub device list')", argv[optind])
                   : cli_store_fail("reading the device", rc);
    }
    static const char *const headers[] = {"ID", "STATE", "QOS", "RETAIN", "CREATED", "UPDATED"};
    struct table t;
    table_init(&t, 6, headers);
    struct list_ctx l = {.uid = d.uid, .arr = o.json ? json_array() : NULL, .table = &t};
    rc = store_command_list(ctx.st, d.id, (size_t)limit, list_one, &l);
    cli_close(&ctx);
    return cli_finish_listing(rc, l.arr, &t, "listing commands", "no commands");
}
