/* cmd_lora.c — `oncolm lora`: LoRA adapters outside training.
 *   lora info    -m BASE ADAPTER                 rank, alpha, scale, modules, parameters
 *   lora convert -m BASE ADAPTER OUT             llama.cpp GGUF <-> PEFT (OUT ending in .gguf: GGUF,
 *                                                else a PEFT folder)
 *   lora merge   -m BASE --lora F[:S]... -o OUT  fold adapters into the weights (oncolm/lora_merge.h) */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "oncolm/lora_merge.h"

#define MAX_LORAS 8

static const char lora_usage[] =
    "usage: oncolm lora info    -m BASE.gguf ADAPTER\n"
    "       oncolm lora convert -m BASE.gguf ADAPTER OUT\n"
    "       oncolm lora merge   -m BASE.gguf --lora FILE[:SCALE] [--lora ...] -o OUT.gguf [--type T] [-t N]\n"
    "  ADAPTER: a llama.cpp GGUF LoRA file, or a PEFT folder (adapter_model.safetensors +\n"
    "           adapter_config.json). convert writes GGUF when OUT ends in .gguf, else a PEFT folder.\n"
    "  merge: W + SCALE * alpha/r * B A for every adapted tensor; the adapted tensors are written\n"
    "         as f16 (f32/bf16 bases keep their type) and the rest copied, or with --type T the\n"
    "         whole model is re-quantized as `oncolm quantize` does (q4_K_M, q8_0, f16, ...).\n";

/* The base model's GGUF and hyper-parameters (the adapters are checked against them). */
typedef struct lora_base {
    onc_gguf *g;
    onc_hparams hp;
} lora_base;

static int base_open(lora_base *b, const char *path) {
    onc_error err = {0};
    memset(b, 0, sizeof *b);
    if (!(b->g = onc_gguf_open(path, &err))) return cli_fail(&err);
    if (onc_hparams_from_gguf(b->g, &b->hp, &err) != ONC_OK) {
        onc_gguf_close(b->g);
        return cli_fail(&err);
    }
    return CLI_EXIT_OK;
}

static void base_close(lora_base *b) {
    onc_hparams_clear(&b->hp);
    onc_gguf_close(b->g);
}

static void print_info(const char *path, const onc_lora *l) {
    char mods[128];
    printf("adapter     %s\n", path);
    printf("arch        %s\n", l->arch);
    printf("rank        %lld\n", (long long)l->rank);
    printf("alpha       %g%s\n", l->alpha, l->rslora ? " (rsLoRA)" : "");
    printf("scale       %g\n", onc_lora_scale(l));
    printf("modules     %s\n", onc_lora_modules_name(l->modules, mods, sizeof mods));
    printf("tensors     %zu pairs\n", l->n);
    printf("parameters  %lld\n", (long long)onc_lora_n_params(l));
}

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int cmd_lora(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(lora_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1], *model = NULL, *out = NULL, *type = NULL, *pos[2];
    const char *lora_arg[MAX_LORAS];
    int npos = 0, n_lora = 0, threads = 0;
    if (strcmp(sub, "info") && strcmp(sub, "convert") && strcmp(sub, "merge"))
        return cli_usage_error(lora_usage, "lora: unknown subcommand '%s'", sub);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const bool takes = !strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "-o") || !strcmp(a, "--out") ||
                           !strcmp(a, "--type") || !strcmp(a, "--lora") || !strcmp(a, "-t") || !strcmp(a, "--threads");
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(lora_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (takes && !v) return cli_usage_error(lora_usage, "lora: %s needs a value", a);
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = argv[++i];
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = argv[++i];
        else if (!strcmp(a, "--type")) type = argv[++i];
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            int64_t n;
            if (!cli_parse_i64(a, argv[++i], 1, 1024, &n)) return CLI_EXIT_USAGE;
            threads = (int)n;
        } else if (!strcmp(a, "--lora")) {
            if (n_lora == MAX_LORAS) return cli_usage_error(lora_usage, "lora: at most %d adapters", MAX_LORAS);
            lora_arg[n_lora++] = argv[++i];
        } else if (a[0] == '-' && a[1]) return cli_usage_error(lora_usage, "lora: unknown option '%s'", a);
        else if (npos < 2) pos[npos++] = a;
        else return cli_usage_error(lora_usage, "lora %s: too many arguments", sub);
    }
    if (!model) return cli_usage_error(lora_usage, "lora %s: the base model is needed (-m BASE.gguf)", sub);
    const bool merge = !strcmp(sub, "merge"), convert = !strcmp(sub, "convert");
    if (merge && (npos || !n_lora || !out))
        return cli_usage_error(lora_usage, "lora merge: needs --lora FILE and -o OUT (no other arguments)");
    if (!merge && (n_lora || type || npos != (convert ? 2 : 1)))
        return cli_usage_error(lora_usage, convert ? "lora convert: expected ADAPTER OUT" : "lora info: expected ADAPTER");
    onc_ftype ft;
    if (type && !onc_ftype_from_name(type, &ft)) return cli_usage_error(lora_usage, "lora merge: unknown type '%s'", type);
    if (merge && !strcmp(out, model)) return cli_usage_error(lora_usage, "lora merge: the output must differ from the base");

    lora_base b;
    int rc = base_open(&b, model);
    if (rc) return rc;
    onc_error err = {0};
    onc_lora *loras[MAX_LORAS] = {0};
    float scales[MAX_LORAS];
    int n_loaded = 0;
    if (!merge) {
        lora_arg[0] = pos[0];
        n_lora = 1;
    }
    for (int i = 0; i < n_lora && rc == CLI_EXIT_OK; i++) {
        char path[4096];
        size_t len;
        cli_split_lora_arg(lora_arg[i], &len, &scales[i]);
        if (!merge) len = strlen(lora_arg[i]), scales[i] = 1.0f;
        snprintf(path, sizeof path, "%.*s", (int)len, lora_arg[i]);
        if (!(loras[i] = onc_lora_load(path, b.g, &b.hp, &err))) rc = cli_fail(&err);
        else n_loaded++;
    }
    if (rc == CLI_EXIT_OK) {
        if (!strcmp(sub, "info")) {
            print_info(pos[0], loras[0]);
        } else if (convert) {
            const onc_status st = ends_with(pos[1], ".gguf") ? onc_lora_save_gguf(loras[0], pos[1], &err)
                                                             : onc_lora_save_peft(loras[0], pos[1], &err);
            if (st != ONC_OK) rc = cli_fail(&err);
            else fprintf(stderr, "oncolm lora: wrote %s\n", pos[1]);
        } else {
            onc_quantize_stats st;
            const double t0 = cli_now();
            fprintf(stderr, "oncolm lora merge: %s + %d adapter(s) -> %s (%s)\n", model, n_loaded, out,
                    type ? onc_ftype_name(ft) : "adapted tensors f16, others unchanged");
            if (onc_lora_merge_file(model, out, (const onc_lora *const *)loras, scales, (size_t)n_loaded,
                                    type ? &ft : NULL, threads, &st, &err) != ONC_OK)
                rc = cli_fail(&err);
            else
                fprintf(stderr, "oncolm lora merge: %lld tensors, %lld rewritten, %.2f MiB written in %.1f s\n",
                        (long long)st.n_tensors, (long long)st.n_converted, st.dst_bytes / 1048576.0,
                        cli_now() - t0);
        }
    }
    for (int i = 0; i < n_loaded; i++) onc_lora_free(loras[i]);
    base_close(&b);
    return rc;
}
