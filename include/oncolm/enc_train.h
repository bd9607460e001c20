/* oncolm/enc_train.h — training of BERT-family encoders (`oncolm train`):
 *
 *   ONC_TRAIN_CLASSIFY  a classification head over [CLS] (the CT-report
 *                       study): softmax cross-entropy, optionally with
 *                       balanced class weights, random over- or
 *                       undersampling of the training set; the best
 *                       checkpoint by a validation metric (macro-F1 by
 *                       default, as scikit-learn computes it).
 *   ONC_TRAIN_EMBED     a sentence embedder on (query, positive[, negatives])
 *                       pairs with in-batch negatives
 *                       (MultipleNegativesRankingLoss, scale 20, optional
 *                       symmetric term), hard negatives mined with BM25 from
 *                       a note store, and gradient caching: a batch of any
 *                       size is embedded in chunks of `chunk` sequences,
 *                       the loss's gradient taken at the embeddings, then
 *                       each chunk recomputed with its gradient (GradCache,
 *                       Gao et al. 2021; dropout masks are seeded, so the
 *                       recomputation is exact). nDCG@10 on a held-out BEIR
 *                       folder at each validation.
 *   ONC_TRAIN_MLM       masked-LM pre-training or domain adaptation
 *                       (15% of tokens; 80/10/10 mask/random/keep).
 *
 * The machinery is the LoRA fine-tuning's (oncolm/finetune.h): AdamW and
 * the learning-rate schedules of oncolm/optim.h, gradient accumulation,
 * clipping, validation every N steps with early stopping, atomic
 * checkpoints with exact resume, the same progress events, loss logs
 * (loss.csv, loss.json) and report (report.md, report.html).
 *
 * Outputs in OUT: model.gguf (the trained encoder, LoRA merged; `oncolm
 * classify` / `oncolm embed` run it), best.gguf (best validation), and
 * the logs and report. Nothing of the notes is logged. */
#ifndef ONCOLM_ENC_TRAIN_H
#define ONCOLM_ENC_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "oncolm/arch.h"
#include "oncolm/enc_losses.h"
#include "oncolm/finetune.h"
#include "oncolm/lora.h"
#include "oncolm/optim.h"
#include "oncolm/status.h"
#include "oncolm/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum onc_train_task { ONC_TRAIN_CLASSIFY, ONC_TRAIN_EMBED, ONC_TRAIN_MLM } onc_train_task;

typedef enum onc_train_metric {
    ONC_METRIC_MACRO_F1, /* classify default */
    ONC_METRIC_ACCURACY,
    ONC_METRIC_LOSS,     /* lowest validation loss (embed without --eval-beir, mlm) */
    ONC_METRIC_NDCG10,   /* embed with a BEIR folder */
} onc_train_metric;

typedef struct onc_train_params {
    onc_train_task task;
    const char *model_path, *data_path, *out_dir;
    onc_lora_config lora;        /* rank 0 (default) = full fine-tuning */
    uint64_t seed;               /* 42 */
    int32_t max_len;             /* tokens per sequence (128) */
    double val_fraction;         /* 0.1 when the data name no validation split */
    int32_t batch_size;          /* examples per micro-batch (classify 16, embed 32, mlm 16) */
    int32_t grad_accum;          /* 1 */
    int32_t epochs;              /* classify 3, embed 1, mlm 1 */
    int64_t max_steps;           /* > 0: stop there; 0 = epochs */
    double lr;                   /* 2e-5 full fine-tuning, 2e-4 with LoRA, 5e-5 mlm */
    onc_lr_schedule schedule;    /* linear */
    double warmup_ratio;         /* 0.1 */
    int64_t warmup_steps;
    double weight_decay;         /* 0.01 */
    double max_grad_norm;        /* 1.0 */
    float dropout;               /* hidden dropout 0.1 */
    int64_t eval_every;          /* steps between validations (100); 0 = at the end only */
    int32_t patience;            /* 0 = no early stopping */
    int64_t save_every;          /* steps between checkpoints (100); 0 = at the end only */
    bool resume;
    int n_threads;
    onc_type out_type;           /* F32 (default) or F16 weights in model.gguf */
    onc_train_metric metric;     /* selects best.gguf (classify: macro-F1) */
    /* classify */
    onc_resample resample;       /* NONE */
    bool class_weights;          /* balanced class weights in the loss */
    /* embed */
    onc_pooling pooling;         /* MEAN */
    float scale;                 /* 20 */
    bool symmetric;
    int32_t chunk;               /* sequences per forward pass (gradient caching); 0 = the whole batch */
    const char *mine_store;      /* note store (oncolm index) to mine BM25 hard negatives from; NULL = none */
    int32_t mine_negatives;      /* hard negatives per query (1) when mining; rank skip: hits equal to the positive */
    const char *eval_beir;       /* BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) for nDCG@10 */
    /* mlm */
    float mlm_probability;       /* 0.15 */
    void (*progress)(void *user, const onc_finetune_event *ev);
    void *progress_user;
} onc_train_params;

/* Defaults for a task (see the comments above). */
onc_train_params onc_train_default_params(onc_train_task task);
const char *onc_train_task_name(onc_train_task t);
const char *onc_train_metric_name(onc_train_metric m);

typedef struct onc_train_result {
    int64_t steps;
    double final_loss;
    double best_metric;          /* of the selection metric (NaN without validation) */
    int64_t best_step;
    double seconds;
    int64_t examples;            /* training examples processed this run */
    bool stopped_early;
} onc_train_result;

onc_status onc_train_run(const onc_train_params *p, onc_train_result *res, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_ENC_TRAIN_H */
