/* cmd_demo.c — `oncolm demo`: an end-to-end run, on generated data, of
 * everything oncolm can do so far. It is the project's main job until the
 * task pipelines exist; each subsystem adds a step here.
 *
 * Steps (all data is made here: no download, no patient text):
 *   1. vocabularies: train SentencePiece-BPE, byte-level BPE (Llama-3 style)
 *      and WordPiece on the built-in clinical sample text;
 *   2. tokenizers: a sample note through each, with an exact round trip and
 *      the throughput on 1 MB of text;
 *   3. models: a small random-weight llama and BERT GGUF written to the
 *      output folder, quantized to Q8_0 / Q4_K_M / Q6_K, with sizes and the
 *      quantization error of one weight matrix;
 *   4. kernels: the SIMD level in use, and a quantized matrix-vector product
 *      checked against the plain-C reference and timed;
 *   5. inference: the llama model and its Q4_K_M copy loaded, a prompt in a
 *      chat template, sampled and greedy generation with speeds, the
 *      KV-cache path checked against a full recomputation, and the
 *      log-likelihood of the generated text;
 *   6. encoders: embeddings, classification and reranking with BERT models;
 *   7. synthetic oncology records with known answers;
 *   8. the note store: ingest, filtered BM25, dense and hybrid search, and
 *      their evaluation per question category (demo_retrieval.c);
 *   9. evaluation tables of the studies on rule baselines (demo_eval.c);
 *  10. LoRA fine-tuning of a small llama on the CT reports, base vs
 *      adapter on the test reports (demo_finetune.c).
 * Every step checks its own result; a failed check makes the demo exit 1. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "demo.h"
#include "oncolm/eval_retrieval.h"
#include "oncolm/arch.h"
#include "oncolm/chat.h"
#include "oncolm/compute.h"
#include "oncolm/encoder.h"
#include "oncolm/generate.h"
#include "oncolm/llm.h"
#include "oncolm/gguf.h"
#include "oncolm/model_create.h"
#include "oncolm/quantize.h"
#include "oncolm/synth.h"
#include "oncolm/tokenizer.h"
#include "oncolm/types.h"
#include "oncolm/vocab.h"

static const char *usage =
    "usage: oncolm demo [--out DIR] [--quick]\n"
    "  --out DIR   folder for the files the demo makes (default ./oncolm-demo)\n"
    "  --quick     smaller model and inputs (seconds instead of a minute)\n"
    "Runs, on generated data, everything oncolm does so far: vocabulary training,\n"
    "tokenization, model creation, quantization, the compute kernels, text generation\n"
    "the encoders (embeddings, classification, reranking), the synthetic corpus, and\n"
    "the note store with BM25/dense/hybrid retrieval evaluated as trec_eval.\n";


static const char *const vocab_label[3] = {"SentencePiece BPE (llama)", "byte-level BPE (llama-bpe)",
                                           "WordPiece (bert)"};

static const char sample_note[] =
    "Assessment: 64-year-old woman with cT2N1M0 adenocarcinoma of the pancreatic head, "
    "s/p 4 cycles of FOLFIRINOX. CT 11/02: interval decrease of the mass (3.1 -> 2.4 cm); "
    "no new hepatic lesions.\nPlan: SBRT 33 Gy in 5 fractions, then re-stage. "
    "Toxicity: grade 1 fatigue, no nausea. Pt. agrees — follow-up in 2 weeks.";

double demo_now(void) { return cli_now(); }

void demo_check(demo *d, bool ok, const char *what) {
    if (!ok) {
        d->failures++;
        printf("  CHECK FAILED: %s\n", what);
    }
}

char *demo_path(const demo *d, const char *name) {
    size_t n = strlen(d->out_dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", d->out_dir, name);
    return p;
}

/* Step 1: learn the three vocabulary kinds on the clinical sample. */
static int step_vocab(demo *d) {
    printf("\n[1/11] Vocabularies learned from the built-in clinical sample text\n");
    size_t len;
    const char *text = onc_sample_clinical_text(&len);
    const onc_vocab_kind kinds[3] = {ONC_VOCAB_SPM, ONC_VOCAB_BPE, ONC_VOCAB_WPM};
    for (int k = 0; k < 3; k++) {
        onc_error err = {0};
        onc_vocab_train_params p = onc_vocab_train_default_params(kinds[k]);
        p.vocab_size = d->quick ? 600 : 1200;
        if (kinds[k] == ONC_VOCAB_BPE) p.pre = "llama-bpe";
        double t0 = demo_now();
        d->vocab[k] = onc_vocab_train(text, len, &p, &err);
        if (!d->vocab[k]) return cli_fail(&err);
        d->tok[k] = onc_tokenizer_from_spec(d->vocab[k], &err);
        if (!d->tok[k]) return cli_fail(&err);
        printf("  %-28s %5d tokens  (%.2f s on %zu bytes)\n", vocab_label[k], onc_tokenizer_n_tokens(d->tok[k]),
               demo_now() - t0, len);
    }
    return CLI_EXIT_OK;
}

/* Print the first pieces of ids, escaped, on one line. */
static void print_pieces(const onc_tokenizer *tok, const int32_t *ids, size_t n, size_t max) {
    printf("    ");
    for (size_t i = 0; i < n && i < max; i++) {
        const char *piece;
        size_t pl = onc_token_to_piece(tok, ids[i], true, &piece);
        putchar('[');
        for (size_t j = 0; j < pl; j++) {
            unsigned char c = (unsigned char)piece[j];
            if (c == '\n') fputs("\\n", stdout);
            else if (c < 0x20) printf("\\x%02X", c);
            else putchar(c);
        }
        putchar(']');
    }
    printf("%s\n", n > max ? " ..." : "");
}

/* Step 2: tokenize the sample note, check the exact round trip, time 1 MB. */
static int step_tokenize(demo *d) {
    printf("\n[2/11] Tokenizing a clinical note (%zu bytes)\n", strlen(sample_note));
    size_t big_len = d->quick ? (256u << 10) : (1u << 20);
    size_t sample_len;
    const char *sample = onc_sample_clinical_text(&sample_len);
    char *big = malloc(big_len + 1);
    if (!big) {
        cli_errorf("demo: out of memory");
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < big_len; i += sample_len)
        memcpy(big + i, sample, i + sample_len <= big_len ? sample_len : big_len - i);
    big[big_len] = '\0';
    for (int k = 0; k < 3; k++) {
        onc_error err = {0};
        onc_tokenize_params tp = onc_tokenize_default_params();
        int32_t *ids = NULL;
        size_t n = 0;
        if (onc_tokenize(d->tok[k], sample_note, strlen(sample_note), &tp, &ids, &n, &err) != ONC_OK) {
            free(big);
            return cli_fail(&err);
        }
        /* Give the detokenizer the ids without the BOS we added: llama.cpp
         * then drops the SentencePiece space prefix, which gives the input
         * back byte for byte (with remove_special it keeps that space). */
        onc_detokenize_params dp = onc_detokenize_default_params();
        dp.remove_special = true;
        dp.no_clean_spaces = true;
        const int32_t bos = onc_tokenizer_special(d->tok[k], ONC_SPECIAL_BOS);
        const size_t skip = k != 2 && n > 0 && ids[0] == bos ? 1 : 0;
        char *back = NULL;
        size_t back_len = 0;
        if (onc_detokenize(d->tok[k], ids + skip, n - skip, &dp, &back, &back_len, &err) != ONC_OK) {
            free(ids);
            free(big);
            return cli_fail(&err);
        }
        /* WordPiece lower-cases and strips accents: compare with that in mind. */
        bool exact = back_len == strlen(sample_note) && memcmp(back, sample_note, back_len) == 0;
        printf("  %-28s %3zu tokens, round trip %s\n", vocab_label[k], n,
               exact ? "exact" : k == 2 ? "normalised (lower-cased, as BERT)" : "DIFFERENT");
        print_pieces(d->tok[k], ids, n, 14);
        if (!exact && k != 2) {
            size_t at = 0;
            while (at < back_len && sample_note[at] == back[at]) at++;
            printf("    round trip differs at byte %zu: got \"%.20s\"\n", at, back + at);
        }
        if (k != 2) demo_check(d, exact, "detokenize(tokenize(note)) == note");
        else demo_check(d, back_len > 0, "WordPiece detokenization gives text");
        free(back);
        free(ids);

        double t0 = demo_now();
        if (onc_tokenize(d->tok[k], big, big_len, &tp, &ids, &n, &err) != ONC_OK) {
            free(big);
            return cli_fail(&err);
        }
        double dt = demo_now() - t0;
        printf("    %.1f MB of clinical text -> %zu tokens in %.3f s (%.1f MB/s)\n", big_len / 1048576.0, n, dt,
               big_len / 1048576.0 / dt);
        free(ids);
    }
    free(big);
    return CLI_EXIT_OK;
}

/* Relative RMS error of tensor `name` in file q against the same tensor in
 * the f32 file ref: sqrt(sum (q - ref)^2 / sum ref^2). */
static double tensor_rel_rmse(const onc_gguf *ref, const onc_gguf *q, const char *name, onc_type *qtype) {
    const onc_gguf_tensor *a = onc_gguf_find_tensor(ref, name), *b = onc_gguf_find_tensor(q, name);
    if (!a || !b || a->type != ONC_TYPE_F32 || a->ne[0] != b->ne[0] || a->ne[1] != b->ne[1]) return NAN;
    *qtype = b->type;
    const int64_t n = a->ne[0], rows = a->ne[1];
    float *row = malloc((size_t)n * sizeof *row);
    if (!row) return NAN;
    const size_t qrow = onc_type_row_size(b->type, n);
    double num = 0, den = 0;
    for (int64_t r = 0; r < rows; r++) {
        onc_dequantize_row(b->type, (const char *)b->data + r * qrow, row, n);
        const float *x = (const float *)a->data + r * n;
        for (int64_t i = 0; i < n; i++) {
            num += (double)(row[i] - x[i]) * (row[i] - x[i]);
            den += (double)x[i] * x[i];
        }
    }
    free(row);
    return sqrt(num / den);
}

static off_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Step 3: create models, quantize, measure the error. */
static int step_models(demo *d) {
    printf("\n[3/11] Models with random weights and the trained vocabularies, written to %s/\n", d->out_dir);
    int rc = CLI_EXIT_FAIL;
    char *llama = demo_path(d, "llama-f32.gguf"), *bert = demo_path(d, "bert-f32.gguf");
    onc_gguf *ref = NULL;
    onc_error err = {0};
    if (!llama || !bert) goto done;

    onc_model_create_params mp = onc_model_create_default_params();
    mp.arch = ONC_ARCH_LLAMA;
    mp.preset = "tiny";
    mp.vocab = d->vocab[0];
    mp.pad_vocab_to = -1;
    if (!d->quick) {
        mp.n_layer = 4;
        mp.n_embd = 512;
        mp.n_head = 8;
        mp.n_head_kv = 4;
        mp.n_ff = 1536;
    }
    onc_model_create_report rep;
    double t0 = demo_now();
    if (onc_model_create(llama, &mp, &rep, &err) != ONC_OK) goto fail;
    printf("  llama  %8.2f M parameters, %3d tensors, vocabulary %d: %s (%.1f MiB, %.2f s)\n", rep.n_params / 1e6,
           rep.n_tensors, rep.n_vocab, llama, file_size(llama) / 1048576.0, demo_now() - t0);

    mp = onc_model_create_default_params();
    mp.arch = ONC_ARCH_BERT;
    mp.preset = "tiny";
    mp.vocab = d->vocab[2];
    mp.pad_vocab_to = -1;
    t0 = demo_now();
    if (onc_model_create(bert, &mp, &rep, &err) != ONC_OK) goto fail;
    printf("  bert   %8.2f M parameters, %3d tensors, vocabulary %d: %s (%.1f MiB, %.2f s)\n", rep.n_params / 1e6,
           rep.n_tensors, rep.n_vocab, bert, file_size(bert) / 1048576.0, demo_now() - t0);

    ref = onc_gguf_open(llama, &err);
    if (!ref) goto fail;
    printf("  quantized copies of the llama model (relative RMS error of blk.0.ffn_down.weight):\n");
    const char *const ftypes[] = {"q8_0", "q6_K", "q5_K_M", "q4_K_M"};
    for (size_t i = 0; i < sizeof ftypes / sizeof *ftypes; i++) {
        char name[64];
        snprintf(name, sizeof name, "llama-%s.gguf", ftypes[i]);
        char *out = demo_path(d, name);
        if (!out) goto done;
        onc_quantize_params qp = onc_quantize_default_params();
        if (!onc_ftype_from_name(ftypes[i], &qp.ftype)) {
            cli_errorf("demo: unknown file type %s", ftypes[i]);
            free(out);
            goto done;
        }
        onc_quantize_stats st;
        t0 = demo_now();
        if (onc_quantize_file(llama, out, &qp, &st, &err) != ONC_OK) {
            free(out);
            goto fail;
        }
        double dt = demo_now() - t0;
        onc_gguf *q = onc_gguf_open(out, &err);
        if (!q) {
            free(out);
            goto fail;
        }
        onc_type qt = ONC_TYPE_F32;
        double e = tensor_rel_rmse(ref, q, "blk.0.ffn_down.weight", &qt);
        printf("    %-7s %7.2f MiB (%4.2fx smaller), ffn_down as %-5s error %.4f  (%.2f s)\n", ftypes[i],
               file_size(out) / 1048576.0, (double)st.src_bytes / st.dst_bytes, onc_type_traits_of(qt)->name, e, dt);
        /* Expected error of 4.5-8.5 bit block formats on Gaussian weights:
         * well under 10 %; anything larger means a broken format. */
        demo_check(d, isfinite(e) && e < 0.10, "quantization error below 10 %");
        onc_gguf_close(q);
        free(out);
    }
    rc = CLI_EXIT_OK;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    onc_gguf_close(ref);
    free(llama);
    free(bert);
    return rc;
}

/* Step 4: one quantized matrix-vector product, SIMD against plain C. */
static int step_kernels(demo *d) {
    onc_simd_level best = onc_simd_level_get();
    printf("\n[4/11] Compute kernels: SIMD level %s (detected %s)\n", onc_simd_name(best),
           onc_simd_name(onc_simd_detect()));
    const int64_t rows = d->quick ? 512 : 2048, cols = 2048;
    const onc_type types[] = {ONC_TYPE_Q4_K, ONC_TYPE_Q8_0, ONC_TYPE_F16};
    float *w = malloc((size_t)(rows * cols) * sizeof *w), *x = malloc((size_t)cols * sizeof *x);
    float *y_ref = malloc((size_t)rows * sizeof *y_ref), *y = malloc((size_t)rows * sizeof *y);
    void *wq = malloc(onc_type_row_size(ONC_TYPE_F16, cols) * (size_t)rows * 2);
    void *xq = malloc(onc_activation_row_size(ONC_TYPE_F32, cols) + 4096);
    int rc = CLI_EXIT_OK;
    if (!w || !x || !y_ref || !y || !wq || !xq) {
        cli_errorf("demo: out of memory");
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int64_t i = 0; i < rows * cols; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        w[i] = (float)((int64_t)(s >> 33) % 2001 - 1000) / 1000.0f;
    }
    for (int64_t i = 0; i < cols; i++) x[i] = sinf((float)i * 0.37f);
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const onc_type ty = types[t];
        const size_t rs = onc_type_row_size(ty, cols);
        for (int64_t r = 0; r < rows; r++) onc_quantize_row(ty, w + r * cols, (char *)wq + r * rs, cols);
        onc_convert_activation_row(ty, xq, x, cols);
        onc_simd_force(ONC_SIMD_SCALAR);
        onc_matvec_rows(y_ref, ty, wq, rs, xq, cols, 0, rows);
        onc_simd_force(ONC_SIMD_COUNT);
        const int reps = 20;
        double t0 = demo_now();
        for (int k = 0; k < reps; k++) onc_matvec_rows(y, ty, wq, rs, xq, cols, 0, rows);
        double dt = (demo_now() - t0) / reps;
        double max_rel = 0, scale = 0;
        for (int64_t r = 0; r < rows; r++) scale = fmax(scale, fabs(y_ref[r]));
        for (int64_t r = 0; r < rows; r++) max_rel = fmax(max_rel, fabs(y[r] - y_ref[r]) / scale);
        printf("  %-5s %lldx%lld matvec: %.3f ms (%.1f GB/s of weights), max |simd - reference| / max|y| = %.1e\n",
               onc_type_traits_of(ty)->name, (long long)rows, (long long)cols, dt * 1e3, rs * rows / dt / 1e9,
               max_rel);
        demo_check(d, max_rel < 1e-4, "SIMD kernel agrees with the plain-C reference");
    }
done:
    free(w);
    free(x);
    free(y_ref);
    free(y);
    free(wq);
    free(xq);
    return rc;
}

/* Step 5: run the models made in step 3. */
static int step_inference(demo *d) {
    printf("\n[5/11] Inference with the random-weight llama models (the text is noise: the weights are random)\n");
    const char *const files[] = {"llama-f32.gguf", "llama-q4_K_M.gguf"};
    int rc = CLI_EXIT_OK;
    for (size_t f = 0; f < 2 && rc == CLI_EXIT_OK; f++) {
        char *path = demo_path(d, files[f]);
        onc_error err = {0};
        onc_llm *m = path ? onc_llm_load(path, &err) : NULL;
        onc_llm_ctx *c = NULL;
        int32_t *ids = NULL;
        char *prompt = NULL;
        onc_gen_result r = {0}, g = {0};
        if (!m) goto fail;
        onc_llm_ctx_params cp = onc_llm_ctx_default_params();
        cp.n_ctx = 256;
        if (!(c = onc_llm_ctx_new(m, &cp, &err))) goto fail;
        char desc[160];
        printf("  %s: %s\n", files[f], onc_llm_describe(m, desc, sizeof desc));
        const onc_chat_message msgs[2] = {{"system", "You summarise oncology notes."}, {"user", sample_note}};
        size_t plen, n;
        if (onc_chat_apply(ONC_CHAT_LLAMA2_SYS, msgs, 2, NULL, &prompt, &plen, &err) != ONC_OK) goto fail;
        onc_tokenize_params tp = onc_tokenize_default_params();
        tp.parse_special = true;
        if (onc_tokenize(onc_llm_tokenizer(m), prompt, plen, &tp, &ids, &n, &err) != ONC_OK) goto fail;
        onc_gen_params gp = onc_gen_default_params();
        gp.max_tokens = 24;
        gp.ignore_eog = true;
        gp.sampling.seed = 42;
        if (onc_generate(c, 0, ids, (int32_t)n, &gp, &r, &err) != ONC_OK) goto fail;
        printf("    prompt (llama2 chat template): %zu tokens in %.3f s (%.0f tokens/s)\n", n, r.t_prompt_s,
               n / r.t_prompt_s);
        printf("    sampled, seed 42: %d tokens at %.0f tokens/s, finish %s\n", r.n_tokens,
               r.n_tokens > 1 ? (r.n_tokens - 1) / r.t_gen_s : 0, onc_finish_name(r.finish));
        onc_llm_seq_clear(c, 0);
        gp.sampling = onc_sampler_greedy_params();
        if (onc_generate(c, 0, ids, (int32_t)n, &gp, &g, &err) != ONC_OK) goto fail;
        /* the greedy tokens came from the KV cache, one at a time: a full
         * recomputation of prompt + continuation must give them the same
         * log-probabilities */
        float per[24];
        double total = 0;
        if (onc_score_continuation(c, 0, ids, (int32_t)n, g.tokens, g.n_tokens, per, &total, &err) != ONC_OK) goto fail;
        double maxd = 0;
        for (int32_t i = 0; i < g.n_tokens; i++) maxd = fmax(maxd, fabs(per[i] - g.logprobs[i]));
        printf("    greedy: %d tokens, log-likelihood %.2f; KV-cache vs full recomputation: max |d logprob| = %.1e\n",
               g.n_tokens, total, maxd);
        demo_check(d, maxd < 1e-2, "KV-cache decoding agrees with full recomputation");
        goto done;
    fail:
        rc = cli_fail(&err);
    done:
        onc_gen_result_free(&r);
        onc_gen_result_free(&g);
        free(ids);
        free(prompt);
        onc_llm_ctx_free(c);
        onc_llm_free(m);
        free(path);
    }
    return rc;
}

/* Step 6: the encoders on the bert model of step 3 and a classifier. */
static const char *const demo_passages[] = {
    "IMPRESSION: 3.1 cm hypoattenuating mass in the pancreatic head with upstream ductal dilatation.",
    "IMPRESSION: Post-Whipple changes. No evidence of recurrent or metastatic disease.",
    "FINDINGS: The pancreas is normal in size and attenuation. No focal lesion.",
    "Assessment: grade 2 radiation dermatitis of the left breast; continue topical care.",
    "Plan: SBRT 33 Gy in 5 fractions to the pancreatic mass, then re-stage with CT.",
};
#define N_DEMO_PASSAGES 5

static int step_encoders(demo *d) {
    printf("\n[6/11] Encoders: embeddings, a classifier and a reranker (random weights: the scores are noise)\n");
    char *bert = demo_path(d, "bert-f32.gguf"), *cls = demo_path(d, "bert-ct-classifier.gguf");
    onc_error err = {0};
    onc_encoder *e = NULL, *c = NULL;
    float *v = NULL, *one = NULL;
    int rc = CLI_EXIT_OK;
    if (!bert || !cls) {
        onc_error_set(&err, ONC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    onc_encoder_params p = onc_encoder_default_params();
    p.pooling = ONC_POOLING_MEAN;
    if (!(e = onc_encoder_load(bert, &p, &err))) goto fail;
    const uint32_t E = onc_encoder_dim(e);
    v = malloc(N_DEMO_PASSAGES * E * sizeof(float));
    one = malloc(E * sizeof(float));
    if (!v || !one) {
        onc_error_set(&err, ONC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    double t0 = demo_now();
    if (onc_encoder_embed(e, demo_passages, NULL, N_DEMO_PASSAGES, v, &err) != ONC_OK) goto fail;
    const double dt = demo_now() - t0;
    /* packed batch vs one input alone: the same vector */
    if (onc_encoder_embed(e, demo_passages + 3, NULL, 1, one, &err) != ONC_OK) goto fail;
    double maxd = 0, norm = 0;
    for (uint32_t k = 0; k < E; k++) maxd = fmax(maxd, fabs(v[3 * E + k] - one[k])), norm += (double)one[k] * one[k];
    printf("  %s: %u-dim mean-pooled, L2-normalised embeddings of %d passages in %.3f s\n", bert, E,
           N_DEMO_PASSAGES, dt);
    printf("    batched vs alone: max |difference| = %.1e; |v| = %.6f\n", maxd, sqrt(norm));
    demo_check(d, maxd < 1e-5 && fabs(sqrt(norm) - 1) < 1e-5, "batched embeddings equal single ones, unit length");

    onc_model_create_params mp = onc_model_create_default_params();
    mp.arch = ONC_ARCH_BERT;
    mp.preset = "tiny";
    mp.vocab = d->vocab[2];
    mp.pad_vocab_to = -1;
    static const char *const labels[] = {"no pancreatic cancer", "post-treatment", "pre-treatment"};
    mp.labels = labels;
    mp.n_labels = 3;
    if (onc_model_create(cls, &mp, NULL, &err) != ONC_OK) goto fail;
    if (!(c = onc_encoder_load(cls, NULL, &err))) goto fail;
    float pr[N_DEMO_PASSAGES * 3], sc[N_DEMO_PASSAGES];
    if (onc_encoder_classify(c, demo_passages, NULL, 3, pr, &err) != ONC_OK) goto fail;
    printf("  %s (untrained head; training arrives with `oncolm train classify`):\n", cls);
    bool sums = true;
    for (int i = 0; i < 3; i++) {
        printf("    report %d: P(%s) %.3f  P(%s) %.3f  P(%s) %.3f\n", i + 1, labels[0], pr[3 * i], labels[1],
               pr[3 * i + 1], labels[2], pr[3 * i + 2]);
        sums = sums && fabs(pr[3 * i] + pr[3 * i + 1] + pr[3 * i + 2] - 1) < 1e-5;
    }
    demo_check(d, sums, "class probabilities sum to 1");
    const char *query = "size of the pancreatic mass";
    if (onc_encoder_rerank(c, query, strlen(query), demo_passages, NULL, N_DEMO_PASSAGES, sc, &err) != ONC_OK)
        goto fail;
    int best = 0;
    for (int i = 1; i < N_DEMO_PASSAGES; i++)
        if (sc[i] > sc[best]) best = i;
    printf("  reranking %d passages for \"%s\" with the same model as a cross-encoder: best passage %d (score %.3f)\n",
           N_DEMO_PASSAGES, query, best + 1, sc[best]);
    goto done;
fail:
    rc = cli_fail(&err);
done:
    free(v), free(one);
    onc_encoder_free(e);
    onc_encoder_free(c);
    free(bert), free(cls);
    return rc;
}

/* Step 7: a synthetic corpus with known answers, and its CT reports through
 * the encoder of step 3. */
static int step_synth(demo *d) {
    printf("\n[7/11] Synthetic oncology records with known answers (oncolm synth corpus)\n");
    char *dir = demo_path(d, "synth"), *bert = demo_path(d, "bert-f32.gguf"), *ct = NULL;
    onc_error err = {0};
    onc_encoder *e = NULL;
    char **texts = NULL;
    size_t n_texts = 0;
    float *v = NULL;
    int rc = CLI_EXIT_OK;
    if (!dir || !bert || !(ct = demo_path(d, "synth/ct_classification.jsonl"))) {
        onc_error_set(&err, ONC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    onc_synth_params sp;
    onc_synth_params_default(&sp);
    sp.seed = 7;
    sp.n_patients = d->quick ? 60 : 300;
    onc_synth_stats st;
    double t0 = demo_now();
    if (onc_synth_corpus(&sp, dir, &st, &err) != ONC_OK) goto fail;
    printf("  %lld patients, %lld notes (%.1f MB) in %.2f s into %s/\n", (long long)st.patients, (long long)st.notes,
           st.bytes / 1e6, demo_now() - t0, dir);
    printf("   ");
    int64_t sum = 0;
    for (int k = 0; k < ONC_SYNTH_N_NOTE_TYPES; k++) {
        printf(" %s %lld", onc_synth_note_type_name(k), (long long)st.notes_by_type[k]);
        sum += st.notes_by_type[k];
    }
    const int64_t n_ct = st.ct_labels[0] + st.ct_labels[1] + st.ct_labels[2];
    printf("\n    CT reports: %lld no pancreatic cancer, %lld post-treatment, %lld pre-treatment\n",
           (long long)st.ct_labels[0], (long long)st.ct_labels[1], (long long)st.ct_labels[2]);
    demo_check(d, sum == st.notes && n_ct == st.notes_by_type[ONC_NOTE_CT], "corpus counts add up");

    /* the CT task's inputs, embedded with the bert model of step 3 */
    json_error_t je;
    FILE *f = fopen(ct, "r");
    if (!f) {
        onc_error_set(&err, ONC_ERR_IO, "%s: cannot open", ct);
        goto fail;
    }
    const size_t want = d->quick ? 16 : 64;
    texts = calloc(want, sizeof *texts);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t line_len;
    while (texts && n_texts < want && (line_len = getline(&line, &line_cap, f)) > 0) {
        json_t *o = json_loadb(line, (size_t)line_len, 0, &je);
        const char *in = json_string_value(json_object_get(o, "input"));
        if (in) texts[n_texts++] = strdup(in);
        json_decref(o);
    }
    free(line);
    fclose(f);
    onc_encoder_params ep = onc_encoder_default_params();
    ep.pooling = ONC_POOLING_MEAN;
    if (!(e = onc_encoder_load(bert, &ep, &err))) goto fail;
    if (!(v = malloc(n_texts * onc_encoder_dim(e) * sizeof(float)))) {
        onc_error_set(&err, ONC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    t0 = demo_now();
    if (onc_encoder_embed(e, (const char *const *)texts, NULL, n_texts, v, &err) != ONC_OK) goto fail;
    const double dt = demo_now() - t0;
    printf("  embedded %zu CT report inputs of ct_classification.jsonl in %.3f s (%.0f reports/s, %zu truncated)\n",
           n_texts, dt, n_texts / dt, onc_encoder_n_truncated(e));
    demo_check(d, n_texts > 0, "CT task file has inputs");
    goto done;
fail:
    rc = cli_fail(&err);
done:
    for (size_t i = 0; i < n_texts; i++) free(texts[i]);
    free(texts), free(v);
    onc_encoder_free(e);
    free(dir), free(bert), free(ct);
    return rc;
}

char *demo_ct_focus(const char *report) {
    const char *pan = strstr(report, "Pancreas:"), *imp = strstr(report, "IMPRESSION:");
    const char *pan_end = pan ? strchr(pan, '\n') : NULL, *imp_end = imp ? strstr(imp, "Electronically") : NULL;
    const int lp = pan ? (int)(pan_end ? pan_end - pan : (long)strlen(pan)) : 0;
    const int li = imp ? (int)(imp_end ? imp_end - imp : (long)strlen(imp)) : 0;
    const size_t cap = (size_t)lp + (size_t)li + 4;
    char *s = malloc(cap);
    if (s) snprintf(s, cap, "%.*s\n%.*s", lp, pan ? pan : "", li, imp ? imp : "");
    return s;
}

double demo_ndcg10(const char *qrels_path, const char *run_path, onc_error *err) {
    onc_qrels *q = onc_qrels_load(qrels_path, ONC_QRELS_AUTO, err);
    onc_run *r = q ? onc_run_load(run_path, NULL, err) : NULL;
    onc_ir_params p;
    onc_ir_params_default(&p);
    p.complete = true;
    onc_ir_result *res = r ? onc_ir_evaluate(q, r, &p, err) : NULL;
    const int c = onc_ir_cutoff_index(&p, 10);
    const double v = res && c >= 0 ? onc_ir_mean(res, ONC_IR_NDCG, (size_t)c) : -1;
    onc_ir_result_free(res);
    onc_run_free(r);
    onc_qrels_free(q);
    return v;
}

int cmd_demo(int argc, char **argv) {
    demo d = {.out_dir = "oncolm-demo"};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) d.out_dir = argv[++i];
        else if (!strcmp(argv[i], "--quick")) d.quick = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        } else return cli_usage_error(usage, "unknown argument '%s'", argv[i]);
    }
    if (mkdir(d.out_dir, 0755) != 0) {
        struct stat st;
        if (stat(d.out_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            cli_errorf("demo: cannot create folder %s", d.out_dir);
            return CLI_EXIT_FAIL;
        }
    }
    printf("oncolm demo — everything built so far, on generated data (no network, no patient text)\n");
    double t0 = demo_now();
    int rc = step_vocab(&d);
    if (rc == CLI_EXIT_OK) rc = step_tokenize(&d);
    if (rc == CLI_EXIT_OK) rc = step_models(&d);
    if (rc == CLI_EXIT_OK) rc = step_kernels(&d);
    if (rc == CLI_EXIT_OK) rc = step_inference(&d);
    if (rc == CLI_EXIT_OK) rc = step_encoders(&d);
    if (rc == CLI_EXIT_OK) rc = step_synth(&d);
    if (rc == CLI_EXIT_OK) rc = demo_step_retrieval(&d);
    if (rc == CLI_EXIT_OK) rc = demo_step_eval(&d);
    if (rc == CLI_EXIT_OK) rc = demo_step_finetune(&d);
    if (rc == CLI_EXIT_OK) rc = demo_step_train(&d);
    for (int k = 0; k < 3; k++) {
        onc_tokenizer_free(d.tok[k]);
        onc_vocab_spec_free(d.vocab[k]);
    }
    if (rc != CLI_EXIT_OK) return rc;
    if (d.failures) {
        printf("\ndemo: %d check(s) FAILED\n", d.failures);
        return CLI_EXIT_FAIL;
    }
    printf("\ndemo finished in %.1f s; all checks passed. Files are in %s/ (try: oncolm model info "
           "%s/llama-q4_K_M.gguf)\n",
           demo_now() - t0, d.out_dir, d.out_dir);
    return CLI_EXIT_OK;
}
