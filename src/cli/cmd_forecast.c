/* `chase forecast`: placeholder until its issue lands. */
#include <stdio.h>

#include "cli/commands.h"

int chase_cmd_forecast(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "chase forecast: not built yet\n");
    return 1;
}
