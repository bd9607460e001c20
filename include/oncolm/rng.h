/* oncolm/rng.h — the one pseudo-random generator oncolm uses everywhere
 * (sampling, model creation, synthetic records): xoshiro256** (Blackman &
 * Vigna) with its state expanded from a 64-bit seed by splitmix64. Portable
 * integer arithmetic: the same seed gives the same stream on every platform.
 *
 * Thread-safety: an onc_rng is plain data; use one per thread. */
#ifndef ONCOLM_RNG_H
#define ONCOLM_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_rng {
    uint64_t s[4];
} onc_rng;

/* splitmix64: advance *x and return the next output (also a good 64-bit
 * mixing function: onc_splitmix64(&copy) hashes a value). */
uint64_t onc_splitmix64(uint64_t *x);
/* State = four successive splitmix64 outputs starting from seed. */
void onc_rng_seed(onc_rng *r, uint64_t seed);
/* Next 64 random bits (xoshiro256**). */
uint64_t onc_rng_next(onc_rng *r);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_RNG_H */
