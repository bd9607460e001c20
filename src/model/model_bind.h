/* model_bind.h — private: binding an architecture's tensor list entries
 * (oncolm/arch.h) to the tensors of an open GGUF, shared by the decoder
 * (src/llm/) and encoder (src/encoder/) loaders. */
#ifndef ONC_MODEL_BIND_H
#define ONC_MODEL_BIND_H

#include "oncolm/arch.h"
#include "oncolm/backend.h"
#include "oncolm/gguf.h"

/* Point dst at the file's tensor `want->name` (zero copy, into the mapping).
 * Checks presence (an absent optional tensor leaves dst untouched and
 * returns ONC_OK), the exact shape, and that the type can be computed with:
 * 2-D weights need dot-product kernels, 1-D tensors must be F32. Errors name
 * the file and the tensor (expected and found shapes). */
onc_status onc_model_bind_tensor(const onc_gguf *g, onc_arch arch, const onc_arch_tensor *want, onc_tensor *dst,
                                 onc_error *err);

#endif
