/* demo.h — shared state of `oncolm demo` (cmd_demo.c runs the steps; steps
 * of later subsystems live in their own cli/demo_<name>.c files). */
#ifndef ONCOLM_CLI_DEMO_H
#define ONCOLM_CLI_DEMO_H

#include <stdbool.h>
#include <stddef.h>

#include "oncolm/status.h"
#include "oncolm/tokenizer.h"
#include "oncolm/vocab.h"

typedef struct demo {
    const char *out_dir;
    bool quick;
    int failures;
    onc_vocab_spec *vocab[3];   /* SPM, BPE, WPM */
    onc_tokenizer *tok[3];
} demo;

/* Seconds on a monotonic clock. */
double demo_now(void);
/* Count and print a failed check (the demo then exits 1). */
void demo_check(demo *d, bool ok, const char *what);
/* malloc()ed "<out_dir>/<name>", NULL when out of memory. */
char *demo_path(const demo *d, const char *name);

/* Rows of a JSONL task file (synth): every row (split NULL) or one split's;
 * false when the file cannot be read or memory runs out. */
typedef struct json_t json_t;
typedef struct task_rows {
    json_t **rows;
    size_t n;
} task_rows;
bool demo_read_rows(const char *path, const char *split, task_rows *out);
void demo_free_rows(task_rows *t);
/* String field `key` of a row, "" when absent. */
const char *demo_row_str(json_t *row, const char *key);

/* The part of a synthetic CT report a small demo model reads: its
 * "Pancreas:" line and IMPRESSION section (malloc()ed; NULL when out of
 * memory). */
char *demo_ct_focus(const char *report);

/* Mean nDCG@10 (trec_eval, queries missing from the run count 0) of a TREC
 * run against qrels; -1 with err set on failure. */
double demo_ndcg10(const char *qrels_path, const char *run_path, onc_error *err);

/* Steps in their own files; each returns a CLI exit code. */
int demo_step_retrieval(demo *d); /* demo_retrieval.c */
int demo_step_eval(demo *d);      /* demo_eval.c */
int demo_step_finetune(demo *d);  /* demo_finetune.c */
int demo_step_train(demo *d);     /* demo_train.c */

#endif
