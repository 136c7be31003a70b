/*
 * libFuzzer target for the configuration parser (STYLE.md 8: the config file parser is a fuzz
 * target). Each input is loaded three ways through cfg_load_string with a fixed data dir and
 * no real environment: as the whole file, as one --set override and as one environment
 * entry. Successful loads are printed to a memory stream to exercise cfg_print.
 * Layer: tests. Thread: main.
 */
#include "core/cfg.h"
#include "core/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void print_and_discard(const struct cfg *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    cfg_print(cfg, f);
    fclose(f);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CFG_FILE_MAX + 1)
        return 0;
    struct cfg *cfg = hx_xmalloc(sizeof(*cfg));
    char err[512];
    struct cfg_sources src = {.data_dir = "/tmp/medhub-fuzz"};

    /* The input as a configuration file (not NUL-terminated: cfg must not read past it). */
    char *text = hx_xmalloc(size ? size : 1);
    memcpy(text, data, size);
    if (cfg_load_string(cfg, text, size, "fuzz.conf", &src, err, sizeof(err)) == 0)
        print_and_discard(cfg);
    free(text);

    /* The input as one --set argument and as one environment entry. */
    char *s = hx_xstrndup((const char *)data, size);
    const char *sets[] = {s};
    struct cfg_sources set_src = {
        .data_dir = "/tmp/medhub-fuzz", .overrides = sets, .n_overrides = 1};
    if (cfg_load_string(cfg, "", 0, NULL, &set_src, err, sizeof(err)) == 0)
        print_and_discard(cfg);
    char *env_entry = hx_xasprintf("MEDHUB_%s", s);
    char *env[] = {env_entry, NULL};
    struct cfg_sources env_src = {.data_dir = "/tmp/medhub-fuzz", .env = env};
    if (cfg_load_string(cfg, "", 0, NULL, &env_src, err, sizeof(err)) == 0)
        print_and_discard(cfg);
    free(env_entry);
    free(s);
    free(cfg);
    return 0;
}
