/* cmd_quantize.c — `oncolm quantize IN OUT TYPE [--threads N]`: re-encode a
 * GGUF model (recipe in oncolm/quantize.h). Prints one progress line per
 * tensor and a size summary on stderr. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "oncolm/quantize.h"

static const char quantize_usage[] =
    "usage: oncolm quantize IN.gguf OUT.gguf TYPE [--threads N]\n"
    "  TYPE: q4_K_M q5_K_M q4_K q5_K q6_K q8_0 q4_0 f16 bf16 f32\n"
    "  q4_K_M/q5_K_M follow llama.cpp's mix (output/attn_v/ffn_down get Q6_K in some layers);\n"
    "  1-D tensors (norms, biases) are copied unchanged.\n";

static const char *tname(onc_type t) {
    const char *n = onc_type_traits_of(t)->name;
    return n ? n : "?";
}

static void progress(void *user, const onc_quantize_event *ev) {
    (void)user;
    char shape[96];
    int k = snprintf(shape, sizeof shape, "%lld", (long long)ev->ne[0]);
    for (int d = 1; d < 4 && ev->ne[d] > 1; d++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, " x %lld", (long long)ev->ne[d]);
    fprintf(stderr, "[%4lld/%4lld] %-40s [%s] %6s -> %-6s %9.2f MiB -> %9.2f MiB%s%s%s\n",
            (long long)ev->index + 1, (long long)ev->count, ev->name, shape, tname(ev->src_type),
            tname(ev->dst_type), ev->src_bytes / 1048576.0, ev->dst_bytes / 1048576.0,
            ev->copied ? " (copied)" : "", ev->requantized ? " (warning: requantizing an already quantized tensor)" : "",
            ev->fallback ? " (row length does not fit the block size: fallback)" : "");
    if (ev->fallback)
        fprintf(stderr, "oncolm quantize: %s: ne[0] = %lld is not a multiple of %lld (%s): using %s\n", ev->name,
                (long long)ev->ne[0], (long long)onc_type_traits_of(ev->wanted_type)->block_size,
                tname(ev->wanted_type), tname(ev->dst_type));
}

int cmd_quantize(int argc, char **argv) {
    const char *pos[3];
    int npos = 0;
    onc_quantize_params p = onc_quantize_default_params();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") || !strcmp(argv[i], "-t")) {
            int64_t n;
            if (i + 1 >= argc) return cli_usage_error(quantize_usage, "quantize: --threads needs a value");
            if (!cli_parse_i64("--threads", argv[++i], 1, 1024, &n)) return CLI_EXIT_USAGE;
            p.n_threads = (int)n;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(quantize_usage, stdout);
            return CLI_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error(quantize_usage, "quantize: unknown option '%s'", argv[i]);
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage_error(quantize_usage, "quantize: too many arguments");
        }
    }
    if (npos != 3) return cli_usage_error(quantize_usage, "quantize: expected IN OUT TYPE");
    if (!onc_ftype_from_name(pos[2], &p.ftype))
        return cli_usage_error(quantize_usage, "quantize: unknown type '%s'", pos[2]);
    if (!strcmp(pos[0], pos[1]))
        return cli_usage_error(quantize_usage, "quantize: output must differ from the input");
    p.progress = progress;
    onc_quantize_stats st;
    onc_error err = {0};
    fprintf(stderr, "oncolm quantize: %s -> %s (%s)\n", pos[0], pos[1], onc_ftype_name(p.ftype));
    if (onc_quantize_file(pos[0], pos[1], &p, &st, &err) != ONC_OK) return cli_fail(&err);
    fprintf(stderr,
            "oncolm quantize: %lld tensors (%lld converted, %lld fallback); tensor data %.2f MiB -> %.2f MiB "
            "(%.2fx smaller)\n",
            (long long)st.n_tensors, (long long)st.n_converted, (long long)st.n_fallback, st.src_bytes / 1048576.0,
            st.dst_bytes / 1048576.0, st.dst_bytes ? (double)st.src_bytes / (double)st.dst_bytes : 0.0);
    return CLI_EXIT_OK;
}
