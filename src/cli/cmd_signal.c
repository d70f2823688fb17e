/* `chase signal`: placeholder until its issue lands. */
#include <stdio.h>

#include "cli/commands.h"

int chase_cmd_signal(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "chase signal: not built yet\n");
    return 1;
}
