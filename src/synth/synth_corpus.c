/* synth_corpus.c — onc_synth_corpus: streams patients through
 * synth_record_generate and writes notes.jsonl, patients.jsonl, one JSONL
 * per task, the retrieval set (BEIR corpus.jsonl, queries.jsonl,
 * qrels/{train,dev,test}.tsv and TREC qrels.trec) and manifest.json. Each file goes to "<name>.tmp.<pid>" and is
 * renamed when everything succeeded; on failure the temporaries are
 * removed. Memory is constant: one record and one line buffer. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synth/synth_internal.h"

enum {
    F_NOTES,
    F_PATIENTS,
    F_CT,
    F_RT_MODALITY,
    F_ICD10,
    F_RT_REGIMEN,
    F_TOXICITY,
    F_LETTERS,
    F_CORPUS,      /* BEIR corpus: one document per note */
    F_QUERIES,     /* BEIR queries */
    F_QRELS_TRAIN, /* BEIR qrels of the train / validation ("dev") / test patients */
    F_QRELS_DEV,
    F_QRELS_TEST,
    F_QRELS_TREC,  /* every judgement, TREC format */
    F_N
};
static const char *const file_names[F_N] = {"notes.jsonl",    "patients.jsonl", "ct_classification.jsonl",
                                            "rt_modality.jsonl", "icd10.jsonl", "rt_regimen.jsonl",
                                            "toxicity.jsonl", "letters.jsonl", "corpus.jsonl",
                                            "queries.jsonl",  "qrels/train.tsv", "qrels/dev.tsv",
                                            "qrels/test.tsv", "qrels.trec"};
/* Task names in the manifest (F_CT .. F_LETTERS). */
static const char *const task_names[F_N] = {NULL, NULL, "ct_classification", "rt_modality", "icd10",
                                           "rt_regimen", "toxicity", "letters"};

typedef struct out_file {
    FILE *f;
    char tmp[4096], path[4096];
    int64_t lines, bytes;
    int64_t by_split[3];
} out_file;

typedef struct corpus_state {
    out_file files[F_N];
    synth_buf line;
    onc_synth_stats stats;
    int64_t modality[SYNTH_N_MODALITIES];
    int64_t symptom_pos[SYNTH_N_SYMPTOMS];
    int64_t *icd_counts; /* [synth_n_icd10] */
    int64_t patients_by_split[3];
    int64_t ct_by_split[3][3];
    /* retrieval */
    int64_t queries_per_patient[SYNTH_MAX_QUERIES + 1];
    int64_t queries_by_category[SYNTH_N_QCATS];
    int64_t grades_by_category[SYNTH_N_QCATS][3];
    synth_query queries[SYNTH_MAX_QUERIES];
} corpus_state;

void onc_synth_params_default(onc_synth_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->n_patients = 100;
    p->difficulty = ONC_SYNTH_MEDIUM;
    p->typo_rate = -1;
    p->negation_rate = -1;
}

const char *onc_synth_note_type_name(int type) {
    static const char *const names[ONC_SYNTH_N_NOTE_TYPES] = {"progress",   "ct",       "pathology",
                                                               "rt_summary", "toxicity", "letter"};
    return type >= 0 && type < ONC_SYNTH_N_NOTE_TYPES ? names[type] : "?";
}

int onc_synth_difficulty_parse(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "easy")) return ONC_SYNTH_EASY;
    if (!strcmp(name, "medium")) return ONC_SYNTH_MEDIUM;
    if (!strcmp(name, "hard")) return ONC_SYNTH_HARD;
    return -1;
}

/* mkdir -p; ONC_ERR_IO with the failing path. */
static onc_status make_dirs(const char *dir, onc_error *err) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return onc_error_set(err, ONC_ERR_INVALID, "%s: path too long", dir);
    for (char *s = p + 1;; s++) {
        const char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return onc_error_set(err, ONC_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
            *s = c;
            if (c == '\0') break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return onc_error_set(err, ONC_ERR_IO, "%s: not a folder", dir);
    return ONC_OK;
}

static onc_status open_file(out_file *o, const char *dir, const char *name, onc_error *err) {
    snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
    snprintf(o->tmp, sizeof o->tmp, "%s/%s.tmp.%ld", dir, name, (long)getpid());
    o->f = fopen(o->tmp, "wb");
    if (!o->f) return onc_error_set(err, ONC_ERR_IO, "%s: cannot create: %s", o->tmp, strerror(errno));
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return ONC_OK;
}

static onc_status emit(corpus_state *st, int which, int split, onc_error *err) {
    out_file *o = &st->files[which];
    synth_buf_putc(&st->line, '\n');
    if (st->line.oom) return onc_error_set(err, ONC_ERR_NOMEM, "synth: out of memory building a line of %s", o->path);
    if (fwrite(st->line.p, 1, st->line.len, o->f) != st->line.len)
        return onc_error_set(err, ONC_ERR_IO, "%s: write failed: %s", o->tmp, strerror(errno));
    o->lines++;
    o->bytes += (int64_t)st->line.len;
    o->by_split[split]++;
    synth_buf_reset(&st->line);
    return ONC_OK;
}

/* {"id":..,"patient":..,"split":.., — the common head of every task line. */
static void line_head(synth_buf *b, const synth_note *n, const synth_patient *pt) {
    synth_buf_printf(b, "{\"id\":\"%s\",\"patient\":\"%s\",\"split\":\"%s\",", n->id, pt->id, synth_split_names[pt->split]);
}

static void put_symptoms(synth_buf *b, uint32_t mask) {
    synth_buf_putc(b, '{');
    for (int s = 0; s < SYNTH_N_SYMPTOMS; s++) synth_buf_printf(b, "%s\"%s\":%u", s ? "," : "", synth_symptom_keys[s], mask >> s & 1);
    synth_buf_putc(b, '}');
}

static void put_biomarkers_json(synth_buf *b, const synth_biomarkers *m) {
    synth_buf_printf(b, "{\"er\":%d,\"pr\":%d,\"her2\":%d,\"egfr\":%d,\"alk\":%d,\"kras\":%d,\"msi_high\":%d,\"pdl1_tps\":%d,"
                        "\"p16\":%d,\"gleason\":%d}",
                     m->er, m->pr, m->her2, m->egfr, m->alk, m->kras, m->msi, m->pdl1, m->p16,
                     m->gleason_primary ? m->gleason_primary + m->gleason_secondary : -1);
}

static void put_regimen_json(synth_buf *b, const synth_regimen *g) {
    synth_buf_printf(b, "{\"dose_gy\":%.4g,\"fractions\":%d,\"dose_per_fraction_gy\":%.4g,\"technique\":\"%s\",\"modality\":\"%s\"}",
                     g->dose_gy, g->fractions, g->dose_gy / g->fractions, g->technique, synth_modality_names[g->modality]);
}

static onc_status write_patient(corpus_state *st, const synth_record *rec, onc_error *err) {
    const synth_patient *pt = &rec->pt;
    synth_buf *b = &st->line;
    char date[11];
    onc_status rc;
    /* patients.jsonl: the structured truth. */
    synth_date_iso(pt->dx_date, date);
    synth_buf_printf(b, "{\"id\":\"%s\",\"split\":\"%s\",\"sex\":\"%s\",\"age\":%d,\"site\":\"%s\",\"icd10\":\"%s\","
                        "\"subsite\":\"%s\",\"histology\":\"%s\",\"stage\":%d,\"t\":%d,\"n\":%d,\"m\":%d,\"diagnosis_date\":\"%s\","
                        "\"ecog\":%d,\"smoking\":\"%s\",\"biomarkers\":",
                     pt->id, synth_split_names[pt->split], pt->male ? "M" : "F", pt->age, synth_site_keys[pt->site],
                     pt->icd->code, pt->subsite, pt->histology, pt->stage, pt->t, pt->n, pt->m, date, pt->ecog,
                     (const char *const[]){"never", "former", "current"}[pt->smoking]);
    put_biomarkers_json(b, &pt->bio);
    synth_buf_puts(b, ",\"treatments\":[");
    static const char *const kinds[] = {"surgery", "chemotherapy", "radiotherapy", "endocrine", "targeted", "immunotherapy"};
    for (int i = 0; i < pt->n_tx; i++) {
        char s[11], e[11];
        synth_date_iso(pt->tx[i].start, s);
        synth_date_iso(pt->tx[i].end, e);
        synth_buf_printf(b, "%s{\"kind\":\"%s\",\"name\":\"%s\",\"start\":\"%s\",\"end\":\"%s\"}", i ? "," : "", kinds[pt->tx[i].kind],
                         pt->tx[i].name, s, e);
    }
    synth_buf_puts(b, "],\"medications\":[");
    for (int i = 0; i < pt->n_meds; i++) synth_buf_printf(b, "%s\"%s\"", i ? "," : "", pt->meds[i]);
    synth_buf_puts(b, "],\"radiotherapy\":");
    if (pt->rt) put_regimen_json(b, pt->rt);
    else synth_buf_puts(b, "null");
    synth_buf_puts(b, "}");
    if ((rc = emit(st, F_PATIENTS, pt->split, err)) != ONC_OK) return rc;
    st->patients_by_split[pt->split]++;

    for (int i = 0; i < rec->n_notes; i++) {
        const synth_note *n = &rec->notes[i];
        synth_date_iso(n->date, date);
        st->stats.notes++;
        st->stats.notes_by_type[n->type]++;
        /* notes.jsonl */
        synth_buf_printf(b, "{\"id\":\"%s\",\"patient\":\"%s\",\"date\":\"%s\",\"type\":\"%s\",\"author\":\"%s\",\"split\":\"%s\","
                            "\"text\":",
                         n->id, pt->id, date, onc_synth_note_type_name(n->type),
                         n->type == ONC_NOTE_CT || n->type == ONC_NOTE_PATHOLOGY ? "department" : synth_authors[n->author].name,
                         synth_split_names[pt->split]);
        synth_buf_json_str(b, n->text.p, n->text.len);
        synth_buf_puts(b, ",\"metadata\":{");
        switch (n->type) {
        case ONC_NOTE_CT: synth_buf_printf(b, "\"ct_label\":%d", n->ct_label); break;
        case ONC_NOTE_TOXICITY:
            synth_buf_printf(b, "\"visit\":%d,\"fraction\":%d,\"symptoms\":", n->visit, n->fraction);
            put_symptoms(b, n->tox_present);
            synth_buf_puts(b, ",\"negated_or_resolved\":");
            put_symptoms(b, n->tox_negated);
            break;
        case ONC_NOTE_RT_SUMMARY:
            synth_buf_printf(b, "\"icd10\":\"%s\",\"regimen\":", pt->rt_icd->code);
            put_regimen_json(b, pt->rt);
            break;
        case ONC_NOTE_LETTER:
            synth_buf_puts(b, "\"source_ids\":[");
            for (int k = 0; k < n->n_sources; k++) synth_buf_printf(b, "%s\"%s\"", k ? "," : "", rec->notes[n->sources[k]].id);
            synth_buf_putc(b, ']');
            break;
        default:
            synth_buf_printf(b, "\"site\":\"%s\",\"icd10\":\"%s\",\"stage\":%d,\"biomarkers\":", synth_site_keys[pt->site],
                             pt->icd->code, pt->stage);
            put_biomarkers_json(b, &pt->bio);
            if (n->type == ONC_NOTE_PROGRESS) synth_buf_printf(b, ",\"visit\":%d", n->visit);
            break;
        }
        synth_buf_puts(b, "}}");
        if ((rc = emit(st, F_NOTES, pt->split, err)) != ONC_OK) return rc;

        /* task files */
        switch (n->type) {
        case ONC_NOTE_CT:
            line_head(b, n, pt);
            synth_buf_puts(b, "\"input\":");
            synth_buf_json_str(b, n->text.p, n->text.len);
            synth_buf_printf(b, ",\"label\":%d}", n->ct_label);
            if ((rc = emit(st, F_CT, pt->split, err)) != ONC_OK) return rc;
            st->stats.ct_labels[n->ct_label]++;
            st->ct_by_split[pt->split][n->ct_label]++;
            break;
        case ONC_NOTE_RT_SUMMARY:
            line_head(b, n, pt);
            synth_buf_puts(b, "\"input\":");
            synth_buf_json_str(b, n->text.p, n->text.len);
            synth_buf_printf(b, ",\"label\":\"%s\"}", synth_modality_names[pt->rt->modality]);
            if ((rc = emit(st, F_RT_MODALITY, pt->split, err)) != ONC_OK) return rc;
            st->modality[pt->rt->modality]++;
            line_head(b, n, pt);
            synth_buf_puts(b, "\"input\":");
            synth_buf_json_str(b, n->text.p, n->text.len);
            synth_buf_printf(b, ",\"label\":\"%s\",\"description\":\"%s\"}", pt->rt_icd->code, pt->rt_icd->description);
            if ((rc = emit(st, F_ICD10, pt->split, err)) != ONC_OK) return rc;
            st->icd_counts[pt->rt_icd - synth_icd10]++;
            line_head(b, n, pt);
            synth_buf_puts(b, "\"input\":");
            synth_buf_json_str(b, n->text.p, n->text.len);
            synth_buf_puts(b, ",\"target\":");
            put_regimen_json(b, pt->rt);
            synth_buf_putc(b, '}');
            if ((rc = emit(st, F_RT_REGIMEN, pt->split, err)) != ONC_OK) return rc;
            break;
        case ONC_NOTE_TOXICITY:
            line_head(b, n, pt);
            synth_buf_puts(b, "\"input\":");
            synth_buf_json_str(b, n->text.p, n->text.len);
            synth_buf_puts(b, ",\"label\":");
            put_symptoms(b, n->tox_present);
            synth_buf_putc(b, '}');
            if ((rc = emit(st, F_TOXICITY, pt->split, err)) != ONC_OK) return rc;
            for (int s = 0; s < SYNTH_N_SYMPTOMS; s++) st->symptom_pos[s] += n->tox_present >> s & 1;
            break;
        case ONC_NOTE_LETTER:
            line_head(b, n, pt);
            synth_buf_puts(b, "\"source_ids\":[");
            for (int k = 0; k < n->n_sources; k++) synth_buf_printf(b, "%s\"%s\"", k ? "," : "", rec->notes[n->sources[k]].id);
            synth_buf_puts(b, "],\"input\":\"");
            /* The sources, each under a header line, as one JSON string. */
            for (int k = 0; k < n->n_sources; k++) {
                const synth_note *src = &rec->notes[n->sources[k]];
                char d[11];
                synth_date_iso(src->date, d);
                synth_buf_printf(b, "%s=== %s (%s, %s) ===\\n", k ? "\\n" : "", src->id, onc_synth_note_type_name(src->type), d);
                const size_t at = b->len;
                synth_buf_json_str(b, src->text.p, src->text.len);
                if (!b->oom) { /* drop the quotes the escaper added: splice into the open string */
                    memmove(b->p + at, b->p + at + 1, b->len - at - 2);
                    b->len -= 2;
                    b->p[b->len] = '\0';
                }
            }
            synth_buf_puts(b, "\",\"target\":");
            synth_buf_json_str(b, n->text.p, n->text.len);
            synth_buf_putc(b, '}');
            if ((rc = emit(st, F_LETTERS, pt->split, err)) != ONC_OK) return rc;
            break;
        default: break;
        }
    }
    return ONC_OK;
}

/* Write a header line (counted in the file's lines and bytes, not in its splits). */
static onc_status put_header_line(out_file *o, const char *line, onc_error *err) {
    const size_t n = strlen(line);
    if (fwrite(line, 1, n, o->f) != n) return onc_error_set(err, ONC_ERR_IO, "%s: write failed: %s", o->tmp, strerror(errno));
    o->lines++;
    o->bytes += (int64_t)n;
    return ONC_OK;
}

/* The retrieval set of one patient: a BEIR document per note, then the
 * patient's questions (synth_queries_generate) and their non-zero
 * judgements, in BEIR qrels (the file of the patient's split) and TREC
 * format. */
static onc_status write_retrieval(corpus_state *st, const synth_config *cfg, const synth_record *rec, onc_error *err) {
    const synth_patient *pt = &rec->pt;
    synth_buf *b = &st->line;
    onc_status rc;
    for (int i = 0; i < rec->n_notes; i++) {
        const synth_note *n = &rec->notes[i];
        char date[11];
        synth_date_iso(n->date, date);
        synth_buf_printf(b, "{\"_id\":\"%s\",\"title\":\"\",\"text\":", n->id);
        synth_buf_json_str(b, n->text.p, n->text.len);
        synth_buf_printf(b, ",\"metadata\":{\"patient\":\"%s\",\"type\":\"%s\",\"date\":\"%s\"}}", pt->id,
                         onc_synth_note_type_name(n->type), date);
        if ((rc = emit(st, F_CORPUS, pt->split, err)) != ONC_OK) return rc;
    }
    int n_q = 0;
    synth_queries_generate(cfg, rec, st->queries, &n_q);
    st->queries_per_patient[n_q]++;
    const int qrels_file = F_QRELS_TRAIN + pt->split;
    for (int q = 0; q < n_q; q++) {
        const synth_query *Q = &st->queries[q];
        synth_buf_printf(b, "{\"_id\":\"%s\",\"text\":", Q->id);
        synth_buf_json_str(b, Q->text, strlen(Q->text));
        synth_buf_printf(b, ",\"metadata\":{\"patient\":\"%s\",\"category\":\"%s\",\"topic\":\"%s\",\"split\":\"%s\"}}",
                         pt->id, synth_qcat_names[Q->category], Q->topic, synth_split_names[pt->split]);
        if ((rc = emit(st, F_QUERIES, pt->split, err)) != ONC_OK) return rc;
        st->stats.queries++;
        st->queries_by_category[Q->category]++;
        for (int i = 0; i < rec->n_notes; i++) {
            const int g = Q->grade[i];
            if (!g) continue;
            synth_buf_printf(b, "%s\t%s\t%d", Q->id, rec->notes[i].id, g);
            if ((rc = emit(st, qrels_file, pt->split, err)) != ONC_OK) return rc;
            synth_buf_printf(b, "%s 0 %s %d", Q->id, rec->notes[i].id, g);
            if ((rc = emit(st, F_QRELS_TREC, pt->split, err)) != ONC_OK) return rc;
            st->stats.qrels++;
            st->stats.qrels_by_grade[g]++;
            st->grades_by_category[Q->category][g]++;
        }
    }
    return ONC_OK;
}

static json_t *split_counts(const int64_t *c) {
    json_t *o = json_object();
    for (int s = 0; s < 3; s++) json_object_set_new(o, synth_split_names[s], json_integer(c[s]));
    return o;
}

/* manifest.json: parameters, counts, label distributions, files. */
static onc_status write_manifest(corpus_state *st, const onc_synth_params *p, const synth_config *cfg, const char *dir,
                                 onc_error *err) {
    static const char *const difficulty[] = {"easy", "medium", "hard"};
    json_t *m = json_object();
    json_object_set_new(m, "generator", json_string("oncolm synth corpus"));
    json_object_set_new(m, "generator_version", json_string(ONC_SYNTH_VERSION));
    json_object_set_new(m, "seed", json_integer((json_int_t)p->seed));
    json_object_set_new(m, "patients", json_integer(p->n_patients));
    json_object_set_new(m, "difficulty", json_string(difficulty[cfg->difficulty]));
    json_t *knobs = json_object();
    json_object_set_new(knobs, "typo_rate", json_real(cfg->typo_rate));
    json_object_set_new(knobs, "negation_rate", json_real(cfg->negation_rate));
    json_object_set_new(knobs, "synonym_rate", json_real(cfg->synonym_rate));
    json_object_set_new(knobs, "section_shuffle_rate", json_real(cfg->shuffle_rate));
    json_object_set_new(knobs, "historical_rate", json_real(cfg->historical_rate));
    json_object_set_new(knobs, "hedge_rate", json_real(cfg->hedge_rate));
    json_object_set_new(m, "knobs", knobs);
    json_object_set_new(m, "patients_by_split", split_counts(st->patients_by_split));
    json_object_set_new(m, "notes", json_integer(st->stats.notes));
    json_t *by_type = json_object();
    for (int t = 0; t < ONC_SYNTH_N_NOTE_TYPES; t++)
        json_object_set_new(by_type, onc_synth_note_type_name(t), json_integer(st->stats.notes_by_type[t]));
    json_object_set_new(m, "notes_by_type", by_type);
    json_t *tasks = json_object();
    for (int f = F_CT; f <= F_LETTERS; f++) {
        json_t *t = json_object();
        json_object_set_new(t, "file", json_string(file_names[f]));
        json_object_set_new(t, "examples", json_integer(st->files[f].lines));
        json_object_set_new(t, "by_split", split_counts(st->files[f].by_split));
        json_t *dist = json_object();
        if (f == F_CT) {
            for (int l = 0; l < 3; l++) json_object_set_new(dist, (const char *const[]){"0", "1", "2"}[l], json_integer(st->stats.ct_labels[l]));
            json_object_set_new(t, "label_meaning", json_string("0 no pancreatic cancer; 1 after treatment for pancreatic "
                                                                "cancer; 2 pre-treatment pancreatic cancer present"));
        } else if (f == F_RT_MODALITY) {
            for (int k = 0; k < SYNTH_N_MODALITIES; k++) json_object_set_new(dist, synth_modality_names[k], json_integer(st->modality[k]));
        } else if (f == F_ICD10) {
            for (size_t k = 0; k < synth_n_icd10; k++)
                if (st->icd_counts[k]) json_object_set_new(dist, synth_icd10[k].code, json_integer(st->icd_counts[k]));
        } else if (f == F_TOXICITY) {
            for (int s = 0; s < SYNTH_N_SYMPTOMS; s++) json_object_set_new(dist, synth_symptom_keys[s], json_integer(st->symptom_pos[s]));
        }
        if (json_object_size(dist)) json_object_set_new(t, f == F_TOXICITY ? "positives" : "labels", dist);
        else json_decref(dist);
        json_object_set_new(tasks, task_names[f], t);
    }
    json_object_set_new(m, "tasks", tasks);
    json_t *ret = json_object();
    json_object_set_new(ret, "corpus", json_string(file_names[F_CORPUS]));
    json_object_set_new(ret, "queries_file", json_string(file_names[F_QUERIES]));
    json_object_set_new(ret, "qrels", json_pack("{s:s,s:s,s:s}", "train", file_names[F_QRELS_TRAIN], "validation",
                                                file_names[F_QRELS_DEV], "test", file_names[F_QRELS_TEST]));
    json_object_set_new(ret, "qrels_trec", json_string(file_names[F_QRELS_TREC]));
    json_object_set_new(ret, "documents", json_integer(st->files[F_CORPUS].lines));
    json_object_set_new(ret, "queries", json_integer(st->stats.queries));
    json_object_set_new(ret, "queries_by_split", split_counts(st->files[F_QUERIES].by_split));
    json_t *per_patient = json_object();
    for (int k = 0; k <= SYNTH_MAX_QUERIES; k++)
        if (st->queries_per_patient[k]) {
            char key[16];
            snprintf(key, sizeof key, "%d", k);
            json_object_set_new(per_patient, key, json_integer(st->queries_per_patient[k]));
        }
    json_object_set_new(ret, "queries_per_patient", per_patient);
    json_t *cats = json_object(), *cat_grades = json_object();
    for (int c = 0; c < SYNTH_N_QCATS; c++) {
        json_object_set_new(cats, synth_qcat_names[c], json_integer(st->queries_by_category[c]));
        json_object_set_new(cat_grades, synth_qcat_names[c], json_pack("{s:I,s:I}", "1", (json_int_t)st->grades_by_category[c][1],
                                                                       "2", (json_int_t)st->grades_by_category[c][2]));
    }
    json_object_set_new(ret, "queries_by_category", cats);
    json_object_set_new(ret, "judgements", json_integer(st->stats.qrels));
    json_object_set_new(ret, "judgements_by_split", split_counts(st->files[F_QRELS_TREC].by_split));
    json_object_set_new(ret, "grades", json_pack("{s:I,s:I}", "1", (json_int_t)st->stats.qrels_by_grade[1], "2",
                                                 (json_int_t)st->stats.qrels_by_grade[2]));
    json_object_set_new(ret, "grades_by_category", cat_grades);
    json_object_set_new(ret, "grade_meaning", json_string("2 the note states the answer; 1 partially relevant (same topic "
                                                          "without the answer, or an older value); notes not listed: 0"));
    json_object_set_new(m, "retrieval", ret);
    json_t *files = json_object();
    for (int f = 0; f < F_N; f++) {
        json_t *o = json_object();
        json_object_set_new(o, "lines", json_integer(st->files[f].lines));
        json_object_set_new(o, "bytes", json_integer(st->files[f].bytes));
        json_object_set_new(files, file_names[f], o);
    }
    json_object_set_new(m, "files", files);
    char tmp[4096], path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    snprintf(tmp, sizeof tmp, "%s/manifest.json.tmp.%ld", dir, (long)getpid());
    const int rc = json_dump_file(m, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    json_decref(m);
    if (rc != 0) {
        remove(tmp);
        return onc_error_set(err, ONC_ERR_IO, "%s: cannot write", tmp);
    }
    struct stat sb;
    if (stat(tmp, &sb) == 0) st->stats.bytes += (int64_t)sb.st_size;
    if (rename(tmp, path) != 0) {
        onc_error_set(err, ONC_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return ONC_ERR_IO;
    }
    return ONC_OK;
}

onc_status onc_synth_corpus(const onc_synth_params *p, const char *out_dir, onc_synth_stats *stats, onc_error *err) {
    if (!p || !out_dir || !*out_dir) return onc_error_set(err, ONC_ERR_INVALID, "synth: missing parameters or output folder");
    if (p->n_patients < 1 || p->n_patients > 100000000)
        return onc_error_set(err, ONC_ERR_INVALID, "synth: patients must be in [1, 1e8], got %lld", (long long)p->n_patients);
    if ((int)p->difficulty < ONC_SYNTH_EASY || (int)p->difficulty > ONC_SYNTH_HARD)
        return onc_error_set(err, ONC_ERR_INVALID, "synth: unknown difficulty %d", (int)p->difficulty);
    if (p->typo_rate > 0.2) return onc_error_set(err, ONC_ERR_INVALID, "synth: typo rate %g above 0.2", p->typo_rate);
    if (p->negation_rate > 1) return onc_error_set(err, ONC_ERR_INVALID, "synth: negation rate %g above 1", p->negation_rate);
    onc_status rc = make_dirs(out_dir, err);
    if (rc != ONC_OK) return rc;
    synth_config cfg;
    synth_config_from_params(p, &cfg);
    corpus_state *st = calloc(1, sizeof *st);
    synth_record *rec = calloc(1, sizeof *rec);
    int64_t *icd_counts = calloc(synth_n_icd10, sizeof *icd_counts);
    if (!st || !rec || !icd_counts) {
        free(st), free(rec), free(icd_counts);
        return onc_error_set(err, ONC_ERR_NOMEM, "synth: out of memory");
    }
    st->icd_counts = icd_counts;
    synth_buf_reset(&st->line);
    char qrels_dir[4096];
    if (snprintf(qrels_dir, sizeof qrels_dir, "%s/qrels", out_dir) >= (int)sizeof qrels_dir)
        rc = onc_error_set(err, ONC_ERR_INVALID, "%s: path too long", out_dir);
    if (rc == ONC_OK) rc = make_dirs(qrels_dir, err);
    for (int f = 0; f < F_N && rc == ONC_OK; f++) rc = open_file(&st->files[f], out_dir, file_names[f], err);
    for (int f = F_QRELS_TRAIN; f <= F_QRELS_TEST && rc == ONC_OK; f++)
        rc = put_header_line(&st->files[f], "query-id\tcorpus-id\tscore\n", err);
    for (int64_t i = 0; i < p->n_patients && rc == ONC_OK; i++) {
        rc = synth_record_generate(&cfg, i, rec, err);
        if (rc == ONC_OK) rc = write_patient(st, rec, err);
        if (rc == ONC_OK) rc = write_retrieval(st, &cfg, rec, err);
        st->stats.patients++;
        if (p->progress) p->progress(p->progress_ctx, i + 1, p->n_patients);
    }
    for (int f = 0; f < F_N; f++) {
        out_file *o = &st->files[f];
        if (!o->f) continue;
        if (fclose(o->f) != 0 && rc == ONC_OK) rc = onc_error_set(err, ONC_ERR_IO, "%s: write failed: %s", o->tmp, strerror(errno));
        o->f = NULL;
        st->stats.bytes += o->bytes;
    }
    for (int f = 0; f < F_N; f++) {
        out_file *o = &st->files[f];
        if (!o->tmp[0]) continue;
        if (rc == ONC_OK && rename(o->tmp, o->path) != 0)
            rc = onc_error_set(err, ONC_ERR_IO, "%s: cannot rename to %s: %s", o->tmp, o->path, strerror(errno));
        if (rc != ONC_OK) remove(o->tmp);
    }
    /* The manifest comes last: its presence marks a complete corpus. */
    if (rc == ONC_OK) rc = write_manifest(st, p, &cfg, out_dir, err);
    if (rc == ONC_OK && stats) *stats = st->stats;
    synth_record_free(rec);
    synth_buf_free(&st->line);
    free(rec), free(icd_counts), free(st);
    return rc;
}
