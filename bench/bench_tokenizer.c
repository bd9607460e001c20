/* bench_tokenizer.c — tokenization throughput on clinical text.
 *
 *   bench_tokenizer [--mb N] [--reps R] [VOCAB.gguf ...]
 *
 * Text: the built-in clinical sample repeated to N MiB (default 1). For each
 * vocabulary — the GGUF files given (real models' vocabularies, e.g. the
 * conformance files ggml-vocab-*.gguf), or by default vocabularies of the
 * three kinds trained on the sample text — tokenizes the text R times
 * (default 5) and prints the best time, MB/s and tokens/s, then checks the
 * round trip (detokenize) once. Markdown table on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oncolm/gguf.h"
#include "oncolm/model_create.h"
#include "oncolm/tokenizer.h"
#include "oncolm/vocab.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int bench_one(const char *label, const onc_tokenizer *tok, const char *text, size_t len, int reps) {
    onc_error err = {0};
    onc_tokenize_params tp = onc_tokenize_default_params();
    int32_t *ids = NULL;
    size_t n = 0;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        free(ids);
        double t0 = now_s();
        if (onc_tokenize(tok, text, len, &tp, &ids, &n, &err) != ONC_OK) {
            fprintf(stderr, "bench_tokenizer: %s: %s\n", label, err.msg);
            return 1;
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    onc_detokenize_params dp = onc_detokenize_default_params();
    dp.no_clean_spaces = true;
    char *back = NULL;
    size_t back_len = 0;
    double t0 = now_s();
    if (onc_detokenize(tok, ids, n, &dp, &back, &back_len, &err) != ONC_OK) {
        fprintf(stderr, "bench_tokenizer: %s: %s\n", label, err.msg);
        free(ids);
        return 1;
    }
    double dt_detok = now_s() - t0;
    printf("| %s | %s | %zu | %.3f | %.1f | %.2f | %.3f |\n", label, onc_vocab_kind_name(onc_tokenizer_kind(tok)), n,
           best, len / 1048576.0 / best, n / best / 1e6, dt_detok);
    free(back);
    free(ids);
    return 0;
}

int main(int argc, char **argv) {
    double mb = 1;
    int reps = 5, first_file = argc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_tokenizer [--mb N] [--reps R] [VOCAB.gguf ...]\n");
            return 2;
        } else {
            first_file = i;
            break;
        }
    }
    if (mb <= 0 || reps < 1) return 2;
    size_t sample_len, len = (size_t)(mb * 1048576);
    const char *sample = onc_sample_clinical_text(&sample_len);
    char *text = malloc(len + 1);
    if (!text) return 1;
    for (size_t i = 0; i < len; i += sample_len) memcpy(text + i, sample, i + sample_len <= len ? sample_len : len - i);
    text[len] = '\0';
    printf("# %.1f MiB of clinical text, best of %d runs\n", len / 1048576.0, reps);
    printf("| vocabulary | kind | tokens | tokenize s | MB/s | Mtok/s | detokenize s |\n|---|---|---|---|---|---|---|\n");
    int rc = 0;
    onc_error err = {0};
    if (first_file < argc) {
        for (int i = first_file; i < argc && !rc; i++) {
            onc_gguf *g = onc_gguf_open(argv[i], &err);
            onc_tokenizer *tok = g ? onc_tokenizer_from_gguf(g, &err) : NULL;
            if (!tok) {
                fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
                rc = 1;
            } else {
                const char *base = strrchr(argv[i], '/');
                rc = bench_one(base ? base + 1 : argv[i], tok, text, len, reps);
            }
            onc_tokenizer_free(tok);
            onc_gguf_close(g);
        }
    } else {
        const onc_vocab_kind kinds[] = {ONC_VOCAB_SPM, ONC_VOCAB_BPE, ONC_VOCAB_WPM};
        const char *labels[] = {"trained spm 1200", "trained bpe llama-bpe 1200", "trained wpm 1200"};
        for (int k = 0; k < 3 && !rc; k++) {
            onc_vocab_train_params p = onc_vocab_train_default_params(kinds[k]);
            p.vocab_size = 1200;
            onc_vocab_spec *spec = onc_vocab_train(sample, sample_len, &p, &err);
            onc_tokenizer *tok = spec ? onc_tokenizer_from_spec(spec, &err) : NULL;
            if (!tok) {
                fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
                rc = 1;
            } else {
                rc = bench_one(labels[k], tok, text, len, reps);
            }
            onc_tokenizer_free(tok);
            onc_vocab_spec_free(spec);
        }
    }
    free(text);
    return rc;
}
