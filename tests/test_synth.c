/* test_synth.c — oncolm/synth.h: the synthetic oncology corpus.
 * - determinism: same seed, same bytes in every file; another seed differs;
 * - JSON validity: every line of every file parses (Jansson) and has its keys;
 * - split hygiene: no patient in two splits, in any file;
 * - label recoverability, by the generator's structured truth and by an
 *   independent text check: CT labels 0/1/2 from the report wording,
 *   toxicity labels from positive vs negated mentions, RT modality from the
 *   technique, ICD-10-CM codes from the curated table;
 * - distributions within the ranges docs/SYNTH.md states;
 * - letters point at earlier notes of the same patient;
 * - typos change text; bad parameters fail cleanly without leftovers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "oncolm/synth.h"
#include "synth/synth_internal.h"
#include "synth_check.h"

static const char *const data_files[] = {"notes.jsonl",      "patients.jsonl", "ct_classification.jsonl",
                                         "rt_modality.jsonl", "icd10.jsonl",   "rt_regimen.jsonl",
                                         "toxicity.jsonl",   "letters.jsonl",  "manifest.json"};
#define N_DATA_FILES (sizeof data_files / sizeof data_files[0])

static char tmp_root[1024];

static const char *scratch(const char *name) {
    static char path[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/synth-%s", tmp_root, name);
    return path[k];
}

static void make_corpus(const char *dir, uint64_t seed, int64_t patients, int difficulty, double typo) {
    synth_make(dir, seed, patients, difficulty, typo, NULL);
}

/* Call fn on each parsed line of a JSONL file; fails on an invalid line. */
typedef void (*line_fn)(json_t *obj, void *ctx);
static size_t for_each_line(const char *dir, const char *name, line_fn fn, void *ctx) {
    char *buf = read_all(dir, name, NULL);
    size_t lines = 0;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o || !json_is_object(o)) fail_msg("%s line %zu: invalid JSON: %s", name, lines + 1, je.text);
        fn(o, ctx);
        json_decref(o);
        lines++;
    }
    free(buf);
    return lines;
}

// --- text checks, independent of the renderers (shared ones: synth_check.h) --------------------

/* The truth files' symptom keys, in synth_check.h's symptom_words order. */
static const char *const symptom_keys[12] = {"fatigue",   "nausea",      "vomiting",   "diarrhea", "radiation_dermatitis",
                                             "mucositis", "dysphagia",   "esophagitis", "xerostomia", "cystitis",
                                             "proctitis", "pneumonitis"};

static const char *const treatment_cues[] = {"s/p",       "status post", "post-treatment", "neoadjuvant", "whipple",
                                             "pancreaticoduodenectomy", "pancreatectomy", "folfirinox", "gemcitabine",
                                             "capecitabine", "chemotherapy", "radiotherapy", "therapy", "treatment",
                                             "postsurgical", "post-surgical"};

static bool has_treatment_cue(const char *s) {
    for (size_t i = 0; i < sizeof treatment_cues / sizeof *treatment_cues; i++)
        if (contains_ci(s, strlen(s), treatment_cues[i])) return true;
    return false;
}

/* Label a CT report from its wording alone (-1 = no rule matched). */
static int text_ct_label(const char *text) {
    const char *imp = strstr(text, "IMPRESSION:");
    if (!imp) return -1;
    const size_t imp_len = strcspn(imp, "");
    bool positive_pancreas = false, any_pancreas_sentence = false;
    for (const char *s = imp; s < imp + imp_len;) {
        size_t n = strcspn(s, ".\n");
        if (contains_ci(s, n, "pancrea")) {
            any_pancreas_sentence = true;
            const bool negative = has_negation(s, n) || contains_ci(s, n, "normal") || contains_ci(s, n, "cyst");
            if (!negative && (contains_ci(s, n, "mass") || contains_ci(s, n, "malignan") || contains_ci(s, n, "adenocarcinoma")))
                positive_pancreas = true;
        }
        s += n;
        if (*s) s++;
    }
    const bool names_pancreatic_cancer = contains_ci(text, strlen(text), "pancreatic adenocarcinoma") ||
                                         contains_ci(text, strlen(text), "pancreatic cancer");
    /* A mass "in the head of pancreas" is said without the word "pancreatic" in some reports. */
    const bool mass_in_pancreas = contains_ci(imp, imp_len, "mass in the head of pancreas") ||
                                  contains_ci(imp, imp_len, "mass in the body of pancreas") ||
                                  contains_ci(imp, imp_len, "mass in the tail of pancreas") ||
                                  contains_ci(imp, imp_len, "mass in the pancreas");
    if ((positive_pancreas || mass_in_pancreas) && !has_treatment_cue(text)) return 2;
    if ((names_pancreatic_cancer || any_pancreas_sentence) && has_treatment_cue(text) &&
        (names_pancreatic_cancer || positive_pancreas || contains_ci(text, strlen(text), "pancreatectomy") ||
         contains_ci(text, strlen(text), "whipple")))
        return 1;
    if (!positive_pancreas && !mass_in_pancreas && !names_pancreatic_cancer) return 0;
    return -1;
}

// --- tests -------------------------------------------------------------------------------------

static void test_determinism(void **state) {
    (void)state;
    check_seed_determinism(make_corpus, scratch("det-a"), scratch("det-b"), scratch("det-c"), 80, data_files,
                           N_DATA_FILES, "notes.jsonl");
    /* No temporary file is left behind. */
    DIR *d = opendir(scratch("det-a"));
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) assert_null(strstr(e->d_name, ".tmp."));
    closedir(d);
}

typedef struct split_ctx {
    char patient[20000][12];
    int split[20000];
    size_t lines_with_split;
    const char *file;
} split_ctx;

static int split_index(const char *s) {
    for (int k = 0; k < 3; k++)
        if (!strcmp(s, synth_split_names[k])) return k;
    fail_msg("unknown split '%s'", s);
    return -1;
}

static void check_split_line(json_t *o, void *vctx) {
    split_ctx *c = vctx;
    const char *pid = json_object_get(o, "patient") ? get_str(o, "patient") : get_str(o, "id");
    const int split = split_index(get_str(o, "split"));
    assert_true(pid[0] == 'P');
    const long k = strtol(pid + 1, NULL, 10) - 1;
    assert_true(k >= 0 && k < 20000);
    if (c->split[k] < 0) c->split[k] = split;
    else if (c->split[k] != split) fail_msg("%s: patient %s appears in two splits", c->file, pid);
    /* Task lines need an input and a label or target. */
    if (strcmp(c->file, "notes.jsonl") && strcmp(c->file, "patients.jsonl")) {
        assert_non_null(json_string_value(json_object_get(o, "input")));
        assert_true(json_object_get(o, "label") || json_object_get(o, "target"));
        get_str(o, "id");
    }
    c->lines_with_split++;
}

static void test_json_and_split_hygiene(void **state) {
    (void)state;
    const char *dir = scratch("split");
    make_corpus(dir, 3, 400, ONC_SYNTH_HARD, -1);
    split_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    for (int i = 0; i < 20000; i++) c->split[i] = -1;
    for (size_t i = 0; i + 1 < N_DATA_FILES; i++) {
        c->file = data_files[i];
        size_t n = for_each_line(dir, data_files[i], check_split_line, c);
        assert_true(n > 0);
    }
    int per_split[3] = {0};
    for (int i = 0; i < 400; i++) {
        assert_true(c->split[i] >= 0);
        per_split[c->split[i]]++;
    }
    for (int k = 0; k < 3; k++) assert_true(per_split[k] > 0);
    free(c);
    /* The manifest is one valid JSON object whose counts match the files. */
    char path[1400];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    if (!m) fail_msg("manifest.json: %s", je.text);
    assert_int_equal(json_integer_value(json_object_get(m, "patients")), 400);
    assert_string_equal(json_string_value(json_object_get(m, "generator_version")), ONC_SYNTH_VERSION);
    json_t *files = json_object_get(m, "files");
    for (size_t i = 0; i + 1 < N_DATA_FILES; i++) {
        size_t len;
        char *buf = read_all(dir, data_files[i], &len);
        size_t lines = 0;
        for (size_t k = 0; k < len; k++) lines += buf[k] == '\n';
        free(buf);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(files, data_files[i]), "lines")), lines);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(files, data_files[i]), "bytes")), len);
    }
    json_decref(m);
}

typedef struct ct_ctx {
    int counts[3];
    int mismatches;
} ct_ctx;

static void check_ct_line(json_t *o, void *vctx) {
    ct_ctx *c = vctx;
    const int label = (int)json_integer_value(json_object_get(o, "label"));
    assert_true(label >= 0 && label <= 2);
    c->counts[label]++;
    const int guess = text_ct_label(get_str(o, "input"));
    if (guess != label) {
        if (c->mismatches++ < 3) print_message("CT %s: label %d, text says %d\n", get_str(o, "id"), label, guess);
    }
}

static void test_ct_labels_recoverable_and_distribution(void **state) {
    (void)state;
    for (int d = ONC_SYNTH_EASY; d <= ONC_SYNTH_HARD; d++) {
        const char *dir = scratch("ct");
        make_corpus(dir, 11 + (uint64_t)d, 1500, d, 0.0);
        ct_ctx c = {{0}, 0};
        for_each_line(dir, "ct_classification.jsonl", check_ct_line, &c);
        assert_int_equal(c.mismatches, 0);
        const double total = c.counts[0] + c.counts[1] + c.counts[2];
        /* docs/SYNTH.md: about 70 / 20 / 10 %. */
        assert_true(c.counts[0] / total > 0.62 && c.counts[0] / total < 0.78);
        assert_true(c.counts[1] / total > 0.14 && c.counts[1] / total < 0.26);
        assert_true(c.counts[2] / total > 0.06 && c.counts[2] / total < 0.14);
    }
}

/* Structured truth against the text, through the internal API. */
static void test_toxicity_truth_matches_text(void **state) {
    (void)state;
    for (int d = ONC_SYNTH_EASY; d <= ONC_SYNTH_HARD; d++) {
        onc_synth_params p;
        onc_synth_params_default(&p);
        p.seed = 99;
        p.difficulty = (onc_synth_difficulty)d;
        p.typo_rate = 0;
        synth_config cfg;
        synth_config_from_params(&p, &cfg);
        synth_record *rec = calloc(1, sizeof *rec);
        assert_non_null(rec);
        int notes = 0, positives = 0, negated = 0;
        for (int64_t i = 0; i < 600; i++) {
            onc_error err = {0};
            assert_int_equal(synth_record_generate(&cfg, i, rec, &err), ONC_OK);
            for (int k = 0; k < rec->n_notes; k++) {
                const synth_note *n = &rec->notes[k];
                if (n->type != ONC_NOTE_TOXICITY) continue;
                notes++;
                assert_int_equal(n->tox_present & n->tox_negated, 0);
                int seen[12];
                text_symptoms(n->text.p, seen);
                for (int s = 0; s < 12; s++) {
                    const int truth = (int)(n->tox_present >> s & 1);
                    if (seen[s] != truth) fail_msg("%s: %s truth %d, text %d\n%s", n->id, symptom_keys[s], truth, seen[s], n->text.p);
                    positives += truth;
                    negated += (int)(n->tox_negated >> s & 1);
                }
            }
        }
        synth_record_free(rec);
        free(rec);
        assert_true(notes > 100);
        assert_true(positives > notes / 2);
        if (d > ONC_SYNTH_EASY) assert_true(negated > notes / 2); /* negation is exercised */
    }
}

typedef struct file_ctx {
    int n;
    int modality[4];
} file_ctx;

static void check_toxicity_line(json_t *o, void *vctx) {
    file_ctx *c = vctx;
    json_t *label = json_object_get(o, "label");
    assert_true(json_is_object(label));
    assert_int_equal(json_object_size(label), 12);
    int seen[12];
    text_symptoms(get_str(o, "input"), seen);
    for (int s = 0; s < 12; s++) {
        json_t *v = json_object_get(label, symptom_keys[s]);
        if (!json_is_integer(v)) fail_msg("toxicity label lacks %s", symptom_keys[s]);
        assert_int_equal(json_integer_value(v), seen[s]);
    }
    c->n++;
}

static void check_modality_line(json_t *o, void *vctx) {
    file_ctx *c = vctx;
    const char *label = get_str(o, "label"), *text = get_str(o, "input");
    const size_t n = strlen(text);
    int guess = -1;
    if (contains_ci(text, n, "proton") || contains_ci(text, n, "PBS") || contains_ci(text, n, "IMPT")) guess = 1;
    else if (contains_ci(text, n, "electron")) guess = 2;
    else if (contains_ci(text, n, "HDR") || contains_ci(text, n, "LDR") || contains_ci(text, n, "brachytherapy")) guess = 3;
    else if (contains_ci(text, n, "IMRT") || contains_ci(text, n, "VMAT") || contains_ci(text, n, "3D-CRT") ||
             contains_ci(text, n, "SBRT") || contains_ci(text, n, "SRS") || contains_ci(text, n, "intensity-modulated") ||
             contains_ci(text, n, "volumetric") || contains_ci(text, n, "conformal") || contains_ci(text, n, "stereotactic"))
        guess = 0;
    assert_true(guess >= 0);
    assert_string_equal(label, synth_modality_names[guess]);
    c->modality[guess]++;
    c->n++;
}

static void check_icd_line(json_t *o, void *vctx) {
    file_ctx *c = vctx;
    const synth_icd *e = synth_icd_find(get_str(o, "label"));
    assert_non_null(e);
    assert_string_equal(get_str(o, "description"), e->description);
    c->n++;
}

static void check_regimen_line(json_t *o, void *vctx) {
    file_ctx *c = vctx;
    json_t *t = json_object_get(o, "target");
    const char *text = get_str(o, "input");
    char fx[32];
    snprintf(fx, sizeof fx, "%d f", (int)json_integer_value(json_object_get(t, "fractions")));
    assert_true(contains_ci(text, strlen(text), fx));
    c->n++;
}

static void test_task_files_match_text(void **state) {
    (void)state;
    const char *dir = scratch("tasks");
    make_corpus(dir, 5, 800, ONC_SYNTH_HARD, 0.0);
    file_ctx c = {0};
    for_each_line(dir, "toxicity.jsonl", check_toxicity_line, &c);
    assert_true(c.n > 100);
    memset(&c, 0, sizeof c);
    for_each_line(dir, "rt_modality.jsonl", check_modality_line, &c);
    assert_true(c.n > 100);
    assert_true(c.modality[0] > c.n / 2); /* photons dominate, as in practice */
    for (int k = 1; k < 4; k++) assert_true(c.modality[k] > 0);
    memset(&c, 0, sizeof c);
    for_each_line(dir, "icd10.jsonl", check_icd_line, &c);
    assert_true(c.n > 100);
    memset(&c, 0, sizeof c);
    for_each_line(dir, "rt_regimen.jsonl", check_regimen_line, &c);
    assert_true(c.n > 100);
}

static void test_icd_table(void **state) {
    (void)state;
    assert_true(synth_n_icd10 >= 25 && synth_n_icd10 <= 40);
    for (size_t i = 0; i < synth_n_icd10; i++) {
        const char *code = synth_icd10[i].code;
        assert_true(code[0] == 'C' || code[0] == 'D');
        if (code[0] == 'D') assert_true(strncmp(code, "D49", 3) <= 0);
        assert_true(strlen(code) >= 3 && strlen(code) <= 7);
        for (size_t j = i + 1; j < synth_n_icd10; j++) assert_string_not_equal(code, synth_icd10[j].code);
        assert_ptr_equal(synth_icd_find(code), &synth_icd10[i]);
    }
    assert_string_equal(synth_icd_find("C25.0")->description, "Malignant neoplasm of head of pancreas");
    assert_string_equal(synth_icd_find("C61")->description, "Malignant neoplasm of prostate");
    assert_null(synth_icd_find("C99.9"));
}

typedef struct letter_ctx {
    json_t *notes; /* id -> [patient, date] */
    int n;
} letter_ctx;

static void index_note(json_t *o, void *vctx) {
    letter_ctx *c = vctx;
    json_object_set_new(c->notes, get_str(o, "id"), json_pack("[ss]", get_str(o, "patient"), get_str(o, "date")));
}

static void check_letter_line(json_t *o, void *vctx) {
    letter_ctx *c = vctx;
    json_t *self = json_object_get(c->notes, get_str(o, "id"));
    assert_non_null(self);
    json_t *ids = json_object_get(o, "source_ids");
    assert_true(json_array_size(ids) >= 2);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        json_t *src = json_object_get(c->notes, json_string_value(v));
        assert_non_null(src);
        assert_string_equal(json_string_value(json_array_get(src, 0)), get_str(o, "patient"));
        assert_true(strcmp(json_string_value(json_array_get(src, 1)), json_string_value(json_array_get(self, 1))) <= 0);
        assert_non_null(strstr(get_str(o, "input"), json_string_value(v)));
    }
    assert_true(strlen(get_str(o, "target")) > 200);
    c->n++;
}

static void test_letters_reference_earlier_notes(void **state) {
    (void)state;
    const char *dir = scratch("letters");
    make_corpus(dir, 21, 150, ONC_SYNTH_MEDIUM, -1);
    letter_ctx c = {json_object(), 0};
    for_each_line(dir, "notes.jsonl", index_note, &c);
    for_each_line(dir, "letters.jsonl", check_letter_line, &c);
    assert_int_equal(c.n, 150);
    json_decref(c.notes);
}

static void test_typos_and_dates(void **state) {
    (void)state;
    onc_synth_params p;
    onc_synth_params_default(&p);
    synth_config clean, typo;
    p.typo_rate = 0;
    synth_config_from_params(&p, &clean);
    p.typo_rate = 0.2;
    synth_config_from_params(&p, &typo);
    synth_record *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_non_null(a), assert_non_null(b);
    onc_error err = {0};
    assert_int_equal(synth_record_generate(&clean, 4, a, &err), ONC_OK);
    assert_int_equal(synth_record_generate(&typo, 4, b, &err), ONC_OK);
    assert_int_equal(a->n_notes, b->n_notes);
    assert_string_not_equal(a->notes[0].text.p, b->notes[0].text.p);
    for (int k = 0; k + 1 < a->n_notes; k++) assert_true(a->notes[k].date <= a->notes[k + 1].date);
    synth_record_free(a), synth_record_free(b);
    free(a), free(b);
    /* Calendar round trip over 40 years. */
    for (int32_t z = -5000; z < 20000; z += 7) {
        int y, m, d;
        synth_civil_from_days(z, &y, &m, &d);
        assert_int_equal(synth_days_from_civil(y, m, d), z);
    }
    char s[24];
    synth_date_text(synth_days_from_civil(2021, 3, 14), 2, s);
    assert_string_equal(s, "March 14, 2021");
}

static void test_bad_parameters(void **state) {
    (void)state;
    onc_synth_params p;
    onc_synth_params_default(&p);
    onc_error err = {0};
    p.n_patients = 0;
    assert_int_equal(onc_synth_corpus(&p, scratch("bad"), NULL, &err), ONC_ERR_INVALID);
    p.n_patients = 5;
    p.typo_rate = 0.5;
    assert_int_equal(onc_synth_corpus(&p, scratch("bad"), NULL, &err), ONC_ERR_INVALID);
    p.typo_rate = -1;
    /* A regular file where the folder should be. */
    const char *file = scratch("not-a-folder");
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    char under[1400];
    snprintf(under, sizeof under, "%s/sub", file);
    assert_int_equal(onc_synth_corpus(&p, under, NULL, &err), ONC_ERR_IO);
    assert_non_null(strstr(err.msg, "not-a-folder"));
    assert_int_equal(onc_synth_difficulty_parse("hard"), ONC_SYNTH_HARD);
    assert_int_equal(onc_synth_difficulty_parse("extreme"), -1);
}

int main(void) {
    const char *t = getenv("ONCOLM_TMP");
    snprintf(tmp_root, sizeof tmp_root, "%s", t && *t ? t : "/tmp");
    mkdir(tmp_root, 0777);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_json_and_split_hygiene),
        cmocka_unit_test(test_ct_labels_recoverable_and_distribution),
        cmocka_unit_test(test_toxicity_truth_matches_text),
        cmocka_unit_test(test_task_files_match_text),
        cmocka_unit_test(test_icd_table),
        cmocka_unit_test(test_letters_reference_earlier_notes),
        cmocka_unit_test(test_typos_and_dates),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
