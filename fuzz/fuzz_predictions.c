/* fuzz_predictions.c — libFuzzer target for prediction files
 * (oncolm/eval_predictions.h) and the evaluation tables built on them
 * (oncolm/eval_run.h): the input is parsed as a prediction file; whatever
 * parses is evaluated under its guessed task and under every task it fits
 * (with a report rendered as Markdown and HTML), and compared with itself
 * and with a copy whose predictions are the gold values. Checks: every
 * error message starts with the file name; a parsed file has items with
 * unique ids; evaluation errors are only format errors (a file that fits no
 * task) or invalid-input errors of the metric modules, never crashes; a
 * comparison of a file with itself finds no better system.
 * Replayed over fuzz/corpus/predictions/ by ctest (replay.fuzz_predictions). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/eval_run.h"

static void check_err(const onc_error *err, const char *name) {
    const size_t n = strlen(name);
    if (err->code == ONC_OK || strncmp(err->msg, name, n) != 0) __builtin_trap();
}

static void render(onc_report *rep) {
    char *text = NULL;
    if (onc_report_render_markdown(rep, &text, NULL, NULL) == ONC_OK && !text) __builtin_trap();
    free(text);
    text = NULL;
    if (onc_report_render_html(rep, &text, NULL, NULL) == ONC_OK && !text) __builtin_trap();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 20000) return 0; /* keep each run fast: tables are quadratic in labels */
    const char *name = "fuzz.jsonl";
    onc_error err = {0};
    onc_predictions p;
    if (onc_predictions_parse((const char *)data, size, name, &p, &err) != ONC_OK) {
        check_err(&err, name);
        return 0;
    }
    for (size_t i = 0; i < p.n; i++)
        for (size_t j = i + 1; j < p.n && j < i + 64; j++)
            if (!strcmp(p.items[i].id, p.items[j].id)) __builtin_trap();
    onc_eval_opts o;
    onc_eval_opts_default(&o);
    o.bootstrap = 20;
    for (int t = ONC_TASK_AUTO; t <= ONC_TASK_TEXT; t++) {
        o.task = (onc_eval_task)t;
        json_t *j = NULL;
        onc_report *rep = onc_report_new("fuzz");
        onc_error e2 = {0};
        onc_status st = onc_eval_predictions(&p, &o, &j, rep, NULL, &e2);
        if (st == ONC_OK) {
            if (!j) __builtin_trap();
            render(rep);
        } else if (st != ONC_ERR_FORMAT && st != ONC_ERR_INVALID && st != ONC_ERR_NOMEM) {
            __builtin_trap();
        }
        json_decref(j);
        onc_report_free(rep);
        if (st != ONC_OK) continue;
        /* self-comparison: never a winner */
        j = NULL;
        rep = onc_report_new("fuzz compare");
        st = onc_eval_compare(&p, &p, &o, &j, rep, &e2);
        if (st == ONC_OK) {
            json_t *better = json_object_get(json_object_get(j, "verdict"), "better");
            if (!json_is_null(better)) __builtin_trap();
            render(rep);
        }
        json_decref(j);
        onc_report_free(rep);
    }
    onc_predictions_free(&p);
    return 0;
}
