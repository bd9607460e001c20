/* llm_load.c — loading decoder models and creating contexts (see
 * oncolm/llm.h). Tensors are checked against the architecture's tensor list
 * (oncolm/arch.h) and then point into the read-only GGUF mapping, except
 * the matrices repacked into a faster layout (onc_repack_type), which get
 * memory of their own while their file pages are released. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_impl.h"
#include "model/model_bind.h"
#include "oncolm/compute.h"

// --- model -----------------------------------------------------------------------

static onc_tensor *slot_of(onc_llm *m, const onc_arch_tensor *w) {
    llm_layer *L = w->layer >= 0 ? &m->layers[w->layer] : NULL;
    switch (w->role) {
    case ONC_ROLE_TOKEN_EMBD: return &m->tok_embd;
    case ONC_ROLE_OUTPUT_NORM: return &m->output_norm;
    case ONC_ROLE_OUTPUT: return &m->output;
    case ONC_ROLE_ROPE_FREQS: return &m->rope_freqs;
    case ONC_ROLE_ROPE_FACTORS_LONG: return &m->rope_long;
    case ONC_ROLE_ROPE_FACTORS_SHORT: return &m->rope_short;
    case ONC_ROLE_ATTN_NORM: return &L->attn_norm;
    case ONC_ROLE_ATTN_Q: return w->is_bias ? &L->bq : &L->wq;
    case ONC_ROLE_ATTN_K: return w->is_bias ? &L->bk : &L->wk;
    case ONC_ROLE_ATTN_V: return w->is_bias ? &L->bv : &L->wv;
    case ONC_ROLE_ATTN_QKV: return w->is_bias ? &L->bqkv : &L->wqkv;
    case ONC_ROLE_ATTN_OUT: return &L->wo;
    case ONC_ROLE_FFN_NORM: return &L->ffn_norm;
    case ONC_ROLE_FFN_GATE: return &L->ffn_gate;
    case ONC_ROLE_FFN_UP: return &L->ffn_up;
    case ONC_ROLE_FFN_DOWN: return &L->ffn_down;
    default: return NULL;
    }
}

onc_llm_load_params onc_llm_default_load_params(void) {
    const char *e = getenv("ONCOLM_REPACK");
    return (onc_llm_load_params){.repack = !(e && strcmp(e, "0") == 0)};
}

/* One repacking job over a list of weights: threads take the next weight
 * (atomic counter) and write its new layout into memory of their own. */
typedef struct repack_job {
    onc_tensor **list;
    const onc_type *to;
    void **mem;
    const onc_gguf *gguf;
    size_t n;
    atomic_size_t next;
} repack_job;

static void repack_task(void *ctx, int ith, int nth) {
    (void)ith, (void)nth;
    repack_job *j = ctx;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
        const onc_tensor *t = j->list[i];
        if (j->to[i] == t->type) continue;
        const size_t bytes = onc_tensor_nbytes(t);
        void *mem = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!mem) continue; /* keeps the file layout */
        onc_repack_rows(j->to[i], mem, t->data, t->nb[1], t->ne[1], t->ne[0]);
        onc_gguf_release_range(j->gguf, t->data, bytes); /* at once: peak memory ~ file + 1 weight per thread */
        j->mem[i] = mem;
    }
}

/* Rewrite the matrix weights (the token embeddings only when they are the
 * output matrix too) whose type has a faster layout at the current SIMD level
 * (onc_repack_type) into owned memory, on all cores, and release the
 * file's pages. A weight whose memory cannot be had keeps the file layout. */
static onc_status repack_weights(onc_llm *m, const char *path, onc_error *err) {
    const size_t per_layer = 8, cap = m->hp.n_layer * per_layer + 1;
    onc_tensor **list = calloc(cap, sizeof *list);
    onc_type *to = calloc(cap, sizeof *to);
    void **mem = calloc(cap, sizeof *mem);
    if (!(m->repacked = calloc(cap, sizeof *m->repacked)) || !list || !to || !mem) {
        free(list), free(to), free(mem);
        return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = 0, todo = 0;
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        llm_layer *L = &m->layers[l];
        onc_tensor *w[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down};
        for (size_t i = 0; i < per_layer; i++) list[n++] = w[i];
    }
    /* tied: the embedding matrix is the output projection too; lookups of
     * its rows work on the repacked layout (onc_weight_row_f32) */
    const bool tied = m->output.data == m->tok_embd.data;
    list[n++] = tied ? &m->tok_embd : &m->output;
    for (size_t i = 0; i < n; i++) {
        const onc_tensor *t = list[i];
        const bool matrix = t->data && t->ne[2] == 1 && t->ne[3] == 1;
        to[i] = matrix ? onc_repack_type(t->type, t->ne[1], t->ne[0]) : t->type;
        todo += to[i] != t->type;
    }
    if (todo) {
        repack_job job = {list, to, mem, m->gguf, n, 0};
        onc_threadpool *tp = onc_threadpool_new(0, NULL); /* NULL (no threads): this thread alone */
        onc_threadpool_run(tp, repack_task, &job);
        onc_threadpool_free(tp);
    }
    for (size_t i = 0; i < n; i++) {
        if (!mem[i]) continue;
        onc_tensor *t = list[i];
        t->data = mem[i];
        t->type = to[i];
        m->repacked[m->n_repacked++] = mem[i];
    }
    if (tied) m->output = m->tok_embd;
    free(list), free(to), free(mem);
    return ONC_OK;
}

int onc_llm_n_repacked(const onc_llm *m) { return m->n_repacked; }

onc_llm *onc_llm_load(const char *path, onc_error *err) {
    const onc_llm_load_params p = onc_llm_default_load_params();
    return onc_llm_load_with(path, &p, err);
}

onc_llm *onc_llm_load_with(const char *path, const onc_llm_load_params *lp, onc_error *err) {
    const onc_llm_load_params defaults = onc_llm_default_load_params();
    if (!lp) lp = &defaults;
    onc_llm *m = calloc(1, sizeof *m);
    if (!m) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    onc_arch_tensor *list = NULL;
    size_t n_list = 0;
    if (!(m->gguf = onc_gguf_open(path, err))) goto fail;
    if (onc_hparams_from_gguf(m->gguf, &m->hp, err) != ONC_OK) goto fail;
    if (m->hp.arch == ONC_ARCH_BERT) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: architecture bert is an encoder, not a text generator", path);
        goto fail;
    }
    if (onc_hparams_validate(&m->hp, path, err) != ONC_OK) goto fail;
    if (m->hp.rope_scaling == ONC_ROPE_SCALING_YARN) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: YaRN rope scaling is not supported yet", path);
        goto fail;
    }
    if (m->hp.n_embd_head_k != m->hp.n_embd_head_v) {
        onc_error_set(err, ONC_ERR_UNSUPPORTED, "%s: key and value head sizes differ (%u, %u): not supported", path,
                      m->hp.n_embd_head_k, m->hp.n_embd_head_v);
        goto fail;
    }
    if (!(m->tok = onc_tokenizer_from_gguf(m->gguf, err))) goto fail;
    if (onc_tokenizer_n_tokens(m->tok) > (int32_t)m->hp.n_vocab) {
        onc_error_set(err, ONC_ERR_FORMAT, "%s: the vocabulary has %d tokens but the model only %u rows", path,
                      onc_tokenizer_n_tokens(m->tok), m->hp.n_vocab);
        goto fail;
    }
    m->layers = calloc(m->hp.n_layer, sizeof *m->layers);
    if (!m->layers) {
        onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (!(list = onc_arch_tensors(&m->hp, &n_list, err))) goto fail;
    int type_count[64] = {0};
    for (size_t i = 0; i < n_list; i++) {
        onc_tensor *slot = slot_of(m, &list[i]);
        if (!slot) continue;
        if (onc_model_bind_tensor(m->gguf, m->hp.arch, &list[i], slot, err) != ONC_OK) goto fail;
        if (slot->data) {
            m->weight_bytes += onc_tensor_nbytes(slot);
            if (list[i].n_dims == 2 && slot->type >= 0 && slot->type < 64) type_count[slot->type]++;
        }
    }
    for (uint32_t l = 0; l < m->hp.n_layer; l++) m->layers[l].has_bias = m->layers[l].bq.data != NULL;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    int best = 0;
    for (int t = 1; t < 64; t++)
        if (type_count[t] > type_count[best]) best = t;
    m->ftype_tensor_type = best;
    free(list);
    list = NULL;
    if (lp->repack && repack_weights(m, path, err) != ONC_OK) goto fail;
    return m;
fail:
    free(list);
    onc_llm_free(m);
    return NULL;
}

void onc_llm_free(onc_llm *m) {
    if (!m) return;
    onc_tokenizer_free(m->tok);
    onc_hparams_clear(&m->hp);
    free(m->layers);
    for (int i = 0; i < m->n_repacked; i++) free(m->repacked[i]);
    free(m->repacked);
    onc_gguf_close(m->gguf);
    free(m);
}

const onc_hparams *onc_llm_hparams(const onc_llm *m) { return &m->hp; }
const onc_tokenizer *onc_llm_tokenizer(const onc_llm *m) { return m->tok; }
const onc_gguf *onc_llm_gguf(const onc_llm *m) { return m->gguf; }
int32_t onc_llm_n_vocab(const onc_llm *m) { return (int32_t)m->hp.n_vocab; }
size_t onc_llm_weight_bytes(const onc_llm *m) { return m->weight_bytes; }

const char *onc_llm_describe(const onc_llm *m, char *buf, size_t cap) {
    const int64_t n = onc_hparams_n_params(&m->hp);
    const onc_type_traits *tr = onc_type_traits_of((onc_type)m->ftype_tensor_type);
    snprintf(buf, cap, "%s %.2f%s params, %u layers, %s weights, %.1f MiB", onc_arch_name(m->hp.arch),
             n >= 1000000000 ? n / 1e9 : n / 1e6, n >= 1000000000 ? "B" : "M", m->hp.n_layer,
             tr->name ? tr->name : "?", m->weight_bytes / 1048576.0);
    const size_t len = strlen(buf);
    if (m->n_repacked > 0 && len < cap)
        snprintf(buf + len, cap - len, ", %d matrices repacked", m->n_repacked);
    return buf;
}

// --- context ---------------------------------------------------------------------

onc_llm_ctx_params onc_llm_ctx_default_params(void) {
    return (onc_llm_ctx_params){.n_ctx = 0, .n_seq = 1, .n_batch = 512, .kv_type = ONC_TYPE_F16, .n_threads = 0};
}

static void *scratch(size_t n_floats, bool *ok) {
    void *p = calloc(n_floats ? n_floats : 1, sizeof(float));
    if (!p) *ok = false;
    return p;
}

onc_llm_ctx *onc_llm_ctx_new(const onc_llm *m, const onc_llm_ctx_params *params, onc_error *err) {
    const onc_hparams *hp = &m->hp;
    onc_llm_ctx_params p = params ? *params : onc_llm_ctx_default_params();
    if (p.n_ctx == 0) p.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (p.n_seq == 0) p.n_seq = 1;
    if (p.n_batch == 0) p.n_batch = 512;
    if (p.kv_type != ONC_TYPE_F16 && p.kv_type != ONC_TYPE_F32) {
        onc_error_set(err, ONC_ERR_INVALID, "context: KV cache type must be f16 or f32");
        return NULL;
    }
    if ((uint64_t)p.n_ctx * p.n_seq > INT32_MAX / 2) {
        onc_error_set(err, ONC_ERR_INVALID, "context: %u sequences x %u positions is too many", p.n_seq, p.n_ctx);
        return NULL;
    }
    onc_llm_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        onc_error_set(err, ONC_ERR_NOMEM, "context: out of memory");
        return NULL;
    }
    c->m = m;
    c->p = p;
    if (!(c->be = onc_backend_cpu_new(p.n_threads, err))) goto fail_quiet;

    const int64_t n_cells = (int64_t)p.n_ctx * p.n_seq;
    const int64_t gk = (int64_t)hp->n_embd_head_k * hp->n_head_kv, gv = (int64_t)hp->n_embd_head_v * hp->n_head_kv;
    const size_t es = onc_type_traits_of(p.kv_type)->type_size;
    c->kv_bytes = (size_t)hp->n_layer * (size_t)n_cells * (size_t)(gk + gv) * es;
    c->kv_mem = calloc(1, c->kv_bytes);
    c->k_cache = calloc(hp->n_layer, sizeof *c->k_cache);
    c->v_cache = calloc(hp->n_layer, sizeof *c->v_cache);
    c->seq_len = calloc(p.n_seq, sizeof *c->seq_len);
    if (!c->kv_mem || !c->k_cache || !c->v_cache || !c->seq_len) {
        onc_error_set(err, ONC_ERR_NOMEM,
                      "context: cannot allocate a KV cache of %.1f MiB (%u sequences x %u positions)",
                      c->kv_bytes / 1048576.0, p.n_seq, p.n_ctx);
        goto fail_quiet;
    }
    char *kv = c->kv_mem;
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        onc_tensor_init(&c->k_cache[l], p.kv_type, 2, (int64_t[]){gk, n_cells}, kv, NULL, "k_cache");
        kv += (size_t)gk * n_cells * es;
        onc_tensor_init(&c->v_cache[l], p.kv_type, 2, (int64_t[]){n_cells, gv}, kv, NULL, "v_cache");
        kv += (size_t)gv * n_cells * es;
    }

    const size_t B = p.n_batch;
    const size_t n_q = (size_t)hp->n_embd_head_k * hp->n_head, n_attn = (size_t)hp->n_embd_head_v * hp->n_head;
    bool ok = true;
    c->x = scratch(B * hp->n_embd, &ok);
    c->h = scratch(B * hp->n_embd, &ok);
    c->tmp = scratch(B * hp->n_embd, &ok);
    c->out_rows = scratch(B * hp->n_embd, &ok);
    c->q = scratch(B * n_q, &ok);
    c->k = scratch(B * (size_t)gk, &ok);
    c->v = scratch(B * (size_t)gv, &ok);
    c->qkv = scratch(B * (n_q + (size_t)gk + (size_t)gv), &ok);
    c->attn = scratch(B * n_attn, &ok);
    c->gate = scratch(B * 2 * (size_t)hp->n_ff, &ok);
    c->up = scratch(B * (size_t)hp->n_ff, &ok);
    c->logits_rows = NULL; /* logits go straight into c->logits */
    c->pos = calloc(B, sizeof(int32_t));
    c->cells = calloc(B, sizeof(int32_t));
    c->kv_start = calloc(B, sizeof(int32_t));
    c->kv_len = calloc(B, sizeof(int32_t));
    c->ids = calloc(B, sizeof(int32_t));
    c->out_idx = calloc(B, sizeof(int32_t));
    if (!ok || !c->pos || !c->cells || !c->kv_start || !c->kv_len || !c->ids || !c->out_idx) {
        onc_error_set(err, ONC_ERR_NOMEM, "context: cannot allocate scratch for batches of %u tokens", p.n_batch);
        goto fail_quiet;
    }
    return c;
fail_quiet:
    onc_llm_ctx_free(c);
    return NULL;
}

void onc_llm_ctx_free(onc_llm_ctx *c) {
    if (!c) return;
    onc_backend_free(c->be);
    free(c->kv_mem);
    free(c->k_cache);
    free(c->v_cache);
    free(c->seq_len);
    float *bufs[] = {c->x, c->h, c->q, c->k, c->v, c->qkv, c->attn, c->tmp, c->gate, c->up, c->out_rows, c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(c->pos);
    free(c->cells);
    free(c->kv_start);
    free(c->kv_len);
    free(c->ids);
    free(c->out_idx);
    free(c->logits_of);
    llm_lora_clear(c);
    free(c);
}

const onc_llm *onc_llm_ctx_model(const onc_llm_ctx *c) { return c->m; }
uint32_t onc_llm_ctx_n_ctx(const onc_llm_ctx *c) { return c->p.n_ctx; }
uint32_t onc_llm_ctx_n_seq(const onc_llm_ctx *c) { return c->p.n_seq; }
size_t onc_llm_ctx_kv_bytes(const onc_llm_ctx *c) { return c->kv_bytes; }

uint32_t onc_llm_seq_len(const onc_llm_ctx *c, uint32_t seq) {
    ONC_ASSERT(seq < c->p.n_seq);
    return c->seq_len[seq];
}

void onc_llm_seq_truncate(onc_llm_ctx *c, uint32_t seq, uint32_t n_keep) {
    ONC_ASSERT(seq < c->p.n_seq);
    if (n_keep < c->seq_len[seq]) c->seq_len[seq] = n_keep;
}

void onc_llm_seq_clear(onc_llm_ctx *c, uint32_t seq) { onc_llm_seq_truncate(c, seq, 0); }
