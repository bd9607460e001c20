/* cli.h — shared pieces of the `oncolm` command-line program.
 *
 * Each subcommand lives in cli/cmd_<name>.c and exposes
 *   int cmd_<name>(int argc, char **argv);   // argv[0] is the subcommand
 * returning the process exit code: 0 success, 1 failure (error already
 * printed), 2 usage error. Only the CLI prints and chooses exit codes; the
 * library reports through onc_error. */
#ifndef ONCOLM_CLI_H
#define ONCOLM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "oncolm/status.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Print "oncolm: <message>" to stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "oncolm: <err->msg>" to stderr and return CLI_EXIT_FAIL. */
int cli_fail(const onc_error *err);
/* Print "oncolm <cmd>: <message>\n<usage>" and return CLI_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse helpers: return false (after printing a message) on bad input. */
bool cli_parse_i64(const char *flag, const char *s, int64_t min, int64_t max, int64_t *out);
bool cli_parse_f64(const char *flag, const char *s, double *out);

/* Links of an option chain `if (...) ... CLI_INT_OPT(...) CLI_F_OPT(...)
 * else ...` inside an argument loop with locals `a` (the flag), `v` (its
 * value), `int64_t iv` and `double dv`: flag `name` sets dst from an integer
 * in [lo, hi] or a number in [lo, hi]; out of range is a usage error
 * "<cmd>: <flag> must be in [lo, hi]" (with `usage`), exit 2. */
#define CLI_INT_OPT(name, lo, hi, dst)                                                                                 \
    else if (!strcmp(a, name)) {                                                                                       \
        if (!cli_parse_i64(a, v, lo, hi, &iv)) return CLI_EXIT_USAGE;                                                  \
        dst = iv;                                                                                                      \
    }
#define CLI_F_OPT(usage, cmd, name, lo, hi, dst)                                                                       \
    else if (!strcmp(a, name)) {                                                                                       \
        if (!cli_parse_f64(a, v, &dv)) return CLI_EXIT_USAGE;                                                          \
        if (!(dv >= lo && dv <= hi))                                                                                   \
            return cli_usage_error(usage, "%s: %s must be in [%g, %g]", cmd, a, (double)(lo), (double)(hi));          \
        dst = dv;                                                                                                      \
    }

/* Read a whole file ("-" = stdin) into a malloc()ed NUL-terminated buffer.
 * Returns NULL with err set on failure. *len excludes the NUL. */
char *cli_read_file(const char *path, size_t *len, onc_error *err);

/* Progress of long work on stderr as "oncolm: LABEL: NN%", rewritten in
 * place; only when stderr is a terminal (logs and pipes get no \r noise).
 * *last holds the last percentage shown (start it at -1); a line break is
 * printed at 100 %. */
void cli_progress(const char *label, int64_t done, int64_t total, int *last);

/* Seconds on a monotonic clock (for timings). */
double cli_now(void);

/* Write p[0..n) as a JSON string literal (quotes included). Invalid UTF-8
 * bytes are written as \u00XX. */
void cli_json_str(FILE *o, const char *p, size_t n);

/* Write data[0..len) to path through "<path>.tmp.<pid>" and a rename, so a
 * reader never sees a half-written file; "-" writes to stdout. Prints
 * "oncolm: PATH: cannot write: REASON" and returns false on failure (the
 * temporary file is removed). */
bool cli_write_file_atomic(const char *path, const char *data, size_t len);

/* Split a --lora argument "FILE[:SCALE]": a suffix after the last ':' that
 * parses as a finite number is the scale (*scale, default 1) and *path_len
 * the length of FILE; otherwise the whole text is the file. */
void cli_split_lora_arg(const char *arg, size_t *path_len, float *scale);

/* The progress of a training run on stderr (`oncolm finetune`, `oncolm
 * train`), for every event but START (the caller's own line): a step line
 * rewritten in place on a terminal (one line per step otherwise) with
 * tokens/s or, when per_example, examples/s; validations, checkpoints and
 * early stops on lines of their own. */
struct onc_finetune_event;
void cli_train_progress(const struct onc_finetune_event *ev, bool per_example);

/* Subcommands. */
int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_model(int argc, char **argv);    /* model info | model create */
int cmd_tokenize(int argc, char **argv);
int cmd_vocab(int argc, char **argv);    /* vocab train */
int cmd_quantize(int argc, char **argv);
int cmd_lora(int argc, char **argv);
int cmd_finetune(int argc, char **argv); /* finetune: cmd_finetune.c */     /* lora merge | info | convert: cmd_lora.c */
int cmd_train(int argc, char **argv);    /* train classify|embed|mlm: cmd_train.c */
int cmd_demo(int argc, char **argv);
int cmd_generate(int argc, char **argv); /* generate, chat, score: cmd_generate.c */
int cmd_chat(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_embed(int argc, char **argv);    /* embed, classify, rerank: cmd_embed.c */
int cmd_classify(int argc, char **argv);
int cmd_rerank(int argc, char **argv);
int cmd_synth(int argc, char **argv);     /* synth corpus: cmd_synth.c */
int cmd_index(int argc, char **argv);     /* index build|add|delete|stats: cmd_index.c */
int cmd_search(int argc, char **argv);    /* search: cmd_search.c */
int cmd_eval(int argc, char **argv);      /* eval retrieval | paired: cmd_eval.c */
int cmd_eval_predictions(int argc, char **argv); /* eval FILE.jsonl: cmd_eval_pred.c */
int cmd_eval_compare(int argc, char **argv);     /* eval compare A B: cmd_eval_pred.c */

/* Parts of `model`, in their own files. */
int cmd_model_info(int argc, char **argv);
int cmd_model_create(int argc, char **argv);

#endif
