/* enc_train.c — the encoder training loop (see oncolm/enc_train.h): data,
 * micro-batches and accumulation, the three tasks' losses, validation and
 * best-model selection, checkpoints with exact resume (train_common.h, as
 * LoRA fine-tuning), outputs. The held-out retrieval evaluation and BM25
 * mining live in enc_train_eval.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oncolm/enc_data.h"
#include "oncolm/enc_model.h"
#include "oncolm/enc_train.h"
#include "oncolm/eval_classify.h"
#include "oncolm/gguf.h"
#include "oncolm/train_ops.h"
#include "train/enc_train_impl.h"

onc_train_params onc_train_default_params(onc_train_task task) {
    onc_train_params p;
    memset(&p, 0, sizeof p);
    p.task = task;
    p.lora = onc_lora_config_default();
    p.lora.rank = 0;
    p.lora.alpha = 16;
    p.lora.dropout = 0.1f;
    p.seed = 42;
    p.max_len = 128;
    p.val_fraction = 0.1;
    p.batch_size = task == ONC_TRAIN_EMBED ? 32 : 16;
    p.grad_accum = 1;
    p.epochs = task == ONC_TRAIN_CLASSIFY ? 3 : 1;
    p.lr = task == ONC_TRAIN_MLM ? 5e-5 : 2e-5;
    p.schedule = ONC_LR_LINEAR;
    p.warmup_ratio = 0.1;
    p.weight_decay = 0.01;
    p.max_grad_norm = 1.0;
    p.dropout = 0.1f;
    p.eval_every = 100;
    p.save_every = 100;
    p.out_type = ONC_TYPE_F32;
    p.metric = task == ONC_TRAIN_CLASSIFY ? ONC_METRIC_MACRO_F1 : ONC_METRIC_LOSS;
    p.resample = ONC_RESAMPLE_NONE;
    p.pooling = ONC_POOLING_MEAN;
    p.scale = 20.0f;
    p.mine_negatives = 1;
    p.mlm_probability = 0.15f;
    return p;
}

const char *onc_train_task_name(onc_train_task t) {
    switch (t) {
    case ONC_TRAIN_CLASSIFY: return "classify";
    case ONC_TRAIN_EMBED: return "embed";
    case ONC_TRAIN_MLM: return "mlm";
    }
    return "?";
}

const char *onc_train_metric_name(onc_train_metric m) {
    switch (m) {
    case ONC_METRIC_MACRO_F1: return "macro-F1";
    case ONC_METRIC_ACCURACY: return "accuracy";
    case ONC_METRIC_LOSS: return "validation loss";
    case ONC_METRIC_NDCG10: return "nDCG@10";
    }
    return "?";
}

static const char *pooling_name(onc_pooling p) {
    return p == ONC_POOLING_MEAN ? "mean" : p == ONC_POOLING_CLS ? "cls" : p == ONC_POOLING_LAST ? "last" : "?";
}

static bool higher_is_better(onc_train_metric m) { return m != ONC_METRIC_LOSS; }

static const char *out_file(et_run *r, const char *name) {
    snprintf(r->path, sizeof r->path, "%s/%s", r->p->out_dir, name);
    return r->path;
}

// --- batches ---------------------------------------------------------------------------

void et_batch_reset(et_run *r) { r->n_tok = 0, r->n_seq = 0; }

/* Append one sequence to the packed batch (the caller sized the buffers). */
void et_batch_add(et_run *r, const onc_token_seq *s) {
    memcpy(r->tok + r->n_tok, s->ids, (size_t)s->n * sizeof(int32_t));
    r->seq_start[r->n_seq] = r->n_tok;
    r->seq_len[r->n_seq++] = s->n;
    r->n_tok += s->n;
}

onc_enc_batch et_batch(const et_run *r) {
    return (onc_enc_batch){.tokens = r->tok, .types = NULL, .seq_start = r->seq_start, .seq_len = r->seq_len,
                           .n_tokens = r->n_tok, .n_seq = r->n_seq};
}

/* Embeddings (pooled, not normalised) of sequences seqs[0..n) into out[n][E],
 * in forward passes of at most r->chunk sequences; train = dropout with
 * seeds seed + chunk index. When keep and everything fits one pass, the
 * activations stay for a backward (returns true then). */
static onc_status embed_seqs(et_run *r, const onc_token_seq *const *seqs, int32_t n, bool train, uint64_t seed,
                             float *out, bool *kept, onc_error *err) {
    const int64_t E = r->E;
    if (kept) *kept = n <= r->chunk;
    for (int32_t c0 = 0, ci = 0; c0 < n; c0 += r->chunk, ci++) {
        const int32_t c1 = c0 + r->chunk < n ? c0 + r->chunk : n;
        et_batch_reset(r);
        for (int32_t i = c0; i < c1; i++) et_batch_add(r, seqs[i]);
        const onc_enc_batch b = et_batch(r);
        const float *h;
        onc_status st = onc_enc_model_forward(r->m, &b, train, train_mix(seed, (uint64_t)ci), &h, err);
        if (st != ONC_OK) return st;
        onc_pool_fwd(r->p->pooling, out + (size_t)c0 * E, h, r->seq_start, r->seq_len, r->n_seq, E);
    }
    return ONC_OK;
}

/* Backward of embed_seqs given d(out): recomputes each chunk's forward with
 * the same seeds unless the activations were kept. */
static onc_status embed_seqs_bwd(et_run *r, const onc_token_seq *const *seqs, int32_t n, uint64_t seed,
                                 const float *dout, bool kept, onc_error *err) {
    const int64_t E = r->E;
    for (int32_t c0 = 0, ci = 0; c0 < n; c0 += r->chunk, ci++) {
        const int32_t c1 = c0 + r->chunk < n ? c0 + r->chunk : n;
        et_batch_reset(r);
        for (int32_t i = c0; i < c1; i++) et_batch_add(r, seqs[i]);
        if (!kept) {
            const onc_enc_batch b = et_batch(r);
            const float *h;
            onc_status st = onc_enc_model_forward(r->m, &b, true, train_mix(seed, (uint64_t)ci), &h, err);
            if (st != ONC_OK) return st;
        }
        memset(r->dstates, 0, (size_t)r->n_tok * (size_t)E * sizeof(float));
        onc_pool_bwd(r->p->pooling, r->dstates, dout + (size_t)c0 * E, r->seq_start, r->seq_len, r->n_seq, E);
        onc_status st = onc_enc_model_backward(r->m, r->dstates, err);
        if (st != ONC_OK) return st;
    }
    return ONC_OK;
}

// --- the three tasks: one micro-batch ------------------------------------------------

/* Classification: examples ex[0..n); the gradient of the step's mean loss
 * (weight = n / examples of the step). */
static onc_status classify_micro(et_run *r, const onc_enc_example *const *ex, int32_t n, double weight,
                                 uint64_t seed, double *loss, onc_error *err) {
    const int64_t E = r->E, C = r->C;
    et_batch_reset(r);
    for (int32_t i = 0; i < n; i++) et_batch_add(r, &ex[i]->text), r->labels[i] = ex[i]->label;
    const onc_enc_batch b = et_batch(r);
    const float *h;
    onc_status st = onc_enc_model_forward(r->m, &b, true, seed, &h, err);
    if (st != ONC_OK) return st;
    onc_pool_fwd(ONC_POOLING_CLS, r->pooled, h, r->seq_start, r->seq_len, n, E);
    if ((st = onc_enc_model_classify(r->m, r->pooled, n, r->logits, NULL, NULL, err)) != ONC_OK) return st;
    memset(r->dlogits, 0, (size_t)(n * C) * sizeof(float));
    *loss = onc_softmax_xent(r->dlogits, r->logits, r->labels, r->class_w, n, C);
    for (int64_t i = 0; i < n * C; i++) r->dlogits[i] *= (float)weight;
    memset(r->dpooled, 0, (size_t)(n * E) * sizeof(float));
    if ((st = onc_enc_model_classify(r->m, r->pooled, n, r->logits, r->dlogits, r->dpooled, err)) != ONC_OK)
        return st;
    memset(r->dstates, 0, (size_t)r->n_tok * (size_t)E * sizeof(float));
    onc_pool_bwd(ONC_POOLING_CLS, r->dstates, r->dpooled, r->seq_start, r->seq_len, n, E);
    return onc_enc_model_backward(r->m, r->dstates, err);
}

/* Gathers the sequences of embedding examples: anchors (queries), then
 * positives, then every hard negative; returns the count, *n_cand the
 * candidates (positives + negatives). */
static int32_t pair_seqs(et_run *r, const onc_enc_example *const *ex, int32_t n, int32_t *n_cand) {
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) r->seqs[k++] = &ex[i]->text;
    for (int32_t i = 0; i < n; i++) r->seqs[k++] = &ex[i]->positive;
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < ex[i]->n_negatives; j++) r->seqs[k++] = &ex[i]->negatives[j];
    *n_cand = k - n;
    return k;
}

/* In-batch-negatives contrastive loss (MNRL) with gradient caching. */
static onc_status embed_micro(et_run *r, const onc_enc_example *const *ex, int32_t n, double weight, uint64_t seed,
                              bool backward, double *loss, onc_error *err) {
    int32_t n_cand;
    const int32_t n_seqs = pair_seqs(r, ex, n, &n_cand);
    const int64_t E = r->E;
    bool kept = false;
    onc_status st = embed_seqs(r, r->seqs, n_seqs, backward, seed, r->emb, &kept, err);
    if (st != ONC_OK) return st;
    memset(r->demb, 0, (size_t)n_seqs * (size_t)E * sizeof(float));
    *loss = onc_mnrl_loss(r->emb, r->emb + (size_t)n * E, n, n_cand, E, r->p->scale, r->p->symmetric,
                          (float)weight, backward ? r->demb : NULL, backward ? r->demb + (size_t)n * E : NULL);
    if (isnan(*loss)) return onc_error_set(err, ONC_ERR_NOMEM, "training: out of memory in the contrastive loss");
    return backward ? embed_seqs_bwd(r, r->seqs, n_seqs, seed, r->demb, kept, err) : ONC_OK;
}

/* Mask seed of the text at place `index` of a step (or of the validation set). */
static uint64_t mask_seed(uint64_t base, int64_t index) { return train_mix(base, (uint64_t)index); }

/* Masked LM on texts ex[0..n), text i masked with mask_seed(mask_base,
 * index0 + i); the loss is summed into *loss_sum and the masked tokens
 * counted into *n_masked; grad_scale = 1 / masked tokens of the step
 * (backward only). */
static onc_status mlm_micro(et_run *r, const onc_enc_example *const *ex, int32_t n, uint64_t mask_base,
                            int64_t index0, uint64_t drop_seed, bool backward, float grad_scale, double *loss_sum,
                            int64_t *n_masked, onc_error *err) {
    et_batch_reset(r);
    for (int32_t i = 0; i < n; i++) et_batch_add(r, &ex[i]->text);
    int64_t m = 0;
    for (int32_t s = 0; s < r->n_seq; s++) {
        int32_t *t = r->tok + r->seq_start[s], *lab = r->mlm_lab_tok + r->seq_start[s];
        onc_mlm_mask(t, lab, r->seq_len[s], r->is_special, r->n_vocab, r->mask_id, r->p->mlm_probability,
                     mask_seed(mask_base, index0 + s));
        for (int32_t j = 0; j < r->seq_len[s]; j++)
            if (lab[j] >= 0) r->mlm_pos[m] = r->seq_start[s] + j, r->mlm_lab[m++] = lab[j];
    }
    *n_masked += m;
    if (m == 0) return ONC_OK;
    const onc_enc_batch b = et_batch(r);
    const float *h;
    onc_status st = onc_enc_model_forward(r->m, &b, backward, drop_seed, &h, err);
    if (st != ONC_OK) return st;
    if (backward) memset(r->dstates, 0, (size_t)r->n_tok * (size_t)r->E * sizeof(float));
    st = onc_enc_model_mlm_loss(r->m, h, r->mlm_pos, r->mlm_lab, m, grad_scale, loss_sum,
                                backward ? r->dstates : NULL, err);
    if (st == ONC_OK && backward) st = onc_enc_model_backward(r->m, r->dstates, err);
    return st;
}

/* Masked tokens text e gets with seed (for the step's mean). */
static int64_t mlm_count(et_run *r, const onc_enc_example *e, uint64_t seed) {
    memcpy(r->tok, e->text.ids, (size_t)e->text.n * sizeof(int32_t));
    return onc_mlm_mask(r->tok, r->mlm_lab_tok, e->text.n, r->is_special, r->n_vocab, r->mask_id,
                        r->p->mlm_probability, seed);
}

// --- validation ------------------------------------------------------------------------

/* Classification: validation loss, macro-F1 and accuracy (scikit-learn's). */
static onc_status validate_classify(et_run *r, double *vloss, double *metric, onc_error *err) {
    const onc_enc_dataset *d = r->data;
    const int64_t E = r->E, C = r->C;
    const char **gold = malloc((size_t)d->n_val * sizeof *gold), **pred = malloc((size_t)d->n_val * sizeof *pred);
    if (!gold || !pred) {
        free(gold), free(pred);
        return onc_error_set(err, ONC_ERR_NOMEM, "validation: out of memory");
    }
    double sum = 0;
    onc_status st = ONC_OK;
    for (int64_t i0 = 0; i0 < d->n_val && st == ONC_OK; i0 += r->p->batch_size) {
        const int64_t i1 = i0 + r->p->batch_size < d->n_val ? i0 + r->p->batch_size : d->n_val;
        et_batch_reset(r);
        for (int64_t i = i0; i < i1; i++) et_batch_add(r, &d->val[i].text), r->labels[i - i0] = d->val[i].label;
        const onc_enc_batch b = et_batch(r);
        const float *h;
        if ((st = onc_enc_model_forward(r->m, &b, false, 0, &h, err)) != ONC_OK) break;
        const int32_t n = (int32_t)(i1 - i0);
        onc_pool_fwd(ONC_POOLING_CLS, r->pooled, h, r->seq_start, r->seq_len, n, E);
        if ((st = onc_enc_model_classify(r->m, r->pooled, n, r->logits, NULL, NULL, err)) != ONC_OK) break;
        sum += onc_softmax_xent(r->dlogits, r->logits, r->labels, NULL, n, C) * n;
        for (int32_t i = 0; i < n; i++) {
            int32_t best = 0;
            for (int32_t c = 1; c < C; c++)
                if (r->logits[i * C + c] > r->logits[i * C + best]) best = c;
            gold[i0 + i] = d->labels[d->val[i0 + i].label];
            pred[i0 + i] = d->labels[best];
        }
    }
    if (st == ONC_OK) {
        *vloss = sum / (double)d->n_val;
        onc_cls_opts o;
        onc_cls_opts_default(&o);
        o.labels = (const char *const *)d->labels;
        o.n_labels = (size_t)d->n_labels;
        onc_cls_result *res = onc_cls_evaluate(gold, pred, (size_t)d->n_val, &o, err);
        if (!res) st = err ? err->code : ONC_ERR_INVALID;
        else {
            *metric = r->p->metric == ONC_METRIC_ACCURACY ? res->accuracy : r->p->metric == ONC_METRIC_LOSS
                                                                                 ? *vloss
                                                                                 : res->macro.f1.value;
            r->last_accuracy = res->accuracy;
            r->last_macro_f1 = res->macro.f1.value;
            onc_cls_result_free(res);
        }
    }
    free(gold), free(pred);
    return st;
}

static onc_status validate_loss(et_run *r, double *vloss, onc_error *err) {
    const onc_enc_dataset *d = r->data;
    double sum = 0;
    int64_t cnt = 0;
    onc_status st = ONC_OK;
    for (int64_t i0 = 0; i0 < d->n_val && st == ONC_OK; i0 += r->p->batch_size) {
        const int32_t n = (int32_t)(i0 + r->p->batch_size < d->n_val ? r->p->batch_size : d->n_val - i0);
        for (int32_t i = 0; i < n; i++) r->batch[i] = &d->val[i0 + i];
        if (r->p->task == ONC_TRAIN_EMBED) {
            double l = 0;
            st = embed_micro(r, r->batch, n, 1.0, 0, false, &l, err);
            sum += l * n, cnt += n;
        } else {
            st = mlm_micro(r, r->batch, n, r->p->seed ^ 0x5A17, i0, 0, false, 1.0f, &sum, &cnt, err);
        }
    }
    *vloss = cnt ? sum / (double)cnt : NAN;
    return st;
}

/* Validation loss and selection metric of the model as it is now (NaN
 * where there is nothing to measure); reported as an EVAL event. */
static onc_status measure(et_run *r, int64_t step, double *vl, double *metric, onc_error *err) {
    *vl = NAN, *metric = NAN;
    onc_status st = ONC_OK;
    if (r->data->n_val) {
        st = r->p->task == ONC_TRAIN_CLASSIFY ? validate_classify(r, vl, metric, err) : validate_loss(r, vl, err);
        if (st == ONC_OK && r->p->task != ONC_TRAIN_CLASSIFY) *metric = *vl;
    }
    if (st == ONC_OK && r->p->metric == ONC_METRIC_NDCG10) st = et_eval_beir(r, metric, err);
    if (st != ONC_OK) return st;
    onc_finetune_event ev = {.kind = ONC_FT_EVENT_EVAL, .step = step, .total_steps = r->total_steps, .val_loss = *vl,
                             .val_metric = *metric, .metric_name = onc_train_metric_name(r->p->metric)};
    if (r->p->progress) r->p->progress(r->p->progress_user, &ev);
    return ONC_OK;
}

/* Validation at `step`: log, best.gguf on improvement, early stopping. */
static onc_status evaluate(et_run *r, int64_t step, bool *stop, onc_error *err) {
    double vl, metric;
    onc_status st = measure(r, step, &vl, &metric, err);
    if (st != ONC_OK) return st;
    train_log_set_val(&r->log, step, vl, metric);
    if (isnan(metric)) return ONC_OK;
    const bool better = isnan(r->best.best) ||
                        (higher_is_better(r->p->metric) ? metric > r->best.best : metric < r->best.best);
    if (better) {
        r->best.best = metric;
        r->best.best_step = step;
        r->best.bad_evals = 0;
        st = onc_enc_model_save(r->m, out_file(r, "best.gguf"), r->p->out_type, r->save_pooling, err);
    } else if (r->p->patience > 0 && ++r->best.bad_evals >= r->p->patience) {
        *stop = true;
    }
    return st;
}

// --- checkpoints -----------------------------------------------------------------------

static uint64_t hash_seq(uint64_t h, const onc_token_seq *s) {
    h = train_mix(h, (uint64_t)s->n);
    for (int32_t t = 0; t < s->n; t++) h = train_mix(h, (uint64_t)s->ids[t]);
    return h;
}

static uint64_t data_hash(const onc_enc_dataset *d) {
    uint64_t h = 0x7E57DA7Au;
    for (int64_t i = 0; i < d->n_train; i++) {
        const onc_enc_example *e = &d->train[i];
        h = hash_seq(hash_seq(h, &e->text), &e->positive);
        for (int32_t j = 0; j < e->n_negatives; j++) h = hash_seq(h, &e->negatives[j]);
        h = train_mix(h, (uint64_t)(e->label + 1));
    }
    return train_mix(h, (uint64_t)d->n_val);
}

static uint64_t settings_hash(const onc_train_params *p) {
    uint64_t h = train_mix(p->seed, (uint64_t)p->task * 1000003 + (uint64_t)p->max_len);
    h = train_mix(h, (uint64_t)p->batch_size * 4096 + (uint64_t)p->grad_accum);
    h = train_mix(h, (uint64_t)p->epochs * 1000003 + (uint64_t)p->max_steps);
    const double d[] = {p->lr, p->warmup_ratio, p->weight_decay, p->max_grad_norm, p->dropout, p->lora.alpha,
                        p->lora.dropout, p->scale, p->mlm_probability};
    for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
        uint64_t u;
        memcpy(&u, &d[i], sizeof u);
        h = train_mix(h, u);
    }
    h = train_mix(h, (uint64_t)p->lora.rank * 1024 + p->lora.modules * 2 + p->lora.rslora);
    h = train_mix(h, (uint64_t)p->schedule * 1000003 + (uint64_t)p->warmup_steps);
    h = train_mix(h, (uint64_t)p->resample * 64 + p->class_weights * 32 + p->symmetric * 16 + (uint64_t)p->metric);
    h = train_mix(h, (uint64_t)(p->pooling + 1) * 131 + (uint64_t)p->mine_negatives * (p->mine_store != NULL));
    return train_mix(h, (uint64_t)p->eval_every * 131 + (uint64_t)p->patience);
}

static onc_status save_checkpoint(et_run *r, int64_t step, onc_error *err) {
    return train_ckpt_save(out_file(r, "checkpoint.gguf"), "oncolm.train.checkpoint", "train", step,
                           settings_hash(r->p), r->data_hash, &r->best, &r->log, r->ckpt, r->n_ckpt, r->opt, err);
}

static onc_status load_checkpoint(et_run *r, int64_t *step, onc_error *err) {
    return train_ckpt_load(out_file(r, "checkpoint.gguf"), "train", settings_hash(r->p), r->data_hash,
                           r->total_steps, &r->best, &r->log, r->ckpt, r->n_ckpt, r->opt, step, err);
}

// --- setup -----------------------------------------------------------------------------

static onc_status check_params(const onc_train_params *p, onc_error *err) {
    if (!p->model_path || !p->data_path || !p->out_dir)
        return onc_error_set(err, ONC_ERR_INVALID, "training: a model, a data file and an output folder are needed");
    if (p->max_len < 4 || p->batch_size < 1 || p->grad_accum < 1 || p->epochs < 1 || p->lr < 0 ||
        p->max_grad_norm < 0 || p->eval_every < 0 || p->save_every < 0 || p->patience < 0 || p->chunk < 0 ||
        p->max_steps < 0)
        return onc_error_set(err, ONC_ERR_INVALID, "training: invalid option (lengths, batches, epochs and steps "
                                                   "must be positive, rates non-negative)");
    if (!(p->dropout >= 0 && p->dropout < 1) || !(p->mlm_probability > 0 && p->mlm_probability < 1) ||
        !(p->scale > 0))
        return onc_error_set(err, ONC_ERR_INVALID,
                             "training: dropout must be in [0, 1), the masking probability in (0, 1), the scale > 0");
    if (p->out_type != ONC_TYPE_F32 && p->out_type != ONC_TYPE_F16)
        return onc_error_set(err, ONC_ERR_INVALID, "training: the output weights must be f32 or f16");
    if (p->task == ONC_TRAIN_EMBED && (p->pooling == ONC_POOLING_NONE || p->pooling == ONC_POOLING_RANK))
        return onc_error_set(err, ONC_ERR_INVALID, "training: an embedder needs mean, cls or last pooling");
    if (p->metric == ONC_METRIC_NDCG10 && (p->task != ONC_TRAIN_EMBED || !p->eval_beir))
        return onc_error_set(err, ONC_ERR_INVALID, "training: nDCG@10 needs an embedder and a BEIR folder (--eval-beir)");
    if ((p->metric == ONC_METRIC_MACRO_F1 || p->metric == ONC_METRIC_ACCURACY) && p->task != ONC_TRAIN_CLASSIFY)
        return onc_error_set(err, ONC_ERR_INVALID, "training: %s is a classification metric",
                             onc_train_metric_name(p->metric));
    return ONC_OK;
}

static onc_status load_data(et_run *r, onc_error *err) {
    const onc_train_params *p = r->p;
    if (!(r->gguf = onc_gguf_open(p->model_path, err))) return err ? err->code : ONC_ERR_IO;
    if (!(r->tokenizer = onc_tokenizer_from_gguf(r->gguf, err))) return err ? err->code : ONC_ERR_FORMAT;
    const onc_enc_data_kind kind = p->task == ONC_TRAIN_CLASSIFY ? ONC_ENC_DATA_CLASSIFY
                                   : p->task == ONC_TRAIN_EMBED  ? ONC_ENC_DATA_PAIRS
                                                                 : ONC_ENC_DATA_TEXTS;
    onc_enc_data_params dp = onc_enc_data_default_params(kind);
    dp.max_len = p->max_len;
    dp.val_fraction = p->val_fraction;
    dp.seed = p->seed;
    if (!(r->data = onc_enc_data_load(p->data_path, r->tokenizer, &dp, err))) return err ? err->code : ONC_ERR_FORMAT;
    if (p->task == ONC_TRAIN_CLASSIFY && r->data->n_labels < 2)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: classification needs at least two labels (found %d)",
                             p->data_path, r->data->n_labels);
    if (p->task == ONC_TRAIN_EMBED && p->mine_store && p->mine_negatives > 0)
        return et_mine_negatives(r, err);
    return ONC_OK;
}

static onc_status load_model(et_run *r, onc_error *err) {
    const onc_train_params *p = r->p;
    onc_enc_model_params mp = onc_enc_model_default_params();
    int32_t max_neg = 0;
    for (int64_t i = 0; i < r->data->n_train; i++)
        if (r->data->train[i].n_negatives > max_neg) max_neg = r->data->train[i].n_negatives;
    for (int64_t i = 0; i < r->data->n_val; i++)
        if (r->data->val[i].n_negatives > max_neg) max_neg = r->data->val[i].n_negatives;
    r->max_seqs = p->task == ONC_TRAIN_EMBED ? p->batch_size * (2 + max_neg) : p->batch_size;
    r->chunk = p->task == ONC_TRAIN_EMBED && p->chunk > 0 && p->chunk < r->max_seqs ? p->chunk : r->max_seqs;
    const int32_t per_pass = p->task == ONC_TRAIN_EMBED ? r->chunk : p->batch_size;
    mp.max_tokens = (int64_t)per_pass * p->max_len;
    mp.n_threads = p->n_threads;
    mp.dropout = p->dropout;
    mp.seed = p->seed;
    mp.lora = p->lora;
    if (p->task == ONC_TRAIN_CLASSIFY) {
        mp.n_labels = (uint32_t)r->data->n_labels;
        mp.labels = (const char *const *)r->data->labels;
    }
    mp.mlm_head = p->task == ONC_TRAIN_MLM;
    if (!(r->m = onc_enc_model_load(p->model_path, &mp, err))) return err ? err->code : ONC_ERR_FORMAT;
    const onc_hparams *hp = onc_enc_model_hparams(r->m);
    r->E = hp->n_embd;
    r->C = (int32_t)onc_enc_model_n_labels(r->m);
    r->n_vocab = (int32_t)hp->n_vocab;
    if (hp->n_ctx_train < (uint32_t)p->max_len)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: --max-len %d is more than the model's context length %u",
                             p->model_path, p->max_len, hp->n_ctx_train);
    r->save_pooling = p->task == ONC_TRAIN_EMBED ? p->pooling : ONC_POOLING_UNSPECIFIED;
    return ONC_OK;
}

static onc_status setup_mlm(et_run *r, onc_error *err) {
    r->mask_id = onc_tokenizer_special(r->tokenizer, ONC_SPECIAL_MASK);
    if (r->mask_id < 0 || r->mask_id >= r->n_vocab)
        return onc_error_set(err, ONC_ERR_INVALID, "%s: the vocabulary has no [MASK] token, needed for masked-LM "
                             "training", r->p->model_path);
    if (!(r->is_special = calloc((size_t)r->n_vocab, sizeof *r->is_special)))
        return onc_error_set(err, ONC_ERR_NOMEM, "training: out of memory");
    for (int32_t i = 0; i < r->n_vocab; i++) r->is_special[i] = onc_token_is_control(r->tokenizer, i);
    return ONC_OK;
}

static onc_status prepare(et_run *r, onc_error *err) {
    const onc_train_params *p = r->p;
    onc_status st;
    if ((st = load_data(r, err)) != ONC_OK || (st = load_model(r, err)) != ONC_OK) return st;
    if (p->task == ONC_TRAIN_MLM && (st = setup_mlm(r, err)) != ONC_OK) return st;
    const onc_enc_dataset *d = r->data;
    /* the training pool: resampled once (classification), shuffled per epoch */
    if (p->task == ONC_TRAIN_CLASSIFY) {
        int32_t *lab = malloc((size_t)d->n_train * sizeof *lab);
        if (!lab) return onc_error_set(err, ONC_ERR_NOMEM, "training: out of memory");
        for (int64_t i = 0; i < d->n_train; i++) lab[i] = d->train[i].label;
        st = onc_resample_indices(p->resample, lab, d->n_train, r->C, p->seed, &r->pool, &r->n_pool, err);
        if (st == ONC_OK && p->class_weights) {
            if (!(r->class_w = malloc((size_t)r->C * sizeof *r->class_w)))
                st = onc_error_set(err, ONC_ERR_NOMEM, "training: out of memory");
            else
                onc_class_weights_balanced(r->class_w, lab, d->n_train, r->C);
        }
        free(lab);
        if (st != ONC_OK) return st;
    } else {
        if (!(r->pool = malloc((size_t)d->n_train * sizeof *r->pool)))
            return onc_error_set(err, ONC_ERR_NOMEM, "training: out of memory");
        for (int64_t i = 0; i < d->n_train; i++) r->pool[i] = i;
        r->n_pool = d->n_train;
    }
    const int64_t micros = (r->n_pool + p->batch_size - 1) / p->batch_size;
    r->steps_per_epoch = (micros + p->grad_accum - 1) / p->grad_accum;
    r->total_steps = p->max_steps > 0 ? p->max_steps : r->steps_per_epoch * p->epochs;
    r->warmup = p->warmup_steps > 0 ? p->warmup_steps : (int64_t)ceil(p->warmup_ratio * (double)r->total_steps);

    /* buffers */
    const size_t T = (size_t)r->chunk * (size_t)p->max_len, S = (size_t)r->max_seqs, E = (size_t)r->E;
    const size_t C = (size_t)(r->C > 0 ? r->C : 1);
    r->order = malloc((size_t)r->n_pool * sizeof *r->order);
    r->tok = malloc(T * sizeof(int32_t));
    r->mlm_lab_tok = malloc(T * sizeof(int32_t));
    r->mlm_pos = malloc(T * sizeof(int32_t));
    r->mlm_lab = malloc(T * sizeof(int32_t));
    r->seq_start = malloc(S * sizeof(int32_t));
    r->seq_len = malloc(S * sizeof(int32_t));
    r->labels = malloc(S * sizeof(int32_t));
    r->dstates = malloc(T * E * sizeof(float));
    r->pooled = malloc(S * E * sizeof(float));
    r->dpooled = malloc(S * E * sizeof(float));
    r->logits = malloc(S * C * sizeof(float));
    r->dlogits = malloc(S * C * sizeof(float));
    r->emb = malloc(S * E * sizeof(float));
    r->demb = malloc(S * E * sizeof(float));
    r->seqs = malloc(S * sizeof *r->seqs);
    r->batch = malloc((size_t)p->batch_size * sizeof *r->batch);
    if (!r->order || !r->tok || !r->mlm_lab_tok || !r->mlm_pos || !r->mlm_lab || !r->seq_start || !r->seq_len ||
        !r->labels || !r->dstates || !r->pooled || !r->dpooled || !r->logits || !r->dlogits || !r->emb || !r->demb ||
        !r->seqs || !r->batch)
        return onc_error_set(err, ONC_ERR_NOMEM, "training: out of memory for batches of %zu tokens", T);
    r->order_epoch = -1;

    /* optimizer and checkpoint tensors over every trainable parameter */
    onc_adamw_config oc = onc_adamw_config_default();
    oc.lr = p->lr;
    oc.weight_decay = p->weight_decay;
    if (!(r->opt = onc_adamw_new(&oc, err))) return err ? err->code : ONC_ERR_INVALID;
    r->n_ckpt = onc_enc_model_n_params(r->m);
    if (!(r->ckpt = calloc(r->n_ckpt ? r->n_ckpt : 1, sizeof *r->ckpt)))
        return onc_error_set(err, ONC_ERR_NOMEM, "training: out of memory");
    for (size_t i = 0; i < r->n_ckpt; i++) {
        const onc_train_param *tp = onc_enc_model_param(r->m, i);
        r->ckpt[i] = (train_tensor){tp->name, tp->data, tp->n};
        if ((st = onc_adamw_add_param(r->opt, tp->name, tp->data, tp->grad, tp->n, tp->decay, NULL, err)) != ONC_OK)
            return st;
    }
    r->data_hash = data_hash(d);
    r->best = (train_state){.best = NAN, .best_step = -1};
    if (!train_log_init(&r->log, r->total_steps)) return onc_error_set(err, ONC_ERR_NOMEM, "training: out of memory");
    if (p->metric == ONC_METRIC_NDCG10 && (st = et_eval_beir_open(r, err)) != ONC_OK) return st;
    return ONC_OK;
}

static void plan_epoch(et_run *r, int64_t epoch) {
    if (r->order_epoch == epoch) return;
    train_shuffle(r->order, (size_t)r->n_pool, r->p->seed, epoch);
    r->order_epoch = epoch;
}

// --- outputs ---------------------------------------------------------------------------

static onc_status write_report(et_run *r, const char *md, const char *html, onc_error *err) {
    const onc_train_params *p = r->p;
    char v[8][200], res[320] = "";
    if (p->lora.rank > 0)
        snprintf(v[0], 200, "LoRA rank %lld, alpha %g, dropout %g (%lld trainable parameters, merged on save)",
                 (long long)p->lora.rank, p->lora.alpha, p->lora.dropout, (long long)onc_enc_model_n_trainable(r->m));
    else
        snprintf(v[0], 200, "full fine-tuning (%lld trainable parameters)", (long long)onc_enc_model_n_trainable(r->m));
    snprintf(v[1], 200, "%g, %s schedule, warmup %g of the steps%s", p->lr, onc_lr_schedule_name(p->schedule),
             p->warmup_ratio, p->warmup_steps > 0 ? " (or the steps given)" : "");
    snprintf(v[2], 200, "%d example(s) per micro-batch, %d micro-batch(es) per step", p->batch_size, p->grad_accum);
    snprintf(v[3], 200, "AdamW, weight decay %g, gradient clipping at %g, hidden dropout %g", p->weight_decay,
             p->max_grad_norm, p->dropout);
    snprintf(v[4], 200, "%lld training (%lld after resampling) / %lld validation examples, at most %d tokens",
             (long long)r->data->n_train, (long long)r->n_pool, (long long)r->data->n_val, p->max_len);
    switch (p->task) {
    case ONC_TRAIN_CLASSIFY:
        snprintf(v[5], 200, "%d labels; %s%s; best by %s", r->C,
                 p->resample == ONC_RESAMPLE_OVER ? "random oversampling" : p->resample == ONC_RESAMPLE_UNDER
                                                                              ? "random undersampling"
                                                                              : "no resampling",
                 p->class_weights ? ", balanced class weights" : "", onc_train_metric_name(p->metric));
        break;
    case ONC_TRAIN_EMBED:
        snprintf(v[5], 200, "MultipleNegativesRankingLoss%s, scale %g, in-batch negatives, %s pooling, %d sequences "
                 "per pass%s", p->symmetric ? " (symmetric)" : "", p->scale, pooling_name(p->pooling), r->chunk,
                 p->mine_store ? ", BM25 hard negatives" : "");
        break;
    case ONC_TRAIN_MLM:
        snprintf(v[5], 200, "masked LM, %g of tokens (80%% [MASK], 10%% random, 10%% kept)", p->mlm_probability);
        break;
    }
    snprintf(v[6], 200, "%llu", (unsigned long long)p->seed);
    const char *const rows[][2] = {{"parameters", v[0]}, {"learning rate", v[1]}, {"batches", v[2]},
                                   {"optimizer", v[3]},  {"data", v[4]},          {"task", v[5]},
                                   {"seed", v[6]}};
    const train_log *l = &r->log;
    if (l->n) {
        snprintf(res, sizeof res, "%lld steps; last training loss %.4f", (long long)l->step[l->n - 1],
                 l->loss[l->n - 1]);
        if (isfinite(r->start_metric))
            snprintf(res + strlen(res), sizeof res - strlen(res), "; %s at the start %.4f",
                     onc_train_metric_name(p->metric), r->start_metric);
        if (isfinite(r->best.best))
            snprintf(res + strlen(res), sizeof res - strlen(res), "; best %s %.4f at step %lld (best.gguf)",
                     onc_train_metric_name(p->metric), r->best.best, (long long)r->best.best_step);
    }
    char title[64];
    snprintf(title, sizeof title, "Encoder training: %s", onc_train_task_name(p->task));
    const train_report info = {.title = title, .model = p->model_path, .data = p->data_path, .settings = rows,
                               .n_settings = sizeof rows / sizeof rows[0], .results = l->n ? res : NULL,
                               .loss_unit = p->task == ONC_TRAIN_MLM ? "nats per masked token" : "nats per example",
                               .metric_name = p->metric == ONC_METRIC_LOSS ? NULL : onc_train_metric_name(p->metric)};
    return train_log_report(l, &info, md, html, err);
}

static onc_status write_outputs(et_run *r, bool final, onc_error *err) {
    char csv[4200], json[4200];
    snprintf(csv, sizeof csv, "%s/loss.csv", r->p->out_dir);
    snprintf(json, sizeof json, "%s/loss.json", r->p->out_dir);
    const char *mn = r->p->metric == ONC_METRIC_LOSS ? NULL : onc_train_metric_name(r->p->metric);
    onc_status st = train_log_write(&r->log, csv, json, mn, err);
    if (st != ONC_OK || !final) return st;
    if ((st = onc_enc_model_save(r->m, out_file(r, "model.gguf"), r->p->out_type, r->save_pooling, err)) != ONC_OK)
        return st;
    char md[4200], html[4200];
    snprintf(md, sizeof md, "%s/report.md", r->p->out_dir);
    snprintf(html, sizeof html, "%s/report.html", r->p->out_dir);
    return write_report(r, md, html, err);
}

static void run_free(et_run *r) {
    free(r->order), free(r->tok), free(r->mlm_lab_tok), free(r->mlm_pos), free(r->mlm_lab), free(r->seq_start);
    free(r->seq_len), free(r->labels), free(r->dstates), free(r->pooled), free(r->dpooled), free(r->logits);
    free(r->dlogits), free(r->emb), free(r->demb), free(r->seqs), free(r->batch), free(r->pool), free(r->class_w);
    free(r->is_special), free(r->ckpt);
    et_eval_beir_close(r);
    train_log_free(&r->log);
    onc_adamw_free(r->opt);
    onc_enc_model_free(r->m);
    onc_enc_data_free(r->data);
    onc_tokenizer_free(r->tokenizer);
    onc_gguf_close(r->gguf);
}

// --- the run ---------------------------------------------------------------------------

/* One optimizer step's forward/backward over micro-batches [m0, m1) of the
 * epoch's order: *loss the step's mean loss (per example; masked LM: per
 * masked token), *examples and *tokens counted. */
static onc_status train_step(et_run *r, int64_t step, int64_t m0, int64_t m1, double *loss, int64_t *examples,
                             int64_t *tokens, onc_error *err) {
    const onc_train_params *p = r->p;
    const int64_t B = p->batch_size;
    const uint64_t mask_base = train_mix(p->seed, (uint64_t)step);
    int64_t step_ex = 0, step_masked = 0;
    for (int64_t k = m0; k < m1; k++) {
        const int64_t lo = k * B, hi = lo + B < r->n_pool ? lo + B : r->n_pool;
        step_ex += hi - lo;
        if (p->task == ONC_TRAIN_MLM)
            for (int64_t i = lo; i < hi; i++)
                step_masked += mlm_count(r, &r->data->train[r->pool[r->order[i]]], mask_seed(mask_base, i));
    }
    onc_enc_model_zero_grad(r->m);
    double sum = 0;
    int64_t masked = 0;
    onc_status st = ONC_OK;
    for (int64_t k = m0; k < m1 && st == ONC_OK; k++) {
        const int64_t lo = k * B, hi = lo + B < r->n_pool ? lo + B : r->n_pool;
        const int32_t n = (int32_t)(hi - lo);
        for (int32_t i = 0; i < n; i++) r->batch[i] = &r->data->train[r->pool[r->order[lo + i]]];
        const uint64_t seed = train_mix(train_mix(p->seed ^ 0xD20F, (uint64_t)step), (uint64_t)k);
        const double w = (double)n / (double)step_ex;
        double l = 0;
        if (p->task == ONC_TRAIN_CLASSIFY) {
            st = classify_micro(r, r->batch, n, w, seed, &l, err);
            sum += l * w;
        } else if (p->task == ONC_TRAIN_EMBED) {
            st = embed_micro(r, r->batch, n, w, seed, true, &l, err);
            sum += l * w;
        } else {
            st = mlm_micro(r, r->batch, n, mask_base, lo, seed, true, step_masked ? 1.0f / (float)step_masked : 0.0f,
                           &sum, &masked, err);
        }
        for (int32_t i = 0; i < n; i++) {
            const onc_enc_example *e = r->batch[i];
            *tokens += e->text.n + e->positive.n;
            for (int32_t j = 0; j < e->n_negatives; j++) *tokens += e->negatives[j].n;
        }
    }
    *examples = step_ex;
    *loss = p->task == ONC_TRAIN_MLM ? (masked ? sum / (double)masked : 0.0) : sum;
    return st;
}

static void emit(const et_run *r, const onc_finetune_event *ev) {
    if (r->p->progress) r->p->progress(r->p->progress_user, ev);
}

/* train_loop hooks */
static onc_status loop_evaluate(void *user, int64_t step, bool *stop, onc_error *err) {
    return evaluate(user, step, stop, err);
}

static onc_status loop_save(void *user, int64_t step, onc_error *err) {
    onc_status st = save_checkpoint(user, step, err);
    return st == ONC_OK ? write_outputs(user, false, err) : st;
}

onc_status onc_train_run(const onc_train_params *p, onc_train_result *res, onc_error *err) {
    onc_train_result rr = {.best_metric = NAN, .best_step = -1};
    onc_status st = check_params(p, err);
    if (st != ONC_OK) return st;
    if (mkdir(p->out_dir, 0777) != 0 && errno != EEXIST)
        return onc_error_set(err, ONC_ERR_IO, "%s: cannot create the folder: %s", p->out_dir, strerror(errno));
    et_run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    const double t0 = train_now();
    st = prepare(&r, err);
    int64_t step = 0;
    if (st == ONC_OK && p->resume) st = load_checkpoint(&r, &step, err);
    if (st == ONC_OK) {
        onc_finetune_event ev = {.kind = ONC_FT_EVENT_START,
                                 .step = step,
                                 .total_steps = r.total_steps,
                                 .n_train = r.n_pool,
                                 .n_val = r.data->n_val,
                                 .n_truncated = r.data->n_truncated,
                                 .n_mined = r.n_mined,
                                 .memory_bytes = onc_enc_model_bytes(r.m) +
                                                 2 * (size_t)onc_enc_model_n_trainable(r.m) * sizeof(float)};
        emit(&r, &ev);
    }
    /* the starting point, for the report (not on resume) */
    r.start_metric = NAN;
    if (st == ONC_OK && step == 0 && (r.data->n_val > 0 || p->metric == ONC_METRIC_NDCG10)) {
        double vl;
        st = measure(&r, 0, &vl, &r.start_metric, err);
    }
    bool stop = false;
    const train_loop loop = {.what = "training",
                             .opt = r.opt,
                             .log = &r.log,
                             .schedule = p->schedule,
                             .base_lr = p->lr,
                             .max_grad_norm = p->max_grad_norm,
                             .warmup = r.warmup,
                             .total_steps = r.total_steps,
                             .steps_per_epoch = r.steps_per_epoch,
                             .eval_every = p->eval_every,
                             .save_every = p->save_every,
                             .can_eval = st == ONC_OK && (r.data->n_val > 0 || p->metric == ONC_METRIC_NDCG10),
                             .metric_name = onc_train_metric_name(p->metric),
                             .t0 = t0,
                             .first_step = step,
                             .progress = p->progress,
                             .progress_user = p->progress_user,
                             .user = &r,
                             .evaluate = loop_evaluate,
                             .save = loop_save};
    const int64_t micros = (r.n_pool + p->batch_size - 1) / (p->batch_size ? p->batch_size : 1);
    while (st == ONC_OK && step < r.total_steps && !stop) {
        const double ts = train_now();
        const int64_t epoch = step / r.steps_per_epoch, in_epoch = step % r.steps_per_epoch;
        plan_epoch(&r, epoch);
        const int64_t m0 = in_epoch * p->grad_accum;
        const int64_t m1 = m0 + p->grad_accum < micros ? m0 + p->grad_accum : micros;
        double loss = 0;
        int64_t examples = 0, tokens = 0;
        if ((st = train_step(&r, step, m0, m1, &loss, &examples, &tokens, err)) != ONC_OK) break;
        if ((st = train_finish_step(&loop, &step, loss, tokens, examples, ts, &stop, err)) != ONC_OK) break;
        rr.examples += examples;
        rr.final_loss = loss;
    }
    if (st == ONC_OK) st = write_outputs(&r, true, err);
    rr.steps = step;
    rr.best_metric = r.best.best;
    rr.best_step = r.best.best_step;
    rr.stopped_early = stop;
    rr.seconds = train_now() - t0;
    if (res) *res = rr;
    run_free(&r);
    return st;
}
