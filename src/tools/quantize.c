/* quantize.c — `oncolm quantize`: re-encode a GGUF model's tensors (see
 * oncolm/quantize.h for the recipe). Streaming: the writer pulls one tensor
 * at a time through fill_tensor(), which converts it row by row straight
 * into the writer's buffer, rows split across a thread pool; the input stays
 * memory-mapped, so memory use is about one tensor. */
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/compute.h"
#include "oncolm/gguf.h"
#include "oncolm/quantize.h"

// --- names ----------------------------------------------------------------------------

static const struct {
    const char *name;
    onc_ftype ft;
} ftype_names[] = {
    {"f32", ONC_FTYPE_ALL_F32},         {"f16", ONC_FTYPE_MOSTLY_F16},       {"bf16", ONC_FTYPE_MOSTLY_BF16},
    {"q8_0", ONC_FTYPE_MOSTLY_Q8_0},    {"q4_0", ONC_FTYPE_MOSTLY_Q4_0},     {"q4_K", ONC_FTYPE_MOSTLY_Q4_K_S},
    {"q5_K", ONC_FTYPE_MOSTLY_Q5_K_S},  {"q6_K", ONC_FTYPE_MOSTLY_Q6_K},     {"q4_K_M", ONC_FTYPE_MOSTLY_Q4_K_M},
    {"q5_K_M", ONC_FTYPE_MOSTLY_Q5_K_M}, {"q4_K_S", ONC_FTYPE_MOSTLY_Q4_K_S}, {"q5_K_S", ONC_FTYPE_MOSTLY_Q5_K_S},
};

bool onc_ftype_from_name(const char *name, onc_ftype *out) {
    for (size_t i = 0; i < sizeof ftype_names / sizeof ftype_names[0]; i++)
        if (!strcasecmp(name, ftype_names[i].name)) {
            *out = ftype_names[i].ft;
            return true;
        }
    return false;
}

const char *onc_ftype_name(onc_ftype ft) {
    for (size_t i = 0; i < sizeof ftype_names / sizeof ftype_names[0]; i++)
        if (ftype_names[i].ft == ft && strcmp(ftype_names[i].name, "q4_K") && strcmp(ftype_names[i].name, "q5_K"))
            return ftype_names[i].name;
    return "?";
}

onc_quantize_params onc_quantize_default_params(void) {
    onc_quantize_params p;
    memset(&p, 0, sizeof p);
    p.ftype = ONC_FTYPE_MOSTLY_Q8_0;
    return p;
}

// --- recipe ---------------------------------------------------------------------------

static onc_type base_type(onc_ftype ft) {
    switch (ft) {
    case ONC_FTYPE_ALL_F32: return ONC_TYPE_F32;
    case ONC_FTYPE_MOSTLY_F16: return ONC_TYPE_F16;
    case ONC_FTYPE_MOSTLY_BF16: return ONC_TYPE_BF16;
    case ONC_FTYPE_MOSTLY_Q4_0: return ONC_TYPE_Q4_0;
    case ONC_FTYPE_MOSTLY_Q8_0: return ONC_TYPE_Q8_0;
    case ONC_FTYPE_MOSTLY_Q4_K_S:
    case ONC_FTYPE_MOSTLY_Q4_K_M: return ONC_TYPE_Q4_K;
    case ONC_FTYPE_MOSTLY_Q5_K_S:
    case ONC_FTYPE_MOSTLY_Q5_K_M: return ONC_TYPE_Q5_K;
    case ONC_FTYPE_MOSTLY_Q6_K: return ONC_TYPE_Q6_K;
    }
    return ONC_TYPE_Q8_0;
}

static bool ends_with(const char *s, const char *suffix) {
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* layer index of "blk.<i>.<rest>" when rest == what, else -1 */
static int64_t layer_of(const char *name, const char *what) {
    if (strncmp(name, "blk.", 4)) return -1;
    char *end;
    const long long i = strtoll(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || strcmp(end + 1, what)) return -1;
    return i;
}

static bool use_more_bits(int64_t i, int64_t n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

onc_type onc_quantize_tensor_type(onc_ftype ftype, const char *name, uint32_t n_dims, const int64_t *ne,
                                  onc_type src, int64_t n_attn_v, int64_t n_ffn_down, bool *fallback,
                                  onc_type *wanted) {
    if (fallback) *fallback = false;
    if (wanted) *wanted = src;
    if (n_dims < 2 || !ends_with(name, ".weight")) return src;
    /* as llama.cpp's quantizer: BERT position and token-type embeddings keep
     * their type (llama.cpp adds token_types straight into the graph, which
     * its CPU backend supports for F32 only) */
    if (!strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight")) return src;
    const bool mix = ftype == ONC_FTYPE_MOSTLY_Q4_K_M || ftype == ONC_FTYPE_MOSTLY_Q5_K_M;
    onc_type t = base_type(ftype);
    if (mix) {
        int64_t i;
        if (!strcmp(name, "output.weight")) t = ONC_TYPE_Q6_K;
        else if ((i = layer_of(name, "attn_v.weight")) >= 0 && use_more_bits(i, n_attn_v)) t = ONC_TYPE_Q6_K;
        else if ((i = layer_of(name, "ffn_down.weight")) >= 0 && use_more_bits(i, n_ffn_down)) t = ONC_TYPE_Q6_K;
        else if (layer_of(name, "attn_qkv.weight") >= 0)
            t = ftype == ONC_FTYPE_MOSTLY_Q4_K_M ? ONC_TYPE_Q5_K : ONC_TYPE_Q6_K;
    }
    if (wanted) *wanted = t;
    if (ne[0] % onc_type_traits_of(t)->block_size != 0) {
        if (fallback) *fallback = true;
        t = ne[0] % 32 == 0 ? ONC_TYPE_Q8_0 : ONC_TYPE_F16;
    }
    return t;
}

// --- conversion -------------------------------------------------------------------------

typedef struct qz_tensor {
    const onc_gguf_tensor *src;
    onc_type dst_type;
    onc_quantize_event ev;
    bool transformed; /* rows go through params->transform */
} qz_tensor;

typedef struct qz_ctx {
    const onc_gguf *g;
    qz_tensor *tensors;
    int64_t n, next; /* tensors are filled in order */
    onc_threadpool *tp;
    float **scratch; /* one f32 row per thread */
    const onc_quantize_params *params;
    /* current tensor for the row task */
    const qz_tensor *cur;
    void *dst;
} qz_ctx;

static void convert_rows(void *vctx, int ith, int nth) {
    qz_ctx *c = vctx;
    const onc_gguf_tensor *s = c->cur->src;
    const int64_t n = s->ne[0], rows = s->ne[1] * s->ne[2] * s->ne[3];
    const size_t srs = onc_type_row_size(s->type, n), drs = onc_type_row_size(c->cur->dst_type, n);
    int64_t lo, hi;
    onc_split_range(rows, ith, nth, &lo, &hi);
    float *row = c->scratch[ith];
    for (int64_t r = lo; r < hi; r++) {
        const void *src = (const char *)s->data + (size_t)r * srs;
        if (s->type == ONC_TYPE_F32) {
            memcpy(row, src, (size_t)n * sizeof(float)); /* the mapping may be unaligned for floats */
        } else {
            onc_dequantize_row(s->type, src, row, n);
        }
        if (c->cur->transformed) c->params->transform->rows(c->params->transform->user, s->name, r, row, n);
        onc_quantize_row(c->cur->dst_type, row, (char *)c->dst + (size_t)r * drs, n);
    }
}

static onc_status fill_tensor(void *user, const char *name, void *dst, size_t nbytes, onc_error *err) {
    qz_ctx *c = user;
    ONC_ASSERT(c->next < c->n && !strcmp(c->tensors[c->next].src->name, name));
    qz_tensor *t = &c->tensors[c->next++];
    ONC_ASSERT(nbytes == t->ev.dst_bytes);
    if (t->ev.copied) {
        memcpy(dst, t->src->data, nbytes);
    } else {
        c->cur = t;
        c->dst = dst;
        onc_threadpool_run(c->tp, convert_rows, c);
    }
    if (c->params->progress) c->params->progress(c->params->progress_user, &t->ev);
    return ONC_OK;
}

onc_status onc_quantize_file(const char *in, const char *out, const onc_quantize_params *params,
                             onc_quantize_stats *stats, onc_error *err) {
    onc_quantize_stats st;
    memset(&st, 0, sizeof st);
    onc_gguf *g = onc_gguf_open(in, err);
    if (!g) return err ? err->code : ONC_ERR_FORMAT;
    onc_status rc = ONC_OK;
    onc_gguf_writer *w = NULL;
    qz_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.params = params;
    c.n = onc_gguf_n_tensors(g);
    c.tensors = calloc((size_t)(c.n ? c.n : 1), sizeof *c.tensors);
    w = onc_gguf_writer_new();
    c.tp = onc_threadpool_new(params->n_threads, err);
    if (!c.tensors || !w || !c.tp) {
        rc = c.tp ? onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", in) : (err ? err->code : ONC_ERR_NOMEM);
        goto done;
    }
    const int nth = onc_threadpool_n_threads(c.tp);
    c.scratch = calloc((size_t)nth, sizeof *c.scratch);
    if (!c.scratch) {
        rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", in);
        goto done;
    }

    /* metadata: everything, then the two keys we own */
    for (int64_t i = 0; i < onc_gguf_n_kv(g); i++) {
        if ((rc = onc_gguf_set_from(w, g, i)) != ONC_OK) {
            onc_error_set(err, rc, "%s: cannot copy key '%s'", in, onc_gguf_key(g, i));
            goto done;
        }
    }
    if ((!params->keep_types && (rc = onc_gguf_set_u32(w, "general.file_type", (uint32_t)params->ftype)) != ONC_OK) ||
        (rc = onc_gguf_set_u32(w, "general.quantization_version", 2)) != ONC_OK) {
        onc_error_set(err, rc, "%s: cannot set metadata", out);
        goto done;
    }

    /* recipe for every tensor */
    int64_t n_attn_v = 0, n_ffn_down = 0, max_ne0 = 1;
    for (int64_t i = 0; i < c.n; i++) {
        const onc_gguf_tensor *s = onc_gguf_tensor_at(g, i);
        if (layer_of(s->name, "attn_v.weight") >= 0) n_attn_v++;
        if (layer_of(s->name, "ffn_down.weight") >= 0) n_ffn_down++;
    }
    for (int64_t i = 0; i < c.n; i++) {
        const onc_gguf_tensor *s = onc_gguf_tensor_at(g, i);
        qz_tensor *t = &c.tensors[i];
        onc_quantize_event *ev = &t->ev;
        t->src = s;
        ev->index = i;
        ev->count = c.n;
        ev->name = s->name;
        ev->src_type = s->type;
        memcpy(ev->ne, s->ne, sizeof ev->ne);
        ev->src_bytes = s->nbytes;
        t->dst_type = onc_quantize_tensor_type(params->ftype, s->name, s->n_dims, s->ne, s->type, n_attn_v,
                                               n_ffn_down, &ev->fallback, &ev->wanted_type);
        const onc_quantize_transform *tf = params->transform;
        t->transformed = tf && tf->applies(tf->user, s->name);
        if (t->transformed && (s->n_dims < 2 || !onc_type_traits_of(s->type)->can_compute)) {
            rc = onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: tensor %s: cannot change a %s tensor of %u dims", in,
                               s->name, onc_type_traits_of(s->type)->name, s->n_dims);
            goto done;
        }
        if (params->keep_types) {
            t->dst_type = !t->transformed                                           ? s->type
                          : s->type == ONC_TYPE_F32 || s->type == ONC_TYPE_BF16 ? s->type
                                                                                  : ONC_TYPE_F16;
            ev->fallback = false;
            ev->wanted_type = t->dst_type;
        }
        if (!onc_type_traits_of(s->type)->can_compute && t->dst_type != s->type) {
            t->dst_type = s->type; /* cannot decode: keep as is */
            ev->wanted_type = s->type;
            ev->fallback = false;
        }
        ev->dst_type = t->dst_type;
        ev->copied = t->dst_type == s->type && !t->transformed;
        ev->requantized = !ev->copied && onc_type_traits_of(s->type)->is_quantized;
        ev->dst_bytes = ev->copied ? s->nbytes
                                   : onc_type_row_size(t->dst_type, s->ne[0]) * (size_t)(s->ne[1] * s->ne[2] * s->ne[3]);
        if (!ev->copied && s->ne[0] > max_ne0) max_ne0 = s->ne[0];
        st.n_tensors++;
        st.n_converted += !ev->copied;
        st.n_fallback += ev->fallback;
        st.src_bytes += ev->src_bytes;
        st.dst_bytes += ev->dst_bytes;
        if ((rc = onc_gguf_add_tensor(w, s->name, t->dst_type, s->n_dims, s->ne, NULL, fill_tensor, &c, err)) !=
            ONC_OK) {
            onc_error_prefix(err, "%s", out);
            goto done;
        }
    }
    for (int i = 0; i < nth; i++) {
        c.scratch[i] = malloc((size_t)max_ne0 * sizeof(float));
        if (!c.scratch[i]) {
            rc = onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory for rows of %lld elements", in,
                               (long long)max_ne0);
            goto done;
        }
    }
    rc = onc_gguf_writer_write(w, out, err);

done:
    if (stats) *stats = st;
    if (c.scratch)
        for (int i = 0; i < onc_threadpool_n_threads(c.tp); i++) free(c.scratch[i]);
    free(c.scratch);
    onc_threadpool_free(c.tp);
    onc_gguf_writer_free(w);
    free(c.tensors);
    onc_gguf_close(g);
    return rc;
}
