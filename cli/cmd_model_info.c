/* cmd_model_info.c — `oncolm model info FILE [--all] [--tensors] [--json]`:
 * describe a GGUF file — header facts, architecture and its hyper-parameters
 * ("<arch>.*" keys), parameter count and bytes per tensor type, a vocabulary
 * summary from the tokenizer.ggml.* keys, all metadata (long arrays
 * abbreviated unless --all) and, with --tensors, the tensor table. --json
 * prints the same as one JSON object (written by hand, strings escaped).
 *
 * Only reads the file through the validating reader (oncolm/gguf.h); a file
 * the reader rejects gives "oncolm: FILE: <problem>" and exit 1. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/utf8.h"
#include "cli.h"
#include "oncolm/gguf.h"
#include "oncolm/types.h"

static const char info_usage[] =
    "usage: oncolm model info FILE [--all] [--tensors] [--json]\n"
    "  Describe a GGUF model file: version, alignment, size, architecture and\n"
    "  hyper-parameters, parameters and bytes by tensor type, vocabulary, metadata.\n"
    "  --all      print long metadata arrays in full (default: first 16 elements)\n"
    "  --tensors  also list every tensor (name, type, shape, bytes)\n"
    "  --json     print one JSON object instead of text\n";

#define ABBREV_ELEMS 16

typedef struct info_opts {
    const char *path;
    bool all, tensors, json;
} info_opts;

typedef struct type_stats {
    int64_t tensors;
    uint64_t params;
    uint64_t bytes;
} type_stats;

// --- string output helpers -----------------------------------------------------

#define json_str cli_json_str
#define json_cstr(o, s) cli_json_str(o, s, strlen(s))

/* Quoted text form with C escapes, for token texts in the text output. */
static void text_str(FILE *o, onc_str s, size_t max) {
    const unsigned char *p = (const unsigned char *)s.ptr;
    fputc('\'', o);
    for (size_t i = 0; i < s.len && i < max;) {
        unsigned char c = p[i];
        size_t k;
        if (c == '\n') fputs("\\n", o), i++;
        else if (c == '\t') fputs("\\t", o), i++;
        else if (c == '\'' || c == '\\') fprintf(o, "\\%c", c), i++;
        else if (c >= 0x20 && c < 0x7f) fputc(c, o), i++;
        else if (c >= 0x80 && (k = onc_utf8_seq_len(p + i, s.len - i)) > 0) fwrite(p + i, 1, k, o), i += k;
        else fprintf(o, "\\x%02x", c), i++;
    }
    if (s.len > max) fputs("...", o);
    fputc('\'', o);
}

/* One scalar element as JSON. Non-finite floats become null. */
static void json_elem(FILE *o, onc_gguf_type t, const unsigned char *p) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; uint64_t u64;
            int64_t i64; float f32; double f64; } v;
    memcpy(&v, p, onc_gguf_type_size(t));
    switch (t) {
    case ONC_GGUF_UINT8: fprintf(o, "%u", v.u8); break;
    case ONC_GGUF_INT8: fprintf(o, "%d", v.i8); break;
    case ONC_GGUF_UINT16: fprintf(o, "%u", v.u16); break;
    case ONC_GGUF_INT16: fprintf(o, "%d", v.i16); break;
    case ONC_GGUF_UINT32: fprintf(o, "%" PRIu32, v.u32); break;
    case ONC_GGUF_INT32: fprintf(o, "%" PRId32, v.i32); break;
    case ONC_GGUF_UINT64: fprintf(o, "%" PRIu64, v.u64); break;
    case ONC_GGUF_INT64: fprintf(o, "%" PRId64, v.i64); break;
    case ONC_GGUF_BOOL: fputs(v.u8 ? "true" : "false", o); break;
    case ONC_GGUF_FLOAT32:
        if (v.f32 - v.f32 != 0) fputs("null", o);
        else fprintf(o, "%.9g", v.f32);
        break;
    case ONC_GGUF_FLOAT64:
        if (v.f64 - v.f64 != 0) fputs("null", o);
        else fprintf(o, "%.17g", v.f64);
        break;
    default: fputs("null", o); break;
    }
}

/* Metadata value i as a JSON object {"type":..., "value":...}. */
static void json_kv_value(FILE *o, const onc_gguf *g, int64_t i, bool all) {
    onc_gguf_type t = onc_gguf_kv_type(g, i);
    fprintf(o, "{\"type\": \"%s\", ", onc_gguf_type_name(t));
    if (t == ONC_GGUF_STRING) {
        onc_str s = onc_gguf_val_str(g, i);
        fputs("\"value\": ", o);
        json_str(o, s.ptr, s.len);
    } else if (t == ONC_GGUF_ARRAY) {
        onc_gguf_type et = onc_gguf_arr_type(g, i);
        uint64_t n = onc_gguf_arr_n(g, i);
        uint64_t show = all || n <= ABBREV_ELEMS ? n : ABBREV_ELEMS;
        fprintf(o, "\"elem_type\": \"%s\", \"n\": %" PRIu64 ", \"truncated\": %s, \"value\": [",
                onc_gguf_type_name(et), n, show < n ? "true" : "false");
        for (uint64_t j = 0; j < show; j++) {
            if (j) fputs(", ", o);
            if (et == ONC_GGUF_STRING) {
                onc_str s = onc_gguf_arr_str(g, i, j);
                json_str(o, s.ptr, s.len);
            } else {
                json_elem(o, et, (const unsigned char *)onc_gguf_arr_data(g, i) + j * onc_gguf_type_size(et));
            }
        }
        fputc(']', o);
    } else {
        /* scalars: the reader guarantees the bytes; go through a small copy */
        unsigned char buf[8] = {0};
        switch (t) {
        case ONC_GGUF_UINT8: buf[0] = onc_gguf_val_u8(g, i); break;
        case ONC_GGUF_INT8: { int8_t v = onc_gguf_val_i8(g, i); memcpy(buf, &v, 1); break; }
        case ONC_GGUF_BOOL: buf[0] = onc_gguf_val_bool(g, i); break;
        case ONC_GGUF_UINT16: { uint16_t v = onc_gguf_val_u16(g, i); memcpy(buf, &v, 2); break; }
        case ONC_GGUF_INT16: { int16_t v = onc_gguf_val_i16(g, i); memcpy(buf, &v, 2); break; }
        case ONC_GGUF_UINT32: { uint32_t v = onc_gguf_val_u32(g, i); memcpy(buf, &v, 4); break; }
        case ONC_GGUF_INT32: { int32_t v = onc_gguf_val_i32(g, i); memcpy(buf, &v, 4); break; }
        case ONC_GGUF_FLOAT32: { float v = onc_gguf_val_f32(g, i); memcpy(buf, &v, 4); break; }
        case ONC_GGUF_UINT64: { uint64_t v = onc_gguf_val_u64(g, i); memcpy(buf, &v, 8); break; }
        case ONC_GGUF_INT64: { int64_t v = onc_gguf_val_i64(g, i); memcpy(buf, &v, 8); break; }
        case ONC_GGUF_FLOAT64: { double v = onc_gguf_val_f64(g, i); memcpy(buf, &v, 8); break; }
        default: break;
        }
        fputs("\"value\": ", o);
        json_elem(o, t, buf);
    }
    fputc('}', o);
}

// --- gathering -------------------------------------------------------------------

static uint64_t tensor_params(const onc_gguf_tensor *t) {
    uint64_t n = 1;
    for (int d = 0; d < ONC_GGUF_MAX_DIMS; d++) n *= (uint64_t)t->ne[d];
    return n;
}

static void gather_stats(const onc_gguf *g, type_stats stats[ONC_TYPE_COUNT], uint64_t *params, uint64_t *bytes) {
    memset(stats, 0, sizeof(type_stats) * ONC_TYPE_COUNT);
    *params = *bytes = 0;
    for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
        const onc_gguf_tensor *t = onc_gguf_tensor_at(g, i);
        type_stats *s = &stats[t->type];
        s->tensors++;
        s->params += tensor_params(t);
        s->bytes += t->nbytes;
        *params += tensor_params(t);
        *bytes += t->nbytes;
    }
}

/* Architecture name, or NULL when general.architecture is absent/not a string.
 * Written NUL-terminated into buf. */
static const char *arch_of(const onc_gguf *g, char *buf, size_t cap) {
    onc_str s;
    if (onc_gguf_get_str(g, "general.architecture", &s, NULL) != ONC_OK) return NULL;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(buf, s.ptr, n);
    buf[n] = '\0';
    return buf;
}

static bool has_prefix(const char *key, const char *arch) {
    size_t n = strlen(arch);
    return strncmp(key, arch, n) == 0 && key[n] == '.';
}

/* Token text of id, when tokenizer.ggml.tokens has it. */
static bool token_text(const onc_gguf *g, uint32_t id, onc_str *out) {
    int64_t k = onc_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (k < 0 || onc_gguf_kv_type(g, k) != ONC_GGUF_ARRAY || onc_gguf_arr_type(g, k) != ONC_GGUF_STRING ||
        id >= onc_gguf_arr_n(g, k))
        return false;
    *out = onc_gguf_arr_str(g, k, id);
    return true;
}

static int64_t arr_len(const onc_gguf *g, const char *key) {
    int64_t k = onc_gguf_find_key(g, key);
    if (k < 0 || onc_gguf_kv_type(g, k) != ONC_GGUF_ARRAY) return -1;
    return (int64_t)onc_gguf_arr_n(g, k);
}

static const char *const special_ids[] = {"bos", "eos", "unknown", "padding", "seperator", "mask", "eot"};

static bool has_vocab(const onc_gguf *g) {
    for (int64_t i = 0; i < onc_gguf_n_kv(g); i++)
        if (strncmp(onc_gguf_key(g, i), "tokenizer.ggml.", 15) == 0) return true;
    return false;
}

// --- text output -----------------------------------------------------------------------

static void print_size(FILE *o, uint64_t bytes) {
    if (bytes >= ((uint64_t)1 << 30)) fprintf(o, "%" PRIu64 " bytes (%.2f GiB)", bytes, bytes / 1073741824.0);
    else if (bytes >= ((uint64_t)1 << 20)) fprintf(o, "%" PRIu64 " bytes (%.2f MiB)", bytes, bytes / 1048576.0);
    else if (bytes >= 1024) fprintf(o, "%" PRIu64 " bytes (%.2f KiB)", bytes, bytes / 1024.0);
    else fprintf(o, "%" PRIu64 " bytes", bytes);
}

static void print_count(FILE *o, uint64_t n) {
    if (n >= 1000000000) fprintf(o, "%" PRIu64 " (%.2fB)", n, n / 1e9);
    else if (n >= 1000000) fprintf(o, "%" PRIu64 " (%.2fM)", n, n / 1e6);
    else if (n >= 1000) fprintf(o, "%" PRIu64 " (%.2fK)", n, n / 1e3);
    else fprintf(o, "%" PRIu64, n);
}

static void print_shape(FILE *o, const onc_gguf_tensor *t) {
    fputc('[', o);
    for (uint32_t d = 0; d < t->n_dims; d++) fprintf(o, "%s%" PRId64, d ? ", " : "", t->ne[d]);
    fputc(']', o);
}

static void print_text(FILE *o, const onc_gguf *g, const info_opts *op) {
    char *val = malloc(65536);
    if (!val) return;
    char arch_buf[128];
    const char *arch = arch_of(g, arch_buf, sizeof arch_buf);
    fprintf(o, "file:           %s\n", onc_gguf_path(g));
    fprintf(o, "GGUF version:   %" PRIu32 "\n", onc_gguf_version(g));
    fprintf(o, "alignment:      %zu\n", onc_gguf_alignment(g));
    fprintf(o, "file size:      ");
    print_size(o, onc_gguf_file_size(g));
    fprintf(o, "\ndata offset:    %zu\n", onc_gguf_data_offset(g));
    fprintf(o, "metadata keys:  %" PRId64 "\ntensors:        %" PRId64 "\n", onc_gguf_n_kv(g), onc_gguf_n_tensors(g));
    fprintf(o, "architecture:   %s\n", arch ? arch : "(none: general.architecture missing)");
    if (arch) {
        fprintf(o, "\nhyper-parameters (%s.*):\n", arch);
        for (int64_t i = 0; i < onc_gguf_n_kv(g); i++)
            if (has_prefix(onc_gguf_key(g, i), arch))
                fprintf(o, "  %-40s %s\n", onc_gguf_key(g, i) + strlen(arch) + 1,
                        onc_gguf_kv_to_string(g, i, val, 65536, ABBREV_ELEMS));
    }
    type_stats stats[ONC_TYPE_COUNT];
    uint64_t params, bytes;
    gather_stats(g, stats, &params, &bytes);
    fprintf(o, "\nparameters:     ");
    print_count(o, params);
    fprintf(o, "\ntensor data:    ");
    print_size(o, bytes);
    fprintf(o, "\n  %-8s %8s %16s %16s\n", "type", "tensors", "parameters", "bytes");
    for (int t = 0; t < ONC_TYPE_COUNT; t++)
        if (stats[t].tensors)
            fprintf(o, "  %-8s %8" PRId64 " %16" PRIu64 " %16" PRIu64 "\n", onc_type_traits_of((onc_type)t)->name,
                    stats[t].tensors, stats[t].params, stats[t].bytes);
    if (has_vocab(g)) {
        onc_str s;
        fprintf(o, "\nvocabulary:\n");
        if (onc_gguf_get_str(g, "tokenizer.ggml.model", &s, NULL) == ONC_OK)
            fprintf(o, "  model:    %.*s\n", (int)s.len, s.ptr);
        if (onc_gguf_get_str(g, "tokenizer.ggml.pre", &s, NULL) == ONC_OK)
            fprintf(o, "  pre:      %.*s\n", (int)s.len, s.ptr);
        int64_t nt = arr_len(g, "tokenizer.ggml.tokens"), nm = arr_len(g, "tokenizer.ggml.merges");
        if (nt >= 0) fprintf(o, "  tokens:   %" PRId64 "\n", nt);
        if (nm >= 0) fprintf(o, "  merges:   %" PRId64 "\n", nm);
        for (size_t k = 0; k < sizeof special_ids / sizeof special_ids[0]; k++) {
            char key[64];
            uint32_t id;
            snprintf(key, sizeof key, "tokenizer.ggml.%s_token_id", special_ids[k]);
            if (onc_gguf_get_u32(g, key, &id, NULL) != ONC_OK) continue;
            fprintf(o, "  %-9s %" PRIu32, special_ids[k], id);
            if (token_text(g, id, &s)) {
                fputc(' ', o);
                text_str(o, s, 64);
            }
            fputc('\n', o);
        }
    }
    fprintf(o, "\nmetadata:\n");
    for (int64_t i = 0; i < onc_gguf_n_kv(g); i++) {
        size_t max = op->all ? (size_t)-1 : ABBREV_ELEMS;
        onc_gguf_type t = onc_gguf_kv_type(g, i);
        char *text = val;
        size_t cap = 65536;
        char *big = NULL;
        if (op->all && t == ONC_GGUF_ARRAY) {
            /* enough room for every element: estimate generously */
            uint64_t n = onc_gguf_arr_n(g, i);
            size_t want = (size_t)n * 32 + 64;
            if (onc_gguf_arr_type(g, i) == ONC_GGUF_STRING)
                for (uint64_t j = 0; j < n; j++) want += onc_gguf_arr_str(g, i, j).len * 4;
            if (want > cap && (big = malloc(want)) != NULL) text = big, cap = want;
        } else if (op->all && t == ONC_GGUF_STRING && onc_gguf_val_str(g, i).len * 4 + 8 > cap) {
            size_t want = onc_gguf_val_str(g, i).len * 4 + 8;
            if ((big = malloc(want)) != NULL) text = big, cap = want;
        }
        fprintf(o, "  %-44s %-7s %s\n", onc_gguf_key(g, i), onc_gguf_type_name(t),
                onc_gguf_kv_to_string(g, i, text, cap, max));
        free(big);
    }
    if (op->tensors) {
        fprintf(o, "\ntensors:\n  %-48s %-8s %-28s %14s\n", "name", "type", "shape (ne)", "bytes");
        for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
            const onc_gguf_tensor *t = onc_gguf_tensor_at(g, i);
            fprintf(o, "  %-48s %-8s ", t->name, onc_type_traits_of(t->type)->name);
            char shape[128];
            int n = 0;
            for (uint32_t d = 0; d < t->n_dims; d++)
                n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%" PRId64, d ? ", " : "[", t->ne[d]);
            snprintf(shape + n, sizeof shape - (size_t)n, "]");
            fprintf(o, "%-28s %14zu\n", shape, t->nbytes);
        }
    }
    free(val);
}

// --- JSON output --------------------------------------------------------------------

static void print_json(FILE *o, const onc_gguf *g, const info_opts *op) {
    char arch_buf[128];
    const char *arch = arch_of(g, arch_buf, sizeof arch_buf);
    fputs("{\"file\": ", o);
    json_cstr(o, onc_gguf_path(g));
    fprintf(o, ", \"version\": %" PRIu32 ", \"alignment\": %zu, \"file_size\": %zu, \"data_offset\": %zu",
            onc_gguf_version(g), onc_gguf_alignment(g), onc_gguf_file_size(g), onc_gguf_data_offset(g));
    fprintf(o, ", \"n_kv\": %" PRId64 ", \"n_tensors\": %" PRId64 ", \"architecture\": ", onc_gguf_n_kv(g),
            onc_gguf_n_tensors(g));
    if (arch) json_cstr(o, arch);
    else fputs("null", o);
    fputs(", \"hparams\": {", o);
    bool first = true;
    for (int64_t i = 0; arch && i < onc_gguf_n_kv(g); i++) {
        if (!has_prefix(onc_gguf_key(g, i), arch)) continue;
        fputs(first ? "" : ", ", o);
        first = false;
        json_cstr(o, onc_gguf_key(g, i));
        fputs(": ", o);
        json_kv_value(o, g, i, op->all);
    }
    type_stats stats[ONC_TYPE_COUNT];
    uint64_t params, bytes;
    gather_stats(g, stats, &params, &bytes);
    fprintf(o, "}, \"n_params\": %" PRIu64 ", \"n_bytes\": %" PRIu64 ", \"types\": [", params, bytes);
    first = true;
    for (int t = 0; t < ONC_TYPE_COUNT; t++) {
        if (!stats[t].tensors) continue;
        fprintf(o, "%s{\"type\": \"%s\", \"tensors\": %" PRId64 ", \"parameters\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
                first ? "" : ", ", onc_type_traits_of((onc_type)t)->name, stats[t].tensors, stats[t].params,
                stats[t].bytes);
        first = false;
    }
    fputs("], \"vocab\": ", o);
    if (!has_vocab(g)) {
        fputs("null", o);
    } else {
        onc_str s;
        fputs("{\"model\": ", o);
        if (onc_gguf_get_str(g, "tokenizer.ggml.model", &s, NULL) == ONC_OK) json_str(o, s.ptr, s.len);
        else fputs("null", o);
        fputs(", \"pre\": ", o);
        if (onc_gguf_get_str(g, "tokenizer.ggml.pre", &s, NULL) == ONC_OK) json_str(o, s.ptr, s.len);
        else fputs("null", o);
        fprintf(o, ", \"n_tokens\": %" PRId64 ", \"n_merges\": %" PRId64, arr_len(g, "tokenizer.ggml.tokens"),
                arr_len(g, "tokenizer.ggml.merges"));
        for (size_t k = 0; k < sizeof special_ids / sizeof special_ids[0]; k++) {
            char key[64];
            uint32_t id;
            snprintf(key, sizeof key, "tokenizer.ggml.%s_token_id", special_ids[k]);
            if (onc_gguf_get_u32(g, key, &id, NULL) != ONC_OK) continue;
            fprintf(o, ", \"%s\": {\"id\": %" PRIu32 ", \"text\": ", special_ids[k], id);
            if (token_text(g, id, &s)) json_str(o, s.ptr, s.len);
            else fputs("null", o);
            fputc('}', o);
        }
        fputc('}', o);
    }
    fputs(", \"metadata\": {", o);
    for (int64_t i = 0; i < onc_gguf_n_kv(g); i++) {
        fputs(i ? ", " : "", o);
        json_cstr(o, onc_gguf_key(g, i));
        fputs(": ", o);
        json_kv_value(o, g, i, op->all);
    }
    fputc('}', o);
    if (op->tensors) {
        fputs(", \"tensors\": [", o);
        for (int64_t i = 0; i < onc_gguf_n_tensors(g); i++) {
            const onc_gguf_tensor *t = onc_gguf_tensor_at(g, i);
            fputs(i ? ", {\"name\": " : "{\"name\": ", o);
            json_cstr(o, t->name);
            fprintf(o, ", \"type\": \"%s\", \"ne\": ", onc_type_traits_of(t->type)->name);
            print_shape(o, t);
            fprintf(o, ", \"offset\": %" PRIu64 ", \"bytes\": %zu}", t->offset, t->nbytes);
        }
        fputc(']', o);
    }
    fputs("}\n", o);
}

// --- entry point -----------------------------------------------------------------------

int cmd_model_info(int argc, char **argv) {
    info_opts op = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(info_usage, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--all") == 0) {
            op.all = true;
        } else if (strcmp(a, "--tensors") == 0) {
            op.tensors = true;
        } else if (strcmp(a, "--json") == 0) {
            op.json = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error(info_usage, "model info: unknown option '%s'", a);
        } else if (op.path) {
            return cli_usage_error(info_usage, "model info: more than one FILE given ('%s' and '%s')", op.path, a);
        } else {
            op.path = a;
        }
    }
    if (!op.path) return cli_usage_error(info_usage, "model info: no FILE given");
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open(op.path, &err);
    if (!g) return cli_fail(&err);
    if (op.json) print_json(stdout, g, &op);
    else print_text(stdout, g, &op);
    onc_gguf_close(g);
    if (fflush(stdout) != 0) {
        cli_errorf("%s: cannot write the output", op.path);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
