/* cpu_features.c — CPU feature detection and the SIMD level in effect
 * (see oncolm/compute.h). Detection reads CPUID directly (gcc and clang
 * disagree on which names __builtin_cpu_supports knows) and checks with
 * XGETBV that the OS saves the AVX / AVX-512 register state. AMX is never
 * used (it faults in some VMs even when advertised). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/compute.h"

#if defined(ONC_HAVE_X86_SIMD) && (defined(__x86_64__) || defined(_M_X64))
#include <cpuid.h>
#define ONC_X86 1

static bool bit(unsigned v, int b) { return (v >> b) & 1u; }

/* XCR0: which register states the OS saves on context switch. */
static unsigned long long read_xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static onc_simd_level detected = ONC_SIMD_SCALAR;
static onc_simd_level env_level = ONC_SIMD_COUNT; /* COUNT: not set */
static bool has_bf16 = false;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic int forced = ONC_SIMD_COUNT;

static void detect_once(void) {
#ifdef ONC_X86
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) >= 7 && __get_cpuid(1, &a, &b, &c, &d) && bit(c, 27) /* OSXSAVE */) {
        const bool avx = bit(c, 28), fma = bit(c, 12), f16c = bit(c, 29);
        const unsigned long long xcr0 = read_xcr0();
        const bool os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xE6) == 0xE6;
        __cpuid_count(7, 0, a, b, c, d);
        const bool avx2 = avx && os_avx && fma && f16c && bit(b, 5);
        const bool avx512 = avx2 && os_avx512 && bit(b, 16) /* F */ && bit(b, 17) /* DQ */ &&
                            bit(b, 30) /* BW */ && bit(b, 31) /* VL */ && bit(c, 11) /* VNNI */;
        const unsigned max_sub = a;
        detected = avx512 ? ONC_SIMD_AVX512 : avx2 ? ONC_SIMD_AVX2 : ONC_SIMD_SCALAR;
        if (avx512 && max_sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            has_bf16 = bit(a, 5);
        }
    }
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
