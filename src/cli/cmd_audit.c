/*
 * medhub audit verify|list|export|checkpoint: the tamper-evident audit trail
 * (src/security/audit.h, docs/audit.md). verify walks the hash chain and names the first bad
 * entry; list is a quick look, newest first; export streams entries as JSON or CSV (and is
 * itself recorded, before it starts, as audit.export); checkpoint writes the chain head to the
 * trail, the log and the anchor file now. verify and export stream: constant memory, however
 * long the trail. Layer: cli. Thread: main.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "security/audit.h"
#include "core/hxtime.h"
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest number of anchors verify accepts (--anchor and --anchor-file together). */
#define AUDIT_CLI_MAX_ANCHORS 1000000

static const char group_help[] =
    "Usage: medhub audit COMMAND [options]\n\n"
    "The tamper-evident audit trail: who did what to which record, when, from where, with\n"
    "what outcome, as a hash chain (HIPAA 164.312(b)). See docs/audit.md.\n";

static const char verify_help[] =
    "Usage: medhub audit verify [--anchor SEQ:HASH]... [--anchor-file FILE] [--record]\n"
    "                           [--data-dir DIR] [--json]\n\n"
    "Walks the whole chain, recomputes every entry's hash and checks every link. Prints\n"
    "\"audit chain intact: N entries, head seq=S hash=H\" and exits 0, or names the first bad\n"
    "entry (\"entry 42: hash mismatch (modified)\", \"entry 43 missing (deleted)\", ...) and\n"
    "exits 1. Streams: constant memory; progress on stderr when it is a terminal.\n\n"
    "  --anchor SEQ:HASH   a checkpoint kept elsewhere (repeatable): entry SEQ must exist with\n"
    "                      that hash, which also catches a truncated tail or a chain rewritten\n"
    "                      from scratch\n"
    "  --anchor-file FILE  every line of FILE that contains \"audit checkpoint\" is an anchor\n"
    "                      (the anchor file <data-dir>/audit-anchors.log, or the daemon's log)\n"
    "  --record            append the result to the trail as an audit.verify entry\n"
    "  --json              {\"intact\", \"entries\", \"head\": {\"seq\", \"hash\"}, "
    "\"anchors_checked\",\n"
    "                      \"problem\", \"bad_seq\", \"message\"}\n";

static const char list_help[] =
    "Usage: medhub audit list [--limit N] [--since T] [--until T] [--patient MRN]\n"
    "                         [--actor NAME] [--action A] [--data-dir DIR] [--json]\n\n"
    "Shows audit entries, newest first (default limit 50; 0 for all). --action takes an\n"
    "action or a pattern (\"alert.*\"). Times: RFC 3339, a date, 'now' or -15m, -8h, -7d.\n"
    "--json prints an array of entries as 'audit export --format json' does.\n";

static const char export_help[] =
    "Usage: medhub audit export [--since T] [--until T] [--format json|csv] [--patient MRN]\n"
    "                           [--actor NAME] [--action A] [--output FILE] [--data-dir DIR]\n\n"
    "Streams audit entries, oldest first, with time in [--since, --until) (default: all).\n"
    "The export is recorded first, as an audit.export entry naming its filters, and covers\n"
    "the entries before that one.\n\n"
    "  --format json  (default) a JSON array, one entry per line: {\"seq\", \"time\",\n"
    "                 \"actor_kind\", \"actor_id\", \"actor\", \"action\", \"outcome\", "
    "\"patient_id\",\n"
    "                 \"patient\" (MRN), \"object_type\", \"object_id\", \"source\", \"details\",\n"
    "                 \"break_glass\", \"prev_hash\", \"hash\"}\n"
    "  --format csv   the same columns with a header (RFC 4180, CRLF); a text cell that\n"
    "                 starts with = + - @ tab or CR gets a leading ' so that spreadsheets do\n"
    "                 not run it as a formula\n"
    "  --output FILE  write to FILE (created mode 0600, replaced if it exists) instead of\n"
    "                 stdout\n";

static const char checkpoint_help[] =
    "Usage: medhub audit checkpoint [--data-dir DIR] [--json]\n\n"
    "Writes a checkpoint now: appends an audit.checkpoint entry naming the current head, and\n"
    "writes \"audit checkpoint seq=N hash=H\" to the anchor file (audit.anchor_file). Copy\n"
    "that line somewhere an attacker on this machine cannot reach; 'medhub audit verify\n"
    "--anchor N:H' then detects a truncated or rewritten trail. The daemon writes checkpoints\n"
    "by itself (audit.checkpoint_entries, audit.checkpoint_interval_s).\n";

enum {
    OPT_ANCHOR = 2000,
    OPT_ANCHOR_FILE,
    OPT_RECORD,
    OPT_LIMIT,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_PATIENT,
    OPT_ACTOR,
    OPT_ACTION,
    OPT_FORMAT,
    OPT_OUTPUT,
};

/* A subcommand's options. */
struct args {
    struct cli_opts o;
    struct audit_anchor *anchors; /* --anchor and --anchor-file, owned */
    size_t n_anchors, cap_anchors;
    const char *anchor_file;
    bool record;
    long limit;
    int64_t since_us, until_us; /* 0: no bound */
    const char *since, *until;  /* as given */
    const char *patient, *actor, *action, *format, *output;
};

static void add_anchor(struct args *a, const struct audit_anchor *x)
{
    if (a->n_anchors == a->cap_anchors) {
        a->cap_anchors = a->cap_anchors ? 2 * a->cap_anchors : 16;
        a->anchors = hx_xrealloc(a->anchors, a->cap_anchors * sizeof(*a->anchors));
    }
    a->anchors[a->n_anchors++] = *x;
}

/* Reads the anchors of a file: lines that mention "audit checkpoint". */
static int read_anchor_file(const char *cmd, struct args *a)
{
    FILE *f = fopen(a->anchor_file, "r");
    if (!f)
        return cli_fail("cannot read %s: %s", a->anchor_file, hx_strerror(-errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        no++;
        if (!memmem(line, (size_t)len, "audit checkpoint", 16))
            continue;
        struct audit_anchor x;
        if (audit_anchor_parse_line(line, (size_t)len, &x) < 0) {
            rc = cli_usage_error(cmd, "%s:%ld: a checkpoint line without seq=N hash=H",
                                 a->anchor_file, no);
            break;
        }
        if (a->n_anchors >= AUDIT_CLI_MAX_ANCHORS) {
            rc = cli_fail("%s: more than %d anchors", a->anchor_file, AUDIT_CLI_MAX_ANCHORS);
            break;
        }
        add_anchor(a, &x);
    }
    if (rc == 0 && ferror(f))
        rc = cli_fail("cannot read %s", a->anchor_file);
    free(line);
    fclose(f);
    return rc;
}

static int parse_long(const char *cmd, const char *opt, const char *s, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > max)
        return cli_usage_error(cmd, "%s: expected a whole number from 0 to %ld", opt, max);
    *out = v;
    return 0;
}

/* [a-z0-9_.*] only: the action names and GLOB's '*'. */
static bool action_pattern_ok(const char *s)
{
    if (!*s || strlen(s) >= AUDIT_ACTION_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
              *s == '*'))
            return false;
    return true;
}

/* Parses argv for cmd; allowed names the options it takes ("anchor record", ...). Returns 0,
 * -1 when it printed the help, or an exit status. */
static int parse_args(const char *cmd, const char *help, int argc, char **argv, const char *allowed,
                      struct args *a)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"anchor", required_argument, NULL, OPT_ANCHOR},
        {"anchor-file", required_argument, NULL, OPT_ANCHOR_FILE},
        {"record", no_argument, NULL, OPT_RECORD},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"patient", required_argument, NULL, OPT_PATIENT},
        {"actor", required_argument, NULL, OPT_ACTOR},
        {"action", required_argument, NULL, OPT_ACTION},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {0},
    };
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (c >= OPT_ANCHOR && c <= OPT_OUTPUT) {
            const char *name = opts[c - OPT_ANCHOR + 5].name;
            char word[32];
            snprintf(word, sizeof(word), " %s ", name);
            char list[128];
            snprintf(list, sizeof(list), " %s ", allowed);
            if (!strstr(list, word))
                return cli_usage_error(cmd, "--%s is not an option of this command", name);
            struct audit_anchor x;
            switch (c) {
            case OPT_ANCHOR:
                if (audit_anchor_parse(optarg, strlen(optarg), &x) < 0)
                    return cli_usage_error(cmd,
                                           "--anchor '%s': expected SEQ:HASH (a sequence "
                                           "number, a colon and 64 hex digits)",
                                           optarg);
                add_anchor(a, &x);
                break;
            case OPT_ANCHOR_FILE:
                a->anchor_file = optarg;
                break;
            case OPT_RECORD:
                a->record = true;
                break;
            case OPT_LIMIT:
                rc = parse_long(cmd, "--limit", optarg, 100000000, &a->limit);
                break;
            case OPT_SINCE:
                a->since = optarg;
                rc = cli_parse_time(cmd, "since", optarg, &a->since_us);
                break;
            case OPT_UNTIL:
                a->until = optarg;
                rc = cli_parse_time(cmd, "until", optarg, &a->until_us);
                break;
            case OPT_PATIENT:
                a->patient = optarg;
                break;
            case OPT_ACTOR:
                a->actor = optarg;
                break;
            case OPT_ACTION:
                if (!action_pattern_ok(optarg))
                    return cli_usage_error(cmd,
                                           "--action '%s': expected an action such as "
                                           "patient.create, or a pattern such as alert.*",
                                           optarg);
                a->action = optarg;
                break;
            case OPT_FORMAT:
                if (strcmp(optarg, "json") != 0 && strcmp(optarg, "csv") != 0)
                    return cli_usage_error(cmd, "--format '%s': expected json or csv", optarg);
                a->format = optarg;
                break;
            case OPT_OUTPUT:
                a->output = optarg;
                break;
            }
            if (rc)
                return rc;
            continue;
        }
        if (!cli_common_option(&a->o, c, optarg))
            return cli_usage_error(cmd, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (a->since_us && a->until_us && a->until_us <= a->since_us)
        return cli_usage_error(cmd, "--until must be after --since");
    return 0;
}

/* Runs parse_args and maps its -1 (help printed) to exit 0, freeing the anchors. */
#define PARSE_OR_RETURN(a, ...)                                                                    \
    do {                                                                                           \
        int prc_ = parse_args(__VA_ARGS__, (a));                                                   \
        if (prc_ != 0) {                                                                           \
            free((a)->anchors);                                                                    \
            return prc_ < 0 ? CLI_EXIT_OK : prc_;                                                  \
        }                                                                                          \
    } while (0)

/* Resolves --patient to the internal id. */
static int resolve_patient(struct cli_ctx *ctx, const char *mrn, int64_t *out)
{
    *out = 0;
    if (!mrn)
        return 0;
    struct patient p;
    int rc = store_patient_get_by_mrn(ctx->st, mrn, &p);
    if (rc < 0)
        return rc == HX_ENOTFOUND ? cli_fail("no patient with MRN '%s'", mrn)
                                  : cli_store_fail("reading the patient", rc);
    *out = p.id;
    return 0;
}

/* ---- verify ------------------------------------------------------------------------------- */

static void show_progress(void *arg, int64_t entries, int64_t seq)
{
    (void)arg;
    fprintf(stderr, "\rverifying the audit chain: %" PRId64 " entries (seq %" PRId64 ")...",
            entries, seq);
    fflush(stderr);
}

static json_t *verify_json(const struct audit_verify_result *v)
{
    json_t *head =
        v->head.seq ? json_pack("{s:I, s:s}", "seq", (json_int_t)v->head.seq, "hash", v->head.hash)
                    : json_null();
    return json_pack(
        "{s:b, s:I, s:o, s:I, s:s?, s:o, s:s}", "intact", v->intact, "entries",
        (json_int_t)v->entries, "head", head, "anchors_checked", (json_int_t)v->anchors_checked,
        "problem", v->intact ? NULL : audit_problem_name(v->problem), "bad_seq",
        v->intact ? json_null() : json_integer(v->bad_seq), "message", v->intact ? "" : v->message);
}

/* Appends the result as an audit.verify entry. */
static int record_verify(struct cli_ctx *ctx, const struct audit_verify_result *v)
{
    json_t *d = verify_json(v);
    json_object_del(d, "message");
    char *details = cli_details(d);
    struct audit_entry e = {.action = "audit.verify",
                            .outcome = v->intact ? AUDIT_SUCCESS : AUDIT_FAILURE,
                            .object_type = "audit",
                            .details = details};
    int rc = store_begin(ctx->st);
    if (rc == 0)
        rc = cli_audit(ctx, &e);
    rc = cli_end(ctx, rc);
    free(details);
    return rc;
}

static int audit_verify_cmd(int argc, char **argv)
{
    struct args a = {0};
    PARSE_OR_RETURN(&a, "audit verify", verify_help, argc, argv, "anchor anchor-file record");
    int rc;
    if (a.anchor_file && (rc = read_anchor_file("audit verify", &a))) {
        free(a.anchors);
        return rc;
    }
    struct cli_ctx ctx;
    if ((rc = cli_open(&ctx, &a.o, a.record ? 0 : STORE_OPEN_READONLY))) {
        free(a.anchors);
        return rc;
    }
    bool tty = isatty(STDERR_FILENO);
    struct audit_verify_result v;
    rc = audit_verify(ctx.st, a.anchors, a.n_anchors, tty ? show_progress : NULL, NULL, &v);
    if (tty)
        fputs("\r\033[K", stderr);
    free(a.anchors);
    if (rc == 0 && a.record)
        rc = record_verify(&ctx, &v);
    cli_close(&ctx);
    if (rc < 0)
        return cli_store_fail("verifying the audit chain", rc);
    if (a.o.json) {
        cli_print_json(verify_json(&v));
    } else if (v.intact) {
        printf("audit chain intact: %" PRId64 " entries", v.entries);
        if (v.head.seq)
            printf(", head seq=%" PRId64 " hash=%s", v.head.seq, v.head.hash);
        if (v.anchors_checked)
            printf(", %zu anchors matched", v.anchors_checked);
        printf("\n");
    } else {
        printf("audit chain BROKEN: %s\n", v.message);
        printf("%" PRId64 " entries before it verified", v.entries);
        if (v.head.seq)
            printf(" (last good: seq=%" PRId64 " hash=%s)", v.head.seq, v.head.hash);
        printf("\n");
    }
    return v.intact ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ---- Entries as JSON and CSV -------------------------------------------------------------- */

static json_t *entry_json(const struct store_audit_row *r, struct cli_names *mrns)
{
    char when[40];
    hx_time_format_rfc3339(r->time_us, when, sizeof(when));
    json_t *details = json_loads(r->details, JSON_DECODE_ANY, NULL);
    if (!details)
        details = json_string(r->details); /* not JSON (tampered): shown as it is */
    const char *mrn = r->has_patient ? cli_name_of(mrns, r->patient_id) : NULL;
    return json_pack(
        "{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:s?, s:s?, s:s?, s:s?, s:o, s:b, "
        "s:s, s:s}",
        "seq", (json_int_t)r->seq, "time", when, "actor_kind", r->actor_kind, "actor_id",
        (json_int_t)r->actor_id, "actor", r->actor, "action", r->action, "outcome", r->outcome,
        "patient_id", r->has_patient ? json_integer(r->patient_id) : json_null(), "patient", mrn,
        "object_type", *r->object_type ? r->object_type : NULL, "object_id",
        *r->object_id ? r->object_id : NULL, "source", *r->source ? r->source : NULL, "details",
        details, "break_glass", r->break_glass, "prev_hash", r->prev_hash, "hash", r->hash);
}

static const char *const csv_header[] = {"seq",     "time",        "actor_kind", "actor_id",
                                         "actor",   "action",      "outcome",    "patient_id",
                                         "patient", "object_type", "object_id",  "source",
                                         "details", "break_glass", "prev_hash",  "hash"};

static void csv_row(FILE *out, const struct store_audit_row *r, struct cli_names *mrns)
{
    char seq[24], when[40], actor_id[24], patient_id[24] = "";
    snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
    hx_time_format_rfc3339(r->time_us, when, sizeof(when));
    snprintf(actor_id, sizeof(actor_id), "%" PRId64, r->actor_id);
    if (r->has_patient)
        snprintf(patient_id, sizeof(patient_id), "%" PRId64, r->patient_id);
    const char *mrn = r->has_patient ? cli_name_of(mrns, r->patient_id) : "";
    audit_csv_cell(out, seq, false, false);
    audit_csv_cell(out, when, false, false);
    audit_csv_cell(out, r->actor_kind, true, false);
    audit_csv_cell(out, actor_id, false, false);
    audit_csv_cell(out, r->actor, true, false);
    audit_csv_cell(out, r->action, true, false);
    audit_csv_cell(out, r->outcome, true, false);
    audit_csv_cell(out, patient_id, false, false);
    audit_csv_cell(out, mrn, true, false);
    audit_csv_cell(out, r->object_type, true, false);
    audit_csv_cell(out, r->object_id, true, false);
    audit_csv_cell(out, r->source, true, false);
    audit_csv_cell(out, r->details, true, false);
    audit_csv_cell(out, r->break_glass ? "true" : "false", false, false);
    audit_csv_cell(out, r->prev_hash, true, false);
    audit_csv_cell(out, r->hash, true, true);
}

/* ---- list --------------------------------------------------------------------------------- */

struct list_ctx {
    json_t *arr;
    struct table *t;
    struct cli_names mrns;
};

static int list_one(void *arg, const struct store_audit_row *r)
{
    struct list_ctx *l = arg;
    if (l->arr) {
        json_array_append_new(l->arr, entry_json(r, &l->mrns));
        return 0;
    }
    char seq[24], when[40], actor[AUDIT_ACTOR_MAX + 16], object[AUDIT_OBJID_MAX + 40];
    snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
    cli_format_time(r->time_us, when, sizeof(when));
    snprintf(actor, sizeof(actor), "%s:%s", r->actor_kind, r->actor);
    snprintf(object, sizeof(object), "%s%s%s", r->object_type, *r->object_id ? " " : "",
             r->object_id);
    const char *mrn = r->has_patient ? cli_name_of(&l->mrns, r->patient_id) : "-";
    const char *cells[] = {seq, when, actor, r->action, r->outcome, mrn, *object ? object : "-"};
    table_add(l->t, cells);
    return 0;
}

static int audit_list_cmd(int argc, char **argv)
{
    struct args a = {.limit = 50};
    PARSE_OR_RETURN(&a, "audit list", list_help, argc, argv,
                    "limit since until patient actor action");
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, STORE_OPEN_READONLY)))
        return rc;
    struct store_audit_filter f = {.since_us = a.since_us,
                                   .until_us = a.until_us,
                                   .actor = a.actor,
                                   .action = a.action,
                                   .limit = (size_t)a.limit,
                                   .newest_first = true};
    if ((rc = resolve_patient(&ctx, a.patient, &f.patient_id))) {
        cli_close(&ctx);
        return rc;
    }
    static const char *const headers[] = {"SEQ",     "TIME",    "ACTOR", "ACTION",
                                          "OUTCOME", "PATIENT", "OBJECT"};
    struct table t;
    table_init(&t, 7, headers);
    struct list_ctx l = {.arr = a.o.json ? json_array() : NULL, .t = &t};
    l.mrns = (struct cli_names){.st = ctx.st, .patients = true};
    rc = store_audit_scan(ctx.st, &f, list_one, &l);
    cli_close(&ctx);
    return cli_finish_listing(rc, l.arr, &t, "listing the audit trail", "no audit entries");
}

/* ---- export ------------------------------------------------------------------------------- */

struct export_ctx {
    FILE *out;
    bool csv;
    int64_t n;
    struct cli_names mrns;
};

static int export_one(void *arg, const struct store_audit_row *r)
{
    struct export_ctx *x = arg;
    if (x->csv) {
        csv_row(x->out, r, &x->mrns);
    } else {
        json_t *j = entry_json(r, &x->mrns);
        fputs(x->n ? ",\n  " : "\n  ", x->out);
        json_dumpf(j, x->out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        json_decref(j);
    }
    x->n++;
    return ferror(x->out) ? -EIO : 0;
}

/* Records the export about to run; OUT: *seq its entry (the export covers those before). */
static int record_export(struct cli_ctx *ctx, const struct args *a, int64_t patient_id,
                         int64_t *seq)
{
    char since[40] = "", until[40] = "";
    if (a->since_us)
        hx_time_format_rfc3339(a->since_us, since, sizeof(since));
    if (a->until_us)
        hx_time_format_rfc3339(a->until_us, until, sizeof(until));
    json_t *d =
        json_pack("{s:s, s:s*, s:s*, s:s, s:s*, s:s*}", "format", a->format ? a->format : "json",
                  "since", *since ? since : NULL, "until", *until ? until : NULL, "to",
                  a->output ? "file" : "stdout", "actor", a->actor, "action", a->action);
    char *details = cli_details(d);
    struct audit_entry e = {.action = "audit.export",
                            .patient_id = patient_id,
                            .object_type = "audit",
                            .details = details};
    int rc = store_begin(ctx->st);
    if (rc == 0) {
        cli_audit_actor(&e);
        rc = audit_append(ctx->st, &e, seq);
    }
    rc = cli_end(ctx, rc);
    free(details);
    return rc;
}

static int audit_export_cmd(int argc, char **argv)
{
    struct args a = {0};
    PARSE_OR_RETURN(&a, "audit export", export_help, argc, argv,
                    "since until patient actor action format output");
    bool csv = a.format && strcmp(a.format, "csv") == 0;
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    struct store_audit_filter f = {
        .since_us = a.since_us, .until_us = a.until_us, .actor = a.actor, .action = a.action};
    if ((rc = resolve_patient(&ctx, a.patient, &f.patient_id))) {
        cli_close(&ctx);
        return rc;
    }
    FILE *out = stdout;
    if (a.output) {
        /* Patient ids and MRNs: readable by the owner only. */
        int fd = open(a.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || !(out = fdopen(fd, "w"))) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            cli_close(&ctx);
            return cli_fail("cannot write %s: %s", a.output, hx_strerror(-e));
        }
    }
    int64_t seq = 0;
    if ((rc = record_export(&ctx, &a, f.patient_id, &seq)) < 0) {
        cli_close(&ctx);
        if (out != stdout) {
            fclose(out);
            unlink(a.output); /* nothing is exported without its record */
        }
        return cli_store_fail("recording the export in the audit trail", rc);
    }
    f.before_seq = seq;
    struct export_ctx x = {.out = out, .csv = csv};
    x.mrns = (struct cli_names){.st = ctx.st, .patients = true};
    if (csv)
        for (size_t i = 0; i < HX_ARRAY_LEN(csv_header); i++)
            audit_csv_cell(out, csv_header[i], false, i + 1 == HX_ARRAY_LEN(csv_header));
    else
        fputs("[", out);
    rc = store_audit_scan(ctx.st, &f, export_one, &x);
    cli_close(&ctx);
    if (!csv)
        fputs(x.n ? "\n]\n" : "]\n", out);
    bool write_failed = fflush(out) != 0 || ferror(out);
    if (out != stdout && fclose(out) != 0)
        write_failed = true;
    if (rc == -EIO || (rc == 0 && write_failed))
        return cli_fail("writing the export failed%s%s", a.output ? ": " : "",
                        a.output ? a.output : "");
    if (rc < 0)
        return cli_store_fail("exporting the audit trail", rc);
    if (a.output)
        fprintf(stderr,
                "exported %" PRId64 " audit entries to %s (recorded as entry %" PRId64 ")\n", x.n,
                a.output, seq);
    return CLI_EXIT_OK;
}

/* ---- checkpoint --------------------------------------------------------------------------- */

static int audit_checkpoint_cmd(int argc, char **argv)
{
    struct args a = {0};
    PARSE_OR_RETURN(&a, "audit checkpoint", checkpoint_help, argc, argv, "");
    struct cli_ctx ctx;
    int rc;
    if ((rc = cli_open(&ctx, &a.o, 0)))
        return rc;
    struct audit_policy p;
    audit_policy_from_cfg(&p, &ctx.cfg);
    struct audit_entry who = {0};
    cli_audit_actor(&who);
    bool written = false;
    struct audit_anchor head;
    rc = audit_checkpoint(ctx.st, &p, &who, true, &written, &head);
    cli_close(&ctx);
    if (rc < 0)
        return cli_store_fail("writing the checkpoint", rc);
    if (a.o.json) {
        cli_print_json(json_pack(
            "{s:b, s:o, s:s?}", "written", written, "head",
            written ? json_pack("{s:I, s:s}", "seq", (json_int_t)head.seq, "hash", head.hash)
                    : json_null(),
            "anchor_file", written && *p.anchor_file ? p.anchor_file : NULL));
    } else if (!written) {
        printf("the audit trail is empty: nothing to checkpoint\n");
    } else {
        printf("audit checkpoint seq=%" PRId64 " hash=%s\n", head.seq, head.hash);
        if (*p.anchor_file)
            printf("appended to %s; keep a copy off this machine\n", p.anchor_file);
    }
    return CLI_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"verify", "check the hash chain; name the first bad entry", audit_verify_cmd},
        {"list", "show entries, newest first", audit_list_cmd},
        {"export", "stream entries as JSON or CSV (recorded as audit.export)", audit_export_cmd},
        {"checkpoint", "write the chain head to the trail and the anchor file now",
         audit_checkpoint_cmd},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("audit", group_help, subs, argc, argv);
}
