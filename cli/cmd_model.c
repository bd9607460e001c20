/* cmd_model.c — `oncolm model info|create` dispatcher. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char model_usage[] =
    "usage: oncolm model info FILE [options]     describe a GGUF file\n"
    "       oncolm model create [options]        write a GGUF with random weights\n"
    "Run `oncolm model info --help` or `oncolm model create --help` for options.\n";

int cmd_model(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(model_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "info") == 0) return cmd_model_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "create") == 0) return cmd_model_create(argc - 1, argv + 1);
    return cli_usage_error(model_usage, "model: unknown action '%s'", argv[1]);
}
