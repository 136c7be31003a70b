/*
 * `medhub bench --mqtt HOST:PORT ...`: the MQTT load generator, and `medhub bench --provision N`
 * which enrols the devices it uses. The generator runs one libuv loop with N TCP connections,
 * CONNECTs each as a device (v5, or 3.1.1), publishes small SenML telemetry at a total rate
 * (token bucket per 1 ms tick) or as fast as PUBACKs come back (per-connection window), and
 * records the publish -> PUBACK latency of every message. Packets are patched into reusable
 * per-connection buffers from a template built once: nothing is allocated per message.
 * It speaks plain MQTT, so it also drives other brokers (mosquitto) as a reference.
 * Layer: bench (client codec + store API for provisioning). Thread: main (its own loop).
 */
#include "bench/bench.h"
#include "bench/mqtt_client.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/log.h"
#include "core/mem.h"
#include "mqtt/codec.h"
#include "security/secret.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;

#define LG_RING          128   /* send-time slots per connection (> the largest window) */
#define LG_TPL_MAX       320   /* one PUBLISH template: fixed header + topic + payload */
#define LG_IN_MAX        1024  /* per-connection input buffer (acks are 4..~100 bytes) */
#define LG_CTL_MAX       512   /* CONNECT / PINGREQ / DISCONNECT bytes */
#define LG_QOS0_BATCH    32    /* QoS 0: messages per write at most */
#define LG_CONNECTING    256   /* connections in the CONNECT phase at once */
#define LG_SECRET_MAX    128   /* longest secret (password) read from the creds file */
#define LG_KEEP_ALIVE    60    /* seconds, sent in CONNECT; PINGREQ after 30 s of silence */
#define LG_DRAIN_MS      10000 /* wait this long for outstanding PUBACKs after the run */
#define LG_CONNECT_MS    60000 /* give up on connections not up after this long */
#define LG_DEFAULT_CREDS "bench-devices.csv"

/* One device credential from the creds file. */
struct lg_cred {
    char id[DEV_ID_MAX];        /* device id = client id = username */
    char secret[LG_SECRET_MAX]; /* password */
};

enum lg_conn_state {
    LG_C_NONE = 0,      /* not started, no handle */
    LG_C_CONNECTING,    /* TCP connect in progress */
    LG_C_AWAIT_CONNACK, /* CONNECT sent */
    LG_C_READY,         /* CONNACK 0 received */
    LG_C_CLOSING,       /* uv_close called */
    LG_C_CLOSED,        /* close callback ran */
};

struct lg;

/* One device connection. Lives in lg->conns[] for the whole run. */
struct lg_conn {
    uv_tcp_t tcp;               /* the socket */
    uv_connect_t connect_req;   /* TCP connect */
    uv_write_t data_req;        /* the one data write in flight */
    uv_write_t ctl_req;         /* CONNECT, PINGREQ or DISCONNECT in flight */
    struct lg *lg;              /* owner */
    const struct lg_cred *cred; /* borrows lg->creds */
    enum lg_conn_state state;   /* lifecycle */
    bool writing;               /* data_req in flight */
    bool ctl_busy;              /* ctl_req in flight */
    bool counted_up;            /* counted in lg->connected */
    uint8_t *out[2];            /* double buffer: one filling, one being written */
    size_t out_len[2];          /* bytes in each buffer */
    size_t out_cap;             /* capacity of each buffer */
    int fill;                   /* index of the buffer being filled */
    uint32_t n_fill;            /* messages in the filling buffer */
    uint32_t n_write;           /* messages in the buffer being written */
    uint32_t window;            /* QoS 1: most unacknowledged messages */
    uint32_t inflight;          /* QoS 1: sent, not yet acknowledged */
    uint16_t next_pid;          /* next packet identifier, 1..65535 */
    uint64_t counter;           /* messages produced; also the reading time offset in ms */
    uint64_t last_tx_ms;        /* uv_now of the last write, for keep alive */
    uint64_t t_send[LG_RING];   /* uv_hrtime of each in-flight message, by pid % LG_RING */
    uint8_t tpl[LG_TPL_MAX];    /* the PUBLISH packet template */
    uint8_t in[LG_IN_MAX];      /* received bytes not yet framed */
    size_t in_len;              /* bytes in in[] */
    uint8_t ctl[LG_CTL_MAX];    /* control packet bytes (live until ctl_req completes) */
};

struct lg_opts {
    const char *target;   /* --mqtt HOST:PORT */
    uint32_t devices;     /* --devices, 0 = every line of the creds file */
    uint32_t rate;        /* --rate msgs/s in total, 0 = as fast as acknowledged */
    uint8_t qos;          /* --qos 0|1 */
    uint32_t duration;    /* --duration seconds */
    const char *creds;    /* --creds FILE */
    bool cbor;            /* --payload senml-cbor */
    bool v311;            /* --v311 */
    const char *out;      /* --out FILE.json */
    bool idle;            /* --idle: connect, publish nothing, hold for --duration */
    uint32_t window;      /* --window: QoS 1 in-flight messages per connection */
    uint32_t provision;   /* --provision N */
    bool patients;        /* --patients */
    const char *data_dir; /* --data-dir */
    bool progress;        /* --progress: one line per second on stderr */
};

/* Each device desaturates (SpO2 90 %, two readings) once every this many messages. */
#define LG_DESAT_EVERY 200

/* Layout of the template, shared by all connections (lengths are fixed-width). */
struct lg_layout {
    size_t pkt_len;     /* bytes of one PUBLISH */
    size_t off_pid;     /* packet identifier (QoS 1) */
    size_t off_time;    /* JSON: 10+1+3 digits of bt; CBOR: 8-byte double */
    size_t off_hr;      /* JSON: 2 digits; CBOR: one byte */
    size_t off_spo2;    /* JSON: the last digit of 0.9D; CBOR: 8-byte double */
    size_t payload_len; /* bytes of the SenML payload */
};

struct lg {
    struct lg_opts o;             /* parameters */
    uv_loop_t loop;               /* the one loop */
    struct sockaddr_storage addr; /* the target */
    uint8_t version;              /* MQTT_V5 or MQTT_V311 */
    struct lg_cred *creds;        /* n_creds entries from the creds file */
    size_t n_creds;               /* entries in creds */
    struct lg_conn *conns;        /* o.devices connections */
    uint32_t n_conns;             /* o.devices */
    uint32_t next_connect;        /* next connection to start */
    uint32_t connecting;          /* in the TCP/CONNECT phase now */
    uint32_t connected;           /* CONNACK 0 received */
    uint32_t connect_failed;      /* refused or failed before CONNACK */
    uint8_t first_connack;        /* the first refusing CONNACK reason */
    uint32_t dropped;             /* connections lost after CONNACK */
    uint32_t server_disconnects;  /* DISCONNECT packets received */
    uint8_t last_disconnect;      /* reason of the last one */
    uint32_t n_closed;            /* connections whose close callback ran */
    uint32_t n_started;           /* connections with a handle */
    uv_timer_t tick;              /* --rate: token bucket every 1 ms */
    uv_timer_t deadline;          /* end of the publishing phase */
    uv_timer_t drain;             /* end of the PUBACK wait */
    uv_timer_t keepalive;         /* PINGREQ on silent connections; progress lines */
    uv_timer_t connect_timeout;   /* end of the connect phase */
    uv_timer_t hard_stop;         /* closes what DISCONNECT did not close within 2 s */
    bool producing;               /* in the publishing phase */
    bool draining;                /* waiting for outstanding acks and writes */
    bool finished;                /* closing everything */
    struct lg_layout lay;         /* template layout */
    int64_t base_ms;              /* wall time (ms) of the first reading */
    uint32_t cursor;              /* --rate: next connection to offer a token */
    double tokens;                /* --rate: messages that may be sent now */
    uint64_t last_tick_ns;        /* --rate: uv_hrtime of the previous tick */
    uint64_t produced;            /* messages put into buffers */
    uint64_t sent;                /* messages whose write completed */
    uint64_t acked;               /* PUBACK reason < 0x80 */
    uint64_t refused;             /* PUBACK reason >= 0x80 */
    uint8_t first_refusal;        /* the first refusing PUBACK reason */
    uint64_t lost;                /* in flight on a connection that closed */
    uint64_t outstanding;         /* QoS 1 messages in flight on all connections */
    uint32_t writes_in_flight;    /* data writes not yet called back */
    uint64_t t_connect0_ns;       /* first connect started */
    uint64_t t_start_ns;          /* publishing started (all connected) */
    uint64_t t_stop_ns;           /* publishing stopped */
    uint64_t t_last_ns;           /* last PUBACK (QoS 1) or write completion (QoS 0) */
    uint64_t last_progress;       /* acked + sent at the previous progress line */
    uint32_t *lat_us;             /* one publish -> PUBACK latency per ack, microseconds */
    size_t n_lat;                 /* entries in lat_us */
    size_t lat_cap;               /* capacity of lat_us */
};

static void conn_close(struct lg_conn *c);
static void lg_finish(struct lg *lg);
static void maybe_end_drain(struct lg *lg);

/* ---- options ------------------------------------------------------------------------------ */

static const char usage_text[] =
    "Usage: medhub bench --mqtt HOST:PORT [--devices N] [--rate R] [--qos 0|1] [--duration S]\n"
    "                    [--creds FILE] [--payload senml|senml-cbor] [--v311] [--window W]\n"
    "                    [--idle] [--out FILE.json] [--progress]\n"
    "       medhub bench --provision N [--creds FILE] [--patients] [--data-dir DIR]\n"
    "\n"
    "--mqtt: MQTT load generator. Connects N devices (client id = username = device id,\n"
    "password = secret, from the first N lines 'id,secret' of FILE, default\n"
    "./" LG_DEFAULT_CREDS "), then publishes SenML telemetry (heart_rate + spo2, ~90 bytes,\n"
    "a distinct time per message) to medhub/v1/devices/{id}/telemetry for S seconds at R\n"
    "messages/s in total, spread over the devices (R = 0: as fast as acknowledged, at most W\n"
    "unacknowledged per connection for QoS 1; QoS 0: as fast as the socket takes them). Then\n"
    "waits up to 10 s for outstanding PUBACKs and reports sent, acked, refused (reason >=\n"
    "0x80), messages/s, publish -> PUBACK latency percentiles and its own CPU time.\n"
    "--idle connects and holds the connections for S seconds without publishing.\n"
    "Defaults: every device in FILE, rate 0, QoS 1, 10 s, MQTT 5, senml (JSON), window 32.\n"
    "Works against any MQTT broker (e.g. mosquitto with allow_anonymous true).\n"
    "\n"
    "--provision: enrols N devices bench-00001.. (kind monitor) in the data directory\n"
    "(--patients: plus one patient BENCH-00001.. per device, assigned from a day ago, so\n"
    "readings are attributed) and writes 'id,secret' lines to FILE (mode 0600).\n";

static int parse_u32(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < min || v > max) {
        fprintf(stderr, "medhub bench: --%s '%s': expected an integer in %u..%u\n", name, s, min,
                max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Returns 0, 1 after --help, or 2 on a usage error. */
static int parse_args(struct lg_opts *o, int argc, char **argv)
{
    enum {
        O_MQTT = 1,
        O_DEV,
        O_RATE,
        O_QOS,
        O_DUR,
        O_CREDS,
        O_PAYLOAD,
        O_V311,
        O_OUT,
        O_IDLE,
        O_WINDOW,
        O_PROV,
        O_PAT,
        O_DIR,
        O_PROGRESS,
        O_HELP
    };
    static const struct option longopts[] = {
        {"mqtt", required_argument, NULL, O_MQTT},
        {"devices", required_argument, NULL, O_DEV},
        {"rate", required_argument, NULL, O_RATE},
        {"qos", required_argument, NULL, O_QOS},
        {"duration", required_argument, NULL, O_DUR},
        {"creds", required_argument, NULL, O_CREDS},
        {"payload", required_argument, NULL, O_PAYLOAD},
        {"v311", no_argument, NULL, O_V311},
        {"out", required_argument, NULL, O_OUT},
        {"idle", no_argument, NULL, O_IDLE},
        {"window", required_argument, NULL, O_WINDOW},
        {"provision", required_argument, NULL, O_PROV},
        {"patients", no_argument, NULL, O_PAT},
        {"data-dir", required_argument, NULL, O_DIR},
        {"progress", no_argument, NULL, O_PROGRESS},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    *o = (struct lg_opts){.qos = 1, .duration = 10, .creds = LG_DEFAULT_CREDS, .window = 32};
    optind = 1;
    int c;
    uint32_t v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_MQTT:
            o->target = optarg;
            break;
        case O_DEV:
            if (parse_u32("devices", optarg, 1, 1000000, &o->devices) < 0)
                return 2;
            break;
        case O_RATE:
            if (parse_u32("rate", optarg, 0, 100000000, &o->rate) < 0)
                return 2;
            break;
        case O_QOS:
            if (parse_u32("qos", optarg, 0, 1, &v) < 0)
                return 2;
            o->qos = (uint8_t)v;
            break;
        case O_DUR:
            if (parse_u32("duration", optarg, 1, 86400, &o->duration) < 0)
                return 2;
            break;
        case O_CREDS:
            o->creds = optarg;
            break;
        case O_PAYLOAD:
            if (strcmp(optarg, "senml") == 0) {
                o->cbor = false;
            } else if (strcmp(optarg, "senml-cbor") == 0) {
                o->cbor = true;
            } else {
                fprintf(stderr, "medhub bench: --payload '%s': expected senml or senml-cbor\n",
                        optarg);
                return 2;
            }
            break;
        case O_V311:
            o->v311 = true;
            break;
        case O_OUT:
            o->out = optarg;
            break;
        case O_IDLE:
            o->idle = true;
            break;
        case O_WINDOW:
            if (parse_u32("window", optarg, 1, LG_RING / 2, &o->window) < 0)
                return 2;
            break;
        case O_PROV:
            if (parse_u32("provision", optarg, 1, 1000000, &o->provision) < 0)
                return 2;
            break;
        case O_PAT:
            o->patients = true;
            break;
        case O_DIR:
            o->data_dir = optarg;
            break;
        case O_PROGRESS:
            o->progress = true;
            break;
        case O_HELP:
            fputs(usage_text, stdout);
            return 1;
        default:
            fprintf(stderr, "Run 'medhub bench --help' for usage.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "medhub bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o->target == !o->provision) {
        fprintf(stderr, "medhub bench: give exactly one of --mqtt HOST:PORT and --provision N\n");
        return 2;
    }
    if (o->cbor && o->v311)
        fprintf(stderr, "medhub bench: note: 3.1.1 has no content type; the server must "
                        "recognise CBOR by its first byte\n");
    return 0;
}

/* ---- provisioning ------------------------------------------------------------------------- */

static int provision(const struct lg_opts *o)
{
    struct cfg *cfg = hx_xcalloc(1, sizeof(*cfg));
    struct cfg_sources src = {.data_dir = o->data_dir, .env = environ};
    char err[512];
    int exit_code = 1;
    if (cfg_load(cfg, &src, err, sizeof(err)) < 0) {
        fprintf(stderr, "medhub: error: %s\n", err);
        goto out_free_cfg;
    }
    log_set_level(LOG_ERROR);
    uint8_t key[SEC_KEY_LEN];
    if (sec_server_key_load(cfg->data_dir, false, key, err, sizeof(err)) < 0) {
        fprintf(stderr, "medhub: error: %s (run 'medhub init' first)\n", err);
        goto out_free_cfg;
    }
    /* Thousands of one-row transactions: without an fsync each, provisioning 10,000 devices
     * takes a second instead of a minute. The WAL is checkpointed when the store closes. */
    cfg->storage.sync = CFG_SYNC_NORMAL;
    struct store *st;
    err[0] = '\0';
    int rc = store_open(&st, &cfg->storage, 0, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "medhub: error: %s\n", *err ? err : hx_strerror(rc));
        goto out_wipe_key;
    }
    int fd = open(o->creds, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0) {
        fprintf(stderr, "medhub: error: cannot write '%s': %s\n", o->creds, hx_strerror(-errno));
        if (fd >= 0)
            close(fd);
        goto out_close_store;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        goto out_close_store;
    }
    int64_t since = hx_time_now_us() - 86400 * HX_USEC_PER_SEC;
    for (uint32_t i = 1; i <= o->provision; i++) {
        struct device d = {.status = DEV_STATUS_ACTIVE, .battery_pct = -1};
        snprintf(d.uid, sizeof(d.uid), "bench-%05u", i);
        snprintf(d.kind, sizeof(d.kind), "monitor");
        char secret[SEC_SECRET_STR];
        rc = sec_secret_generate(secret);
        if (rc < 0) {
            fprintf(stderr, "medhub: error: cannot generate a secret: %s\n", hx_strerror(rc));
            goto out_fclose;
        }
        sec_secret_hash(key, secret, strlen(secret), d.secret_hash);
        rc = store_device_add(st, &d);
        if (rc == HX_EEXIST) {
            fprintf(stderr,
                    "medhub: error: device '%s' already exists (provision into a fresh "
                    "data directory)\n",
                    d.uid);
            goto out_fclose;
        }
        if (rc == 0 && o->patients) {
            struct patient p = {0};
            snprintf(p.mrn, sizeof(p.mrn), "BENCH-%05u", i);
            snprintf(p.name, sizeof(p.name), "Bench Patient %u", i);
            snprintf(p.ward, sizeof(p.ward), "bench");
            rc = store_patient_add(st, &p);
            if (rc == 0)
                rc = store_device_assign(st, d.id, p.id, since);
        }
        if (rc < 0) {
            fprintf(stderr, "medhub: error: enrolling '%s' failed: %s\n", d.uid, hx_strerror(rc));
            goto out_fclose;
        }
        fprintf(f, "%s,%s\n", d.uid, secret);
        memset(secret, 0, sizeof(secret));
    }
    if (fflush(f) != 0) {
        fprintf(stderr, "medhub: error: writing '%s' failed\n", o->creds);
        goto out_fclose;
    }
    printf("provisioned %u devices bench-00001..bench-%05u%s; credentials in %s\n", o->provision,
           o->provision, o->patients ? " with one patient each" : "", o->creds);
    exit_code = 0;
out_fclose:
    fclose(f);
out_close_store:
    store_close(st);
out_wipe_key:
    memset(key, 0, sizeof(key));
out_free_cfg:
    free(cfg);
    return exit_code;
}

/* ---- credentials and target --------------------------------------------------------------- */

/* Reads up to max 'id,secret' lines (max 0 = all). Returns 0 or 1 with a message. */
static int load_creds(struct lg *lg, const char *path, uint32_t max)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "medhub bench: cannot read '%s': %s (create it with --provision)\n", path,
                hx_strerror(-errno));
        return 1;
    }
    size_t cap = max ? max : 1024;
    lg->creds = hx_alloc_array(cap, sizeof(*lg->creds));
    char line[512];
    unsigned lineno = 0;
    while ((max == 0 || lg->n_creds < max) && fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line || *line == '#')
            continue;
        char *comma = strchr(line, ',');
        size_t id_len = comma ? (size_t)(comma - line) : 0;
        if (!comma || !id_len || id_len >= DEV_ID_MAX || strlen(comma + 1) >= LG_SECRET_MAX) {
            fprintf(stderr, "medhub bench: %s:%u: expected 'id,secret'\n", path, lineno);
            fclose(f);
            return 1;
        }
        if (lg->n_creds == cap) {
            cap *= 2;
            lg->creds = hx_xrealloc(lg->creds, cap * sizeof(*lg->creds));
        }
        struct lg_cred *c = &lg->creds[lg->n_creds++];
        memcpy(c->id, line, id_len);
        c->id[id_len] = '\0';
        snprintf(c->secret, sizeof(c->secret), "%s", comma + 1);
    }
    fclose(f);
    if (!lg->n_creds || (max && lg->n_creds < max)) {
        fprintf(stderr, "medhub bench: '%s' has %zu devices, %u needed\n", path, lg->n_creds,
                max ? max : 1);
        return 1;
    }
    return 0;
}

/* Resolves HOST:PORT (or [V6]:PORT) before the loop starts. Returns 0 or 1 with a message. */
static int resolve_target(struct lg *lg, const char *target)
{
    char host[256];
    const char *colon = strrchr(target, ':');
    size_t hlen = colon ? (size_t)(colon - target) : 0;
    if (!colon || !hlen || hlen >= sizeof(host) || !colon[1]) {
        fprintf(stderr, "medhub bench: --mqtt '%s': expected HOST:PORT\n", target);
        return 1;
    }
    memcpy(host, target, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "medhub bench: --mqtt '%s': %s\n", target, gai_strerror(rc));
        return 1;
    }
    memcpy(&lg->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* ---- the PUBLISH template ----------------------------------------------------------------- */

/* Writes v as exactly n decimal digits (zero-padded, high digits dropped). */
static void put_digits(uint8_t *p, uint64_t v, size_t n)
{
    while (n--) {
        p[n] = (uint8_t)('0' + v % 10);
        v /= 10;
    }
}

static void put_double_be(uint8_t *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)u;
        u >>= 8;
    }
}

/* Appends bytes to a payload under construction. */
static void app(uint8_t *p, size_t *len, const void *src, size_t n)
{
    memcpy(p + *len, src, n);
    *len += n;
}

/*
 * Builds the payload of one message and the offsets of its variable fields (relative to the
 * payload). JSON is fixed-width: bt has 10 + 1 + 3 digits, hr 2 digits, spo2 is 0.9D.
 */
static size_t build_payload(bool cbor, uint8_t *p, size_t *off_time, size_t *off_hr,
                            size_t *off_spo2)
{
    size_t n = 0;
    if (!cbor) {
        static const char a[] = "[{\"bt\":", b[] = ",\"n\":\"heart_rate\",\"u\":\"1/min\",\"v\":",
                          c[] = "},{\"n\":\"spo2\",\"u\":\"/\",\"v\":0.9", d[] = "}]";
        app(p, &n, a, sizeof(a) - 1);
        *off_time = n;
        app(p, &n, "1700000000.000", 14);
        app(p, &n, b, sizeof(b) - 1);
        *off_hr = n;
        app(p, &n, "60", 2);
        app(p, &n, c, sizeof(c) - 1);
        *off_spo2 = n;
        app(p, &n, "7", 1);
        app(p, &n, d, sizeof(d) - 1);
        return n;
    }
    /* RFC 8428 §6 labels: -3 bt, 0 n, 1 u, 2 v. */
    static const uint8_t rec1[] = {0x82, 0xA4, 0x22, 0xFB};
    static const uint8_t rec1b[] = {0x00, 0x6A, 'h',  'e', 'a', 'r', 't', '_', 'r',  'a', 't',
                                    'e',  0x01, 0x65, '1', '/', 'm', 'i', 'n', 0x02, 0x18};
    static const uint8_t rec2[] = {0xA3, 0x00, 0x64, 's', 'p',  'o',
                                   '2',  0x01, 0x61, '/', 0x02, 0xFB};
    uint8_t zero[8] = {0};
    app(p, &n, rec1, sizeof(rec1));
    *off_time = n;
    app(p, &n, zero, 8);
    app(p, &n, rec1b, sizeof(rec1b));
    *off_hr = n;
    app(p, &n, zero, 1);
    app(p, &n, rec2, sizeof(rec2));
    *off_spo2 = n;
    app(p, &n, zero, 8);
    return n;
}

/* Encodes c's PUBLISH template into c->tpl. Returns 0 or an error (id too long). */
static int build_template(struct lg *lg, struct lg_conn *c)
{
    char topic[128];
    int tn = snprintf(topic, sizeof(topic), "medhub/v1/devices/%s/telemetry", c->cred->id);
    uint8_t payload[160];
    size_t off_time, off_hr, off_spo2;
    size_t plen = build_payload(lg->o.cbor, payload, &off_time, &off_hr, &off_spo2);
    struct mqtt_publish pub = {
        .qos = lg->o.qos,
        .topic = slice_make(topic, (size_t)tn),
        .packet_id = lg->o.qos ? 1 : 0,
        .payload = slice_make(payload, plen),
    };
    if (lg->o.cbor && lg->version == MQTT_V5) {
        pub.props.present = MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE);
        pub.props.content_type = slice_cstr("application/senml+cbor");
    }
    size_t len;
    int rc = mqtt_publish_encode(&pub, lg->version, c->tpl, sizeof(c->tpl), &len);
    if (rc < 0)
        return rc;
    size_t hdr = len - plen;
    /* Fixed header, then the topic (2 + len), then the packet id. */
    size_t rl = len - 1 - mqtt_varint_size((uint32_t)(len - 1));
    size_t fixed = len - rl;
    lg->lay = (struct lg_layout){
        .pkt_len = len,
        .off_pid = fixed + 2 + (size_t)tn,
        .off_time = hdr + off_time,
        .off_hr = hdr + off_hr,
        .off_spo2 = hdr + off_spo2,
        .payload_len = plen,
    };
    return 0;
}

/* ---- sending ------------------------------------------------------------------------------ */

static bool can_send(const struct lg *lg, const struct lg_conn *c)
{
    if (c->state != LG_C_READY || !lg->producing)
        return false;
    if (c->out_len[c->fill] + lg->lay.pkt_len > c->out_cap)
        return false;
    return lg->o.qos ? c->inflight < c->window : c->n_fill < LG_QOS0_BATCH;
}

/* Appends one message to c's filling buffer, patching its variable fields. */
static void add_message(struct lg *lg, struct lg_conn *c, uint64_t now_ns)
{
    uint8_t *p = c->out[c->fill] + c->out_len[c->fill];
    const struct lg_layout *l = &lg->lay;
    memcpy(p, c->tpl, l->pkt_len);
    uint64_t n = c->counter++;
    uint64_t t_ms = (uint64_t)lg->base_ms + n;
    /* SpO2 94-99 %, except two readings of 90 % every LG_DESAT_EVERY messages: an episode
     * the rules raise and then resolve, so that alert latency is measured on a plausible
     * ward, not an alert storm. */
    uint64_t phase = n + (uint64_t)(c - lg->conns) * 7919; /* devices out of step */
    unsigned spo2 = phase % LG_DESAT_EVERY < 2 ? 0 : 4 + (unsigned)(n % 6);
    if (lg->o.cbor) {
        put_double_be(p + l->off_time, (double)t_ms / 1e3);
        p[l->off_hr] = (uint8_t)(60 + n % 40);
        put_double_be(p + l->off_spo2, 0.9 + (double)spo2 / 100.0);
    } else {
        put_digits(p + l->off_time, t_ms / 1000, 10);
        put_digits(p + l->off_time + 11, t_ms % 1000, 3);
        put_digits(p + l->off_hr, 60 + n % 40, 2);
        put_digits(p + l->off_spo2, spo2, 1);
    }
    if (lg->o.qos) {
        uint16_t pid = c->next_pid;
        c->next_pid = pid == 65535 ? 1 : (uint16_t)(pid + 1);
        p[l->off_pid] = (uint8_t)(pid >> 8);
        p[l->off_pid + 1] = (uint8_t)pid;
        c->t_send[pid % LG_RING] = now_ns;
        c->inflight++;
        lg->outstanding++;
    }
    c->out_len[c->fill] += l->pkt_len;
    c->n_fill++;
    lg->produced++;
}

static void on_data_written(uv_write_t *req, int status);

/* Starts writing the filling buffer when no write is in flight. */
static void flush(struct lg_conn *c)
{
    if (c->writing || !c->out_len[c->fill] || c->state != LG_C_READY)
        return;
    uv_buf_t b = uv_buf_init((char *)c->out[c->fill], (unsigned)c->out_len[c->fill]);
    int rc = uv_write(&c->data_req, (uv_stream_t *)&c->tcp, &b, 1, on_data_written);
    if (rc < 0) {
        fprintf(stderr, "medhub bench: %s: write failed: %s\n", c->cred->id, uv_strerror(rc));
        c->lg->dropped++;
        conn_close(c);
        return;
    }
    c->writing = true;
    c->lg->writes_in_flight++;
    c->n_write = c->n_fill;
    c->fill ^= 1;
    c->out_len[c->fill] = 0;
    c->n_fill = 0;
    c->last_tx_ms = uv_now(&c->lg->loop);
}

/* Fills c as far as its window (or QoS 0 batch) allows and writes. */
static void top_up(struct lg *lg, struct lg_conn *c)
{
    if (!can_send(lg, c))
        return;
    uint64_t now = uv_hrtime();
    while (can_send(lg, c))
        add_message(lg, c, now);
    flush(c);
}

static void on_data_written(uv_write_t *req, int status)
{
    struct lg_conn *c = req->data;
    struct lg *lg = c->lg;
    c->writing = false;
    lg->writes_in_flight--;
    if (status < 0) {
        if (c->state == LG_C_READY) {
            fprintf(stderr, "medhub bench: %s: write failed: %s\n", c->cred->id,
                    uv_strerror(status));
            lg->dropped++;
            conn_close(c);
        }
        maybe_end_drain(lg);
        return;
    }
    lg->sent += c->n_write;
    c->n_write = 0;
    if (!lg->o.qos)
        lg->t_last_ns = uv_hrtime();
    if (lg->producing && !lg->o.rate && !lg->o.qos)
        top_up(lg, c);
    else
        flush(c);
    maybe_end_drain(lg);
}

/* --rate: one token bucket for the whole generator, refilled every tick and spent round-robin
 * over the connections (one message per connection per pass). */
static void on_tick(uv_timer_t *h)
{
    struct lg *lg = h->data;
    uint64_t now = uv_hrtime();
    double burst = lg->o.rate / 50.0 > 1.0 ? lg->o.rate / 50.0 : 1.0; /* at most 20 ms worth */
    lg->tokens += (double)(now - lg->last_tick_ns) * lg->o.rate / 1e9;
    if (lg->tokens > burst)
        lg->tokens = burst;
    lg->last_tick_ns = now;
    uint32_t idle_run = 0;
    while (lg->tokens >= 1.0 && idle_run < lg->n_conns) {
        struct lg_conn *c = &lg->conns[lg->cursor];
        lg->cursor = lg->cursor + 1 == lg->n_conns ? 0 : lg->cursor + 1;
        if (!can_send(lg, c)) {
            idle_run++;
            continue;
        }
        idle_run = 0;
        add_message(lg, c, now);
        lg->tokens -= 1.0;
        flush(c);
    }
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void record_latency(struct lg *lg, uint64_t ns)
{
    if (lg->n_lat == lg->lat_cap) {
        lg->lat_cap = lg->lat_cap ? lg->lat_cap * 2 : 1u << 20;
        lg->lat_us = hx_xrealloc(lg->lat_us, lg->lat_cap * sizeof(*lg->lat_us));
    }
    uint64_t us = ns / 1000;
    lg->lat_us[lg->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void on_all_connected(struct lg *lg);
static void start_connects(struct lg *lg);

/* After a connection left the connect phase: start the next ones; once none is left, start
 * publishing. */
static void connect_progress(struct lg *lg)
{
    start_connects(lg);
    if (lg->connecting == 0 && lg->next_connect == lg->n_conns && !lg->t_start_ns)
        on_all_connected(lg);
}

static void on_connack(struct lg_conn *c, const struct mqtt_frame *f)
{
    struct lg *lg = c->lg;
    struct bench_mqtt_connack ca;
    if (c->state != LG_C_AWAIT_CONNACK || bench_mqtt_connack_decode(f, lg->version, &ca) < 0) {
        fprintf(stderr, "medhub bench: %s: unexpected or malformed CONNACK\n", c->cred->id);
        lg->connect_failed++;
        lg->connecting--;
        conn_close(c);
        connect_progress(lg);
        return;
    }
    lg->connecting--;
    if (ca.reason != 0) {
        if (!lg->first_connack)
            lg->first_connack = ca.reason;
        lg->connect_failed++;
        conn_close(c);
        connect_progress(lg);
        return;
    }
    c->state = LG_C_READY;
    c->counted_up = true;
    lg->connected++;
    c->window = lg->o.window;
    if (ca.receive_max && ca.receive_max < c->window)
        c->window = ca.receive_max;
    if (!lg->o.idle) {
        uint32_t n = lg->o.qos ? c->window : LG_QOS0_BATCH;
        c->out_cap = n * lg->lay.pkt_len;
        c->out[0] = hx_xmalloc(c->out_cap);
        c->out[1] = hx_xmalloc(c->out_cap);
    }
    connect_progress(lg);
}

static void on_puback(struct lg_conn *c, const struct mqtt_frame *f, uint64_t now)
{
    struct lg *lg = c->lg;
    struct mqtt_ack ack;
    uint8_t reason;
    if (mqtt_ack_decode(f, lg->version, &ack, &reason) < 0 || !c->inflight) {
        fprintf(stderr, "medhub bench: %s: malformed or unexpected PUBACK\n", c->cred->id);
        lg->dropped++;
        conn_close(c);
        return;
    }
    record_latency(lg, now - c->t_send[ack.packet_id % LG_RING]);
    c->inflight--;
    lg->outstanding--;
    lg->t_last_ns = now;
    if (ack.reason >= 0x80) {
        if (!lg->refused)
            lg->first_refusal = ack.reason;
        lg->refused++;
    } else {
        lg->acked++;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct lg_conn *c = h->data;
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(LG_IN_MAX - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct lg_conn *c = s->data;
    struct lg *lg = c->lg;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (c->state == LG_C_READY) {
            if (!lg->finished) {
                fprintf(stderr, "medhub bench: %s: connection closed by the server: %s\n",
                        c->cred->id, uv_strerror((int)nread));
                lg->dropped++;
            }
            conn_close(c);
        } else if (c->state == LG_C_AWAIT_CONNACK) {
            lg->connect_failed++;
            lg->connecting--;
            conn_close(c);
            connect_progress(lg);
        }
        maybe_end_drain(lg);
        return;
    }
    c->in_len += (size_t)nread;
    uint64_t now = uv_hrtime();
    size_t pos = 0;
    while (c->state == LG_C_AWAIT_CONNACK || c->state == LG_C_READY) {
        struct mqtt_frame f;
        int rc = mqtt_frame(c->in + pos, c->in_len - pos, LG_IN_MAX, &f);
        if (rc == HX_ENEEDMORE)
            break;
        if (rc < 0) {
            fprintf(stderr, "medhub bench: %s: bad packet from the server (%s)\n", c->cred->id,
                    hx_strerror(rc));
            if (c->state == LG_C_READY) {
                lg->dropped++;
            } else {
                lg->connect_failed++;
                lg->connecting--;
            }
            conn_close(c);
            connect_progress(lg);
            maybe_end_drain(lg);
            return;
        }
        switch (f.type) {
        case MQTT_CONNACK:
            on_connack(c, &f);
            break;
        case MQTT_PUBACK:
            on_puback(c, &f, now);
            break;
        case MQTT_DISCONNECT:
            lg->server_disconnects++;
            lg->last_disconnect = f.body.len ? f.body.ptr[0] : 0;
            if (c->state == LG_C_READY) {
                lg->dropped++;
            } else {
                lg->connect_failed++;
                lg->connecting--;
            }
            conn_close(c);
            connect_progress(lg);
            break;
        default: /* PINGRESP, or anything a broker sends that we do not use */
            break;
        }
        pos += f.total_len;
    }
    if (c->state != LG_C_AWAIT_CONNACK && c->state != LG_C_READY) {
        maybe_end_drain(lg);
        return;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (c->in_len == LG_IN_MAX) { /* cannot happen: mqtt_frame limits packets to LG_IN_MAX */
        lg->dropped++;
        conn_close(c);
        return;
    }
    if (lg->producing && !lg->o.rate)
        top_up(lg, c);
    maybe_end_drain(lg);
}

/* ---- connection lifecycle ----------------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    struct lg_conn *c = h->data;
    struct lg *lg = c->lg;
    c->state = LG_C_CLOSED;
    HX_FREE(c->out[0]);
    HX_FREE(c->out[1]);
    lg->n_closed++;
    if (lg->finished && lg->n_closed == lg->n_started &&
        !uv_is_closing((uv_handle_t *)&lg->hard_stop))
        uv_close((uv_handle_t *)&lg->hard_stop, NULL);
}

/* Closes c (pending writes are cancelled); in-flight messages count as lost. */
static void conn_close(struct lg_conn *c)
{
    if (c->state == LG_C_NONE || c->state >= LG_C_CLOSING)
        return;
    struct lg *lg = c->lg;
    lg->lost += c->inflight;
    lg->outstanding -= c->inflight;
    c->inflight = 0;
    c->state = LG_C_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_ctl_written(uv_write_t *req, int status)
{
    struct lg_conn *c = req->data;
    c->ctl_busy = false;
    if (status < 0 && c->state == LG_C_AWAIT_CONNACK) {
        c->lg->connect_failed++;
        c->lg->connecting--;
        conn_close(c);
        connect_progress(c->lg);
    }
}

/* Writes len bytes of c->ctl; done is called afterwards (NULL: on_ctl_written). */
static int ctl_send(struct lg_conn *c, size_t len, uv_write_cb done)
{
    uv_buf_t b = uv_buf_init((char *)c->ctl, (unsigned)len);
    int rc = uv_write(&c->ctl_req, (uv_stream_t *)&c->tcp, &b, 1, done ? done : on_ctl_written);
    if (rc == 0) {
        c->ctl_busy = true;
        c->last_tx_ms = uv_now(&c->lg->loop);
    }
    return rc;
}

static void on_tcp_connected(uv_connect_t *req, int status)
{
    struct lg_conn *c = req->data;
    struct lg *lg = c->lg;
    if (c->state != LG_C_CONNECTING)
        return;
    if (status < 0) {
        if (lg->connect_failed < 5)
            fprintf(stderr, "medhub bench: %s: connect failed: %s\n", c->cred->id,
                    uv_strerror(status));
        lg->connect_failed++;
        lg->connecting--;
        conn_close(c);
        connect_progress(lg);
        return;
    }
    struct bench_mqtt_connect m = {
        .version = lg->version,
        .keep_alive = LG_KEEP_ALIVE,
        .client_id = slice_cstr(c->cred->id),
        .username = slice_cstr(c->cred->id),
        .password = slice_cstr(c->cred->secret),
        .receive_max = 0,
    };
    size_t len;
    int rc = bench_mqtt_connect_encode(&m, c->ctl, sizeof(c->ctl), &len);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc == 0)
        rc = ctl_send(c, len, NULL);
    if (rc < 0) {
        fprintf(stderr, "medhub bench: %s: cannot send CONNECT: %s\n", c->cred->id,
                rc < -4095 ? hx_strerror(rc) : uv_strerror(rc));
        lg->connect_failed++;
        lg->connecting--;
        conn_close(c);
        connect_progress(lg);
        return;
    }
    c->state = LG_C_AWAIT_CONNACK;
}

/* Starts TCP connects until LG_CONNECTING are in progress. */
static void start_connects(struct lg *lg)
{
    while (lg->connecting < LG_CONNECTING && lg->next_connect < lg->n_conns && !lg->finished) {
        struct lg_conn *c = &lg->conns[lg->next_connect++];
        uv_tcp_init(&lg->loop, &c->tcp);
        lg->n_started++;
        c->state = LG_C_CONNECTING;
        lg->connecting++;
        uv_tcp_nodelay(&c->tcp, 1);
        int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&lg->addr,
                                on_tcp_connected);
        if (rc < 0) {
            fprintf(stderr, "medhub bench: %s: connect failed: %s\n", c->cred->id, uv_strerror(rc));
            lg->connect_failed++;
            lg->connecting--;
            conn_close(c);
        }
    }
}

static void on_deadline(uv_timer_t *h);

/* Every connection is up or has failed: start publishing (or idling). */
static void on_all_connected(struct lg *lg)
{
    if (lg->t_start_ns || lg->finished)
        return;
    uv_timer_stop(&lg->connect_timeout);
    lg->t_start_ns = uv_hrtime();
    printf("bench mqtt: connected %u of %u in %.2f s\n", lg->connected, lg->n_conns,
           (double)(lg->t_start_ns - lg->t_connect0_ns) / 1e9);
    fflush(stdout);
    if (!lg->connected) {
        lg_finish(lg);
        return;
    }
    uv_timer_start(&lg->deadline, on_deadline, (uint64_t)lg->o.duration * 1000, 0);
    if (lg->o.idle)
        return;
    lg->producing = true;
    int64_t now = hx_time_now_us();
    lg->base_ms = now / 1000;
    if (lg->o.rate) {
        lg->last_tick_ns = lg->t_start_ns;
        uv_timer_start(&lg->tick, on_tick, 1, 1);
        return;
    }
    for (uint32_t i = 0; i < lg->n_conns; i++)
        top_up(lg, &lg->conns[i]);
}

static void on_connect_timeout(uv_timer_t *h)
{
    struct lg *lg = h->data;
    fprintf(stderr, "medhub bench: %u connections not up after %d s; going on without them\n",
            lg->connecting + (lg->n_conns - lg->next_connect), LG_CONNECT_MS / 1000);
    lg->connect_failed += lg->connecting + (lg->n_conns - lg->next_connect);
    lg->next_connect = lg->n_conns;
    for (uint32_t i = 0; i < lg->n_conns; i++) {
        struct lg_conn *c = &lg->conns[i];
        if (c->state == LG_C_CONNECTING || c->state == LG_C_AWAIT_CONNACK)
            conn_close(c);
    }
    lg->connecting = 0;
    on_all_connected(lg);
}

static void on_drain_timeout(uv_timer_t *h)
{
    struct lg *lg = h->data;
    fprintf(stderr, "medhub bench: %" PRIu64 " PUBACKs still outstanding after %d s\n",
            lg->outstanding, LG_DRAIN_MS / 1000);
    lg_finish(lg);
}

static void maybe_end_drain(struct lg *lg)
{
    if (lg->draining && !lg->finished && lg->outstanding == 0 && lg->writes_in_flight == 0)
        lg_finish(lg);
}

static void on_deadline(uv_timer_t *h)
{
    struct lg *lg = h->data;
    lg->producing = false;
    lg->t_stop_ns = uv_hrtime();
    uv_timer_stop(&lg->tick);
    lg->draining = true;
    uv_timer_start(&lg->drain, on_drain_timeout, LG_DRAIN_MS, 0);
    maybe_end_drain(lg);
}

/* PINGREQ on connections silent for half the keep alive; progress lines. */
static void on_keepalive(uv_timer_t *h)
{
    struct lg *lg = h->data;
    uint64_t now = uv_now(&lg->loop);
    for (uint32_t i = 0; i < lg->n_conns; i++) {
        struct lg_conn *c = &lg->conns[i];
        if (c->state != LG_C_READY || c->ctl_busy || now - c->last_tx_ms < LG_KEEP_ALIVE * 500)
            continue;
        c->ctl[0] = MQTT_PINGREQ << 4; /* 3.1.1 §3.12 */
        c->ctl[1] = 0;
        if (ctl_send(c, 2, NULL) < 0) {
            lg->dropped++;
            conn_close(c);
        }
    }
    if (lg->o.progress && lg->t_start_ns) {
        uint64_t done = lg->o.qos ? lg->acked + lg->refused : lg->sent;
        fprintf(stderr,
                "  t=%5.1fs connected=%u done=%" PRIu64 " (+%" PRIu64 "/s) in flight=%" PRIu64 "\n",
                (double)(uv_hrtime() - lg->t_start_ns) / 1e9, lg->connected, done,
                done - lg->last_progress, lg->outstanding);
        lg->last_progress = done;
    }
}

static void on_disconnect_written(uv_write_t *req, int status)
{
    (void)status;
    struct lg_conn *c = req->data;
    c->ctl_busy = false;
    conn_close(c);
}

/* A server that stopped reading never takes our DISCONNECT: close whatever is left. */
static void on_hard_stop(uv_timer_t *h)
{
    struct lg *lg = h->data;
    for (uint32_t i = 0; i < lg->n_conns; i++)
        conn_close(&lg->conns[i]);
    uv_close((uv_handle_t *)h, NULL);
}

/* Sends DISCONNECT on every connection that is up with nothing left to write, closes the
 * rest (cancelling their pending writes) and the timers. */
static void lg_finish(struct lg *lg)
{
    if (lg->finished)
        return;
    lg->finished = true;
    lg->producing = false;
    if (!lg->t_stop_ns)
        lg->t_stop_ns = uv_hrtime();
    uv_close((uv_handle_t *)&lg->tick, NULL);
    uv_close((uv_handle_t *)&lg->deadline, NULL);
    uv_close((uv_handle_t *)&lg->drain, NULL);
    uv_close((uv_handle_t *)&lg->keepalive, NULL);
    uv_close((uv_handle_t *)&lg->connect_timeout, NULL);
    for (uint32_t i = 0; i < lg->n_conns; i++) {
        struct lg_conn *c = &lg->conns[i];
        if (c->state == LG_C_READY && !c->ctl_busy && !c->writing) {
            size_t len = 2;
            c->ctl[0] = MQTT_DISCONNECT << 4; /* 3.1.1 §3.14; 5.0 short form = reason 0 */
            c->ctl[1] = 0;
            if (ctl_send(c, len, on_disconnect_written) == 0)
                continue;
        }
        conn_close(c);
    }
    if (lg->n_closed == lg->n_started)
        uv_close((uv_handle_t *)&lg->hard_stop, NULL);
    else
        uv_timer_start(&lg->hard_stop, on_hard_stop, 2000, 0);
}

/* ---- report ------------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const uint32_t *sorted, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)sorted[i < n ? i : n - 1] / 1e3;
}

struct lg_result {
    double wall_s;              /* publishing start -> last PUBACK (QoS 1) / last write (QoS 0) */
    double msgs_per_s;          /* acked/s (QoS 1) or sent/s (QoS 0) */
    double p50, p99, p999, max; /* latency, ms */
    double cpu_user_s;          /* generator user CPU */
    double cpu_sys_s;           /* generator system CPU */
    double connect_s;           /* connect phase */
};

static void json_escape_to(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
}

static void report(const struct lg *lg, const struct lg_result *r, FILE *f, bool json)
{
    const char *ver = lg->version == MQTT_V5 ? "5" : "3.1.1";
    const char *payload = lg->o.cbor ? "senml-cbor" : "senml";
    if (!json) {
        fprintf(f, "target:      %s  MQTT %s  QoS %u  %u devices  %s  %s %zu-byte payload\n",
                lg->o.target, ver, lg->o.qos, lg->n_conns,
                lg->o.idle   ? "idle"
                : lg->o.rate ? "fixed rate"
                             : "as fast as acknowledged",
                payload, lg->lay.payload_len);
        fprintf(f, "connected:   %u of %u (%.2f s)%s\n", lg->connected, lg->n_conns, r->connect_s,
                lg->connect_failed ? "  FAILED CONNECTS" : "");
        if (lg->connect_failed && lg->first_connack)
            fprintf(f, "             first CONNACK refusal 0x%02x %s\n", lg->first_connack,
                    mqtt_reason_name(lg->first_connack));
        if (lg->o.idle) {
            fprintf(f, "idle:        %.2f s\n", r->wall_s);
            fprintf(f, "cpu:         user %.2f s  sys %.2f s (generator)\n", r->cpu_user_s,
                    r->cpu_sys_s);
            return;
        }
        fprintf(f, "sent:        %" PRIu64 "   (offered rate %u msgs/s%s)\n", lg->sent, lg->o.rate,
                lg->o.rate ? "" : " = unlimited");
        if (lg->o.qos)
            fprintf(f, "acked:       %" PRIu64 "   refused: %" PRIu64 "   lost: %" PRIu64 "\n",
                    lg->acked, lg->refused, lg->lost);
        if (lg->refused)
            fprintf(f, "             first refusal 0x%02x %s\n", lg->first_refusal,
                    mqtt_reason_name(lg->first_refusal));
        fprintf(f, "throughput:  %.0f msgs/s %s over %.2f s (%.0f readings/s)\n", r->msgs_per_s,
                lg->o.qos ? "acked" : "sent", r->wall_s, 2 * r->msgs_per_s);
        if (lg->o.qos)
            fprintf(f,
                    "latency:     p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms "
                    "(publish -> PUBACK, %zu messages)\n",
                    r->p50, r->p99, r->p999, r->max, lg->n_lat);
        else
            fprintf(f, "latency:     none (QoS 0 is not acknowledged)\n");
        if (lg->dropped || lg->server_disconnects)
            fprintf(f, "dropped:     %u connections (%u DISCONNECTs, last reason 0x%02x)\n",
                    lg->dropped, lg->server_disconnects, lg->last_disconnect);
        fprintf(f, "cpu:         user %.2f s  sys %.2f s (generator)\n", r->cpu_user_s,
                r->cpu_sys_s);
        return;
    }
    char date[40], cpu_name[128];
    hx_time_format_rfc3339(hx_time_now_us(), date, sizeof(date));
    bench_cpu_model(cpu_name, sizeof(cpu_name));
    fprintf(f, "{\n  \"benchmark\": \"mqtt\",\n  \"date\": \"%s\",\n", date);
    fprintf(f, "  \"machine\": {\"nproc\": %ld, \"cpu\": \"%s\"},\n", sysconf(_SC_NPROCESSORS_ONLN),
            cpu_name);
    fprintf(f, "  \"medhub_version\": \"%s\",\n  \"target\": \"", MEDHUB_VERSION);
    json_escape_to(f, lg->o.target);
    fprintf(f,
            "\",\n"
            "  \"parameters\": {\"devices\": %u, \"rate\": %u, \"qos\": %u, \"duration_s\": %u, "
            "\"mqtt\": \"%s\", \"payload\": \"%s\", \"payload_bytes\": %zu, \"window\": %u, "
            "\"idle\": %s},\n"
            "  \"connected\": %u,\n  \"connect_failed\": %u,\n  \"connect_s\": %.3f,\n"
            "  \"sent\": %" PRIu64 ",\n  \"acked\": %" PRIu64 ",\n  \"refused\": %" PRIu64 ",\n"
            "  \"lost\": %" PRIu64 ",\n  \"dropped_connections\": %u,\n"
            "  \"wall_s\": %.3f,\n  \"msgs_per_s\": %.0f,\n",
            lg->n_conns, lg->o.rate, lg->o.qos, lg->o.duration, ver, payload, lg->lay.payload_len,
            lg->o.window, lg->o.idle ? "true" : "false", lg->connected, lg->connect_failed,
            r->connect_s, lg->sent, lg->acked, lg->refused, lg->lost, lg->dropped, r->wall_s,
            r->msgs_per_s);
    if (lg->o.qos && lg->n_lat)
        fprintf(f,
                "  \"latency_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"p99_9\": %.3f, \"max\": %.3f, "
                "\"messages\": %zu},\n",
                r->p50, r->p99, r->p999, r->max, lg->n_lat);
    else
        fprintf(f, "  \"latency_ms\": null,\n");
    fprintf(f, "  \"cpu_s\": {\"user\": %.2f, \"sys\": %.2f}\n}\n", r->cpu_user_s, r->cpu_sys_s);
}

/* ---- main --------------------------------------------------------------------------------- */

static void timer_init(struct lg *lg, uv_timer_t *t)
{
    uv_timer_init(&lg->loop, t);
    t->data = lg;
}

static int run_generator(struct lg *lg)
{
    const struct lg_opts *o = &lg->o;
    if (load_creds(lg, o->creds, o->devices) || resolve_target(lg, o->target))
        return 1;
    lg->n_conns = o->devices ? o->devices : (uint32_t)lg->n_creds;
    lg->version = o->v311 ? MQTT_V311 : MQTT_V5;
    /* Every connection is a descriptor; raise the soft limit as far as allowed. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)lg->n_conns + 32)
        fprintf(stderr, "medhub bench: warning: open file limit %llu < %u connections\n",
                (unsigned long long)rl.rlim_cur, lg->n_conns);
    lg->conns = hx_alloc_array(lg->n_conns, sizeof(*lg->conns));
    if (!lg->conns) {
        fprintf(stderr, "medhub bench: too many devices\n");
        return 1;
    }
    memset(lg->conns, 0, (size_t)lg->n_conns * sizeof(*lg->conns));
    for (uint32_t i = 0; i < lg->n_conns; i++) {
        struct lg_conn *c = &lg->conns[i];
        c->lg = lg;
        c->cred = &lg->creds[i];
        c->next_pid = 1;
        c->tcp.data = c;
        c->connect_req.data = c;
        c->data_req.data = c;
        c->ctl_req.data = c;
        if (build_template(lg, c) < 0) {
            fprintf(stderr, "medhub bench: device id '%s' is too long\n", c->cred->id);
            return 1;
        }
    }
    if (o->rate && o->qos)
        lg->lat_cap = (size_t)o->rate * o->duration + 1024;
    if (lg->lat_cap)
        lg->lat_us = hx_alloc_array(lg->lat_cap, sizeof(*lg->lat_us));

    uv_loop_init(&lg->loop);
    timer_init(lg, &lg->tick);
    timer_init(lg, &lg->deadline);
    timer_init(lg, &lg->drain);
    timer_init(lg, &lg->keepalive);
    timer_init(lg, &lg->connect_timeout);
    timer_init(lg, &lg->hard_stop);
    printf("bench mqtt: %s, %u devices, MQTT %s, QoS %u, %s, %u s\n", o->target, lg->n_conns,
           lg->version == MQTT_V5 ? "5" : "3.1.1", o->qos,
           o->idle   ? "idle"
           : o->rate ? "fixed rate"
                     : "as fast as acknowledged",
           o->duration);
    fflush(stdout);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    lg->t_connect0_ns = uv_hrtime();
    uv_timer_start(&lg->keepalive, on_keepalive, 1000, 1000);
    uv_timer_start(&lg->connect_timeout, on_connect_timeout, LG_CONNECT_MS, 0);
    start_connects(lg);
    uv_run(&lg->loop, UV_RUN_DEFAULT);
    getrusage(RUSAGE_SELF, &ru1);
    int loop_rc = uv_loop_close(&lg->loop);
    if (loop_rc != 0)
        fprintf(stderr, "medhub bench: loop still had handles\n");

    struct lg_result r = {
        .cpu_user_s = bench_tv_s(ru1.ru_utime) - bench_tv_s(ru0.ru_utime),
        .cpu_sys_s = bench_tv_s(ru1.ru_stime) - bench_tv_s(ru0.ru_stime),
        .connect_s = lg->t_start_ns ? (double)(lg->t_start_ns - lg->t_connect0_ns) / 1e9 : 0,
    };
    uint64_t end = lg->t_last_ns > lg->t_stop_ns ? lg->t_last_ns : lg->t_stop_ns;
    if (lg->o.idle)
        end = lg->t_stop_ns;
    if (lg->t_start_ns && end > lg->t_start_ns)
        r.wall_s = (double)(end - lg->t_start_ns) / 1e9;
    uint64_t done = o->qos ? lg->acked : lg->sent;
    r.msgs_per_s = r.wall_s > 0 ? (double)done / r.wall_s : 0;
    if (lg->n_lat)
        qsort(lg->lat_us, lg->n_lat, sizeof(*lg->lat_us), cmp_u32);
    r.p50 = pct_ms(lg->lat_us, lg->n_lat, 50);
    r.p99 = pct_ms(lg->lat_us, lg->n_lat, 99);
    r.p999 = pct_ms(lg->lat_us, lg->n_lat, 99.9);
    r.max = lg->n_lat ? (double)lg->lat_us[lg->n_lat - 1] / 1e3 : 0;
    report(lg, &r, stdout, false);
    if (o->out) {
        FILE *f = fopen(o->out, "w");
        if (!f) {
            fprintf(stderr, "medhub bench: cannot write '%s'\n", o->out);
            return 1;
        }
        report(lg, &r, f, true);
        fclose(f);
    }
    bool ok = loop_rc == 0 && lg->connected == lg->n_conns && !lg->dropped && !lg->lost &&
              (o->qos == 0 || o->idle || lg->outstanding == 0);
    return ok ? 0 : 1;
}

int bench_mqtt_main(int argc, char **argv)
{
    struct lg *lg = hx_xcalloc(1, sizeof(*lg));
    int rc = parse_args(&lg->o, argc, argv);
    if (rc) {
        free(lg);
        return rc == 1 ? 0 : rc;
    }
    if (lg->o.provision) {
        rc = provision(&lg->o);
    } else {
        log_set_level(LOG_WARN);
        rc = run_generator(lg);
    }
    if (lg->conns) {
        for (uint32_t i = 0; i < lg->n_conns; i++) {
            free(lg->conns[i].out[0]);
            free(lg->conns[i].out[1]);
        }
    }
    free(lg->conns);
    if (lg->creds)
        memset(lg->creds, 0, lg->n_creds * sizeof(*lg->creds));
    free(lg->creds);
    free(lg->lat_us);
    free(lg);
    return rc;
}
