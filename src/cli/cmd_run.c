/* `chase run`: placeholder until its issue lands. */
#include <stdio.h>

#include "cli/commands.h"

int chase_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "chase run: not built yet\n");
    return 1;
}
