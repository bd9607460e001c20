/* cmd_vocab.c — placeholder until implemented (foundation issue in progress). */
#include "cli.h"
int cmd_vocab(int argc, char **argv) { cli_errorf("vocab: not implemented yet"); return CLI_EXIT_FAIL; }
