/* cli.h - subcommands of the ntwin executable. Each is collective over
 * MPI_COMM_WORLD and returns the process exit code (0, 1 or 2). */
#ifndef NTW_CLI_H
#define NTW_CLI_H

int ntw_cli_run(int argc, char **argv);
int ntw_cli_inspect(int argc, char **argv);
int ntw_cli_recording_info(int argc, char **argv);
int ntw_cli_replay(int argc, char **argv);
/* Runs on one rank (the world must have size 1): a stand-in culture. */
int ntw_cli_culture(int argc, char **argv);

#endif
