/* synth_internal.h — private pieces of the synthetic record generator
 * (oncolm/synth.h): RNG, text buffers, dates, tables, the patient model and
 * the note renderers. Tests include it to compare the generator's
 * structured truth with what the notes say. */
#ifndef ONCOLM_SYNTH_INTERNAL_H
#define ONCOLM_SYNTH_INTERNAL_H

#include "oncolm/rng.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/synth.h"

/* --- RNG: xoshiro256** seeded through splitmix64 ------------------------- */

typedef onc_rng synth_rng;

/* Seed a generator from (seed, stream): different streams of one seed are
 * independent sequences (patient i uses stream i). */
void synth_rng_seed(synth_rng *r, uint64_t seed, uint64_t stream);
uint64_t synth_rng_next(synth_rng *r);
/* Uniform integer in [0, n), n >= 1. */
uint32_t synth_rng_below(synth_rng *r, uint32_t n);
/* Uniform integer in [lo, hi] (inclusive). */
int synth_rng_range(synth_rng *r, int lo, int hi);
/* Uniform double in [0, 1). */
double synth_rng_unit(synth_rng *r);
/* True with probability p. */
bool synth_rng_chance(synth_rng *r, double p);
/* Index drawn with the given non-negative weights (n >= 1, sum > 0). */
int synth_rng_weighted(synth_rng *r, const double *weights, int n);
/* One-off 64-bit hash (splitmix64 finaliser of x). */
uint64_t synth_hash64(uint64_t x);

#define SYNTH_COUNT(arr) ((uint32_t)(sizeof(arr) / sizeof((arr)[0])))
#define SYNTH_PICK(r, arr) ((arr)[synth_rng_below((r), SYNTH_COUNT(arr))])

/* --- growable text buffer ------------------------------------------------ */

/* A NUL-terminated growable buffer. Allocation failures set `oom` and make
 * further appends no-ops; the owner checks `oom` once at the end. */
typedef struct synth_buf {
    char *p;
    size_t len, cap;
    bool oom;
} synth_buf;

void synth_buf_reset(synth_buf *b);
void synth_buf_free(synth_buf *b);
void synth_buf_putn(synth_buf *b, const char *s, size_t n);
void synth_buf_puts(synth_buf *b, const char *s);
void synth_buf_putc(synth_buf *b, char c);
void synth_buf_printf(synth_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Append s[0..n) as a JSON string literal (quotes included). Generated text
 * is ASCII; other bytes are written as \u00XX escapes. */
void synth_buf_json_str(synth_buf *b, const char *s, size_t n);

/* Introduce typos into b in place: each word of >= 5 letters gets, with
 * probability rate, one of: two inner letters swapped, a letter dropped, a
 * letter doubled. Words in capitals (section headers, codes) are kept. */
void synth_apply_typos(synth_rng *r, synth_buf *b, double rate, synth_buf *scratch);

/* --- dates: days since 1970-01-01 ----------------------------------------- */

int32_t synth_days_from_civil(int y, int m, int d);
void synth_civil_from_days(int32_t z, int *y, int *m, int *d);
/* "YYYY-MM-DD" into out (>= 11 bytes). */
void synth_date_iso(int32_t days, char *out);
/* A date as an author writes it: style 0 "2021-03-14", 1 "03/14/2021",
 * 2 "March 14, 2021", 3 "14 Mar 2021". out >= 24 bytes. */
void synth_date_text(int32_t days, int style, char *out);

/* --- tables (synth_tables.c) ---------------------------------------------- */

typedef enum synth_site {
    SITE_BREAST,
    SITE_LUNG,
    SITE_PANCREAS,
    SITE_PROSTATE,
    SITE_RECTUM,
    SITE_COLON,
    SITE_HEAD_NECK,
    SITE_ESOPHAGUS,
    SITE_CERVIX,
    SITE_BRAIN,
    SYNTH_N_SITES
} synth_site;

extern const char *const synth_site_keys[SYNTH_N_SITES];
extern const double synth_site_weights[SYNTH_N_SITES];

typedef struct synth_icd {
    const char *code;
    const char *description; /* official ICD-10-CM description */
} synth_icd;

extern const synth_icd synth_icd10[];
extern const size_t synth_n_icd10;
/* The table entry of a code, NULL when the code is not in the table. */
const synth_icd *synth_icd_find(const char *code);

typedef enum synth_modality { MOD_PHOTON, MOD_PROTON, MOD_ELECTRON, MOD_BRACHY, SYNTH_N_MODALITIES } synth_modality;
extern const char *const synth_modality_names[SYNTH_N_MODALITIES];

/* Body region treated, which decides the likely toxicities. */
typedef enum synth_region {
    REGION_BREAST,
    REGION_THORAX,
    REGION_ABDOMEN,
    REGION_PELVIS,
    REGION_HEAD_NECK,
    REGION_BRAIN,
    REGION_BONE,
    SYNTH_N_REGIONS
} synth_region;

typedef struct synth_regimen {
    synth_site site;       /* primary site this regimen is used for */
    bool palliative;       /* metastatic sites (bone, brain); the ICD code is then a secondary code */
    double dose_gy;
    int fractions;
    const char *technique;      /* "IMRT", "VMAT", "3D-CRT", "SBRT", "IMPT", "HDR", ... */
    const char *technique_long; /* "intensity-modulated radiation therapy", ... */
    synth_modality modality;
    synth_region region;
    const char *target;         /* "whole breast", "pancreatic head tumor", ... */
} synth_regimen;

extern const synth_regimen synth_regimens[];
extern const size_t synth_n_regimens;

typedef enum synth_symptom {
    SYM_FATIGUE,
    SYM_NAUSEA,
    SYM_VOMITING,
    SYM_DIARRHEA,
    SYM_DERMATITIS,
    SYM_MUCOSITIS,
    SYM_DYSPHAGIA,
    SYM_ESOPHAGITIS,
    SYM_XEROSTOMIA,
    SYM_CYSTITIS,
    SYM_PROCTITIS,
    SYM_PNEUMONITIS,
    SYNTH_N_SYMPTOMS
} synth_symptom;

/* JSON keys of the 12 symptoms ("fatigue", ..., "radiation_dermatitis"). */
extern const char *const synth_symptom_keys[SYNTH_N_SYMPTOMS];
/* Words used for each symptom, NULL-terminated; [0] is the canonical term. */
extern const char *const *const synth_symptom_terms[SYNTH_N_SYMPTOMS];
/* Probability that a symptom is present at an on-treatment visit, by region. */
double synth_symptom_prob(synth_symptom s, synth_region region, bool concurrent_chemo);

/* Per-author style: how headers, dates and sections are written. */
typedef struct synth_author {
    const char *name;         /* "Dr. A. Okafor" */
    int date_style;           /* synth_date_text style */
    bool caps_headers;        /* "ASSESSMENT AND PLAN:" vs "Assessment/Plan:" */
    bool abbreviates;         /* "pt", "s/p", "hx" where allowed */
    bool plan_first;          /* assessment and plan before the history */
} synth_author;

extern const synth_author synth_authors[];
extern const size_t synth_n_authors;

extern const char *const synth_first_names_f[];
extern const char *const synth_first_names_m[];
extern const char *const synth_last_names[];
extern const size_t synth_n_first_names_f, synth_n_first_names_m, synth_n_last_names;

/* --- the generator's configuration ---------------------------------------- */

typedef struct synth_config {
    uint64_t seed;
    onc_synth_difficulty difficulty;
    double typo_rate;        /* per word */
    double negation_rate;    /* absent finding stated negated */
    double synonym_rate;     /* a non-canonical synonym instead of the canonical term */
    double shuffle_rate;     /* sections in a non-standard order */
    double historical_rate;  /* a resolved/historical mention of an absent symptom */
    double hedge_rate;       /* an uncertain incidental finding ("cannot exclude") */
} synth_config;

/* Derive the knob values from the public parameters (difficulty defaults,
 * explicit overrides). Parameters are assumed validated. */
void synth_config_from_params(const onc_synth_params *p, synth_config *cfg);

/* --- the patient model (synth_patient.c) ---------------------------------- */

typedef enum synth_tx_kind { TX_SURGERY, TX_CHEMO, TX_RT, TX_ENDOCRINE, TX_TARGETED, TX_IMMUNO } synth_tx_kind;

typedef struct synth_treatment {
    synth_tx_kind kind;
    const char *name;   /* "FOLFIRINOX", "Whipple procedure (pancreaticoduodenectomy)", regimen technique ... */
    int32_t start, end; /* days; end >= start */
} synth_treatment;

#define SYNTH_MAX_TX 6
#define SYNTH_MAX_MEDS 8

/* Biomarker values: -1 = not tested/not relevant. */
typedef struct synth_biomarkers {
    int er, pr, her2;   /* 0 negative, 1 positive */
    int egfr, alk, kras; /* 0 wild-type/negative, 1 mutated/rearranged */
    int msi;            /* 0 MSS, 1 MSI-high */
    int pdl1;           /* tumor proportion score in percent */
    int p16;            /* head and neck: 0 negative, 1 positive */
    int gleason_primary, gleason_secondary; /* prostate */
} synth_biomarkers;

typedef struct synth_patient {
    int64_t index;
    char id[24];        /* "P0000001" */
    int split;          /* 0 train, 1 validation, 2 test */
    bool male;
    int age;
    const char *first_name, *last_name;
    int32_t dx_date;
    synth_site site;
    const synth_icd *icd;     /* primary diagnosis code */
    const char *subsite;      /* "head of pancreas", "right upper lobe", ... */
    const char *histology;
    int grade;                /* 1..3, 0 = not graded */
    int t, n, m;              /* TNM; t = 0 means Tis */
    int stage;                /* 0..4 (simplified stage group) */
    synth_biomarkers bio;
    int ecog;
    double hgb, wbc, plt, creat;   /* labs at last visit */
    const char *marker_name;       /* "CA 19-9", "CEA", "PSA" or NULL */
    double marker_dx, marker_last;
    const char *meds[SYNTH_MAX_MEDS];
    int n_meds;
    synth_treatment tx[SYNTH_MAX_TX];
    int n_tx;
    int first_tx_date;             /* start of the first treatment */
    const synth_regimen *rt;       /* NULL when no radiotherapy */
    const synth_icd *rt_icd;       /* diagnosis code of the RT course */
    int32_t rt_start, rt_end;
    bool rt_concurrent_chemo;
    int author;                    /* treating oncologist (synth_authors index) */
    int rad_author;                /* radiation oncologist */
    int smoking;                   /* 0 never, 1 former, 2 current */
    int pack_years;
} synth_patient;

/* Draw patient `index` of the corpus seeded cfg->seed; fills everything but
 * leaves rng positioned for the notes. Pure function of (seed, index). */
void synth_patient_generate(const synth_config *cfg, int64_t index, synth_patient *pt, synth_rng *rng);
/* Split of patient `index`: 0 train (80 %), 1 validation (10 %), 2 test (10 %). */
int synth_patient_split(uint64_t seed, int64_t index);
extern const char *const synth_split_names[3];

/* --- notes ---------------------------------------------------------------- */

#define SYNTH_MAX_NOTES 24
#define SYNTH_MAX_SOURCES 6

typedef struct synth_note {
    char id[48];
    onc_synth_note_type type;
    int32_t date;
    int author;
    synth_buf text;
    /* ground truth */
    int ct_label;              /* CT: 0, 1, 2; else -1 */
    uint32_t tox_present;      /* toxicity: bit s set = symptom s present */
    uint32_t tox_negated;      /* toxicity: bit s set = symptom s stated absent */
    int visit;                 /* toxicity: on-treatment visit number (1-based); progress: visit */
    int fraction;              /* toxicity: fraction number reached */
    int sources[SYNTH_MAX_SOURCES]; /* letter: indices of the summarised notes */
    int n_sources;
    /* What the text states, recorded by the renderers as they write it (the
     * retrieval judgements of synth_queries.c are computed from these, never
     * from the text). Recording draws no random numbers. */
    uint32_t facts;            /* SYNTH_FACT_* bits */
    uint32_t tx_named;         /* bit i: treatment pt->tx[i] is named */
    int lvi;                   /* pathology: lymphovascular invasion 1 stated present, 0 stated absent, -1 not stated */
} synth_note;

/* synth_note.facts: what a note states. */
enum {
    SYNTH_FACT_DIAGNOSIS = 1u << 0,    /* histology and primary site */
    SYNTH_FACT_CANCER_NAMED = 1u << 1, /* the cancer named ("breast cancer", "suspicious for pancreatic ...") */
    SYNTH_FACT_SUBSITE = 1u << 2,      /* location of the primary (subsite, laterality, lobe) */
    SYNTH_FACT_STAGE = 1u << 3,        /* stage group with cTNM (glioblastoma: "WHO grade 4") */
    SYNTH_FACT_EXTENT = 1u << 4,       /* imaging extent: metastases present or absent, nodes */
    SYNTH_FACT_BIOMARKERS = 1u << 5,   /* every tested biomarker with its result */
    SYNTH_FACT_GRADE = 1u << 6,        /* histologic grade / differentiation, or Gleason score */
    SYNTH_FACT_TUMOR_SIZE = 1u << 7,   /* measured tumour size */
    SYNTH_FACT_ICD = 1u << 8,          /* the primary's ICD-10-CM code */
    SYNTH_FACT_STATUS = 1u << 9,       /* a disease-status statement (assessment or CT impression) */
    SYNTH_FACT_STATUS_HINT = 1u << 10, /* indirect status (letter: last CT, recommendations) */
    SYNTH_FACT_LABS = 1u << 11,        /* Hgb, WBC, platelets, creatinine */
    SYNTH_FACT_MARKER_DX = 1u << 12,   /* tumour marker value at diagnosis */
    SYNTH_FACT_MARKER_LAST = 1u << 13, /* tumour marker latest value */
    SYNTH_FACT_MARKER_NAMED = 1u << 14, /* tumour marker named without a value */
    SYNTH_FACT_ECOG = 1u << 15,
    SYNTH_FACT_MEDS = 1u << 16,        /* the medication list */
    SYNTH_FACT_SMOKING = 1u << 17,     /* smoking status (and pack-years) */
    SYNTH_FACT_SMOKING_ADVICE = 1u << 18, /* smoking cessation advised, status not stated */
    SYNTH_FACT_TX_HISTORY = 1u << 19,  /* a treatment-history paragraph (possibly "no treatment yet") */
    SYNTH_FACT_RT_REGIMEN = 1u << 20,  /* radiotherapy dose, fractions and technique */
    SYNTH_FACT_TOLERANCE = 1u << 21,   /* how a course was tolerated, no symptom named */
    SYNTH_FACT_METS = 1u << 22,        /* distant metastases stated present or absent in words ("metastatic") */
};

typedef struct synth_record {
    synth_patient pt;
    synth_note notes[SYNTH_MAX_NOTES];
    int n_notes;
    synth_buf scratch;
} synth_record;

/* Generate patient `index` and all its notes into rec (buffers of a
 * previous call are reused). Notes are in date order with ids
 * "<patient>-NN". Returns ONC_ERR_NOMEM on allocation failure. */
onc_status synth_record_generate(const synth_config *cfg, int64_t index, synth_record *rec, onc_error *err);
void synth_record_free(synth_record *rec);

/* --- retrieval questions (synth_queries.c) ---------------------------------- */

#define SYNTH_MAX_QUERIES 6

typedef enum synth_qcat {
    QCAT_BIOMARKERS,
    QCAT_DIAGNOSIS,
    QCAT_STATUS,
    QCAT_LABS,
    QCAT_TUMOR,
    QCAT_STAGING,
    QCAT_TREATMENT,
    QCAT_MEDICATIONS,
    QCAT_TOXICITIES,
    QCAT_SOCIAL,
    SYNTH_N_QCATS
} synth_qcat;

/* "biomarkers", "current diagnosis", ..., "social history". */
extern const char *const synth_qcat_names[SYNTH_N_QCATS];

typedef struct synth_query {
    char id[48];                      /* "<patient>-Q01" */
    synth_qcat category;
    char topic[40];                   /* what is asked: "her2", "tox:nausea", "lab:ca19-9_latest", ... */
    char text[256];
    uint8_t grade[SYNTH_MAX_NOTES];   /* per note of the record: 0, 1 or 2 */
} synth_query;

/* Draw 3-6 questions about rec's notes, each with a distinct category and at
 * least one grade-2 note, into out[0..*n_out). The judgements come from the
 * notes' recorded facts and the patient's structured truth. Uses its own RNG
 * stream of (cfg->seed, patient index): the notes' bytes do not depend on it.
 * Pure function of (cfg, rec); no allocation. */
void synth_queries_generate(const synth_config *cfg, const synth_record *rec, synth_query out[SYNTH_MAX_QUERIES],
                            int *n_out);

/* Note renderers (synth_notes_*.c). Each appends the full text of note n
 * for patient pt to n->text and fills n's ground truth. */
void synth_render_progress(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n);
void synth_render_pathology(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n);
void synth_render_ct(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n);
void synth_render_rt_summary(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n);
void synth_render_toxicity(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n);
void synth_render_letter(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n,
                         const synth_note *notes);

/* Shared phrasing helpers (synth_notes_common.c). */
const char *synth_site_phrase(const synth_patient *pt, synth_rng *r, const synth_config *cfg);
void synth_put_stage(synth_buf *b, const synth_patient *pt);
void synth_put_biomarkers(synth_buf *b, const synth_patient *pt);
void synth_put_header(synth_buf *b, const synth_author *a, const char *caps, const char *plain);
const char *synth_pronoun(const synth_patient *pt, bool capital);
const char *synth_honorific(const synth_patient *pt);
/* Latest treatment of the given kind that started on or before `date`; NULL if none. */
const synth_treatment *synth_tx_before(const synth_patient *pt, int kind, int32_t date);
/* A symptom term: canonical at easy difficulty, else a synonym with cfg->synonym_rate. */
const char *synth_symptom_term(const synth_config *cfg, synth_rng *r, synth_symptom s);

#endif /* ONCOLM_SYNTH_INTERNAL_H */
