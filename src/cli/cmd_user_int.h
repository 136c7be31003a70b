/*
 * Private to the user, token and init commands (cmd_user.c, cmd_user_access.c,
 * cmd_token.c, cmd_init.c): argument parsing, the server key, and handing out new
 * credentials (shown once, then wiped).
 * Thread: main.
 */
#ifndef MEDHUB_CLI_CMD_USER_INT_H
#define MEDHUB_CLI_CMD_USER_INT_H

#include "cli/cli.h"
#include "security/auth.h"
#include "security/password.h"
#include "store/store_auth.h"

#include <stdbool.h>
#include <stdint.h>

/* A user subcommand's options and positional arguments. */
struct user_args {
    struct cli_opts o;     /* common options */
    const char *pos[2];    /* positional arguments */
    const char *role;      /* --role */
    const char *patient;   /* --patient MRN */
    const char *display;   /* --display-name */
    const char *qr;        /* --qr FILE */
    const char *items[32]; /* --ward / --add / --remove values, in order */
    bool item_add[32];     /* per item: true for --ward / --add, false for --remove */
    int n_items;           /* entries in items */
    bool password_stdin;   /* --password-stdin */
    bool no_mfa;           /* --no-mfa */
    bool clear;            /* --clear */
};

/* Parses argv for a subcommand with n_args positional arguments (what) and the options named
 * in extra ("role ward ..."). Returns 0, -1 when it printed the help, or an exit status. */
int cli_user_parse(const char *cmd, const char *help, int argc, char **argv, int n_args,
                   const char *what, const char *extra, struct user_args *a);

/* Runs cli_user_parse and maps its -1 (help printed) to exit 0. */
#define USER_PARSE_OR_RETURN(...)                                                                  \
    do {                                                                                           \
        int prc_ = cli_user_parse(__VA_ARGS__);                                                    \
        if (prc_ < 0)                                                                              \
            return CLI_EXIT_OK;                                                                    \
        if (prc_ > 0)                                                                              \
            return prc_;                                                                           \
    } while (0)

/* Credentials made for a user, to show once. */
struct cli_new_creds {
    char password[SEC_PASSWORD_GEN_LEN + 1]; /* generated one-time password, "" when none */
    struct auth_enrolment mfa;               /* TOTP secret, URI, QR; secret "" when none */
};
void cli_creds_release(struct cli_new_creds *c);
/* Adds "password" (only when generated), "totp_secret" and "otpauth_uri" to j. */
void cli_creds_json(json_t *j, const struct cli_new_creds *c);
/* Prints the credentials and the "shown once" note. */
void cli_creds_print(const struct cli_new_creds *c);
/* Writes the enrolment QR code (SVG) to path. Returns an exit status. */
int cli_write_qr(const char *path, const struct auth_enrolment *e);

/* True for 1-63 characters of A-Z a-z 0-9 . _ - @. */
bool cli_user_name_is_valid(const char *name);
/* Loads server.key of ctx's data directory; prints the error. Returns an exit status. */
int cli_server_key(const struct cli_ctx *ctx, uint8_t key[SEC_KEY_LEN]);
/* Reads a password from the first line of stdin into out (cap bytes) and checks the policy
 * for user name. Returns an exit status (the message printed). */
int cli_read_password(const char *cmd, const char *name, char *out, size_t cap);
/* Hashes password into u (NULL: generates a one-time password into c->password and sets
 * must_change_password). Returns an exit status. */
int cli_set_password(struct store_user *u, const char *password, struct cli_new_creds *c);
/* Fills u's password and (when mfa) a provisioned TOTP secret, without writing anything: the
 * caller adds u. Returns an exit status; on success release c after showing it. */
int cli_user_prepare(struct cli_ctx *ctx, const uint8_t key[SEC_KEY_LEN], struct store_user *u,
                     const char *password, bool mfa, struct cli_new_creds *c);
/* Appends the audit entry of a change to user or token name (object_type "user" or
 * "token") inside the transaction open on ctx->st; details taken (may be NULL). Returns 0 or
 * a store error. Secrets never go into details. */
int cli_user_audit(struct cli_ctx *ctx, const char *action, const char *object_type,
                   const char *name, json_t *details);

/* Loads user name, printing "no user named" when absent. Returns an exit status. */
int cli_user_load(struct cli_ctx *ctx, const char *name, struct store_user *u);
/* OUT: *n the user's live sessions under pol. Returns 0 or a store error. */
int cli_count_sessions(struct store *st, const struct auth_policy *pol, int64_t user_id,
                       int64_t *n);

/* cmd_user_access.c */
int cli_user_reset_password(int argc, char **argv);
int cli_user_reset_mfa(int argc, char **argv);
int cli_user_unlock(int argc, char **argv);
int cli_user_sessions(int argc, char **argv);
int cli_user_revoke_sessions(int argc, char **argv);
int cli_user_break_glass(int argc, char **argv);

#endif
