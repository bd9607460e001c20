/* synth_tables.c — the fixed tables of the synthetic generator: primary
 * sites and their mix, the curated ICD-10-CM codes, radiotherapy regimens,
 * the 12 toxicity symptoms with their synonyms and likelihoods, authors and
 * names. Changing any value changes the corpus bytes: bump
 * ONC_SYNTH_VERSION. */
#include <string.h>

#include "synth/synth_internal.h"

const char *const synth_site_keys[SYNTH_N_SITES] = {
    "breast", "lung", "pancreas", "prostate", "rectum", "colon", "head_neck", "esophagus", "cervix", "brain",
};

/* Share of patients per site (percent). Pancreas is 12.5 % so that, with one
 * pre-treatment CT and on average two post-treatment CTs per pancreatic
 * patient against about one CT per other patient, CT labels come out near
 * 70 % / 20 % / 10 % (docs/SYNTH.md). */
const double synth_site_weights[SYNTH_N_SITES] = {18, 16, 12.5, 14, 8, 8, 8, 5, 5, 5.5};

/* Curated ICD-10-CM codes (C00-D49) used by the generator, with their
 * official descriptions as in the ICD-10-CM Tabular List of Diseases and
 * Injuries (CDC/NCHS). Kept small on purpose: only codes the generator
 * assigns. */
const synth_icd synth_icd10[] = {
    {"C01", "Malignant neoplasm of base of tongue"},
    {"C09.9", "Malignant neoplasm of tonsil, unspecified"},
    {"C15.5", "Malignant neoplasm of lower third of esophagus"},
    {"C15.9", "Malignant neoplasm of esophagus, unspecified"},
    {"C18.0", "Malignant neoplasm of cecum"},
    {"C18.2", "Malignant neoplasm of ascending colon"},
    {"C18.7", "Malignant neoplasm of sigmoid colon"},
    {"C18.9", "Malignant neoplasm of colon, unspecified"},
    {"C20", "Malignant neoplasm of rectum"},
    {"C25.0", "Malignant neoplasm of head of pancreas"},
    {"C25.1", "Malignant neoplasm of body of pancreas"},
    {"C25.2", "Malignant neoplasm of tail of pancreas"},
    {"C25.9", "Malignant neoplasm of pancreas, unspecified"},
    {"C32.0", "Malignant neoplasm of glottis"},
    {"C32.9", "Malignant neoplasm of larynx, unspecified"},
    {"C34.11", "Malignant neoplasm of upper lobe, right bronchus or lung"},
    {"C34.12", "Malignant neoplasm of upper lobe, left bronchus or lung"},
    {"C34.2", "Malignant neoplasm of middle lobe, bronchus or lung"},
    {"C34.31", "Malignant neoplasm of lower lobe, right bronchus or lung"},
    {"C34.32", "Malignant neoplasm of lower lobe, left bronchus or lung"},
    {"C34.90", "Malignant neoplasm of unspecified part of unspecified bronchus or lung"},
    {"C50.411", "Malignant neoplasm of upper-outer quadrant of right female breast"},
    {"C50.412", "Malignant neoplasm of upper-outer quadrant of left female breast"},
    {"C50.911", "Malignant neoplasm of unspecified site of right female breast"},
    {"C50.912", "Malignant neoplasm of unspecified site of left female breast"},
    {"C53.9", "Malignant neoplasm of cervix uteri, unspecified"},
    {"C61", "Malignant neoplasm of prostate"},
    {"C71.1", "Malignant neoplasm of frontal lobe"},
    {"C71.2", "Malignant neoplasm of temporal lobe"},
    {"C71.9", "Malignant neoplasm of brain, unspecified"},
    {"C78.7", "Secondary malignant neoplasm of liver and intrahepatic bile duct"},
    {"C79.31", "Secondary malignant neoplasm of brain"},
    {"C79.51", "Secondary malignant neoplasm of bone"},
    {"D05.11", "Intraductal carcinoma in situ of right breast"},
    {"D05.12", "Intraductal carcinoma in situ of left breast"},
};
const size_t synth_n_icd10 = sizeof synth_icd10 / sizeof synth_icd10[0];

const synth_icd *synth_icd_find(const char *code) {
    for (size_t i = 0; i < synth_n_icd10; i++)
        if (strcmp(synth_icd10[i].code, code) == 0) return &synth_icd10[i];
    return NULL;
}

const char *const synth_modality_names[SYNTH_N_MODALITIES] = {"photon", "proton", "electron", "brachytherapy"};

#define IMRT "IMRT", "intensity-modulated radiation therapy"
#define VMAT "VMAT", "volumetric modulated arc therapy"
#define CRT "3D-CRT", "three-dimensional conformal radiation therapy"
#define SBRT "SBRT", "stereotactic body radiation therapy"
#define SRS "SRS", "stereotactic radiosurgery"
#define IMPT "IMPT", "intensity-modulated proton therapy"
#define PBS "PBS", "pencil-beam scanning proton therapy"
#define ELEC "en face electrons", "en face electron beam"
#define HDR "HDR", "high-dose-rate brachytherapy"
#define LDR "LDR", "low-dose-rate permanent seed implant brachytherapy"

/* Regimens per site; palliative rows (bone, brain metastases) are chosen for
 * stage IV patients of any site. Dose in Gy, fractions. */
const synth_regimen synth_regimens[] = {
    {SITE_BREAST, false, 40.05, 15, CRT, MOD_PHOTON, REGION_BREAST, "whole breast"},
    {SITE_BREAST, false, 26.0, 5, CRT, MOD_PHOTON, REGION_BREAST, "whole breast"},
    {SITE_BREAST, false, 50.0, 25, VMAT, MOD_PHOTON, REGION_BREAST, "breast and regional lymph nodes"},
    {SITE_BREAST, false, 10.0, 5, ELEC, MOD_ELECTRON, REGION_BREAST, "lumpectomy cavity boost"},
    {SITE_BREAST, false, 50.0, 25, PBS, MOD_PROTON, REGION_BREAST, "chest wall and regional lymph nodes"},
    {SITE_BREAST, false, 34.0, 10, HDR, MOD_BRACHY, REGION_BREAST, "lumpectomy cavity (partial breast, twice daily)"},
    {SITE_LUNG, false, 54.0, 3, SBRT, MOD_PHOTON, REGION_THORAX, "peripheral lung lesion"},
    {SITE_LUNG, false, 50.0, 5, SBRT, MOD_PHOTON, REGION_THORAX, "lung lesion"},
    {SITE_LUNG, false, 60.0, 30, IMRT, MOD_PHOTON, REGION_THORAX, "primary tumor and involved mediastinal nodes"},
    {SITE_LUNG, false, 60.0, 30, PBS, MOD_PROTON, REGION_THORAX, "primary tumor and involved mediastinal nodes"},
    {SITE_PANCREAS, false, 33.0, 5, SBRT, MOD_PHOTON, REGION_ABDOMEN, "pancreatic tumor and vessel interface"},
    {SITE_PANCREAS, false, 50.4, 28, IMRT, MOD_PHOTON, REGION_ABDOMEN, "pancreatic tumor and regional nodes"},
    {SITE_PANCREAS, false, 50.4, 28, PBS, MOD_PROTON, REGION_ABDOMEN, "pancreatic tumor and regional nodes"},
    {SITE_PROSTATE, false, 70.0, 28, IMRT, MOD_PHOTON, REGION_PELVIS, "prostate and proximal seminal vesicles"},
    {SITE_PROSTATE, false, 36.25, 5, SBRT, MOD_PHOTON, REGION_PELVIS, "prostate"},
    {SITE_PROSTATE, false, 79.2, 44, PBS, MOD_PROTON, REGION_PELVIS, "prostate and seminal vesicles"},
    {SITE_PROSTATE, false, 145.0, 1, LDR, MOD_BRACHY, REGION_PELVIS, "prostate (I-125 seeds)"},
    {SITE_PROSTATE, false, 15.0, 1, HDR, MOD_BRACHY, REGION_PELVIS, "prostate (Ir-192)"},
    {SITE_RECTUM, false, 25.0, 5, CRT, MOD_PHOTON, REGION_PELVIS, "rectum and mesorectum"},
    {SITE_RECTUM, false, 50.4, 28, IMRT, MOD_PHOTON, REGION_PELVIS, "rectum, mesorectum and pelvic nodes"},
    {SITE_HEAD_NECK, false, 70.0, 35, IMRT, MOD_PHOTON, REGION_HEAD_NECK, "primary tumor and bilateral neck"},
    {SITE_HEAD_NECK, false, 70.0, 35, VMAT, MOD_PHOTON, REGION_HEAD_NECK, "primary tumor and bilateral neck"},
    {SITE_HEAD_NECK, false, 70.0, 35, IMPT, MOD_PROTON, REGION_HEAD_NECK, "primary tumor and bilateral neck"},
    {SITE_HEAD_NECK, false, 63.0, 28, CRT, MOD_PHOTON, REGION_HEAD_NECK, "larynx"},
    {SITE_ESOPHAGUS, false, 41.4, 23, IMRT, MOD_PHOTON, REGION_THORAX, "esophageal tumor and regional nodes"},
    {SITE_ESOPHAGUS, false, 50.4, 28, VMAT, MOD_PHOTON, REGION_THORAX, "esophageal tumor and regional nodes"},
    {SITE_ESOPHAGUS, false, 50.4, 28, PBS, MOD_PROTON, REGION_THORAX, "esophageal tumor and regional nodes"},
    {SITE_CERVIX, false, 45.0, 25, IMRT, MOD_PHOTON, REGION_PELVIS, "cervix, uterus and pelvic nodes"},
    {SITE_CERVIX, false, 28.0, 4, HDR, MOD_BRACHY, REGION_PELVIS, "cervix (tandem and ovoid applicator)"},
    {SITE_BRAIN, false, 60.0, 30, IMRT, MOD_PHOTON, REGION_BRAIN, "resection cavity and residual tumor"},
    {SITE_BRAIN, false, 60.0, 30, PBS, MOD_PROTON, REGION_BRAIN, "resection cavity and residual tumor"},
    {SITE_BRAIN, false, 40.05, 15, VMAT, MOD_PHOTON, REGION_BRAIN, "resection cavity and residual tumor"},
    /* palliative, any site */
    {SYNTH_N_SITES, true, 8.0, 1, CRT, MOD_PHOTON, REGION_BONE, "painful bone metastasis"},
    {SYNTH_N_SITES, true, 20.0, 5, CRT, MOD_PHOTON, REGION_BONE, "spine metastasis"},
    {SYNTH_N_SITES, true, 30.0, 10, CRT, MOD_PHOTON, REGION_BONE, "bone metastases"},
    {SYNTH_N_SITES, true, 20.0, 1, SRS, MOD_PHOTON, REGION_BRAIN, "brain metastasis"},
};
const size_t synth_n_regimens = sizeof synth_regimens / sizeof synth_regimens[0];

const char *const synth_symptom_keys[SYNTH_N_SYMPTOMS] = {
    "fatigue",   "nausea",      "vomiting",    "diarrhea", "radiation_dermatitis", "mucositis",
    "dysphagia", "esophagitis", "xerostomia", "cystitis", "proctitis",            "pneumonitis",
};

/* Synonyms: no term of one symptom is a substring of a term of another, so
 * the text check in tests/test_synth.c can attribute every mention. */
static const char *const t_fatigue[] = {"fatigue", "tiredness", "low energy", "feeling worn out", NULL};
static const char *const t_nausea[] = {"nausea", "queasiness", "feeling nauseated", NULL};
static const char *const t_vomiting[] = {"vomiting", "emesis", "episodes of throwing up", NULL};
static const char *const t_diarrhea[] = {"diarrhea", "loose stools", "frequent watery bowel movements", NULL};
static const char *const t_dermatitis[] = {"radiation dermatitis", "skin reaction in the treatment field",
                                           "desquamation", NULL};
static const char *const t_mucositis[] = {"mucositis", "mouth sores", "oral ulcerations", NULL};
static const char *const t_dysphagia[] = {"dysphagia", "difficulty swallowing", "trouble getting food down", NULL};
static const char *const t_esophagitis[] = {"esophagitis", "odynophagia", "painful swallowing", NULL};
static const char *const t_xerostomia[] = {"xerostomia", "dry mouth", "mouth dryness", NULL};
static const char *const t_cystitis[] = {"cystitis", "dysuria", "burning with urination", NULL};
static const char *const t_proctitis[] = {"proctitis", "rectal urgency", "tenesmus", NULL};
static const char *const t_pneumonitis[] = {"pneumonitis", "radiation pneumonitis", "lung inflammation", NULL};

const char *const *const synth_symptom_terms[SYNTH_N_SYMPTOMS] = {
    t_fatigue,   t_nausea,      t_vomiting,   t_diarrhea, t_dermatitis,  t_mucositis,
    t_dysphagia, t_esophagitis, t_xerostomia, t_cystitis, t_proctitis, t_pneumonitis,
};

double synth_symptom_prob(synth_symptom s, synth_region region, bool concurrent_chemo) {
    /* rows: symptom; columns: breast, thorax, abdomen, pelvis, head_neck, brain, bone */
    static const double p[SYNTH_N_SYMPTOMS][SYNTH_N_REGIONS] = {
        [SYM_FATIGUE] = {0.55, 0.6, 0.6, 0.5, 0.65, 0.6, 0.4},
        [SYM_NAUSEA] = {0.05, 0.1, 0.5, 0.1, 0.15, 0.3, 0.1},
        [SYM_VOMITING] = {0.01, 0.03, 0.2, 0.03, 0.05, 0.1, 0.03},
        [SYM_DIARRHEA] = {0.01, 0.02, 0.3, 0.45, 0.02, 0.01, 0.03},
        [SYM_DERMATITIS] = {0.7, 0.1, 0.05, 0.12, 0.5, 0.05, 0.05},
        [SYM_MUCOSITIS] = {0.0, 0.02, 0.0, 0.0, 0.6, 0.0, 0.0},
        [SYM_DYSPHAGIA] = {0.0, 0.25, 0.02, 0.0, 0.5, 0.01, 0.01},
        [SYM_ESOPHAGITIS] = {0.05, 0.4, 0.03, 0.0, 0.1, 0.0, 0.02},
        [SYM_XEROSTOMIA] = {0.0, 0.0, 0.0, 0.0, 0.6, 0.0, 0.0},
        [SYM_CYSTITIS] = {0.0, 0.0, 0.02, 0.35, 0.0, 0.0, 0.01},
        [SYM_PROCTITIS] = {0.0, 0.0, 0.01, 0.3, 0.0, 0.0, 0.01},
        [SYM_PNEUMONITIS] = {0.03, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0},
    };
    double v = p[s][region];
    if (concurrent_chemo && (s == SYM_NAUSEA || s == SYM_FATIGUE || s == SYM_VOMITING)) v = v * 1.5 + 0.05;
    return v > 0.95 ? 0.95 : v;
}

const synth_author synth_authors[] = {
    {"Dr. A. Okafor", 0, true, false, false},  {"Dr. M. Lindqvist", 1, false, true, false},
    {"Dr. R. Castellano", 2, true, true, true}, {"Dr. S. Nakamura", 3, false, false, false},
    {"Dr. J. Whitfield", 1, true, false, true}, {"Dr. P. Mehta", 0, false, true, false},
    {"Dr. L. Dubois", 2, false, false, true},   {"Dr. K. Andersen", 3, true, true, false},
};
const size_t synth_n_authors = sizeof synth_authors / sizeof synth_authors[0];

const char *const synth_first_names_f[] = {"Maria", "Susan", "Aisha", "Linda", "Mei", "Fatima", "Elena", "Grace",
                                           "Priya", "Joan", "Ingrid", "Rosa", "Hannah", "Yuki", "Carmen", "Ruth"};
const char *const synth_first_names_m[] = {"James", "Ahmed", "Robert", "Wei", "Carlos", "David", "Olu", "Thomas",
                                           "Raj", "Henrik", "Luis", "Samuel", "Kenji", "Paul", "Ivan", "George"};
const char *const synth_last_names[] = {"Alvarez", "Bennett", "Chen", "Diallo", "Eriksen", "Fischer", "Garcia",
                                        "Haddad", "Ivanova", "Jensen", "Kowalski", "Lopez", "Moreau", "Nguyen",
                                        "Okonkwo", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka", "Umar",
                                        "Varga", "Walsh", "Yilmaz", "Zhang"};
const size_t synth_n_first_names_f = sizeof synth_first_names_f / sizeof synth_first_names_f[0];
const size_t synth_n_first_names_m = sizeof synth_first_names_m / sizeof synth_first_names_m[0];
const size_t synth_n_last_names = sizeof synth_last_names / sizeof synth_last_names[0];

const char *const synth_split_names[3] = {"train", "validation", "test"};
