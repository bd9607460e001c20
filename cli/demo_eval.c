/* demo_eval.c — `oncolm demo` step 9: evaluation tables of the studies on
 * the synthetic task files of step 7. No model is trained yet, so the
 * "systems" are two honest rule baselines per task (keyword rules, a lead
 * summary, a description-overlap code lookup), timed item by item. Their
 * prediction files go through the same code as `oncolm eval` and `oncolm
 * eval compare`: CT classification (accuracy, per-class sensitivity,
 * kappa, McNemar), 12 toxicity symptoms (per-field accuracy, Wilcoxon),
 * ICD-10 codes (code and category F1) and physician letters (ROUGE,
 * one-sided Wilcoxon), with Markdown and HTML reports. */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "demo.h"
#include "oncolm/eval_run.h"

/* ---- task files ------------------------------------------------------------------- */

bool demo_read_rows(const char *path, const char *split, task_rows *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    bool ok = true;
    while (ok && (len = getline(&line, &lcap, f)) > 0) {
        json_t *o = json_loadb(line, (size_t)len, 0, NULL);
        if (!o) continue;
        const char *s = json_string_value(json_object_get(o, "split"));
        if (split && (!s || strcmp(s, split))) {
            json_decref(o);
            continue;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            json_t **nr = realloc(out->rows, cap * sizeof *nr);
            if (!nr) {
                json_decref(o);
                ok = false;
                break;
            }
            out->rows = nr;
        }
        out->rows[out->n++] = o;
    }
    free(line);
    fclose(f);
    return ok;
}

void demo_free_rows(task_rows *t) {
    for (size_t i = 0; i < t->n; i++) json_decref(t->rows[i]);
    free(t->rows);
}

const char *demo_row_str(json_t *row, const char *key) {
    const char *s = json_string_value(json_object_get(row, key));
    return s ? s : "";
}

/* Lower-cased copy of s. */
static char *lower(const char *s) {
    char *c = strdup(s);
    for (char *p = c; p && *p; p++) *p = (char)tolower((unsigned char)*p);
    return c;
}

/* Append {"id", "gold", "prediction", "time_s"} to a JSONL file. */
static bool put_item(FILE *f, const char *id, json_t *gold, json_t *pred, double time_s) {
    json_t *o = json_pack("{s:s,s:O,s:o,s:f}", "id", id, "gold", gold, "prediction", pred, "time_s", time_s);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    bool ok = s && fprintf(f, "%s\n", s) > 0;
    free(s);
    json_decref(o);
    return ok;
}

/* ---- the rule baselines ------------------------------------------------------------- */

static const char *const ct_names[3] = {"no cancer", "post-treatment", "pre-treatment"};

/* A: any mention of a pancreatic mass or carcinoma; treatment words make it
 * post-treatment. B: the same on the IMPRESSION section only, with "no
 * (solid) pancreatic mass" read as a negation. */
static int ct_rule(const char *text, bool careful) {
    char *t = lower(text);
    if (!t) return 0;
    const char *scope = t;
    if (careful) {
        const char *imp = strstr(t, "impression");
        if (imp) scope = imp;
    }
    bool mass = strstr(scope, "pancreatic mass") || strstr(scope, "pancreatic adenocarcinoma") ||
                strstr(scope, "pancreatic cancer") || strstr(scope, "mass in the pancrea");
    if (careful && (strstr(scope, "no solid pancreatic mass") || strstr(scope, "no pancreatic mass"))) mass = false;
    bool treated = strstr(scope, "resection") || strstr(scope, "whipple") || strstr(scope, "chemotherapy") ||
                   strstr(scope, "folfirinox") || strstr(scope, "gemcitabine") || strstr(scope, "radiotherapy") ||
                   strstr(scope, "post-treatment") || strstr(scope, "response");
    bool pancreas_cancer_history = strstr(t, "pancreatic adenocarcinoma") || strstr(t, "pancreatic cancer");
    free(t);
    if (mass) return treated ? 1 : 2;
    if (careful && pancreas_cancer_history && treated) return 1;
    return 0;
}

static const char *const symptom_keys[12] = {"fatigue",   "nausea",      "vomiting",   "diarrhea",
                                             "radiation_dermatitis", "mucositis", "dysphagia", "esophagitis",
                                             "xerostomia", "cystitis",    "proctitis",  "pneumonitis"};

/* A: the symptom's name anywhere in the note. B: in a sentence without a
 * negation cue. */
static int symptom_rule(const char *lowered, const char *key, bool careful) {
    char name[64];
    snprintf(name, sizeof name, "%s", key);
    for (char *p = name; *p; p++)
        if (*p == '_') *p = ' ';
    const char *hit = strstr(lowered, name);
    if (!hit && !strcmp(key, "radiation_dermatitis")) hit = strstr(lowered, "dermatitis");
    while (hit && careful) {
        const char *s = hit;
        while (s > lowered && s[-1] != '.' && s[-1] != '\n') s--;
        size_t len = (size_t)(hit - s);
        char sentence[512];
        snprintf(sentence, sizeof sentence, "%.*s", (int)(len < 511 ? len : 511), s);
        if (!strstr(sentence, "negative for") && !strstr(sentence, "denies") && !strstr(sentence, "no ") &&
            !strstr(sentence, "without") && !strstr(sentence, "resolved"))
            return 1;
        hit = strstr(hit + 1, name);
    }
    return hit ? 1 : 0;
}

/* Words shared by a note and an ICD-10 description (words of >= 4 letters). */
static int overlap(const char *note_lower, const char *desc) {
    char *d = lower(desc);
    int score = 0;
    for (char *w = d ? strtok(d, " ,()-") : NULL; w; w = strtok(NULL, " ,()-"))
        if (strlen(w) >= 4 && strstr(note_lower, w)) score++;
    free(d);
    return score;
}

/* Lead baseline of a letter: the first `max` bytes of the source notes; B
 * keeps the diagnosis, treatment and plan lines instead. */
static char *letter_rule(const char *input, bool careful) {
    size_t n = strlen(input);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    if (!careful) {
        size_t m = n < 600 ? n : 600;
        memcpy(out, input, m);
        out[m] = 0;
        return out;
    }
    size_t o = 0;
    const char *p = input;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[400];
        snprintf(line, sizeof line, "%.*s", (int)(len < 399 ? len : 399), p);
        char *l = lower(line);
        if (l && (strstr(l, "diagnosis") || strstr(l, "carcinoma") || strstr(l, "treatment") || strstr(l, " gy") ||
                  strstr(l, "plan") || strstr(l, "follow"))) {
            memcpy(out + o, p, len);
            o += len;
            out[o++] = '\n';
        }
        free(l);
        if (!e) break;
        p = e + 1;
    }
    out[o] = 0;
    return out;
}

/* ---- the step ---------------------------------------------------------------------------- */

typedef struct pair_files {
    char *a, *b;
} pair_files;

/* Write the prediction files of one task for systems A and B. */
static bool write_ct(const task_rows *t, const char *pa, const char *pb) {
    FILE *fa = fopen(pa, "w"), *fb = fopen(pb, "w");
    bool ok = fa && fb;
    for (size_t i = 0; ok && i < t->n; i++) {
        long label = (long)json_integer_value(json_object_get(t->rows[i], "label"));
        json_t *gold = json_string(ct_names[label >= 0 && label < 3 ? label : 0]);
        const char *in = demo_row_str(t->rows[i], "input");
        double t0 = demo_now();
        int a = ct_rule(in, false);
        double t1 = demo_now();
        int b = ct_rule(in, true);
        double t2 = demo_now();
        ok = put_item(fa, demo_row_str(t->rows[i], "id"), gold, json_string(ct_names[a]), t1 - t0) &&
             put_item(fb, demo_row_str(t->rows[i], "id"), gold, json_string(ct_names[b]), t2 - t1);
        json_decref(gold);
    }
    if (fa && fclose(fa)) ok = false;
    if (fb && fclose(fb)) ok = false;
    return ok;
}

static bool write_toxicity(const task_rows *t, const char *pa, const char *pb) {
    FILE *fa = fopen(pa, "w"), *fb = fopen(pb, "w");
    bool ok = fa && fb;
    for (size_t i = 0; ok && i < t->n; i++) {
        json_t *gold = json_object_get(t->rows[i], "label");
        char *in = lower(demo_row_str(t->rows[i], "input"));
        json_t *pra = json_object(), *prb = json_object();
        double t0 = demo_now();
        for (int k = 0; in && k < 12; k++) json_object_set_new(pra, symptom_keys[k], json_integer(symptom_rule(in, symptom_keys[k], false)));
        double t1 = demo_now();
        for (int k = 0; in && k < 12; k++) json_object_set_new(prb, symptom_keys[k], json_integer(symptom_rule(in, symptom_keys[k], true)));
        double t2 = demo_now();
        ok = in && put_item(fa, demo_row_str(t->rows[i], "id"), gold, pra, t1 - t0) &&
             put_item(fb, demo_row_str(t->rows[i], "id"), gold, prb, t2 - t1);
        free(in);
    }
    if (fa && fclose(fa)) ok = false;
    if (fb && fclose(fb)) ok = false;
    return ok;
}

/* A: the train-split code whose description shares most words with the
 * note; B: the most frequent train-split code. Test split only. */
static bool write_icd(const task_rows *train, const task_rows *test, const char *pa, const char *pb) {
    FILE *fa = fopen(pa, "w"), *fb = fopen(pb, "w");
    bool ok = fa && fb && train->n > 0;
    size_t best_count = 0;
    const char *majority = train->n ? demo_row_str(train->rows[0], "label") : "";
    for (size_t i = 0; i < train->n; i++) {
        size_t c = 0;
        for (size_t j = 0; j < train->n; j++)
            c += !strcmp(demo_row_str(train->rows[i], "label"), demo_row_str(train->rows[j], "label"));
        if (c > best_count) best_count = c, majority = demo_row_str(train->rows[i], "label");
    }
    for (size_t i = 0; ok && i < test->n; i++) {
        char *in = lower(demo_row_str(test->rows[i], "input"));
        double t0 = demo_now();
        int best = -1;
        const char *code = majority;
        for (size_t j = 0; in && j < train->n; j++) {
            int s = overlap(in, demo_row_str(train->rows[j], "description"));
            if (s > best) best = s, code = demo_row_str(train->rows[j], "label");
        }
        double t1 = demo_now();
        json_t *gold = json_pack("[s]", demo_row_str(test->rows[i], "label"));
        ok = in && put_item(fa, demo_row_str(test->rows[i], "id"), gold, json_pack("[s]", code), t1 - t0) &&
             put_item(fb, demo_row_str(test->rows[i], "id"), gold, json_pack("[s]", majority), 1e-6);
        json_decref(gold);
        free(in);
    }
    if (fa && fclose(fa)) ok = false;
    if (fb && fclose(fb)) ok = false;
    return ok;
}

static bool write_letters(const task_rows *t, const char *pa, const char *pb) {
    FILE *fa = fopen(pa, "w"), *fb = fopen(pb, "w");
    bool ok = fa && fb;
    for (size_t i = 0; ok && i < t->n; i++) {
        const char *in = demo_row_str(t->rows[i], "input");
        double t0 = demo_now();
        char *a = letter_rule(in, false);
        double t1 = demo_now();
        char *b = letter_rule(in, true);
        double t2 = demo_now();
        json_t *gold = json_string(demo_row_str(t->rows[i], "target"));
        ok = a && b && put_item(fa, demo_row_str(t->rows[i], "id"), gold, json_string(a), t1 - t0) &&
             put_item(fb, demo_row_str(t->rows[i], "id"), gold, json_string(b), t2 - t1);
        json_decref(gold);
        free(a), free(b);
    }
    if (fa && fclose(fa)) ok = false;
    if (fb && fclose(fb)) ok = false;
    return ok;
}

static double jnum(json_t *o, const char *path1, const char *path2) {
    json_t *v = json_object_get(o, path1);
    if (path2) v = json_object_get(v, path2);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Compare B with A on one task, write the reports, print the verdict and
 * the headline numbers. */
static int compare_task(demo *d, const char *title, const char *pa, const char *pb, const char *stem,
                        onc_alternative alt, json_t **out) {
    onc_error err = {0};
    onc_predictions a, b;
    if (onc_predictions_read(pa, &a, &err) != ONC_OK) return cli_fail(&err);
    if (onc_predictions_read(pb, &b, &err) != ONC_OK) {
        onc_predictions_free(&a);
        return cli_fail(&err);
    }
    onc_eval_opts o;
    onc_eval_opts_default(&o);
    o.alternative = alt;
    o.bootstrap = d->quick ? 300 : 1000;
    onc_report *rep = onc_report_new(title);
    int rc = CLI_EXIT_OK;
    char *md = NULL, *html = NULL;
    if (onc_eval_compare(&a, &b, &o, out, rep, &err) != ONC_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    char name[96];
    snprintf(name, sizeof name, "eval/%s.md", stem);
    md = demo_path(d, name);
    snprintf(name, sizeof name, "eval/%s.html", stem);
    html = demo_path(d, name);
    if (!md || !html || onc_report_write_markdown(rep, md, &err) != ONC_OK ||
        onc_report_write_html(rep, html, &err) != ONC_OK) {
        rc = err.code ? cli_fail(&err) : CLI_EXIT_FAIL;
        goto done;
    }
    json_t *v = json_object_get(*out, "verdict");
    printf("    %s\n", json_string_value(json_object_get(v, "statement")));
done:
    free(md), free(html);
    onc_report_free(rep);
    onc_predictions_free(&a);
    onc_predictions_free(&b);
    return rc;
}

int demo_step_eval(demo *d) {
    printf("\n[9/11] Evaluation tables of the studies, on rule baselines over the synthetic tasks "
           "(oncolm eval, eval compare)\n");
    char *dir = demo_path(d, "eval");
    if (!dir) return CLI_EXIT_FAIL;
    mkdir(dir, 0755);
    free(dir);
    const char *names[] = {"synth/ct_classification.jsonl", "synth/toxicity.jsonl", "synth/icd10.jsonl",
                           "synth/letters.jsonl"};
    task_rows ct = {0}, tox = {0}, icd_train = {0}, icd_test = {0}, letters = {0};
    char *paths[4] = {0}, *files[8] = {0};
    const char *fnames[8] = {"eval/ct_A.jsonl",  "eval/ct_B.jsonl",  "eval/tox_A.jsonl",     "eval/tox_B.jsonl",
                             "eval/icd_A.jsonl", "eval/icd_B.jsonl", "eval/letters_A.jsonl", "eval/letters_B.jsonl"};
    json_t *j[4] = {0};
    int rc = CLI_EXIT_OK;
    bool ok = true;
    for (int k = 0; k < 4; k++) ok = ok && (paths[k] = demo_path(d, names[k]));
    for (int k = 0; k < 8; k++) ok = ok && (files[k] = demo_path(d, fnames[k]));
    ok = ok && demo_read_rows(paths[0], NULL, &ct) && demo_read_rows(paths[1], NULL, &tox) &&
         demo_read_rows(paths[2], "train", &icd_train) && demo_read_rows(paths[2], "test", &icd_test) &&
         demo_read_rows(paths[3], NULL, &letters);
    if (!ok) {
        cli_errorf("demo: cannot read the synthetic task files of step 7");
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    ok = write_ct(&ct, files[0], files[1]) && write_toxicity(&tox, files[2], files[3]) &&
         write_icd(&icd_train, &icd_test, files[4], files[5]) && write_letters(&letters, files[6], files[7]);
    if (!ok) {
        cli_errorf("demo: cannot write the prediction files in %s/eval", d->out_dir);
        rc = CLI_EXIT_FAIL;
        goto done;
    }
    printf("  prediction files of two rule baselines per task in %s/eval/ (A: simple rule, B: careful rule)\n",
           d->out_dir);

    printf("  CT reports (%zu; study 3): no cancer / post-treatment / pre-treatment\n", ct.n);
    if ((rc = compare_task(d, "CT report classification: rule A vs rule B", files[0], files[1], "ct",
                           ONC_ALT_TWO_SIDED, &j[0])) != CLI_EXIT_OK)
        goto done;
    json_t *sa = json_object_get(j[0], "system_a"), *sb = json_object_get(j[0], "system_b");
    printf("    accuracy A %.3f, B %.3f; balanced accuracy B %.3f; Cohen's kappa B %.3f\n", jnum(sa, "accuracy", NULL),
           jnum(sb, "accuracy", NULL), jnum(sb, "balanced_accuracy", NULL), jnum(sb, "kappa", "none"));
    json_t *classes = json_object_get(sb, "classes");
    printf("    sensitivity of B per class:");
    for (size_t i = 0; i < json_array_size(classes); i++) {
        json_t *c = json_array_get(classes, i);
        printf(" %s %.3f", json_string_value(json_object_get(c, "label")), jnum(c, "sensitivity", NULL));
    }
    printf("\n");
    /* cross-check: accuracy recomputed here from the prediction file */
    onc_predictions pb;
    onc_error err = {0};
    if (onc_predictions_read(files[1], &pb, &err) == ONC_OK) {
        size_t right = 0;
        for (size_t i = 0; i < pb.n; i++) right += !strcmp(pb.items[i].gold.label, pb.items[i].prediction.label);
        demo_check(d, fabs((double)right / (double)pb.n - jnum(sb, "accuracy", NULL)) < 1e-12,
                   "CT accuracy equals a direct count");
        onc_predictions_free(&pb);
    }

    printf("  toxicity notes (%zu; study 5): 12 symptoms, present or not\n", tox.n);
    if ((rc = compare_task(d, "Toxicity symptoms: rule A vs rule B", files[2], files[3], "toxicity",
                           ONC_ALT_TWO_SIDED, &j[1])) != CLI_EXIT_OK)
        goto done;
    printf("    mean field accuracy A %.3f, B %.3f\n", jnum(json_object_get(j[1], "system_a"), "mean_accuracy", NULL),
           jnum(json_object_get(j[1], "system_b"), "mean_accuracy", NULL));

    printf("  ICD-10 codes of RT courses (%zu test items; study 2): description overlap (A) vs majority code (B)\n",
           icd_test.n);
    if ((rc = compare_task(d, "ICD-10 codes: description overlap vs majority code", files[4], files[5], "icd10",
                           ONC_ALT_TWO_SIDED, &j[2])) != CLI_EXIT_OK)
        goto done;
    sa = json_object_get(j[2], "system_a");
    {
        json_t *code = json_object_get(json_object_get(json_object_get(sa, "code"), "averages"), "micro");
        json_t *cat = json_object_get(json_object_get(json_object_get(sa, "category"), "averages"), "micro");
        printf("    A: code micro F1 %.3f, 3-character category micro F1 %.3f\n", jnum(code, "f1", NULL),
               jnum(cat, "f1", NULL));
        demo_check(d, jnum(cat, "f1", NULL) >= jnum(code, "f1", NULL), "category F1 >= code F1");
    }

    printf("  physician letters (%zu; study 4): lead-600 (A) vs diagnosis/treatment/plan lines (B)\n", letters.n);
    if ((rc = compare_task(d, "Letters: lead vs key lines (ROUGE-L F, one-sided)", files[6], files[7], "letters",
                           ONC_ALT_GREATER, &j[3])) != CLI_EXIT_OK)
        goto done;
    json_t *ra = json_object_get(json_object_get(json_object_get(j[3], "system_a"), "rouge"), "stemmed"),
           *rb = json_object_get(json_object_get(json_object_get(j[3], "system_b"), "rouge"), "stemmed");
    printf("    ROUGE-1 F A %.3f, B %.3f; ROUGE-L F A %.3f, B %.3f (stemmed)\n",
           jnum(json_object_get(ra, "rouge1"), "f", NULL), jnum(json_object_get(rb, "rouge1"), "f", NULL),
           jnum(json_object_get(ra, "rougeL"), "f", NULL), jnum(json_object_get(rb, "rougeL"), "f", NULL));
    for (int k = 0; k < 4; k++) {
        double p = jnum(json_object_get(j[k], "test"), "pvalue", NULL);
        demo_check(d, p >= 0 && p <= 1, "test p-value in [0, 1]");
    }
    printf("  reports: %s/eval/{ct,toxicity,icd10,letters}.{md,html} (open the .html files in a browser)\n",
           d->out_dir);
done:
    for (int k = 0; k < 4; k++) free(paths[k]), json_decref(j[k]);
    for (int k = 0; k < 8; k++) free(files[k]);
    demo_free_rows(&ct), demo_free_rows(&tox), demo_free_rows(&icd_train), demo_free_rows(&icd_test), demo_free_rows(&letters);
    return rc;
}
