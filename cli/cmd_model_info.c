/* cmd_model_info.c — placeholder until implemented (foundation issue in progress). */
#include "cli.h"
int cmd_model_info(int argc, char **argv) { cli_errorf("model_info: not implemented yet"); return CLI_EXIT_FAIL; }
