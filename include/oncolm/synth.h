/* oncolm/synth.h — seeded synthetic oncology records with known answers.
 *
 * `onc_synth_corpus` writes a corpus of synthetic patients and their dated
 * notes (oncology progress notes, CT reports, pathology reports,
 * radiotherapy summaries, on-treatment toxicity notes, physician letters)
 * into a folder, with one JSONL file per task whose gold labels are
 * recoverable from the note text, and a retrieval set of questions about
 * each patient's notes with graded relevance judgements (BEIR and TREC
 * layouts); docs/SYNTH.md lists every file, label and distribution. No model is involved: patients are drawn from our own
 * seeded generator (xoshiro256** seeded through splitmix64; never rand()),
 * and notes are rendered from templates with synonyms, negation,
 * uncertainty, historical findings, per-author styles and typos.
 *
 * Determinism: the same parameters give the same bytes on every platform.
 * Patient i is generated from (seed, i) alone, and its split
 * (train/validation/test) is a function of (seed, i), so no patient ever
 * crosses splits.
 *
 * Memory: generation is streamed patient by patient; memory does not grow
 * with the number of patients.
 *
 * Thread-safety: onc_synth_corpus keeps no global state; concurrent calls
 * with different output folders are safe. */
#ifndef ONCOLM_SYNTH_H
#define ONCOLM_SYNTH_H

#include <stdint.h>

#include "oncolm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the generator's templates and distributions; it changes
 * whenever the bytes produced for a given seed change. */
#define ONC_SYNTH_VERSION "2"

typedef enum onc_synth_difficulty {
    ONC_SYNTH_EASY = 0,   /* canonical terms, no typos, few negated mentions, fixed section order */
    ONC_SYNTH_MEDIUM = 1, /* synonyms, negation, some section shuffling, rare typos */
    ONC_SYNTH_HARD = 2,   /* + abbreviations, historical findings, hedging, more typos */
} onc_synth_difficulty;

/* Kinds of note, in the order their counts appear in onc_synth_stats. */
typedef enum onc_synth_note_type {
    ONC_NOTE_PROGRESS = 0,
    ONC_NOTE_CT = 1,
    ONC_NOTE_PATHOLOGY = 2,
    ONC_NOTE_RT_SUMMARY = 3,
    ONC_NOTE_TOXICITY = 4,
    ONC_NOTE_LETTER = 5,
    ONC_SYNTH_N_NOTE_TYPES = 6,
} onc_synth_note_type;

typedef struct onc_synth_params {
    uint64_t seed;
    int64_t n_patients;               /* >= 1 */
    onc_synth_difficulty difficulty;  /* default ONC_SYNTH_MEDIUM */
    double typo_rate;     /* per-word probability of a typo in [0, 0.2]; < 0: the difficulty's default */
    double negation_rate; /* in [0, 1]: probability that an absent finding is stated negated
                           * ("denies nausea") rather than left unmentioned; < 0: the difficulty's default */
    /* Optional progress callback, called after each patient (may be NULL). */
    void (*progress)(void *ctx, int64_t done, int64_t total);
    void *progress_ctx;
} onc_synth_params;

/* What a run produced. */
typedef struct onc_synth_stats {
    int64_t patients;
    int64_t notes;
    int64_t notes_by_type[ONC_SYNTH_N_NOTE_TYPES];
    int64_t ct_labels[3];  /* CT reports with label 0, 1, 2 */
    int64_t queries;       /* retrieval questions (queries.jsonl) */
    int64_t qrels;         /* non-zero relevance judgements */
    int64_t qrels_by_grade[3]; /* judgements of grade 1 and 2 ([0] unused) */
    int64_t bytes;         /* bytes written over all files */
} onc_synth_stats;

/* Fill p with the defaults: seed 1, 100 patients, medium difficulty,
 * knob rates from the difficulty (-1). */
void onc_synth_params_default(onc_synth_params *p);

/* Generate a corpus into out_dir (created if missing; files inside it with
 * the same names are replaced). Every file is written to
 * "<name>.tmp.<pid>" and renamed when complete, so readers never see a half
 * file; on failure the temporary files are removed and err names the file.
 * stats may be NULL. Returns ONC_ERR_INVALID for out-of-range parameters,
 * ONC_ERR_IO / ONC_ERR_NOMEM otherwise. */
onc_status onc_synth_corpus(const onc_synth_params *p, const char *out_dir, onc_synth_stats *stats, onc_error *err);

/* Name of a note type as written in the files ("progress", "ct",
 * "pathology", "rt_summary", "toxicity", "letter"); "?" when out of range. */
const char *onc_synth_note_type_name(int type);

/* Parse "easy" | "medium" | "hard"; returns -1 for anything else. */
int onc_synth_difficulty_parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_SYNTH_H */
