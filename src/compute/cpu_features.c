/* cpu_features.c — CPU feature detection and the SIMD level in effect
 * (see oncolm/compute.h). Detection uses __builtin_cpu_supports, which also
 * checks that the OS saves the AVX/AVX-512 register state (XCR0). AMX is
 * never used (it faults in some VMs even when advertised). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/compute.h"

static onc_simd_level detected = ONC_SIMD_SCALAR;
static onc_simd_level env_level = ONC_SIMD_COUNT; /* COUNT: not set */
static bool has_bf16 = false;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic int forced = ONC_SIMD_COUNT;

static void detect_once(void) {
#if defined(ONC_HAVE_X86_SIMD) && (defined(__x86_64__) || defined(_M_X64))
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                      __builtin_cpu_supports("f16c");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vnni");
    detected = avx512 ? ONC_SIMD_AVX512 : avx2 ? ONC_SIMD_AVX2 : ONC_SIMD_SCALAR;
    has_bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
#endif
    const char *e = getenv("ONCOLM_SIMD");
    if (e) {
        if (!strcmp(e, "scalar") || !strcmp(e, "ref")) env_level = ONC_SIMD_SCALAR;
        else if (!strcmp(e, "avx2")) env_level = ONC_SIMD_AVX2;
        else if (!strcmp(e, "avx512")) env_level = ONC_SIMD_AVX512;
        /* unknown values are ignored: best level */
    }
}

onc_simd_level onc_simd_detect(void) {
    pthread_once(&once, detect_once);
    return detected;
}

bool onc_simd_supported(onc_simd_level level) { return level >= 0 && level <= onc_simd_detect(); }

bool onc_cpu_has_avx512bf16(void) {
    pthread_once(&once, detect_once);
    return has_bf16;
}

onc_simd_level onc_simd_level_get(void) {
    const onc_simd_level best = onc_simd_detect();
    int f = atomic_load_explicit(&forced, memory_order_relaxed);
    onc_simd_level want = f != ONC_SIMD_COUNT ? (onc_simd_level)f : env_level != ONC_SIMD_COUNT ? env_level : best;
    return want < best ? want : best;
}

onc_simd_level onc_simd_force(onc_simd_level level) {
    if ((int)level < 0 || level > ONC_SIMD_COUNT) level = ONC_SIMD_COUNT;
    atomic_store(&forced, (int)level);
    return onc_simd_level_get();
}

const char *onc_simd_name(onc_simd_level level) {
    switch (level) {
    case ONC_SIMD_SCALAR: return "scalar";
    case ONC_SIMD_AVX2: return "avx2";
    case ONC_SIMD_AVX512: return "avx512";
    default: return "?";
    }
}
