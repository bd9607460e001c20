/* cmd_vocab.c — `oncolm vocab train`: learn a vocabulary from text files and
 * write it as a vocabulary-only GGUF (general.architecture + tokenizer.*,
 * no tensors), the way llama.cpp's ggml-vocab-*.gguf files look. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "oncolm/gguf.h"
#include "oncolm/vocab.h"

static const char vocab_usage[] =
    "usage: oncolm vocab train --kind spm|bpe|wpm [--pre llama-bpe|qwen2|gpt-2] --size N\n"
    "                          [--min-freq N] [--cased] --out VOCAB.gguf CORPUS...\n"
    "  --kind      spm: SentencePiece-style BPE (Llama-2, general.architecture llama)\n"
    "              bpe: byte-level BPE (Llama-3 / Qwen2 / GPT-2, architecture llama/qwen2/gpt2)\n"
    "              wpm: WordPiece (BERT, architecture bert)\n"
    "  --pre       BPE pre-tokenizer (default llama-bpe)\n"
    "  --size      target vocabulary size incl. special tokens (default 8000)\n"
    "  --min-freq  stop when the best pair is seen fewer times (default 2)\n"
    "  --cased     WPM: keep case and accents (default: lower-case, strip accents)\n"
    "  CORPUS      UTF-8 text files (\"-\" = stdin), concatenated\n";

static void progress_cb(void *user, int64_t done, int64_t total) {
    cli_progress("training vocabulary", done, total, user);
}

static int vocab_train(int argc, char **argv) {
    const char *kind_s = NULL, *pre = NULL, *out = NULL;
    int64_t size = 8000, min_freq = 2;
    bool cased = false;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    int n_inputs = 0;
    if (!inputs) return cli_fail(NULL);
    int rc = CLI_EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(vocab_usage, stdout);
            rc = CLI_EXIT_OK;
            goto done;
        } else if (strcmp(a, "--kind") == 0 && v) {
            kind_s = v;
            i++;
        } else if (strcmp(a, "--pre") == 0 && v) {
            pre = v;
            i++;
        } else if (strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0) {
            if (!v) goto usage_missing;
            out = v;
            i++;
        } else if (strcmp(a, "--size") == 0) {
            if (!cli_parse_i64(a, v, 1, INT32_MAX, &size)) goto done;
            i++;
        } else if (strcmp(a, "--min-freq") == 0) {
            if (!cli_parse_i64(a, v, 1, INT32_MAX, &min_freq)) goto done;
            i++;
        } else if (strcmp(a, "--cased") == 0) {
            cased = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            rc = cli_usage_error(vocab_usage, "vocab train: unknown or incomplete option '%s'", a);
            goto done;
        } else {
            inputs[n_inputs++] = a;
        }
    }
    if (!kind_s || !out || n_inputs == 0) {
    usage_missing:
        rc = cli_usage_error(vocab_usage, "vocab train: --kind, --out and at least one CORPUS file are required");
        goto done;
    }
    onc_vocab_kind kind;
    if (strcmp(kind_s, "spm") == 0)
        kind = ONC_VOCAB_SPM;
    else if (strcmp(kind_s, "bpe") == 0)
        kind = ONC_VOCAB_BPE;
    else if (strcmp(kind_s, "wpm") == 0)
        kind = ONC_VOCAB_WPM;
    else {
        rc = cli_usage_error(vocab_usage, "vocab train: --kind must be spm, bpe or wpm (got '%s')", kind_s);
        goto done;
    }

    /* Read and concatenate the corpus files (newline between files). */
    onc_error err = {0};
    char *text = NULL;
    size_t len = 0;
    for (int i = 0; i < n_inputs; i++) {
        size_t l = 0;
        char *t = cli_read_file(inputs[i], &l, &err);
        if (!t) {
            free(text);
            rc = cli_fail(&err);
            goto done;
        }
        char *nt = realloc(text, len + l + 2);
        if (!nt) {
            free(t);
            free(text);
            cli_errorf("out of memory reading %s", inputs[i]);
            rc = CLI_EXIT_FAIL;
            goto done;
        }
        text = nt;
        memcpy(text + len, t, l);
        len += l;
        if (i + 1 < n_inputs) text[len++] = '\n';
        text[len] = '\0';
        free(t);
    }

    onc_vocab_train_params p = onc_vocab_train_default_params(kind);
    if (pre) p.pre = pre;
    p.vocab_size = (int32_t)size;
    p.min_frequency = (int32_t)min_freq;
    p.lowercase = !cased;
    int last = -1;
    p.progress = progress_cb;
    p.progress_user = &last;
    onc_vocab_spec *spec = onc_vocab_train(text ? text : "", len, &p, &err);
    free(text);
    if (!spec) {
        rc = cli_fail(&err);
        goto done;
    }
    if (spec->n_tokens < size)
        fprintf(stderr, "oncolm: note: the text supports only %d tokens (asked for %lld)\n", (int)spec->n_tokens,
                (long long)size);

    const char *arch = kind == ONC_VOCAB_SPM ? "llama" : kind == ONC_VOCAB_WPM ? "bert" : "llama";
    if (kind == ONC_VOCAB_BPE && spec->pre && strcmp(spec->pre, "qwen2") == 0) arch = "qwen2";
    if (kind == ONC_VOCAB_BPE && spec->pre && strcmp(spec->pre, "gpt-2") == 0) arch = "gpt2";
    onc_gguf_writer *w = onc_gguf_writer_new();
    onc_status st = w ? ONC_OK : ONC_ERR_NOMEM;
    if (st == ONC_OK) st = onc_gguf_set_str(w, "general.architecture", arch);
    if (st == ONC_OK) st = onc_gguf_set_str(w, "general.name", "oncolm-vocab");
    if (st == ONC_OK && kind == ONC_VOCAB_WPM) st = onc_gguf_set_u32(w, "tokenizer.ggml.token_type_count", 2);
    if (st != ONC_OK) onc_error_set(&err, st, "%s: cannot build metadata", out);
    if (st == ONC_OK) st = onc_vocab_spec_write_gguf(spec, w, &err);
    if (st == ONC_OK) st = onc_gguf_writer_write(w, out, &err);
    onc_gguf_writer_free(w);
    if (st != ONC_OK) {
        onc_vocab_spec_free(spec);
        rc = cli_fail(&err);
        goto done;
    }
    fprintf(stderr, "oncolm: wrote %s: %s vocabulary, %d tokens, %d merges\n", out, onc_vocab_kind_name(kind),
            (int)spec->n_tokens, (int)spec->n_merges);
    onc_vocab_spec_free(spec);
    rc = CLI_EXIT_OK;
done:
    free(inputs);
    return rc;
}

int cmd_vocab(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(vocab_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "train") == 0) return vocab_train(argc - 1, argv + 1);
    return cli_usage_error(vocab_usage, "vocab: unknown action '%s'", argv[1]);
}
