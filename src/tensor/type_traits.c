/* type_traits.c — the table of tensor types: names, block sizes, byte sizes
 * and which operations oncolm implements for each (see oncolm/types.h).
 * Sizes from ggml-common.h / gguf-py GGML_QUANT_SIZES. */
#include <ctype.h>
#include <string.h>

#include "oncolm/status.h"
#include "oncolm/types.h"

static const onc_type_traits traits_table[ONC_TYPE_COUNT] = {
    [ONC_TYPE_F32] = {"f32", 1, 4, false, true, true},
    [ONC_TYPE_F16] = {"f16", 1, 2, false, true, true},
    [ONC_TYPE_Q4_0] = {"q4_0", 32, 18, true, true, true},
    [ONC_TYPE_Q4_1] = {"q4_1", 32, 20, true, false, false},
    [ONC_TYPE_Q5_0] = {"q5_0", 32, 22, true, false, false},
    [ONC_TYPE_Q5_1] = {"q5_1", 32, 24, true, false, false},
    [ONC_TYPE_Q8_0] = {"q8_0", 32, 34, true, true, true},
    [ONC_TYPE_Q8_1] = {"q8_1", 32, 36, true, false, false},
    [ONC_TYPE_Q2_K] = {"q2_K", 256, 84, true, false, false},
    [ONC_TYPE_Q3_K] = {"q3_K", 256, 110, true, false, false},
    [ONC_TYPE_Q4_K] = {"q4_K", 256, 144, true, true, true},
    [ONC_TYPE_Q5_K] = {"q5_K", 256, 176, true, true, true},
    [ONC_TYPE_Q6_K] = {"q6_K", 256, 210, true, true, true},
    [ONC_TYPE_Q8_K] = {"q8_K", 256, 292, true, false, true},
    [16] = {"iq2_xxs", 256, 66, true, false, false},
    [17] = {"iq2_xs", 256, 74, true, false, false},
    [18] = {"iq3_xxs", 256, 98, true, false, false},
    [19] = {"iq1_s", 256, 50, true, false, false},
    [ONC_TYPE_IQ4_NL] = {"iq4_nl", 32, 18, true, false, false},
    [21] = {"iq3_s", 256, 110, true, false, false},
    [22] = {"iq2_s", 256, 82, true, false, false},
    [ONC_TYPE_IQ4_XS] = {"iq4_xs", 256, 136, true, false, false},
    [ONC_TYPE_I8] = {"i8", 1, 1, false, false, false},
    [ONC_TYPE_I16] = {"i16", 1, 2, false, false, false},
    [ONC_TYPE_I32] = {"i32", 1, 4, false, false, false},
    [ONC_TYPE_I64] = {"i64", 1, 8, false, false, false},
    [ONC_TYPE_F64] = {"f64", 1, 8, false, false, false},
    [29] = {"iq1_m", 256, 56, true, false, false},
    [ONC_TYPE_BF16] = {"bf16", 1, 2, false, true, true},
    [34] = {"tq1_0", 256, 54, true, false, false},
    [35] = {"tq2_0", 256, 66, true, false, false},
    [39] = {"mxfp4", 32, 17, true, false, false},
    /* bytes per row as Q6_K / Q4_K: a group of 16 rows is the 16 rows'
     * blocks with their 4-byte words interleaved (see compute/repack.c) */
    [ONC_TYPE_Q6_K_R16] = {"q6_K_r16", 256, 210, true, false, false, true},
    [ONC_TYPE_Q4_K_R16] = {"q4_K_r16", 256, 144, true, false, false, true},
};

static const onc_type_traits unknown_traits = {NULL, 0, 0, false, false, false, false};

const onc_type_traits *onc_type_traits_of(onc_type t) {
    if ((int)t < 0 || (int)t >= ONC_TYPE_COUNT || traits_table[t].name == NULL) return &unknown_traits;
    return &traits_table[t];
}

bool onc_type_from_name(const char *name, onc_type *out) {
    for (int t = 0; t < ONC_TYPE_COUNT; t++) {
        const char *n = traits_table[t].name;
        if (!n || traits_table[t].memory_only || strlen(n) != strlen(name)) continue;
        size_t i = 0;
        while (n[i] && tolower((unsigned char)n[i]) == tolower((unsigned char)name[i])) i++;
        if (n[i] == '\0') {
            *out = (onc_type)t;
            return true;
        }
    }
    return false;
}

size_t onc_type_row_size(onc_type t, int64_t n) {
    const onc_type_traits *tr = onc_type_traits_of(t);
    ONC_ASSERT(tr->name != NULL && n >= 0 && n % tr->block_size == 0);
    return (size_t)(n / tr->block_size) * tr->type_size;
}
