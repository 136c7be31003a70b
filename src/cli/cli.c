/*
 * Shared CLI plumbing: common options, config loading, store opening, tables, JSON and
 * error messages. Layer: cli (calls core, store, domain). Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"

#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("medhub: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "medhub %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'medhub %s --help')\n", cmd);
    return CLI_EXIT_USAGE;
}

bool cli_common_option(struct cli_opts *o, int code, const char *arg)
{
    switch (code) {
    case CLI_OPT_DATA_DIR:
        o->data_dir = arg;
        return true;
    case CLI_OPT_CONFIG:
        o->config = arg;
        return true;
    case CLI_OPT_SET:
        if (o->n_sets < (int)HX_ARRAY_LEN(o->sets))
            o->sets[o->n_sets++] = arg;
        return true;
    case CLI_OPT_JSON:
        o->json = true;
        return true;
    default:
        return false;
    }
}

int cli_load_config(struct cli_ctx *ctx, const struct cli_opts *o)
{
    memset(ctx, 0, sizeof(*ctx));
    struct cfg_sources src = {
        .data_dir = o->data_dir,
        .file = o->config,
        .file_required = o->config != NULL,
        .env = environ,
        .overrides = o->sets,
        .n_overrides = o->n_sets,
    };
    char err[512];
    if (cfg_load(&ctx->cfg, &src, err, sizeof(err)) < 0)
        return cli_fail("%s", err);
    /* Administration commands report failures as one "medhub: error:" line; their log lines
     * would repeat it, so they log only errors unless debugging was asked for. The daemon
     * (serve, demo) sets the configured level itself. */
    log_set_level(ctx->cfg.log.level == LOG_DEBUG ? LOG_DEBUG : LOG_ERROR);
    return CLI_EXIT_OK;
}

int cli_open(struct cli_ctx *ctx, const struct cli_opts *o, unsigned flags)
{
    int rc = cli_load_config(ctx, o);
    if (rc)
        return rc;
    char err[512] = "";
    int src = store_open(&ctx->st, &ctx->cfg.storage, flags, err, sizeof(err));
    if (src < 0)
        return cli_fail("%s", *err ? err : hx_strerror(src));
    return CLI_EXIT_OK;
}

void cli_close(struct cli_ctx *ctx)
{
    if (ctx->st)
        store_close(ctx->st);
    ctx->st = NULL;
}

int cli_store_fail(const char *action, int rc)
{
    return cli_fail("%s failed: %s", action, hx_strerror(rc));
}

void cli_audit_actor(struct audit_entry *e)
{
    static char login[64]; /* main thread only */
    uid_t uid = geteuid();
    struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name && *pw->pw_name && strlen(pw->pw_name) < sizeof(login))
        snprintf(login, sizeof(login), "%s", pw->pw_name);
    else
        snprintf(login, sizeof(login), "uid:%lu", (unsigned long)uid);
    e->actor_kind = AUDIT_ACTOR_CLI;
    e->actor_id = (int64_t)uid;
    e->actor = login;
    e->source = "local";
}

int cli_audit(struct cli_ctx *ctx, struct audit_entry *e)
{
    cli_audit_actor(e);
    return audit_append(ctx->st, e, NULL);
}

int cli_end(struct cli_ctx *ctx, int rc)
{
    if (rc < 0) {
        store_rollback(ctx->st);
        return rc;
    }
    if ((rc = store_commit(ctx->st)) < 0)
        return rc;
    struct audit_policy p;
    audit_policy_from_cfg(&p, &ctx->cfg);
    int crc = audit_checkpoint(ctx->st, &p, NULL, false, NULL, NULL); /* by system "audit" */
    if (crc < 0)
        fprintf(stderr, "medhub: warning: audit checkpoint not written: %s\n", hx_strerror(crc));
    return 0;
}

char *cli_details(json_t *j)
{
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!s)
        abort(); /* jansson fails only on OOM */
    return s;
}

void table_init(struct table *t, int n_cols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->n_cols = n_cols;
    for (int i = 0; i < n_cols && i < (int)HX_ARRAY_LEN(t->headers); i++)
        t->headers[i] = headers[i];
}

void table_add(struct table *t, const char *const *cells)
{
    if (t->n_rows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = hx_xrealloc(t->cells, t->cap * (size_t)t->n_cols * sizeof(char *));
    }
    for (int c = 0; c < t->n_cols; c++)
        t->cells[t->n_rows * (size_t)t->n_cols + (size_t)c] = hx_xstrdup(cells[c] ? cells[c] : "");
    t->n_rows++;
}

/* Display width of UTF-8 text: counts code points, not bytes (good enough for our labels). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void table_print(const struct table *t, FILE *out)
{
    size_t width[12] = {0};
    for (int c = 0; c < t->n_cols; c++) {
        width[c] = text_width(t->headers[c]);
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t w = text_width(t->cells[r * (size_t)t->n_cols + (size_t)c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t r = 0; r <= t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            const char *s =
                r == 0 ? t->headers[c] : t->cells[(r - 1) * (size_t)t->n_cols + (size_t)c];
            bool last = c == t->n_cols - 1;
            fputs(s, out);
            if (!last)
                for (size_t pad = text_width(s); pad < width[c] + 2; pad++)
                    fputc(' ', out);
        }
        fputc('\n', out);
    }
}

void table_release(struct table *t)
{
    for (size_t i = 0; i < t->n_rows * (size_t)t->n_cols; i++)
        free(t->cells[i]);
    HX_FREE(t->cells);
    t->n_rows = t->cap = 0;
}

void cli_print_json(json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(j);
}

void cli_format_time(int64_t t_us, char *buf, size_t len)
{
    char full[40];
    hx_time_format_rfc3339(t_us, full, sizeof(full));
    /* Drop the microseconds for people: 2026-11-24T21:39:42Z. */
    char *dot = strchr(full, '.');
    if (dot) {
        dot[0] = 'Z';
        dot[1] = '\0';
    }
    snprintf(buf, len, "%s", full);
}

int cli_parse_time(const char *cmd, const char *opt, const char *s, int64_t *out)
{
    if (hx_time_parse(s, hx_time_now_us(), out) < 0)
        return cli_usage_error(cmd,
                               "--%s '%s': expected an RFC 3339 time (2026-11-24T08:00:00Z), a "
                               "date (2026-11-24), 'now', or a relative time (-15m, -8h, -7d)",
                               opt, s);
    return 0;
}

int cli_dispatch(const char *group, const char *group_help, const struct cli_command *subs,
                 int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "%s\n\nCommands:\n", group_help);
        for (const struct cli_command *c = subs; c->name; c++)
            fprintf(out, "  medhub %s %-10s %s\n", group, c->name, c->summary);
        fprintf(out, "\nRun 'medhub %s COMMAND --help' for the options of each.\n", group);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (const struct cli_command *c = subs; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    return cli_usage_error(group, "unknown command '%s'", argv[1]);
}

_Static_assert(DEV_ID_MAX <= 64 && PAT_MRN_MAX <= 64, "cli_names holds both");

/* The external id of id, "#ID" when the record is gone, NULL for 0. */
const char *cli_name_of(struct cli_names *c, int64_t id)
{
    if (id == 0)
        return NULL;
    for (int i = 0; i < c->n; i++)
        if (c->ids[i] == id)
            return c->names[i];
    int slot = c->n < 32 ? c->n++ : (int)(id % 32);
    c->ids[slot] = id;
    int rc;
    if (c->patients) {
        struct patient p;
        if ((rc = store_patient_get(c->st, id, &p)) == 0)
            snprintf(c->names[slot], sizeof(c->names[slot]), "%s", p.mrn);
    } else {
        struct device d;
        if ((rc = store_device_get_by_id(c->st, id, &d)) == 0)
            snprintf(c->names[slot], sizeof(c->names[slot]), "%s", d.uid);
    }
    if (rc < 0)
        snprintf(c->names[slot], sizeof(c->names[slot]), "#%lld", (long long)id);
    return c->names[slot];
}

int cli_finish_listing(int rc, json_t *arr, struct table *t, const char *action,
                       const char *empty_text)
{
    if (rc < 0) {
        json_decref(arr);
        table_release(t);
        return cli_store_fail(action, rc);
    }
    if (arr)
        cli_print_json(arr);
    else if (t->n_rows == 0 && empty_text)
        printf("%s\n", empty_text);
    else
        table_print(t, stdout);
    table_release(t);
    return CLI_EXIT_OK;
}
