/* main.c - the ntwin command line.
 *
 *   ntwin run CONFIG.json --out DIR [--t-stop MS] [--seed N]
 *             [--partition round_robin|block] [--bind core|numa|none]
 *             [--comm mpi|ofi] [--overlap on|off]
 *             [--coupling-rank auto|on|off] [--quiet]
 *   ntwin recording-info FILE [--format F] [--json]
 *   ntwin replay FILE [--speed X] [--events EP] ...  (src/replay.c)
 *   ntwin culture CULTURE.json --out DIR [--t-stop S] [--seed N] [...]
 *   ntwin version | help
 *
 * Exit codes: 0 success, 1 run failed (bad input or runtime error), 2 usage.
 * Every rank exits with the same code; the first rank that failed prints
 * one line "ntwin: error: ...". */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
  fputs("usage: ntwin run CONFIG.json --out DIR [--t-stop MS] [--seed N]\n"
        "                 [--partition round_robin|block] [--bind core|numa|none]\n"
        "                 [--checkpoint-every MS] [--checkpoint-at MS[,MS...]]\n"
        "                 [--checkpoint-final] [--comm mpi|ofi] [--overlap on|off]\n"
        "                 [--coupling-rank auto|on|off] [--quiet]\n"
        "       ntwin run [CONFIG.json] --restore CKPT.h5 --out DIR --t-stop MS [...]\n"
        "       ntwin inspect CKPT.h5 [--json]\n"
        "       ntwin recording-info FILE [--format auto|sjemea|nwb|mcs|csv] [--json]\n"
        "       ntwin replay FILE [--format F] [--from S] [--to S] [--speed X]\n"
        "                 [--events EP] [--commands EP] [--wait-peer S]\n"
        "                 [--batch-ms MS] [--rt-priority N] [--quiet]\n"
        "       ntwin culture CULTURE.json --out DIR [--t-stop S] [--seed N]\n"
        "                 [--events EP] [--commands EP] [--no-pace] [--no-link]\n"
        "                 [--wait-peer S] [--rt-priority N] [--quiet]\n"
        "       ntwin version\n"
        "       ntwin help\n"
        "run: simulates the network on all MPI ranks and writes DIR/spikes.h5\n"
        "(SONATA spike report), DIR/report.json and DIR/checkpoint-<t_ms>.h5 when\n"
        "asked (also on SIGTERM/SIGUSR1, at the next window boundary, then stops).\n"
        "--restore continues a checkpoint on any number of ranks.\n"
        "--overlap on: exchange spikes while computing (same results).\n"
        "--coupling-rank on: rank 0 owns no neurons and only couples the twin to\n"
        "the biology (same results); auto (default): on for a paced twin on >= 3 ranks.\n"
        "recording-info: format, channels, spikes, duration, rates and network bursts\n"
        "of a recorded MEA file (sjemea/NWB/MCS HDF5 or CSV channel,time_s).\n"
        "replay: streams a recorded file on the bio link in real time, for a twin\n"
        "(config \"twin\": {\"source\": {\"kind\": \"link\"}}).\n"
        "culture: a stand-in living culture on a 60-electrode MEA (one rank), paced\n"
        "by the wall clock, publishing spikes on the bio link (default events\n"
        "tcp://127.0.0.1:5557, commands tcp://127.0.0.1:5559) and obeying STIM\n"
        "commands; writes its ground truth to DIR/culture.h5 and\n"
        "DIR/culture_report.json. --wait-peer S: start the clock at the twin's first\n"
        "heartbeat (or after S s); --no-pace: as fast as possible.\n"
        "--rt-priority N (replay, culture): SCHED_FIFO priority N and locked memory,\n"
        "as the twin's twin.timing.rt_priority (README \"Real-time priority\").\n",
        f);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, rc;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const char *cmd = argc > 1 ? argv[1] : "";
  if (strcmp(cmd, "run") == 0) {
    rc = ntw_cli_run(argc - 1, argv + 1);
  } else if (strcmp(cmd, "inspect") == 0) {
    rc = ntw_cli_inspect(argc - 1, argv + 1);
  } else if (strcmp(cmd, "replay") == 0) {
    rc = ntw_cli_replay(argc - 1, argv + 1);
  } else if (strcmp(cmd, "recording-info") == 0) {
    rc = ntw_cli_recording_info(argc - 1, argv + 1);
  } else if (strcmp(cmd, "culture") == 0) {
    rc = ntw_cli_culture(argc - 1, argv + 1);
  } else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    if (rank == 0) printf("ntwin %s\n", NTW_VERSION);
    rc = 0;
  } else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
             strcmp(cmd, "-h") == 0) {
    if (rank == 0) usage(stdout);
    rc = 0;
  } else {
    if (rank == 0) {
      if (*cmd)
        fprintf(stderr, "ntwin: error: unknown command '%s'\n", cmd);
      usage(stderr);
    }
    rc = 2;
  }
  MPI_Finalize();
  return rc;
}
