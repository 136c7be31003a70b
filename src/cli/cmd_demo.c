/*
 * medhub demo: a first look. Initialises a temporary data directory (or --data-dir), adds a
 * ward of patients each with a bedside monitor, and runs the daemon on loopback until
 * Ctrl-C, printing what it started and where. A temporary directory is removed on exit.
 * (The simulator that brings the ward to life arrives with `medhub sim`.)
 * Layer: cli. Thread: main, then the loop.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "security/apitoken.h"
#include "security/secret.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char demo_help[] =
    "Usage: medhub demo [--patients N] [--data-dir DIR]\n"
    "\n"
    "Starts medhub for a first look, on loopback only: initialises a temporary data\n"
    "directory (removed again when the demo stops) or DIR, adds a ward of N patients\n"
    "(default 24) each with a bedside monitor, and runs the daemon until Ctrl-C.\n";

static const char *const first_names[] = {"Ada",   "Ben",   "Chloe", "Dev",    "Elif",  "Finn",
                                          "Grace", "Hamid", "Iris",  "Jonah",  "Kira",  "Liam",
                                          "Maya",  "Noah",  "Olga",  "Priya",  "Quinn", "Rosa",
                                          "Sami",  "Tess",  "Uma",   "Viktor", "Wren",  "Yusuf"};
static const char *const last_names[] = {"Byrne",   "Okafor",  "Lindqvist", "Patel", "Nowak",
                                         "Moreau",  "Tanaka",  "Hughes",    "Costa", "Reyes",
                                         "Fischer", "Adeyemi", "Kowalski",  "Murphy"};

struct demo {
    const char *data_dir;
    const char *exe;
    int patients;
    bool temporary;
    char first_secret[SEC_SECRET_STR]; /* mon-0001's secret, shown so a first publish works */
    char token[SEC_APITOKEN_STR];      /* an integration token for Ward 7A, shown likewise */
};

static int seed_ward(const struct cfg *cfg, struct demo *dm, char *err, size_t err_len)
{
    struct store *st;
    int rc = store_open(&st, &cfg->storage, 0, err, err_len);
    if (rc < 0)
        return rc;
    uint8_t key[SEC_KEY_LEN];
    rc = sec_server_key_load(cfg->data_dir, false, key, err, err_len);
    int64_t now = hx_time_now_us();
    int n = dm->patients;
    for (int i = 0; i < n && rc == 0; i++) {
        struct patient p = {0};
        snprintf(p.mrn, sizeof(p.mrn), "MRN%04d", i + 1);
        snprintf(p.name, sizeof(p.name), "%s %s", first_names[i % HX_ARRAY_LEN(first_names)],
                 last_names[(i * 5 + i / 14) % HX_ARRAY_LEN(last_names)]);
        /* Born 1930-1994 on a valid day; unsigned modulo keeps the widths provable. */
        unsigned u = (unsigned)i;
        snprintf(p.birth_date, sizeof(p.birth_date), "19%02u-%02u-%02u", 30 + (u * 7) % 65,
                 1 + u % 12, 1 + (u * 3) % 28);
        snprintf(p.ward, sizeof(p.ward), "Ward 7A");
        snprintf(p.location, sizeof(p.location), "Bed %d", i + 1);
        rc = store_patient_add(st, &p);
        if (rc == HX_EEXIST) { /* re-running the demo on the same --data-dir */
            rc = 0;
            continue;
        }
        struct device d = {.status = DEV_STATUS_ACTIVE, .battery_pct = -1};
        snprintf(d.uid, sizeof(d.uid), "mon-%04d", i + 1);
        snprintf(d.kind, sizeof(d.kind), "monitor");
        snprintf(d.model, sizeof(d.model), "medhub-sim bedside monitor");
        char secret[SEC_SECRET_STR];
        if (rc == 0)
            rc = sec_secret_generate(secret);
        if (rc == 0) {
            if (i == 0)
                memcpy(dm->first_secret, secret, sizeof(secret));
            sec_secret_hash(key, secret, strlen(secret), d.secret_hash);
            rc = store_device_add(st, &d);
        }
        if (rc == 0)
            rc = store_device_assign(st, d.id, p.id, now);
    }
    if (rc == 0) { /* an API token to try the REST and FHIR APIs with */
        struct store_apitoken t = {0};
        snprintf(t.name, sizeof(t.name), "demo-integration");
        snprintf(t.role, sizeof(t.role), "integration");
        snprintf(t.ward, sizeof(t.ward), "Ward 7A");
        rc = sec_apitoken_create(st, key, &t, dm->token);
        if (rc == HX_EEXIST) /* re-running on the same --data-dir: that token was shown then */
            rc = 0;
    }
    memset(key, 0, sizeof(key));
    store_close(st);
    if (rc < 0 && !*err)
        snprintf(err, err_len, "adding demo patients: %s", hx_strerror(rc));
    return rc;
}

static void on_ready(void *arg, struct server *srv)
{
    const struct demo *d = arg;
    uint16_t mqtt = server_mqtt_port(srv, false), mqtts = server_mqtt_port(srv, true);
    uint16_t http = server_http_port(srv, false), https = server_http_port(srv, true);
    printf("\nmedhub demo is running (pid %ld)\n", (long)getpid());
    printf("  data dir   %s%s\n", d->data_dir,
           d->temporary ? "  (temporary: removed when the demo stops)" : "");
    printf("  ward       %d patients in Ward 7A (MRN0001..), each with a bedside monitor "
           "(mon-0001..)\n",
           d->patients);
    printf("  mqtt       127.0.0.1:%u (plain, loopback only), 127.0.0.1:%u (TLS)\n", mqtt, mqtts);
    printf("  web        http://127.0.0.1:%u/ and https://127.0.0.1:%u/ (loopback only)\n", http,
           https);
    printf("  ops        http://127.0.0.1:%u/healthz  /readyz  /metrics\n", http);
    if (*d->first_secret) {
        printf("\nSend a reading as device mon-0001 (its secret is shown because this is a "
               "demo):\n");
        printf("  mosquitto_pub -h 127.0.0.1 -p %u -V mqttv5 -q 1 -i mon-0001 -u mon-0001 \\\n"
               "    -P '%s' \\\n"
               "    -t medhub/v1/devices/mon-0001/telemetry "
               "-m '[{\"n\":\"heart_rate\",\"u\":\"/min\",\"v\":72}]'\n",
               mqtt, d->first_secret);
    }
    printf("\nThen look at it:\n");
    printf("  %s patient show MRN0001 --data-dir %s\n", d->exe, d->data_dir);
    printf("  %s obs query --patient MRN0001 --data-dir %s\n", d->exe, d->data_dir);
    if (*d->token) {
        printf("\nThe REST API with an integration token for Ward 7A (docs/api.md):\n");
        printf("  curl -s -H 'Authorization: Bearer %s' \\\n"
               "    http://127.0.0.1:%u/api/v1/me\n",
               d->token, http);
        printf("  people log in with a password and TOTP: %s user add NAME --role nurse "
               "--ward 'Ward 7A' --data-dir %s\n",
               d->exe, d->data_dir);
    }
    printf("\nAlerts (the clinical rules run on every reading; a monitor silent for a minute\n"
           "raises \"no data\"):\n");
    printf("  %s alert list --data-dir %s\n", d->exe, d->data_dir);
    printf("  %s news2 --rr 22 --spo2 94 --o2 air --sbp 108 --pulse 95 --acvpu A --temp 37.2\n",
           d->exe);
    printf("\nPress Ctrl-C to stop.\n\n");
    fflush(stdout);
}

/* True when nothing listens on 127.0.0.1:port yet (a system mosquitto often holds 1883). */
static bool port_is_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"patients", required_argument, NULL, 'n'},
        {0},
    };
    struct cli_opts o = {0};
    struct demo d = {.patients = 24};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(demo_help, stdout);
            return CLI_EXIT_OK;
        }
        if (c == 'n') {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 10000)
                return cli_usage_error("demo", "--patients '%s': expected 1 to 10000", optarg);
            d.patients = (int)n;
        } else if (!cli_common_option(&o, c, optarg)) {
            return cli_usage_error("demo", "unknown option");
        }
    }
    char tmp[] = "/tmp/medhub-demo-XXXXXX";
    if (!o.data_dir) {
        if (!mkdtemp(tmp))
            return cli_fail("cannot create a temporary directory: %s", hx_strerror(-errno));
        o.data_dir = tmp;
        d.temporary = true;
    }
    d.data_dir = o.data_dir;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    d.exe = n > 0 ? exe : "medhub";

    /* Demo listens on loopback only, whatever the environment says; on the standard ports
     * when they are free, else on any free port (the banner shows which). */
    const char *const loopback[] = {
        port_is_free(1883) ? "mqtt.listen=127.0.0.1:1883" : "mqtt.listen=127.0.0.1:0",
        port_is_free(8883) ? "mqtt.tls_listen=127.0.0.1:8883" : "mqtt.tls_listen=127.0.0.1:0",
        port_is_free(8080) ? "http.listen=127.0.0.1:8080" : "http.listen=127.0.0.1:0",
        port_is_free(8443) ? "http.tls_listen=127.0.0.1:8443" : "http.tls_listen=127.0.0.1:0",
        "hl7.listen=127.0.0.1:2575",
    };
    for (size_t i = 0; i < HX_ARRAY_LEN(loopback); i++)
        cli_common_option(&o, CLI_OPT_SET, loopback[i]);

    struct cli_ctx ctx;
    int rc = cli_load_config(&ctx, &o);
    char err[512] = "";
    struct init_result res;
    if (rc == 0 && cli_init_data_dir(&ctx.cfg, &res, err, sizeof(err)) < 0)
        rc = cli_fail("%s", err);
    if (rc == 0 && seed_ward(&ctx.cfg, &d, err, sizeof(err)) < 0)
        rc = cli_fail("%s", err);
    if (rc == 0)
        printf("medhub demo: initialised %s with %d patients\n", d.data_dir, d.patients);
    fflush(stdout);
    struct server_hooks hooks = {.on_ready = on_ready, .arg = &d};
    if (rc == 0 && server_run(&ctx.cfg, &hooks) < 0)
        rc = CLI_EXIT_FAIL;
    if (d.temporary) {
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        printf("medhub demo: stopped; removed %s\n", tmp);
    }
    return rc;
}
