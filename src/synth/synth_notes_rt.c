/* synth_notes_rt.c — CT reports (pancreatic cancer labels 0/1/2),
 * radiotherapy treatment summaries (diagnosis, regimen, technique,
 * modality, ICD-10-CM code) and on-treatment toxicity notes (12 symptoms,
 * present or absent).
 *
 * Label contracts (tested in tests/test_synth.c):
 * - CT label 2: the IMPRESSION states a pancreatic mass and the report names
 *   no treatment; label 1: the report names a treatment of pancreatic cancer
 *   (surgery, chemotherapy drug, radiotherapy); label 0: any impression
 *   sentence mentioning the pancreas is negative (normal, no mass, benign
 *   cyst) and the report never names pancreatic cancer.
 * - Toxicity: every present symptom is mentioned in a sentence without a
 *   negation cue; an absent symptom is either not mentioned or only in
 *   sentences with a negation cue ("denies", "no ", "without", "negative
 *   for", "resolved"). Sentences never mix present and absent symptoms. */
#include <stdio.h>
#include <string.h>

#include "synth/synth_internal.h"

// --- CT reports --------------------------------------------------------------------------

/* Upper-case the letter at b->p[at] (sentences that start with a term). */
static void capitalise_first(synth_buf *b, size_t at) {
    if (at < b->len && b->p[at] >= 'a' && b->p[at] <= 'z') b->p[at] = (char)(b->p[at] - 'a' + 'A');
}


static void ct_label2(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_buf *b, synth_note *n,
                      double size_cm) {
    static const char *const indication[] = {"Epigastric pain radiating to the back and weight loss.", "Painless jaundice.",
                                             "Elevated CA 19-9, evaluate for pancreatic mass.",
                                             "New-onset diabetes and weight loss."};
    const uint32_t k = synth_rng_below(r, SYNTH_COUNT(indication));
    synth_buf_printf(b, "CLINICAL INDICATION:\n%s\n", indication[k]);
    n->facts |= SYNTH_FACT_SUBSITE | SYNTH_FACT_TUMOR_SIZE | SYNTH_FACT_EXTENT | SYNTH_FACT_STATUS | SYNTH_FACT_CANCER_NAMED |
                (k == 2 ? SYNTH_FACT_MARKER_NAMED : 0u) | (pt->m ? SYNTH_FACT_METS : 0u);
    synth_buf_puts(b, "\nCOMPARISON:\nNone.\n\nFINDINGS:\n");
    synth_buf_printf(b, "Pancreas: There is a %.1f x %.1f cm ill-defined hypoattenuating mass in the %s", size_cm,
                     size_cm * 0.8, pt->subsite);
    synth_buf_puts(b, strstr(pt->subsite, "head") ? " with upstream pancreatic ductal dilation and a double duct sign.\n"
                                                  : " with upstream pancreatic ductal dilation.\n");
    synth_buf_printf(b, "Vessels: The mass abuts the superior mesenteric vein over %s 180 degrees.\n",
                     pt->stage >= 3 ? "more than" : "less than");
    if (pt->m) synth_buf_puts(b, "Liver: Multiple hypoattenuating hepatic lesions, the largest 2.1 cm, concerning for metastases.\n");
    else if (synth_rng_chance(r, cfg->hedge_rate))
        synth_buf_puts(b, "Liver: Subcentimeter hypodensity in segment 7, too small to characterize; cannot exclude a small cyst.\n");
    else synth_buf_puts(b, "Liver: No focal lesion.\n");
    synth_buf_puts(b, "Lymph nodes: ");
    synth_buf_puts(b, pt->n ? "Enlarged peripancreatic lymph nodes up to 1.4 cm.\n" : "No lymphadenopathy.\n");
    synth_buf_puts(b, "\nIMPRESSION:\n");
    synth_buf_printf(b, "1. %.1f cm mass in the %s, %s.\n", size_cm, pt->subsite,
                     SYNTH_PICK(r, ((const char *const[]){"most consistent with pancreatic adenocarcinoma",
                                                         "compatible with a primary pancreatic malignancy",
                                                         "highly suspicious for pancreatic ductal adenocarcinoma"})));
    if (pt->m) synth_buf_puts(b, "2. Hepatic lesions concerning for metastatic disease.\n");
    synth_buf_puts(b, "Recommend tissue sampling and multidisciplinary review.\n");
}

static void ct_label1(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_buf *b, synth_note *n,
                      double size_cm) {
    const synth_treatment *surgery = synth_tx_before(pt, TX_SURGERY, n->date);
    const synth_treatment *chemo = synth_tx_before(pt, TX_CHEMO, n->date);
    const synth_treatment *rt = synth_tx_before(pt, TX_RT, n->date);
    n->facts |= SYNTH_FACT_CANCER_NAMED | SYNTH_FACT_EXTENT | SYNTH_FACT_STATUS |
                (surgery ? 0u : SYNTH_FACT_SUBSITE | SYNTH_FACT_TUMOR_SIZE);
    /* "Hepatic metastases are again seen" / "without evidence of ... metastatic disease" (set below) */
    if (pt->m) n->facts |= SYNTH_FACT_METS;
    synth_buf_puts(b, "CLINICAL INDICATION:\nPancreatic adenocarcinoma, ");
    if (surgery) {
        synth_buf_printf(b, "%s %s", synth_rng_chance(r, cfg->synonym_rate) ? "s/p" : "status post", surgery->name);
        n->tx_named |= 1u << (surgery - pt->tx);
    } else if (rt && rt->end < n->date) {
        synth_buf_printf(b, "after chemotherapy and %s radiotherapy", rt->name);
        n->tx_named |= 1u << (rt - pt->tx);
    } else if (chemo) {
        synth_buf_printf(b, "on %s", chemo->name);
        n->tx_named |= 1u << (chemo - pt->tx);
    } else {
        synth_buf_puts(b, "on chemotherapy");
    }
    synth_buf_puts(b, ". Restaging.\n\nCOMPARISON:\nPrior CT.\n\nFINDINGS:\n");
    const bool recurrence = pt->stage >= 3 && ((pt->index + n->visit) % 2 == 0);
    if (surgery) {
        synth_buf_printf(b, "Pancreas: Postsurgical changes of %s.", surgery->name);
        synth_buf_puts(b, recurrence ? " Ill-defined soft tissue in the surgical bed measuring 1.8 cm, increased, concerning for "
                                       "local recurrence.\n"
                                     : " No soft tissue mass in the surgical bed.\n");
    } else {
        const double now = recurrence ? size_cm * 1.3 : size_cm * 0.7;
        synth_buf_printf(b, "Pancreas: The known mass in the %s measures %.1f cm, previously %.1f cm.\n", pt->subsite, now,
                         size_cm);
    }
    synth_buf_puts(b, pt->m ? "Liver: Hepatic metastases are again seen.\n" : "Liver: No focal lesion.\n");
    synth_buf_puts(b, "\nIMPRESSION:\n");
    if (surgery && !recurrence) {
        synth_buf_printf(b, "1. Status post %s without evidence of local recurrence or metastatic disease.\n", surgery->name);
        n->facts |= SYNTH_FACT_METS;
    }
    else if (surgery) synth_buf_puts(b, "1. Findings concerning for local recurrence in the post-surgical bed.\n");
    else if (recurrence) synth_buf_puts(b, "1. Interval growth of the pancreatic mass on therapy, consistent with progression.\n");
    else synth_buf_puts(b, "1. Interval decrease in size of the pancreatic mass, consistent with treatment response.\n");
}

static void ct_label0(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_buf *b, synth_note *n) {
    const bool treated = n->date > pt->first_tx_date;
    n->facts |= SYNTH_FACT_CANCER_NAMED | SYNTH_FACT_EXTENT | SYNTH_FACT_STATUS | SYNTH_FACT_METS; /* impression line 1 */
    synth_buf_puts(b, "CLINICAL INDICATION:\n");
    const size_t at = b->len;
    synth_buf_printf(b, "%s, %s.\n", synth_site_phrase(pt, r, cfg), treated ? "restaging" : "staging");
    capitalise_first(b, at);
    synth_buf_printf(b, "\nCOMPARISON:\n%s\n\nFINDINGS:\n", treated ? "Prior CT." : "None.");
    const int pancreas_style = (int)synth_rng_below(r, 10);
    if (pt->site == SITE_LUNG || pt->site == SITE_ESOPHAGUS || pt->site == SITE_BREAST)
        synth_buf_puts(b, treated ? "Chest: Post-treatment changes without new nodules.\n" : "Chest: Primary tumor as described clinically.\n");
    if (pancreas_style < 6) synth_buf_puts(b, "Pancreas: Normal in size and enhancement. No focal mass or ductal dilation.\n");
    else if (pancreas_style < 8) synth_buf_puts(b, "Pancreas: Unremarkable.\n");
    else synth_buf_puts(b, "Pancreas: 8 mm cystic lesion in the pancreatic tail without solid component, likely a side-branch "
                           "IPMN.\n");
    if (pt->m && (pt->site == SITE_COLON || pt->site == SITE_RECTUM || pt->site == SITE_BREAST))
        synth_buf_puts(b, "Liver: Several hypoattenuating hepatic lesions, the largest 2.4 cm, consistent with metastases.\n");
    else if (synth_rng_chance(r, cfg->hedge_rate))
        synth_buf_puts(b, "Liver: Subcentimeter hypodensity, too small to characterize; cannot exclude a cyst.\n");
    else synth_buf_puts(b, "Liver: No focal lesion.\n");
    synth_buf_puts(b, pt->m ? "Bones: Sclerotic lesions in the spine, suspicious for osseous metastases.\n"
                            : "Bones: No suspicious osseous lesion.\n");
    synth_buf_puts(b, "\nIMPRESSION:\n");
    if (pt->m) synth_buf_printf(b, "1. Metastatic disease as described, in keeping with known %s.\n", synth_site_phrase(pt, r, cfg));
    else synth_buf_puts(b, "1. No evidence of metastatic disease in the abdomen or pelvis.\n");
    if (pancreas_style >= 8)
        synth_buf_puts(b, "2. 8 mm pancreatic cystic lesion, likely side-branch IPMN; no solid pancreatic mass. Follow-up MRI in "
                          "12 months.\n");
    else if (synth_rng_chance(r, 0.3)) synth_buf_puts(b, "2. Normal pancreas.\n");
}

void synth_render_ct(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n) {
    synth_buf *b = &n->text;
    char date[24];
    synth_date_text(n->date, synth_rng_below(r, 4), date);
    const char *title = n->ct_label == 2 && synth_rng_chance(r, 0.5) ? "CT PANCREAS PROTOCOL (MULTIPHASIC)"
                        : synth_rng_chance(r, 0.5)                  ? "CT CHEST, ABDOMEN AND PELVIS WITH IV CONTRAST"
                                                                    : "CT ABDOMEN AND PELVIS WITH IV CONTRAST";
    synth_buf_printf(b, "EXAM: %s\nDATE: %s\n\n", title, date);
    /* Tumour size at diagnosis is a pure function of the patient, so later reports can compare. */
    const double size_cm = 1.5 + (double)((pt->index * 37 + 11) % 40) / 10.0;
    if (n->ct_label == 2) ct_label2(cfg, pt, r, b, n, size_cm);
    else if (n->ct_label == 1) ct_label1(cfg, pt, r, b, n, size_cm);
    else ct_label0(cfg, pt, r, b, n);
    synth_buf_printf(b, "\nElectronically signed by %s, radiology.\n",
                     SYNTH_PICK(r, ((const char *const[]){"Dr. T. Brennan", "Dr. Y. Farouk", "Dr. E. Sorensen"})));
}

// --- radiotherapy summary ------------------------------------------------------------------

static const char *energy_phrase(const synth_regimen *g, synth_rng *r) {
    switch (g->modality) {
    case MOD_PHOTON: return SYNTH_PICK(r, ((const char *const[]){"6 MV photons", "10 MV photons", "6 MV flattening-filter-free photons"}));
    case MOD_PROTON: return "pencil-beam scanning protons";
    case MOD_ELECTRON: return SYNTH_PICK(r, ((const char *const[]){"9 MeV electrons", "12 MeV electrons"}));
    default: return strcmp(g->technique, "LDR") == 0 ? "I-125 permanent seed implant" : "Ir-192 high-dose-rate afterloader";
    }
}

/* Words for the diagnosis of the course (the ICD code is recoverable from them). */
static void put_rt_diagnosis(synth_buf *b, const synth_patient *pt, synth_rng *r, const synth_config *cfg) {
    if (pt->rt->palliative) {
        synth_buf_printf(b, "%s metastases from %s", pt->rt->region == REGION_BRAIN ? "Brain" : "Bone",
                         synth_site_phrase(pt, r, cfg));
        return;
    }
    synth_buf_printf(b, "%s of the %s, ", pt->histology, pt->subsite);
    synth_put_stage(b, pt);
}

void synth_render_rt_summary(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n) {
    const synth_author *a = &synth_authors[n->author];
    const synth_regimen *g = pt->rt;
    synth_buf *b = &n->text;
    char s[24], e[24];
    synth_date_text(pt->rt_start, a->date_style, s);
    synth_date_text(pt->rt_end, a->date_style, e);
    synth_buf_printf(b, "%s\nPatient: %s %s, %d-year-old %s\nPhysician: %s\nTreatment dates: %s to %s\n",
                     a->caps_headers ? "RADIATION ONCOLOGY TREATMENT SUMMARY" : "Radiotherapy completion summary",
                     pt->first_name, pt->last_name, pt->age, pt->male ? "man" : "woman", a->name, s, e);
    synth_put_header(b, a, "DIAGNOSIS", "Diagnosis");
    put_rt_diagnosis(b, pt, r, cfg);
    n->facts |= SYNTH_FACT_RT_REGIMEN | SYNTH_FACT_TOLERANCE |
                (g->palliative ? SYNTH_FACT_CANCER_NAMED | SYNTH_FACT_EXTENT | SYNTH_FACT_METS
                               : SYNTH_FACT_DIAGNOSIS | SYNTH_FACT_SUBSITE | SYNTH_FACT_STAGE);
    for (int i = 0; i < pt->n_tx; i++)
        if (pt->tx[i].kind == TX_RT) n->tx_named |= 1u << i;
    const bool show_code = cfg->difficulty == ONC_SYNTH_EASY || (cfg->difficulty == ONC_SYNTH_MEDIUM && synth_rng_chance(r, 0.3));
    if (show_code) synth_buf_printf(b, " (ICD-10-CM %s)", pt->rt_icd->code);
    if (show_code && !g->palliative) n->facts |= SYNTH_FACT_ICD;
    synth_buf_puts(b, ".\n");
    synth_put_header(b, a, "TREATMENT", "Treatment delivered");
    const double per_fx = g->dose_gy / g->fractions;
    const int style = cfg->difficulty == ONC_SYNTH_EASY ? 0 : (int)synth_rng_below(r, 3);
    if (style == 0) synth_buf_printf(b, "Total dose %.4g Gy in %d fractions of %.4g Gy", g->dose_gy, g->fractions, per_fx);
    else if (style == 1) synth_buf_printf(b, "%.4g Gy / %d fx (%.4g Gy per fraction)", g->dose_gy, g->fractions, per_fx);
    else synth_buf_printf(b, "%d cGy delivered in %d fractions", (int)(g->dose_gy * 100 + 0.5), g->fractions);
    synth_buf_printf(b, " to the %s.\n", g->target);
    const bool long_name = synth_rng_chance(r, cfg->synonym_rate);
    synth_buf_printf(b, "Technique: %s", long_name ? g->technique_long : g->technique);
    if (cfg->difficulty != ONC_SYNTH_HARD || synth_rng_chance(r, 0.4)) synth_buf_printf(b, ", %s", energy_phrase(g, r));
    synth_buf_puts(b, ".\n");
    if (cfg->difficulty == ONC_SYNTH_EASY) synth_buf_printf(b, "Modality: %s.\n", synth_modality_names[g->modality]);
    if (pt->rt_concurrent_chemo) {
        const synth_treatment *c = synth_tx_before(pt, TX_CHEMO, pt->rt_end);
        synth_buf_printf(b, "Concurrent systemic therapy: %s.\n", c ? c->name : "chemotherapy");
        if (c) n->tx_named |= 1u << (c - pt->tx);
    }
    synth_put_header(b, a, "COURSE", "Course and tolerance");
    synth_buf_puts(b, SYNTH_PICK(r, ((const char *const[]){"Completed as planned without treatment breaks.",
                                                          "Completed as prescribed; one-day break for machine maintenance.",
                                                          "Treatment tolerated well overall."})));
    synth_put_header(b, a, "FOLLOW-UP", "Follow-up");
    synth_buf_printf(b, "Return in %d weeks; imaging in %d months.\n", SYNTH_PICK(r, ((const int[]){4, 6, 8})),
                     SYNTH_PICK(r, ((const int[]){2, 3})));
}

// --- toxicity (on-treatment visit) ---------------------------------------------------------

static const char *const management[SYNTH_N_SYMPTOMS] = {
    "regular light exercise and rest periods",
    "ondansetron 8 mg as needed",
    "antiemetics and oral hydration",
    "loperamide and a low-residue diet",
    "moisturiser twice daily and loose clothing",
    "salt and baking soda rinses",
    "a soft diet and speech-language pathology review",
    "viscous lidocaine before meals",
    "frequent sips of water and a saliva substitute",
    "urinalysis and increased fluid intake",
    "hydrocortisone suppositories",
    "chest imaging and a course of prednisone",
};

void synth_render_toxicity(const synth_config *cfg, const synth_patient *pt, synth_rng *r, synth_note *n) {
    const synth_author *a = &synth_authors[n->author];
    const synth_regimen *g = pt->rt;
    synth_buf *b = &n->text;
    char date[24];
    synth_date_text(n->date, a->date_style, date);
    /* Draw the truth first: symptoms grow more likely as the course goes on. */
    const double weight = 0.6 + 0.2 * (n->visit > 3 ? 3 : n->visit);
    uint32_t present = 0, negated = 0, historical = 0;
    int grade[SYNTH_N_SYMPTOMS] = {0};
    for (int s = 0; s < SYNTH_N_SYMPTOMS; s++) {
        double p = synth_symptom_prob((synth_symptom)s, g->region, pt->rt_concurrent_chemo) * weight;
        if (s == SYM_VOMITING && (present >> SYM_NAUSEA & 1)) p = p * 2 + 0.15;
        if (s == SYM_VOMITING && !(present >> SYM_NAUSEA & 1)) p *= 0.2;
        if (synth_rng_chance(r, p)) {
            present |= 1u << s;
            grade[s] = 1 + synth_rng_weighted(r, (const double[]){60, 32, 8}, 3);
        } else if (synth_symptom_prob((synth_symptom)s, g->region, pt->rt_concurrent_chemo) >= 0.05 || synth_rng_chance(r, 0.1)) {
            /* an absent symptom worth asking about */
            if (synth_rng_chance(r, cfg->historical_rate) && (s == SYM_NAUSEA || s == SYM_FATIGUE || s == SYM_DIARRHEA))
                historical |= 1u << s;
            else if (synth_rng_chance(r, cfg->negation_rate)) negated |= 1u << s;
        }
    }
    n->tox_present = present;
    n->tox_negated = negated | historical;
    n->facts |= SYNTH_FACT_RT_REGIMEN; /* "fraction k of N (x of y Gy)" and the technique */
    for (int i = 0; i < pt->n_tx; i++)
        if (pt->tx[i].kind == TX_RT) n->tx_named |= 1u << i;
    synth_buf_printf(b, "%s\nDate: %s\nProvider: %s\n",
                     a->caps_headers ? "RADIATION ONCOLOGY ON-TREATMENT VISIT" : "Weekly on-treatment management note", date,
                     a->name);
    synth_buf_printf(b, "Treatment: %s to the %s, fraction %d of %d (%.4g of %.4g Gy).\n", g->technique, g->target,
                     n->fraction, g->fractions, g->dose_gy / g->fractions * n->fraction, g->dose_gy);
    synth_put_header(b, a, "SUBJECTIVE", "Subjective");
    bool any = false;
    for (int s = 0; s < SYNTH_N_SYMPTOMS; s++) {
        if (!(present >> s & 1)) continue;
        const char *term = synth_symptom_term(cfg, r, (synth_symptom)s);
        switch (synth_rng_below(r, 4)) {
        case 0: synth_buf_printf(b, "Reports %s, grade %d. ", term, grade[s]); break;
        case 1: synth_buf_printf(b, "Endorses %s since last week (grade %d). ", term, grade[s]); break;
        case 2: synth_buf_printf(b, "Describes worsening %s, CTCAE grade %d. ", term, grade[s]); break;
        default: {
            const size_t at = b->len;
            synth_buf_printf(b, "%s present, grade %d. ", term, grade[s]);
            capitalise_first(b, at);
            break;
        }
        }
        any = true;
    }
    if (!any) synth_buf_puts(b, "Feels well overall. ");
    /* Negated mentions, in one or two lists. */
    int listed = 0, total = __builtin_popcount(negated);
    static const char *const lead[] = {"Denies ", "No ", "Negative for "};
    if (total) {
        const char *l = SYNTH_PICK(r, lead);
        synth_buf_puts(b, l);
        for (int s = 0; s < SYNTH_N_SYMPTOMS; s++) {
            if (!(negated >> s & 1)) continue;
            if (listed) synth_buf_puts(b, listed == total - 1 ? (total > 2 ? ", or " : " or ") : ", ");
            synth_buf_puts(b, synth_symptom_term(cfg, r, (synth_symptom)s));
            listed++;
        }
        synth_buf_puts(b, ". ");
    }
    for (int s = 0; s < SYNTH_N_SYMPTOMS; s++) {
        if (!(historical >> s & 1)) continue;
        const size_t at = b->len;
        synth_buf_printf(b, "%s noted earlier in the course has since resolved. ", synth_symptom_term(cfg, r, (synth_symptom)s));
        capitalise_first(b, at);
    }
    synth_buf_putc(b, '\n');
    synth_put_header(b, a, "OBJECTIVE", "Objective");
    synth_buf_printf(b, "Weight %.1f kg. KPS %d.\n", 55 + (double)((pt->index * 13) % 400) / 10.0,
                     pt->ecog == 0 ? 90 : pt->ecog == 1 ? 80 : 70);
    synth_put_header(b, a, "ASSESSMENT AND PLAN", "Assessment/Plan");
    synth_buf_puts(b, "Tolerating radiotherapy; continue treatment as planned.");
    for (int s = 0; s < SYNTH_N_SYMPTOMS; s++)
        if (present >> s & 1)
            synth_buf_printf(b, " For %s: %s.", synth_symptom_term(cfg, r, (synth_symptom)s), management[s]);
    synth_buf_puts(b, "\nSee again next week.\n");
}
