/* cmd_quantize.c — placeholder until implemented (foundation issue in progress). */
#include "cli.h"
int cmd_quantize(int argc, char **argv) { cli_errorf("quantize: not implemented yet"); return CLI_EXIT_FAIL; }
