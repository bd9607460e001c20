/* finetune_log.h — private to src/train: the per-step record of a
 * fine-tuning run, kept in checkpoints (so a resumed run has its whole
 * history), written as CSV and JSON, and shown in the report. */
#ifndef ONC_TRAIN_FINETUNE_LOG_H
#define ONC_TRAIN_FINETUNE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "oncolm/finetune.h"
#include "oncolm/gguf.h"
#include "oncolm/lora.h"

typedef struct ft_log {
    int64_t n, cap;
    int64_t *step, *tokens;
    double *epoch, *loss, *lr, *gnorm, *val; /* val NaN where no validation ran */
} ft_log;

bool ft_log_init(ft_log *l, int64_t cap); /* false when out of memory */
void ft_log_free(ft_log *l);
/* Append a step (ignored beyond the capacity given at init). */
void ft_log_add(ft_log *l, int64_t step, double epoch, double loss, double lr, double gnorm, int64_t tokens);
/* Validation loss of the row of `step` (the last one). */
void ft_log_set_val(ft_log *l, int64_t step, double v);
/* As GGUF array keys finetune.log.* (f64 / i64). */
onc_status ft_log_export(const ft_log *l, onc_gguf_writer *w);
/* Read them back, keeping the rows up to `step`. */
onc_status ft_log_import(ft_log *l, const onc_gguf *g, int64_t step, onc_error *err);
/* loss.csv and loss.json, each atomically. */
onc_status ft_log_write(const ft_log *l, const char *csv_path, const char *json_path, onc_error *err);
/* report.md and report.html: settings, data, results, loss curves. */
onc_status ft_log_report(const ft_log *l, const onc_finetune_params *p, const onc_lora *lora, size_t n_train,
                         size_t n_val, double best_val, int64_t best_step, const char *md_path, const char *html_path,
                         onc_error *err);

#endif
