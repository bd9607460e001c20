/* cmd_demo.c — placeholder until implemented (foundation issue in progress). */
#include "cli.h"
int cmd_demo(int argc, char **argv) { cli_errorf("demo: not implemented yet"); return CLI_EXIT_FAIL; }
