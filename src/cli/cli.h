/*
 * Shared plumbing for the administration commands: option conventions, loading the
 * configuration, opening the store, printing tables and JSON, and error reporting.
 * Every command works directly on the data directory and is safe while the daemon runs.
 * Exit codes: 0 success, 1 failure, 2 usage error.
 * Thread: main (commands are single-threaded, except serve/demo which run the loop).
 */
#ifndef MEDHUB_CLI_CLI_H
#define MEDHUB_CLI_CLI_H

#include "core/cfg.h"
#include "security/audit.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

/* A command: name, one-line summary, entry point (argv[0] is the command name). */
struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* Options every data-dir command understands. */
struct cli_opts {
    const char *data_dir; /* --data-dir, NULL for the default */
    const char *config;   /* --config FILE, NULL for <data-dir>/medhub.conf */
    const char *sets[64]; /* --set section.key=value, in order */
    int n_sets;
    bool json; /* --json */
};

/* A loaded configuration plus an open store connection. */
struct cli_ctx {
    struct cfg cfg;
    struct store *st; /* NULL until cli_open_store */
};

/* Prints "medhub: error: ..." (one line) to stderr and returns CLI_EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "medhub CMD: ..." plus a hint to use --help, returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Handles a common option (--data-dir, --config, --set, --json) for getopt_long codes
 * CLI_OPT_*; returns true when it was one. */
enum {
    CLI_OPT_DATA_DIR = 1000,
    CLI_OPT_CONFIG,
    CLI_OPT_SET,
    CLI_OPT_JSON,
    CLI_OPT_HELP,
};
#define CLI_COMMON_OPTIONS                                                                         \
    {"data-dir", required_argument, NULL, CLI_OPT_DATA_DIR},                                       \
        {"config", required_argument, NULL, CLI_OPT_CONFIG},                                       \
        {"set", required_argument, NULL, CLI_OPT_SET}, {"json", no_argument, NULL, CLI_OPT_JSON},  \
    {                                                                                              \
        "help", no_argument, NULL, CLI_OPT_HELP                                                    \
    }
bool cli_common_option(struct cli_opts *o, int code, const char *arg);

/* Loads configuration for o. On error prints it and returns CLI_EXIT_FAIL. */
int cli_load_config(struct cli_ctx *ctx, const struct cli_opts *o);
/* Loads configuration and opens the store (flags from enum store_open_flags). */
int cli_open(struct cli_ctx *ctx, const struct cli_opts *o, unsigned flags);
void cli_close(struct cli_ctx *ctx);

/* Reports a store error for action ("adding patient") and returns CLI_EXIT_FAIL. */
int cli_store_fail(const char *action, int rc);

/*
 * Audited changes (docs/audit.md): a command that changes data does it in one transaction
 * with its audit entry,
 *     rc = store_begin(ctx.st);  ...the change...;  rc = cli_audit(&ctx, &e);
 *     rc = cli_end(&ctx, rc);
 * The actor is the OS user running the command (kind "cli", the effective uid and its login
 * name, source "local"): the one identity the operating system vouches for. A name given with
 * --by is a claim and goes into details.
 */
/* Fills e's actor fields for this process. */
void cli_audit_actor(struct audit_entry *e);
/* Appends e, with the actor filled in, inside the transaction open on ctx->st. */
int cli_audit(struct cli_ctx *ctx, struct audit_entry *e);
/* Ends the transaction open on ctx->st: commits when rc is 0, else rolls back. After a
 * commit, writes an audit checkpoint if one is due (a failure there is reported on stderr,
 * not returned: the change is committed). Returns rc, or the commit's error. */
int cli_end(struct cli_ctx *ctx, int rc);
/* JSON text of j, compact, keys in insertion order, for audit details (takes j; returns
 * owned, free with free(); NULL only when j is NULL). */
char *cli_details(json_t *j);

/* Simple column-aligned text tables. Cells are copied. */
struct table {
    int n_cols;
    const char *headers[12];
    char **cells; /* n_rows * n_cols owned strings */
    size_t n_rows;
    size_t cap;
};
void table_init(struct table *t, int n_cols, const char *const *headers);
void table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *out);
void table_release(struct table *t);

/* Maps internal ids (devices or patients) to their external ids for listings, which touch
 * few: a small cache in front of the store. Zero-initialise, then set st and patients. */
struct cli_names {
    struct store *st;   /* borrowed */
    bool patients;      /* patient MRNs, else device uids */
    int64_t ids[32];    /* cached internal ids */
    char names[32][64]; /* their external ids (DEV_ID_MAX, PAT_MRN_MAX) */
    int n;              /* entries used */
};
/* The external id of id (device uid or patient MRN), "#ID" when the record is gone, NULL for
 * 0. Valid until the cache's next call. */
const char *cli_name_of(struct cli_names *c, int64_t id);

/* Ends a listing: on rc < 0 reports the store error for action (and frees arr); else prints
 * arr (--json; takes it) or the table (or empty_text when it has no rows and empty_text is
 * not NULL). Releases the table. Returns the exit code. */
int cli_finish_listing(int rc, json_t *arr, struct table *t, const char *action,
                       const char *empty_text);

/* Prints j (takes the reference) as indented JSON plus a newline to stdout. */
void cli_print_json(json_t *j);

/* Formats a time for people: RFC 3339 UTC with seconds. buf >= 32 bytes. */
void cli_format_time(int64_t t_us, char *buf, size_t len);

/* Parses a time option (see hx_time_parse). Prints a usage error on failure. */
int cli_parse_time(const char *cmd, const char *opt, const char *s, int64_t *out);

/* What cli_init_data_dir created. */
struct init_result {
    bool db_created;     /* the database file was new */
    bool key_created;    /* server.key was new */
    bool config_created; /* medhub.conf template was written */
    bool ca_created;     /* tls/ device CA or server certificate was new */
    int schema_version;  /* schema of the database now */
};

/* Creates or completes the data directory of cfg (see `medhub init --help`) without
 * overwriting anything. Returns 0 or a negative error with one line of detail in err. */
int cli_init_data_dir(const struct cfg *cfg, struct init_result *res, char *err, size_t err_len);

/* Commands (cmd_*.c). */
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_patient(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_obs(int argc, char **argv);
int cmd_event(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_codes(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_news2(int argc, char **argv);
int cmd_alert(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_webhook(int argc, char **argv);
int cmd_fhir(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_token(int argc, char **argv);
/* medhub device cert (cmd_device_cert.c): issue a TLS client certificate. */
int device_cert_cmd(int argc, char **argv);
/* medhub device send / device commands (cmd_device_send.c): commands to devices. */
int device_send_cmd(int argc, char **argv);
int device_commands_cmd(int argc, char **argv);

/* Runs a group command ("patient add ...") from a table of subcommands. */
int cli_dispatch(const char *group, const char *group_help, const struct cli_command *subs,
                 int argc, char **argv);

#endif
