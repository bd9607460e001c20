/* synth_patient.c — draws one synthetic patient: demographics, primary
 * site, histology, TNM and stage group, biomarkers relevant to the site,
 * ECOG, labs, medications and a dated treatment course (surgery, systemic
 * therapy, radiotherapy). Distributions are plausible, not epidemiological;
 * docs/SYNTH.md states them. */
#include <string.h>
#include <stdio.h>

#include "synth/synth_internal.h"

int synth_patient_split(uint64_t seed, int64_t index) {
    const uint64_t h = synth_hash64(seed * 0x9E3779B97F4A7C15ull ^ synth_hash64((uint64_t)index + 0x5157ull));
    const unsigned pct = (unsigned)(h % 100);
    return pct < 80 ? 0 : pct < 90 ? 1 : 2;
}

/* Index in synth_icd10 of a code that must exist (table bug otherwise). */
static const synth_icd *icd(const char *code) {
    const synth_icd *e = synth_icd_find(code);
    ONC_ASSERT(e != NULL);
    return e;
}

/* A regimen for the primary site (palliative = false), or a palliative one. */
static const synth_regimen *pick_regimen(synth_rng *r, synth_site site, bool palliative, const char *technique_only) {
    const synth_regimen *cand[16];
    int n = 0;
    for (size_t i = 0; i < synth_n_regimens && n < 16; i++) {
        const synth_regimen *g = &synth_regimens[i];
        if (g->palliative != palliative) continue;
        if (!palliative && g->site != site) continue;
        if (technique_only && strcmp(g->technique, technique_only) != 0) continue;
        cand[n++] = g;
    }
    ONC_ASSERT(n > 0);
    return cand[synth_rng_below(r, (uint32_t)n)];
}

static void add_tx(synth_patient *pt, synth_tx_kind kind, const char *name, int32_t start, int days) {
    if (pt->n_tx >= SYNTH_MAX_TX) return;
    pt->tx[pt->n_tx++] = (synth_treatment){kind, name, start, start + (days > 0 ? days : 0)};
}

static void add_med(synth_patient *pt, const char *med) {
    if (pt->n_meds < SYNTH_MAX_MEDS) pt->meds[pt->n_meds++] = med;
}

/* Days a course of `fractions` takes (5 fractions a week; single fraction = 1 day). */
static int rt_days(const synth_regimen *g) { return g->fractions <= 1 ? 0 : (g->fractions - 1) / 5 * 7 + (g->fractions - 1) % 5; }

static void add_rt(synth_patient *pt, const synth_regimen *g, int32_t start, bool concurrent) {
    pt->rt = g;
    pt->rt_start = start;
    pt->rt_end = start + rt_days(g);
    pt->rt_concurrent_chemo = concurrent;
    pt->rt_icd = g->palliative ? icd(g->region == REGION_BRAIN ? "C79.31" : "C79.51") : pt->icd;
    add_tx(pt, TX_RT, g->technique, pt->rt_start, rt_days(g));
}

static void draw_tnm(synth_patient *pt, synth_rng *r, const double *stage_w) {
    pt->stage = 1 + synth_rng_weighted(r, stage_w, 4);
    switch (pt->stage) {
    case 1: pt->t = synth_rng_range(r, 1, 2), pt->n = 0, pt->m = 0; break;
    case 2: pt->t = synth_rng_range(r, 2, 3), pt->n = pt->t == 3 ? 0 : 1, pt->m = 0; break;
    case 3: pt->t = synth_rng_range(r, 1, 4), pt->n = synth_rng_range(r, 1, 3), pt->m = 0; break;
    default: pt->t = synth_rng_range(r, 1, 4), pt->n = synth_rng_range(r, 0, 3), pt->m = 1; break;
    }
}

static void plan_breast(synth_patient *pt, synth_rng *r, int32_t d) {
    static const double w[4] = {40, 35, 18, 7};
    pt->male = false;
    bool right = synth_rng_chance(r, 0.5);
    pt->subsite = right ? "right breast" : "left breast";
    if (synth_rng_chance(r, 0.08)) { /* DCIS */
        pt->stage = 0, pt->t = 0, pt->n = 0, pt->m = 0;
        pt->histology = "ductal carcinoma in situ";
        pt->icd = icd(right ? "D05.11" : "D05.12");
    } else {
        draw_tnm(pt, r, w);
        pt->histology = synth_rng_chance(r, 0.82) ? "invasive ductal carcinoma" : "invasive lobular carcinoma";
        bool uoq = synth_rng_chance(r, 0.5);
        pt->icd = icd(right ? (uoq ? "C50.411" : "C50.911") : (uoq ? "C50.412" : "C50.912"));
        if (uoq) pt->subsite = right ? "upper-outer quadrant of the right breast" : "upper-outer quadrant of the left breast";
    }
    pt->bio.er = synth_rng_chance(r, 0.75);
    pt->bio.pr = pt->bio.er ? synth_rng_chance(r, 0.8) : synth_rng_chance(r, 0.05);
    pt->bio.her2 = pt->stage == 0 ? -1 : synth_rng_chance(r, 0.17);
    if (pt->stage == 4) {
        add_tx(pt, TX_ENDOCRINE, pt->bio.her2 == 1 ? "trastuzumab and pertuzumab with docetaxel" : "letrozole and palbociclib",
               d, 300);
        if (synth_rng_chance(r, 0.5)) add_rt(pt, pick_regimen(r, 0, true, NULL), d + synth_rng_range(r, 20, 120), false);
        return;
    }
    add_tx(pt, TX_SURGERY, synth_rng_chance(r, 0.7) ? "lumpectomy with sentinel lymph node biopsy" : "mastectomy", d, 0);
    int32_t next = d + synth_rng_range(r, 28, 45);
    if (pt->stage >= 2 || pt->bio.her2 == 1) {
        const char *chemo = pt->bio.her2 == 1 ? "docetaxel, carboplatin, trastuzumab and pertuzumab (TCHP)"
                                              : "dose-dense doxorubicin and cyclophosphamide followed by paclitaxel";
        add_tx(pt, TX_CHEMO, chemo, next, 126);
        next += 126 + synth_rng_range(r, 21, 35);
    }
    if (synth_rng_chance(r, 0.9)) {
        add_rt(pt, pick_regimen(r, SITE_BREAST, false, NULL), next, false);
        next = pt->rt_end + synth_rng_range(r, 14, 30);
    }
    if (pt->bio.er == 1) add_tx(pt, TX_ENDOCRINE, synth_rng_chance(r, 0.6) ? "letrozole" : "tamoxifen", next, 1825);
}

static void plan_lung(synth_patient *pt, synth_rng *r, int32_t d) {
    static const double w[4] = {30, 15, 25, 30};
    static const char *const lobes[][2] = {{"right upper lobe", "C34.11"}, {"left upper lobe", "C34.12"},
                                           {"right middle lobe", "C34.2"},  {"right lower lobe", "C34.31"},
                                           {"left lower lobe", "C34.32"},   {"lung", "C34.90"}};
    const uint32_t lobe = synth_rng_below(r, SYNTH_COUNT(lobes));
    pt->subsite = lobes[lobe][0];
    pt->icd = icd(lobes[lobe][1]);
    draw_tnm(pt, r, w);
    const bool adeno = synth_rng_chance(r, 0.65);
    pt->histology = adeno ? "adenocarcinoma" : "squamous cell carcinoma";
    pt->bio.pdl1 = (int)SYNTH_PICK(r, ((const int[]){0, 0, 1, 5, 10, 30, 50, 60, 80, 90}));
    if (adeno) {
        pt->bio.egfr = synth_rng_chance(r, 0.15);
        pt->bio.alk = pt->bio.egfr ? 0 : synth_rng_chance(r, 0.05);
        pt->bio.kras = (pt->bio.egfr || pt->bio.alk) ? 0 : synth_rng_chance(r, 0.3);
    }
    switch (pt->stage) {
    case 1:
        if (synth_rng_chance(r, 0.6)) add_rt(pt, pick_regimen(r, SITE_LUNG, false, "SBRT"), d, false);
        else add_tx(pt, TX_SURGERY, "lobectomy", d, 0);
        break;
    case 2:
        add_tx(pt, TX_SURGERY, "lobectomy", d, 0);
        add_tx(pt, TX_CHEMO, "cisplatin and pemetrexed", d + 42, 84);
        break;
    case 3: {
        const synth_regimen *g = pick_regimen(r, SITE_LUNG, false, synth_rng_chance(r, 0.8) ? "IMRT" : "PBS");
        add_tx(pt, TX_CHEMO, "weekly carboplatin and paclitaxel", d, rt_days(g));
        add_rt(pt, g, d, true);
        add_tx(pt, TX_IMMUNO, "durvalumab", pt->rt_end + 28, 365);
        break;
    }
    default:
        if (pt->bio.egfr == 1) add_tx(pt, TX_TARGETED, "osimertinib", d, 400);
        else if (pt->bio.alk == 1) add_tx(pt, TX_TARGETED, "alectinib", d, 400);
        else if (pt->bio.pdl1 >= 50) add_tx(pt, TX_IMMUNO, "pembrolizumab", d, 365);
        else add_tx(pt, TX_CHEMO, "carboplatin, pemetrexed and pembrolizumab", d, 365);
        if (synth_rng_chance(r, 0.45)) add_rt(pt, pick_regimen(r, 0, true, NULL), d + synth_rng_range(r, 10, 150), false);
        break;
    }
}

static void plan_pancreas(synth_patient *pt, synth_rng *r, int32_t d) {
    static const double w[4] = {10, 25, 30, 35};
    static const char *const loc[][2] = {{"head of pancreas", "C25.0"}, {"body of pancreas", "C25.1"},
                                         {"tail of pancreas", "C25.2"}, {"pancreas", "C25.9"}};
    static const double lw[4] = {60, 15, 15, 10};
    const int l = synth_rng_weighted(r, lw, 4);
    pt->subsite = loc[l][0];
    pt->icd = icd(loc[l][1]);
    draw_tnm(pt, r, w);
    pt->histology = "ductal adenocarcinoma";
    pt->bio.kras = synth_rng_chance(r, 0.9);
    pt->bio.msi = synth_rng_chance(r, 0.01);
    const char *chemo = synth_rng_chance(r, 0.6) ? "FOLFIRINOX" : "gemcitabine and nab-paclitaxel";
    if (pt->stage <= 2) {
        add_tx(pt, TX_CHEMO, chemo, d, 112);
        int32_t next = d + 112 + synth_rng_range(r, 14, 28);
        if (synth_rng_chance(r, 0.45)) {
            add_rt(pt, pick_regimen(r, SITE_PANCREAS, false, "SBRT"), next, false);
            next = pt->rt_end + synth_rng_range(r, 28, 42);
        }
        add_tx(pt, TX_SURGERY, l == 0 ? "Whipple procedure (pancreaticoduodenectomy)" : "distal pancreatectomy", next, 0);
    } else if (pt->stage == 3) {
        add_tx(pt, TX_CHEMO, chemo, d, 112);
        if (synth_rng_chance(r, 0.55)) {
            const synth_regimen *g = pick_regimen(r, SITE_PANCREAS, false, synth_rng_chance(r, 0.75) ? "IMRT" : "PBS");
            add_rt(pt, g, d + 112 + synth_rng_range(r, 14, 28), true);
            add_tx(pt, TX_CHEMO, "capecitabine", pt->rt_start, rt_days(g));
        }
    } else {
        add_tx(pt, TX_CHEMO, "gemcitabine and nab-paclitaxel", d, 180);
        if (synth_rng_chance(r, 0.15)) add_rt(pt, pick_regimen(r, 0, true, NULL), d + synth_rng_range(r, 20, 120), false);
    }
}

static void plan_prostate(synth_patient *pt, synth_rng *r, int32_t d) {
    static const double w[4] = {40, 35, 15, 10};
    pt->male = true;
    pt->subsite = "prostate";
    pt->icd = icd("C61");
    draw_tnm(pt, r, w);
    pt->histology = "acinar adenocarcinoma";
    pt->bio.gleason_primary = pt->stage >= 3 ? synth_rng_range(r, 4, 5) : synth_rng_range(r, 3, 4);
    pt->bio.gleason_secondary = synth_rng_range(r, 3, pt->stage >= 3 ? 5 : 4);
    if (pt->stage == 4) {
        add_tx(pt, TX_ENDOCRINE, "leuprolide and abiraterone", d, 540);
        if (synth_rng_chance(r, 0.5)) add_rt(pt, pick_regimen(r, 0, true, NULL), d + synth_rng_range(r, 30, 200), false);
        return;
    }
    if (synth_rng_chance(r, 0.25)) {
        add_tx(pt, TX_SURGERY, "robotic radical prostatectomy", d, 0);
        return;
    }
    const bool adt = pt->stage >= 2;
    if (adt) add_tx(pt, TX_ENDOCRINE, "leuprolide", d, 180);
    add_rt(pt, pick_regimen(r, SITE_PROSTATE, false, NULL), d + (adt ? 60 : 0), false);
}

static void plan_colorectal(synth_patient *pt, synth_rng *r, int32_t d, bool rectum) {
    static const double w[4] = {20, 30, 32, 18};
    draw_tnm(pt, r, w);
    pt->histology = "adenocarcinoma";
    pt->bio.kras = synth_rng_chance(r, 0.4);
    pt->bio.msi = synth_rng_chance(r, rectum ? 0.03 : 0.12);
    if (rectum) {
        pt->subsite = SYNTH_PICK(r, ((const char *const[]){"low rectum", "mid rectum", "upper rectum"}));
        pt->icd = icd("C20");
    } else {
        static const char *const seg[][2] = {{"sigmoid colon", "C18.7"}, {"ascending colon", "C18.2"},
                                             {"cecum", "C18.0"}, {"colon", "C18.9"}};
        const uint32_t s = synth_rng_below(r, SYNTH_COUNT(seg));
        pt->subsite = seg[s][0];
        pt->icd = icd(seg[s][1]);
    }
    if (pt->stage == 4) {
        add_tx(pt, pt->bio.msi == 1 ? TX_IMMUNO : TX_CHEMO, pt->bio.msi == 1 ? "pembrolizumab" : "FOLFOX and bevacizumab",
               d, 300);
        if (synth_rng_chance(r, 0.2)) add_rt(pt, pick_regimen(r, 0, true, NULL), d + synth_rng_range(r, 30, 200), false);
        return;
    }
    if (rectum && pt->stage >= 2) {
        const synth_regimen *g = pick_regimen(r, SITE_RECTUM, false, NULL);
        const bool crt = g->fractions > 5;
        if (crt) add_tx(pt, TX_CHEMO, "capecitabine", d, rt_days(g));
        add_rt(pt, g, d, crt);
        add_tx(pt, TX_CHEMO, "FOLFOX", pt->rt_end + 21, 112);
        add_tx(pt, TX_SURGERY, "low anterior resection with total mesorectal excision", pt->rt_end + 160, 0);
        return;
    }
    add_tx(pt, TX_SURGERY, rectum ? "low anterior resection with total mesorectal excision"
                                   : (strcmp(pt->icd->code, "C18.7") == 0 ? "sigmoid colectomy" : "right hemicolectomy"),
           d, 0);
    if (pt->stage == 3) add_tx(pt, TX_CHEMO, synth_rng_chance(r, 0.5) ? "FOLFOX" : "CAPOX", d + 35, 90);
}

static void plan_head_neck(synth_patient *pt, synth_rng *r, int32_t d) {
    static const double w[4] = {15, 15, 35, 35};
    static const char *const sub[][2] = {{"base of tongue", "C01"}, {"tonsil", "C09.9"}, {"glottic larynx", "C32.0"},
                                         {"larynx", "C32.9"}};
    const uint32_t s = synth_rng_below(r, SYNTH_COUNT(sub));
    pt->subsite = sub[s][0];
    pt->icd = icd(sub[s][1]);
    draw_tnm(pt, r, w);
    if (pt->m == 1 && synth_rng_chance(r, 0.7)) pt->m = 0, pt->stage = 3; /* few metastatic at diagnosis */
    pt->histology = "squamous cell carcinoma";
    pt->bio.p16 = s <= 1 ? synth_rng_chance(r, 0.7) : 0;
    pt->bio.pdl1 = (int)SYNTH_PICK(r, ((const int[]){0, 1, 5, 20, 50}));
    const bool larynx_early = s >= 2 && pt->stage <= 2;
    const synth_regimen *g = larynx_early ? pick_regimen(r, SITE_HEAD_NECK, false, "3D-CRT")
                                          : pick_regimen(r, SITE_HEAD_NECK, false, SYNTH_PICK(r, ((const char *const[]){
                                                                                       "IMRT", "VMAT", "IMPT"})));
    const bool chemo = !larynx_early;
    if (chemo) add_tx(pt, TX_CHEMO, "cisplatin", d, rt_days(g));
    add_rt(pt, g, d, chemo);
}

static void plan_esophagus(synth_patient *pt, synth_rng *r, int32_t d) {
    static const double w[4] = {10, 30, 40, 20};
    pt->subsite = synth_rng_chance(r, 0.7) ? "distal esophagus" : "esophagus";
    pt->icd = icd(pt->subsite[0] == 'd' ? "C15.5" : "C15.9");
    draw_tnm(pt, r, w);
    pt->histology = synth_rng_chance(r, 0.7) ? "adenocarcinoma" : "squamous cell carcinoma";
    pt->bio.her2 = pt->histology[0] == 'a' ? synth_rng_chance(r, 0.2) : -1;
    pt->bio.pdl1 = (int)SYNTH_PICK(r, ((const int[]){0, 1, 5, 10, 20}));
    if (pt->stage == 4) {
        add_tx(pt, TX_CHEMO, "FOLFOX and nivolumab", d, 240);
        return;
    }
    const bool trimodality = synth_rng_chance(r, 0.65);
    const synth_regimen *g = trimodality ? pick_regimen(r, SITE_ESOPHAGUS, false, "IMRT")
                                         : pick_regimen(r, SITE_ESOPHAGUS, false, synth_rng_chance(r, 0.7) ? "VMAT" : "PBS");
    add_tx(pt, TX_CHEMO, "weekly carboplatin and paclitaxel", d, rt_days(g));
    add_rt(pt, g, d, true);
    if (trimodality) add_tx(pt, TX_SURGERY, "Ivor Lewis esophagectomy", pt->rt_end + 49, 0);
}

static void plan_cervix(synth_patient *pt, synth_rng *r, int32_t d) {
    static const double w[4] = {20, 35, 35, 10};
    pt->male = false;
    pt->subsite = "cervix";
    pt->icd = icd("C53.9");
    draw_tnm(pt, r, w);
    pt->histology = "squamous cell carcinoma";
    pt->bio.pdl1 = (int)SYNTH_PICK(r, ((const int[]){0, 1, 5, 10, 20}));
    if (pt->stage == 1 && synth_rng_chance(r, 0.6)) {
        add_tx(pt, TX_SURGERY, "radical hysterectomy", d, 0);
        return;
    }
    const synth_regimen *g = pick_regimen(r, SITE_CERVIX, false, NULL);
    add_tx(pt, TX_CHEMO, "weekly cisplatin", d, 35);
    add_rt(pt, g, g->modality == MOD_BRACHY ? d + 38 : d, g->modality != MOD_BRACHY);
}

static void plan_brain(synth_patient *pt, synth_rng *r, int32_t d) {
    pt->subsite = synth_rng_chance(r, 0.5) ? "right frontal lobe" : "left temporal lobe";
    pt->icd = icd(synth_rng_chance(r, 0.85) ? (strstr(pt->subsite, "frontal") ? "C71.1" : "C71.2") : "C71.9");
    pt->t = pt->n = pt->m = -1; /* no TNM for glioma */
    pt->stage = -1;
    pt->grade = 4;
    pt->histology = "glioblastoma, IDH-wildtype";
    add_tx(pt, TX_SURGERY, "maximal safe resection (craniotomy)", d, 0);
    const synth_regimen *g = pick_regimen(r, SITE_BRAIN, false, pt->age >= 70 ? "VMAT" : NULL);
    int32_t s = d + synth_rng_range(r, 21, 35);
    add_tx(pt, TX_CHEMO, "temozolomide", s, rt_days(g) + 180);
    add_rt(pt, g, s, true);
}

static void draw_labs_and_meds(synth_patient *pt, synth_rng *r) {
    pt->hgb = (pt->male ? 12.8 : 11.9) + (synth_rng_unit(r) - 0.5) * 3.0;
    pt->wbc = 3.2 + synth_rng_unit(r) * 6.0;
    pt->plt = 120 + synth_rng_range(r, 0, 260);
    pt->creat = 0.6 + synth_rng_unit(r) * 0.7;
    switch (pt->site) {
    case SITE_PANCREAS: pt->marker_name = "CA 19-9"; pt->marker_dx = 80 + synth_rng_range(r, 0, 2400); break;
    case SITE_COLON:
    case SITE_RECTUM: pt->marker_name = "CEA"; pt->marker_dx = 2 + synth_rng_range(r, 0, 60); break;
    case SITE_PROSTATE: pt->marker_name = "PSA"; pt->marker_dx = 4 + synth_rng_range(r, 0, 40); break;
    default: pt->marker_name = NULL; break;
    }
    if (pt->marker_name) pt->marker_last = pt->marker_dx * (0.05 + synth_rng_unit(r) * (pt->stage == 4 ? 1.6 : 0.6));
    add_med(pt, SYNTH_PICK(r, ((const char *const[]){"ondansetron 8 mg as needed", "prochlorperazine 10 mg as needed"})));
    if (synth_rng_chance(r, 0.4)) add_med(pt, "lisinopril 10 mg daily");
    if (synth_rng_chance(r, 0.3)) add_med(pt, "metformin 500 mg twice daily");
    if (synth_rng_chance(r, 0.35)) add_med(pt, "atorvastatin 40 mg nightly");
    if (synth_rng_chance(r, 0.25)) add_med(pt, "oxycodone 5 mg every 6 hours as needed");
    if (pt->site == SITE_PANCREAS && synth_rng_chance(r, 0.6)) add_med(pt, "pancrelipase with meals");
    if (pt->site == SITE_BRAIN) add_med(pt, "levetiracetam 500 mg twice daily");
    if (synth_rng_chance(r, 0.3)) add_med(pt, "omeprazole 20 mg daily");
}

void synth_patient_generate(const synth_config *cfg, int64_t index, synth_patient *pt, synth_rng *r) {
    memset(pt, 0, sizeof *pt);
    synth_rng_seed(r, cfg->seed, (uint64_t)index);
    pt->index = index;
    snprintf(pt->id, sizeof pt->id, "P%07lld", (long long)(index + 1));
    pt->split = synth_patient_split(cfg->seed, index);
    pt->bio = (synth_biomarkers){-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0};
    pt->site = (synth_site)synth_rng_weighted(r, synth_site_weights, SYNTH_N_SITES);
    pt->male = synth_rng_chance(r, 0.5);
    pt->age = synth_rng_range(r, 38, 86);
    pt->dx_date = synth_days_from_civil(2016, 1, 1) + synth_rng_range(r, 0, 7 * 365);
    pt->grade = synth_rng_range(r, 1, 3);
    pt->author = (int)synth_rng_below(r, (uint32_t)synth_n_authors);
    pt->rad_author = (int)synth_rng_below(r, (uint32_t)synth_n_authors);
    pt->smoking = synth_rng_weighted(r, (const double[]){45, 40, 15}, 3);
    pt->pack_years = pt->smoking ? synth_rng_range(r, 5, 60) : 0;
    pt->ecog = synth_rng_weighted(r, (const double[]){40, 40, 15, 5}, 4);
    const int32_t start = pt->dx_date + synth_rng_range(r, 14, 45);
    switch (pt->site) {
    case SITE_BREAST: plan_breast(pt, r, start); break;
    case SITE_LUNG: plan_lung(pt, r, start); break;
    case SITE_PANCREAS: plan_pancreas(pt, r, start); break;
    case SITE_PROSTATE: plan_prostate(pt, r, start); break;
    case SITE_RECTUM: plan_colorectal(pt, r, start, true); break;
    case SITE_COLON: plan_colorectal(pt, r, start, false); break;
    case SITE_HEAD_NECK: plan_head_neck(pt, r, start); break;
    case SITE_ESOPHAGUS: plan_esophagus(pt, r, start); break;
    case SITE_CERVIX: plan_cervix(pt, r, start); break;
    default: plan_brain(pt, r, start); break;
    }
    if (pt->site == SITE_LUNG) pt->smoking = pt->smoking ? pt->smoking : (synth_rng_chance(r, 0.8) ? 1 : 0);
    if (pt->stage == 4 && pt->ecog == 0) pt->ecog = 1;
    const char *const *first = pt->male ? synth_first_names_m : synth_first_names_f;
    const size_t n_first = pt->male ? synth_n_first_names_m : synth_n_first_names_f;
    pt->first_name = first[synth_rng_below(r, (uint32_t)n_first)];
    pt->last_name = synth_last_names[synth_rng_below(r, (uint32_t)synth_n_last_names)];
    pt->first_tx_date = pt->n_tx ? pt->tx[0].start : start;
    for (int i = 1; i < pt->n_tx; i++)
        if (pt->tx[i].start < pt->first_tx_date) pt->first_tx_date = pt->tx[i].start;
    draw_labs_and_meds(pt, r);
}
