/* synth_check.h — text checks shared by tests/test_synth.c and
 * tests/test_synth_retrieval.c: the tests' own reading of the synthetic
 * notes (a symptom vocabulary and negation cues written here, independent of
 * the renderers in src/synth/), plus small file and JSON accessors.
 * Header-only (see test_util.h for why); include after <cmocka.h> and
 * <jansson.h>. */
#ifndef ONCOLM_TESTS_SYNTH_CHECK_H
#define ONCOLM_TESTS_SYNTH_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oncolm/synth.h"

/* The whole file <dir>/<name>, NUL-terminated, malloc'ed (caller frees);
 * its length without the NUL in *len when len is not NULL. Fails the
 * current test when the file cannot be opened or read. */
static inline char *read_all(const char *dir, const char *name, size_t *len) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

/* o[key] as a string (borrowed from o); fails the current test when it is
 * missing or not a string. */
static inline const char *get_str(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) fail_msg("missing string field '%s'", key);
    return s;
}

/* Whether needle occurs in the first n bytes of hay, ASCII case-insensitively. */
static inline bool contains_ci(const char *hay, size_t n, const char *needle) {
    const size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(hay + i, needle, k) == 0) return true;
    return false;
}

static const char *const negation_cues[] = {"denies", "no ", "negative for", "without", "resolved", "not "};

/* Whether the first n bytes of s (one sentence) hold a negation cue. */
static inline bool has_negation(const char *s, size_t n) {
    for (size_t i = 0; i < sizeof negation_cues / sizeof *negation_cues; i++)
        if (contains_ci(s, n, negation_cues[i])) return true;
    return false;
}

/* Our own copy of the symptom vocabulary (what a reader would search for):
 * per symptom, its spellings, NULL-terminated. The order is test_synth.c's
 * symptom_keys. */
static const char *const symptom_words[12][5] = {
    {"fatigue", "tiredness", "low energy", "worn out", NULL},
    {"nausea", "queasiness", "nauseated", NULL},
    {"vomiting", "emesis", "throwing up", NULL},
    {"diarrhea", "loose stools", "watery bowel", NULL},
    {"dermatitis", "skin reaction", "desquamation", NULL},
    {"mucositis", "mouth sores", "oral ulcerations", NULL},
    {"dysphagia", "difficulty swallowing", "getting food down", NULL},
    {"esophagitis", "odynophagia", "painful swallowing", NULL},
    {"xerostomia", "dry mouth", "mouth dryness", NULL},
    {"cystitis", "dysuria", "burning with urination", NULL},
    {"proctitis", "rectal urgency", "tenesmus", NULL},
    {"pneumonitis", "lung inflammation", NULL},
};

/* Per symptom: out[k] = 1 when a spelling of symptom k occurs in a sentence
 * (text split at '.' and '\n') without a negation cue, else 0. */
static inline void text_symptoms(const char *text, int out[12]) {
    memset(out, 0, 12 * sizeof *out);
    for (const char *s = text; *s;) {
        size_t n = strcspn(s, ".\n");
        const bool neg = has_negation(s, n);
        for (int k = 0; k < 12; k++)
            for (int w = 0; symptom_words[k][w]; w++)
                if (contains_ci(s, n, symptom_words[k][w]) && !neg) out[k] = 1;
        s += n;
        if (*s) s++;
    }
}

/* onc_synth_corpus into dir with the given seed, patient count, difficulty
 * and typo rate (negative: the default) and otherwise default parameters;
 * fails the current test when it fails or does not make `patients`
 * patients. The run's stats in *out when out is not NULL. */
static inline void synth_make(const char *dir, uint64_t seed, int64_t patients, int difficulty, double typo,
                              onc_synth_stats *out) {
    onc_synth_params p;
    onc_synth_params_default(&p);
    p.seed = seed;
    p.n_patients = patients;
    p.difficulty = (onc_synth_difficulty)difficulty;
    p.typo_rate = typo;
    onc_error err = {0};
    onc_synth_stats st;
    if (onc_synth_corpus(&p, dir, &st, &err) != ONC_OK) fail_msg("onc_synth_corpus: %s", err.msg);
    assert_int_equal(st.patients, patients);
    if (out) *out = st;
}

/* Makes a corpus (a function like the tests' make_corpus(dir, seed, patients,
 * difficulty, typo)). */
typedef void (*synth_make_fn)(const char *dir, uint64_t seed, int64_t patients, int difficulty, double typo);

/* The seed decides everything: makes corpora of `patients` (medium
 * difficulty, default typo rate) in dirs a and b with seed 7 and in c with
 * seed 8; fails the current test unless each of files[0..n_files) is
 * byte-identical between a and b, and `probe` differs between a and c. */
static inline void check_seed_determinism(synth_make_fn make, const char *a, const char *b, const char *c,
                                          int64_t patients, const char *const *files, size_t n_files,
                                          const char *probe) {
    make(a, 7, patients, ONC_SYNTH_MEDIUM, -1);
    make(b, 7, patients, ONC_SYNTH_MEDIUM, -1);
    make(c, 8, patients, ONC_SYNTH_MEDIUM, -1);
    for (size_t i = 0; i < n_files; i++) {
        size_t na, nb;
        char *x = read_all(a, files[i], &na);
        char *y = read_all(b, files[i], &nb);
        if (na != nb || memcmp(x, y, na) != 0) fail_msg("%s differs between two runs with the same seed", files[i]);
        free(x), free(y);
    }
    size_t na, nc;
    char *x = read_all(a, probe, &na);
    char *z = read_all(c, probe, &nc);
    assert_true(na != nc || memcmp(x, z, na) != 0);
    free(x), free(z);
}

#endif
