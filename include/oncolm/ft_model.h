/* oncolm/ft_model.h — a decoder model (llama, qwen2, phi3) with a LoRA
 * adapter as a trainable function: the loss of a packed batch of token
 * sequences and its gradient with respect to every A and B of the adapter,
 * the base weights frozen in whatever type the GGUF file holds them.
 *
 * The forward pass is the inference engine's (oncolm/llm.h) in F32, with
 * the adapter added after each adapted product (oncolm/train_ops.h), so the
 * loss computed here equals the loss of the logits `oncolm generate --lora`
 * gives (a test checks it). Activation checkpointing: only the input of
 * each block is kept during the forward pass ((n_layer + 1) x T x n_embd
 * floats); the backward pass recomputes one block at a time, so memory for
 * activations is layers x tokens x n_embd plus one block's intermediates.
 *
 * Batches: T tokens of one or more sequences laid end to end; token t
 * belongs to the sequence starting at seq_start[t] (its position is
 * t - seq_start[t], and it attends tokens seq_start[t] .. t). labels[t] is
 * the id that should follow token t, or -1 for no loss at t.
 *
 * Dropout (the adapter's dropout > 0): masks drawn from `dropout_seed`
 * mixed with the block and module, identical in the recomputation.
 *
 * Thread-safety: one onc_ft_model per thread; it uses its own pool. */
#ifndef ONCOLM_FT_MODEL_H
#define ONCOLM_FT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/llm.h"
#include "oncolm/lora.h"
#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_ft_model onc_ft_model;

/* Training view over model m and adapter lora (both must outlive it; the
 * adapter's A and B are read at each call, so an optimizer may update them
 * in place) for batches of up to max_tokens tokens, with n_threads (<= 0:
 * all CPUs). Errors: an adapter for another model, an unsupported
 * architecture, no memory (the message gives the bytes asked for). */
onc_ft_model *onc_ft_model_new(const onc_llm *m, const onc_lora *lora, int64_t max_tokens, int n_threads,
                               onc_error *err);
void onc_ft_model_free(onc_ft_model *f); /* accepts NULL */

/* Gradient buffers, parallel to lora->w: dA of weight i ([rank][n_in]) and
 * dB ([n_out][rank]). Accumulated by onc_ft_model_step; zero them with
 * onc_ft_model_zero_grad. */
float *onc_ft_model_grad_a(onc_ft_model *f, size_t i);
float *onc_ft_model_grad_b(onc_ft_model *f, size_t i);
void onc_ft_model_zero_grad(onc_ft_model *f);

/* Bytes held for activations and gradients (for memory reports). */
size_t onc_ft_model_bytes(const onc_ft_model *f);

/* Forward (and, when backward, backward) over T tokens: *loss_sum (+=)
 * gets the summed token cross-entropy (nats) and *n_counted (+=) the tokens
 * with a label; the gradients of grad_scale x (summed loss) are added to
 * the gradient buffers (pass grad_scale = 1 / tokens counted in the whole
 * optimizer step for a mean). Errors: T out of range, a token or label
 * outside the vocabulary, a bad seq_start. */
onc_status onc_ft_model_step(onc_ft_model *f, const int32_t *ids, const int32_t *labels, const int32_t *seq_start,
                             int64_t T, bool backward, float grad_scale, uint64_t dropout_seed, double *loss_sum,
                             int64_t *n_counted, onc_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_FT_MODEL_H */
