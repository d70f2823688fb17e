/* `chase devices`: placeholder until its issue lands. */
#include <stdio.h>

#include "cli/commands.h"

int chase_cmd_devices(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "chase devices: not built yet\n");
    return 1;
}
