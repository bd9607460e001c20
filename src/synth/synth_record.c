/* synth_record.c — one patient's record: draws the patient, plans the
 * dated notes (pathology at diagnosis, consult, CTs, follow-up progress
 * notes, radiotherapy summary and weekly toxicity visits, a closing
 * letter), orders them by date, assigns ids and renders them. */
#include <stdio.h>
#include <string.h>

#include "synth/synth_internal.h"

static synth_note *plan(synth_record *rec, onc_synth_note_type type, int32_t date, int author) {
    ONC_ASSERT(rec->n_notes < SYNTH_MAX_NOTES);
    synth_note *n = &rec->notes[rec->n_notes++];
    synth_buf text = n->text; /* keep the allocation */
    memset(n, 0, sizeof *n);
    n->text = text;
    synth_buf_reset(&n->text);
    n->type = type;
    n->date = date;
    n->author = author;
    n->ct_label = -1;
    n->lvi = -1;
    return n;
}

/* Day offset of fraction k (1-based) of a course given 5 fractions a week. */
static int32_t fraction_day(int k) { return (k - 1) / 5 * 7 + (k - 1) % 5; }

/* Plan the CTs: pancreatic patients get one pre-treatment CT (label 2) and
 * 1-3 post-treatment CTs (label 1); others 0-2 CTs (label 0), mean 1. */
static void plan_cts(synth_record *rec, synth_rng *r) {
    const synth_patient *pt = &rec->pt;
    if (pt->site == SITE_PANCREAS) {
        plan(rec, ONC_NOTE_CT, pt->dx_date - synth_rng_range(r, 2, 10), 0)->ct_label = 2;
        const int post = 1 + synth_rng_weighted(r, (const double[]){30, 40, 30}, 3);
        for (int k = 0; k < post; k++) {
            synth_note *n = plan(rec, ONC_NOTE_CT, pt->first_tx_date + 56 + 84 * k + synth_rng_range(r, 0, 21), 0);
            n->ct_label = 1;
            n->visit = k + 1;
        }
        return;
    }
    const int count = synth_rng_weighted(r, (const double[]){15, 70, 15}, 3);
    for (int k = 0; k < count; k++) {
        const int32_t date = k == 0 && synth_rng_chance(r, 0.5) ? pt->dx_date - synth_rng_range(r, 2, 10)
                                                                 : pt->first_tx_date + 90 + 90 * k + synth_rng_range(r, 0, 30);
        plan(rec, ONC_NOTE_CT, date, 0)->ct_label = 0;
    }
}

static void plan_rt(synth_record *rec, synth_rng *r) {
    const synth_patient *pt = &rec->pt;
    const synth_regimen *g = pt->rt;
    if (!g) return;
    plan(rec, ONC_NOTE_RT_SUMMARY, pt->rt_end + synth_rng_range(r, 1, 4), pt->rad_author);
    if (g->fractions < 3) return;
    int visits = g->fractions / 5;
    visits = visits < 1 ? 1 : visits > 3 ? 3 : visits;
    for (int v = 1; v <= visits; v++) {
        int fraction = 5 * v < g->fractions ? 5 * v : g->fractions - (g->fractions > 3);
        synth_note *n = plan(rec, ONC_NOTE_TOXICITY, pt->rt_start + fraction_day(fraction), pt->rad_author);
        n->visit = v;
        n->fraction = fraction;
    }
}

onc_status synth_record_generate(const synth_config *cfg, int64_t index, synth_record *rec, onc_error *err) {
    synth_rng r;
    synth_patient *pt = &rec->pt;
    synth_patient_generate(cfg, index, pt, &r);
    rec->n_notes = 0;
    plan(rec, ONC_NOTE_PATHOLOGY, pt->dx_date, 0);
    plan(rec, ONC_NOTE_PROGRESS, pt->dx_date + synth_rng_range(&r, 5, 12), pt->author)->visit = 1;
    plan_cts(rec, &r);
    const int follow_ups = synth_rng_range(&r, 1, 3);
    for (int k = 0; k < follow_ups; k++)
        plan(rec, ONC_NOTE_PROGRESS, pt->first_tx_date + 21 + 75 * k + synth_rng_range(&r, 0, 30), pt->author)->visit = k + 2;
    plan_rt(rec, &r);
    /* Date order (stable insertion sort; ties keep plan order). */
    for (int i = 1; i < rec->n_notes; i++) {
        synth_note t = rec->notes[i];
        int j = i;
        while (j > 0 && rec->notes[j - 1].date > t.date) {
            rec->notes[j] = rec->notes[j - 1];
            j--;
        }
        rec->notes[j] = t;
    }
    int32_t last = pt->dx_date;
    for (int i = 0; i < rec->n_notes; i++) last = rec->notes[i].date > last ? rec->notes[i].date : last;
    /* Letter: summarises the pathology report, the last CT, the RT summary and the last progress note. */
    synth_note *letter = plan(rec, ONC_NOTE_LETTER, last + synth_rng_range(&r, 3, 14), pt->author);
    int idx[4] = {-1, -1, -1, -1};
    for (int i = 0; i < rec->n_notes - 1; i++) {
        const synth_note *n = &rec->notes[i];
        if (n->type == ONC_NOTE_PATHOLOGY && idx[0] < 0) idx[0] = i;
        if (n->type == ONC_NOTE_CT) idx[1] = i;
        if (n->type == ONC_NOTE_RT_SUMMARY) idx[2] = i;
        if (n->type == ONC_NOTE_PROGRESS) idx[3] = i;
    }
    for (int k = 0; k < 4; k++)
        if (idx[k] >= 0) letter->sources[letter->n_sources++] = idx[k];
    /* Sources in date order. */
    for (int i = 1; i < letter->n_sources; i++)
        for (int j = i; j > 0 && letter->sources[j - 1] > letter->sources[j]; j--) {
            int t = letter->sources[j];
            letter->sources[j] = letter->sources[j - 1];
            letter->sources[j - 1] = t;
        }
    for (int i = 0; i < rec->n_notes; i++) {
        synth_note *n = &rec->notes[i];
        snprintf(n->id, sizeof n->id, "%s-N%02d", pt->id, i + 1);
        switch (n->type) {
        case ONC_NOTE_PROGRESS: synth_render_progress(cfg, pt, &r, n); break;
        case ONC_NOTE_CT: synth_render_ct(cfg, pt, &r, n); break;
        case ONC_NOTE_PATHOLOGY: synth_render_pathology(cfg, pt, &r, n); break;
        case ONC_NOTE_RT_SUMMARY: synth_render_rt_summary(cfg, pt, &r, n); break;
        case ONC_NOTE_TOXICITY: synth_render_toxicity(cfg, pt, &r, n); break;
        default: synth_render_letter(cfg, pt, &r, n, rec->notes); break;
        }
        synth_apply_typos(&r, &n->text, cfg->typo_rate, &rec->scratch);
        if (n->text.oom || rec->scratch.oom)
            return onc_error_set(err, ONC_ERR_NOMEM, "synth: out of memory rendering patient %s", pt->id);
    }
    return ONC_OK;
}

void synth_record_free(synth_record *rec) {
    for (int i = 0; i < SYNTH_MAX_NOTES; i++) synth_buf_free(&rec->notes[i].text);
    synth_buf_free(&rec->scratch);
}
