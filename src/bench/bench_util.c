/*
 * Small helpers shared by the benchmarks: the machine's CPU model for result files and
 * rusage time conversion. Layer: bench. Thread: any.
 */
#include "bench/bench.h"

#include <stdio.h>
#include <string.h>

void bench_cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        size_t n = 0;
        for (const char *p = colon + 2; *p && *p != '\n' && n + 1 < len; p++) {
            if (*p != '"' && *p != '\\')
                out[n++] = *p;
        }
        out[n] = '\0';
        break;
    }
    fclose(f);
}

double bench_tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}
