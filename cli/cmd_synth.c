/* cmd_synth.c — `oncolm synth corpus`: a seeded synthetic oncology corpus
 * (notes, per-task JSONL files with gold labels, retrieval questions with
 * graded qrels, manifest) through
 * oncolm/synth.h. Prints a one-line summary with the generation speed;
 * never prints note text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "oncolm/synth.h"

static const char *usage =
    "usage: oncolm synth corpus --patients N --seed S --out DIR [options]\n"
    "  --patients N          number of synthetic patients (default 100)\n"
    "  --seed S              seed; the same seed and options give the same bytes (default 1)\n"
    "  --out DIR             output folder (created if missing)\n"
    "  --difficulty LEVEL    easy | medium | hard (default medium): synonyms, negation, section order,\n"
    "                        historical mentions, hedging and typos (docs/SYNTH.md)\n"
    "  --typo-rate P         per-word typo probability in [0, 0.2] (default: from the difficulty)\n"
    "  --negation-rate P     probability that an absent finding is stated negated, in [0, 1]\n"
    "  --quiet               no summary line\n";

typedef struct progress_ctx {
    int last;
} progress_ctx;

static void on_progress(void *ctx, int64_t done, int64_t total) {
    progress_ctx *p = ctx;
    cli_progress("synth", done, total, &p->last);
}

static int synth_corpus_main(int argc, char **argv) {
    onc_synth_params p;
    onc_synth_params_default(&p);
    const char *out = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t iv;
        double dv;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--patients")) {
            if (!cli_parse_i64(a, v, 1, 100000000, &iv)) return CLI_EXIT_USAGE;
            p.n_patients = iv, i++;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_i64(a, v, 0, INT64_MAX, &iv)) return CLI_EXIT_USAGE;
            p.seed = (uint64_t)iv, i++;
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            if (!v) return cli_usage_error(usage, "%s needs a value", a);
            out = v, i++;
        } else if (!strcmp(a, "--difficulty")) {
            const int d = onc_synth_difficulty_parse(v);
            if (d < 0) return cli_usage_error(usage, "--difficulty must be easy, medium or hard");
            p.difficulty = (onc_synth_difficulty)d, i++;
        } else if (!strcmp(a, "--typo-rate")) {
            if (!cli_parse_f64(a, v, &dv)) return CLI_EXIT_USAGE;
            if (dv < 0 || dv > 0.2) return cli_usage_error(usage, "--typo-rate must be in [0, 0.2]");
            p.typo_rate = dv, i++;
        } else if (!strcmp(a, "--negation-rate")) {
            if (!cli_parse_f64(a, v, &dv)) return CLI_EXIT_USAGE;
            if (dv < 0 || dv > 1) return cli_usage_error(usage, "--negation-rate must be in [0, 1]");
            p.negation_rate = dv, i++;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else {
            return cli_usage_error(usage, "synth corpus: unknown option '%s'", a);
        }
    }
    if (!out) return cli_usage_error(usage, "synth corpus: --out DIR is required");
    progress_ctx prog = {.last = -1};
    p.progress = on_progress;
    p.progress_ctx = &prog;
    onc_error err = {0};
    onc_synth_stats st;
    const double t0 = cli_now();
    if (onc_synth_corpus(&p, out, &st, &err) != ONC_OK) return cli_fail(&err);
    const double dt = cli_now() - t0;
    if (!quiet)
        fprintf(stderr,
                "oncolm: synth: %lld patients, %lld notes (CT labels 0/1/2: %lld/%lld/%lld), %lld retrieval questions "
                "(%lld judgements), %.1f MB in %.2f s (%.0f notes/s) -> %s\n",
                (long long)st.patients, (long long)st.notes, (long long)st.ct_labels[0], (long long)st.ct_labels[1],
                (long long)st.ct_labels[2], (long long)st.queries, (long long)st.qrels, st.bytes / 1e6, dt,
                dt > 0 ? st.notes / dt : 0.0, out);
    return CLI_EXIT_OK;
}

int cmd_synth(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "corpus")) return synth_corpus_main(argc - 1, argv + 1);
    return cli_usage_error(usage, "synth: unknown subcommand '%s' (only `corpus` exists)", argv[1]);
}
