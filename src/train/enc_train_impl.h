/* enc_train_impl.h — private to src/train: the state of an encoder
 * training run, shared by enc_train.c (the loop) and enc_train_eval.c
 * (held-out retrieval evaluation and BM25 hard-negative mining). */
#ifndef ONC_TRAIN_ENC_TRAIN_IMPL_H
#define ONC_TRAIN_ENC_TRAIN_IMPL_H

#include "oncolm/enc_data.h"
#include "oncolm/enc_model.h"
#include "oncolm/enc_train.h"
#include "oncolm/gguf.h"
#include "oncolm/tokenizer.h"
#include "train/train_common.h"

typedef struct et_beir et_beir; /* enc_train_eval.c */

typedef struct et_run {
    const onc_train_params *p;
    onc_gguf *gguf;           /* the model file, for its tokenizer */
    onc_tokenizer *tokenizer;
    onc_enc_dataset *data;
    onc_enc_model *m;
    onc_adamw *opt;
    int64_t E;                /* n_embd */
    int32_t C;                /* classifier outputs */
    int32_t n_vocab, mask_id;
    onc_pooling save_pooling; /* pooling written into the saved model */
    int64_t *pool, n_pool;    /* training examples (indices into data->train) after resampling */
    int32_t *order;           /* [n_pool] the epoch's permutation */
    int64_t order_epoch;
    int64_t steps_per_epoch, total_steps, warmup;
    int32_t max_seqs;         /* sequences of a micro-batch */
    int32_t chunk;            /* sequences per forward pass */
    /* the packed batch of one forward pass */
    int32_t *tok, *seq_start, *seq_len;
    int32_t n_tok, n_seq;
    int32_t *labels;          /* [max_seqs] */
    int32_t *mlm_lab_tok, *mlm_pos, *mlm_lab;
    bool *is_special;         /* [n_vocab] never masked */
    float *dstates, *pooled, *dpooled, *logits, *dlogits, *emb, *demb, *class_w;
    const onc_token_seq **seqs;       /* [max_seqs] */
    const onc_enc_example **batch;    /* [batch_size] */
    train_log log;
    train_state best;
    train_tensor *ckpt;
    size_t n_ckpt;
    uint64_t data_hash;
    double last_accuracy, last_macro_f1;
    int64_t n_mined;          /* hard negatives added by mining */
    double start_metric;      /* selection metric before training (NaN: not measured) */
    et_beir *beir;
    char path[4096];
} et_run;

void et_batch_reset(et_run *r);
void et_batch_add(et_run *r, const onc_token_seq *s);
onc_enc_batch et_batch(const et_run *r);

/* Load the BEIR folder p->eval_beir (corpus, queries, qrels/test.tsv) and
 * tokenize it: documents cut into windows of max_len tokens. */
onc_status et_eval_beir_open(et_run *r, onc_error *err);
void et_eval_beir_close(et_run *r);
/* nDCG@10 (trec_eval's) of the current model on it: exact search by
 * cosine, a document scored by its best window. */
onc_status et_eval_beir(et_run *r, double *ndcg10, onc_error *err);

/* BM25 hard negatives from the store p->mine_store for every training
 * pair (added to the example's negatives). */
onc_status et_mine_negatives(et_run *r, onc_error *err);

#endif
