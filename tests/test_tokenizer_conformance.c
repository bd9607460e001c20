/* test_tokenizer_conformance.c — token ids against the reference tokenizer.
 *
 * For each *.gguf in $ONCOLM_CONFORMANCE/tokenizers: the texts of X.gguf.inp
 * (separated by exactly "\n__ggml_vocab_test__\n") must tokenize, with no
 * special tokens added and special text not parsed, to the ids on the
 * matching line of X.gguf.out. The first mismatch of each vocabulary is
 * printed (text escaped, expected vs got). Detokenizing must give the text
 * back: exactly for SPM and BPE, after BERT's normalisation for WordPiece
 * (texts with [UNK] are skipped there). Also prints the time to tokenize
 * 1 MB of clinical text with each vocabulary (not asserted).
 *
 * Exit 77 (skip) when the conformance folder is absent. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oncolm/gguf.h"
#include "oncolm/tokenizer.h"
#include "tokenizer/unicode.h"

#define SEP "\n__ggml_vocab_test__\n"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (size_t got; b && (got = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    if (b) b[n] = '\0';
    *len = n;
    return b;
}

static void print_escaped(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') printf("\\n");
        else if (c == '\t') printf("\\t");
        else if (c == '\r') printf("\\r");
        else if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7F) printf("\\x%02X", c);
        else putchar(c);
    }
    putchar('"');
}

/* BERT's view of a text: first code point of each decomposition, lower-cased,
 * without whitespace, control characters, U+0000 and U+FFFD. */
static char *bert_normalise(const char *s, size_t n) {
    char *o = malloc(4 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = tok_utf8_decode(s + i, n - i, &cp);
        if (l == 0) cp = 0xFFFD, l = 1;
        i += l;
        cp = tok_cpt_nfd_first(cp);
        unsigned f = tok_cpt_flags(cp);
        if ((f & (TOK_CPT_WHITESPACE | TOK_CPT_CONTROL)) || cp == 0 || cp == 0xFFFD) continue;
        k += tok_utf8_encode(tok_cpt_tolower(cp), o + k);
    }
    o[k] = '\0';
    return o;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void time_1mb(const onc_tokenizer *t, const char *name) {
    static const char *para =
        "The patient, a 64-year-old woman with stage IIIA non-small-cell lung carcinoma (adenocarcinoma, EGFR "
        "exon 19 deletion), received 4 cycles of cisplatin/pemetrexed; CT on 2023-03-14 showed a partial "
        "response (RECIST 1.1: -42%). Tumour markers: CEA 12.5 ng/mL, CA 19-9 within normal limits. Plan: "
        "osimertinib 80 mg daily; follow-up imaging in 8 weeks.\n\n";
    size_t size = 1 << 20, l = strlen(para), o = 0;
    char *text = malloc(size);
    while (o < size) {
        size_t k = o + l > size ? size - o : l;
        memcpy(text + o, para, k);
        o += k;
    }
    onc_tokenize_params p = {false, false, ONC_UTF8_REPLACE};
    int32_t *ids;
    size_t n;
    double t0 = now_s();
    onc_status st = onc_tokenize(t, text, size, &p, &ids, &n, NULL);
    double dt = now_s() - t0;
    if (st == ONC_OK) printf("# %s: 1 MB of clinical text -> %zu tokens in %.3f s\n", name, n, dt);
    free(ids);
    free(text);
}

/* Returns the number of failures for one vocabulary. */
static int run_vocab(const char *dir, const char *name) {
    char path[8192], inp_path[8200], out_path[8200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(inp_path, sizeof inp_path, "%s.inp", path);
    snprintf(out_path, sizeof out_path, "%s.out", path);
    size_t inp_len, out_len;
    char *inp = slurp(inp_path, &inp_len), *out = slurp(out_path, &out_len);
    if (!inp || !out) {
        printf("%s: missing .inp/.out\n", name);
        free(inp);
        free(out);
        return 1;
    }
    onc_error err = {0};
    onc_gguf *g = onc_gguf_open(path, &err);
    onc_tokenizer *t = g ? onc_tokenizer_from_gguf(g, &err) : NULL;
    if (!t) {
        printf("%s: %s\n", name, err.msg);
        onc_gguf_close(g);
        free(inp);
        free(out);
        return 1;
    }
    onc_vocab_kind kind = onc_tokenizer_kind(t);
    int n_cases = 0, n_bad = 0, n_rt_bad = 0, n_rt = 0;
    char *text = inp, *line = out;
    onc_tokenize_params tp = {false, false, ONC_UTF8_ERROR};
    onc_detokenize_params dp = {false, false, true};
    for (char *end; (end = strstr(text, SEP)) != NULL; text = end + strlen(SEP)) {
        size_t len = (size_t)(end - text);
        char *nl = strchr(line, '\n');
        if (!nl) {
            printf("%s: .out has fewer lines than .inp has texts\n", name);
            n_bad++;
            break;
        }
        *nl = '\0';
        size_t n_exp = 0, cap = 16;
        int32_t *exp = malloc(cap * sizeof *exp);
        for (char *c = line; *c;) {
            while (*c == ' ' || *c == '\r' || *c == '\t') c++;
            if (!*c) break;
            if (n_exp == cap) exp = realloc(exp, (cap *= 2) * sizeof *exp);
            exp[n_exp++] = (int32_t)strtol(c, &c, 10);
        }
        line = nl + 1;

        int32_t *ids = NULL;
        size_t n = 0;
        bool ok = onc_tokenize(t, text, len, &tp, &ids, &n, &err) == ONC_OK && n == n_exp;
        for (size_t i = 0; ok && i < n; i++) ok = ids[i] == exp[i];
        if (!ok && n_bad++ == 0) {
            printf("%s: case %d mismatch for ", name, n_cases);
            print_escaped(text, len);
            printf("\n  expected:");
            for (size_t i = 0; i < n_exp; i++) printf(" %d", exp[i]);
            printf("\n  got:     ");
            for (size_t i = 0; i < n; i++) printf(" %d", ids[i]);
            printf("\n");
        }

        /* round trip */
        char *back = NULL;
        size_t back_len = 0;
        bool has_unk = false;
        for (size_t i = 0; i < n; i++) has_unk |= ids[i] == onc_tokenizer_special(t, ONC_SPECIAL_UNK);
        if (ok && onc_detokenize(t, ids, n, &dp, &back, &back_len, &err) == ONC_OK) {
            bool same;
            if (kind == ONC_VOCAB_WPM) {
                char *a = bert_normalise(text, len), *b = bert_normalise(back, back_len);
                same = has_unk || strcmp(a, b) == 0;
                free(a);
                free(b);
            } else {
                same = back_len == len && memcmp(back, text, len) == 0;
            }
            n_rt++;
            if (!same && n_rt_bad++ == 0) {
                printf("%s: case %d does not round-trip: ", name, n_cases);
                print_escaped(text, len);
                printf(" -> ");
                print_escaped(back, back_len);
                printf("\n");
            }
        }
        free(back);
        free(ids);
        free(exp);
        n_cases++;
    }
    printf("%s: %d cases, %d mismatching, %d of %d detokenized differently\n", name, n_cases, n_bad, n_rt_bad, n_rt);
    time_1mb(t, name);
    onc_tokenizer_free(t);
    onc_gguf_close(g);
    free(inp);
    free(out);
    return n_bad + n_rt_bad + (n_cases == 0);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    const char *root = getenv("ONCOLM_CONFORMANCE");
    if (!root || !*root) {
        printf("ONCOLM_CONFORMANCE not set: skipped\n");
        return 77;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tokenizers", root);
    DIR *d = opendir(dir);
    if (!d) {
        printf("%s absent: skipped\n", dir);
        return 77;
    }
    char *names[256];
    size_t n_names = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n_names < 256;) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".gguf") == 0) names[n_names++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n_names, sizeof *names, cmp_str);
    int failures = 0;
    for (size_t i = 0; i < n_names; i++) {
        failures += run_vocab(dir, names[i]) != 0;
        free(names[i]);
    }
    if (n_names == 0) {
        printf("%s: no vocabularies\n", dir);
        return 1;
    }
    printf("%s\n", failures ? "FAILED" : "all vocabularies match");
    return failures ? 1 : 0;
}
