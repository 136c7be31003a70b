/*
 * `medhub bench rules`: the rules engine's evaluation cost per reading, on its own (no I/O:
 * the sink only counts). 1000 patients under the adult-ward protocol (thresholds, NEWS2,
 * forecasts) send full NEWS2 sets (7 readings per message) whose values wander through the
 * alerting bands, so episodes are raised, updated and resolved as they would be on a ward.
 * Reports ns per reading (median of the runs) and the transitions per second it produced.
 * Layer: bench. Thread: main.
 */
#include "bench/bench.h"
#include "cli/cli.h"
#include "core/hxtime.h"
#include "domain/codes.h"
#include "rules/engine.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help[] =
    "Usage: medhub bench rules [--patients N] [--readings N] [--runs N] [--out FILE.json]\n\n"
    "Measures the rules engine's cost per reading (ns), in memory, single-threaded:\n"
    "N patients (default 1000) under adult_ward with NEWS2, full 7-reading sets, values\n"
    "drifting through the alerting bands. Default 2,000,000 readings per run, 5 runs; the\n"
    "median is reported.\n";

static void count(void *arg, const struct alert *a, enum alert_event ev, const char *who,
                  const char *target)
{
    (void)a, (void)who, (void)target;
    uint64_t *n = arg;
    n[ev]++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One run: returns ns per reading; transitions into n[]. */
static double run(uint32_t patients, uint64_t readings, uint64_t n[5])
{
    struct rules_sink sink = {.changed = count, .arg = n};
    struct rules_engine *e;
    rules_engine_new(&e, &sink, 1);
    int64_t t = hx_time_now_us();
    struct obs o[7];
    memset(o, 0, sizeof(o));
    static const uint16_t codes[7] = {
        OBS_CODE_RESP_RATE,  OBS_CODE_SPO2,          OBS_CODE_O2_FLOW,    OBS_CODE_BP_SYS,
        OBS_CODE_HEART_RATE, OBS_CODE_CONSCIOUSNESS, OBS_CODE_TEMPERATURE};
    uint64_t msgs = readings / 7;
    double t0 = now_s();
    for (uint64_t m = 0; m < msgs; m++) {
        uint32_t p = (uint32_t)(m % patients);
        uint64_t k = m / patients; /* this patient's message number */
        t += 1000;                 /* 1 ms apart overall */
        /* Slow waves through the bands, a different phase per patient. */
        double w = (double)((k + p) % 40) / 40.0;
        double vals[7] = {14 + 14 * w, 98 - 10 * w, 0, 130 - 45 * w, 70 + 70 * w, 1, 37 + 2.2 * w};
        for (int i = 0; i < 7; i++) {
            o[i] = (struct obs){.patient_id = p + 1,
                                .device_id = p + 1,
                                .effective_us = t,
                                .received_us = t,
                                .value = vals[i],
                                .code = codes[i]};
        }
        rules_engine_observe(e, o, 7, t);
        if ((m & 1023) == 0)
            rules_engine_tick(e, t);
    }
    double ns = (now_s() - t0) * 1e9 / (double)(msgs * 7);
    rules_engine_free(e);
    return ns;
}

int bench_rules_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"patients", required_argument, NULL, 'p'}, {"readings", required_argument, NULL, 'r'},
        {"runs", required_argument, NULL, 'n'},     {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},           {0},
    };
    uint32_t patients = 1000, runs = 5;
    uint64_t readings = 2000000;
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'h':
            fputs(help, stdout);
            return CLI_EXIT_OK;
        case 'p':
            patients = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || patients == 0 || patients > 1000000)
                return cli_usage_error("bench rules", "--patients: 1 to 1000000");
            break;
        case 'r':
            readings = strtoull(optarg, &end, 10);
            if (*end || readings < 7000)
                return cli_usage_error("bench rules", "--readings: at least 7000");
            break;
        case 'n':
            runs = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || runs == 0 || runs > 99)
                return cli_usage_error("bench rules", "--runs: 1 to 99");
            break;
        case 'o':
            out = optarg;
            break;
        default:
            return cli_usage_error("bench rules", "unknown option");
        }
    }
    double ns[99];
    uint64_t n[5] = {0};
    for (uint32_t i = 0; i < runs; i++) {
        memset(n, 0, sizeof(n));
        ns[i] = run(patients, readings, n);
        printf("run %u: %.0f ns/reading (%.2f M readings/s)\n", i + 1, ns[i], 1e3 / ns[i]);
    }
    qsort(ns, runs, sizeof(ns[0]), cmp_double);
    double med = ns[runs / 2];
    printf("rules engine: median %.0f ns per reading over %u runs of %llu readings, %u "
           "patients; per run %llu raised, %llu updated, %llu escalated, %llu resolved\n",
           med, runs, (unsigned long long)readings, patients, (unsigned long long)n[0],
           (unsigned long long)n[1], (unsigned long long)n[2], (unsigned long long)n[4]);
    if (out) {
        FILE *f = fopen(out, "w");
        if (!f)
            return cli_fail("cannot write '%s'", out);
        char cpu[128];
        bench_cpu_model(cpu, sizeof(cpu));
        fprintf(f,
                "{\"benchmark\": \"rules-eval\", \"cpu\": \"%s\", \"patients\": %u, "
                "\"readings_per_run\": %llu, \"runs\": %u, \"ns_per_reading_median\": %.1f, "
                "\"ns_per_reading_min\": %.1f, \"ns_per_reading_max\": %.1f, "
                "\"raised_per_run\": %llu, \"resolved_per_run\": %llu, "
                "\"command\": \"medhub bench rules --patients %u --readings %llu --runs %u\"}\n",
                cpu, patients, (unsigned long long)readings, runs, med, ns[0], ns[runs - 1],
                (unsigned long long)n[0], (unsigned long long)n[4], patients,
                (unsigned long long)readings, runs);
        fclose(f);
    }
    return CLI_EXIT_OK;
}
