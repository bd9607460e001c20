/* finetune.c — the LoRA fine-tuning loop (see oncolm/finetune.h):
 * micro-batches, accumulation, AdamW, validation, early stopping,
 * checkpoints with exact resume, logs and outputs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "oncolm/chat.h"
#include "oncolm/finetune.h"
#include "oncolm/ft_model.h"
#include "oncolm/gguf.h"
#include "oncolm/llm.h"
#include "oncolm/rng.h"
#include "oncolm/sft_data.h"
#include "train/train_common.h"

onc_finetune_params onc_finetune_default_params(void) {
    onc_finetune_params p;
    memset(&p, 0, sizeof p);
    p.lora = onc_lora_config_default();
    p.lora.alpha = 16;
    p.lora.dropout = 0.05f;
    p.seed = 42;
    p.max_len = 1024;
    p.val_fraction = 0.1;
    p.batch_size = 1;
    p.grad_accum = 1;
    p.epochs = 1;
    p.lr = 2e-4;
    p.schedule = ONC_LR_LINEAR;
    p.warmup_ratio = 0.03;
    p.max_grad_norm = 1.0;
    p.eval_every = 50;
    p.save_every = 50;
    return p;
}

/* A micro-batch: examples [lo, hi) of the epoch's order. */
typedef struct micro {
    int32_t lo, hi;
} micro;

typedef struct ft_run {
    const onc_finetune_params *p;
    onc_llm *m;
    onc_sft_dataset *data;
    onc_lora *lora;
    onc_ft_model *fm;
    onc_adamw *opt;
    int64_t max_tokens;
    int32_t *order;                  /* [n_train] the current epoch's permutation */
    int64_t order_epoch;             /* epoch `order` belongs to (-1: none) */
    micro *micros;
    int64_t n_micros;                /* per epoch */
    int64_t steps_per_epoch, total_steps, warmup;
    int32_t *ids, *labels, *start;   /* [max_tokens] */
    train_log log;
    train_tensor *ckpt; /* the adapter as checkpoint tensors */
    size_t n_ckpt;
    char (*ckpt_names)[32];
    train_state best; /* lowest validation loss */
    char path[4096];
} ft_run;

static const char *out_file(ft_run *r, const char *name) {
    snprintf(r->path, sizeof r->path, "%s/%s", r->p->out_dir, name);
    return r->path;
}

/* The epoch's permutation (Fisher-Yates from seed and epoch) and its
 * micro-batches. */
static void plan_epoch(ft_run *r, int64_t epoch) {
    if (r->order_epoch == epoch) return;
    const size_t n = r->data->n_train;
    train_shuffle(r->order, n, r->p->seed, epoch);
    r->n_micros = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        if (r->p->packing) {
            int64_t tok = r->data->train[r->order[i]].n;
            while (j < n && tok + r->data->train[r->order[j]].n <= r->max_tokens) tok += r->data->train[r->order[j++]].n;
        } else {
            while (j < n && (int64_t)(j - i) < r->p->batch_size) j++;
        }
        r->micros[r->n_micros++] = (micro){(int32_t)i, (int32_t)j};
        i = j;
    }
    r->order_epoch = epoch;
}

/* Lay examples ex[0..n) end to end into r->ids/labels/start; returns T. */
static int64_t fill(ft_run *r, const onc_sft_example *const *ex, int64_t n) {
    int64_t T = 0;
    for (int64_t k = 0; k < n; k++) {
        const onc_sft_example *e = ex[k];
        memcpy(r->ids + T, e->ids, (size_t)e->n * sizeof(int32_t));
        onc_sft_labels(e, r->labels + T);
        for (int32_t t = 0; t < e->n; t++) r->start[T + t] = (int32_t)T;
        T += e->n;
    }
    return T;
}

/* Mean validation loss (nats per trained token), no gradients. */
static onc_status validate(ft_run *r, double *out, onc_error *err) {
    double sum = 0;
    int64_t cnt = 0;
    for (size_t i = 0; i < r->data->n_val; i++) {
        const onc_sft_example *e = &r->data->val[i];
        const int64_t T = fill(r, &e, 1);
        onc_status st = onc_ft_model_step(r->fm, r->ids, r->labels, r->start, T, false, 1.0f, 0, &sum, &cnt, err);
        if (st != ONC_OK) return st;
    }
    *out = cnt ? sum / (double)cnt : NAN;
    return ONC_OK;
}

// --- checkpoints ---------------------------------------------------------------------

/* Keys identifying the run a checkpoint belongs to. */
static uint64_t data_hash(const onc_sft_dataset *d) {
    uint64_t h = 0x12345678u;
    for (size_t i = 0; i < d->n_train; i++) {
        h = train_mix(h, (uint64_t)d->train[i].n);
        for (int32_t t = 0; t < d->train[i].n; t++) h = train_mix(h, (uint64_t)d->train[i].ids[t] * 2 + d->train[i].train[t]);
    }
    return train_mix(h, d->n_val);
}

static uint64_t settings_hash(const onc_finetune_params *p) {
    uint64_t h = train_mix(p->seed, (uint64_t)p->max_len);
    h = train_mix(h, (uint64_t)p->batch_size * 2 + p->packing);
    h = train_mix(h, (uint64_t)p->grad_accum);
    h = train_mix(h, (uint64_t)p->epochs);
    h = train_mix(h, (uint64_t)p->max_steps);
    double d[] = {p->lr, p->warmup_ratio, p->weight_decay, p->max_grad_norm, p->lora.alpha, p->lora.dropout};
    for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
        uint64_t u;
        memcpy(&u, &d[i], sizeof u);
        h = train_mix(h, u);
    }
    h = train_mix(h, (uint64_t)p->lora.rank * 1024 + p->lora.modules * 2 + p->lora.rslora);
    h = train_mix(h, (uint64_t)p->schedule * 1000003 + (uint64_t)p->warmup_steps);
    return train_mix(h, (uint64_t)p->eval_every * 131 + (uint64_t)p->patience);
}

/* The adapter's matrices as checkpoint tensors w<i>.a / w<i>.b; *n gets their count. */
static train_tensor *ckpt_tensors(ft_run *r, size_t *n) {
    train_tensor *t = calloc(2 * r->lora->n + 1, sizeof *t);
    char (*names)[32] = calloc(2 * r->lora->n + 1, sizeof *names);
    if (!t || !names) {
        free(t), free(names);
        return NULL;
    }
    for (size_t i = 0; i < r->lora->n; i++) {
        const onc_lora_weight *lw = &r->lora->w[i];
        snprintf(names[2 * i], 32, "w%zu.a", i);
        snprintf(names[2 * i + 1], 32, "w%zu.b", i);
        t[2 * i] = (train_tensor){names[2 * i], lw->a, r->lora->rank * lw->n_in};
        t[2 * i + 1] = (train_tensor){names[2 * i + 1], lw->b, r->lora->rank * lw->n_out};
    }
    r->ckpt_names = names;
    *n = 2 * r->lora->n;
    return t;
}

static onc_status save_checkpoint(ft_run *r, int64_t step, onc_error *err) {
    return train_ckpt_save(out_file(r, "checkpoint.gguf"), "oncolm.finetune.checkpoint", "finetune", step,
                           settings_hash(r->p), data_hash(r->data), &r->best, &r->log, r->ckpt, r->n_ckpt, r->opt,
                           err);
}

/* Restore from OUT/checkpoint.gguf; *step gets its step. */
static onc_status load_checkpoint(ft_run *r, int64_t *step, onc_error *err) {
    return train_ckpt_load(out_file(r, "checkpoint.gguf"), "finetune", settings_hash(r->p), data_hash(r->data),
                           r->total_steps, &r->best, &r->log, r->ckpt, r->n_ckpt, r->opt, step, err);
}

// --- the run -------------------------------------------------------------------------

static onc_status prepare(ft_run *r, onc_error *err) {
    const onc_finetune_params *p = r->p;
    /* weights are read from the file's mapping (ft_model): no repacking */
    const onc_llm_load_params lp = {.repack = false};
    if (!(r->m = onc_llm_load_with(p->model_path, &lp, err))) return err ? err->code : ONC_ERR_IO;
    onc_sft_params sp = onc_sft_default_params();
    sp.max_len = p->max_len;
    sp.val_fraction = p->val_fraction;
    sp.seed = p->seed;
    onc_status st = ONC_OK;
    if (p->template_name) {
        if ((st = onc_chat_template_from_name(p->template_name, &sp.tmpl, err)) != ONC_OK) return st;
        sp.has_tmpl = true;
    } else {
        onc_error ig = {0};
        sp.has_tmpl = onc_chat_template_from_gguf(onc_llm_gguf(r->m), &sp.tmpl, &ig) == ONC_OK;
    }
    if (!(r->data = onc_sft_load(p->data_path, onc_llm_tokenizer(r->m), &sp, err))) return err ? err->code : ONC_ERR_FORMAT;
    r->max_tokens = p->packing ? p->max_len : (int64_t)p->max_len * p->batch_size;
    if (!(r->lora = onc_lora_new(onc_llm_gguf(r->m), onc_llm_hparams(r->m), &p->lora, p->seed, err)))
        return err ? err->code : ONC_ERR_INVALID;
    snprintf(r->lora->base_model, sizeof r->lora->base_model, "%s", p->model_path);
    if (!(r->fm = onc_ft_model_new(r->m, r->lora, r->max_tokens, p->n_threads, err))) return err ? err->code : ONC_ERR_NOMEM;
    onc_adamw_config oc = onc_adamw_config_default();
    oc.lr = p->lr;
    oc.weight_decay = p->weight_decay;
    if (!(r->opt = onc_adamw_new(&oc, err))) return err ? err->code : ONC_ERR_INVALID;
    for (size_t i = 0; i < r->lora->n && st == ONC_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "w%zu.a", i);
        st = onc_adamw_add_param(r->opt, name, r->lora->w[i].a, onc_ft_model_grad_a(r->fm, i),
                                 r->lora->rank * r->lora->w[i].n_in, true, NULL, err);
        snprintf(name, sizeof name, "w%zu.b", i);
        if (st == ONC_OK)
            st = onc_adamw_add_param(r->opt, name, r->lora->w[i].b, onc_ft_model_grad_b(r->fm, i),
                                     r->lora->rank * r->lora->w[i].n_out, true, NULL, err);
    }
    if (st != ONC_OK) return st;
    const size_t n = r->data->n_train;
    r->order = malloc(n * sizeof *r->order);
    r->micros = malloc(n * sizeof *r->micros);
    r->ids = malloc((size_t)r->max_tokens * sizeof(int32_t));
    r->labels = malloc((size_t)r->max_tokens * sizeof(int32_t));
    r->start = malloc((size_t)r->max_tokens * sizeof(int32_t));
    if (!r->order || !r->micros || !r->ids || !r->labels || !r->start)
        return onc_error_set(err, ONC_ERR_NOMEM, "fine-tuning: out of memory");
    r->order_epoch = -1;
    plan_epoch(r, 0);
    r->steps_per_epoch = (r->n_micros + p->grad_accum - 1) / p->grad_accum;
    r->total_steps = p->max_steps > 0 ? p->max_steps : r->steps_per_epoch * p->epochs;
    r->warmup = p->warmup_steps > 0 ? p->warmup_steps : (int64_t)ceil(p->warmup_ratio * (double)r->total_steps);
    r->best = (train_state){.best = NAN, .best_step = -1};
    if (!(r->ckpt = ckpt_tensors(r, &r->n_ckpt)) || !train_log_init(&r->log, r->total_steps))
        return onc_error_set(err, ONC_ERR_NOMEM, "fine-tuning: out of memory");
    return ONC_OK;
}

static void emit(const ft_run *r, const onc_finetune_event *ev) {
    if (r->p->progress) r->p->progress(r->p->progress_user, ev);
}

/* Validation at `step`: log it, save best.gguf on improvement; *stop when patience runs out. */
static onc_status evaluate(ft_run *r, int64_t step, bool *stop, onc_error *err) {
    double vl;
    onc_status st = validate(r, &vl, err);
    if (st != ONC_OK) return st;
    train_log_set_val(&r->log, step, vl, NAN);
    onc_finetune_event ev = {.kind = ONC_FT_EVENT_EVAL, .step = step, .total_steps = r->total_steps, .val_loss = vl, .val_metric = NAN};
    emit(r, &ev);
    if (isnan(r->best.best) || vl < r->best.best) {
        r->best.best = vl;
        r->best.best_step = step;
        r->best.bad_evals = 0;
        st = onc_lora_save_gguf(r->lora, out_file(r, "best.gguf"), err);
    } else if (r->p->patience > 0 && ++r->best.bad_evals >= r->p->patience) {
        *stop = true;
    }
    return st;
}

/* report.md / report.html: the settings, the outcome, the curves. */
static onc_status write_report(ft_run *r, const char *md, const char *html, onc_error *err) {
    const onc_finetune_params *p = r->p;
    const onc_lora *lora = r->lora;
    char v[7][160], mods[96], res[256] = "";
    snprintf(v[0], 160, "rank %lld, alpha %g%s, dropout %g, scale %g", (long long)lora->rank, lora->alpha,
             lora->rslora ? " (rsLoRA)" : "", lora->dropout, onc_lora_scale(lora));
    snprintf(v[1], 160, "%s (%lld trainable parameters)", onc_lora_modules_name(lora->modules, mods, sizeof mods),
             (long long)onc_lora_n_params(lora));
    snprintf(v[2], 160, "%g, %s schedule, warmup %g of the steps%s", p->lr, onc_lr_schedule_name(p->schedule),
             p->warmup_ratio, p->warmup_steps > 0 ? " (or the steps given)" : "");
    snprintf(v[3], 160, "%d example(s) per micro-batch%s, %d micro-batch(es) per step", p->batch_size,
             p->packing ? " (packed)" : "", p->grad_accum);
    snprintf(v[4], 160, "AdamW, weight decay %g, gradient clipping at %g", p->weight_decay, p->max_grad_norm);
    snprintf(v[5], 160, "%zu training / %zu validation examples, at most %d tokens", r->data->n_train,
             r->data->n_val, p->max_len);
    snprintf(v[6], 160, "%llu", (unsigned long long)p->seed);
    const char *const rows[][2] = {{"LoRA", v[0]},  {"modules", v[1]}, {"learning rate", v[2]}, {"batches", v[3]},
                                   {"optimizer", v[4]}, {"data", v[5]}, {"seed", v[6]}};
    const train_log *l = &r->log;
    if (l->n) {
        snprintf(res, sizeof res, "%lld steps; last training loss %.4f", (long long)l->step[l->n - 1],
                 l->loss[l->n - 1]);
        if (isfinite(r->best.best))
            snprintf(res + strlen(res), sizeof res - strlen(res), "; best validation loss %.4f at step %lld",
                     r->best.best, (long long)r->best.best_step);
    }
    const train_report info = {.title = "LoRA fine-tuning", .model = p->model_path, .data = p->data_path,
                               .settings = rows, .n_settings = sizeof rows / sizeof rows[0],
                               .results = l->n ? res : NULL, .loss_unit = "nats per trained token"};
    return train_log_report(l, &info, md, html, err);
}

static onc_status write_outputs(ft_run *r, bool final, onc_error *err) {
    char csv[4200], json[4200];
    snprintf(csv, sizeof csv, "%s/loss.csv", r->p->out_dir);
    snprintf(json, sizeof json, "%s/loss.json", r->p->out_dir);
    onc_status st = train_log_write(&r->log, csv, json, NULL, err);
    if (st != ONC_OK || !final) return st;
    if ((st = onc_lora_save_gguf(r->lora, out_file(r, "adapter.gguf"), err)) != ONC_OK) return st;
    if ((st = onc_lora_save_peft(r->lora, out_file(r, "adapter-peft"), err)) != ONC_OK) return st;
    char md[4200], html[4200];
    snprintf(md, sizeof md, "%s/report.md", r->p->out_dir);
    snprintf(html, sizeof html, "%s/report.html", r->p->out_dir);
    return write_report(r, md, html, err);
}

/* train_loop hooks */
static onc_status loop_evaluate(void *user, int64_t step, bool *stop, onc_error *err) {
    return evaluate(user, step, stop, err);
}

static onc_status loop_save(void *user, int64_t step, onc_error *err) {
    onc_status st = save_checkpoint(user, step, err);
    return st == ONC_OK ? write_outputs(user, false, err) : st;
}

onc_status onc_finetune_run(const onc_finetune_params *p, onc_finetune_result *res, onc_error *err) {
    onc_finetune_result rr = {.best_val_loss = NAN, .best_step = -1};
    if (!p->model_path || !p->data_path || !p->out_dir)
        return onc_error_set(err, ONC_ERR_INVALID, "fine-tuning: a model, a data file and an output folder are needed");
    if (p->max_len < 2 || p->batch_size < 1 || p->grad_accum < 1 || p->epochs < 1 || p->lr < 0 ||
        p->max_grad_norm < 0 || p->eval_every < 0 || p->save_every < 0 || p->patience < 0)
        return onc_error_set(err, ONC_ERR_INVALID, "fine-tuning: invalid option (lengths, batches, epochs and steps "
                                                   "must be positive, rates non-negative)");
    if (mkdir(p->out_dir, 0777) != 0 && errno != EEXIST)
        return onc_error_set(err, ONC_ERR_IO, "%s: cannot create the folder: %s", p->out_dir, strerror(errno));
    ft_run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    const double t0 = train_now();
    onc_status st = prepare(&r, err);
    int64_t step = 0;
    if (st == ONC_OK && p->resume) st = load_checkpoint(&r, &step, err);
    if (st == ONC_OK) {
        onc_finetune_event ev = {.kind = ONC_FT_EVENT_START,
                                 .step = step,
                                 .total_steps = r.total_steps,
                                 .n_train = (int64_t)r.data->n_train,
                                 .n_val = (int64_t)r.data->n_val,
                                 .n_truncated = (int64_t)r.data->n_truncated,
                                 .n_dropped = (int64_t)r.data->n_dropped,
                                 .memory_bytes = onc_ft_model_bytes(r.fm) + 2 * onc_lora_n_params(r.lora) * sizeof(float)};
        emit(&r, &ev);
    }
    const onc_sft_example **batch = st == ONC_OK ? malloc((size_t)r.max_tokens * sizeof *batch) : NULL;
    if (st == ONC_OK && !batch) st = onc_error_set(err, ONC_ERR_NOMEM, "fine-tuning: out of memory");
    bool stop = false;
    const train_loop loop = {.what = "fine-tuning",
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
                             .can_eval = st == ONC_OK && r.data->n_val > 0,
                             .t0 = t0,
                             .first_step = step,
                             .progress = p->progress,
                             .progress_user = p->progress_user,
                             .user = &r,
                             .evaluate = loop_evaluate,
                             .save = loop_save};
    while (st == ONC_OK && step < r.total_steps && !stop) {
        const double ts = train_now();
        const int64_t epoch = step / r.steps_per_epoch, in_epoch = step % r.steps_per_epoch;
        plan_epoch(&r, epoch);
        const int64_t m0 = in_epoch * p->grad_accum;
        const int64_t m1 = m0 + p->grad_accum < r.n_micros ? m0 + p->grad_accum : r.n_micros;
        /* trained tokens of the whole step, for the mean */
        int64_t counted = 0, tokens = 0;
        for (int64_t k = m0; k < m1; k++)
            for (int32_t i = r.micros[k].lo; i < r.micros[k].hi; i++) counted += r.data->train[r.order[i]].n_train;
        onc_ft_model_zero_grad(r.fm);
        double loss_sum = 0;
        int64_t n_counted = 0;
        for (int64_t k = m0; k < m1 && st == ONC_OK; k++) {
            int64_t nb = 0;
            for (int32_t i = r.micros[k].lo; i < r.micros[k].hi; i++) batch[nb++] = &r.data->train[r.order[i]];
            const int64_t T = fill(&r, batch, nb);
            tokens += T;
            st = onc_ft_model_step(r.fm, r.ids, r.labels, r.start, T, true, (float)(1.0 / (double)counted),
                                   train_mix(train_mix(p->seed, (uint64_t)step), (uint64_t)k), &loss_sum, &n_counted, err);
        }
        if (st != ONC_OK) break;
        const double loss = loss_sum / (double)n_counted;
        if ((st = train_finish_step(&loop, &step, loss, tokens, 0, ts, &stop, err)) != ONC_OK) break;
        rr.tokens += tokens;
        rr.final_loss = loss;
    }
    if (st == ONC_OK) st = write_outputs(&r, true, err);
    rr.steps = step;
    rr.best_val_loss = r.best.best;
    rr.best_step = r.best.best_step;
    rr.stopped_early = stop;
    rr.seconds = train_now() - t0;
    if (res) *res = rr;
    free(batch);
    free(r.order);
    free(r.micros);
    free(r.ids);
    free(r.labels);
    free(r.start);
    train_log_free(&r.log);
    free(r.ckpt);
    free(r.ckpt_names);
    onc_adamw_free(r.opt);
    onc_ft_model_free(r.fm);
    onc_lora_free(r.lora);
    onc_sft_free(r.data);
    onc_llm_free(r.m);
    return st;
}
