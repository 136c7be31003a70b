/*
 * Benchmarks run as `medhub bench ...`. Thread: main (each runs its own loop).
 */
#ifndef MEDHUB_BENCH_BENCH_H
#define MEDHUB_BENCH_BENCH_H

/* `medhub bench store [--patients N] [--codes N] [--seconds S] [--sync full|normal]
 *  [--batch-max N] [--out FILE.json] [--dir DIR]`: store ingest through the real writer.
 * argv[0] is "store". Returns a process exit code. */
int bench_store_main(int argc, char **argv);

#endif
