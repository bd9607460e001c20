/* oncolm/optim.h — the optimizer layer of training: AdamW, learning-rate
 * schedules, gradient-norm clipping, and optimizer state in checkpoints.
 * Shared by LoRA fine-tuning of decoders and by encoder training.
 *
 * Conventions are PyTorch's and Hugging Face transformers' (see
 * shared/reference/adapters-and-finetuning.md), reproduced exactly:
 *
 *  - onc_adamw_step is torch.optim.AdamW (torch 1.13, amsgrad=False,
 *    maximize=False, single-tensor path) operation for operation, in float32
 *    with the scalar coefficients computed in double and rounded to float
 *    once, as torch does with Python-float scalars:
 *        step += 1
 *        p  = p * (float)(1 - lr*wd)                       (skipped when the
 *                                                           tensor has no decay)
 *        m  = m * (float)b1 + (float)(1-b1) * g
 *        v  = v * (float)b2 + ((float)(1-b2) * g) * g
 *        bc1 = 1 - b1^step, bc2 = 1 - b2^step              (double)
 *        denom = sqrt(v) / (float)sqrt(bc2) + (float)eps
 *        p  = p + ((float)(-lr/bc1) * m) / denom
 *  - onc_lr_at is transformers' get_{constant,linear,cosine}_schedule
 *    (_with_warmup) lambda times base_lr (optimization.py, num_cycles 0.5).
 *  - onc_clip_grad_norm is torch.nn.utils.clip_grad_norm_ (L2).
 *
 * Determinism: every loop is single-threaded and in index order, so results
 * depend only on the inputs (never on thread count or CPU features; the
 * library is built without FMA contraction targets).
 *
 * Thread-safety: an onc_adamw belongs to one thread at a time; the free
 * functions are reentrant. */
#ifndef ONCOLM_OPTIM_H
#define ONCOLM_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "oncolm/gguf.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------------------
 * AdamW
 * ------------------------------------------------------------------------ */

/* Hyperparameters, doubles as torch keeps them (Python floats). */
typedef struct onc_adamw_config {
    double lr;           /* default learning rate (onc_adamw_step takes its own) */
    double beta1;        /* 0.9 */
    double beta2;        /* 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0.01 (decoupled, torch AdamW default) */
} onc_adamw_config;

/* torch.optim.AdamW defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0.01. */
onc_adamw_config onc_adamw_config_default(void);

typedef struct onc_adamw onc_adamw; /* opaque */

/* New optimizer with no parameters. Validates cfg as torch does (lr >= 0,
 * eps >= 0, 0 <= beta < 1, weight_decay >= 0, all finite): ONC_ERR_INVALID
 * otherwise. NULL on error (err set). Free with onc_adamw_free. */
onc_adamw *onc_adamw_new(const onc_adamw_config *cfg, onc_error *err);
void onc_adamw_free(onc_adamw *opt); /* accepts NULL */

/* Register one parameter tensor of n > 0 floats. `param` and `grad` are
 * borrowed (caller-owned, must stay valid while the optimizer is used;
 * they may be re-pointed with onc_adamw_set_buffers). `name` is copied and
 * names the state tensors in checkpoints; it must be non-empty, unique within
 * this optimizer and short enough for "<prefix>.<name>.m" to fit a GGUF
 * tensor name. decay = false disables weight decay for this tensor (biases,
 * norm weights: torch's parameter group with weight_decay 0). The state m, v
 * (n floats each, zero-initialised, owned by the optimizer) is allocated
 * here. Must be called before the first step (ONC_ERR_INVALID after).
 * Returns the parameter's index through *index when index != NULL. */
onc_status onc_adamw_add_param(onc_adamw *opt, const char *name, float *param, float *grad, int64_t n,
                               bool decay, int64_t *index, onc_error *err);

/* Replace the borrowed buffers of parameter i (same length). */
void onc_adamw_set_buffers(onc_adamw *opt, int64_t i, float *param, float *grad);

int64_t onc_adamw_n_params(const onc_adamw *opt);
/* Number of steps taken so far (torch's state["step"]). */
int64_t onc_adamw_steps(const onc_adamw *opt);
const onc_adamw_config *onc_adamw_get_config(const onc_adamw *opt);
/* Read-only views of parameter i: its name, length, first and second
 * moments (n floats each, owned by the optimizer). i in [0, n_params). */
const char *onc_adamw_param_name(const onc_adamw *opt, int64_t i);
int64_t onc_adamw_param_size(const onc_adamw *opt, int64_t i);
const float *onc_adamw_m(const onc_adamw *opt, int64_t i);
const float *onc_adamw_v(const onc_adamw *opt, int64_t i);

/* One AdamW update of every registered parameter with learning rate `lr`
 * (usually onc_lr_at(...)); lr must be finite and >= 0 (ONC_ASSERT).
 * Increments the step counter first, then applies the formulas above. */
void onc_adamw_step(onc_adamw *opt, double lr);

/* Set every registered gradient to 0. */
void onc_adamw_zero_grad(onc_adamw *opt);

/* onc_clip_grad_norm over the registered gradients. */
double onc_adamw_clip_grad_norm(onc_adamw *opt, double max_norm);

/* --------------------------------------------------------------------------
 * Gradient clipping
 * ------------------------------------------------------------------------ */

/* torch.nn.utils.clip_grad_norm_(grads, max_norm) with the L2 norm: total =
 * sqrt(sum over all groups of sum g^2), accumulated in double in index order;
 * clip_coef = max_norm / (total + 1e-6); when clip_coef < 1 every gradient is
 * multiplied by (float)clip_coef (torch multiplies by min(coef, 1), which is
 * the identity otherwise). Returns the total norm before clipping.
 * Deviation from torch (deliberate): when the total is NaN or infinite the
 * gradients are left untouched (torch would fill them with NaN/0), so the
 * caller can test the returned value and skip the step. grads[k] points at
 * ns[k] >= 0 floats; n_groups >= 0; max_norm > 0 (ONC_ASSERT). */
double onc_clip_grad_norm(float *const *grads, const int64_t *ns, int64_t n_groups, double max_norm);

/* --------------------------------------------------------------------------
 * Learning-rate schedules (Hugging Face transformers)
 * ------------------------------------------------------------------------ */

typedef enum onc_lr_schedule {
    ONC_LR_CONSTANT = 0,              /* get_constant_schedule: warmup ignored, as HF */
    ONC_LR_CONSTANT_WITH_WARMUP = 1,  /* get_constant_schedule_with_warmup */
    ONC_LR_LINEAR = 2,                /* get_linear_schedule_with_warmup */
    ONC_LR_COSINE = 3,                /* get_cosine_schedule_with_warmup, num_cycles 0.5 */
} onc_lr_schedule;

/* Parse "constant", "constant_with_warmup", "linear", "cosine" (HF's
 * lr_scheduler_type names). ONC_ERR_INVALID with a message listing the
 * accepted names otherwise. */
onc_status onc_lr_schedule_parse(const char *name, onc_lr_schedule *out, onc_error *err);
/* The name parse accepts for `kind`. Never NULL. */
const char *onc_lr_schedule_name(onc_lr_schedule kind);

/* Learning rate for the update made after `step` optimizer steps (step 0 is
 * the first update, as HF's LambdaLR: the very first update of a warmup
 * schedule uses lr 0). With w = warmup_steps, T = total_steps:
 *   warmup (all but CONSTANT), step < w:  base * step / max(1, w)
 *   CONSTANT, CONSTANT_WITH_WARMUP after:  base
 *   LINEAR:  base * max(0, (T - step) / max(1, T - w))
 *   COSINE:  p = (step - w) / max(1, T - w);
 *            base * max(0, 0.5 * (1 + cos(pi * 0.5 * 2 * p)))
 * Arithmetic in double as Python does. Steps beyond T: LINEAR stays 0,
 * COSINE follows the formula (rises again, as HF). step, w, T >= 0. */
double onc_lr_at(onc_lr_schedule kind, double base_lr, int64_t step, int64_t warmup_steps,
                 int64_t total_steps);

/* --------------------------------------------------------------------------
 * Optimizer state in checkpoints (GGUF)
 * ------------------------------------------------------------------------ */

/* Add the state to a GGUF writer: for every parameter, F32 tensors
 * "<prefix>.<name>.m" and "<prefix>.<name>.v" of shape ne = [n], and the i64
 * key "<prefix>.step". The tensor data is borrowed from the optimizer: do not
 * step, import into or free `opt` before onc_gguf_writer_write(_mem)
 * finishes. ONC_ERR_INVALID when a name does not fit (message names the
 * tensor), other writer errors passed through. */
onc_status onc_adamw_state_export(const onc_adamw *opt, onc_gguf_writer *w, const char *prefix,
                                  onc_error *err);

/* Read the state written by onc_adamw_state_export from an open file into
 * `opt` (whose parameters must already be registered with the same names and
 * sizes). Everything is validated before anything is copied, so on error
 * `opt` is unchanged. Errors (message naming the file and tensor/key):
 * ONC_ERR_NOT_FOUND for a missing tensor or step key, ONC_ERR_FORMAT for a
 * tensor that is not F32 or whose element count differs from the parameter,
 * or a step that is negative or not an integer. Extra tensors are ignored. */
onc_status onc_adamw_state_import(onc_adamw *opt, const onc_gguf *g, const char *prefix,
                                  onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_OPTIM_H */
