/* model_greedy — greedy continuation of a prompt, for the numpy oracle.
 *
 *   model_greedy [--threads N] [--kv f32|f16] MODEL.gguf N_NEW ID...
 *
 * Prints the N_NEW argmax continuation ids (ties -> lowest id), space-
 * separated on one line. The prompt runs as one batch, then one token per
 * decode through the KV cache (F32 unless --kv f16). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/llm.h"

int main(int argc, char **argv) {
    int threads = 1, i = 1;
    onc_type kv = ONC_TYPE_F32;
    for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--kv")) kv = !strcmp(argv[i + 1], "f16") ? ONC_TYPE_F16 : ONC_TYPE_F32;
        else break;
    }
    if (argc - i < 3) {
        fprintf(stderr, "usage: model_greedy [--threads N] [--kv f32|f16] MODEL.gguf N_NEW ID...\n");
        return 2;
    }
    const char *model_path = argv[i];
    const int n_new = atoi(argv[i + 1]), n = argc - i - 2;
    int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
    for (int j = 0; j < n; j++) ids[j] = atoi(argv[i + 2 + j]);
    onc_error err = {0};
    onc_llm *m = onc_llm_load(model_path, &err);
    onc_llm_ctx_params cp = onc_llm_ctx_default_params();
    cp.n_threads = threads;
    cp.kv_type = kv;
    onc_llm_ctx *c = m ? onc_llm_ctx_new(m, &cp, &err) : NULL;
    if (!c) {
        fprintf(stderr, "model_greedy: %s\n", err.msg);
        return 1;
    }
    const int32_t V = onc_llm_n_vocab(m);
    onc_llm_batch b = {.n_tokens = n, .tokens = ids};
    for (int g = 0; g < n_new; g++) {
        if (onc_llm_decode(c, &b, &err) != ONC_OK) {
            fprintf(stderr, "model_greedy: %s\n", err.msg);
            return 1;
        }
        const float *lg = onc_llm_logits(c, b.n_tokens - 1);
        int32_t best = 0;
        for (int32_t v = 1; v < V; v++)
            if (lg[v] > lg[best]) best = v;
        printf(g ? " %d" : "%d", best);
        ids[0] = best;
        b = (onc_llm_batch){.n_tokens = 1, .tokens = ids};
    }
    printf("\n");
    free(ids);
    onc_llm_ctx_free(c);
    onc_llm_free(m);
    return 0;
}
