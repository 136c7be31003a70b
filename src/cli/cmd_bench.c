/*
 * medhub bench: benchmarks. `bench store` measures store ingest through the real writer
 * thread (src/bench/bench_store.c). Layer: cli. Thread: main.
 */
#include "bench/bench.h"
#include "cli/cli.h"

int cmd_bench(int argc, char **argv)
{
    static const struct cli_command subs[] = {
        {"store", "store ingest: observations/s and enqueue-to-durable latency", bench_store_main},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("bench", "Usage: medhub bench COMMAND [OPTIONS]", subs, argc, argv);
}
