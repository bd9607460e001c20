/* cmd_bench.c — `oncolm bench`: prompt-processing and generation speed in
 * the manner of llama-bench (pp: one batch of N prompt tokens; tg: N tokens
 * generated one at a time), tokens/s averaged over repetitions after a
 * warm-up, as a markdown table or JSON. Token ids are random (seeded), as
 * llama-bench does: speed does not depend on the text. Encoder models
 * (bert) get the embedding test instead: passages of S tokens per second
 * (embS), for each --seq length. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "oncolm/compute.h"
#include "oncolm/encoder.h"
#include "oncolm/gguf.h"
#include "oncolm/llm.h"

static const char *usage =
    "usage: oncolm bench -m MODEL.gguf [-m MODEL2.gguf ...] [options]\n"
    "  -p, --n-prompt N      prompt tokens processed in one batch (default 512; 0 = skip)\n"
    "  -n, --n-gen N         tokens generated one by one (default 128; 0 = skip)\n"
    "  -t, --threads LIST    thread counts, comma-separated (default: all cores)\n"
    "  -r, --repetitions N   runs averaged per test (default 3, after one warm-up)\n"
    "  --kv f16|f32          KV cache type (default f16)\n"
    "  --seq LIST            encoders: passage lengths in tokens, comma-separated (default 128,512)\n"
    "  --passages N          encoders: passages per run (default 32)\n"
    "  --json                one JSON object per line instead of the table\n";

/* One timed run: pp tokens in one batch, or tg tokens one by one after a
 * 1-token start. Returns seconds, < 0 on error (printed). */
static double run_once(onc_llm_ctx *c, const int32_t *ids, int n_pp, int n_tg) {
    onc_error err = {0};
    onc_llm_seq_clear(c, 0);
    double t0 = cli_now();
    if (n_pp > 0) {
        onc_llm_batch b = {.n_tokens = n_pp, .tokens = ids};
        if (onc_llm_decode(c, &b, &err) != ONC_OK) return cli_fail(&err), -1;
        return cli_now() - t0;
    }
    for (int i = 0; i < n_tg; i++) {
        onc_llm_batch b = {.n_tokens = 1, .tokens = ids + i};
        if (onc_llm_decode(c, &b, &err) != ONC_OK) return cli_fail(&err), -1;
    }
    return cli_now() - t0;
}

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Print one result row (table or JSON). */
static void report(bool json, const char *model, const char *desc, double mib, int nth, const char *test, int n_items,
                   const char *unit, double mean, double sd, int reps) {
    if (json) {
        printf("{\"model\":");
        cli_json_str(stdout, model, strlen(model));
        printf(",\"description\":");
        cli_json_str(stdout, desc, strlen(desc));
        printf(",\"threads\":%d,\"test\":\"%s\",\"n_%s\":%d,\"%s_per_s\":%.3f,\"stddev\":%.3f,"
               "\"repetitions\":%d,\"simd\":\"%s\"}\n",
               nth, test, unit, n_items, unit, mean, sd, reps, onc_simd_name(onc_simd_level_get()));
    } else {
        printf("| %s | %.1f | %s | %d | %s | %.2f ± %.2f %s/s |\n", model, mib, desc, nth, test, mean, sd, unit);
    }
    fflush(stdout);
}

/* Encoder test: n_pass random passages of each length, embedded per run. */
static int bench_encoder(const char *model, const int *threads, int n_threads, const int64_t *seqs, int n_seqs,
                         int n_pass, int reps, bool json) {
    for (int ti = 0; ti < n_threads; ti++) {
        onc_encoder_params p = onc_encoder_default_params();
        p.n_threads = threads[ti];
        p.pooling = ONC_POOLING_MEAN;
        onc_error err = {0};
        onc_encoder *e = onc_encoder_load(model, &p, &err);
        if (!e) return cli_fail(&err);
        const onc_hparams *hp = onc_encoder_hparams(e);
        const int64_t n_params = onc_hparams_n_params(hp);
        char desc[160];
        snprintf(desc, sizeof desc, "%s %.1fM params, %u layers, embd %u", onc_arch_name(hp->arch), n_params / 1e6,
                 hp->n_layer, hp->n_embd);
        const int nth = threads[ti] > 0 ? threads[ti] : (int)sysconf(_SC_NPROCESSORS_ONLN);
        for (int si = 0; si < n_seqs; si++) {
            const int S = (int)seqs[si];
            if ((uint32_t)S > onc_encoder_max_tokens(e)) {
                cli_errorf("%s: --seq %d is longer than the model's %u tokens", model, S, onc_encoder_max_tokens(e));
                onc_encoder_free(e);
                return CLI_EXIT_FAIL;
            }
            int32_t *ids = malloc((size_t)n_pass * S * sizeof *ids);
            onc_encoder_input *in = malloc((size_t)n_pass * sizeof *in);
            float *out = malloc((size_t)n_pass * onc_encoder_dim(e) * sizeof(float));
            if (!ids || !in || !out) {
                free(ids), free(in), free(out), onc_encoder_free(e);
                cli_errorf("out of memory");
                return CLI_EXIT_FAIL;
            }
            uint64_t s = 1234567;
            for (int64_t i = 0; i < (int64_t)n_pass * S; i++) ids[i] = (int32_t)(lcg(&s) % hp->n_vocab);
            for (int i = 0; i < n_pass; i++) in[i] = (onc_encoder_input){ids + (size_t)i * S, NULL, S};
            double sum = 0, sum2 = 0;
            int rc = CLI_EXIT_OK;
            for (int r = -1; r < reps && rc == CLI_EXIT_OK; r++) { /* r = -1: warm-up */
                const double t0 = cli_now();
                if (onc_encoder_embed_tokens(e, in, (size_t)n_pass, out, &err) != ONC_OK) rc = cli_fail(&err);
                const double ps = n_pass / (cli_now() - t0);
                if (r >= 0) sum += ps, sum2 += ps * ps;
            }
            free(ids), free(in), free(out);
            if (rc != CLI_EXIT_OK) {
                onc_encoder_free(e);
                return rc;
            }
            const double mean = sum / reps, sd = reps > 1 ? sqrt(fmax(0, (sum2 - sum * sum / reps) / (reps - 1))) : 0;
            char test[32];
            snprintf(test, sizeof test, "emb%d", S);
            struct stat stb;
            const double mib = stat(model, &stb) == 0 ? stb.st_size / 1048576.0 : 0;
            report(json, model, desc, mib, nth, test, n_pass, "passages", mean, sd, reps);
        }
        onc_encoder_free(e);
    }
    return CLI_EXIT_OK;
}

/* True when the file's general.architecture is an encoder (bert). */
static bool is_encoder(const char *path) {
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open(path, &err);
    if (!g) return false; /* the loader reports the error */
    onc_hparams hp;
    bool enc = false;
    if (onc_hparams_from_gguf(g, &hp, &err) == ONC_OK) {
        enc = hp.arch == ONC_ARCH_BERT;
        onc_hparams_clear(&hp);
    }
    onc_gguf_close(g);
    return enc;
}

int cmd_bench(int argc, char **argv) {
    const char *models[16];
    int n_models = 0, reps = 3, threads[16], n_threads = 0;
    int64_t n_pp = 512, n_tg = 128, v, seqs[16] = {128, 512}, n_pass = 32;
    int n_seqs = 2;
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
        } else if (!strcmp(a, "--seq")) {
            n_seqs = 0;
            for (char *tok = strtok(argv[++i], ","); tok && n_seqs < 16; tok = strtok(NULL, ","))
                if (!cli_parse_i64("--seq", tok, 1, 1 << 16, &seqs[n_seqs++])) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--passages")) {
            if (!cli_parse_i64(a, argv[++i], 1, 1 << 20, &n_pass)) return CLI_EXIT_USAGE;
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
        if (is_encoder(models[mi])) {
            const int rc = bench_encoder(models[mi], threads, n_threads, seqs, n_seqs, (int)n_pass, reps, json);
            if (rc != CLI_EXIT_OK) return rc;
            continue;
        }
        onc_error err = {0};
        onc_llm *m = onc_llm_load(models[mi], &err);
        if (!m) return cli_fail(&err);
        const int32_t V = onc_llm_n_vocab(m);
        const int n_ids = (int)(n_pp > n_tg ? n_pp : n_tg) + 1;
        int32_t *ids = malloc((size_t)n_ids * sizeof *ids);
        uint64_t s = 1234567;
        for (int i = 0; i < n_ids; i++) ids[i] = (int32_t)(lcg(&s) % (uint64_t)V);
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
                const double mean = sum / reps,
                             sd = reps > 1 ? sqrt(fmax(0, (sum2 - sum * sum / reps) / (reps - 1))) : 0;
                char test_name[32];
                snprintf(test_name, sizeof test_name, pp ? "pp%d" : "tg%d", pp ? pp : tg);
                report(json, models[mi], desc, onc_llm_weight_bytes(m) / 1048576.0, nth, test_name, pp + tg, "tokens",
                       mean, sd, reps);
            }
            onc_llm_ctx_free(c);
        }
        free(ids);
        onc_llm_free(m);
    }
    return CLI_EXIT_OK;
}
