/* cmd_bench.c — `oncolm bench`: prompt-processing and generation speed in
 * the manner of llama-bench (pp: one batch of N prompt tokens; tg: N tokens
 * generated one at a time), tokens/s averaged over repetitions after a
 * warm-up, as a markdown table or JSON. Token ids are random (seeded), as
 * llama-bench does: speed does not depend on the text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "oncolm/compute.h"
#include "oncolm/llm.h"

static const char *usage =
    "usage: oncolm bench -m MODEL.gguf [-m MODEL2.gguf ...] [options]\n"
    "  -p, --n-prompt N      prompt tokens processed in one batch (default 512; 0 = skip)\n"
    "  -n, --n-gen N         tokens generated one by one (default 128; 0 = skip)\n"
    "  -t, --threads LIST    thread counts, comma-separated (default: all cores)\n"
    "  -r, --repetitions N   runs averaged per test (default 3, after one warm-up)\n"
    "  --kv f16|f32          KV cache type (default f16)\n"
    "  --json                one JSON object per line instead of the table\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One timed run: pp tokens in one batch, or tg tokens one by one after a
 * 1-token start. Returns seconds, < 0 on error (printed). */
static double run_once(onc_llm_ctx *c, const int32_t *ids, int n_pp, int n_tg) {
    onc_error err = {0};
    onc_llm_seq_clear(c, 0);
    double t0 = now_s();
    if (n_pp > 0) {
        onc_llm_batch b = {.n_tokens = n_pp, .tokens = ids};
        if (onc_llm_decode(c, &b, &err) != ONC_OK) return cli_fail(&err), -1;
        return now_s() - t0;
    }
    for (int i = 0; i < n_tg; i++) {
        onc_llm_batch b = {.n_tokens = 1, .tokens = ids + i};
        if (onc_llm_decode(c, &b, &err) != ONC_OK) return cli_fail(&err), -1;
    }
    return now_s() - t0;
}

int cmd_bench(int argc, char **argv) {
    const char *models[16];
    int n_models = 0, reps = 3, threads[16], n_threads = 0;
    int64_t n_pp = 512, n_tg = 128, v;
    onc_type kv = ONC_TYPE_F16;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!val) {
            return cli_usage_error(usage, "%s needs a value", a);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (n_models == 16) return cli_usage_error(usage, "at most 16 models");
            models[n_models++] = argv[++i];
        } else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
            if (!cli_parse_i64(a, argv[++i], 0, 1 << 16, &n_pp)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
            if (!cli_parse_i64(a, argv[++i], 0, 1 << 16, &n_tg)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            if (!cli_parse_i64(a, argv[++i], 1, 1000, &v)) return CLI_EXIT_USAGE;
            reps = (int)v;
        } else if (!strcmp(a, "--kv")) {
            kv = !strcmp(argv[++i], "f32") ? ONC_TYPE_F32 : ONC_TYPE_F16;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            char *list = argv[++i];
            for (char *tok = strtok(list, ","); tok && n_threads < 16; tok = strtok(NULL, ",")) {
                if (!cli_parse_i64("--threads", tok, 1, 1024, &v)) return CLI_EXIT_USAGE;
                threads[n_threads++] = (int)v;
            }
        } else {
            return cli_usage_error(usage, "unknown argument '%s'", a);
        }
    }
    if (n_models == 0) return cli_usage_error(usage, "a model is needed (-m FILE)");
    if (n_threads == 0) threads[n_threads++] = 0;
    if (!json)
        printf("| model | size MiB | params | threads | test | tokens/s |\n|---|---|---|---|---|---|\n");
    for (int mi = 0; mi < n_models; mi++) {
        onc_error err = {0};
        onc_llm *m = onc_llm_load(models[mi], &err);
        if (!m) return cli_fail(&err);
        const int32_t V = onc_llm_n_vocab(m);
        const int n_ids = (int)(n_pp > n_tg ? n_pp : n_tg) + 1;
        int32_t *ids = malloc((size_t)n_ids * sizeof *ids);
        uint64_t s = 1234567;
        for (int i = 0; i < n_ids; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            ids[i] = (int32_t)((s >> 33) % (uint64_t)V);
        }
        char desc[160];
        onc_llm_describe(m, desc, sizeof desc);
        for (int ti = 0; ti < n_threads; ti++) {
            onc_llm_ctx_params cp = onc_llm_ctx_default_params();
            cp.n_threads = threads[ti];
            cp.n_ctx = (uint32_t)(n_pp > n_tg ? n_pp : n_tg) + 8;
            cp.n_batch = n_pp > 0 ? (uint32_t)n_pp : 512;
            cp.kv_type = kv;
            onc_llm_ctx *c = onc_llm_ctx_new(m, &cp, &err);
            if (!c) {
                free(ids);
                onc_llm_free(m);
                return cli_fail(&err);
            }
            const int nth = threads[ti] > 0 ? threads[ti] : (int)sysconf(_SC_NPROCESSORS_ONLN);
            for (int test = 0; test < 2; test++) {
                const int pp = test == 0 ? (int)n_pp : 0, tg = test == 1 ? (int)n_tg : 0;
                if (pp + tg == 0) continue;
                if (run_once(c, ids, pp, tg) < 0) return CLI_EXIT_FAIL; /* warm-up */
                double sum = 0, sum2 = 0;
                for (int r = 0; r < reps; r++) {
                    double dt = run_once(c, ids, pp, tg);
                    if (dt < 0) return CLI_EXIT_FAIL;
                    const double tps = (pp + tg) / dt;
                    sum += tps;
                    sum2 += tps * tps;
                }
                const double mean = sum / reps, sd = reps > 1 ? sqrt(fmax(0, (sum2 - sum * sum / reps) / (reps - 1))) : 0;
                char test_name[32];
                snprintf(test_name, sizeof test_name, pp ? "pp%d" : "tg%d", pp ? pp : tg);
                if (json) {
                    printf("{\"model\":");
                    cli_json_str(stdout, models[mi], strlen(models[mi]));
                    printf(",\"description\":");
                    cli_json_str(stdout, desc, strlen(desc));
                    printf(",\"threads\":%d,\"test\":\"%s\",\"n_tokens\":%d,\"tokens_per_s\":%.3f,\"stddev\":%.3f,"
                           "\"repetitions\":%d,\"simd\":\"%s\"}\n",
                           nth, test_name, pp + tg, mean, sd, reps, onc_simd_name(onc_simd_level_get()));
                } else {
                    printf("| %s | %.1f | %s | %d | %s | %.2f ± %.2f |\n", models[mi],
                           onc_llm_weight_bytes(m) / 1048576.0, desc, nth, test_name, mean, sd);
                }
                fflush(stdout);
            }
            onc_llm_ctx_free(c);
        }
        free(ids);
        onc_llm_free(m);
    }
    return CLI_EXIT_OK;
}
