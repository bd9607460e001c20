/* train_ckpt.c — shuffles, seed mixing, checkpoints and the end of an
 * optimizer step, shared by every training run (see train_common.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oncolm/rng.h"
#include "train/train_common.h"

double train_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t train_mix(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b * 0x9E3779B97F4A7C15ull);
    return onc_splitmix64(&x);
}

void train_shuffle(int32_t *order, size_t n, uint64_t seed, int64_t epoch) {
    for (size_t i = 0; i < n; i++) order[i] = (int32_t)i;
    onc_rng g;
    onc_rng_seed(&g, seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(epoch + 1)));
    for (size_t i = n; i > 1; i--) {
        const size_t j = (size_t)(onc_rng_next(&g) % i);
        const int32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* "<prefix>.<suffix>" in the local buffer `key`. */
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, prefix), key)

onc_status train_ckpt_save(const char *path, const char *kind, const char *prefix, int64_t step,
                           uint64_t settings_hash, uint64_t data_hash, const train_state *s, const train_log *log,
                           const train_tensor *t, size_t n_t, const onc_adamw *opt, onc_error *err) {
    onc_gguf_writer *w = onc_gguf_writer_new();
    if (!w) return onc_error_set(err, ONC_ERR_NOMEM, "%s: out of memory", path);
    char key[96];
    onc_status st = onc_gguf_set_str(w, "general.type", kind);
    if (st == ONC_OK) st = onc_gguf_set_i64(w, KEY("step"), step);
    if (st == ONC_OK) st = onc_gguf_set_u64(w, KEY("settings_hash"), settings_hash);
    if (st == ONC_OK) st = onc_gguf_set_u64(w, KEY("data_hash"), data_hash);
    if (st == ONC_OK) st = onc_gguf_set_f64(w, KEY("best_val"), s->best);
    if (st == ONC_OK) st = onc_gguf_set_i64(w, KEY("best_step"), s->best_step);
    if (st == ONC_OK) st = onc_gguf_set_i64(w, KEY("bad_evals"), s->bad_evals);
    if (st == ONC_OK) st = train_log_export(log, w, prefix);
    if (st != ONC_OK) onc_error_set(err, st, "%s: cannot set the checkpoint's metadata", path);
    for (size_t i = 0; i < n_t && st == ONC_OK; i++)
        st = onc_gguf_add_tensor(w, t[i].name, ONC_TYPE_F32, 1, (int64_t[]){t[i].n}, t[i].data, NULL, NULL, err);
    if (st == ONC_OK) st = onc_adamw_state_export(opt, w, "opt", err);
    if (st == ONC_OK) st = onc_gguf_writer_write(w, path, err);
    onc_gguf_writer_free(w);
    return st;
}

static bool key_is(const onc_gguf *g, const char *key, onc_gguf_type type, int64_t *k) {
    *k = onc_gguf_find_key(g, key);
    return *k >= 0 && onc_gguf_kv_type(g, *k) == type;
}

onc_status train_ckpt_load(const char *path, const char *prefix, uint64_t settings_hash, uint64_t data_hash,
                           int64_t max_step, train_state *s, train_log *log, const train_tensor *t, size_t n_t,
                           onc_adamw *opt, int64_t *step, onc_error *err) {
    onc_gguf *g = onc_gguf_open(path, err);
    if (!g) return err ? err->code : ONC_ERR_IO;
    char key[96];
    int64_t ki = -1, kd = -1, ks = -1, k = -1;
    onc_status st = ONC_OK;
    if (!key_is(g, KEY("settings_hash"), ONC_GGUF_UINT64, &ki) || !key_is(g, KEY("data_hash"), ONC_GGUF_UINT64, &kd) ||
        !key_is(g, KEY("step"), ONC_GGUF_INT64, &ks))
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s: not an oncolm checkpoint of this kind of training", path);
    else if (onc_gguf_val_u64(g, ki) != settings_hash)
        st = onc_error_set(err, ONC_ERR_INVALID,
                           "%s: made with other settings (seed, lengths, batches, learning rate, model options, "
                           "schedule): resume with the same options, or start afresh in another folder",
                           path);
    else if (onc_gguf_val_u64(g, kd) != data_hash)
        st = onc_error_set(err, ONC_ERR_INVALID, "%s: made with other training data or another tokenizer", path);
    *step = st == ONC_OK ? onc_gguf_val_i64(g, ks) : 0;
    if (st == ONC_OK && (*step < 0 || *step > max_step))
        st = onc_error_set(err, ONC_ERR_FORMAT, "%s: step %lld is out of range", path, (long long)*step);
    for (size_t i = 0; i < n_t && st == ONC_OK; i++) {
        const onc_gguf_tensor *gt = onc_gguf_find_tensor(g, t[i].name);
        int64_t n = 1;
        for (uint32_t d = 0; gt && d < gt->n_dims; d++) n *= gt->ne[d];
        if (!gt || gt->type != ONC_TYPE_F32 || n != t[i].n)
            st = onc_error_set(err, ONC_ERR_FORMAT, "%s: tensor %s missing or misshapen", path, t[i].name);
        else
            memcpy(t[i].data, gt->data, (size_t)n * sizeof(float));
    }
    if (st == ONC_OK) st = onc_adamw_state_import(opt, g, "opt", err);
    if (st == ONC_OK) {
        s->best = key_is(g, KEY("best_val"), ONC_GGUF_FLOAT64, &k) ? onc_gguf_val_f64(g, k) : NAN;
        s->best_step = key_is(g, KEY("best_step"), ONC_GGUF_INT64, &k) ? onc_gguf_val_i64(g, k) : -1;
        s->bad_evals = key_is(g, KEY("bad_evals"), ONC_GGUF_INT64, &k) ? onc_gguf_val_i64(g, k) : 0;
        onc_error ig = {0};
        st = train_log_import(log, g, prefix, *step, &ig);
        if (st != ONC_OK) onc_error_set(err, st, "%s: %s", path, ig.msg);
    }
    onc_gguf_close(g);
    return st;
}
#undef KEY

static void emit(const train_loop *L, const onc_finetune_event *ev) {
    if (L->progress) L->progress(L->progress_user, ev);
}

onc_status train_finish_step(const train_loop *L, int64_t *step, double loss, int64_t tokens, int64_t examples,
                             double step_start, bool *stop, onc_error *err) {
    const double gnorm = onc_adamw_clip_grad_norm(L->opt, L->max_grad_norm > 0 ? L->max_grad_norm : INFINITY);
    const double lr = onc_lr_at(L->schedule, L->base_lr, *step, L->warmup, L->total_steps);
    if (!isfinite(loss) || !isfinite(gnorm))
        return onc_error_set(err, ONC_ERR_INVALID,
                             "%s: the loss or the gradient is not finite at step %lld (loss %g); lower the learning "
                             "rate (the last checkpoint is kept)",
                             L->what, (long long)*step + 1, loss);
    onc_adamw_step(L->opt, lr);
    const int64_t s = ++*step;
    const double now = train_now(), el = now - step_start > 0 ? now - step_start : 1e-9;
    onc_finetune_event ev = {.kind = ONC_FT_EVENT_STEP,
                             .step = s,
                             .total_steps = L->total_steps,
                             .epoch = (double)s / (double)L->steps_per_epoch,
                             .loss = loss,
                             .lr = lr,
                             .grad_norm = gnorm,
                             .val_loss = NAN,
                             .val_metric = NAN,
                             .tokens_per_s = (double)tokens / el,
                             .examples_per_s = (double)examples / el,
                             .eta_s = (now - L->t0) / (double)(s - L->first_step) * (double)(L->total_steps - s)};
    train_log_add(L->log, s, ev.epoch, loss, lr, gnorm, tokens);
    emit(L, &ev);
    const bool last = s == L->total_steps;
    onc_status st = ONC_OK;
    if (L->can_eval && ((L->eval_every && s % L->eval_every == 0) || last)) st = L->evaluate(L->user, s, stop, err);
    if (st == ONC_OK && *stop) {
        onc_finetune_event se = {.kind = ONC_FT_EVENT_STOP, .step = s, .total_steps = L->total_steps,
                                 .metric_name = L->metric_name};
        emit(L, &se);
    }
    if (st == ONC_OK && ((L->save_every && s % L->save_every == 0) || last || *stop)) {
        st = L->save(L->user, s, err);
        onc_finetune_event sv = {.kind = ONC_FT_EVENT_SAVE, .step = s, .total_steps = L->total_steps};
        if (st == ONC_OK) emit(L, &sv);
    }
    return st;
}
