/*
 * medhub serve: runs the daemon on a data directory. --print-config shows the effective
 * configuration (secrets masked) and exits. Layer: cli. Thread: main, then the loop.
 */
#include "cli/cli.h"
#include "server/server.h"

#include <getopt.h>
#include <string.h>

static const char serve_help[] =
    "Usage: medhub serve [--config FILE] [--data-dir DIR] [--set SECTION.KEY=VALUE]...\n"
    "                    [--log-level LEVEL] [--print-config]\n"
    "\n"
    "Runs the medhub daemon until SIGINT or SIGTERM, then drains: stops accepting, commits\n"
    "every queued reading, closes the database. One daemon per data directory.\n"
    "\n"
    "  --config FILE      configuration file (default: DIR/medhub.conf when it exists)\n"
    "  --data-dir DIR     data directory (default: $MEDHUB_DATA_DIR, else ./medhub-data)\n"
    "  --set K=V          override a key, e.g. --set storage.sync=normal (repeatable)\n"
    "  --log-level L      error, warn, info (default) or debug; same as --set log.level=L\n"
    "  --print-config     print the effective configuration and where each value came\n"
    "                     from (secrets masked), then exit\n"
    "\n"
    "Precedence: built-in default < file < MEDHUB_<SECTION>_<KEY> environment < --set.\n"
    "Logs go to stderr, one line per event, as key=value fields.\n";

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"print-config", no_argument, NULL, 'P'},
        {"log-level", required_argument, NULL, 'L'},
        {0},
    };
    struct cli_opts o = {0};
    bool print_config = false;
    char level_set[64];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_HELP:
            fputs(serve_help, stdout);
            return CLI_EXIT_OK;
        case 'P':
            print_config = true;
            break;
        case 'L':
            snprintf(level_set, sizeof(level_set), "log.level=%s", optarg);
            cli_common_option(&o, CLI_OPT_SET, level_set);
            break;
        default:
            if (!cli_common_option(&o, c, optarg))
                return cli_usage_error("serve", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    struct cli_ctx ctx;
    int rc = cli_load_config(&ctx, &o);
    if (rc)
        return rc;
    if (print_config) {
        cfg_print(&ctx.cfg, stdout);
        return CLI_EXIT_OK;
    }
    return server_run(&ctx.cfg, NULL) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
