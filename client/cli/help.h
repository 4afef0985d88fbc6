/* Help text, derived from the command table. */
#ifndef BRANCHCTL_HELP_H
#define BRANCHCTL_HELP_H

#include <stdio.h>

#include "commands.h"

/* Usage, commands, global flags, settings and exit codes. */
void help_global(FILE *out);

/* One command: usage, summary, flags, example. */
void help_command(FILE *out, const command_t *cmd);

/* The commands whose words start with the n words given ("server"). */
void help_group(FILE *out, int n, char **words);

#endif
