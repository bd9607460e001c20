/* encoder.c — the encoder API (see oncolm/encoder.h): loading, turning
 * texts into "pieces" (token sequences: whole inputs, truncated inputs or
 * windows, query-passage pairs), packing pieces into forward passes,
 * pooling, heads, and decoder models used as embedders. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/encoder_impl.h"

onc_encoder_params onc_encoder_default_params(void) {
    return (onc_encoder_params){.n_threads = 0,
                                .pooling = ONC_POOLING_UNSPECIFIED,
                                .normalize = true,
                                .max_tokens = 0,
                                .overflow = ONC_OVERFLOW_TRUNCATE,
                                .window_stride = 0,
                                .n_batch = 2048};
}

// --- loading ---------------------------------------------------------------------------

static onc_status init_labels(onc_encoder *e, onc_error *err) {
    const uint32_t n = e->hp.has_cls_out ? e->hp.n_cls_out : 0;
    if (n == 0) return ONC_OK;
    if (!(e->labels = calloc(n, sizeof *e->labels))) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        char buf[32];
        const char *s = e->hp.cls_labels ? e->hp.cls_labels[i] : (snprintf(buf, sizeof buf, "LABEL_%u", i), buf);
        if (!(e->labels[i] = strdup(s))) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    }
    return ONC_OK;
}

onc_encoder *onc_encoder_load(const char *path, const onc_encoder_params *params, onc_error *err) {
    onc_encoder *e = calloc(1, sizeof *e);
    if (!e) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    e->p = params ? *params : onc_encoder_default_params();
    if (e->p.overflow < ONC_OVERFLOW_TRUNCATE || e->p.overflow > ONC_OVERFLOW_ERROR) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: unknown overflow policy %d", path, (int)e->p.overflow);
        goto fail;
    }
    /* peek at the architecture */
    onc_gguf *g = onc_gguf_open(path, err);
    if (!g) goto fail;
    onc_hparams hp;
    if (onc_hparams_from_gguf(g, &hp, err) != ONC_OK) {
        onc_gguf_close(g);
        goto fail;
    }
    if (hp.arch == ONC_ARCH_BERT) {
        e->gguf = g;
        e->hp = hp;
        if (onc_hparams_validate(&e->hp, path, err) != ONC_OK) goto fail;
        if (!(e->own_tok = onc_tokenizer_from_gguf(g, err))) goto fail;
        e->tok = e->own_tok;
        if (onc_tokenizer_n_tokens(e->tok) > (int32_t)e->hp.n_vocab) {
            onc_error_set(err, ONC_ERR_FORMAT, "%s: the vocabulary has %d tokens but the model only %u rows", path,
                          onc_tokenizer_n_tokens(e->tok), e->hp.n_vocab);
            goto fail;
        }
    } else {
        onc_hparams_clear(&hp);
        onc_gguf_close(g);
        if (!(e->llm = onc_llm_load(path, err))) goto fail;
        e->hp = *onc_llm_hparams(e->llm);
        e->hp.cls_labels = NULL; /* decoders have no labels; never freed twice */
        e->hp.has_cls_out = false;
        e->tok = onc_llm_tokenizer(e->llm);
    }

    const uint32_t ctx = e->llm ? (e->hp.n_ctx_train < 4096 ? e->hp.n_ctx_train : 4096) : e->hp.n_ctx_train;
    e->max_tokens = e->p.max_tokens ? e->p.max_tokens : ctx;
    if (e->max_tokens > e->hp.n_ctx_train) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: max tokens %u is more than the model's context length %u", path,
                      e->max_tokens, e->hp.n_ctx_train);
        goto fail;
    }
    if (e->max_tokens < 4) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: max tokens %u is too small (at least 4)", path, e->max_tokens);
        goto fail;
    }
    e->n_batch = e->p.n_batch ? e->p.n_batch : 2048;
    if (e->n_batch < e->max_tokens) e->n_batch = e->max_tokens;

    e->pooling = e->p.pooling;
    if (e->pooling == ONC_POOLING_UNSPECIFIED) e->pooling = e->llm ? ONC_POOLING_LAST : e->hp.pooling;
    if (e->pooling == ONC_POOLING_UNSPECIFIED) e->pooling = ONC_POOLING_MEAN;
    if (e->pooling < ONC_POOLING_NONE || e->pooling > ONC_POOLING_RANK) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: unknown pooling %d", path, (int)e->pooling);
        goto fail;
    }
    if (e->pooling == ONC_POOLING_RANK && !e->hp.has_cls_out) {
        onc_error_set(err, ONC_ERR_INVALID, "%s: rank pooling needs a classifier head (cls.output), which this model "
                      "lacks", path);
        goto fail;
    }
    if (init_labels(e, err) != ONC_OK) goto fail;

    if (e->llm) {
        onc_llm_ctx_params cp = onc_llm_ctx_default_params();
        cp.n_ctx = e->max_tokens;
        cp.n_seq = e->n_batch / e->max_tokens;
        cp.n_batch = e->n_batch;
        cp.kv_type = ONC_TYPE_F32; /* embeddings: no rounding of K/V */
        cp.n_threads = e->p.n_threads;
        cp.embeddings = true;
        if (!(e->ctx = onc_llm_ctx_new(e->llm, &cp, err))) goto fail;
    } else {
        if (!(e->be = onc_backend_cpu_new(e->p.n_threads, err))) goto fail;
        if (enc_bert_init(e, err) != ONC_OK) goto fail;
    }
    return e;
fail:
    onc_encoder_free(e);
    return NULL;
}

void onc_encoder_free(onc_encoder *e) {
    if (!e) return;
    if (e->labels)
        for (uint32_t i = 0; i < e->hp.n_cls_out; i++) free(e->labels[i]);
    free(e->labels);
    if (e->llm) {
        onc_llm_ctx_free(e->ctx);
        onc_llm_free(e->llm);
    } else {
        enc_bert_free(e);
        onc_backend_free(e->be);
        onc_tokenizer_free(e->own_tok);
        onc_hparams_clear(&e->hp);
        onc_gguf_close(e->gguf);
    }
    free(e);
}

const onc_hparams *onc_encoder_hparams(const onc_encoder *e) { return &e->hp; }
const onc_tokenizer *onc_encoder_tokenizer(const onc_encoder *e) { return e->tok; }
uint32_t onc_encoder_dim(const onc_encoder *e) { return e->hp.n_embd; }
uint32_t onc_encoder_max_tokens(const onc_encoder *e) { return e->max_tokens; }
onc_pooling onc_encoder_pooling(const onc_encoder *e) { return e->pooling; }
uint32_t onc_encoder_n_labels(const onc_encoder *e) { return e->hp.has_cls_out ? e->hp.n_cls_out : 0; }
const char *onc_encoder_label(const onc_encoder *e, uint32_t i) {
    return i < onc_encoder_n_labels(e) ? e->labels[i] : NULL;
}
size_t onc_encoder_n_truncated(const onc_encoder *e) { return e->n_truncated; }

// --- pooling --------------------------------------------------------------------------

void onc_encoder_pool(onc_pooling pooling, const float *h, int32_t n_tokens, uint32_t dim, float *out) {
    if (n_tokens <= 0) {
        memset(out, 0, dim * sizeof(float));
        return;
    }
    if (pooling == ONC_POOLING_MEAN) {
        for (uint32_t d = 0; d < dim; d++) {
            double s = 0;
            for (int32_t t = 0; t < n_tokens; t++) s += h[(size_t)t * dim + d];
            out[d] = (float)(s / n_tokens);
        }
    } else {
        const int32_t t = pooling == ONC_POOLING_LAST ? n_tokens - 1 : 0;
        memcpy(out, h + (size_t)t * dim, dim * sizeof(float));
    }
}

static void l2_normalize(float *v, uint32_t n) {
    double ss = 0;
    for (uint32_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
    if (ss <= 0) return;
    const float inv = (float)(1.0 / sqrt(ss));
    for (uint32_t i = 0; i < n; i++) v[i] *= inv;
}

// --- pieces -----------------------------------------------------------------------------

/* Token sequences to run, with the input each belongs to and its weight. */
typedef struct piece {
    size_t off;    /* into pieces.tok / pieces.typ */
    int32_t n;
    size_t owner;
    float weight;
} piece;

typedef struct pieces {
    int32_t *tok, *typ;
    size_t n_tok, cap_tok;
    piece *p;
    size_t n, cap;
} pieces;

static void pieces_free(pieces *ps) {
    free(ps->tok), free(ps->typ), free(ps->p);
    memset(ps, 0, sizeof *ps);
}

/* Append a piece: prefix ids (type 0), content[0..n) (type ctype), suffix
 * ids (type stype). */
static onc_status pieces_add(pieces *ps, size_t owner, float weight, const int32_t *pre, int32_t n_pre,
                             const int32_t *content, int32_t n, int32_t ctype, const int32_t *suf, int32_t n_suf,
                             int32_t stype, onc_error *err) {
    const size_t need = ps->n_tok + (size_t)(n_pre + n + n_suf);
    if (need > ps->cap_tok) {
        size_t cap = ps->cap_tok ? ps->cap_tok : 1024;
        while (cap < need) cap *= 2;
        int32_t *t = realloc(ps->tok, cap * sizeof *t);
        if (t) ps->tok = t;
        int32_t *y = t ? realloc(ps->typ, cap * sizeof *y) : NULL;
        if (!t || !y) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory for %zu tokens", need);
        ps->typ = y;
        ps->cap_tok = cap;
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 64;
        piece *p = realloc(ps->p, cap * sizeof *p);
        if (!p) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
        ps->p = p;
        ps->cap = cap;
    }
    piece *pc = &ps->p[ps->n++];
    pc->off = ps->n_tok;
    pc->n = n_pre + n + n_suf;
    pc->owner = owner;
    pc->weight = weight;
    int32_t *t = ps->tok + ps->n_tok, *y = ps->typ + ps->n_tok;
    for (int32_t i = 0; i < n_pre; i++) *t++ = pre[i], *y++ = 0;
    for (int32_t i = 0; i < n; i++) *t++ = content[i], *y++ = ctype;
    for (int32_t i = 0; i < n_suf; i++) *t++ = suf[i], *y++ = stype;
    ps->n_tok = need;
    return ONC_OK;
}

/* The model's special tokens around one text: BOS before, EOS / SEP after. */
static void specials(const onc_encoder *e, int32_t pre[1], int32_t *n_pre, int32_t suf[2], int32_t *n_suf) {
    const onc_tokenizer *t = e->tok;
    *n_pre = *n_suf = 0;
    const int32_t bos = onc_tokenizer_special(t, ONC_SPECIAL_BOS), eos = onc_tokenizer_special(t, ONC_SPECIAL_EOS),
                  sep = onc_tokenizer_special(t, ONC_SPECIAL_SEP);
    if (onc_tokenizer_add_bos(t) && bos >= 0) pre[(*n_pre)++] = bos;
    if (onc_tokenizer_add_eos(t) && eos >= 0) suf[(*n_suf)++] = eos;
    if (onc_tokenizer_add_sep(t) && sep >= 0) suf[(*n_suf)++] = sep;
}

static onc_status tokenize_content(const onc_encoder *e, const char *text, size_t len, size_t index, int32_t **ids,
                                   size_t *n, onc_error *err) {
    onc_tokenize_params tp = onc_tokenize_default_params();
    tp.add_special = false;
    onc_status st = onc_tokenize(e->tok, text, len, &tp, ids, n, err);
    if (st != ONC_OK) onc_error_prefix(err, "input %zu", index + 1);
    return st;
}

/* Content ids split by the overflow policy into pieces of at most cap
 * content tokens each (pre/suf added around every piece). */
static onc_status add_content(onc_encoder *e, pieces *ps, size_t owner, const int32_t *pre, int32_t n_pre,
                              const int32_t *ids, size_t n, int32_t ctype, const int32_t *suf, int32_t n_suf,
                              int32_t stype, size_t cap, bool allow_windows, onc_error *err) {
    if (n <= cap) return pieces_add(ps, owner, (float)(n ? n : 1), pre, n_pre, ids, (int32_t)n, ctype, suf, n_suf,
                                    stype, err);
    switch (e->p.overflow) {
    case ONC_OVERFLOW_ERROR:
        return onc_error_set(err, ONC_ERR_INVALID, "input %zu has %zu tokens, more than the %zu that fit in %u",
                             owner + 1, n, cap, e->max_tokens);
    case ONC_OVERFLOW_WINDOWS:
        if (allow_windows) {
            const size_t stride = e->p.window_stride ? e->p.window_stride : (cap / 2 ? cap / 2 : 1);
            for (size_t start = 0;; start += stride) {
                if (start + cap >= n) start = n - cap; /* the last window ends at the end */
                onc_status st = pieces_add(ps, owner, (float)cap, pre, n_pre, ids + start, (int32_t)cap, ctype, suf,
                                           n_suf, stype, err);
                if (st != ONC_OK || start + cap >= n) return st;
            }
        }
        return onc_error_set(err, ONC_ERR_INVALID, "input %zu: windows are not available here; use truncation",
                             owner + 1);
    case ONC_OVERFLOW_TRUNCATE:
    default:
        e->n_truncated++;
        return pieces_add(ps, owner, (float)cap, pre, n_pre, ids, (int32_t)cap, ctype, suf, n_suf, stype, err);
    }
}

static onc_status text_pieces(onc_encoder *e, pieces *ps, const char *const *texts, const size_t *lens, size_t n,
                              bool allow_windows, onc_error *err) {
    int32_t pre[1], suf[2], n_pre, n_suf;
    specials(e, pre, &n_pre, suf, &n_suf);
    const size_t cap = e->max_tokens - (uint32_t)(n_pre + n_suf);
    for (size_t i = 0; i < n; i++) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        const size_t len = lens ? lens[i] : strlen(texts[i]);
        onc_status st = tokenize_content(e, texts[i], len, i, &ids, &n_ids, err);
        if (st == ONC_OK)
            st = add_content(e, ps, i, pre, n_pre, ids, n_ids, 0, suf, n_suf, 0, cap, allow_windows, err);
        free(ids);
        if (st != ONC_OK) return st;
    }
    return ONC_OK;
}

// --- running pieces --------------------------------------------------------------------

typedef enum run_mode { RUN_POOL, RUN_HEAD, RUN_STATES } run_mode;

/* Run pieces [first, first + count) (all fitting in one pass) through the
 * model; per piece write its pooled vector (RUN_POOL, dim floats), head
 * logits (RUN_HEAD, n_cls_out floats) or all token states (RUN_STATES,
 * n*dim floats, one piece) to out + offsets. */
static onc_status run_group(onc_encoder *e, const pieces *ps, size_t first, size_t count, run_mode mode, float *out,
                            size_t out_stride, onc_error *err) {
    const uint32_t E = e->hp.n_embd;
    const onc_pooling pool = mode == RUN_HEAD ? ONC_POOLING_CLS : e->pooling;
    int32_t *starts = malloc(2 * count * sizeof *starts), *lens = starts + count;
    if (!starts) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    int32_t total = 0;
    for (size_t i = 0; i < count; i++) {
        starts[i] = total;
        lens[i] = ps->p[first + i].n;
        total += lens[i];
    }
    const int32_t *tok = ps->tok + ps->p[first].off, *typ = ps->typ + ps->p[first].off;
    if (e->llm) {
        uint32_t *seq = malloc((size_t)total * sizeof *seq);
        bool *keep = malloc((size_t)total * sizeof *keep);
        if (!seq || !keep) {
            free(seq), free(keep), free(starts);
            return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < count; i++)
            for (int32_t j = 0; j < lens[i]; j++) {
                seq[starts[i] + j] = (uint32_t)i;
                keep[starts[i] + j] = pool == ONC_POOLING_MEAN || mode == RUN_STATES ||
                                      (pool == ONC_POOLING_LAST ? j == lens[i] - 1 : j == 0);
            }
        for (size_t i = 0; i < count; i++) onc_llm_seq_clear(e->ctx, (uint32_t)i);
        onc_llm_batch b = {.n_tokens = total, .tokens = tok, .seq = seq, .logits = keep};
        onc_status st = onc_llm_decode(e->ctx, &b, err);
        for (size_t i = 0; i < count; i++) onc_llm_seq_clear(e->ctx, (uint32_t)i);
        if (st == ONC_OK) {
            for (size_t i = 0; i < count; i++) {
                float *o = out + (mode == RUN_STATES ? 0 : i * out_stride);
                if (mode == RUN_STATES || pool == ONC_POOLING_MEAN) {
                    for (int32_t j = 0; j < lens[i]; j++) {
                        const float *r = onc_llm_embedding(e->ctx, starts[i] + j);
                        if (mode == RUN_STATES) memcpy(o + (size_t)j * E, r, E * sizeof(float));
                        else if (j == 0) memcpy(o, r, E * sizeof(float));
                        else
                            for (uint32_t d = 0; d < E; d++) o[d] += r[d];
                    }
                    if (mode != RUN_STATES)
                        for (uint32_t d = 0; d < E; d++) o[d] /= (float)lens[i];
                } else {
                    const int32_t j = pool == ONC_POOLING_LAST ? lens[i] - 1 : 0;
                    memcpy(o, onc_llm_embedding(e->ctx, starts[i] + j), E * sizeof(float));
                }
            }
        }
        free(seq), free(keep), free(starts);
        return st;
    }
    enc_batch b = {.tokens = tok, .types = typ, .seq_start = starts, .seq_len = lens, .n_tokens = total,
                   .n_seq = (int32_t)count};
    onc_status st = enc_bert_forward(e, &b, err);
    if (st == ONC_OK && mode == RUN_STATES) {
        memcpy(out, e->x, (size_t)total * E * sizeof(float));
    } else if (st == ONC_OK && mode == RUN_POOL) {
        for (size_t i = 0; i < count; i++)
            onc_encoder_pool(pool, e->x + (size_t)starts[i] * E, lens[i], E, out + i * out_stride);
    } else if (st == ONC_OK) {
        /* head on the [CLS] rows, gathered into e->k (free after the forward) */
        for (size_t i = 0; i < count; i++) memcpy(e->k + i * E, e->x + (size_t)starts[i] * E, E * sizeof(float));
        float *logits = malloc(count * e->hp.n_cls_out * sizeof(float));
        if (!logits) st = onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
        else st = enc_bert_head(e, e->k, (int32_t)count, logits, err);
        if (st == ONC_OK)
            for (size_t i = 0; i < count; i++)
                memcpy(out + i * out_stride, logits + i * e->hp.n_cls_out, e->hp.n_cls_out * sizeof(float));
        free(logits);
    }
    free(starts);
    return st;
}

/* Run every piece in packed groups: out [ps->n * width]. */
static onc_status run_pieces(onc_encoder *e, const pieces *ps, run_mode mode, float *out, size_t width,
                             onc_error *err) {
    const size_t max_seq = e->llm ? onc_llm_ctx_n_seq(e->ctx) : (size_t)e->n_batch;
    for (size_t i = 0; i < ps->n;) {
        size_t count = 0, tokens = 0;
        while (i + count < ps->n && count < max_seq && tokens + (size_t)ps->p[i + count].n <= e->n_batch)
            tokens += (size_t)ps->p[i + count++].n;
        onc_status st = run_group(e, ps, i, count, mode, out + i * width, width, err);
        if (st != ONC_OK) return st;
        i += count;
    }
    return ONC_OK;
}

// --- public API ------------------------------------------------------------------------

static onc_status need_pooled(const onc_encoder *e, onc_error *err) {
    if (e->pooling == ONC_POOLING_NONE)
        return onc_error_set(err, ONC_ERR_INVALID, "pooling is none: the model gives per-token vectors, not one per "
                             "input (choose mean, cls or last)");
    if (e->pooling == ONC_POOLING_RANK)
        return onc_error_set(err, ONC_ERR_INVALID, "this model is a reranker (rank pooling): use rerank, or choose a "
                             "pooling for embeddings");
    return ONC_OK;
}

/* Combine piece vectors into per-input outputs: weighted mean (pooled
 * embeddings), mean (probabilities) or max (scores). */
typedef enum combine_kind { COMBINE_WEIGHTED_MEAN, COMBINE_MAX } combine_kind;
static onc_status combine(const pieces *ps, const float *pv, size_t width, size_t n_out, combine_kind kind, float *out,
                          onc_error *err) {
    double *acc = calloc(width, sizeof *acc);
    if (!acc) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t o = 0; o < n_out; o++) {
        double wsum = 0;
        for (size_t d = 0; d < width; d++) acc[d] = kind == COMBINE_MAX ? -INFINITY : 0;
        for (; k < ps->n && ps->p[k].owner == o; k++) {
            const float *v = pv + k * width;
            const double w = ps->p[k].weight;
            wsum += w;
            for (size_t d = 0; d < width; d++)
                acc[d] = kind == COMBINE_MAX ? (v[d] > acc[d] ? v[d] : acc[d]) : acc[d] + w * v[d];
        }
        for (size_t d = 0; d < width; d++)
            out[o * width + d] = (float)(kind == COMBINE_MAX ? acc[d] : acc[d] / (wsum > 0 ? wsum : 1));
    }
    free(acc);
    return ONC_OK;
}

static onc_status embed_pieces(onc_encoder *e, pieces *ps, size_t n, float *out, onc_error *err) {
    const uint32_t E = e->hp.n_embd;
    float *pv = malloc((ps->n ? ps->n : 1) * E * sizeof(float));
    if (!pv) return onc_error_set(err, ONC_ERR_NOMEM, "out of memory for %zu embeddings", ps->n);
    onc_status st = run_pieces(e, ps, RUN_POOL, pv, E, err);
    if (st == ONC_OK) {
        if (ps->n == n) memcpy(out, pv, n * E * sizeof(float));
        else st = combine(ps, pv, E, n, COMBINE_WEIGHTED_MEAN, out, err);
        if (st == ONC_OK && e->p.normalize)
            for (size_t i = 0; i < n; i++) l2_normalize(out + i * E, E);
    }
    free(pv);
    return st;
}

onc_status onc_encoder_embed(onc_encoder *e, const char *const *texts, const size_t *lens, size_t n, float *out,
                             onc_error *err) {
    e->n_truncated = 0;
    onc_status st = need_pooled(e, err);
    if (st != ONC_OK || n == 0) return st;
    pieces ps = {0};
    st = text_pieces(e, &ps, texts, lens, n, true, err);
    if (st == ONC_OK) st = embed_pieces(e, &ps, n, out, err);
    pieces_free(&ps);
    return st;
}

onc_status onc_encoder_embed_tokens(onc_encoder *e, const onc_encoder_input *in, size_t n, float *out,
                                    onc_error *err) {
    e->n_truncated = 0;
    onc_status st = need_pooled(e, err);
    if (st != ONC_OK || n == 0) return st;
    pieces ps = {0};
    for (size_t i = 0; i < n && st == ONC_OK; i++) {
        if (in[i].n_tokens < 1 || (uint32_t)in[i].n_tokens > e->max_tokens) {
            st = onc_error_set(err, ONC_ERR_INVALID, "input %zu has %d tokens; 1 to %u are allowed", i + 1,
                               in[i].n_tokens, e->max_tokens);
            break;
        }
        for (int32_t j = 0; j < in[i].n_tokens && st == ONC_OK; j++) {
            if (in[i].tokens[j] < 0 || (uint32_t)in[i].tokens[j] >= e->hp.n_vocab)
                st = onc_error_set(err, ONC_ERR_INVALID, "input %zu: token %d is outside the vocabulary (%u)", i + 1,
                                   in[i].tokens[j], e->hp.n_vocab);
            else if (in[i].types &&
                     (in[i].types[j] < 0 || (e->types.data && (uint32_t)in[i].types[j] >= e->hp.n_token_types)))
                st = onc_error_set(err, ONC_ERR_INVALID, "input %zu: token type %d is outside 0..%u", i + 1,
                                   in[i].types[j], e->hp.n_token_types ? e->hp.n_token_types - 1 : 0);
        }
        if (st != ONC_OK) break;
        st = pieces_add(&ps, i, 1.0f, NULL, 0, in[i].tokens, in[i].n_tokens, 0, NULL, 0, 0, err);
        if (st == ONC_OK && in[i].types)
            memcpy(ps.typ + ps.p[ps.n - 1].off, in[i].types, (size_t)in[i].n_tokens * sizeof(int32_t));
    }
    if (st == ONC_OK) st = embed_pieces(e, &ps, n, out, err);
    pieces_free(&ps);
    return st;
}

onc_status onc_encoder_token_states(onc_encoder *e, const char *text, size_t len, float **out, int32_t *n_tokens,
                                    onc_error *err) {
    e->n_truncated = 0;
    *out = NULL;
    *n_tokens = 0;
    pieces ps = {0};
    const char *texts[1] = {text};
    onc_status st = text_pieces(e, &ps, texts, &len, 1, false, err);
    if (st == ONC_OK) {
        const uint32_t E = e->hp.n_embd;
        float *o = malloc((size_t)ps.p[0].n * E * sizeof(float));
        if (!o) st = onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
        else if ((st = run_group(e, &ps, 0, 1, RUN_STATES, o, 0, err)) != ONC_OK) free(o);
        else *out = o, *n_tokens = ps.p[0].n;
    }
    pieces_free(&ps);
    return st;
}

static onc_status need_head(const onc_encoder *e, const char *what, onc_error *err) {
    if (!e->hp.has_cls_out || e->llm)
        return onc_error_set(err, ONC_ERR_INVALID, "%s needs a model with a classifier head (cls.output tensors); this "
                             "one has none", what);
    return ONC_OK;
}

onc_status onc_encoder_classify(onc_encoder *e, const char *const *texts, const size_t *lens, size_t n, float *probs,
                                onc_error *err) {
    e->n_truncated = 0;
    onc_status st = need_head(e, "classification", err);
    if (st != ONC_OK || n == 0) return st;
    const uint32_t C = e->hp.n_cls_out;
    pieces ps = {0};
    st = text_pieces(e, &ps, texts, lens, n, true, err);
    float *pv = st == ONC_OK ? malloc((ps.n ? ps.n : 1) * C * sizeof(float)) : NULL;
    if (st == ONC_OK && !pv) st = onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    if (st == ONC_OK) st = run_pieces(e, &ps, RUN_HEAD, pv, C, err);
    if (st == ONC_OK) {
        for (size_t k = 0; k < ps.n; k++) { /* logits -> probabilities per piece */
            float *v = pv + k * C;
            if (C == 1) {
                v[0] = 1.0f / (1.0f + expf(-v[0]));
                continue;
            }
            float mx = v[0];
            for (uint32_t c = 1; c < C; c++) mx = v[c] > mx ? v[c] : mx;
            double s = 0;
            for (uint32_t c = 0; c < C; c++) s += exp((double)v[c] - mx);
            for (uint32_t c = 0; c < C; c++) v[c] = (float)(exp((double)v[c] - mx) / s);
        }
        /* windows: mean of their probabilities */
        for (size_t k = 0; k < ps.n; k++) ps.p[k].weight = 1.0f;
        st = combine(&ps, pv, C, n, COMBINE_WEIGHTED_MEAN, probs, err);
    }
    free(pv);
    pieces_free(&ps);
    return st;
}

onc_status onc_encoder_rerank(onc_encoder *e, const char *query, size_t query_len, const char *const *passages,
                              const size_t *lens, size_t n, float *scores, onc_error *err) {
    e->n_truncated = 0;
    onc_status st = need_head(e, "reranking", err);
    if (st != ONC_OK || n == 0) return st;
    const onc_tokenizer *t = e->tok;
    const int32_t bos = onc_tokenizer_special(t, ONC_SPECIAL_BOS), eos = onc_tokenizer_special(t, ONC_SPECIAL_EOS);
    const int32_t sep =
        onc_tokenizer_special(t, ONC_SPECIAL_SEP) >= 0 ? onc_tokenizer_special(t, ONC_SPECIAL_SEP) : eos;
    const bool wpm = onc_tokenizer_kind(t) == ONC_VOCAB_WPM;
    const int32_t ptype = e->types.data && e->hp.n_token_types >= 2 ? 1 : 0;
    int32_t *q = NULL;
    size_t nq = 0;
    if ((st = tokenize_content(e, query, query_len, 0, &q, &nq, err)) != ONC_OK) {
        onc_error_prefix(err, "query");
        return st;
    }
    /* prefix: [BOS] q SEP (+ SEP for RoBERTa-style vocabularies); suffix: SEP */
    int32_t *pre = malloc((nq + 4) * sizeof *pre);
    int32_t n_pre = 0;
    if (!pre) {
        free(q);
        return onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
    }
    if (bos >= 0) pre[n_pre++] = bos;
    for (size_t i = 0; i < nq; i++) pre[n_pre++] = q[i];
    if (sep >= 0) pre[n_pre++] = sep;
    if (sep >= 0 && !wpm) pre[n_pre++] = sep; /* RoBERTa-style pairs: q </s></s> p */
    int32_t suf[1] = {sep}, n_suf = sep >= 0 ? 1 : 0;
    free(q);
    pieces ps = {0};
    float *pv = NULL;
    const size_t fixed = (size_t)(n_pre + n_suf);
    if (fixed + 1 > e->max_tokens) {
        st = onc_error_set(err, ONC_ERR_INVALID, "the query has %zu tokens: no room for a passage in %u", nq,
                           e->max_tokens);
        goto done;
    }
    for (size_t i = 0; i < n && st == ONC_OK; i++) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        const size_t len = lens ? lens[i] : strlen(passages[i]);
        st = tokenize_content(e, passages[i], len, i, &ids, &n_ids, err);
        /* windows over the passage; the query part is repeated in each */
        if (st == ONC_OK)
            st = add_content(e, &ps, i, pre, n_pre, ids, n_ids, ptype, suf, n_suf, ptype,
                             e->max_tokens - (size_t)(n_pre + n_suf), true, err);
        free(ids);
    }
    if (st != ONC_OK) goto done;
    pv = malloc((ps.n ? ps.n : 1) * e->hp.n_cls_out * sizeof(float));
    if (!pv) {
        st = onc_error_set(err, ONC_ERR_NOMEM, "out of memory");
        goto done;
    }
    st = run_pieces(e, &ps, RUN_HEAD, pv, e->hp.n_cls_out, err);
    if (st == ONC_OK) {
        /* score = first output; windows: the best one (MaxP) */
        for (size_t k = 0; k < ps.n; k++) pv[k] = pv[k * e->hp.n_cls_out];
        st = combine(&ps, pv, 1, n, COMBINE_MAX, scores, err);
    }
done:
    free(pv);
    free(pre);
    pieces_free(&ps);
    return st;
}
