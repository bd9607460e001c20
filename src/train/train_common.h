/* train_common.h — private to src/train: the machinery every training run
 * shares (LoRA fine-tuning of decoders in finetune.c, encoder training in
 * enc_train.c):
 *   - the per-step record (loss log) kept in checkpoints, written as CSV
 *     and JSON and drawn in the report (train_log.c);
 *   - reproducible shuffles and seed mixing, checkpoints of named F32
 *     tensors + AdamW state + the log, written atomically and checked
 *     against the run's settings and data on resume (train_ckpt.c). */
#ifndef ONC_TRAIN_COMMON_H
#define ONC_TRAIN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/finetune.h"
#include "oncolm/gguf.h"
#include "oncolm/optim.h"
#include "oncolm/status.h"

// --- loss log ----------------------------------------------------------------------

typedef struct train_log {
    int64_t n, cap;
    int64_t *step, *tokens;
    double *epoch, *loss, *lr, *gnorm;
    double *val;    /* validation loss, NaN where no validation ran */
    double *metric; /* validation metric (macro-F1, nDCG@10 ...), NaN where none */
} train_log;

bool train_log_init(train_log *l, int64_t cap); /* false when out of memory */
void train_log_free(train_log *l);
/* Append a step (ignored beyond the capacity given at init). */
void train_log_add(train_log *l, int64_t step, double epoch, double loss, double lr, double gnorm, int64_t tokens);
/* Validation loss and metric (NaN: none) of the row of `step` (the last one). */
void train_log_set_val(train_log *l, int64_t step, double val_loss, double metric);
/* As GGUF array keys <prefix>.log.* (f64 / i64). */
onc_status train_log_export(const train_log *l, onc_gguf_writer *w, const char *prefix);
/* Read them back, keeping the rows up to `step`. */
onc_status train_log_import(train_log *l, const onc_gguf *g, const char *prefix, int64_t step, onc_error *err);
/* loss.csv and loss.json, each atomically; metric_name NULL = no metric column. */
onc_status train_log_write(const train_log *l, const char *csv_path, const char *json_path, const char *metric_name,
                           onc_error *err);

/* What a report shows besides the log: settings as (name, value) rows. */
typedef struct train_report {
    const char *title, *model, *data;
    const char *const (*settings)[2];
    size_t n_settings;
    const char *results;     /* a paragraph (may be NULL) */
    const char *loss_unit;   /* e.g. "nats per trained token" */
    const char *metric_name; /* NULL = no metric curve */
} train_report;

/* report.md and report.html: settings, results, loss (and metric) curves,
 * and a table of the log. */
onc_status train_log_report(const train_log *l, const train_report *r, const char *md_path, const char *html_path,
                            onc_error *err);

// --- runs ------------------------------------------------------------------------------

double train_now(void);                      /* monotonic seconds */
uint64_t train_mix(uint64_t a, uint64_t b);  /* a well-mixed function of two words */
/* order[0..n) = a permutation of 0..n-1 drawn (Fisher-Yates) from seed and
 * epoch: the same for the same arguments. */
void train_shuffle(int32_t *order, size_t n, uint64_t seed, int64_t epoch);

/* A named F32 tensor of a checkpoint (adapter matrices, model weights). */
typedef struct train_tensor {
    const char *name;
    float *data;
    int64_t n;
} train_tensor;

/* Scalars of a run's state besides step, tensors, optimizer and log. */
typedef struct train_state {
    double best;       /* best validation value so far (NaN: none) */
    int64_t best_step; /* -1: none */
    int64_t bad_evals; /* validations since the best (early stopping) */
} train_state;

/* Write a checkpoint (temporary file + rename): general.type = kind, keys
 * <prefix>.step / .settings_hash / .data_hash / .best_val / .best_step /
 * .bad_evals, the log, the tensors (each under its name, 1-D F32) and the
 * optimizer state under "opt". */
onc_status train_ckpt_save(const char *path, const char *kind, const char *prefix, int64_t step,
                           uint64_t settings_hash, uint64_t data_hash, const train_state *s, const train_log *log,
                           const train_tensor *t, size_t n_t, const onc_adamw *opt, onc_error *err);
/* Read one back into the same tensors, optimizer, log and state; *step
 * gets its step (0..max_step). Refused, naming the file, when it is not
 * such a checkpoint or was made with other settings or data (the message
 * says what to do). */
onc_status train_ckpt_load(const char *path, const char *prefix, uint64_t settings_hash, uint64_t data_hash,
                           int64_t max_step, train_state *s, train_log *log, const train_tensor *t, size_t n_t,
                           onc_adamw *opt, int64_t *step, onc_error *err);

// --- the end of an optimizer step -------------------------------------------------

/* What every training loop does once a step's gradients are accumulated. */
typedef struct train_loop {
    const char *what;             /* "fine-tuning", "training": for messages */
    onc_adamw *opt;
    train_log *log;
    onc_lr_schedule schedule;
    double base_lr, max_grad_norm;  /* max_grad_norm 0: no clipping (the norm is still measured) */
    int64_t warmup, total_steps, steps_per_epoch;
    int64_t eval_every, save_every;  /* 0: at the last step only */
    bool can_eval;                /* validation data (or another evaluation) exists */
    const char *metric_name;      /* of STOP events (NULL: validation loss) */
    double t0;                    /* start of the run (train_now) */
    int64_t first_step;           /* step the run started from (resume) */
    void (*progress)(void *progress_user, const onc_finetune_event *ev); /* the run's callback, may be NULL */
    void *progress_user;
    void *user;                   /* the loop's own state, for the hooks below */
    /* validation at step: log it, keep the best; *stop for early stopping */
    onc_status (*evaluate)(void *user, int64_t step, bool *stop, onc_error *err);
    /* checkpoint and logs at step */
    onc_status (*save)(void *user, int64_t step, onc_error *err);
} train_loop;

/* Clip the gradients, take the schedule's learning rate, refuse a
 * non-finite loss or gradient norm (ONC_ERR_INVALID, the last checkpoint
 * kept), one AdamW update; *step += 1; then the STEP event and log row,
 * validation when due (every eval_every steps and at the last step), a
 * STOP event on early stopping (*stop), and a checkpoint when due (every
 * save_every steps, the last step, a stop) followed by a SAVE event.
 * tokens / examples: processed in the step; step_start: train_now() when
 * the step began. */
onc_status train_finish_step(const train_loop *L, int64_t *step, double loss, int64_t tokens, int64_t examples,
                             double step_start, bool *stop, onc_error *err);

#endif
