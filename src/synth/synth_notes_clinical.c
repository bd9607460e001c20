/* synth_notes_clinical.c — shared phrasing helpers and the clinical notes:
 * oncology progress notes (HPI, interval history, medications, labs,
 * assessment and plan), pathology reports and physician letters. */
#include <stdio.h>
#include <string.h>

#include "synth/synth_internal.h"

// --- shared helpers ------------------------------------------------------------------

const char *synth_pronoun(const synth_patient *pt, bool capital) {
    return pt->male ? (capital ? "He" : "he") : (capital ? "She" : "she");
}

const char *synth_honorific(const synth_patient *pt) { return pt->male ? "Mr." : "Ms."; }

const char *synth_symptom_term(const synth_config *cfg, synth_rng *r, synth_symptom s) {
    const char *const *t = synth_symptom_terms[s];
    if (!synth_rng_chance(r, cfg->synonym_rate)) return t[0];
    uint32_t n = 0;
    while (t[n]) n++;
    return t[synth_rng_below(r, n)];
}

/* Site phrase for free text: "pancreatic cancer", "adenocarcinoma of the pancreas", ... */
const char *synth_site_phrase(const synth_patient *pt, synth_rng *r, const synth_config *cfg) {
    static const char *const names[SYNTH_N_SITES][3] = {
        {"breast cancer", "carcinoma of the breast", "breast carcinoma"},
        {"non-small cell lung cancer", "NSCLC", "lung cancer"},
        {"pancreatic cancer", "pancreatic adenocarcinoma", "adenocarcinoma of the pancreas"},
        {"prostate cancer", "prostate adenocarcinoma", "adenocarcinoma of the prostate"},
        {"rectal cancer", "rectal adenocarcinoma", "adenocarcinoma of the rectum"},
        {"colon cancer", "colon adenocarcinoma", "adenocarcinoma of the colon"},
        {"head and neck cancer", "head and neck squamous cell carcinoma", "HNSCC"},
        {"esophageal cancer", "esophageal carcinoma", "carcinoma of the esophagus"},
        {"cervical cancer", "carcinoma of the cervix", "cervical carcinoma"},
        {"glioblastoma", "GBM", "high-grade glioma (glioblastoma)"},
    };
    const int k = synth_rng_chance(r, cfg->synonym_rate) ? (int)synth_rng_below(r, 3) : 0;
    return names[pt->site][k];
}

void synth_put_stage(synth_buf *b, const synth_patient *pt) {
    static const char *const roman[] = {"0", "I", "II", "III", "IV"};
    if (pt->stage < 0) {
        synth_buf_puts(b, "WHO grade 4");
        return;
    }
    if (pt->t == 0) synth_buf_printf(b, "stage %s (cTis N%d M%d)", roman[pt->stage], pt->n, pt->m);
    else synth_buf_printf(b, "stage %s (cT%d N%d M%d)", roman[pt->stage], pt->t, pt->n, pt->m);
}

void synth_put_biomarkers(synth_buf *b, const synth_patient *pt) {
    const synth_biomarkers *m = &pt->bio;
    static const char *const posneg[2] = {"negative", "positive"};
    bool any = false;
#define SEP (any ? ", " : "")
    if (m->er >= 0) synth_buf_printf(b, "%sER %s", SEP, posneg[m->er]), any = true;
    if (m->pr >= 0) synth_buf_printf(b, "%sPR %s", SEP, posneg[m->pr]), any = true;
    if (m->her2 >= 0) synth_buf_printf(b, "%sHER2 %s", SEP, posneg[m->her2]), any = true;
    if (m->egfr >= 0) synth_buf_printf(b, "%sEGFR %s", SEP, m->egfr ? "exon 19 deletion" : "wild-type"), any = true;
    if (m->alk >= 0) synth_buf_printf(b, "%sALK %s", SEP, m->alk ? "rearranged" : "not rearranged"), any = true;
    if (m->kras >= 0) synth_buf_printf(b, "%sKRAS %s", SEP, m->kras ? "G12D mutated" : "wild-type"), any = true;
    if (m->msi >= 0) synth_buf_printf(b, "%s%s", SEP, m->msi ? "MSI-high" : "microsatellite stable"), any = true;
    if (m->pdl1 >= 0) synth_buf_printf(b, "%sPD-L1 TPS %d%%", SEP, m->pdl1), any = true;
    if (m->p16 >= 0) synth_buf_printf(b, "%sp16 %s", SEP, posneg[m->p16]), any = true;
    if (m->gleason_primary > 0)
        synth_buf_printf(b, "%sGleason %d+%d=%d", SEP, m->gleason_primary, m->gleason_secondary,
                         m->gleason_primary + m->gleason_secondary),
            any = true;
    if (!any) synth_buf_puts(b, "no biomarkers reported");
#undef SEP
}

void synth_put_header(synth_buf *b, const synth_author *a, const char *caps, const char *plain) {
    synth_buf_printf(b, "\n%s:\n", a->caps_headers ? caps : plain);
}

const synth_treatment *synth_tx_before(const synth_patient *pt, int kind, int32_t date) {
    const synth_treatment *best = NULL;
    for (int i = 0; i < pt->n_tx; i++)
        if ((kind < 0 || (int)pt->tx[i].kind == kind) && pt->tx[i].start <= date && (!best || pt->tx[i].start >= best->start))
            best = &pt->tx[i];
    return best;
}

static void put_diagnosis_sentence(synth_buf *b, const synth_config *cfg, const synth_patient *pt, synth_rng *r,
                                   const synth_author *a) {
    char dx[24];
    synth_date_text(pt->dx_date, a->date_style, dx);
    synth_buf_printf(b, "%s %s is a %d-year-old %s with ", synth_honorific(pt), pt->last_name, pt->age,
                     pt->male ? "man" : "woman");
    synth_put_stage(b, pt);
    synth_buf_printf(b, " %s of the %s (%s), diagnosed %s. ", pt->histology, pt->subsite,
                     synth_site_phrase(pt, r, cfg), dx);
    synth_buf_puts(b, "Biomarkers: ");
    synth_put_biomarkers(b, pt);
    synth_buf_puts(b, ".");
}

/* Treatment history as of `date`: completed courses in the past tense, ongoing ones as current.
 * Records in n which treatments were named (and whether an RT regimen was). */
static void put_treatment_history(synth_buf *b, const synth_patient *pt, const synth_author *a, int32_t date,
                                  synth_note *n) {
    int said = 0;
    n->facts |= SYNTH_FACT_TX_HISTORY;
    for (int i = 0; i < pt->n_tx; i++) {
        const synth_treatment *t = &pt->tx[i];
        if (t->start > date) continue;
        char s[24], e[24];
        synth_date_text(t->start, a->date_style, s);
        synth_date_text(t->end, a->date_style, e);
        n->tx_named |= 1u << i;
        if (t->kind == TX_RT) n->facts |= SYNTH_FACT_RT_REGIMEN;
        if (t->kind == TX_SURGERY) synth_buf_printf(b, " %s %s on %s.", a->abbreviates ? "S/p" : "Status post", t->name, s);
        else if (t->kind == TX_RT && t->end < date)
            synth_buf_printf(b, " Completed radiotherapy (%s, %.4g Gy in %d fractions) from %s to %s.", t->name,
                             pt->rt->dose_gy, pt->rt->fractions, s, e);
        else if (t->kind == TX_RT)
            synth_buf_printf(b, " Currently receiving radiotherapy (%s, %.4g Gy in %d fractions), started %s.", t->name,
                             pt->rt->dose_gy, pt->rt->fractions, s);
        else if (t->end < date) synth_buf_printf(b, " Previously received %s (%s to %s), now completed.", t->name, s, e);
        else synth_buf_printf(b, " Currently on %s since %s.", t->name, s);
        said++;
    }
    if (!said) synth_buf_puts(b, " No treatment yet; here to discuss options.");
}

// --- progress note ---------------------------------------------------------------------

void synth_render_progress(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n) {
    const synth_author *a = &synth_authors[n->author];
    synth_buf *b = &n->text;
    char date[24];
    synth_date_text(n->date, a->date_style, date);
    synth_buf_printf(b, "%s\nDate of service: %s\nAuthor: %s\n",
                     n->visit == 1 ? (a->caps_headers ? "MEDICAL ONCOLOGY CONSULTATION" : "Medical Oncology Consultation")
                                   : (a->caps_headers ? "ONCOLOGY PROGRESS NOTE" : "Oncology Progress Note"),
                     date, a->name);
    /* Sections are rendered into their own order: HPI, social, meds, labs, A&P. */
    enum { S_HPI, S_SOCIAL, S_MEDS, S_LABS, S_AP, S_N };
    int order[S_N] = {S_HPI, S_SOCIAL, S_MEDS, S_LABS, S_AP};
    if (a->plan_first) order[0] = S_AP, order[4] = S_HPI;
    if (synth_rng_chance(r, cfg->shuffle_rate)) {
        int t = order[1];
        order[1] = order[3];
        order[3] = t;
    }
    const synth_treatment *cur = synth_tx_before(pt, -1, n->date);
    const bool on_treatment = cur && cur->end >= n->date;
    const bool progressed = pt->stage == 4 && n->visit >= 3 && (pt->index + n->visit) % 3 == 0;
    for (int k = 0; k < S_N; k++) {
        switch (order[k]) {
        case S_HPI:
            synth_put_header(b, a, "HISTORY OF PRESENT ILLNESS", a->abbreviates ? "HPI" : "History of present illness");
            put_diagnosis_sentence(b, cfg, pt, r, a);
            n->facts |= SYNTH_FACT_DIAGNOSIS | SYNTH_FACT_SUBSITE | SYNTH_FACT_STAGE | SYNTH_FACT_BIOMARKERS;
            put_treatment_history(b, pt, a, n->date, n);
            if (synth_rng_chance(r, cfg->negation_rate))
                synth_buf_puts(b, SYNTH_PICK(r, ((const char *const[]){" Denies fevers, chills or night sweats.",
                                                                      " No new bone pain.",
                                                                      " Denies weight loss or change in appetite."})));
            else
                synth_buf_puts(b, SYNTH_PICK(r, ((const char *const[]){" Appetite is fair.", " Energy is at baseline.",
                                                                      " Walking daily."})));
            break;
        case S_SOCIAL:
            synth_put_header(b, a, "SOCIAL HISTORY", "Social history");
            n->facts |= SYNTH_FACT_SMOKING;
            if (pt->smoking == 0) synth_buf_puts(b, a->abbreviates ? "Never smoker." : "Never smoked tobacco.");
            else if (pt->smoking == 1) synth_buf_printf(b, "Former smoker, %d pack-years.", pt->pack_years);
            else synth_buf_printf(b, "Current smoker, %d pack-years; cessation counselling provided.", pt->pack_years);
            break;
        case S_MEDS:
            synth_put_header(b, a, "MEDICATIONS", "Medications");
            n->facts |= SYNTH_FACT_MEDS;
            for (int i = 0; i < pt->n_meds; i++) synth_buf_printf(b, "%s- %s", i ? "\n" : "", pt->meds[i]);
            if (on_treatment && cur->kind != TX_SURGERY && cur->kind != TX_RT) {
                synth_buf_printf(b, "\n- %s (oncologic therapy)", cur->name);
                n->tx_named |= 1u << (cur - pt->tx);
            }
            break;
        case S_LABS:
            synth_put_header(b, a, "LABORATORY DATA", "Labs");
            n->facts |= SYNTH_FACT_LABS | SYNTH_FACT_ECOG;
            if (pt->marker_name) n->facts |= SYNTH_FACT_MARKER_DX | (n->visit == 1 ? 0u : SYNTH_FACT_MARKER_LAST);
            synth_buf_printf(b, "Hgb %.1f g/dL, WBC %.1f K/uL, Plt %.0f K/uL, Cr %.2f mg/dL.", pt->hgb, pt->wbc, pt->plt,
                             pt->creat);
            if (pt->marker_name)
                synth_buf_printf(b, " %s %.1f (%.1f at diagnosis).", pt->marker_name,
                                 n->visit == 1 ? pt->marker_dx : pt->marker_last, pt->marker_dx);
            synth_buf_printf(b, "\nECOG performance status %d.", pt->ecog);
            break;
        default: {
            synth_put_header(b, a, "ASSESSMENT AND PLAN", a->abbreviates ? "A/P" : "Assessment and plan");
            n->facts |= SYNTH_FACT_CANCER_NAMED | SYNTH_FACT_STAGE | SYNTH_FACT_STATUS;
            synth_buf_printf(b, "%s, ", synth_site_phrase(pt, r, cfg));
            synth_put_stage(b, pt);
            if (n->visit == 1) synth_buf_puts(b, ". Newly diagnosed; treatment plan discussed at tumor board.");
            else if (progressed) synth_buf_puts(b, ". Imaging shows disease progression; will change systemic therapy.");
            else if (on_treatment) {
                synth_buf_printf(b, ". On %s, tolerating treatment; continue as planned.", cur->name);
                n->tx_named |= 1u << (cur - pt->tx);
            }
            else synth_buf_puts(b, pt->stage == 4 ? ". Stable disease on surveillance imaging."
                                                  : ". No evidence of disease; continue surveillance.");
            synth_buf_printf(b, "\nReturn to clinic in %d weeks with labs%s.", SYNTH_PICK(r, ((const int[]){2, 3, 4, 6, 12})),
                             synth_rng_chance(r, 0.5) ? " and restaging imaging" : "");
            break;
        }
        }
        synth_buf_putc(b, '\n');
    }
}

// --- pathology report ------------------------------------------------------------------

void synth_render_pathology(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n) {
    synth_buf *b = &n->text;
    char date[24];
    synth_date_text(n->date, 0, date);
    static const char *const procedure[SYNTH_N_SITES] = {
        "ultrasound-guided core needle biopsy", "CT-guided core biopsy", "EUS-guided fine needle biopsy",
        "transrectal ultrasound-guided biopsy (12 cores)", "endoscopic biopsy", "colonoscopic biopsy",
        "endoscopic biopsy", "endoscopic biopsy", "cervical biopsy", "stereotactic biopsy"};
    int year, month, day;
    synth_civil_from_days(n->date, &year, &month, &day);
    synth_buf_printf(b, "SURGICAL PATHOLOGY REPORT\nAccession: S%02d-%05u\nCollected: %s\n", year % 100,
                     (unsigned)(synth_rng_below(r, 90000) + 10000), date);
    synth_buf_printf(b, "\nSPECIMEN:\n%s, %s.\n", pt->subsite, procedure[pt->site]);
    synth_buf_printf(b, "\nFINAL DIAGNOSIS:\n%s, %s:\n- %s", pt->subsite, procedure[pt->site], pt->histology);
    n->facts |= SYNTH_FACT_DIAGNOSIS | SYNTH_FACT_SUBSITE | SYNTH_FACT_BIOMARKERS;
    if (pt->site == SITE_PROSTATE || (pt->site != SITE_BRAIN && pt->stage != 0)) n->facts |= SYNTH_FACT_GRADE;
    if (pt->site == SITE_PROSTATE)
        synth_buf_printf(b, ", Gleason score %d+%d=%d", pt->bio.gleason_primary, pt->bio.gleason_secondary,
                         pt->bio.gleason_primary + pt->bio.gleason_secondary);
    else if (pt->site != SITE_BRAIN && pt->stage != 0)
        synth_buf_printf(b, ", %s", (const char *const[]){"", "well differentiated (grade 1)",
                                                          "moderately differentiated (grade 2)",
                                                          "poorly differentiated (grade 3)"}[pt->grade]);
    synth_buf_puts(b, ".\n");
    if (pt->stage != 0 && pt->site != SITE_BRAIN) {
        /* Same draws as "0.4 ? present : (negation_rate ? absent : nothing)". */
        if (synth_rng_chance(r, 0.4)) synth_buf_puts(b, "- Lymphovascular invasion: present.\n"), n->lvi = 1;
        else if (synth_rng_chance(r, cfg->negation_rate))
            synth_buf_puts(b, "- No lymphovascular invasion identified.\n"), n->lvi = 0;
    }
    synth_buf_puts(b, "\nBIOMARKERS / ANCILLARY STUDIES:\n");
    synth_put_biomarkers(b, pt);
    synth_buf_puts(b, ".\n");
    if (synth_rng_chance(r, 0.5)) synth_buf_puts(b, "\nCOMMENT:\nResults discussed with the treating team.\n");
}

// --- physician letter -----------------------------------------------------------------

void synth_render_letter(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n,
                         const synth_note *notes) {
    const synth_author *a = &synth_authors[n->author];
    synth_buf *b = &n->text;
    char date[24];
    synth_date_text(n->date, a->date_style, date);
    synth_buf_printf(b, "%s\n\nDear Dr. %s,\n\n", date, synth_last_names[(pt->index * 7 + 3) % (int64_t)synth_n_last_names]);
    synth_buf_printf(b, "Thank you for referring %s %s %s, whom I saw again on %s. I am writing to summarise %s care.\n",
                     synth_honorific(pt), pt->first_name, pt->last_name, date, pt->male ? "his" : "her");
    synth_buf_puts(b, "\nDiagnosis: ");
    synth_put_stage(b, pt);
    synth_buf_printf(b, " %s of the %s (ICD-10-CM %s, %s). ", pt->histology, pt->subsite, pt->icd->code, pt->icd->description);
    synth_put_biomarkers(b, pt);
    n->facts |= SYNTH_FACT_DIAGNOSIS | SYNTH_FACT_CANCER_NAMED | SYNTH_FACT_SUBSITE | SYNTH_FACT_STAGE | SYNTH_FACT_ICD |
                SYNTH_FACT_BIOMARKERS | SYNTH_FACT_STATUS_HINT;
    synth_buf_puts(b, ".\n\nTreatment history:");
    put_treatment_history(b, pt, a, n->date, n);
    int last_ct = -1;
    for (int i = 0; i < n->n_sources; i++)
        if (notes[n->sources[i]].type == ONC_NOTE_CT) last_ct = n->sources[i];
    if (last_ct >= 0) {
        char ct_date[24];
        synth_date_text(notes[last_ct].date, a->date_style, ct_date);
        synth_buf_printf(b, "\nThe most recent CT (%s) %s.", ct_date,
                         notes[last_ct].ct_label == 1   ? "was obtained after treatment for pancreatic cancer"
                         : notes[last_ct].ct_label == 2 ? "showed a pancreatic mass before any treatment"
                                                        : "showed no pancreatic malignancy");
    }
    const synth_treatment *cur = synth_tx_before(pt, -1, n->date);
    synth_buf_puts(b, "\n\nRecommendations: ");
    if (cur && cur->end >= n->date) synth_buf_printf(b, "continue %s; ", cur->name), n->tx_named |= 1u << (cur - pt->tx);
    synth_buf_puts(b, pt->stage == 4 ? "supportive care and symptom management; " : "surveillance per guidelines; ");
    if (synth_rng_chance(r, 0.5)) {
        synth_buf_puts(b, "smoking cessation and exercise encouraged.\n");
        n->facts |= SYNTH_FACT_SMOKING_ADVICE;
    } else {
        synth_buf_puts(b, "labs before each visit.\n");
    }
    synth_buf_printf(b, "\nPlanned schedule: clinic visit in %d weeks, restaging CT in %d months.\n",
                     SYNTH_PICK(r, ((const int[]){2, 4, 6, 8})), SYNTH_PICK(r, ((const int[]){2, 3, 6})));
    synth_buf_printf(b, "\nSincerely,\n%s\n", a->name);
    (void)cfg;
}
