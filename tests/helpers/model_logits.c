/* model_logits — logits of every position of one sequence, for the numpy
 * forward-pass oracle (tests/oracle/test_forward_oracle.py).
 *
 *   model_logits [--threads N] [--mode batch|incremental|chunks] [--ctx N]
 *                [--kv f32|f16] [--lora FILE:SCALE]... MODEL.gguf OUT.f32 ID...
 *
 * Runs the ids at positions 0..n-1 and writes float32 logits [n][n_vocab],
 * row-major, little-endian. batch: one decode of all ids; incremental: one
 * id per decode (through the KV cache); chunks: decodes of 3 ids. The KV
 * cache is F32 unless --kv f16. --lora (repeatable, up to 4) applies LoRA
 * adapters (GGUF file or PEFT folder) with the given scale. Exit 1 with a
 * message on error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/llm.h"

int main(int argc, char **argv) {
    int threads = 1, i = 1;
    const char *mode = "batch";
    uint32_t n_ctx = 0;
    onc_type kv = ONC_TYPE_F32;
    char lora_path[4][1024];
    float lora_scale[4];
    int n_lora = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        if (i + 1 >= argc) break;
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
        else if (!strcmp(argv[i], "--ctx")) n_ctx = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--kv")) kv = !strcmp(argv[i + 1], "f16") ? ONC_TYPE_F16 : ONC_TYPE_F32;
        else if (!strcmp(argv[i], "--lora") && n_lora < 4) {
            const char *colon = strrchr(argv[i + 1], ':');
            if (!colon) return fprintf(stderr, "model_logits: --lora wants FILE:SCALE\n"), 2;
            snprintf(lora_path[n_lora], sizeof lora_path[n_lora], "%.*s", (int)(colon - argv[i + 1]), argv[i + 1]);
            lora_scale[n_lora++] = strtof(colon + 1, NULL);
        }
        else break;
    }
    if (argc - i < 3) {
        fprintf(stderr, "usage: model_logits [--threads N] [--mode batch|incremental|chunks] [--ctx N] [--kv f32|f16] "
                        "MODEL.gguf OUT.f32 ID...\n");
        return 2;
    }
    const char *model_path = argv[i], *out_path = argv[i + 1];
    const int n = argc - i - 2;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    bool *want = malloc((size_t)n * sizeof *want);
    for (int j = 0; j < n; j++) ids[j] = atoi(argv[i + 2 + j]), want[j] = true;
    onc_error err = {0};
    int rc = 1;
    onc_llm *m = NULL;
    onc_llm_ctx *c = NULL;
    onc_lora *loras[4] = {0};
    float *out = NULL;
    FILE *f = NULL;
    if (!(m = onc_llm_load(model_path, &err))) goto done;
    onc_llm_ctx_params cp = onc_llm_ctx_default_params();
    cp.n_threads = threads;
    cp.kv_type = kv;
    if (n_ctx) cp.n_ctx = n_ctx;
    if (cp.n_ctx == 0 || (int)cp.n_ctx < n) cp.n_ctx = (uint32_t)n;
    if (!(c = onc_llm_ctx_new(m, &cp, &err))) goto done;
    for (int k = 0; k < n_lora; k++)
        if (!(loras[k] = onc_lora_load(lora_path[k], onc_llm_gguf(m), onc_llm_hparams(m), &err))) goto done;
    if (n_lora && onc_llm_ctx_set_adapters(c, (const onc_lora *const *)loras, lora_scale, (size_t)n_lora, &err))
        goto done;
    const int64_t V = onc_llm_n_vocab(m);
    out = malloc((size_t)n * V * sizeof *out);
    const int step = !strcmp(mode, "incremental") ? 1 : !strcmp(mode, "chunks") ? 3 : n;
    for (int j = 0; j < n; j += step) {
        const int cnt = n - j < step ? n - j : step;
        onc_llm_batch b = {.n_tokens = cnt, .tokens = ids + j, .logits = want + j};
        if (onc_llm_decode(c, &b, &err) != ONC_OK) goto done;
        for (int t = 0; t < cnt; t++) memcpy(out + (size_t)(j + t) * V, onc_llm_logits(c, t), (size_t)V * sizeof *out);
    }
    f = fopen(out_path, "wb");
    if (!f || fwrite(out, sizeof *out, (size_t)n * V, f) != (size_t)n * V || fclose(f) != 0) {
        snprintf(err.msg, sizeof err.msg, "cannot write %s", out_path);
        f = NULL;
        goto done;
    }
    f = NULL;
    rc = 0;
done:
    if (rc) fprintf(stderr, "model_logits: %s\n", err.msg);
    if (f) fclose(f);
    free(out), free(ids), free(want);
    onc_llm_ctx_free(c);
    for (int k = 0; k < n_lora; k++) onc_lora_free(loras[k]);
    onc_llm_free(m);
    return rc;
}
