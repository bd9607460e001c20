/* rouge_run.c — helper for tests/oracle/test_rouge_oracle.py: runs the
 * oncolm/rouge.h functions on items read from a file and prints the
 * results, one line per input line.
 *
 *   rouge_run score FILE.jsonl
 *       each line {"target": T, "prediction": P, "stem": true|false}
 *       (T / P may be given as "target_hex" / "prediction_hex": the bytes in
 *       hex, for invalid UTF-8) -> {"rouge1": [P, R, F], "rouge2": [...],
 *       "rougeL": [...], "rougeLsum": [...], "target_tokens": N,
 *       "prediction_tokens": N, "ratio": X|null} ("%.17g" numbers) or
 *       {"error": MESSAGE}; then one last line {"mean": {...}, "lengths":
 *       {...}} from onc_rouge_mean and onc_rouge_length_stats over the items
 *       that scored.
 *   rouge_run tokenize FILE.jsonl
 *       each line {"text": T | "text_hex": H, "stem": bool}
 *       -> {"tokens": [...], "lines": [...]}
 *   rouge_run stem FILE
 *       one word per line -> its onc_porter_stem, one per line.
 * Exit 1 with a message on stderr when the file cannot be read or a line
 * is not valid JSON; 2 on bad usage. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oncolm/rouge.h"

static void print_num(double x) {
    if (isnan(x))
        fputs("null", stdout);
    else
        printf("%.17g", x);
}

static void print_prf(const char *name, const onc_rouge_prf *s) {
    printf("\"%s\": [", name);
    print_num(s->precision);
    fputs(", ", stdout);
    print_num(s->recall);
    fputs(", ", stdout);
    print_num(s->fmeasure);
    fputs("]", stdout);
}

static void print_scores(const onc_rouge_scores *s) {
    print_prf("rouge1", &s->rouge1);
    fputs(", ", stdout);
    print_prf("rouge2", &s->rouge2);
    fputs(", ", stdout);
    print_prf("rougeL", &s->rougeL);
    fputs(", ", stdout);
    print_prf("rougeLsum", &s->rougeLsum);
    printf(", \"target_tokens\": %lld, \"prediction_tokens\": %lld", (long long)s->target_tokens,
           (long long)s->prediction_tokens);
}

/* JSON-escaped string (tokens are [a-z0-9]+, so only quoting is needed). */
static void print_str(const char *s) { printf("\"%s\"", s); }

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Text of field `name` (a JSON string) or `name_hex` (hex bytes), malloc()ed
 * into *out with its length; "" when neither is present. */
static int get_text(json_t *obj, const char *name, char **out, size_t *len) {
    char hexname[64];
    snprintf(hexname, sizeof hexname, "%s_hex", name);
    json_t *v = json_object_get(obj, name), *h = json_object_get(obj, hexname);
    if (json_is_string(v)) {
        *len = json_string_length(v);
        *out = malloc(*len + 1);
        memcpy(*out, json_string_value(v), *len + 1);
        return 0;
    }
    if (json_is_string(h)) {
        const char *s = json_string_value(h);
        const size_t n = json_string_length(h) / 2;
        *out = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            const int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
            if (a < 0 || b < 0) return -1;
            (*out)[i] = (char)(a * 16 + b);
        }
        (*out)[n] = '\0';
        *len = n;
        return 0;
    }
    *out = calloc(1, 1);
    *len = 0;
    return 0;
}

static json_t *parse_line(const char *line, const char *path, long lineno) {
    json_error_t jerr;
    json_t *obj = json_loads(line, JSON_ALLOW_NUL, &jerr);
    if (!obj) {
        fprintf(stderr, "rouge_run: %s:%ld: %s\n", path, lineno, jerr.text);
        exit(1);
    }
    return obj;
}

static void print_lengths(const onc_rouge_lengths *l) {
    printf("\"lengths\": {\"n_items\": %lld, \"prediction_mean\": ", (long long)l->n_items);
    print_num(l->prediction_mean);
    fputs(", \"prediction_median\": ", stdout);
    print_num(l->prediction_median);
    printf(", \"prediction_min\": %lld, \"prediction_max\": %lld, \"target_mean\": ", (long long)l->prediction_min,
           (long long)l->prediction_max);
    print_num(l->target_mean);
    fputs(", \"target_median\": ", stdout);
    print_num(l->target_median);
    printf(", \"target_min\": %lld, \"target_max\": %lld, \"ratio_mean\": ", (long long)l->target_min,
           (long long)l->target_max);
    print_num(l->ratio_mean);
    printf(", \"n_ratio\": %lld, \"ratio_of_totals\": ", (long long)l->n_ratio);
    print_num(l->ratio_of_totals);
    fputs("}", stdout);
}

static int run_score(FILE *f, const char *path) {
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    onc_rouge_scores *items = NULL;
    size_t n = 0, items_cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        json_t *obj = parse_line(line, path, lineno);
        char *t, *p;
        size_t tl, pl;
        if (get_text(obj, "target", &t, &tl) || get_text(obj, "prediction", &p, &pl)) {
            fprintf(stderr, "rouge_run: %s:%ld: bad hex\n", path, lineno);
            return 1;
        }
        const bool stem = json_is_true(json_object_get(obj, "stem"));
        onc_rouge_scores s;
        onc_error err = {0};
        if (onc_rouge_score(t, tl, p, pl, stem, &s, &err) != ONC_OK) {
            json_t *e = json_pack("{s:s}", "error", err.msg);
            char *txt = json_dumps(e, JSON_COMPACT);
            puts(txt);
            free(txt);
            json_decref(e);
        } else {
            fputs("{", stdout);
            print_scores(&s);
            fputs(", \"ratio\": ", stdout);
            print_num(onc_rouge_length_ratio(&s));
            puts("}");
            if (n == items_cap) {
                items_cap = items_cap ? 2 * items_cap : 64;
                items = realloc(items, items_cap * sizeof *items);
            }
            items[n++] = s;
        }
        free(t);
        free(p);
        json_decref(obj);
    }
    onc_rouge_scores mean;
    onc_rouge_mean(items, n, &mean);
    onc_rouge_lengths lengths;
    onc_error err = {0};
    if (onc_rouge_length_stats(items, n, &lengths, &err) != ONC_OK) {
        fprintf(stderr, "rouge_run: %s\n", err.msg);
        return 1;
    }
    fputs("{\"mean\": {", stdout);
    print_scores(&mean);
    fputs("}, ", stdout);
    print_lengths(&lengths);
    puts("}");
    free(items);
    free(line);
    return 0;
}

static int run_tokenize(FILE *f, const char *path) {
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        json_t *obj = parse_line(line, path, lineno);
        char *t;
        size_t tl;
        if (get_text(obj, "text", &t, &tl)) {
            fprintf(stderr, "rouge_run: %s:%ld: bad hex\n", path, lineno);
            return 1;
        }
        onc_rouge_tokens tk;
        onc_error err = {0};
        if (onc_rouge_tokenize(t, tl, json_is_true(json_object_get(obj, "stem")), &tk, &err) != ONC_OK) {
            fprintf(stderr, "rouge_run: %s\n", err.msg);
            return 1;
        }
        if (onc_rouge_count_tokens(t, tl) != (int64_t)tk.n) {
            fprintf(stderr, "rouge_run: %s:%ld: onc_rouge_count_tokens disagrees\n", path, lineno);
            return 1;
        }
        fputs("{\"tokens\": [", stdout);
        for (size_t i = 0; i < tk.n; i++) {
            if (i) fputs(", ", stdout);
            print_str(tk.tokens[i]);
        }
        fputs("], \"lines\": [", stdout);
        for (size_t i = 0; i < tk.n; i++) printf(i ? ", %lld" : "%lld", (long long)tk.lines[i]);
        puts("]}");
        onc_rouge_tokens_free(&tk);
        free(t);
        json_decref(obj);
    }
    free(line);
    return 0;
}

static int run_stem(FILE *f) {
    char *line = NULL, *out = NULL;
    size_t cap = 0, out_cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n') len--;
        if (len + 1 > out_cap) {
            out_cap = 2 * (len + 1);
            out = realloc(out, out_cap);
        }
        const size_t n = onc_porter_stem(line, len, out);
        fwrite(out, 1, n, stdout);
        putchar('\n');
    }
    free(line);
    free(out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: rouge_run score|tokenize|stem FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "rouge_run: cannot open %s\n", argv[2]);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "score") == 0)
        rc = run_score(f, argv[2]);
    else if (strcmp(argv[1], "tokenize") == 0)
        rc = run_tokenize(f, argv[2]);
    else if (strcmp(argv[1], "stem") == 0)
        rc = run_stem(f);
    else {
        fprintf(stderr, "rouge_run: unknown mode %s\n", argv[1]);
        rc = 2;
    }
    fclose(f);
    return rc;
}
