/* cmd_model_create.c — `oncolm model create`: write a GGUF model with random
 * weights (oncolm/model_create.h). argv[0] is "create". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "oncolm/model_create.h"

static const char create_usage[] =
    "usage: oncolm model create --arch llama|qwen2|phi3|bert [--preset NAME] [options] -o OUT.gguf\n"
    "  --preset tiny|small|1b|mini|7b|8b|base   sizes (1b/7b/8b: llama; mini: phi3; base: bert;\n"
    "                                   default tiny)\n"
    "  --layers N --embd N --heads N --kv-heads N --ff N --ctx N   override the preset\n"
    "  --vocab VOCAB.gguf               take the tokenizer from a GGUF file\n"
    "  --corpus TEXT [--vocab-size N]   train a vocabulary on a text file\n"
    "                                   (default: a built-in sample of clinical text)\n"
    "  --vocab-kind spm|bpe|wpm [--pre NAME]   vocabulary to train (default: the arch's)\n"
    "  --pad-vocab N                    pad a trained vocabulary to N tokens (0 = preset, -1 = no)\n"
    "  --type f32|f16|bf16|q8_0|q4_0|q4_K|q5_K|q6_K   weight type (default f32)\n"
    "  --tied                           tie output to token embeddings (decoders)\n"
    "  --rope-freqs                     add Llama-3.1 rope_freqs (llama)\n"
    "  --labels a,b,c                   bert classifier head with these labels\n"
    "  --seed S                         random seed (default 42)\n"
    "  --init-std S                     standard deviation of the random weights (default 0.02)\n"
    "  --name NAME                      general.name\n"
    "  --chat-template NAME|none        tokenizer.chat_template: llama2|llama3|chatml|phi3|zephyr|mistral\n"
    "                                   (default: the family's; a --vocab file's is kept)\n"
    "  --chat-template-file FILE        tokenizer.chat_template from a Jinja file\n"
    "  --no-family-tokens               keep a trained vocabulary as trained (no family special tokens)\n"
    "  -o, --out OUT.gguf               output file (written atomically)\n";

/* Progress on a terminal only (cli_progress); one line per phase. */
static void progress_cb(void *user, const char *phase, int64_t done, int64_t total) {
    cli_progress(strcmp(phase, "vocab") == 0 ? "training vocabulary" : "writing tensors", done, total, user);
}

/* Split "a,b,c" in place into a malloc()ed array of pointers. */
static char **split_labels(char *s, uint32_t *n) {
    uint32_t count = 1;
    for (char *p = s; *p; p++) count += *p == ',';
    char **v = calloc(count, sizeof *v);
    if (!v) return NULL;
    *n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
        if (*tok) v[(*n)++] = tok;
    return v;
}

int cmd_model_create(int argc, char **argv) {
    onc_model_create_params p = onc_model_create_default_params();
    const char *out = NULL, *corpus_path = NULL, *tmpl_path = NULL;
    char *labels_buf = NULL, **labels = NULL, *corpus = NULL, *tmpl_text = NULL;
    int rc = CLI_EXIT_USAGE;
    bool have_arch = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n = 0;
#define INT_OPT(flag, field, lo, hi)                                                               \
    if (strcmp(a, flag) == 0) {                                                                    \
        if (!cli_parse_i64(a, v, lo, hi, &n)) goto done;                                           \
        field = (int32_t)n;                                                                        \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(create_usage, stdout);
            rc = CLI_EXIT_OK;
            goto done;
        }
        INT_OPT("--layers", p.n_layer, 1, 9999)
        INT_OPT("--embd", p.n_embd, 1, 1 << 20)
        INT_OPT("--heads", p.n_head, 1, 4096)
        INT_OPT("--kv-heads", p.n_head_kv, 1, 4096)
        INT_OPT("--ff", p.n_ff, 1, 1 << 22)
        INT_OPT("--ctx", p.n_ctx, 1, 1 << 24)
        INT_OPT("--vocab-size", p.vocab_size, 1, 1 << 24)
        INT_OPT("--pad-vocab", p.pad_vocab_to, -1, 1 << 24)
#undef INT_OPT
        if (strcmp(a, "--tied") == 0) {
            p.tied = true;
            continue;
        }
        if (strcmp(a, "--rope-freqs") == 0) {
            p.rope_freqs = true;
            continue;
        }
        if (strcmp(a, "--no-family-tokens") == 0) {
            p.no_family_tokens = true;
            continue;
        }
        if (!v) {
            rc = cli_usage_error(create_usage, "model create: unknown option or missing value: '%s'", a);
            goto done;
        }
        i++;
        if (strcmp(a, "--arch") == 0) {
            if (!onc_arch_from_name(v, &p.arch)) {
                rc = cli_usage_error(create_usage, "model create: unknown architecture '%s'", v);
                goto done;
            }
            have_arch = true;
        } else if (strcmp(a, "--preset") == 0) {
            p.preset = v;
        } else if (strcmp(a, "--vocab") == 0) {
            p.vocab_path = v;
        } else if (strcmp(a, "--corpus") == 0) {
            corpus_path = v;
        } else if (strcmp(a, "--vocab-kind") == 0) {
            if (strcmp(v, "spm") == 0) p.vocab_kind = ONC_VOCAB_SPM;
            else if (strcmp(v, "bpe") == 0) p.vocab_kind = ONC_VOCAB_BPE;
            else if (strcmp(v, "wpm") == 0) p.vocab_kind = ONC_VOCAB_WPM;
            else {
                rc = cli_usage_error(create_usage, "model create: --vocab-kind must be spm, bpe or wpm");
                goto done;
            }
        } else if (strcmp(a, "--pre") == 0) {
            p.pre = v;
        } else if (strcmp(a, "--type") == 0) {
            if (!onc_type_from_name(v, &p.wtype)) {
                rc = cli_usage_error(create_usage, "model create: unknown weight type '%s'", v);
                goto done;
            }
        } else if (strcmp(a, "--labels") == 0) {
            free(labels_buf);
            free(labels);
            labels_buf = strdup(v);
            labels = labels_buf ? split_labels(labels_buf, &p.n_labels) : NULL;
            if (!labels) {
                cli_errorf("out of memory");
                rc = CLI_EXIT_FAIL;
                goto done;
            }
            p.labels = (const char *const *)labels;
        } else if (strcmp(a, "--seed") == 0) {
            char *end = NULL;
            unsigned long long s = strtoull(v, &end, 0);
            if (!end || *end) {
                rc = cli_usage_error(create_usage, "model create: --seed needs an unsigned integer");
                goto done;
            }
            p.seed = s;
        } else if (strcmp(a, "--init-std") == 0) {
            double d;
            if (!cli_parse_f64(a, v, &d)) {
                rc = CLI_EXIT_USAGE;
                goto done;
            }
            if (!(d > 0 && d <= 10)) {
                rc = cli_usage_error(create_usage, "model create: --init-std must be in (0, 10]");
                goto done;
            }
            p.init_std = (float)d;
        } else if (strcmp(a, "--name") == 0) {
            p.name = v;
        } else if (strcmp(a, "--chat-template") == 0) {
            if (strcmp(v, "none") == 0) {
                p.chat_template = "";
            } else if (!(p.chat_template = onc_model_create_chat_template(v))) {
                rc = cli_usage_error(create_usage,
                                     "model create: unknown chat template '%s' (llama2, llama3, chatml, phi3, "
                                     "zephyr, mistral, none; or --chat-template-file)",
                                     v);
                goto done;
            }
        } else if (strcmp(a, "--chat-template-file") == 0) {
            tmpl_path = v;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) {
            out = v;
        } else {
            rc = cli_usage_error(create_usage, "model create: unknown option '%s'", a);
            goto done;
        }
    }
    if (!out) {
        rc = cli_usage_error(create_usage, "model create: -o OUT.gguf is required");
        goto done;
    }
    if (!have_arch) p.arch = ONC_ARCH_LLAMA;
    if (p.vocab_path && corpus_path) {
        rc = cli_usage_error(create_usage, "model create: give --vocab or --corpus, not both");
        goto done;
    }
    onc_error err = {0};
    if (corpus_path) {
        corpus = cli_read_file(corpus_path, &p.corpus_len, &err);
        if (!corpus) {
            rc = cli_fail(&err);
            goto done;
        }
        p.corpus = corpus;
    }
    if (tmpl_path) {
        size_t tlen = 0;
        tmpl_text = cli_read_file(tmpl_path, &tlen, &err);
        if (!tmpl_text) {
            rc = cli_fail(&err);
            goto done;
        }
        if (strlen(tmpl_text) != tlen) {
            rc = cli_usage_error(create_usage, "model create: %s: NUL byte in the chat template", tmpl_path);
            goto done;
        }
        p.chat_template = tmpl_text;
    }
    int last = -1;
    p.progress = progress_cb;
    p.progress_user = &last;
    onc_model_create_report rep;
    if (onc_model_create(out, &p, &rep, &err) != ONC_OK) {
        if (last >= 0 && last < 100) fputc('\n', stderr);
        rc = cli_fail(&err);
        goto done;
    }
    if (rep.note[0]) fprintf(stderr, "oncolm: note: %s\n", rep.note);
    if (rep.n_added > 0)
        fprintf(stderr, "oncolm: note: %s vocabulary: %d trained tokens, %d special tokens, %d unused padding\n",
                rep.family, (int)rep.n_vocab_trained, (int)rep.n_added,
                (int)(rep.n_vocab - rep.n_vocab_trained - rep.n_added));
    else if (rep.n_vocab != rep.n_vocab_trained)
        fprintf(stderr, "oncolm: note: vocabulary of %d tokens padded to %d with unused tokens\n",
                (int)rep.n_vocab_trained, (int)rep.n_vocab);
    if (rep.eot_id >= 0)
        fprintf(stderr, "oncolm: note: chat template %s, end of turn token %d\n", rep.chat_template, (int)rep.eot_id);
    else if (strcmp(rep.chat_template, "none") != 0)
        fprintf(stderr, "oncolm: note: chat template %s\n", rep.chat_template);
    fprintf(stderr, "oncolm: wrote %s: %s, %lld parameters, %d tensors, vocabulary %d\n", out,
            onc_arch_name(p.arch), (long long)rep.n_params, (int)rep.n_tensors, (int)rep.n_vocab);
    rc = CLI_EXIT_OK;
done:
    free(corpus);
    free(tmpl_text);
    free(labels);
    free(labels_buf);
    return rc;
}
