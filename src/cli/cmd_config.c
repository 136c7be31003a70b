/*
 * medhub config check|print|reference: validate a configuration without starting anything,
 * print the effective configuration (secrets masked), print the key reference for docs.
 * Layer: cli. Thread: main.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <string.h>

static int parse(const char *cmd, const char *help, int argc, char **argv, struct cli_opts *o)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0}};
    int c;
    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == CLI_OPT_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (!cli_common_option(o, c, optarg))
            return cli_usage_error(cmd, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static int config_check(int argc, char **argv)
{
    struct cli_opts o;
    int rc = parse("config check",
                   "Usage: medhub config check [--config FILE] [--data-dir DIR] [--set K=V]\n\n"
                   "Loads and validates the configuration (file, MEDHUB_* environment, --set)\n"
                   "and reports the first error with its file, line and key.\n",
                   argc, argv, &o);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    struct cli_ctx ctx;
    if ((rc = cli_load_config(&ctx, &o)))
        return rc;
    printf("configuration ok\n");
    return CLI_EXIT_OK;
}

static int config_print(int argc, char **argv)
{
    struct cli_opts o;
    int rc = parse("config print",
                   "Usage: medhub config print [--config FILE] [--data-dir DIR] [--set K=V]\n\n"
                   "Prints the effective configuration with where each value came from;\n"
                   "secrets are masked. Same as 'medhub serve --print-config'.\n",
                   argc, argv, &o);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    struct cli_ctx ctx;
    if ((rc = cli_load_config(&ctx, &o)))
        return rc;
    cfg_print(&ctx.cfg, stdout);
    return CLI_EXIT_OK;
}

static int config_reference(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        puts("Usage: medhub config reference\n\nPrints every configuration key as a Markdown "
             "table (docs/configuration.md is made from it).");
        return CLI_EXIT_OK;
    }
    cfg_print_reference(stdout);
    return CLI_EXIT_OK;
}

int cmd_config(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"check", "validate the configuration", config_check},
        {"print", "print the effective configuration (secrets masked)", config_print},
        {"reference", "print the key reference (Markdown)", config_reference},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("config", "Usage: medhub config COMMAND [OPTIONS]", subs, argc, argv);
}
