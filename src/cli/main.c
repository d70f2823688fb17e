/* `chase`: dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"simulate", chase_cmd_simulate, "estimate carbon and time savings of each policy on a carbon trace"},
    {"forecast", chase_cmd_forecast, "forecast carbon intensity, or evaluate forecasters on a trace"},
    {"signal", chase_cmd_signal, "show what a carbon-intensity source returns"},
    {"devices", chase_cmd_devices, "list the GPUs with their power limits and energy counters"},
    {"run", chase_cmd_run, "run a training command under carbon-aware power limits"},
    {"report", chase_cmd_report, "show what a run saved: table, chart and CSV of a chase run report"},
    {"restore", chase_cmd_restore, "put back the GPU power limits a chase run left when it was killed"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "chase %s: cut the carbon of DNN training by setting GPU power limits from the grid's carbon intensity.\n"
            "\n"
            "Usage: chase COMMAND [OPTIONS]\n"
            "\n"
            "Commands:\n",
            CHASE_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n"
                 "Run 'chase COMMAND --help' for a command's options and examples.\n"
                 "Start with 'chase simulate': it answers how much carbon chase would save, at what cost in time.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") && argc > 2) {
        /* `chase help CMD` is `chase CMD --help`. */
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name)) {
                char *help_argv[] = {argv[2], "--help", NULL};
                return commands[i].fn(2, help_argv);
            }
        fprintf(stderr, "chase: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("chase %s\n", CHASE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "chase: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
