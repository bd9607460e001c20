/* cmd_tokenize.c — placeholder until implemented (foundation issue in progress). */
#include "cli.h"
int cmd_tokenize(int argc, char **argv) { cli_errorf("tokenize: not implemented yet"); return CLI_EXIT_FAIL; }
