/* main.c — `oncolm` entry point: dispatches to subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

static const cli_command commands[] = {
    {"demo", cmd_demo, "end-to-end run of everything built so far, on generated data"},
    {"model", cmd_model, "model info FILE | model create: inspect or create GGUF models"},
    {"generate", cmd_generate, "generate text from a prompt with a decoder model"},
    {"chat", cmd_chat, "chat with a model (interactive, or one message per line piped in)"},
    {"score", cmd_score, "per-token log-likelihood and perplexity of a text"},
    {"bench", cmd_bench, "prompt-processing and generation speed, llama-bench style"},
    {"embed", cmd_embed, "sentence embeddings of texts (JSONL or .npy out) with an encoder or decoder model"},
    {"classify", cmd_classify, "label and class probabilities of texts with a classifier model"},
    {"rerank", cmd_rerank, "cross-encoder relevance scores of passages for a query"},
    {"tokenize", cmd_tokenize, "token ids and pieces of a text, with a model's tokenizer"},
    {"vocab", cmd_vocab, "vocab train: learn a BPE or WordPiece vocabulary from text"},
    {"synth", cmd_synth, "synth corpus: seeded synthetic oncology notes with gold labels for every task"},
    {"index", cmd_index, "index build|add|delete|stats --db DB: the clinical note store (SQLite, BM25, dense)"},
    {"search", cmd_search, "search --db DB QUERY: BM25, dense or hybrid retrieval of note passages"},
    {"eval", cmd_eval, "eval retrieval: nDCG/P/R/MRR/MAP as trec_eval, per query and category, run comparison"},
    {"finetune", cmd_finetune, "finetune -m MODEL --data FILE -o DIR: train a LoRA adapter (checkpoints, resume)"},
    {"train", cmd_train, "train classify|embed|mlm -m BERT --data FILE -o DIR: train an encoder (checkpoints, resume)"},
    {"lora", cmd_lora, "lora merge | info | convert: LoRA adapters (llama.cpp GGUF and PEFT)"},
    {"quantize", cmd_quantize, "quantize IN OUT TYPE: convert a GGUF model's tensors"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "list the subcommands, or `help CMD` for one"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

int cmd_help(int argc, char **argv) {
    if (argc >= 2) {
        for (size_t i = 0; i < N_COMMANDS; i++) {
            if (strcmp(argv[1], commands[i].name) == 0 && commands[i].run != cmd_help) {
                char *sub_argv[] = {argv[1], "--help", NULL};
                return commands[i].run(2, sub_argv);
            }
        }
        cli_errorf("unknown command '%s' (see `oncolm help`)", argv[1]);
        return CLI_EXIT_USAGE;
    }
    printf("oncolm — local language models for oncology text\n\n"
           "usage: oncolm <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    printf("\nRun `oncolm <command> --help` for the options of one command.\n");
    return CLI_EXIT_OK;
}

int cmd_version(int argc, char **argv) {
    printf("oncolm %s\n", ONCOLM_VERSION_STRING);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cmd_help(0, NULL);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) return cmd_help(argc - 1, argv + 1);
    if (strcmp(name, "--version") == 0) return cmd_version(0, NULL);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    cli_errorf("unknown command '%s' (see `oncolm help`)", name);
    return CLI_EXIT_USAGE;
}
