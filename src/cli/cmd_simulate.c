/* `chase simulate`: placeholder until its issue lands. */
#include <stdio.h>

#include "cli/commands.h"

int chase_cmd_simulate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "chase simulate: not built yet\n");
    return 1;
}
