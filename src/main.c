/*
 * medhub: one binary, many subcommands. This file only dispatches; each command lives in
 * src/cli/cmd_*.c. Thread: main.
 */
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        puts("Usage: medhub version\n\nPrints the medhub version and the schema version it "
             "knows.");
        return 0;
    }
    printf("medhub %s (database schema %d)\n", MEDHUB_VERSION, STORE_SCHEMA_VERSION);
    return 0;
}

static const struct cli_command commands[] = {
    {"serve", "run the platform daemon", cmd_serve},
    {"demo", "start a first-look instance on loopback in a temporary data dir", cmd_demo},
    {"init", "create a data directory: database, server key, config template", cmd_init},
    {"patient", "add, list and show patients", cmd_patient},
    {"device", "enrol, list, assign and disable devices", cmd_device},
    {"obs", "query (and add) observations", cmd_obs},
    {"event", "list device events (pill taken, falls, buttons)", cmd_event},
    {"codes", "list the observation codes medhub understands", cmd_codes},
    {"news2", "score a set of observations with NEWS2", cmd_news2},
    {"alert", "list, acknowledge and resolve alerts", cmd_alert},
    {"rules", "clinical rule settings: protocols, overrides, escalation", cmd_rules},
    {"webhook", "notify other systems: webhooks, deliveries, dead letters", cmd_webhook},
    {"fhir", "print the FHIR R4 JSON of a read or search (no server needed)", cmd_fhir},
    {"audit", "the tamper-evident audit trail: verify, list, export", cmd_audit},
    {"user", "users, roles, wards, passwords, MFA and sessions", cmd_user},
    {"token", "API tokens for other systems", cmd_token},
    {"config", "check and print configuration; key reference", cmd_config},
    {"bench", "benchmarks (store ingest)", cmd_bench},
    {"version", "print the version", cmd_version},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fputs("Usage: medhub COMMAND [OPTIONS]\n\n"
          "medhub: a self-hosted healthcare IoT platform. It takes readings from medical\n"
          "devices, stores them durably, and serves them to clinicians.\n\nCommands:\n",
          out);
    for (const struct cli_command *c = commands; c->name; c++)
        fprintf(out, "  %-9s %s\n", c->name, c->summary);
    fputs("\nEvery command takes --help. Commands that use a data directory take\n"
          "--data-dir DIR (default: $MEDHUB_DATA_DIR, else ./medhub-data).\n",
          out);
}

int main(int argc, char **argv)
{
    /* A file-size limit must surface as EFBIG (a clear "disk full" error), not kill us. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0)
        return cmd_version(1, argv + 1);
    for (const struct cli_command *c = commands; c->name; c++)
        if (strcmp(name, c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "medhub: unknown command '%s' (see 'medhub --help')\n", name);
    return CLI_EXIT_USAGE;
}
