/*
 * medhub bench: benchmarks. `bench store` measures store ingest through the real writer
 * thread (src/bench/bench_store.c); `bench --mqtt HOST:PORT ...` is the MQTT load generator
 * and `bench --provision N` enrols its devices (src/bench/bench_mqtt.c).
 * Layer: cli. Thread: main.
 */
#include "bench/bench.h"
#include "cli/cli.h"

#include <string.h>

int cmd_bench(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"store", "store ingest: observations/s and enqueue-to-durable latency", bench_store_main},
        {"rules", "rules engine: evaluation cost per reading (ns)", bench_rules_main},
        {"sse", "live stream: fan-out publish-to-receipt latency over N clients", bench_sse_main},
        {NULL, NULL, NULL},
    };
    /* The load generator takes options only: `medhub bench --mqtt ...`, `--provision N`. */
    if (argc >= 2 && strncmp(argv[1], "--", 2) == 0 && strcmp(argv[1], "--help") != 0)
        return bench_mqtt_main(argc, argv);
    return cli_dispatch("bench",
                        "Usage: medhub bench COMMAND [OPTIONS]\n"
                        "       medhub bench --mqtt HOST:PORT [--devices N] [--rate R] "
                        "[--qos 0|1] [--duration S] ...\n"
                        "       medhub bench --provision N [--creds FILE] [--patients] "
                        "[--data-dir DIR]\n"
                        "\n"
                        "--mqtt runs the MQTT load generator against medhub or any broker;\n"
                        "--provision enrols the devices it connects as. Run\n"
                        "'medhub bench --mqtt X --help' for every option of both.",
                        subs, argc, argv);
}
