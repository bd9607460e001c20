/* synth_queries.c — retrieval questions over one patient's notes with graded
 * relevance judgements (issue 5 item 3).
 *
 * For each patient, 3-6 questions, each of a distinct category (biomarkers,
 * current diagnosis, disease status, laboratory results, tumor
 * characteristics, tumor staging, treatment, medications, toxicities, social
 * history), phrased from several clinician-like templates with synonyms.
 * Every question is judged against every note of the same patient:
 *   2 = the note states the answer,
 *   1 = partially relevant (same topic without the answer, or an older value
 *       when the question asks for the latest one),
 *   0 = not relevant (not written out).
 * Judgements come from what the renderers recorded they wrote
 * (synth_note.facts, tx_named, lvi, tox_present/tox_negated) and from the
 * patient's structured truth, never from the generated text. Only questions
 * with at least one grade-2 note are asked. The exact rules per topic are
 * listed in docs/SYNTH.md ("Retrieval").
 *
 * Randomness: an RNG stream of its own per patient (derived from the seed
 * and the patient index), so adding or changing questions never changes the
 * notes. */
#include <stdio.h>
#include <string.h>

#include "synth/synth_internal.h"

const char *const synth_qcat_names[SYNTH_N_QCATS] = {
    "biomarkers",     "current diagnosis", "disease status", "laboratory results", "tumor characteristics",
    "tumor staging",  "treatment",         "medications",    "toxicities",         "social history",
};

/* A question that could be asked: its topic, phrasings and judgements. */
typedef struct cand {
    synth_qcat cat;
    char topic[40];
    const char *const *tpl; /* templates: $S subject, $O possessive, $X the item */
    int n_tpl;
    const char *const *items; /* words for $X (NULL: item_buf) */
    int n_items;
    char item_buf[32];
    uint8_t grade[SYNTH_MAX_NOTES];
} cand;

#define MAX_CANDS 64

typedef struct cand_set {
    cand c[MAX_CANDS];
    int n;
} cand_set;

#define TPL(arr) (arr), (int)SYNTH_COUNT(arr)

// --- templates ---------------------------------------------------------------------------

static const char *const t_biomarker[] = {
    "What is $O $X status?", "$X status?", "$X result?", "What did $X testing show?", "Was $X tested, and what was the result?",
    "Biomarker results: $X?", "$X on the biopsy?",
};
static const char *const t_diagnosis[] = {
    "What is $O diagnosis?", "What cancer does $S have?", "Primary diagnosis?", "What type of cancer is this?",
    "Histology and primary site?", "What was the tissue diagnosis?", "Oncologic diagnosis?", "What is $S being treated for?",
};
static const char *const t_icd[] = {"What is the ICD-10 code for $O cancer?", "ICD-10-CM code of the primary diagnosis?",
                                    "Diagnosis code?", "Which ICD-10 code applies to $O malignancy?"};
static const char *const t_status[] = {
    "What is the current disease status?", "Any evidence of progression?", "Is there recurrence on the latest imaging?",
    "How is the disease responding to treatment?", "Is $S NED?", "Latest restaging result?",
    "Is the cancer stable, responding or progressing?", "Current status of $O cancer?",
};
static const char *const t_marker_last[] = {"Most recent $X?", "What is the latest $X?", "Latest $X level?",
                                            "Current $X value?", "Where is $O $X now?"};
static const char *const t_marker_dx[] = {"$X at diagnosis?", "What was the $X at diagnosis?", "Baseline $X?",
                                          "Initial $X level?"};
static const char *const t_lab[] = {"Most recent $X?", "Latest $X?", "What is $O $X?", "Current $X value?",
                                    "Is $O $X low?", "$X on the last labs?"};
static const char *const t_grade[] = {"What is the tumor grade?", "Histologic grade?", "How differentiated is the tumor?",
                                      "Grade on the biopsy?", "Is it a high-grade tumor?"};
static const char *const t_gleason[] = {"What is the Gleason score?", "Gleason?", "Gleason pattern on the biopsy?",
                                        "What was the Gleason sum?"};
static const char *const t_who_grade[] = {"What WHO grade is the tumor?", "Tumor grade?", "Is this a high-grade glioma?"};
static const char *const t_lvi[] = {"Was lymphovascular invasion present?", "LVI?", "Any LVI on pathology?",
                                    "Lymphovascular invasion on the biopsy?"};
static const char *const t_location[] = {"Where is the primary tumor?", "Location of the primary?", "Primary tumor site?",
                                         "Where exactly is the tumor located?"};
static const char *const t_loc_breast[] = {"Which breast is involved?", "Laterality of the breast cancer?",
                                           "Where is the primary tumor?", "Left or right breast?"};
static const char *const t_loc_lung[] = {"Which lobe is involved?", "Location of the lung primary?",
                                         "Where is the primary tumor?", "Which lobe is the tumor in?"};
static const char *const t_loc_pancreas[] = {"Where in the pancreas is the tumor?", "Location of the pancreatic mass?",
                                             "Head, body or tail?", "Where is the primary tumor?"};
static const char *const t_size[] = {"How big is the pancreatic mass?", "Size of the tumor on the latest CT?",
                                     "Current tumor size?", "What does the mass measure?"};
static const char *const t_histology[] = {"What is the histology?", "Histologic type?", "What kind of tumor is it on pathology?",
                                          "Histologic subtype?"};
static const char *const t_stage[] = {"What stage is $O cancer?", "Clinical stage?", "TNM stage?", "Stage at diagnosis?",
                                      "What is the AJCC stage?", "Staging?"};
static const char *const t_nodes[] = {"Is there nodal involvement?", "N stage?", "Any lymph node involvement?",
                                      "Are the nodes positive?"};
static const char *const t_mets[] = {"Any distant metastases?", "Is the disease metastatic?", "M stage?",
                                     "Has the cancer spread?"};
static const char *const t_rt[] = {"What radiation dose did $S receive?", "RT dose and fractionation?",
                                   "How many fractions of radiation?", "What radiotherapy technique was used?",
                                   "Details of the radiation course?", "Has $S had radiation, and to what dose?"};
static const char *const t_surgery[] = {"Has $S had surgery?", "What operation was performed?", "Surgical history?",
                                        "When was the resection?", "Is $S status post resection?", "Type of surgery?"};
static const char *const t_chemo[] = {"What chemotherapy has $S received?", "Chemo regimen?",
                                      "Which chemotherapy regimen was given?", "Is $S on chemo?", "Current chemotherapy?"};
static const char *const t_systemic[] = {"What systemic therapy has $S received?", "Current systemic treatment?",
                                         "Which drug regimen is $S on?", "Is $S on any anticancer drug therapy?"};
static const char *const t_immuno[] = {"Is $S on immunotherapy?", "Which checkpoint inhibitor?",
                                       "What systemic therapy has $S received?", "Current systemic treatment?"};
static const char *const t_targeted[] = {"Is $S on a targeted therapy?", "Which TKI is $S taking?",
                                         "What systemic therapy has $S received?", "Current systemic treatment?"};
static const char *const t_tx_history[] = {"Treatment history?", "What treatment has $S had so far?",
                                           "Summary of oncologic treatment?", "Prior therapies?",
                                           "What has been done for $O cancer?"};
static const char *const t_meds[] = {"Current medications?", "What medications is $S taking?", "Med list?", "Home meds?",
                                     "What is $S on at home?"};
static const char *const t_drug[] = {"Is $S on $X?", "What dose of $X is $S taking?", "$X dose?", "Is $S still taking $X?"};
static const char *const t_antiemetic[] = {"What antiemetic does $S have?", "Antiemetic prescribed?",
                                           "Which antinausea medication is $S on?", "Any antiemetics on the med list?"};
static const char *const t_tox[] = {"Has $S had $X?", "Any $X during radiation?", "Did $S develop $X on treatment?", "$X?",
                                    "Grade of $X?", "Is $S experiencing $X?", "Any $X with RT?"};
static const char *const t_tox_any[] = {"What side effects has $S had from radiation?", "Any acute toxicity during RT?",
                                        "How is $S tolerating radiation?", "Radiation side effects?",
                                        "On-treatment toxicities?"};
static const char *const t_smoking[] = {"Smoking history?", "Does $S smoke?", "Tobacco use?", "Is $S a current smoker?",
                                        "Any history of tobacco use?"};
static const char *const t_smoking_py[] = {"Smoking history?", "Does $S smoke?", "Tobacco use?", "How many pack-years?",
                                           "Is $S a current smoker?", "Pack-year history?"};

/* Biomarkers: key, words for $X. */
typedef struct bio_words {
    const char *key;
    const char *words[3];
} bio_words;

static const bio_words bio_table[] = {
    {"er", {"ER", "estrogen receptor", "ER (estrogen receptor)"}},
    {"pr", {"PR", "progesterone receptor", "PgR"}},
    {"her2", {"HER2", "HER2/neu", "ERBB2 (HER2)"}},
    {"egfr", {"EGFR", "EGFR mutation", "EGFR"}},
    {"alk", {"ALK", "ALK rearrangement", "ALK fusion"}},
    {"kras", {"KRAS", "KRAS mutation", "KRAS"}},
    {"msi", {"MSI", "microsatellite instability", "MSI/MMR"}},
    {"pdl1", {"PD-L1", "PD-L1 TPS", "PD-L1 expression"}},
    {"p16", {"p16", "p16/HPV", "p16"}},
};

/* Question words per symptom (a subset of the notes' vocabulary). */
static const char *const q_symptom[SYNTH_N_SYMPTOMS][3] = {
    {"fatigue", "tiredness", "low energy"},
    {"nausea", "queasiness", "nausea"},
    {"vomiting", "emesis", "vomiting"},
    {"diarrhea", "loose stools", "diarrhea"},
    {"radiation dermatitis", "skin reaction", "desquamation"},
    {"mucositis", "mouth sores", "mucositis"},
    {"dysphagia", "difficulty swallowing", "dysphagia"},
    {"esophagitis", "odynophagia", "painful swallowing"},
    {"xerostomia", "dry mouth", "xerostomia"},
    {"cystitis", "dysuria", "cystitis"},
    {"proctitis", "rectal urgency", "tenesmus"},
    {"pneumonitis", "radiation pneumonitis", "pneumonitis"},
};

static const char *const w_hgb[] = {"hemoglobin", "Hgb", "Hb"};
static const char *const w_wbc[] = {"white count", "WBC", "white blood cell count"};
static const char *const w_plt[] = {"platelet count", "platelets", "Plt"};
static const char *const w_cr[] = {"creatinine", "Cr", "serum creatinine"};

// --- judgement helpers -----------------------------------------------------------------------

static void grade_up(uint8_t *g, int i, int grade) {
    if (g[i] < grade) g[i] = (uint8_t)grade;
}

/* Grade every note stating any of `facts`. */
static void grade_facts(const synth_record *rec, uint8_t *g, uint32_t facts, int grade) {
    for (int i = 0; i < rec->n_notes; i++)
        if (rec->notes[i].facts & facts) grade_up(g, i, grade);
}

/* Grade every note naming any treatment in `mask`. */
static void grade_tx(const synth_record *rec, uint8_t *g, uint32_t mask, int grade) {
    for (int i = 0; i < rec->n_notes; i++)
        if (rec->notes[i].tx_named & mask) grade_up(g, i, grade);
}

/* The latest (highest index: notes are in date order) note stating any of `facts`, -1 if none. */
static int latest_with(const synth_record *rec, uint32_t facts) {
    for (int i = rec->n_notes - 1; i >= 0; i--)
        if (rec->notes[i].facts & facts) return i;
    return -1;
}

/* "Most recent X" questions: the latest note stating X is 2, older ones 1. */
static void grade_latest(const synth_record *rec, uint8_t *g, uint32_t facts) {
    grade_facts(rec, g, facts, 1);
    const int k = latest_with(rec, facts);
    if (k >= 0) g[k] = 2;
}

static bool has_grade2(const cand *c, int n_notes) {
    for (int i = 0; i < n_notes; i++)
        if (c->grade[i] == 2) return true;
    return false;
}

/* Start a candidate; commit() keeps it only when some note answers it. */
static cand *begin(cand_set *s, synth_qcat cat, const char *topic, const char *const *tpl, int n_tpl) {
    ONC_ASSERT(s->n < MAX_CANDS);
    cand *c = &s->c[s->n];
    memset(c, 0, sizeof *c);
    c->cat = cat;
    snprintf(c->topic, sizeof c->topic, "%s", topic);
    c->tpl = tpl;
    c->n_tpl = n_tpl;
    return c;
}

static void commit(cand_set *s, const synth_record *rec) {
    if (has_grade2(&s->c[s->n], rec->n_notes)) s->n++;
}

static uint32_t tx_mask(const synth_patient *pt, int kind) {
    uint32_t m = 0;
    for (int i = 0; i < pt->n_tx; i++)
        if ((int)pt->tx[i].kind == kind) m |= 1u << i;
    return m;
}

// --- candidates per category -------------------------------------------------------------------

static void add_biomarkers(cand_set *s, const synth_record *rec) {
    const synth_biomarkers *m = &rec->pt.bio;
    const int value[SYNTH_COUNT(bio_table)] = {m->er, m->pr, m->her2, m->egfr, m->alk, m->kras, m->msi, m->pdl1, m->p16};
    for (uint32_t k = 0; k < SYNTH_COUNT(bio_table); k++) {
        if (value[k] < 0) continue;
        cand *c = begin(s, QCAT_BIOMARKERS, bio_table[k].key, TPL(t_biomarker));
        c->items = bio_table[k].words;
        c->n_items = 3;
        grade_facts(rec, c->grade, SYNTH_FACT_BIOMARKERS, 2);
        commit(s, rec);
    }
}

static void add_diagnosis(cand_set *s, const synth_record *rec) {
    cand *c = begin(s, QCAT_DIAGNOSIS, "diagnosis", TPL(t_diagnosis));
    grade_facts(rec, c->grade, SYNTH_FACT_CANCER_NAMED, 1);
    grade_facts(rec, c->grade, SYNTH_FACT_DIAGNOSIS, 2);
    commit(s, rec);
    c = begin(s, QCAT_DIAGNOSIS, "icd10", TPL(t_icd));
    grade_facts(rec, c->grade, SYNTH_FACT_DIAGNOSIS, 1);
    grade_facts(rec, c->grade, SYNTH_FACT_ICD, 2);
    commit(s, rec);
}

/* Disease status: the latest status statement (progress assessment or CT
 * impression) is 2, and so is the latest CT when it is a restaging CT (after
 * the first treatment); older statements and the letter's hints are 1. */
static void add_status(cand_set *s, const synth_record *rec) {
    cand *c = begin(s, QCAT_STATUS, "disease_status", TPL(t_status));
    grade_facts(rec, c->grade, SYNTH_FACT_STATUS | SYNTH_FACT_STATUS_HINT, 1);
    const int k = latest_with(rec, SYNTH_FACT_STATUS);
    if (k >= 0) c->grade[k] = 2;
    for (int i = rec->n_notes - 1; i >= 0; i--)
        if (rec->notes[i].type == ONC_NOTE_CT) {
            if (rec->notes[i].date >= rec->pt.first_tx_date) c->grade[i] = 2;
            break;
        }
    commit(s, rec);
}

static void add_labs(cand_set *s, const synth_record *rec) {
    const synth_patient *pt = &rec->pt;
    char topic[40];
    if (pt->marker_name) {
        static const char *const names[][2] = {{"CA 19-9", "ca19-9"}, {"CEA", "cea"}, {"PSA", "psa"}};
        const char *key = "marker";
        const char *const *item = NULL;
        for (uint32_t k = 0; k < SYNTH_COUNT(names); k++)
            if (!strcmp(pt->marker_name, names[k][0])) key = names[k][1], item = &names[k][0];
        if (item) {
            snprintf(topic, sizeof topic, "%s_latest", key);
            cand *c = begin(s, QCAT_LABS, topic, TPL(t_marker_last));
            c->items = item, c->n_items = 1;
            grade_facts(rec, c->grade, SYNTH_FACT_MARKER_DX | SYNTH_FACT_MARKER_NAMED, 1);
            if (latest_with(rec, SYNTH_FACT_MARKER_LAST) >= 0) grade_latest(rec, c->grade, SYNTH_FACT_MARKER_LAST);
            else grade_latest(rec, c->grade, SYNTH_FACT_MARKER_DX);
            commit(s, rec);
            snprintf(topic, sizeof topic, "%s_at_diagnosis", key);
            c = begin(s, QCAT_LABS, topic, TPL(t_marker_dx));
            c->items = item, c->n_items = 1;
            grade_facts(rec, c->grade, SYNTH_FACT_MARKER_NAMED, 1);
            grade_facts(rec, c->grade, SYNTH_FACT_MARKER_DX, 2);
            commit(s, rec);
        }
    }
    static const struct {
        const char *topic;
        const char *const *words;
    } labs[] = {{"hemoglobin", w_hgb}, {"wbc", w_wbc}, {"platelets", w_plt}, {"creatinine", w_cr}};
    for (uint32_t k = 0; k < SYNTH_COUNT(labs); k++) {
        cand *c = begin(s, QCAT_LABS, labs[k].topic, TPL(t_lab));
        c->items = labs[k].words, c->n_items = 3;
        grade_latest(rec, c->grade, SYNTH_FACT_LABS);
        commit(s, rec);
    }
}

static void add_tumor(cand_set *s, const synth_record *rec) {
    const synth_patient *pt = &rec->pt;
    cand *c;
    if (pt->site == SITE_BRAIN) {
        /* synth_put_stage writes "WHO grade 4" for glioblastoma. */
        c = begin(s, QCAT_TUMOR, "who_grade", TPL(t_who_grade));
        grade_facts(rec, c->grade, SYNTH_FACT_DIAGNOSIS, 1);
        grade_facts(rec, c->grade, SYNTH_FACT_STAGE, 2);
        commit(s, rec);
    } else if (pt->site == SITE_PROSTATE) {
        c = begin(s, QCAT_TUMOR, "gleason", TPL(t_gleason));
        grade_facts(rec, c->grade, SYNTH_FACT_DIAGNOSIS, 1);
        grade_facts(rec, c->grade, SYNTH_FACT_GRADE | SYNTH_FACT_BIOMARKERS, 2); /* the biomarker line has the Gleason score */
        commit(s, rec);
    } else {
        c = begin(s, QCAT_TUMOR, "grade", TPL(t_grade));
        grade_facts(rec, c->grade, SYNTH_FACT_DIAGNOSIS, 1);
        grade_facts(rec, c->grade, SYNTH_FACT_GRADE, 2);
        commit(s, rec);
    }
    c = begin(s, QCAT_TUMOR, "lvi", TPL(t_lvi));
    for (int i = 0; i < rec->n_notes; i++)
        if (rec->notes[i].lvi >= 0) c->grade[i] = 2;
    commit(s, rec);
    if (pt->site == SITE_BREAST) c = begin(s, QCAT_TUMOR, "location", TPL(t_loc_breast));
    else if (pt->site == SITE_LUNG) c = begin(s, QCAT_TUMOR, "location", TPL(t_loc_lung));
    else if (pt->site == SITE_PANCREAS) c = begin(s, QCAT_TUMOR, "location", TPL(t_loc_pancreas));
    else c = begin(s, QCAT_TUMOR, "location", TPL(t_location));
    grade_facts(rec, c->grade, SYNTH_FACT_CANCER_NAMED, 1);
    grade_facts(rec, c->grade, SYNTH_FACT_SUBSITE, 2);
    commit(s, rec);
    c = begin(s, QCAT_TUMOR, "size", TPL(t_size));
    grade_latest(rec, c->grade, SYNTH_FACT_TUMOR_SIZE);
    commit(s, rec);
    c = begin(s, QCAT_TUMOR, "histology", TPL(t_histology));
    grade_facts(rec, c->grade, SYNTH_FACT_CANCER_NAMED, 1);
    grade_facts(rec, c->grade, SYNTH_FACT_DIAGNOSIS, 2);
    commit(s, rec);
}

static void add_staging(cand_set *s, const synth_record *rec) {
    if (rec->pt.stage < 0) return; /* glioblastoma: no TNM */
    cand *c = begin(s, QCAT_STAGING, "stage", TPL(t_stage));
    grade_facts(rec, c->grade, SYNTH_FACT_EXTENT, 1);
    grade_facts(rec, c->grade, SYNTH_FACT_STAGE, 2);
    commit(s, rec);
    c = begin(s, QCAT_STAGING, "nodes", TPL(t_nodes));
    grade_facts(rec, c->grade, SYNTH_FACT_EXTENT, 1);
    grade_facts(rec, c->grade, SYNTH_FACT_STAGE, 2);
    commit(s, rec);
    c = begin(s, QCAT_STAGING, "metastases", TPL(t_mets));
    grade_facts(rec, c->grade, SYNTH_FACT_EXTENT, 1);
    grade_facts(rec, c->grade, SYNTH_FACT_STAGE | SYNTH_FACT_METS, 2);
    commit(s, rec);
}

static void add_treatment(cand_set *s, const synth_record *rec) {
    const synth_patient *pt = &rec->pt;
    cand *c;
    if (pt->rt) {
        c = begin(s, QCAT_TREATMENT, "radiotherapy", TPL(t_rt));
        grade_tx(rec, c->grade, tx_mask(pt, TX_RT), 1);
        grade_facts(rec, c->grade, SYNTH_FACT_RT_REGIMEN, 2);
        commit(s, rec);
    }
    c = begin(s, QCAT_TREATMENT, "surgery", TPL(t_surgery));
    grade_facts(rec, c->grade, SYNTH_FACT_TX_HISTORY, 1);
    grade_tx(rec, c->grade, tx_mask(pt, TX_SURGERY), 2);
    commit(s, rec);
    /* Systemic therapy: one candidate per kind the notes name. */
    static const struct {
        int kind;
        const char *topic;
        const char *const *tpl;
        int n_tpl;
    } sys[] = {{TX_CHEMO, "chemotherapy", TPL(t_chemo)},
               {TX_ENDOCRINE, "endocrine_therapy", TPL(t_systemic)},
               {TX_TARGETED, "targeted_therapy", TPL(t_targeted)},
               {TX_IMMUNO, "immunotherapy", TPL(t_immuno)}};
    for (uint32_t k = 0; k < SYNTH_COUNT(sys); k++) {
        const uint32_t mask = tx_mask(pt, sys[k].kind);
        if (!mask) continue;
        c = begin(s, QCAT_TREATMENT, sys[k].topic, sys[k].tpl, sys[k].n_tpl);
        grade_facts(rec, c->grade, SYNTH_FACT_TX_HISTORY, 1);
        grade_tx(rec, c->grade, mask, 2);
        commit(s, rec);
    }
    /* Treatment history: 2 when the note names every treatment begun by the
     * last note's date (the letter does), else 1 when it names any or has a
     * treatment-history paragraph. */
    c = begin(s, QCAT_TREATMENT, "treatment_history", TPL(t_tx_history));
    const int32_t last = rec->notes[rec->n_notes - 1].date;
    uint32_t begun = 0;
    for (int i = 0; i < pt->n_tx; i++)
        if (pt->tx[i].start <= last) begun |= 1u << i;
    grade_facts(rec, c->grade, SYNTH_FACT_TX_HISTORY, 1);
    grade_tx(rec, c->grade, ~0u, 1);
    for (int i = 0; i < rec->n_notes; i++)
        if (begun && (rec->notes[i].facts & SYNTH_FACT_TX_HISTORY) && (rec->notes[i].tx_named & begun) == begun)
            c->grade[i] = 2;
    commit(s, rec);
}

static void add_medications(cand_set *s, const synth_record *rec) {
    const synth_patient *pt = &rec->pt;
    cand *c = begin(s, QCAT_MEDICATIONS, "medication_list", TPL(t_meds));
    grade_latest(rec, c->grade, SYNTH_FACT_MEDS);
    commit(s, rec);
    for (int k = 0; k < pt->n_meds; k++) {
        char name[32];
        const size_t len = strcspn(pt->meds[k], " ");
        snprintf(name, sizeof name, "%.*s", (int)(len < 31 ? len : 31), pt->meds[k]);
        char topic[40];
        snprintf(topic, sizeof topic, "drug:%s", name);
        c = begin(s, QCAT_MEDICATIONS, topic, TPL(t_drug));
        snprintf(c->item_buf, sizeof c->item_buf, "%s", name);
        grade_latest(rec, c->grade, SYNTH_FACT_MEDS);
        commit(s, rec);
    }
    c = begin(s, QCAT_MEDICATIONS, "antiemetic", TPL(t_antiemetic));
    for (int i = 0; i < rec->n_notes; i++) /* the toxicity plan names the antiemetic for nausea / vomiting */
        if (rec->notes[i].type == ONC_NOTE_TOXICITY && (rec->notes[i].tox_present & (1u << SYM_NAUSEA | 1u << SYM_VOMITING)))
            c->grade[i] = 1;
    grade_latest(rec, c->grade, SYNTH_FACT_MEDS);
    commit(s, rec);
}

static void add_toxicities(cand_set *s, const synth_record *rec) {
    uint32_t any = 0;
    for (int i = 0; i < rec->n_notes; i++)
        if (rec->notes[i].type == ONC_NOTE_TOXICITY) any |= rec->notes[i].tox_present;
    if (!any) return;
    for (int sym = 0; sym < SYNTH_N_SYMPTOMS; sym++) {
        if (!(any >> sym & 1)) continue;
        cand *c = begin(s, QCAT_TOXICITIES, synth_symptom_keys[sym], TPL(t_tox));
        c->items = q_symptom[sym], c->n_items = 3;
        for (int i = 0; i < rec->n_notes; i++) {
            const synth_note *n = &rec->notes[i];
            if (n->type != ONC_NOTE_TOXICITY) continue;
            if (n->tox_present >> sym & 1) c->grade[i] = 2;
            else if (n->tox_negated >> sym & 1) c->grade[i] = 1;
        }
        commit(s, rec);
    }
    cand *c = begin(s, QCAT_TOXICITIES, "any_toxicity", TPL(t_tox_any));
    grade_facts(rec, c->grade, SYNTH_FACT_TOLERANCE, 1);
    for (int i = 0; i < rec->n_notes; i++)
        if (rec->notes[i].type == ONC_NOTE_TOXICITY) c->grade[i] = rec->notes[i].tox_present ? 2 : 1;
    commit(s, rec);
}

static void add_social(cand_set *s, const synth_record *rec) {
    cand *c = rec->pt.smoking ? begin(s, QCAT_SOCIAL, "smoking", TPL(t_smoking_py))
                              : begin(s, QCAT_SOCIAL, "smoking", TPL(t_smoking));
    grade_facts(rec, c->grade, SYNTH_FACT_SMOKING_ADVICE, 1);
    grade_facts(rec, c->grade, SYNTH_FACT_SMOKING, 2);
    commit(s, rec);
}

// --- phrasing --------------------------------------------------------------------------------

/* Expand tpl into out: $S subject, $O possessive, $X item; the first letter
 * is capitalised unless the first word has a digit ("p16 status?"). */
static void expand(char *out, size_t cap, const char *tpl, const char *subj, const char *poss, const char *item) {
    size_t n = 0;
    for (const char *t = tpl; *t && n + 1 < cap; t++) {
        const char *ins = NULL;
        if (t[0] == '$' && (t[1] == 'S' || t[1] == 'O' || t[1] == 'X')) {
            ins = t[1] == 'S' ? subj : t[1] == 'O' ? poss : item;
            t++;
        }
        if (ins)
            for (; *ins && n + 1 < cap; ins++) out[n++] = *ins;
        else out[n++] = *t;
    }
    out[n] = '\0';
    bool digit = false;
    for (size_t i = 0; out[i] && out[i] != ' '; i++) digit |= out[i] >= '0' && out[i] <= '9';
    if (!digit && out[0] >= 'a' && out[0] <= 'z') out[0] = (char)(out[0] - 'a' + 'A');
}

void synth_queries_generate(const synth_config *cfg, const synth_record *rec, synth_query out[SYNTH_MAX_QUERIES],
                            int *n_out) {
    const synth_patient *pt = &rec->pt;
    synth_rng r;
    synth_rng_seed(&r, synth_hash64(cfg->seed ^ 0x51554552595F5331ull /* "QUERY_S1" */), (uint64_t)pt->index);
    cand_set s; /* ~8 KB on the stack */
    s.n = 0;
    add_biomarkers(&s, rec);
    add_diagnosis(&s, rec);
    add_status(&s, rec);
    add_labs(&s, rec);
    add_tumor(&s, rec);
    add_staging(&s, rec);
    add_treatment(&s, rec);
    add_medications(&s, rec);
    add_toxicities(&s, rec);
    add_social(&s, rec);
    /* Categories with at least one answerable question. */
    int cats[SYNTH_N_QCATS], n_cats = 0;
    for (int k = 0; k < SYNTH_N_QCATS; k++)
        for (int i = 0; i < s.n; i++)
            if ((int)s.c[i].cat == k) {
                cats[n_cats++] = k;
                break;
            }
    int want = synth_rng_range(&r, 3, SYNTH_MAX_QUERIES);
    if (want > n_cats) want = n_cats;
    /* A uniform choice of `want` categories (partial Fisher-Yates), asked in category order. */
    for (int i = 0; i < want; i++) {
        const int j = i + (int)synth_rng_below(&r, (uint32_t)(n_cats - i));
        const int t = cats[i];
        cats[i] = cats[j];
        cats[j] = t;
    }
    for (int i = 1; i < want; i++)
        for (int j = i; j > 0 && cats[j - 1] > cats[j]; j--) {
            const int t = cats[j];
            cats[j] = cats[j - 1];
            cats[j - 1] = t;
        }
    static const char *const subj_f[] = {"she", "the patient", "pt"}, *const subj_m[] = {"he", "the patient", "pt"};
    static const char *const poss_f[] = {"her", "the patient's", "pt's"}, *const poss_m[] = {"his", "the patient's", "pt's"};
    for (int q = 0; q < want; q++) {
        int idx[MAX_CANDS], n_idx = 0;
        for (int i = 0; i < s.n; i++)
            if ((int)s.c[i].cat == cats[q]) idx[n_idx++] = i;
        const cand *c = &s.c[idx[synth_rng_below(&r, (uint32_t)n_idx)]];
        const char *tpl = c->tpl[synth_rng_below(&r, (uint32_t)c->n_tpl)];
        const char *item = c->items ? c->items[synth_rng_below(&r, (uint32_t)c->n_items)] : c->item_buf;
        const int style = synth_rng_weighted(&r, (const double[]){45, 40, 15}, 3);
        synth_query *o = &out[q];
        snprintf(o->id, sizeof o->id, "%s-Q%02d", pt->id, q + 1);
        o->category = c->cat;
        snprintf(o->topic, sizeof o->topic, "%s", c->topic);
        expand(o->text, sizeof o->text, tpl, (pt->male ? subj_m : subj_f)[style], (pt->male ? poss_m : poss_f)[style], item);
        memcpy(o->grade, c->grade, sizeof o->grade);
    }
    *n_out = want;
}
