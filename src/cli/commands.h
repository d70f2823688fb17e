/* The subcommands of `chase`; each lives in cmd_<name>.c and returns the process exit status. */
#ifndef CHASE_CLI_COMMANDS_H
#define CHASE_CLI_COMMANDS_H

int chase_cmd_simulate(int argc, char **argv);
int chase_cmd_forecast(int argc, char **argv);
int chase_cmd_devices(int argc, char **argv);
int chase_cmd_run(int argc, char **argv);
int chase_cmd_signal(int argc, char **argv);
int chase_cmd_restore(int argc, char **argv);
int chase_cmd_report(int argc, char **argv);

#endif
