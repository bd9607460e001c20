/* cmd_model_create.c — placeholder until implemented (foundation issue in progress). */
#include "cli.h"
int cmd_model_create(int argc, char **argv) { cli_errorf("model_create: not implemented yet"); return CLI_EXIT_FAIL; }
