/* classify_run.c — helper for tests/oracle/test_eval_classify_oracle.py:
 * reads JSONL lines {"gold": ..., "prediction": ...} and prints every metric
 * of oncolm/eval_classify.h as one JSON object (numbers with "%.17g", NaN
 * and infinities as Python's json writes them).
 *
 *   classify_run classify   FILE [--labels JSON] [--pos-label TEXT] [--zero-division 0|1]
 *   classify_run kappa      FILE [--labels JSON]       (gold = rater 1, prediction = rater 2)
 *   classify_run multilabel FILE [--labels JSON] [--zero-division 0|1]
 *   classify_run codes      FILE [--zero-division 0|1]
 *   classify_run fields     FILE [--zero-division 0|1]
 *   classify_run normalize  FILE   (each line a JSON string: prints [code, valid] per line)
 *   classify_run batch      FILE   (each line one case: {"mode": "classify", "labels": [...],
 *                                   "pos_label": "x", "zero_division": 1, "items": [{"gold": ...,
 *                                   "prediction": ...}, ...]}; prints one result per line, or
 *                                   {"error": MESSAGE} where a single case would exit 1)
 *
 * Values: a string is the label; an integer is written "%lld"; a real the
 * shortest "%.*g" that reads back; true/false as "true"/"false"; null is a
 * missing prediction (classify: NULL; fields: an absent field). multilabel
 * and codes take arrays; fields takes objects (fields = union of the gold
 * objects' keys in first-seen order). Exit 1 with the library's message on
 * stderr on an error, 2 on bad usage or input. Everything is freed (the
 * sanitizer build checks for leaks). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/eval_classify.h"

static void die(const char *what, const char *msg) {
    fprintf(stderr, "classify_run: %s: %s\n", what, msg);
    exit(2);
}

/* ---- JSON output -------------------------------------------------------------------- */

static void put_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void put_num(double x) {
    if (isnan(x))
        fputs("NaN", stdout);
    else if (isinf(x))
        fputs(x > 0 ? "Infinity" : "-Infinity", stdout);
    else
        printf("%.17g", x);
}

static void put_score(const char *key, onc_cls_score s) {
    printf("\"%s\": ", key);
    put_num(s.value);
    printf(", \"%s_defined\": %s", key, s.defined ? "true" : "false");
}

static void put_prf(const char *key, const onc_cls_prf *p) {
    printf("\"%s\": {", key);
    put_score("precision", p->precision);
    fputs(", ", stdout);
    put_score("recall", p->recall);
    fputs(", ", stdout);
    put_score("f1", p->f1);
    fputs("}", stdout);
}

static void put_rows(const char *key, const onc_cls_class *rows, size_t k) {
    printf("\"%s\": [", key);
    for (size_t j = 0; j < k; j++) {
        const onc_cls_class *c = &rows[j];
        printf("%s{\"label\": ", j ? ", " : "");
        put_str(c->label);
        printf(", \"support\": %lld, \"n_predicted\": %lld, \"tp\": %lld, \"fp\": %lld, \"fn\": %lld, \"tn\": %lld, ",
               (long long)c->support, (long long)c->n_predicted, (long long)c->tp, (long long)c->fp,
               (long long)c->fn, (long long)c->tn);
        put_score("precision", c->precision);
        fputs(", ", stdout);
        put_score("recall", c->recall);
        fputs(", ", stdout);
        put_score("f1", c->f1);
        fputs(", ", stdout);
        put_score("specificity", c->specificity);
        fputs(", ", stdout);
        put_score("npv", c->npv);
        fputs(", \"accuracy\": ", stdout);
        put_num(c->accuracy);
        fputs("}", stdout);
    }
    fputs("]", stdout);
}

static void put_cls(const onc_cls_result *r) {
    printf("{\"n_items\": %lld, \"n_correct\": %lld, \"accuracy\": ", (long long)r->n_items, (long long)r->n_correct);
    put_num(r->accuracy);
    printf(", \"numeric_order\": %s, \"n_in_matrix\": %lld, ", r->numeric_order ? "true" : "false",
           (long long)r->n_in_matrix);
    put_rows("classes", r->classes, r->n_labels);
    fputs(", \"confusion\": [", stdout);
    for (size_t i = 0; i < r->n_labels; i++) {
        printf("%s[", i ? ", " : "");
        for (size_t j = 0; j < r->n_labels; j++)
            printf("%s%lld", j ? ", " : "", (long long)r->confusion[i * r->n_labels + j]);
        fputs("]", stdout);
    }
    fputs("], \"balanced_accuracy\": ", stdout);
    put_num(r->balanced_accuracy);
    fputs(", \"balanced_accuracy_adjusted\": ", stdout);
    put_num(r->balanced_accuracy_adjusted);
    fputs(", ", stdout);
    put_prf("micro", &r->micro);
    fputs(", ", stdout);
    put_prf("macro", &r->macro);
    fputs(", ", stdout);
    put_prf("weighted", &r->weighted);
    fputs(", \"macro_specificity\": ", stdout);
    put_num(r->macro_specificity);
    fputs(", \"macro_npv\": ", stdout);
    put_num(r->macro_npv);
    if (r->has_binary) {
        fputs(", ", stdout);
        put_prf("binary", &r->binary);
    }
    fputs(", \"kappa\": {", stdout);
    for (int w = 0; w < ONC_KAPPA_N_WEIGHTS; w++) {
        printf("%s\"%s\": ", w ? ", " : "", onc_kappa_weights_name((onc_kappa_weights)w));
        put_num(r->kappa[w].value);
    }
    fputs("}, \"kappa_defined\": {", stdout);
    for (int w = 0; w < ONC_KAPPA_N_WEIGHTS; w++)
        printf("%s\"%s\": %s", w ? ", " : "", onc_kappa_weights_name((onc_kappa_weights)w),
               r->kappa[w].defined ? "true" : "false");
    fputs("}}", stdout);
}

static void put_ml(const onc_ml_result *r) {
    printf("{\"n_items\": %lld, \"numeric_order\": %s, \"n_exact\": %lld, \"n_unknown\": %lld, \"subset_accuracy\": ",
           (long long)r->n_items, r->numeric_order ? "true" : "false", (long long)r->n_exact,
           (long long)r->n_unknown);
    put_num(r->subset_accuracy);
    fputs(", \"hamming_loss\": ", stdout);
    put_num(r->hamming_loss);
    fputs(", ", stdout);
    put_rows("labels", r->labels, r->n_labels);
    const char *names[4] = {"micro", "macro", "weighted", "samples"};
    const onc_cls_prf *avgs[4] = {&r->micro, &r->macro, &r->weighted, &r->samples};
    for (int a = 0; a < 4; a++) {
        fputs(", ", stdout);
        put_prf(names[a], avgs[a]);
    }
    fputs("}", stdout);
}

/* ---- JSON input ----------------------------------------------------------------------- */

/* Every allocation of one case, freed together. */
typedef struct pool {
    void **p;
    size_t n, cap;
} pool;

static void *keep(pool *pl, void *x) {
    if (!x) die("memory", "out of memory");
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 64;
        pl->p = realloc(pl->p, pl->cap * sizeof *pl->p);
        if (!pl->p) die("memory", "out of memory");
    }
    return pl->p[pl->n++] = x;
}

static void pool_free(pool *pl) {
    for (size_t i = 0; i < pl->n; i++) free(pl->p[i]);
    free(pl->p);
    memset(pl, 0, sizeof *pl);
}

/* Label text of a scalar JSON value, NULL for null. */
static char *label_of(pool *pl, const json_t *v, const char *where) {
    char buf[64];
    if (json_is_null(v)) return NULL;
    if (json_is_string(v)) return keep(pl, strdup(json_string_value(v)));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return keep(pl, strdup(buf));
    }
    if (json_is_real(v)) {
        const double x = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, x);
            if (strtod(buf, NULL) == x) break;
        }
        return keep(pl, strdup(buf));
    }
    if (json_is_true(v)) return keep(pl, strdup("true"));
    if (json_is_false(v)) return keep(pl, strdup("false"));
    die(where, "expected a scalar value");
    return NULL;
}

/* A JSON array as a label set (null = empty). */
static onc_label_set set_of(pool *pl, const json_t *v, const char *where) {
    onc_label_set s = {NULL, 0};
    if (json_is_null(v)) return s;
    if (!json_is_array(v)) die(where, "expected an array");
    s.n = json_array_size(v);
    const char **labels = keep(pl, calloc(s.n + 1, sizeof *labels));
    for (size_t j = 0; j < s.n; j++) {
        labels[j] = label_of(pl, json_array_get(v, j), where);
        if (!labels[j]) die(where, "null in a set");
    }
    s.labels = labels;
    return s;
}

/* One case: the mode, its options and the items (gold[i], pred[i]; json null when absent). */
typedef struct request {
    const char *mode;
    const char **labels; /* NULL: none */
    size_t n_labels;
    const char *pos_label;
    double zd;
    const json_t **gold, **pred;
    size_t n;
} request;

static const char **labels_of(pool *pl, const json_t *a, size_t *n) {
    if (!json_is_array(a)) die("labels", "expected a JSON array");
    *n = json_array_size(a);
    const char **out = keep(pl, calloc(*n + 1, sizeof *out));
    for (size_t j = 0; j < *n; j++) out[j] = label_of(pl, json_array_get(a, j), "labels");
    return out;
}

/* Run one case: prints its result and returns ONC_OK, or returns the error
 * (err filled) having printed nothing. */
static onc_status run_case(const request *q, pool *pl, onc_error *err) {
    const size_t n = q->n;
    if (strcmp(q->mode, "classify") == 0 || strcmp(q->mode, "kappa") == 0) {
        const char **g = keep(pl, calloc(n + 1, sizeof *g)), **p = keep(pl, calloc(n + 1, sizeof *p));
        for (size_t i = 0; i < n; i++) {
            g[i] = label_of(pl, q->gold[i], "gold");
            p[i] = label_of(pl, q->pred[i], "prediction");
        }
        if (strcmp(q->mode, "kappa") == 0) {
            double k[ONC_KAPPA_N_WEIGHTS];
            for (int w = 0; w < ONC_KAPPA_N_WEIGHTS; w++) {
                const onc_status st = onc_cls_kappa(g, p, n, q->labels, q->n_labels, (onc_kappa_weights)w, &k[w], err);
                if (st != ONC_OK) return st;
            }
            fputs("{", stdout);
            for (int w = 0; w < ONC_KAPPA_N_WEIGHTS; w++) {
                printf("%s\"%s\": ", w ? ", " : "", onc_kappa_weights_name((onc_kappa_weights)w));
                put_num(k[w]);
            }
            fputs("}", stdout);
            return ONC_OK;
        }
        onc_cls_opts o;
        onc_cls_opts_default(&o);
        o.labels = q->labels, o.n_labels = q->n_labels, o.pos_label = q->pos_label, o.zero_division = q->zd;
        onc_cls_result *r = onc_cls_evaluate(g, p, n, &o, err);
        if (!r) return err->code;
        put_cls(r);
        onc_cls_result_free(r);
        return ONC_OK;
    }
    if (strcmp(q->mode, "multilabel") == 0 || strcmp(q->mode, "codes") == 0) {
        onc_label_set *g = keep(pl, calloc(n + 1, sizeof *g)), *p = keep(pl, calloc(n + 1, sizeof *p));
        for (size_t i = 0; i < n; i++) {
            g[i] = set_of(pl, q->gold[i], "gold");
            p[i] = set_of(pl, q->pred[i], "prediction");
        }
        if (strcmp(q->mode, "codes") == 0) {
            onc_icd10_result *r = onc_icd10_evaluate(g, p, n, q->zd, err);
            if (!r) return err->code;
            printf("{\"n_invalid_gold\": %lld, \"n_invalid_pred\": %lld, \"code_valid\": [",
                   (long long)r->n_invalid_gold, (long long)r->n_invalid_pred);
            for (size_t j = 0; j < r->code->n_labels; j++)
                printf("%s%s", j ? ", " : "", r->code_valid[j] ? "true" : "false");
            fputs("], \"code\": ", stdout);
            put_ml(r->code);
            fputs(", \"category\": ", stdout);
            put_ml(r->category);
            fputs("}", stdout);
            onc_icd10_result_free(r);
            return ONC_OK;
        }
        onc_ml_opts o;
        onc_ml_opts_default(&o);
        o.labels = q->labels, o.n_labels = q->n_labels, o.zero_division = q->zd;
        onc_ml_result *r = onc_ml_evaluate(g, p, n, &o, err);
        if (!r) return err->code;
        put_ml(r);
        onc_ml_result_free(r);
        return ONC_OK;
    }
    if (strcmp(q->mode, "fields") == 0) {
        /* fields: union of the gold objects' keys, first seen first */
        const char **fields = keep(pl, calloc(1, sizeof *fields));
        size_t nf = 0;
        for (size_t i = 0; i < n; i++) {
            if (!json_is_object(q->gold[i])) die("gold", "expected an object");
            const char *key;
            json_t *v;
            json_object_foreach((json_t *)q->gold[i], key, v) {
                size_t f = 0;
                while (f < nf && strcmp(fields[f], key) != 0) f++;
                if (f == nf) {
                    const char **more = keep(pl, malloc((nf + 1) * sizeof *more));
                    memcpy(more, fields, nf * sizeof *more);
                    fields = more;
                    fields[nf++] = key; /* owned by the JSON value, alive for the case */
                }
            }
        }
        const char **g = keep(pl, calloc(n * nf + 1, sizeof *g)), **p = keep(pl, calloc(n * nf + 1, sizeof *p));
        for (size_t i = 0; i < n; i++)
            for (size_t f = 0; f < nf; f++) {
                const json_t *gv = json_object_get(q->gold[i], fields[f]);
                const json_t *pv = json_is_object(q->pred[i]) ? json_object_get(q->pred[i], fields[f]) : NULL;
                g[i * nf + f] = gv ? label_of(pl, gv, "gold") : NULL;
                p[i * nf + f] = pv ? label_of(pl, pv, "prediction") : NULL;
            }
        onc_extract_result *r = onc_extract_evaluate(fields, nf, g, p, n, q->zd, err);
        if (!r) return err->code;
        fputs("{\"mean_accuracy\": ", stdout);
        put_num(r->mean_accuracy);
        fputs(", \"mean_macro_f1\": ", stdout);
        put_num(r->mean_macro_f1);
        fputs(", \"fields\": [", stdout);
        for (size_t f = 0; f < r->n_fields; f++) {
            printf("%s{\"name\": ", f ? ", " : "");
            put_str(r->fields[f].name);
            printf(", \"n_items\": %lld, \"n_missing\": %lld, \"cls\": ", (long long)r->fields[f].n_items,
                   (long long)r->fields[f].n_missing);
            put_cls(r->fields[f].cls);
            fputs("}", stdout);
        }
        fputs("]}", stdout);
        onc_extract_result_free(r);
        return ONC_OK;
    }
    die(q->mode, "unknown mode");
    return ONC_ERR_INVALID;
}

/* Fill the items of q from a JSON array of {"gold", "prediction"} objects. */
static void items_of(pool *pl, const json_t *items, request *q) {
    if (!json_is_array(items)) die("items", "expected an array");
    q->n = json_array_size(items);
    q->gold = keep(pl, calloc(q->n + 1, sizeof *q->gold));
    q->pred = keep(pl, calloc(q->n + 1, sizeof *q->pred));
    for (size_t i = 0; i < q->n; i++) {
        const json_t *o = json_array_get(items, i);
        q->gold[i] = json_object_get(o, "gold");
        q->pred[i] = json_object_get(o, "prediction");
        if (!q->gold[i]) die("items", "an item lacks \"gold\"");
        if (!q->pred[i]) q->pred[i] = json_null();
    }
}

static json_t *load_line(const char *line, const char *where) {
    json_error_t je;
    json_t *v = json_loads(line, JSON_DECODE_ANY, &je);
    if (!v) die(where, je.text);
    return v;
}

static int mode_normalize(FILE *f) {
    char *buf = NULL;
    size_t cap = 0;
    fputs("[", stdout);
    int first = 1;
    while (getline(&buf, &cap, f) >= 0) {
        json_t *s = load_line(buf, "normalize");
        if (!json_is_string(s)) die("normalize", "expected a JSON string per line");
        const char *code = json_string_value(s);
        char *out = malloc(strlen(code) + 2);
        if (!out) die("memory", "out of memory");
        const bool valid = onc_icd10_normalize(code, out);
        printf("%s[", first ? "" : ", ");
        put_str(out);
        printf(", %s]", valid ? "true" : "false");
        first = 0;
        free(out);
        json_decref(s);
    }
    puts("]");
    free(buf);
    return 0;
}

static int mode_batch(FILE *f) {
    char *buf = NULL;
    size_t cap = 0;
    while (getline(&buf, &cap, f) >= 0) {
        json_t *req = load_line(buf, "batch");
        pool pl = {0};
        request q = {0};
        const json_t *mode = json_object_get(req, "mode"), *labels = json_object_get(req, "labels");
        const json_t *pos = json_object_get(req, "pos_label"), *zd = json_object_get(req, "zero_division");
        if (!json_is_string(mode)) die("batch", "a line lacks \"mode\"");
        q.mode = json_string_value(mode);
        if (labels) q.labels = labels_of(&pl, labels, &q.n_labels);
        if (pos) q.pos_label = label_of(&pl, pos, "pos_label");
        if (zd) q.zd = json_number_value(zd);
        items_of(&pl, json_object_get(req, "items"), &q);
        onc_error err = {0};
        if (run_case(&q, &pl, &err) != ONC_OK) {
            fputs("{\"error\": ", stdout);
            put_str(err.msg);
            fputs("}", stdout);
        }
        putchar('\n');
        pool_free(&pl);
        json_decref(req);
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) die("usage", "see the top of classify_run.c");
    FILE *f = fopen(argv[2], "rb");
    if (!f) die(argv[2], "cannot open");
    int rc;
    if (strcmp(argv[1], "normalize") == 0) {
        rc = mode_normalize(f);
    } else if (strcmp(argv[1], "batch") == 0) {
        rc = mode_batch(f);
    } else {
        /* one case: the file holds its items, one per line; options on the command line */
        pool pl = {0};
        request q = {.mode = argv[1]};
        json_t *labels = NULL;
        for (int a = 3; a < argc; a++) {
            if (strcmp(argv[a], "--labels") == 0 && a + 1 < argc) {
                labels = load_line(argv[++a], "--labels");
                q.labels = labels_of(&pl, labels, &q.n_labels);
            } else if (strcmp(argv[a], "--pos-label") == 0 && a + 1 < argc) {
                q.pos_label = argv[++a];
            } else if (strcmp(argv[a], "--zero-division") == 0 && a + 1 < argc) {
                q.zd = atof(argv[++a]);
            } else {
                die(argv[a], "unknown option");
            }
        }
        json_t *items = json_array();
        char *buf = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&buf, &cap, f)) >= 0)
            if (len > 1) json_array_append_new(items, load_line(buf, argv[2]));
        free(buf);
        items_of(&pl, items, &q);
        onc_error err = {0};
        rc = run_case(&q, &pl, &err) == ONC_OK ? 0 : 1;
        if (rc)
            fprintf(stderr, "classify_run: %s\n", err.msg);
        else
            putchar('\n');
        pool_free(&pl);
        json_decref(items);
        json_decref(labels);
    }
    fclose(f);
    return rc;
}
