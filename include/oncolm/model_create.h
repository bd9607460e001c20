/* oncolm/model_create.h — write a GGUF model with random weights: any
 * supported architecture (oncolm/arch.h), size preset or explicit
 * dimensions, a tokenizer taken from another GGUF or trained on a corpus
 * (or on a built-in sample of clinical text), any weight type oncolm can
 * quantize to. The file holds everything llama.cpp needs to load it.
 *
 * Weights: N(0, init_std^2) (HF's 0.02 by default), norm weights 1, biases 0,
 * from a seeded xoshiro256** stream per tensor (seeded by the global seed and
 * the tensor name), so the same parameters give byte-identical files.
 * Tensors are generated and quantized row by row while the writer streams
 * the file, so a 7B model needs memory for one tensor's output, not 28 GB.
 *
 * Family special tokens: a trained vocabulary gets the added/special tokens
 * of the real model family it imitates, laid out as in the real GGUF files
 * (special block at the end of the regular vocabulary, types CONTROL or
 * USER_DEFINED, eos/eot/pad ids), plus a short real tokenizer.chat_template:
 *   llama SPM (Llama-2/Mistral/TinyLlama): <unk>=0 <s>=1 </s>=2; Llama-2-chat
 *     template;
 *   llama BPE "llama-bpe" (Llama-3): <|begin_of_text|> <|end_of_text|>
 *     <|reserved_special_token_0..3|> <|start_header_id|> <|end_header_id|>
 *     <|reserved_special_token_4|> <|eot_id|> (all CONTROL; padded presets
 *     fill the 256-token block with reserved tokens); bos <|begin_of_text|>,
 *     eos <|end_of_text|>, eot <|eot_id|>; Llama-3-Instruct template;
 *   qwen2 BPE "qwen2": <|endoftext|> <|im_start|> <|im_end|> (CONTROL); bos =
 *     pad = <|endoftext|>, eos = eot = <|im_end|>, no BOS added; ChatML;
 *   phi3 SPM (Phi-3-mini): <|endoftext|> (CONTROL), <|assistant|>
 *     <|placeholder1..4|> <|system|> <|end|> <|placeholder5|> <|placeholder6|>
 *     <|user|> (USER_DEFINED), at 32000.. for padded presets; eos = pad =
 *     <|endoftext|>, eot = <|end|>; Phi-3 template;
 *   bert WPM: [PAD]=0 [UNK]=100 [CLS]=101 [SEP]=102 [MASK]=103 (CONTROL), no
 *     template.
 * A vocabulary given by the caller (vocab / vocab_path) is written as it is;
 * its file's tokenizer.chat_template is kept.
 *
 * Thread-safety: reentrant; one call writes one file. */
#ifndef ONCOLM_MODEL_CREATE_H
#define ONCOLM_MODEL_CREATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oncolm/arch.h"
#include "oncolm/status.h"
#include "oncolm/types.h"
#include "oncolm/vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onc_model_create_params {
    onc_arch arch;            /* default ONC_ARCH_LLAMA */
    const char *preset;       /* "tiny" (default), "small", "1b"/"7b"/"8b"
                                 (llama), "mini" (phi3), "base" (bert); see
                                 onc_model_create_presets */
    int32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx; /* 0 = preset's */
    /* Tokenizer, first that is set: vocab, vocab_path, corpus, the built-in
     * sample text (onc_sample_clinical_text). */
    const onc_vocab_spec *vocab; /* borrowed */
    const char *vocab_path;      /* GGUF to take tokenizer.ggml.* from */
    const char *corpus;          /* UTF-8 text to train a vocabulary on */
    size_t corpus_len;
    int vocab_kind;           /* onc_vocab_kind to train, -1 = the arch's
                                 (llama/phi3 SPM, qwen2 BPE "qwen2", bert WPM;
                                 llama 8b BPE "llama-bpe") */
    const char *pre;          /* BPE pre-tokenizer when training, NULL = default */
    int32_t vocab_size;       /* training target, 0 = preset's */
    int32_t pad_vocab_to;     /* append UNUSED tokens up to this size; 0 =
                                 preset's (the real models' sizes for
                                 small/7b/8b/base), -1 = never */
    onc_type wtype;           /* 2-D weights: F32 (default), F16, BF16, Q8_0,
                                 Q4_0, Q4_K, Q5_K, Q6_K. Rows not a multiple
                                 of the block fall back to Q8_0 (K-quants) or
                                 F32; 1-D tensors and bert position/type
                                 tables stay F32 */
    bool tied;                /* decoders: no output.weight (default false;
                                 qwen2 small preset ties) */
    bool rope_freqs;          /* llama: add Llama-3.1 rope_freqs (factor 8) */
    const char *const *labels;/* bert: classifier labels -> cls + cls.output
                                 head, pooling RANK */
    uint32_t n_labels;
    uint64_t seed;            /* default 42 */
    float init_std;           /* default 0.02 */
    const char *name;         /* general.name, NULL = "oncolm-<arch>-<preset>" */
    const char *chat_template;/* tokenizer.chat_template (Jinja text); NULL =
                                 the family's (see above) or the vocabulary
                                 file's; "" = none. Built-in ones by name:
                                 onc_model_create_chat_template() */
    bool no_family_tokens;    /* keep a trained vocabulary as trained (no
                                 family special-token layout) */
    /* progress: phase is "vocab" or "tensors" */
    void (*progress)(void *user, const char *phase, int64_t done, int64_t total);
    void *progress_user;
} onc_model_create_params;

onc_model_create_params onc_model_create_default_params(void);

/* What was written. */
typedef struct onc_model_create_report {
    int64_t n_params;         /* total parameters */
    int32_t n_vocab;          /* tokens (after padding) */
    int32_t n_vocab_trained;  /* tokens before padding (== n_vocab if none) */
    int32_t n_tensors;
    int32_t n_fallback;       /* tensors stored in a fallback type */
    int32_t n_added;          /* family special/added tokens in the vocabulary */
    int32_t eot_id;           /* tokenizer.ggml.eot_token_id written, or -1 */
    const char *family;       /* "llama2", "llama3", "qwen2", "phi3", "bert",
                                 "gpt2" or "given" (static string) */
    const char *chat_template;/* built-in template name written, "custom",
                                 "file" (copied from vocab_path) or "none" */
    char note[256];           /* e.g. "12 tensors with rows of 896 stored as
                                 q8_0 (not a multiple of 256)"; "" if none */
} onc_model_create_report;

/* Create the model and write it atomically to `path`. `report` may be NULL.
 * Errors: ONC_ERR_INVALID for bad parameters (message names the option),
 * IO/NOMEM/FORMAT from vocabulary loading or writing (naming the file). */
onc_status onc_model_create(const char *path, const onc_model_create_params *params,
                            onc_model_create_report *report, onc_error *err);

/* Fill hp with the dimensions of a preset for an architecture (counts only;
 * n_vocab left 0). ONC_ERR_INVALID when the preset does not exist for it. */
onc_status onc_model_create_preset(onc_arch arch, const char *preset, onc_hparams *hp, onc_error *err);

/* A built-in chat template by name: "llama2" (Llama-2-chat), "llama3"
 * (Llama-3-Instruct), "chatml" (Qwen2-Instruct), "phi3" (Phi-3-mini-instruct),
 * "zephyr" (Zephyr/TinyLlama-Chat), "mistral" (Mistral-7B-Instruct); NULL
 * when unknown. Static storage. */
const char *onc_model_create_chat_template(const char *name);

/* Names of the built-in chat templates, NULL-terminated. */
extern const char *const onc_model_create_chat_templates[];

/* Names of the presets, NULL-terminated. */
extern const char *const onc_model_create_presets[];

/* A built-in sample of English oncology-note-like text (a few KB, written for
 * oncolm, no patient data), used to train a vocabulary when none is given.
 * Static storage; *len gets its length when len is not NULL. */
const char *onc_sample_clinical_text(size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* ONCOLM_MODEL_CREATE_H */
