/* train_dequant.c — dispatch of train_dequant.h. */
#include "train/train_dequant.h"

#include "oncolm/compute.h"

onc_train_dequant_fn onc_train_dequant_get(onc_type t) {
#if defined(ONC_HAVE_X86_SIMD)
    if (onc_simd_level_get() >= ONC_SIMD_AVX512) {
        if (t == ONC_TYPE_Q4_K) return onc_train_dequant_q4_K_avx512;
        if (t == ONC_TYPE_Q6_K) return onc_train_dequant_q6_K_avx512;
    }
#else
    (void)t;
#endif
    return NULL;
}
