/*
 * Benchmarks run as `medhub bench ...`. Thread: main (each runs its own loop).
 */
#ifndef MEDHUB_BENCH_BENCH_H
#define MEDHUB_BENCH_BENCH_H

/* `medhub bench store [--patients N] [--codes N] [--seconds S] [--sync full|normal]
 *  [--batch-max N] [--out FILE.json] [--dir DIR]`: store ingest through the real writer.
 * argv[0] is "store". Returns a process exit code. */
int bench_store_main(int argc, char **argv);

/* `medhub bench --mqtt HOST:PORT [--devices N] [--rate R] [--qos 0|1] [--duration S]
 *  [--creds FILE] [--payload senml|senml-cbor] [--v311] [--window W] [--idle]
 *  [--out FILE.json]`: the MQTT load generator (src/bench/bench_mqtt.c), and
 * `medhub bench --provision N [--creds FILE] [--patients] [--data-dir DIR]`: enrols the
 * devices it connects as. argv[0] is "bench"; options start at argv[1]. Returns a process
 * exit code (1 when a connection failed or messages were lost). */
int bench_mqtt_main(int argc, char **argv);

/* `medhub bench rules [--patients N] [--readings N] [--runs N] [--out FILE.json]`: the rules
 * engine's cost per reading (src/bench/bench_rules.c). argv[0] is "rules". */
int bench_rules_main(int argc, char **argv);

/* `medhub bench sse --http HOST:PORT --token T --mqtt HOST:PORT --device ID --secret S
 *  [--clients N] [--rate R] [--seconds S] [--out FILE.json]`: live-stream fan-out latency
 * (src/bench/bench_sse.c). argv[0] is "sse". Returns 1 when deliveries were missing. */
int bench_sse_main(int argc, char **argv);

#include <stddef.h>
#include <sys/time.h>

/* Writes the CPU model from /proc/cpuinfo (JSON-safe: no quotes or backslashes), or
 * "unknown", into out. */
void bench_cpu_model(char *out, size_t len);

/* A struct timeval (getrusage) in seconds. */
double bench_tv_s(struct timeval tv);

#endif
